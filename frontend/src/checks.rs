//! The `shared` crate's checks, run in the browser before anything is sent. A ZIP is extracted in slices with a
//! yield to the browser between them, so that a 50 MB bundle keeps the page responsive and its progress shows.

use gloo_timers::future::TimeoutFuture;
use shared::api::{ConfigKind, Limits, ZeroDowntimeDecision};
use shared::archive::{self, Bundle, ZipScan};
use shared::compat::Running;
use shared::manifest::Manifest;
use shared::nonstandard::{Online, RunningChart};
use shared::package::{self, VersionPackage};
use shared::report::{Finding, Report};
use shared::version::Version;
use shared::{nonstandard, standard};

/// Work done by one call into the ZIP reader: small enough that one call stays a few milliseconds.
const STEP_BYTES: u64 = 256 * 1024;

/// How long the page may work between two yields to the browser: it keeps repainting (and the progress bar
/// moving) while a yield per step would spend seconds just in timers on a 50 MB bundle.
const SLICE_MILLIS: f64 = 40.0;

/// Checks a version package (Upload Version Configuration); `progress(done, total)` is called between slices.
pub async fn version_package(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
    progress: &dyn Fn(u64, u64),
) -> (Report, Option<VersionPackage>) {
    if !archive::is_zip(file_name, bytes) {
        return package::check_version_package(file_name, bytes, limits);
    }
    match scan(file_name, bytes, limits, progress).await {
        Ok(bundle) => package::check_version_package_bundle(bundle, limits),
        Err(finding) => (Report::single(finding), None),
    }
}

/// The chart the running version `version` runs with, from its stored package's bytes.
pub async fn running_chart(version: &str, package: &[u8], limits: &Limits) -> RunningChart {
    let name = format!("{version} package");
    match version_package(&name, package, limits, &|_, _| {}).await.1 {
        Some(package) => RunningChart::of(package),
        None => RunningChart::unknown(version, "does not pass the checks"),
    }
}

/// Checks a configuration file of either kind against the target version's package; `online` is what runs now
/// (for the non-standard difference).
pub async fn configuration(
    kind: ConfigKind,
    package: &VersionPackage,
    file_name: &str,
    bytes: &[u8],
    online: Option<Online<'_>>,
    limits: &Limits,
    progress: &dyn Fn(u64, u64),
) -> Report {
    if !archive::is_zip(file_name, bytes) {
        return match kind {
            ConfigKind::Standard => {
                standard::check_standard_config(package, file_name, bytes, limits).0
            }
            ConfigKind::NonStandard => {
                nonstandard::check_non_standard_config(package, file_name, bytes, online, limits).0
            }
        };
    }
    let bundle = match scan(file_name, bytes, limits, progress).await {
        Ok(bundle) => bundle,
        Err(finding) => return Report::single(finding),
    };
    match kind {
        ConfigKind::Standard => standard::check_standard_bundle(package, bundle, limits).0,
        ConfigKind::NonStandard => {
            nonstandard::check_non_standard_bundle(package, bundle, online, limits).0
        }
    }
}

/// A manifest as the agent sends it (`GET /api/v1/versions/{v}`, JSON), read by the manifest reader of the package
/// check: JSON is YAML's flow style, and one manifest reader in the console's wasm rather than a second one for
/// JSON saves it about 39 KB (docs/benchmarks.md).
pub fn manifest_from_json(version: &str, json: &str) -> Result<Manifest, String> {
    let file = format!("the manifest of {version}");
    package::read_manifest(&file, json.as_bytes(), &Limits::default())
        .map(|(manifest, _)| manifest)
        .map_err(|findings| {
            let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
            shown.join("; ")
        })
}

/// The zero-downtime decision from the running version's manifest to the target's. A target that is no upgrade
/// at all (`target-not-newer`) allows no rolling upgrade either, with that reason.
pub fn zero_downtime(current: &Manifest, target: &Manifest) -> ZeroDowntimeDecision {
    let refuse = |finding: Finding| ZeroDowntimeDecision {
        allowed: false,
        reasons: vec![finding],
    };
    match (
        Version::parse(&current.version),
        Version::parse(&target.version),
    ) {
        (Ok(from), Ok(to)) => {
            let running = Running::from_manifest(from, current);
            shared::compat::zero_downtime(&running, &to, target).unwrap_or_else(refuse)
        }
        (Err(e), _) | (_, Err(e)) => refuse(Finding::error("manifest-invalid", e.to_string())),
    }
}

/// Extracts a ZIP slice by slice, yielding to the browser in between.
async fn scan(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
    progress: &dyn Fn(u64, u64),
) -> Result<Bundle, Finding> {
    let mut zip = ZipScan::open(file_name, bytes, limits)?;
    let mut slice_started = js_sys::Date::now();
    loop {
        let step = zip.step(STEP_BYTES)?;
        if step.finished {
            progress(step.done_bytes, step.total_bytes);
            break;
        }
        if js_sys::Date::now() - slice_started >= SLICE_MILLIS {
            progress(step.done_bytes, step.total_bytes);
            TimeoutFuture::new(0).await;
            slice_started = js_sys::Date::now();
        }
    }
    zip.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(version: &str) -> Manifest {
        let bytes = std::fs::read(format!(
            "{}/../demo/versions/{version}.zip",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("a demo package");
        let (_, package) = package::check_version_package(version, &bytes, &Limits::default());
        package.expect("a valid demo package").manifest
    }

    #[test]
    fn a_manifest_sent_as_json_reads_back_the_same() {
        for version in ["V5.1.2.02", "V5.1.2.04", "V5.2.0.01"] {
            let sent = manifest(version);
            let json = serde_json::to_string(&sent).expect("JSON");
            assert_eq!(
                manifest_from_json(version, &json).as_ref(),
                Ok(&sent),
                "{json}"
            );
        }
        let broken = manifest_from_json("V5.1.2.04", r#"{"version": "V5.1.2.04"}"#)
            .expect_err("a manifest without its fields");
        assert!(broken.contains("the manifest of V5.1.2.04"), "{broken}");
    }

    #[test]
    fn the_decision_allows_a_build_of_the_same_release_and_refuses_with_the_reason_otherwise() {
        let (v02, v04) = (manifest("V5.1.2.02"), manifest("V5.1.2.04"));
        assert!(zero_downtime(&v02, &v04).allowed);
        let back = zero_downtime(&v04, &v02);
        assert!(!back.allowed);
        assert_eq!(back.reasons[0].code, "target-not-newer");
        let mut broken = v04.clone();
        broken.version = "latest".into();
        let broken = zero_downtime(&v02, &broken);
        assert!(!broken.allowed);
        assert_eq!(broken.reasons[0].code, "manifest-invalid");
    }
}
