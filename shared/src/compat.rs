//! The zero-downtime decision (formats.md, "Zero-downtime compatibility"): from the running version to the target,
//! every rule that fails is reported with its own code, and the mode then defaults to downtime.

use serde_json::json;

use crate::api::ZeroDowntimeDecision;
use crate::package::VersionPackage;
use crate::report::Finding;
use crate::version::Version;

/// Whether `target` can replace `current` replica by replica. `Err(target-not-newer)` when it is no upgrade at all.
pub fn zero_downtime(
    current: &VersionPackage,
    target: &VersionPackage,
) -> Result<ZeroDowntimeDecision, Finding> {
    let (from, to) = (&current.version, &target.version);
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
        .manifest
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
    for app in &target.manifest.applications {
        let in_current = current
            .manifest
            .applications
            .iter()
            .any(|old| old.name == app.name);
        if in_current && !app.rolling {
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
