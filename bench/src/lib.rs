//! Benchmark of the shared checks on a large non-standard configuration bundle (docs/benchmarks.md).
//!
//! The same functions run natively (`src/main.rs`) and in headless Chromium (`tests/browser.rs`), so both
//! measure exactly what the agent and the console run: `shared::nonstandard::check_non_standard_config`.
//! `scripts/bench-bundle.sh` generates the bundle, runs both and compares them with `unzip` and `md5sum`.
//!
//! # Layout
//! - [`prepare`]: reads the version package once, outside the timed runs.
//! - [`inflated_bytes`]: how many bytes the bundle inflates to, for the MB/s figures.
//! - [`check`]: one timed run; a report that is not ok is an error, so a broken check is never timed.
//! - [`Summary`]: best, median and mean of the runs.

use shared::archive::ZipScan;
use shared::limits::Limits;
use shared::nonstandard::check_non_standard_config;
use shared::package::{VersionPackage, check_version_package};
use shared::report::Report;

/// Why a benchmark run could not measure anything.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The version package does not pass its own check.
    #[error("{file}: the version package is not valid: {findings}")]
    InvalidPackage {
        /// The package's file name.
        file: String,
        /// Its report's findings, as JSON.
        findings: String,
    },
    /// The bundle's report is not ok: timing a check that stops early would mislead.
    #[error("{file}: the check did not pass, so its time would mean nothing: {findings}")]
    CheckFailed {
        /// The bundle's file name.
        file: String,
        /// Its report's findings, as JSON.
        findings: String,
    },
}

/// The version package and limits every run checks against.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The checked version package.
    pub package: VersionPackage,
    /// The limits in force (the defaults, as the agent ships them).
    pub limits: Limits,
}

/// What one run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The bundle's template digest, as an operator recomputes it with `md5sum`.
    pub template_digest: Option<String>,
    /// How many findings (warnings only, since the report is ok).
    pub findings: usize,
}

/// Best, median and mean of a series of run times, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The fastest run.
    pub best: f64,
    /// The middle run (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The mean of all runs.
    pub mean: f64,
}

impl Summary {
    /// Summarises run times; `None` when there are none.
    pub fn of(seconds: &[f64]) -> Option<Summary> {
        if seconds.is_empty() {
            return None;
        }
        let mut sorted = seconds.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        } else {
            sorted[mid]
        };
        Some(Summary {
            best: sorted[0],
            median,
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }

    /// What a run prints about it: the summary under `label`, then the `BENCH <key>_median_seconds=` and
    /// `BENCH <key>_best_seconds=` lines that `scripts/bench-bundle.sh` reads.
    pub fn lines(&self, label: &str, key: &str, inflated: u64) -> [String; 3] {
        [
            format!(
                "{label}: best {:.3} s, median {:.3} s, mean {:.3} s; {:.0} MB/s inflated at the median",
                self.best,
                self.median,
                self.mean,
                megabytes_per_second(inflated, self.median)
            ),
            format!("BENCH {key}_median_seconds={:.4}", self.median),
            format!("BENCH {key}_best_seconds={:.4}", self.best),
        ]
    }
}

fn findings_json(report: &Report) -> String {
    serde_json::to_string(&report.findings)
        .unwrap_or_else(|err| format!("(findings not printable: {err})"))
}

/// Checks the version package once.
pub fn prepare(package_name: &str, package_bytes: &[u8]) -> Result<Prepared, Error> {
    let limits = Limits::default();
    let (report, package) = check_version_package(package_name, package_bytes, &limits);
    match package {
        Some(package) if report.ok => Ok(Prepared { package, limits }),
        _ => Err(Error::InvalidPackage {
            file: package_name.to_string(),
            findings: findings_json(&report),
        }),
    }
}

/// How many bytes the bundle's entries inflate to (one untimed extraction).
pub fn inflated_bytes(prepared: &Prepared, bundle_name: &str, bundle: &[u8]) -> Result<u64, Error> {
    let extracted = ZipScan::open(bundle_name, bundle, &prepared.limits).and_then(ZipScan::finish);
    match extracted {
        Ok(extracted) => Ok(extracted
            .entries
            .values()
            .map(|entry| entry.bytes.len() as u64)
            .sum()),
        Err(finding) => Err(Error::CheckFailed {
            file: bundle_name.to_string(),
            findings: findings_json(&Report::single(finding)),
        }),
    }
}

/// One run of the non-standard configuration check, as the agent and the console run it.
pub fn check(prepared: &Prepared, bundle_name: &str, bundle: &[u8]) -> Result<Checked, Error> {
    let (report, _values) = check_non_standard_config(
        &prepared.package,
        bundle_name,
        bundle,
        None,
        &prepared.limits,
    );
    if !report.ok {
        return Err(Error::CheckFailed {
            file: bundle_name.to_string(),
            findings: findings_json(&report),
        });
    }
    Ok(Checked {
        template_digest: report.template_digest.clone(),
        findings: report.findings.len(),
    })
}

/// Throughput in MB/s (10^6 bytes per second), as `unzip` and `md5sum` users count.
pub fn megabytes_per_second(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_odd_and_even_counts() {
        let odd = Summary::of(&[3.0, 1.0, 2.0]).expect("three runs");
        assert_eq!((odd.best, odd.median, odd.mean), (1.0, 2.0, 2.0));
        let even = Summary::of(&[4.0, 1.0, 2.0, 3.0]).expect("four runs");
        assert_eq!((even.best, even.median, even.mean), (1.0, 2.5, 2.5));
        assert_eq!(Summary::of(&[]), None);
    }
}
