//! The demo product's files: the committed ZIPs are what their sources produce, every good file passes the shared
//! checks, and every broken one fails with the code it was made for.

use std::path::{Path, PathBuf};

use shared::compat::Running;
use shared::limits::Limits;
use shared::package::{VersionPackage, check_version_package};
use shared::report::Report;

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(demo_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn codes(report: &Report) -> Vec<String> {
    report.findings.iter().map(|f| f.code.clone()).collect()
}

fn package(version: &str) -> VersionPackage {
    let name = format!("versions/{version}.zip");
    let (report, package) = check_version_package(&name, &read(&name), &Limits::default());
    assert!(report.ok, "{name}: {:?}", report.findings);
    package.unwrap_or_else(|| panic!("{name} passed but gave no package"))
}

fn standard(version: &str, file: &str) -> Report {
    let path = format!("config/{file}");
    shared::standard::check_standard_config(
        &package(version),
        &path,
        &read(&path),
        &Limits::default(),
    )
    .0
}

fn non_standard(file: &str) -> Report {
    let path = format!("config/{file}");
    let online = String::from_utf8(read("config/values-V5.1.2.02.yaml")).unwrap();
    shared::nonstandard::check_non_standard_config(
        &package("V5.1.2.04"),
        &path,
        &read(&path),
        Some(shared::nonstandard::Online {
            values: &online,
            chart: &shared::nonstandard::RunningChart::of(package("V5.1.2.02")),
        }),
        &Limits::default(),
    )
    .0
}

#[test]
fn the_committed_zips_and_manifests_are_what_their_sources_produce() {
    for (path, bytes) in demo::pack::build_all(&demo_dir()).unwrap() {
        let on_disk = std::fs::read(&path).unwrap_or_default();
        assert!(
            on_disk == bytes,
            "{} is out of date: run `cargo run -p demo --bin demo-pack`",
            path.strip_prefix(demo_dir())
                .unwrap_or(Path::new("?"))
                .display()
        );
    }
}

#[test]
fn every_version_package_passes_and_only_the_patch_release_is_reachable_without_downtime() {
    let (v02, v04, v2) = (
        package("V5.1.2.02"),
        package("V5.1.2.04"),
        package("V5.2.0.01"),
    );
    let decide = |from: &VersionPackage, to: &VersionPackage| {
        shared::compat::zero_downtime(&Running::of(from), &to.version, &to.manifest).unwrap()
    };
    assert!(decide(&v02, &v04).allowed);
    let to_v2 = decide(&v04, &v2);
    assert!(!to_v2.allowed);
    let reasons: Vec<&str> = to_v2.reasons.iter().map(|f| f.code.as_str()).collect();
    assert!(
        reasons.contains(&"zero-downtime-segments-differ"),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"zero-downtime-app-not-rolling"),
        "{reasons:?}"
    );
}

#[test]
fn every_version_package_declares_a_query_a_job_and_a_logon_probe() {
    for version in ["V5.1.2.02", "V5.1.2.04", "V5.2.0.01"] {
        let manifest = package(version).manifest;
        let probes: Vec<(&str, Option<&str>)> = manifest
            .probes
            .iter()
            .map(|p| (p.name.as_str(), p.application()))
            .collect();
        assert_eq!(
            probes,
            [
                ("dataservice-query", Some("dataservice")),
                ("dataservice-job", Some("dataservice")),
                ("web-logon", Some("web")),
            ],
            "{version}"
        );
    }
}

/// A container platform mounts the values at `valuesFile`, the shared volume at `sharedDir` and sends traffic to
/// `port`; the demo learns each from its environment, so the two must agree, and it must listen beyond loopback.
#[test]
fn every_application_says_how_it_runs_in_a_container_and_its_environment_agrees() {
    for version in ["V5.1.2.02", "V5.1.2.04", "V5.2.0.01"] {
        for app in package(version).manifest.applications {
            let at = format!("{version} {}", app.name);
            let image = app
                .image
                .as_deref()
                .unwrap_or_else(|| panic!("{at}: no image"));
            assert!(
                image.ends_with(&format!("/{}:{}", app.name, &version[1..])),
                "{at}: {image}"
            );
            let container = app
                .container
                .unwrap_or_else(|| panic!("{at}: no container"));
            let env = |name: &str| {
                container
                    .env
                    .iter()
                    .find(|e| e.name == name)
                    .map(|e| e.value.clone())
            };
            assert_eq!(env("DEMO_LISTEN").as_deref(), Some("0.0.0.0"), "{at}");
            assert_eq!(env("DEMO_PORT"), Some(container.port.to_string()), "{at}");
            assert_eq!(
                env("DEMO_VALUES"),
                Some(container.values_file.clone()),
                "{at}"
            );
            assert_eq!(env("DEMO_STATE_DIR"), container.shared_dir, "{at}");
        }
    }
}

#[test]
fn the_good_standard_configurations_pass() {
    for (version, file) in [
        ("V5.1.2.02", "values-V5.1.2.02.yaml"),
        ("V5.1.2.04", "standard-V5.1.2.04.yaml"),
        ("V5.1.2.04", "standard-V5.1.2.04-never-ready.yaml"),
        ("V5.1.2.04", "standard-V5.1.2.04-crash.yaml"),
        ("V5.2.0.01", "standard-V5.2.0.01.yaml"),
    ] {
        let report = standard(version, file);
        assert!(report.ok, "{file}: {:?}", report.findings);
    }
}

#[test]
fn the_broken_standard_configurations_fail_with_their_codes() {
    let missing = standard("V5.1.2.04", "standard-V5.1.2.04-missing-items.yaml");
    assert!(!missing.ok);
    let paths: Vec<&str> = missing
        .findings
        .iter()
        .filter_map(|f| f.path.as_deref())
        .collect();
    assert_eq!(
        codes(&missing),
        ["missing-config-item", "missing-config-item"]
    );
    assert!(
        paths.contains(&"global.timezone") && paths.contains(&"global.database.port"),
        "{paths:?}"
    );

    let wrong = standard("V5.1.2.04", "standard-V5.1.2.04-wrong-type.yaml");
    assert!(!wrong.ok);
    assert_eq!(codes(&wrong), ["config-item-type", "config-item-type"]);
}

#[test]
fn the_good_bundle_passes_with_only_the_online_difference_and_names_the_official_template() {
    let report = non_standard("nonstandard-V5.1.2.04-good.zip");
    assert!(report.ok, "{:?}", report.findings);
    assert_eq!(
        codes(&report),
        ["online-config-differs", "template-reference"]
    );
    let reference = &report.findings[1];
    assert!(
        reference
            .message
            .contains("the official template of version V5.1.2.04"),
        "{}",
        reference.message
    );
}

#[test]
fn the_changed_template_needs_confirmation_but_is_not_blocked() {
    let report = non_standard("nonstandard-V5.1.2.04-template-changed.zip");
    assert!(report.ok, "{:?}", report.findings);
    let mismatch = report
        .findings
        .iter()
        .find(|f| f.code == "template-md5-mismatch")
        .expect("a template-md5-mismatch finding");
    assert!(mismatch.needs_confirmation);
}

#[test]
fn the_incompatible_bundle_is_blocked_with_each_problem() {
    let report = non_standard("nonstandard-V5.1.2.04-incompatible.zip");
    assert!(!report.ok);
    let codes = codes(&report);
    for code in [
        "values-unknown-key",
        "values-type-conflict",
        "overlay-target-missing",
        "overlay-type-conflict",
    ] {
        assert!(
            codes.iter().any(|c| c == code),
            "{code} missing in {codes:?}"
        );
    }
}
