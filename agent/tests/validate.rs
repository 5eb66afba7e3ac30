//! `agent validate` as an operator's pipeline runs it: the real binary on the demo product's files, judged by its
//! exit status and by the report it prints.

use std::path::PathBuf;
use std::process::{Command, Output};

use shared::report::{Report, Severity};

fn demo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../demo")
        .join(path)
        .display()
        .to_string()
}

fn agent_validate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent"))
        .arg("validate")
        .args(args)
        .output()
        .expect("the agent binary runs")
}

/// Runs, expects exit status 2 (a usage error or an unreadable file) and returns what it said on stderr.
fn usage_error(args: &[&str]) -> String {
    let output = agent_validate(args);
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs with `--json` and returns the exit status and the report parsed from stdout.
fn report_of(args: &[&str]) -> (i32, Report) {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let output = agent_validate(&with_json);
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let report: Report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not a report ({e}):\n{stdout}"));
    (output.status.code().expect("exited"), report)
}

fn codes(report: &Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn a_good_package_alone_is_ok_and_shows_its_template_digest() {
    let (status, report) = report_of(&["--version-package", &demo("versions/V5.1.2.04.zip")]);
    assert_eq!(status, 0);
    assert!(report.ok, "{:?}", report.findings);
    let digest = report
        .template_digest
        .expect("a ZIP package has a template digest");
    assert_eq!(digest.len(), 32);
    assert!(digest.chars().all(|c| c.is_ascii_hexdigit()));
}

#[test]
fn a_good_standard_configuration_passes() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/standard-V5.1.2.04.yaml"),
        "--kind",
        "standard",
    ]);
    assert_eq!(status, 0, "{:?}", report.findings);
    assert!(report.ok);
}

#[test]
fn missing_configuration_items_are_listed_one_by_one_and_fail_the_pipeline() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/standard-V5.1.2.04-missing-items.yaml"),
        "--kind",
        "standard",
    ]);
    assert_eq!(status, 1);
    assert!(!report.ok);
    let mut missing: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "missing-config-item")
        .filter_map(|f| f.path.as_deref())
        .collect();
    missing.sort();
    // The file's own comment says which two items it leaves out.
    assert_eq!(missing, ["global.database.port", "global.timezone"]);
    for finding in report.with_code("missing-config-item") {
        let details = finding.details.as_ref().expect("details");
        assert!(details.get("type").is_some() && details.get("description").is_some());
    }
}

#[test]
fn the_json_output_is_exactly_the_report_and_nothing_else() {
    let output = agent_validate(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/standard-V5.1.2.04-missing-items.yaml"),
        "--kind",
        "standard",
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.iter()
            .all(|k| ["ok", "template_digest", "findings"].contains(k)),
        "{keys:?}"
    );
    assert_eq!(value["ok"], false);
    let first = &value["findings"][0];
    assert_eq!(first["severity"], "error");
    assert!(first.get("line").is_none() || first["line"].is_u64());
}

#[test]
fn the_readable_summary_names_the_code_the_file_and_the_verdict() {
    let config = demo("config/standard-V5.1.2.04-missing-items.yaml");
    let output = agent_validate(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &config,
        "--kind",
        "standard",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("error[missing-config-item]"), "{text}");
    assert!(text.contains("global.timezone"), "{text}");
    assert!(text.contains("NOT OK: 2 error(s)"), "{text}");
}

#[test]
fn a_changed_template_is_a_warning_that_needs_confirmation_and_does_not_fail() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/nonstandard-V5.1.2.04-template-changed.zip"),
        "--kind",
        "non-standard",
    ]);
    assert_eq!(status, 0, "{:?}", report.findings);
    let mismatch = report
        .with_code("template-md5-mismatch")
        .next()
        .expect("template-md5-mismatch");
    assert_eq!(mismatch.severity, Severity::Warning);
    assert!(mismatch.needs_confirmation);
}

#[test]
fn an_incompatible_bundle_is_blocked() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/nonstandard-V5.1.2.04-incompatible.zip"),
        "--kind",
        "non-standard",
    ]);
    assert_eq!(status, 1);
    assert!(
        codes(&report)
            .iter()
            .any(|c| c.starts_with("values-") || c.starts_with("overlay-")),
        "{:?}",
        codes(&report)
    );
}

