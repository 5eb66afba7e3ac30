//! The `shared` crate's checks as the agent calls them: every upload is checked again here, with exactly the code
//! the console runs, so that a client that skipped the browser's checks gains nothing.

use shared::api::{ConfigKind, ZeroDowntimeDecision};
use shared::limits::Limits;
use shared::manifest::Manifest;
use shared::nonstandard::{Online, RunningChart};
use shared::package::VersionPackage;
use shared::report::{Finding, Report};
use shared::version::Version;

/// A version package that passed the checks.
#[derive(Debug, Clone)]
pub struct CheckedPackage(VersionPackage);

impl CheckedPackage {
    /// Its manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.0.manifest
    }

    /// Whether it carries the template files.
    pub fn has_template(&self) -> bool {
        self.0.template.as_ref().is_some_and(|t| t.carries_files())
    }

    /// The template digest, when it has a template.
    pub fn template_digest(&self) -> Option<String> {
        self.0.template_digest().map(|d| d.0)
    }
}

/// Checks a version package; the package when the report is ok.
pub fn version_package(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> (Report, Option<CheckedPackage>) {
    let (report, package) = shared::package::check_version_package(file_name, bytes, limits);
    let package = package.filter(|_| report.ok).map(CheckedPackage);
    (report, package)
}

/// What runs now, as stored.
#[derive(Debug, Clone, Copy)]
pub struct RunningNow<'a> {
    /// Its version.
    pub version: &'a str,
    /// The values it runs with.
    pub values: &'a str,
    /// Its stored package (file name, bytes), when read.
    pub package: Option<(&'a str, &'a [u8])>,
}

/// Checks a configuration of `kind` against the target package; the values.yaml text to run with when it could be
/// read. The non-standard kind's online difference compares with what runs now (`None` at bootstrap), merged with
/// its own chart's defaults (from its package, checked again here).
pub fn configuration(
    kind: ConfigKind,
    package: &CheckedPackage,
    file_name: &str,
    bytes: &[u8],
    running: Option<RunningNow<'_>>,
    limits: &Limits,
) -> (Report, Option<String>) {
    match kind {
        ConfigKind::Standard => {
            shared::standard::check_standard_config(&package.0, file_name, bytes, limits)
        }
        ConfigKind::NonStandard => {
            let chart = running.map(|running| match running.package {
                None => RunningChart::unknown(running.version, "is not stored"),
                Some((file_name, bytes)) => match version_package(file_name, bytes, limits).1 {
                    Some(package) => RunningChart::of(package.0),
                    None => RunningChart::unknown(running.version, "no longer passes the checks"),
                },
            });
            let online = running.zip(chart.as_ref()).map(|(running, chart)| Online {
                values: running.values,
                chart,
            });
            shared::nonstandard::check_non_standard_config(
                &package.0, file_name, bytes, online, limits,
            )
        }
    }
}

/// The zero-downtime decision from the running version, known by its stored manifest (its package was checked when
/// it was imported), to the target; `Err` when the target is not newer.
pub fn zero_downtime(
    running: &Manifest,
    target: &CheckedPackage,
) -> Result<ZeroDowntimeDecision, Box<Finding>> {
    let version = Version::parse(&running.version).map_err(|_| {
        Box::new(Finding::error(
            "manifest-invalid",
            format!(
                "the running version's stored manifest has the version `{}`, which does not parse",
                running.version
            ),
        ))
    })?;
    let running = shared::compat::Running::from_manifest(version, running);
    shared::compat::zero_downtime(&running, &target.0.version, &target.0.manifest)
        .map_err(Into::into)
}

/// Whether version `a` is newer than `b`; false when either does not parse.
pub fn newer(a: &str, b: &str) -> bool {
    matches!((Version::parse(a), Version::parse(b)), (Ok(a), Ok(b)) if a > b)
}

/// The version as stored and shown: what `Version` displays (a lowercase `v` becomes `V`); text that is no version
/// stays as it is, so that looking it up finds nothing.
pub fn normalize_version(version: &str) -> String {
    Version::parse(version).map_or_else(|_| version.to_string(), |v| v.to_string())
}
