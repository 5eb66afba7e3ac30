//! The zero-downtime decision (formats.md, "Zero-downtime compatibility"): from the running version to the target,
//! every rule that fails is reported with its own code, and the mode then defaults to downtime.

use serde_json::json;

use crate::api::ZeroDowntimeDecision;
use crate::manifest::Manifest;
use crate::package::VersionPackage;
use crate::report::Finding;
use crate::version::Version;

/// What the decision needs to know of the version running now.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    /// Its number.
    pub version: Version,
    /// Its applications' names, when known. Unknown (only the number was given) counts every application of the
    /// target as running already: the conservative reading of the rule on applications.
    pub applications: Option<Vec<String>>,
}

impl Running {
    /// Version `version`, described by `manifest`.
    pub fn from_manifest(version: Version, manifest: &Manifest) -> Running {
        Running {
            version,
            applications: Some(
                manifest
                    .applications
                    .iter()
                    .map(|app| app.name.clone())
                    .collect(),
            ),
        }
    }

    /// What a version's package tells.
    pub fn of(package: &VersionPackage) -> Running {
        Running::from_manifest(package.version.clone(), &package.manifest)
    }

    fn runs(&self, application: &str) -> bool {
        self.applications
            .as_ref()
            .is_none_or(|names| names.iter().any(|name| name == application))
    }
}

/// Whether version `to`, described by `target`, can replace the running version replica by replica.
/// `Err(target-not-newer)` when it is no upgrade at all.
pub fn zero_downtime(
    running: &Running,
    to: &Version,
    target: &Manifest,
) -> Result<ZeroDowntimeDecision, Finding> {
    let from = &running.version;
    if to <= from {
        return Err(Finding::error(
            "target-not-newer",
            format!(
                "{to} is not newer than the running version {from}: there is nothing to upgrade"
            ),
        )
        .with_details(json!({ "current": from, "target": to })));
    }
    let mut reasons = Vec::new();
    if !from.same_release_line(to) {
        let [a, b, c, _] = from.segments();
        let [x, y, z, _] = to.segments();
        reasons.push(
            Finding::warning(
                "zero-downtime-segments-differ",
                format!(
                    "{from} and {to} differ in major, minor or patch ({a}.{b}.{c} → {x}.{y}.{z}); only builds of one release roll without downtime"
                ),
            )
            .with_details(json!({ "current": from, "target": to })),
        );
    }
    if let Some(listed) = target
        .compatibility
        .as_ref()
        .and_then(|c| c.zero_downtime_from.as_ref())
    {
        let listed_versions: Vec<Version> = listed
            .iter()
            .filter_map(|text| Version::parse(text).ok())
            .collect();
        if !listed_versions.contains(from) {
            reasons.push(
                Finding::warning(
                    "zero-downtime-not-listed",
                    format!(
                        "{to} can be reached without downtime only from {}; {from} is not among them",
                        if listed.is_empty() { "no version".to_string() } else { listed.join(", ") }
                    ),
                )
                .with_path("compatibility.zeroDowntimeFrom")
                .with_details(json!({ "current": from, "zeroDowntimeFrom": listed })),
            );
        }
    }
    for app in &target.applications {
        if running.runs(&app.name) && !app.rolling {
            reasons.push(
                Finding::warning(
                    "zero-downtime-app-not-rolling",
                    format!("application `{}` of {to} has `rolling: false`: it cannot be replaced replica by replica", app.name),
                )
                .with_details(json!({ "application": app.name })),
            );
        }
    }
    Ok(ZeroDowntimeDecision {
        allowed: reasons.is_empty(),
        reasons,
    })
}