#[test]
fn online_values_add_the_difference_with_secrets_masked() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/nonstandard-V5.1.2.04-good.zip"),
        "--kind",
        "non-standard",
        "--online",
        &demo("config/values-V5.1.2.02.yaml"),
    ]);
    assert_eq!(status, 0, "{:?}", report.findings);
    let differs = report
        .with_code("online-config-differs")
        .next()
        .expect("the good bundle differs from what V5.1.2.02 runs");
    let online = std::fs::read_to_string(demo("config/values-V5.1.2.02.yaml")).unwrap();
    let shown = serde_json::to_string(differs).unwrap();
    // The demo user's password is in the running values; it must never be printed.
    assert!(online.contains("dataphin-demo"));
    assert!(!shown.contains("dataphin-demo"), "{shown}");
    // Without the running version's package, the running chart is not known: said, and the target's stands in.
    assert!(
        report.with_code("online-chart-unknown").next().is_some(),
        "{:?}",
        codes(&report)
    );
    assert!(shown.contains(r#""old":"UTC""#), "{shown}");

    // With it (--current), the running values are merged with V5.1.2.02's chart, which has no `timezone`.
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/nonstandard-V5.1.2.04-good.zip"),
        "--kind",
        "non-standard",
        "--online",
        &demo("config/values-V5.1.2.02.yaml"),
        "--current",
        &demo("versions/V5.1.2.02.zip"),
    ]);
    assert_eq!(status, 0, "{:?}", report.findings);
    assert!(report.with_code("online-chart-unknown").next().is_none());
    let differs = report.with_code("online-config-differs").next().unwrap();
    assert_eq!(
        differs.details.as_ref().unwrap()["added"],
        serde_json::json!([{ "path": "global.timezone", "new": "Asia/Shanghai" }])
    );
}

#[test]
fn the_running_version_adds_the_zero_downtime_decision() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.2.0.01.zip"),
        "--current",
        "V5.1.2.02",
    ]);
    assert_eq!(
        status, 0,
        "downtime is still possible: {:?}",
        report.findings
    );
    assert!(codes(&report).contains(&"zero-downtime-segments-differ"));

    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--current",
        &demo("versions/V5.1.2.02.zip"),
    ]);
    assert_eq!(status, 0);
    assert!(
        !codes(&report)
            .iter()
            .any(|c| c.starts_with("zero-downtime-")),
        "{:?}",
        codes(&report)
    );
}

#[test]
fn a_target_that_is_not_newer_fails() {
    let (status, report) = report_of(&[
        "--version-package",
        &demo("versions/V5.1.2.02.zip"),
        "--current",
        "V5.1.2.04",
    ]);
    assert_eq!(status, 1);
    assert_eq!(codes(&report), ["target-not-newer"]);
}

#[test]
fn an_unreadable_file_or_a_usage_error_exits_2_and_says_why() {
    let stderr = usage_error(&["--version-package", "/nonexistent/V9.9.9.9.zip"]);
    assert!(stderr.contains("/nonexistent/V9.9.9.9.zip"), "{stderr}");

    // --kind without --config.
    usage_error(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--kind",
        "standard",
    ]);

    let stderr = usage_error(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--current",
        "5.1.2",
    ]);
    assert!(stderr.contains("--current 5.1.2"), "{stderr}");
}

#[test]
fn online_values_that_are_not_text_or_a_broken_running_package_exit_2_and_say_which() {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary = dir.path().join("running-values.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let stderr = usage_error(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--config",
        &demo("config/nonstandard-V5.1.2.04-good.zip"),
        "--kind",
        "non-standard",
        "--online",
        &binary.display().to_string(),
    ]);
    assert!(
        stderr.contains("--online") && stderr.contains("running-values.yaml"),
        "{stderr}"
    );

    let broken = dir.path().join("running.yaml");
    std::fs::write(&broken, "version: V5.1.2.02\nproduct: dataphin\n").unwrap();
    let stderr = usage_error(&[
        "--version-package",
        &demo("versions/V5.1.2.04.zip"),
        "--current",
        &broken.display().to_string(),
    ]);
    assert!(
        stderr.contains("not a valid package") && stderr.contains("running.yaml"),
        "{stderr}"
    );
}
