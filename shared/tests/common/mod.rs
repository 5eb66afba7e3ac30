//! Inputs and expectations shared by the native tests (`tests/checks.rs`) and the browser tests (`tests/wasm.rs`):
//! each case builds its input, runs it through the public API and asserts the report, so both targets are held to
//! the same answers. `all_cases!` lists every case once.

#![allow(dead_code)]

pub mod charts;
pub mod zip;

#[allow(unused_imports)] // digest_tools uses only the fixtures
pub use charts::*;

use md5::{Digest, Md5};
use serde_json::json;
use shared::api::ZeroDowntimeDecision;
use shared::archive::{Bundle, ZipScan};
use shared::compat::{Running, zero_downtime};
use shared::keypath::KeyPath;
use shared::limits::Limits;
use shared::nonstandard::{Online, RunningChart, check_non_standard_config};
use shared::package::{
    TemplateDigest, VersionPackage, check_version_package, check_version_package_bundle,
};
use shared::probes::{DEFAULT_WINDOW_SECONDS, ProbeKind};
use shared::report::{Finding, Report, Severity};
use shared::standard::{check_standard_bundle, check_standard_config};
use shared::version::Version;

use zip::{Entry, Zip, overlapping_zip_bomb};

/// Generates one test per case, as `#[test]` natively and `#[wasm_bindgen_test]` in the browser.
#[macro_export]
macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[cfg_attr(not(target_arch = "wasm32"), test)]
            #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
            fn $name() {
                common::$name();
            }
        )*
    };
}

/// Every shared case; both test files expand this.
#[macro_export]
macro_rules! all_cases {
    () => {
        $crate::cases!(
            versions_compare_by_number_and_print_as_written,
            key_paths_parse_and_print,
            version_package_yaml_only_lists_template_md5s,
            version_package_zip_carries_its_template,
            template_digest_is_md5sum_of_sorted_md5sum_lines,
            package_template_mismatch_lists_changed_added_missing,
            manifest_unknown_field_names_file_line_column_and_key,
            manifest_rules_each_reported,
            manifest_dependency_cycle_names_the_cycle,
            manifest_container_fields_parse_and_each_rule_is_reported,
            manifest_container_unknown_field_names_line_and_column,
            manifest_text_fields_read_as_written_and_wrong_types_located,
            manifest_probes_of_each_kind_parse,
            manifest_probe_unknown_field_names_line_and_column,
            manifest_probe_rules_each_reported,
            version_package_zip_without_manifest_is_missing_file,
            standard_missing_items_one_per_key_with_type_and_description,
            standard_wrong_types_and_integer_is_a_number,
            standard_zip_reads_values_at_root,
            standard_report_serializes_like_formats_md,
            non_standard_matching_bundle_has_no_findings,
            non_standard_template_md5_mismatch_needs_confirmation,
            non_standard_unknown_key_suggests_the_sibling,
            non_standard_type_conflicts,
            non_standard_free_form_places_accept_anything,
            non_standard_overlays,
            non_standard_many_unknown_keys_are_bounded,
            non_standard_missing_files,
            non_standard_against_own_template_when_package_is_yaml_only,
            online_difference_lists_paths_and_masks_secrets,
            online_values_that_do_not_parse_are_a_warning,
            zero_downtime_allowed_within_a_release,
            zero_downtime_reasons_each_reported,
            zero_downtime_refuses_a_target_not_newer,
            zero_downtime_rolls_only_applications_that_run_now,
            zip_not_a_zip_or_truncated_is_invalid,
            zip_bad_crc_and_size_mismatch_are_invalid,
            zip_encrypted_entry_is_refused,
            zip_unsupported_compression_is_refused,
            zip_duplicate_entry_is_refused,
            zip_unsafe_entries_are_refused,
            zip_overlapping_entry_bomb_is_caught_before_inflating,
            zip_too_many_entries,
            zip_lying_header_is_caught_while_inflating,
            zip_total_inflated_is_bounded,
            zip_upload_size_is_bounded,
            zip_ignores_macos_files_and_directories,
            zip64_and_data_descriptors_are_read,
            zip_scan_in_slices_gives_the_same_bundle,
            yaml_billion_laughs_fails_fast,
            yaml_wide_alias_expansion_is_bounded,
            yaml_large_documents_without_aliases_pass,
            yaml_deep_nesting_is_too_complex,
            yaml_syntax_error_has_line_and_column,
            yaml_duplicate_key_has_line,
            yaml_root_must_be_a_mapping,
            yaml_byte_order_mark_is_not_content,
            empty_or_comment_only_values_are_an_empty_mapping,
            chart_open_places_accept_new_keys_and_typos_stay_errors,
            chart_kinds_empty_map_expects_a_map_and_quoted_booleans_warn,
            chart_unknown_keys_have_line_and_column,
            chart_subchart_values_follow_the_subchart,
            chart_values_schema_decides,
            chart_template_overlays_are_checked_as_templates,
            chart_secrets_are_masked_and_harmless_values_shown,
            online_difference_compares_what_helm_uses,
            online_difference_takes_each_side_from_its_own_chart,
            zipped_folder_says_how_to_zip,
            report_names_the_reference_template,
            yaml_not_utf8_is_reported,
            yaml_too_large_is_too_complex,
        );
    };
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures: a product "dataphin" with a small Helm-like template.

pub const TEMPLATE_VALUES: &str = "\
global:
  database:
    host: localhost
    port: 5432
    password: changeme
gateway:
  replicas: 2
  hosts: [gateway.example.com]
  annotations: {}
  extraEnv:
  resources:
    limits: { cpu: 1, memory: 1Gi }
metadata:
  heapSize: 2g
labels: {}
";

pub const CONFIG_APP_YAML: &str =
    "server:\n  port: 8080\n  paths: [/a, /b]\nfeatures:\n  search: true\n";

/// The template files, path relative to `product/dataphin/` → bytes.
pub fn template_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("Chart.yaml".into(), b"apiVersion: v2\nname: dataphin\nversion: 5.1.2\n".to_vec()),
        ("values.yaml".into(), TEMPLATE_VALUES.as_bytes().to_vec()),
        (
            "templates/gateway.yaml".into(),
            b"replicas: {{ .Values.gateway.replicas }}\nhosts: {{ toYaml .Values.gateway.hosts }}\n".to_vec(),
        ),
        ("config/app.yaml".into(), CONFIG_APP_YAML.as_bytes().to_vec()),
    ]
}

pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The manifest of `version`, listing `files` in `template.files`; `extra` is appended as more top-level YAML.
pub fn manifest_text(version: &str, files: &[(String, Vec<u8>)], extra: &str) -> String {
    let mut text = format!(
        "version: {version}
product: dataphin
releasedAt: 2026-10-01
compatibility:
  zeroDowntimeFrom: [V5.1.2.02, V5.1.2.03]
applications:
  - name: metadata
    replicas: 2
    rolling: true
    dependsOn: []
    readiness: {{ path: /healthz, timeoutSeconds: 30 }}
    local: {{ command: demo-app, args: [--role, metadata] }}
  - name: gateway
    replicas: 2
    rolling: true
    dependsOn: [metadata]
    readiness: {{ path: /healthz, timeoutSeconds: 30 }}
    image: registry.example.com/dataphin/gateway:5.1.2.04
configItems:
  - key: global.database.host
    type: string
    description: Metadata database host
  - {{ key: global.database.port, type: integer, description: Metadata database port }}
  - {{ key: gateway.replicas, type: number, description: Gateway replicas }}
  - {{ key: 'gateway.hosts[0]', type: string, description: First gateway host name }}
  - {{ key: 'labels[\"app.kubernetes.io/name\"]', type: string, description: Application label }}
  - {{ key: metadata.heapSize, description: Heap of the metadata service }}
"
    );
    if !files.is_empty() {
        text.push_str("template:\n  files:\n");
        for (path, bytes) in files {
            text.push_str(&format!("    {path}: {}\n", md5_hex(bytes)));
        }
    }
    text.push_str(extra);
    text
}

/// A ZIP version package: `version.yaml` plus the template.
pub fn package_zip(manifest: &str, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = Zip::new().file("version.yaml", manifest.as_bytes());
    for (path, bytes) in files {
        zip = zip.file(&format!("product/dataphin/{path}"), bytes);
    }
    zip.build()
}

pub fn limits() -> Limits {
    Limits::default()
}

/// The version package of `version` as a ZIP with the template.
pub fn zip_package(version: &str) -> VersionPackage {
    let files = template_files();
    let bytes = package_zip(&manifest_text(version, &files, ""), &files);
    let (report, package) = check_version_package("package.zip", &bytes, &limits());
    assert!(report.ok, "{report:#?}");
    package.expect("a package")
}

/// The version package of `version` as its manifest alone, with extra YAML.
pub fn yaml_package_with(version: &str, extra: &str) -> VersionPackage {
    let text = manifest_text(version, &template_files(), extra);
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    package.expect("a package")
}

pub const GOOD_VALUES: &str = "\
global:
  database:
    host: db.example.com
    port: 5432
    password: s3cr3t-value
gateway:
  replicas: 3
  hosts: [a.example.com, b.example.com]
metadata:
  heapSize: 4g
labels:
  app.kubernetes.io/name: dataphin
";

/// A non-standard bundle: values.yaml, the template (possibly edited) and overlays.
/// The chart of V5.1.2.02, running now: the same template as the target's.
pub fn running_chart() -> RunningChart {
    RunningChart::of(zip_package("V5.1.2.02"))
}

/// `values` running now with `chart`.
pub fn online<'a>(values: &'a str, chart: &'a RunningChart) -> Option<Online<'a>> {
    Some(Online { values, chart })
}

pub fn bundle_zip(values: &str, files: &[(String, Vec<u8>)], overlays: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = Zip::new().file("values.yaml", values.as_bytes());
    for (path, bytes) in files {
        zip = zip.file(&format!("product/dataphin/{path}"), bytes);
    }
    for (path, text) in overlays {
        zip = zip.file(&format!("overlay/{path}"), text.as_bytes());
    }
    zip.build()
}

pub fn codes(report: &Report) -> Vec<&str> {
    report
        .findings
        .iter()
        .map(|finding| finding.code.as_str())
        .collect()
}

pub fn only<'a>(report: &'a Report, code: &str) -> &'a Finding {
    let found: Vec<&Finding> = report.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(found.len(), 1, "one {code} expected: {report:#?}");
    found[0]
}

/// The single finding of a failed check, with its code and the file named in its message and field.
pub fn rejected<'a>(report: &'a Report, code: &str, file: &str) -> &'a Finding {
    assert!(!report.ok, "{report:#?}");
    let finding = only(report, code);
    assert_eq!(finding.severity, Severity::Error);
    assert!(
        finding.message.contains(file),
        "the message names {file}: {}",
        finding.message
    );
    assert_eq!(finding.file.as_deref(), Some(file), "{finding:#?}");
    finding
}

fn zip_error(bytes: &[u8], limits: &Limits) -> Finding {
    match ZipScan::open("upload.zip", bytes, limits).and_then(ZipScan::finish) {
        Ok(bundle) => panic!(
            "expected a rejection, got {:?}",
            bundle.entries.keys().collect::<Vec<_>>()
        ),
        Err(finding) => finding,
    }
}

fn assert_zip_rejected(bytes: &[u8], limits: &Limits, code: &str, mentions: &str) {
    let finding = zip_error(bytes, limits);
    assert_eq!(finding.code, code, "{finding:#?}");
    assert_eq!(finding.severity, Severity::Error);
    assert_eq!(finding.file.as_deref(), Some("upload.zip"));
    assert!(
        finding.message.contains("upload.zip"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains(mentions),
        "`{mentions}` in: {}",
        finding.message
    );
    // The same through a check function: the report carries it alone.
    let (report, _) = check_standard_config(&zip_package("V5.1.2.04"), "upload.zip", bytes, limits);
    assert_eq!(codes(&report), [code]);
}

// ---------------------------------------------------------------------------------------------------------------
// Versions and key paths.

pub fn versions_compare_by_number_and_print_as_written() {
    let v = |text: &str| Version::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert!(v("V5.1.2.10") > v("V5.1.2.9"));
    assert!(v("V5.2.0.01") > v("V5.1.2.04"));
    assert_eq!(v("v5.1.2.04").to_string(), "V5.1.2.04");
    assert_eq!(
        serde_json::to_value(v("V5.1.2.04")).unwrap(),
        json!("V5.1.2.04")
    );
    for bad in ["V5.1.2", "5.1.2.04", "V5.1.2.x", "V5.1.2.04.1"] {
        let error = Version::parse(bad).unwrap_err().to_string();
        assert!(
            error.contains(bad) && error.contains("V<major>.<minor>.<patch>.<build>"),
            "{error}"
        );
    }
}

pub fn key_paths_parse_and_print() {
    for text in [
        "dataservice.gateway.hosts[0]",
        "labels[\"app.kubernetes.io/name\"]",
        "a[\"q\\\"x\"][2].b",
    ] {
        assert_eq!(KeyPath::parse(text).unwrap().to_string(), text);
    }
    assert_eq!(
        KeyPath::root()
            .key("labels")
            .key("app.kubernetes.io/name")
            .to_string(),
        "labels[\"app.kubernetes.io/name\"]"
    );
    assert!(KeyPath::parse("a..b").is_err());
}

// ---------------------------------------------------------------------------------------------------------------
// Version packages.

pub fn version_package_yaml_only_lists_template_md5s() {
    let files = template_files();
    let text = manifest_text("V5.1.2.04", &files, "");
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
    let package = package.expect("a package");
    assert_eq!(package.version, Version::parse("V5.1.2.04").unwrap());
    assert_eq!(package.manifest.applications.len(), 2);
    let template = package
        .template
        .as_ref()
        .expect("the manifest lists the template");
    assert!(!template.carries_files());
    assert!(template.values.is_none());
    assert_eq!(report.template_digest, Some(template.digest().0));
}

pub fn version_package_zip_carries_its_template() {
    let files = template_files();
    let bytes = package_zip(&manifest_text("V5.1.2.04", &files, ""), &files);
    let (report, package) = check_version_package("dataphin-V5.1.2.04.zip", &bytes, &limits());
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
    let package = package.expect("a package");
    let template = package.template.as_ref().expect("a template");
    assert!(template.carries_files());
    assert_eq!(template.files.len(), 4);
    let values = template
        .values
        .as_ref()
        .expect("the template's values.yaml");
    assert!(
        values
            .get(&KeyPath::parse("gateway.replicas").unwrap())
            .is_some()
    );
    // The same digest whether the package carries the files or only lists them.
    assert_eq!(
        report.template_digest,
        yaml_package_with("V5.1.2.04", "")
            .template_digest()
            .map(|d| d.0)
    );
}

/// The digest by the formula, computed here from the same bytes: md5 of "<md5>  <path>\n" sorted by path.
pub fn template_digest_is_md5sum_of_sorted_md5sum_lines() {
    let mut files = template_files();
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let listing: String = files
        .iter()
        .map(|(path, bytes)| format!("{}  {path}\n", md5_hex(bytes)))
        .collect();
    // Byte order puts upper case and `-` before lower case: `Chart.yaml` < `config/app.yaml` < `templates/...`.
    assert!(listing.find("Chart.yaml").unwrap() < listing.find("config/app.yaml").unwrap());
    let expected = md5_hex(listing.as_bytes());
    let package = zip_package("V5.1.2.04");
    assert_eq!(
        package.template_digest().map(|d| d.to_string()),
        Some(expected.clone())
    );
    let pairs: Vec<(String, String)> = files
        .iter()
        .map(|(path, bytes)| (path.clone(), md5_hex(bytes)))
        .collect();
    assert_eq!(
        TemplateDigest::of(pairs.iter().rev().map(|(p, m)| (p.as_str(), m.as_str()))).0,
        expected
    );
}

pub fn package_template_mismatch_lists_changed_added_missing() {
    let files = template_files();
    let manifest = manifest_text("V5.1.2.04", &files, "");
    let mut shipped: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(path, _)| path != "Chart.yaml")
        .collect();
    shipped[0].1.extend_from_slice(b"# edited\n");
    let changed = shipped[0].0.clone();
    shipped.push(("templates/extra.yaml".into(), b"a: 1\n".to_vec()));
    let (report, package) =
        check_version_package("package.zip", &package_zip(&manifest, &shipped), &limits());
    assert!(package.is_none());
    let finding = rejected(&report, "package-template-mismatch", "package.zip");
    let details = finding.details.as_ref().expect("details");
    assert_eq!(details["changed"], json!([changed]));
    assert_eq!(details["added"], json!(["templates/extra.yaml"]));
    assert_eq!(details["missing"], json!(["Chart.yaml"]));
}

pub fn manifest_unknown_field_names_file_line_column_and_key() {
    let text = manifest_text("V5.1.2.04", &[], "").replace(
        "    replicas: 2\n    rolling: true\n    dependsOn: [metadata]",
        "    replcas: 2\n    rolling: true\n    dependsOn: [metadata]",
    );
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(package.is_none());
    let finding = rejected(&report, "manifest-invalid", "version.yaml");
    assert!(finding.message.contains("replcas"), "{}", finding.message);
    let line = text
        .lines()
        .position(|line| line.contains("replcas"))
        .unwrap() as u64
        + 1;
    assert_eq!(finding.line, Some(line), "{finding:#?}");
    assert!(finding.column.is_some());
}

pub fn manifest_rules_each_reported() {
    let text = "\
version: V5.1.2
product: Data_Phin
compatibility: { zeroDowntimeFrom: [5.1.2.02] }
applications:
  - { name: a, replicas: 0, rolling: true, readiness: { path: /h, timeoutSeconds: 5 } }
  - { name: a, replicas: 1, rolling: true, dependsOn: [ghost], readiness: { path: /h, timeoutSeconds: 5 } }
configItems:
  - { key: 'a..b' }
";
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(package.is_none() && !report.ok);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.code == "manifest-invalid" && f.file.as_deref() == Some("version.yaml"))
    );
    let paths: Vec<&str> = report
        .findings
        .iter()
        .filter_map(|f| f.path.as_deref())
        .collect();
    for path in [
        "version",
        "product",
        "compatibility.zeroDowntimeFrom[0]",
        "applications[0].replicas",
        "applications[1].name",
        "applications[1].dependsOn[0]",
        "configItems[0].key",
    ] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    let ghost = report
        .findings
        .iter()
        .find(|f| f.message.contains("ghost"))
        .expect("the unknown name");
    assert!(ghost.message.contains("`ghost`"), "{}", ghost.message);
    let version = report
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("version"))
        .unwrap();
    assert!(
        version.message.contains("V<major>.<minor>.<patch>.<build>"),
        "{}",
        version.message
    );
    let no_apps = "version: V1.0.0.1\nproduct: p\napplications: []\n";
    let (report, _) = check_version_package("version.yaml", no_apps.as_bytes(), &limits());
    assert!(
        only(&report, "manifest-invalid")
            .message
            .contains("at least one")
    );
}

/// The `gateway` application of [`manifest_text`] with `container` (YAML, indented as an application's field).
fn with_container(container: &str) -> String {
    manifest_text("V5.1.2.04", &[], "").replace(
        "    image: registry.example.com/dataphin/gateway:5.1.2.04\n",
        &format!("    image: registry.example.com/dataphin/gateway:5.1.2.04\n{container}"),
    )
}

pub fn manifest_container_fields_parse_and_each_rule_is_reported() {
    let good = with_container(
        "    container:
      port: 8080
      valuesFile: /etc/gateway/values.yaml
      sharedDir: /state
      env:
        - { name: GATEWAY_LISTEN, value: 0.0.0.0 }
        - { name: GATEWAY_PORT, value: '8080' }
",
    );
    let (report, package) = check_version_package("version.yaml", good.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    let manifest = package.unwrap().manifest;
    let container = manifest.applications[1].container.as_ref().unwrap();
    assert_eq!(container.port, 8080);
    assert_eq!(container.values_file, "/etc/gateway/values.yaml");
    assert_eq!(container.shared_dir.as_deref(), Some("/state"));
    let env: Vec<(&str, &str)> = container
        .env
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(
        env,
        [("GATEWAY_LISTEN", "0.0.0.0"), ("GATEWAY_PORT", "8080")]
    );
    assert!(manifest.applications[0].container.is_none(), "optional");

    // Every rule broken once; `metadata` has no image, so its container has nothing to run.
    let bad = with_container(
        "    container:
      port: 0
      valuesFile: etc/values.yaml
      sharedDir: /state/../x
      env:
        - { name: 1ST, value: a }
        - { name: MODE, value: a }
        - { name: MODE, value: b }
",
    )
    .replace(
        "    local: { command: demo-app, args: [--role, metadata] }\n",
        "    local: { command: demo-app, args: [--role, metadata] }
    container: { port: 8081, valuesFile: /data/values.yaml, sharedDir: /data }
",
    );
    let (report, package) = check_version_package("version.yaml", bad.as_bytes(), &limits());
    assert!(package.is_none() && !report.ok);
    let found: Vec<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.path.as_deref().unwrap_or(""), f.message.as_str()))
        .collect();
    for (path, words) in [
        ("applications[0].container", "no `image:`"),
        (
            "applications[0].container.valuesFile",
            "inside `container.sharedDir: /data`",
        ),
        ("applications[1].container.port", "`container.port: 0`"),
        (
            "applications[1].container.valuesFile",
            "`container.valuesFile: etc/values.yaml`",
        ),
        (
            "applications[1].container.sharedDir",
            "`container.sharedDir: /state/../x`",
        ),
        ("applications[1].container.env[0].name", "`1ST`"),
        ("applications[1].container.env[2].name", "`MODE` twice"),
    ] {
        assert!(
            found.iter().any(|(p, m)| *p == path && m.contains(words)),
            "{path}: {words} in {found:#?}"
        );
    }
    assert_eq!(found.len(), 7, "{found:#?}");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.code == "manifest-invalid" && f.file.as_deref() == Some("version.yaml"))
    );
}

pub fn manifest_container_unknown_field_names_line_and_column() {
    let text = with_container(
        "    container:
      port: 8080
      valuesFile: /etc/gateway/values.yaml
      mountPath: /etc/gateway
",
    );
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(package.is_none());
    let finding = rejected(&report, "manifest-invalid", "version.yaml");
    assert!(finding.message.contains("mountPath"), "{}", finding.message);
    let line = text
        .lines()
        .position(|line| line.contains("mountPath"))
        .unwrap() as u64
        + 1;
    assert_eq!(finding.line, Some(line), "{finding:#?}");
    // A missing required field is named too.
    let text = with_container("    container: { port: 8080 }\n");
    let (report, _) = check_version_package("version.yaml", text.as_bytes(), &limits());
    let finding = rejected(&report, "manifest-invalid", "version.yaml");
    assert!(
        finding.message.contains("valuesFile"),
        "{}",
        finding.message
    );
}

pub fn manifest_text_fields_read_as_written_and_wrong_types_located() {
    // A whole number or a boolean where text is expected is its text.
    let text = with_container(
        "    container:
      port: 8080
      valuesFile: /etc/gateway/values.yaml
      env:
        - { name: GATEWAY_PORT, value: 8080 }
        - name: GATEWAY_TLS
          value: false
",
    );
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    let manifest = package.unwrap().manifest;
    let env = &manifest.applications[1].container.as_ref().unwrap().env;
    assert_eq!(
        (env[0].value.as_str(), env[1].value.as_str()),
        ("8080", "false")
    );

    // An empty value is an empty list where one is expected, and empty text.
    let empty = manifest_text("V5.1.2.04", &[], "probes:\n")
        .replace("dependsOn: []", "dependsOn:")
        .replace(
            "    description: Metadata database host\n",
            "    description:\n",
        );
    let (report, package) = check_version_package("version.yaml", empty.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    let manifest = package.unwrap().manifest;
    assert!(manifest.applications[0].depends_on.is_empty() && manifest.probes.is_empty());
    assert_eq!(manifest.config_items[0].description, "");

    // A number with a fraction is not: `1.10` would read `1.1`. The finding names the key path and its line.
    let text = text.replace("value: false", "value: 1.10");
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(package.is_none());
    let finding = rejected(&report, "manifest-invalid", "version.yaml");
    assert_eq!(
        finding.path.as_deref(),
        Some("applications[1].container.env[1].value")
    );
    assert!(finding.message.contains("in quotes"), "{}", finding.message);
    let line = text.lines().position(|l| l.contains("1.10")).unwrap() as u64 + 1;
    assert_eq!(finding.line, Some(line), "{finding:#?}");
    assert!(
        finding
            .message
            .starts_with(&format!("version.yaml line {line}, column ")),
        "{}",
        finding.message
    );

    // A wrong type names what was found and what was expected, at its key.
    let text = manifest_text("V5.1.2.04", &[], "").replacen("replicas: 2", "replicas: two", 1);
    let (report, _) = check_version_package("version.yaml", text.as_bytes(), &limits());
    let finding = rejected(&report, "manifest-invalid", "version.yaml");
    assert_eq!(finding.path.as_deref(), Some("applications[0].replicas"));
    assert!(
        finding
            .message
            .contains("applications[0].replicas: invalid type: string \"two\", expected u32"),
        "{}",
        finding.message
    );
    let line = text.lines().position(|l| l.contains("two")).unwrap() as u64 + 1;
    assert_eq!((finding.line, finding.column), (Some(line), Some(5)));
}

pub fn manifest_dependency_cycle_names_the_cycle() {
    let text = "\
version: V1.0.0.1
product: p
applications:
  - { name: web, replicas: 1, rolling: true, dependsOn: [api], readiness: { path: /h, timeoutSeconds: 5 } }
  - { name: api, replicas: 1, rolling: true, dependsOn: [db], readiness: { path: /h, timeoutSeconds: 5 } }
  - { name: db, replicas: 1, rolling: true, dependsOn: [web], readiness: { path: /h, timeoutSeconds: 5 } }
";
    let (report, _) = check_version_package("version.yaml", text.as_bytes(), &limits());
    let finding = rejected(&report, "manifest-invalid", "version.yaml");
    assert!(
        finding.message.contains("api → db → web → api"),
        "{}",
        finding.message
    );
}

/// A `probes:` section with one probe of each kind, against the applications of [`manifest_text`].
const PROBES: &str = "\
probes:
  - name: query
    rate: 5
    http: { application: gateway, method: GET, path: '/api/query?q=probe' }
  - name: job
    rate: 0.5
    job:
      application: gateway
      submit: { method: POST, path: /api/jobs, body: { input: probe }, expectStatus: 202 }
      idPointer: /id
      poll: '/api/jobs/{id}'
      donePointer: /status
      doneValue: done
      timeoutSeconds: 30
  - name: logon
    rate: 1
    logon: { application: metadata, path: /login, usernameFrom: web.demoUser.username, passwordFrom: 'web.demoUser.password' }
    limits: { errorRatio: 0.01, p99Ms: 250 }
";

pub fn manifest_probes_of_each_kind_parse() {
    let text = manifest_text("V5.1.2.04", &[], PROBES);
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    let probes = package.expect("a package").manifest.probes;
    let names: Vec<&str> = probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["query", "job", "logon"]);
    let Some(ProbeKind::Http(query)) = probes[0].kind() else {
        panic!("query is an HTTP probe: {:?}", probes[0]);
    };
    assert_eq!(query.call().expected_status(), 200);
    let Some(ProbeKind::Job(job)) = probes[1].kind() else {
        panic!("job is a job probe: {:?}", probes[1]);
    };
    assert_eq!(job.submit.body, Some(json!({"input": "probe"})));
    assert_eq!(job.submit.expected_status(), 202);
    assert_eq!(job.done_value, json!("done"));
    assert_eq!(probes[2].application(), Some("metadata"));
    let declared = probes[2].limits.as_ref().expect("limits");
    assert_eq!(declared.window(), DEFAULT_WINDOW_SECONDS);
    assert_eq!(declared.error_ratio, Some(0.01));
    // formats.md's example writes `probes: []`.
    let empty = manifest_text("V5.1.2.04", &[], "probes: []\n");
    let (report, package) = check_version_package("version.yaml", empty.as_bytes(), &limits());
    assert!(
        report.ok && package.unwrap().manifest.probes.is_empty(),
        "{report:#?}"
    );
}

pub fn manifest_probe_unknown_field_names_line_and_column() {
    // A field of a job, and one of the limits (a misspelt limit would otherwise gate nothing).
    for (field, misspelt) in [("idPointer", "idField"), ("windowSeconds", "windowSecs")] {
        let probes = if field == "windowSeconds" {
            PROBES.replace("p99Ms: 250", "p99Ms: 250, windowSecs: 30")
        } else {
            PROBES.replace(field, misspelt)
        };
        let text = manifest_text("V5.1.2.04", &[], &probes);
        let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
        assert!(package.is_none(), "{misspelt}");
        let finding = rejected(&report, "manifest-invalid", "version.yaml");
        assert!(finding.message.contains(misspelt), "{}", finding.message);
        let line = text.lines().position(|l| l.contains(misspelt)).unwrap() as u64 + 1;
        assert_eq!(finding.line, Some(line), "{finding:#?}");
        assert!(finding.column.is_some());
    }
}

pub fn manifest_probe_rules_each_reported() {
    let bad = "\
probes:
  - name: query
    rate: 500
    http: { application: ghost, method: FETCH, path: api/query, expectStatus: 42 }
  - name: job
    rate: 0
    job:
      application: gateway
      submit: { method: POST, path: /api/jobs }
      idPointer: id
      poll: /api/jobs
      donePointer: /status
      doneValue: true
      timeoutSeconds: 0
  - name: logon
    rate: 1
    logon: { application: metadata, path: /login, usernameFrom: 'web..user', passwordFrom: web.demoUser.password }
    limits: { errorRatio: 1.5, p99Ms: -1, windowSeconds: 0 }
  - name: query
    rate: 1
  - name: both
    rate: 1
    http: { application: gateway, method: GET, path: / }
    logon: { application: metadata, path: /login, usernameFrom: a, passwordFrom: b }
";
    let text = manifest_text("V5.1.2.04", &[], bad);
    let (report, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    assert!(package.is_none() && !report.ok);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.code == "manifest-invalid" && f.file.as_deref() == Some("version.yaml")),
        "{report:#?}"
    );
    let at = |path: &str| -> &Finding {
        report
            .findings
            .iter()
            .find(|f| f.path.as_deref() == Some(path))
            .unwrap_or_else(|| panic!("a finding at {path} in {report:#?}"))
    };
    // A rule's finding is placed on its key (flow-style keys, `{ errorRatio: 1.5 }`, on the nearest block-style
    // one): the operator is sent to the line.
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1;
    let limits = at("probes[2].limits.errorRatio");
    assert_eq!(
        (limits.line, limits.column),
        (Some(line_of("limits: { errorRatio: 1.5")), Some(5)),
        "{limits:#?}"
    );
    assert!(
        limits.message.starts_with(&format!(
            "version.yaml line {}, column 5: probe `logon`: `errorRatio: 1.5`",
            line_of("errorRatio: 1.5")
        )),
        "{}",
        limits.message
    );
    assert_eq!(
        at("probes[1].job.poll").line,
        Some(line_of("poll: /api/jobs"))
    );
    for (path, says) in [
        ("probes[0].rate", "probe `query`: `rate: 500`"),
        (
            "probes[0].http.application",
            "`application: ghost` is not an application of this version (known: gateway, metadata)",
        ),
        (
            "probes[0].http.method",
            "`method: FETCH` is not one of GET, POST",
        ),
        ("probes[0].http.path", "`path: api/query` must start"),
        ("probes[0].http.expectStatus", "`expectStatus: 42`"),
        ("probes[1].rate", "probe `job`: `rate: 0`"),
        ("probes[1].job.idPointer", "`id` is not a JSON pointer"),
        ("probes[1].job.poll", "`{id}`"),
        ("probes[1].job.timeoutSeconds", "`timeoutSeconds: 0`"),
        (
            "probes[2].logon.usernameFrom",
            "`web..user` is not a key path",
        ),
        ("probes[2].limits.errorRatio", "`errorRatio: 1.5`"),
        ("probes[2].limits.p99Ms", "`p99Ms: -1`"),
        ("probes[2].limits.windowSeconds", "`windowSeconds: 0`"),
        (
            "probes[3]",
            "probe `query`: a probe declares exactly one of `http`, `job` or `logon`",
        ),
        ("probes[3].name", "probe `query` is listed twice"),
        ("probes[4]", "probe `both`: a probe declares exactly one"),
    ] {
        let finding = at(path);
        assert!(
            finding.message.contains(says),
            "{path}: {} lacks {says}",
            finding.message
        );
    }
}

pub fn version_package_zip_without_manifest_is_missing_file() {
    let bytes = Zip::new()
        .file("product/dataphin/values.yaml", b"a: 1\n")
        .build();
    let (report, _) = check_version_package("package.zip", &bytes, &limits());
    let finding = rejected(&report, "bundle-missing-file", "package.zip");
    assert!(finding.message.contains("version.yaml"));
}

// ---------------------------------------------------------------------------------------------------------------
// Standard configuration.

pub fn standard_missing_items_one_per_key_with_type_and_description() {
    let values = "global:\n  database:\n    host: db\n    port: null\ngateway:\n  replicas: 2\n  hosts: []\n";
    let (report, text) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "prod-values.yaml",
        values.as_bytes(),
        &limits(),
    );
    assert_eq!(
        text.as_deref(),
        Some(values),
        "the file to run with, unchanged"
    );
    assert!(!report.ok);
    let missing: Vec<(&str, &serde_json::Value)> = report
        .with_code("missing-config-item")
        .map(|f| (f.path.as_deref().unwrap(), f.details.as_ref().unwrap()))
        .collect();
    assert_eq!(
        missing,
        vec![
            (
                "global.database.port",
                &json!({ "type": "integer", "description": "Metadata database port" })
            ),
            (
                "gateway.hosts[0]",
                &json!({ "type": "string", "description": "First gateway host name" })
            ),
            (
                "labels[\"app.kubernetes.io/name\"]",
                &json!({ "type": "string", "description": "Application label" })
            ),
            (
                "metadata.heapSize",
                &json!({ "type": "any", "description": "Heap of the metadata service" })
            ),
        ]
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.file.as_deref() == Some("prod-values.yaml"))
    );
}

pub fn standard_wrong_types_and_integer_is_a_number() {
    let values = GOOD_VALUES
        .replace("port: 5432", "port: \"5432\"")
        .replace("host: db.example.com", "host: 10");
    let (report, _) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "values.yaml",
        values.as_bytes(),
        &limits(),
    );
    let wrong: Vec<&str> = report
        .with_code("config-item-type")
        .filter_map(|f| f.path.as_deref())
        .collect();
    assert_eq!(
        wrong,
        ["global.database.host", "global.database.port"],
        "{report:#?}"
    );
    // `gateway.replicas: 3` is an integer, valid where a number is expected.
    assert_eq!(codes(&report), ["config-item-type", "config-item-type"]);
    let host = report
        .findings
        .iter()
        .find(|f| f.path.as_deref() == Some("global.database.host"))
        .unwrap();
    assert_eq!(host.details.as_ref().unwrap()["found"], "integer");
    let (report, _) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "values.yaml",
        GOOD_VALUES.as_bytes(),
        &limits(),
    );
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
}

pub fn standard_zip_reads_values_at_root() {
    let package = zip_package("V5.1.2.04");
    let bytes = Zip::new()
        .file("values.yaml", GOOD_VALUES.as_bytes())
        .file("README.md", b"ignored")
        .build();
    let (report, text) = check_standard_config(&package, "config.zip", &bytes, &limits());
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
    assert_eq!(text.as_deref(), Some(GOOD_VALUES));
    let bytes = Zip::new()
        .file("conf/values.yaml", GOOD_VALUES.as_bytes())
        .build();
    let (report, text) = check_standard_config(&package, "config.zip", &bytes, &limits());
    assert!(text.is_none());
    let finding = rejected(&report, "bundle-missing-file", "config.zip");
    assert_eq!(finding.path.as_deref(), Some("values.yaml"));
}

pub fn standard_report_serializes_like_formats_md() {
    let values = GOOD_VALUES.replace("    host: db.example.com\n", "");
    let (report, _) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "values.yaml",
        values.as_bytes(),
        &limits(),
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json,
        json!({
            "ok": false,
            "findings": [{
                "code": "missing-config-item",
                "severity": "error",
                "message": "values.yaml: configuration item `global.database.host` (string) is missing: Metadata database host",
                "file": "values.yaml",
                "path": "global.database.host",
                "details": { "type": "string", "description": "Metadata database host" }
            }]
        })
    );
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}

// ---------------------------------------------------------------------------------------------------------------
// Non-standard configuration.

pub fn non_standard_matching_bundle_has_no_findings() {
    let bytes = bundle_zip(
        GOOD_VALUES,
        &template_files(),
        &[("config/app.yaml", "server:\n  port: 9090\n  extra: 1\n")],
    );
    let package = zip_package("V5.1.2.04");
    let (report, text) = check_non_standard_config(&package, "bundle.zip", &bytes, None, &limits());
    assert!(report.ok, "{report:#?}");
    // Two notes: which template was the reference, and that `labels` (`{}` in the chart) took new keys.
    assert_eq!(
        codes(&report),
        ["template-reference", "values-open-key"],
        "{report:#?}"
    );
    assert!(report.findings.iter().all(|f| f.severity == Severity::Info));
    assert_eq!(text.as_deref(), Some(GOOD_VALUES));
    assert_eq!(
        report.template_digest,
        package.template_digest().map(|d| d.0)
    );
}

pub fn non_standard_template_md5_mismatch_needs_confirmation() {
    let mut files = template_files();
    files.retain(|(path, _)| path != "Chart.yaml");
    files
        .iter_mut()
        .find(|(path, _)| path == "templates/gateway.yaml")
        .unwrap()
        .1
        .extend_from_slice(b"# site\n");
    files.push(("templates/site.yaml".into(), b"x: 1\n".to_vec()));
    let bytes = bundle_zip(GOOD_VALUES, &files, &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    assert!(report.ok, "a warning only: {report:#?}");
    let finding = only(&report, "template-md5-mismatch");
    assert_eq!(finding.severity, Severity::Warning);
    assert!(finding.needs_confirmation);
    assert_eq!(
        finding.details,
        Some(
            json!({ "changed": ["templates/gateway.yaml"], "added": ["templates/site.yaml"], "missing": ["Chart.yaml"] })
        )
    );
    let json = serde_json::to_value(finding).unwrap();
    assert_eq!(json["needs_confirmation"], true);
    assert_eq!(report.template_digest.as_deref().map(str::len), Some(32));
}

pub fn non_standard_unknown_key_suggests_the_sibling() {
    let values = GOOD_VALUES
        .replace("  replicas: 3", "  replcas: 3")
        .replace("labels:", "lables:");
    let bytes = bundle_zip(&values, &template_files(), &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    assert!(!report.ok);
    let unknown: Vec<&Finding> = report.with_code("values-unknown-key").collect();
    assert_eq!(unknown.len(), 2, "{report:#?}");
    assert_eq!(unknown[0].path.as_deref(), Some("gateway.replcas"));
    assert_eq!(
        unknown[0].details,
        Some(json!({ "suggestion": "gateway.replicas" }))
    );
    assert!(
        unknown[0]
            .message
            .contains("did you mean `gateway.replicas`"),
        "{}",
        unknown[0].message
    );
    assert_eq!(unknown[1].details, Some(json!({ "suggestion": "labels" })));
    assert_eq!(unknown[0].file.as_deref(), Some("values.yaml"));
}

pub fn non_standard_type_conflicts() {
    let values = GOOD_VALUES
        .replace(
            "  hosts: [a.example.com, b.example.com]",
            "  hosts: a.example.com",
        )
        .replace("  heapSize: 4g", "  heapSize: { min: 1g }")
        .replace(
            "global:\n  database:",
            "global:\n  database:\n    pool: 5\n  databaseX:\n  db2:",
        );
    let bytes = bundle_zip(&values, &template_files(), &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    let conflicts: Vec<(&str, &serde_json::Value)> = report
        .with_code("values-type-conflict")
        .map(|f| (f.path.as_deref().unwrap(), f.details.as_ref().unwrap()))
        .collect();
    assert_eq!(
        conflicts,
        vec![
            (
                "gateway.hosts",
                &json!({ "found": "scalar", "template": "list" })
            ),
            (
                "metadata.heapSize",
                &json!({ "found": "map", "template": "scalar" })
            ),
        ],
        "{report:#?}"
    );
}

pub fn non_standard_free_form_places_accept_anything() {
    let values = format!(
        "{GOOD_VALUES}  team: data\n  tier:\n    level: 1\n"
    )
    .replace("gateway:\n", "gateway:\n  annotations: { a: 1, b: { c: [1] } }\n  extraEnv: [{ name: X, value: y }]\n  resources:\n    limits: { cpu: 2, memory: 2Gi, gpu: 1 }\n");
    let bytes = bundle_zip(&values, &template_files(), &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    // Nothing is unknown: `annotations` and `labels` are `{}` in the chart, `extraEnv` null, and the keys inside
    // resource limits name any resource. Each place says why it took new keys.
    assert!(report.ok, "{report:#?}");
    let open: Vec<(&str, &serde_json::Value)> = report
        .with_code("values-open-key")
        .map(|f| {
            (
                f.path.as_deref().unwrap(),
                &f.details.as_ref().unwrap()["keys"],
            )
        })
        .collect();
    assert_eq!(
        open,
        [
            ("gateway.annotations", &json!(["a", "b"])),
            ("gateway.resources.limits", &json!(["gpu"])),
            ("labels", &json!(["app.kubernetes.io/name", "team", "tier"])),
        ],
        "{report:#?}"
    );
    // Lists are whole values: a longer list of hosts is compatible.
    assert_eq!(report.with_code("values-type-conflict").count(), 0);
}

pub fn non_standard_many_unknown_keys_are_bounded() {
    // 17,576 near-typos of `gateway` (`gatewayaaa` to `gatewayzzz`, three edits each): every one reported, the
    // first 1,000 with a suggestion and the rest without (each suggestion compares with every sibling, so their
    // number is capped).
    let mut values = GOOD_VALUES.to_string();
    for a in 'a'..='z' {
        for b in 'a'..='z' {
            for c in 'a'..='z' {
                values.push_str(&format!("gateway{a}{b}{c}: 1\n"));
            }
        }
    }
    let bytes = bundle_zip(&values, &template_files(), &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    let unknown: Vec<&Finding> = report.with_code("values-unknown-key").collect();
    assert_eq!(unknown.len(), 17_576);
    let suggested = unknown.iter().filter(|f| f.details.is_some()).count();
    assert_eq!(suggested, 1000);
}

pub fn non_standard_overlays() {
    let overlays = [
        (
            "config/app.yaml",
            "server:\n  port: [8080]\n  newKey: yes\nfeatures:\n  search: false\n",
        ),
        ("config/missing.yaml", "a: 1\n"),
        (
            "templates/gateway.yaml",
            "replicas: {{ .Values.gateway.replicas }}\nhosts: {{ toYaml .Values.gateway.hosts\n",
        ),
        ("templates/notes.txt", "any text"),
    ];
    let bytes = bundle_zip(GOOD_VALUES, &template_files(), &overlays);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    let conflict = only(&report, "overlay-type-conflict");
    assert_eq!(conflict.path.as_deref(), Some("server.port"));
    assert_eq!(conflict.file.as_deref(), Some("overlay/config/app.yaml"));
    let missing: Vec<&str> = report
        .with_code("overlay-target-missing")
        .filter_map(|f| f.file.as_deref())
        .collect();
    assert_eq!(
        missing,
        ["overlay/config/missing.yaml", "overlay/templates/notes.txt"]
    );
    assert!(
        missing
            .iter()
            .all(|file| report.findings.iter().any(|f| f.message.contains(file)))
    );
    let invalid = only(&report, "overlay-invalid");
    assert_eq!(
        invalid.file.as_deref(),
        Some("overlay/templates/gateway.yaml")
    );
    assert_eq!(
        (invalid.line, invalid.column),
        (Some(2), Some(8)),
        "{invalid:#?}"
    );
    assert!(
        invalid
            .message
            .starts_with("overlay/templates/gateway.yaml line"),
        "{}",
        invalid.message
    );
    assert_eq!(
        report.findings.len(),
        6,
        "and two notes, the reference and the open `labels`: {report:#?}"
    );
}

pub fn non_standard_missing_files() {
    let package = zip_package("V5.1.2.04");
    let bytes = Zip::new()
        .file("overlay/config/app.yaml", b"a: 1\n")
        .build();
    let (report, text) = check_non_standard_config(&package, "bundle.zip", &bytes, None, &limits());
    assert!(text.is_none());
    let missing: Vec<&str> = report
        .with_code("bundle-missing-file")
        .filter_map(|f| f.path.as_deref())
        .collect();
    assert_eq!(missing, ["product/dataphin/", "values.yaml"]);
    let (report, _) = check_non_standard_config(
        &package,
        "values.yaml",
        GOOD_VALUES.as_bytes(),
        None,
        &limits(),
    );
    rejected(&report, "zip-invalid", "values.yaml");
}

pub fn non_standard_against_own_template_when_package_is_yaml_only() {
    // The package lists no template at all: the ZIP's own copy is the reference, and the report says so.
    let text = manifest_text("V5.1.2.04", &[], "");
    let (_, package) = check_version_package("version.yaml", text.as_bytes(), &limits());
    let package = package.expect("a package");
    let values = GOOD_VALUES.replace("  replicas: 3", "  replcas: 3");
    let bytes = bundle_zip(&values, &template_files(), &[]);
    let (report, _) = check_non_standard_config(&package, "bundle.zip", &bytes, None, &limits());
    assert_eq!(
        codes(&report),
        [
            "values-unknown-key",
            "template-not-in-package",
            "values-open-key"
        ]
    );
    assert_eq!(report.findings[1].severity, Severity::Info);
    // The package lists MD5s only: the digest is still compared.
    let (report, _) = check_non_standard_config(
        &yaml_package_with("V5.1.2.04", ""),
        "bundle.zip",
        &bytes,
        None,
        &limits(),
    );
    assert_eq!(
        codes(&report),
        [
            "values-unknown-key",
            "template-reference",
            "values-open-key"
        ]
    );
}

pub fn online_difference_lists_paths_and_masks_secrets() {
    let running = "\
global:
  database:
    host: old-db.example.com
    port: 5432
    password: old-s3cr3t
gateway:
  replicas: 3
  hosts: [a.example.com]
  apiToken: abc123
metadata:
  heapSize: 4g
labels:
  app.kubernetes.io/name: dataphin
";
    let bytes = bundle_zip(GOOD_VALUES, &template_files(), &[]);
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        online(running, &running_chart()),
        &limits(),
    );
    assert!(report.ok, "{report:#?}");
    let finding = only(&report, "online-config-differs");
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(
        finding.details,
        Some(json!({
            "changed": [
                { "path": "gateway.hosts", "old": ["a.example.com"], "new": ["a.example.com", "b.example.com"] },
                { "path": "global.database.host", "old": "old-db.example.com", "new": "db.example.com" },
                { "path": "global.database.password", "old": "******", "new": "******" },
            ],
            "added": [],
            "removed": [{ "path": "gateway.apiToken", "old": "******" }],
        }))
    );
    let shown = serde_json::to_string(&report).unwrap();
    for secret in ["old-s3cr3t", "s3cr3t-value", "abc123"] {
        assert!(!shown.contains(secret), "{secret} is masked: {shown}");
    }
    assert!(
        finding.message.contains("global.database.host"),
        "{}",
        finding.message
    );
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        online(GOOD_VALUES, &running_chart()),
        &limits(),
    );
    assert_eq!(
        report.with_code("online-config-differs").count(),
        0,
        "{report:#?}"
    );
}

pub fn online_values_that_do_not_parse_are_a_warning() {
    let bytes = bundle_zip(GOOD_VALUES, &template_files(), &[]);
    let (report, text) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        online("a: [1\n", &running_chart()),
        &limits(),
    );
    assert!(
        report.ok,
        "the running system's file does not block: {report:#?}"
    );
    assert_eq!(text.as_deref(), Some(GOOD_VALUES));
    let finding = only(&report, "yaml-syntax");
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(finding.file.as_deref(), Some("values running now"));
    assert!(finding.message.contains("not shown"), "{}", finding.message);
}

// ---------------------------------------------------------------------------------------------------------------
// Zero-downtime decision.

/// The decision from the version `current` runs to `target`.
fn decide(
    current: &VersionPackage,
    target: &VersionPackage,
) -> Result<ZeroDowntimeDecision, Box<Finding>> {
    zero_downtime(&Running::of(current), &target.version, &target.manifest).map_err(Box::new)
}

pub fn zero_downtime_allowed_within_a_release() {
    let decision = decide(&zip_package("V5.1.2.02"), &zip_package("V5.1.2.04")).expect("newer");
    assert!(decision.allowed);
    assert!(decision.reasons.is_empty());
}

pub fn zero_downtime_reasons_each_reported() {
    let current = zip_package("V5.1.2.02");
    let text = manifest_text("V5.2.0.01", &[], "")
        .replace("[V5.1.2.02, V5.1.2.03]", "[V5.1.2.03]")
        .replace(
            "    replicas: 2\n    rolling: true\n    dependsOn: [metadata]",
            "    replicas: 2\n    rolling: false\n    dependsOn: [metadata]",
        );
    let (_, target) = check_version_package("version.yaml", text.as_bytes(), &limits());
    let decision = decide(&current, &target.expect("a package")).expect("newer");
    assert!(!decision.allowed);
    let reasons: Vec<&str> = decision.reasons.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "zero-downtime-segments-differ",
            "zero-downtime-not-listed",
            "zero-downtime-app-not-rolling"
        ]
    );
    assert!(decision.reasons[2].message.contains("`gateway`"));
    assert!(decision.reasons[1].message.contains("V5.1.2.02"));
}

pub fn zero_downtime_refuses_a_target_not_newer() {
    let finding = decide(&zip_package("V5.1.2.04"), &zip_package("V5.1.2.04")).unwrap_err();
    assert_eq!(finding.code, "target-not-newer");
    assert_eq!(finding.severity, Severity::Error);
    let finding = decide(&zip_package("V5.1.2.10"), &zip_package("V5.1.2.9")).unwrap_err();
    assert_eq!(finding.code, "target-not-newer");
}

/// `rolling: false` blocks a rolling upgrade only for an application that runs now; when only the running
/// version's number is known, every application counts as running (the conservative reading).
pub fn zero_downtime_rolls_only_applications_that_run_now() {
    let text = manifest_text("V5.1.2.04", &[], "").replace(
        "    replicas: 2\n    rolling: true\n    dependsOn: [metadata]",
        "    replicas: 2\n    rolling: false\n    dependsOn: [metadata]",
    );
    let (_, target) = check_version_package("version.yaml", text.as_bytes(), &limits());
    let target = target.expect("a package");
    let decide_from = |applications: Option<&[&str]>| {
        let running = Running {
            version: Version::parse("V5.1.2.02").unwrap(),
            applications: applications.map(|names| names.iter().map(|n| n.to_string()).collect()),
        };
        zero_downtime(&running, &target.version, &target.manifest).expect("newer")
    };
    let gateway_is_new = decide_from(Some(&["metadata"]));
    assert!(gateway_is_new.allowed, "{:?}", gateway_is_new.reasons);
    for runs_gateway in [
        decide_from(Some(&["metadata", "gateway"])),
        decide_from(None),
    ] {
        assert!(!runs_gateway.allowed);
        assert_eq!(runs_gateway.reasons.len(), 1);
        assert_eq!(
            runs_gateway.reasons[0].code,
            "zero-downtime-app-not-rolling"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile ZIPs.

pub fn zip_not_a_zip_or_truncated_is_invalid() {
    assert_zip_rejected(
        b"just some text, not an archive at all",
        &limits(),
        "zip-invalid",
        "not a ZIP",
    );
    assert_zip_rejected(b"", &limits(), "zip-invalid", "not a ZIP");
    let whole = Zip::new()
        .file("values.yaml", GOOD_VALUES.as_bytes())
        .build();
    assert_zip_rejected(
        &whole[..whole.len() - 30],
        &limits(),
        "zip-invalid",
        "truncated",
    );
    assert_zip_rejected(
        &whole[..whole.len() / 2],
        &limits(),
        "zip-invalid",
        "truncated",
    );
    // The directory intact but the data cut short.
    let mut cut = whole.clone();
    let at = cut.len() - 22 - 46 - "values.yaml".len();
    cut.drain(40..at);
    assert_eq!(zip_error(&cut, &limits()).code, "zip-invalid");
}

pub fn zip_bad_crc_and_size_mismatch_are_invalid() {
    let bad_crc = Zip::new()
        .entry(Entry::deflated("values.yaml", GOOD_VALUES.as_bytes()).with_crc(0xDEAD_BEEF))
        .build();
    assert_zip_rejected(&bad_crc, &limits(), "zip-invalid", "CRC");
    let stored_crc = Zip::new()
        .entry(Entry::stored("values.yaml", b"a: 1\n").with_crc(1))
        .build();
    assert_zip_rejected(&stored_crc, &limits(), "zip-invalid", "`values.yaml`");
    let mismatch = Zip::new()
        .entry(Entry::deflated("values.yaml", GOOD_VALUES.as_bytes()).with_declared_len(10))
        .build();
    assert_zip_rejected(&mismatch, &limits(), "zip-invalid", "header says 10");
    let mut corrupt = Entry::deflated("values.yaml", GOOD_VALUES.as_bytes());
    corrupt.written = vec![0xFF; 40];
    assert_zip_rejected(
        &Zip::new().entry(corrupt).build(),
        &limits(),
        "zip-invalid",
        "`values.yaml`",
    );
}

pub fn zip_encrypted_entry_is_refused() {
    let bytes = Zip::new()
        .entry(Entry::stored("values.yaml", b"a: 1\n").encrypted())
        .build();
    assert_zip_rejected(&bytes, &limits(), "zip-encrypted", "`values.yaml`");
}

pub fn zip_unsupported_compression_is_refused() {
    let bytes = Zip::new()
        .entry(Entry::stored("values.yaml", b"BZh91AY&SY").with_method(12))
        .build();
    assert_zip_rejected(&bytes, &limits(), "zip-unsupported-compression", "bzip2");
}

pub fn zip_duplicate_entry_is_refused() {
    let bytes = Zip::new()
        .file("values.yaml", b"a: 1\n")
        .file("values.yaml", b"a: 2\n")
        .build();
    assert_zip_rejected(&bytes, &limits(), "zip-duplicate-entry", "`values.yaml`");
    // The same path once with `\`: the same file after normalisation.
    let bytes = Zip::new()
        .file("overlay/a.yaml", b"a: 1\n")
        .file("overlay\\a.yaml", b"a: 2\n")
        .build();
    assert_zip_rejected(&bytes, &limits(), "zip-duplicate-entry", "overlay/a.yaml");
    // And once as `./values.yaml`.
    let bytes = Zip::new()
        .file("values.yaml", b"a: 1\n")
        .file("./values.yaml", b"a: 2\n")
        .build();
    assert_zip_rejected(&bytes, &limits(), "zip-duplicate-entry", "`values.yaml`");
}

pub fn zip_unsafe_entries_are_refused() {
    for (name, why) in [
        ("/etc/passwd", "absolute"),
        ("C:/Windows/win.ini", "drive letter"),
        ("c:evil", "drive letter"),
        ("overlay/../../etc/cron.d/x", ".."),
        ("overlay\\..\\..\\x", ".."),
        ("..", ".."),
    ] {
        let bytes = Zip::new().file(name, b"x").build();
        assert_zip_rejected(&bytes, &limits(), "zip-unsafe-entry", why);
    }
    let bytes = Zip::new()
        .entry(Entry::stored("values.yaml", b"/etc/shadow").symlink())
        .build();
    assert_zip_rejected(&bytes, &limits(), "zip-unsafe-entry", "symbolic link");
}

pub fn zip_overlapping_entry_bomb_is_caught_before_inflating() {
    // 200 files over a 1 MiB kernel: about 200 MiB inflated from a few kilobytes, within every size limit.
    let bomb = overlapping_zip_bomb(200, 1 << 20);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let finding = zip_error(&bomb, &limits());
    assert_eq!(finding.code, "zip-overlapping-entries", "{finding:#?}");
    assert!(
        finding.message.contains("upload.zip") && finding.message.contains("0000.bin"),
        "{}",
        finding.message
    );
    // Even with limits high enough for its declared sizes.
    let generous = Limits {
        max_zip_inflated_bytes: u64::MAX,
        max_zip_entry_bytes: u64::MAX,
        ..limits()
    };
    assert_eq!(zip_error(&bomb, &generous).code, "zip-overlapping-entries");
    // All central entries pointing at one local header: the "full overlap" variant.
    let entry = Entry::deflated("a.bin", &vec![0u8; 1 << 20]);
    let mut bytes = Zip::local_header(&entry, false);
    bytes.extend_from_slice(&entry.written);
    let start = bytes.len() as u64;
    for name in ["a.bin", "b.bin", "c.bin"] {
        let same = Entry {
            name: name.into(),
            ..entry.clone()
        };
        bytes.extend(Zip::central_header(&same, 0, false));
    }
    let len = bytes.len() as u64 - start;
    bytes.extend(Zip::end_records(3, start, len, false));
    let finding = zip_error(&bytes, &limits());
    assert!(
        finding.code == "zip-overlapping-entries" || finding.code == "zip-invalid",
        "{finding:#?}"
    );
}

pub fn zip_too_many_entries() {
    let mut zip = Zip::new();
    for i in 0..11 {
        zip = zip.file(&format!("f{i}.txt"), b"x");
    }
    let few = Limits {
        max_zip_entries: 10,
        ..limits()
    };
    assert_zip_rejected(&zip.build(), &few, "zip-too-large", "11 entries");
}

pub fn zip_lying_header_is_caught_while_inflating() {
    // 8 MiB of zeros declared as 100 bytes, against a 1 MiB per-entry limit: refused at the limit, not at 8 MiB.
    let entry = Entry::deflated("values.yaml", &vec![0u8; 8 << 20]).with_declared_len(100);
    let small = Limits {
        max_zip_entry_bytes: 1 << 20,
        ..limits()
    };
    assert_zip_rejected(
        &Zip::new().entry(entry).build(),
        &small,
        "zip-too-large",
        "`values.yaml`",
    );
    // An honest header over the limit is refused before inflating.
    let honest = Entry::deflated("big.bin", &vec![0u8; 2 << 20]);
    assert_zip_rejected(
        &Zip::new().entry(honest).build(),
        &small,
        "zip-too-large",
        "`big.bin`",
    );
}

pub fn zip_total_inflated_is_bounded() {
    // Honest entries within the total, then one that lies: refused when the total passes the limit mid-entry.
    let mut zip = Zip::new();
    for i in 0..2 {
        zip = zip.file(&format!("f{i}.bin"), &vec![0u8; 1 << 20]);
    }
    zip = zip.entry(Entry::deflated("liar.bin", &vec![0u8; 4 << 20]).with_declared_len(1));
    let small = Limits {
        max_zip_inflated_bytes: 3 << 20,
        ..limits()
    };
    assert_zip_rejected(&zip.build(), &small, "zip-too-large", "in total");
    // Honest entries whose sizes add up to more: refused before inflating.
    let mut zip = Zip::new();
    for i in 0..4 {
        zip = zip.file(&format!("f{i}.bin"), &vec![0u8; 1 << 20]);
    }
    assert_zip_rejected(&zip.build(), &small, "zip-too-large", "in total");
}

pub fn zip_upload_size_is_bounded() {
    let bytes = Zip::new()
        .file("values.yaml", GOOD_VALUES.as_bytes())
        .build();
    let tiny = Limits {
        max_upload_bytes: 100,
        ..limits()
    };
    assert_zip_rejected(&bytes, &tiny, "zip-too-large", "upload");
}

pub fn zip_ignores_macos_files_and_directories() {
    let bytes = Zip::new()
        .entry(Entry::stored("product/", b""))
        .entry(Entry::stored("product/dataphin/", b""))
        .file("values.yaml", GOOD_VALUES.as_bytes())
        .file("__MACOSX/._values.yaml", b"\x00\x05\x16\x07resource fork")
        .file(".DS_Store", b"Bud1")
        .file("product/.DS_Store", b"Bud1")
        .entry(Entry::stored("./", b""))
        .file("./product//dataphin/./Chart.yaml", b"name: x\n")
        .build();
    let bundle = ZipScan::open("config.zip", &bytes, &limits())
        .and_then(ZipScan::finish)
        .expect("a bundle");
    assert_eq!(
        bundle.entries.keys().collect::<Vec<_>>(),
        ["product/dataphin/Chart.yaml", "values.yaml"]
    );
    let (report, _) =
        check_standard_config(&zip_package("V5.1.2.04"), "config.zip", &bytes, &limits());
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
}

pub fn zip64_and_data_descriptors_are_read() {
    let files = template_files();
    let manifest = manifest_text("V5.1.2.04", &files, "");
    let mut zip = Zip::new()
        .zip64()
        .entry(Entry::deflated("version.yaml", manifest.as_bytes()).with_descriptor());
    for (path, bytes) in &files {
        zip =
            zip.entry(Entry::stored(&format!("product/dataphin/{path}"), bytes).with_descriptor());
    }
    let (report, package) = check_version_package("package.zip", &zip.build(), &limits());
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
    assert_eq!(
        package.unwrap().template_digest(),
        zip_package("V5.1.2.04").template_digest()
    );
    let mut plain =
        Zip::new().entry(Entry::deflated("version.yaml", manifest.as_bytes()).with_descriptor());
    for (path, bytes) in &files {
        plain = plain
            .entry(Entry::deflated(&format!("product/dataphin/{path}"), bytes).with_descriptor());
    }
    let (report, _) = check_version_package("package.zip", &plain.build(), &limits());
    assert!(report.ok, "{report:#?}");
}

pub fn zip_scan_in_slices_gives_the_same_bundle() {
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i % 251) as u8 ^ (i / 7919) as u8)
        .collect();
    let bytes = Zip::new()
        .file("values.yaml", GOOD_VALUES.as_bytes())
        .file("product/dataphin/big.bin", &big)
        .entry(Entry::stored("product/dataphin/raw.bin", &big[..500_000]))
        .build();
    let whole: Bundle = ZipScan::open("bundle.zip", &bytes, &limits())
        .and_then(ZipScan::finish)
        .expect("a bundle");
    let mut scan = ZipScan::open("bundle.zip", &bytes, &limits()).expect("opens");
    let mut steps = 0;
    let mut last = 0;
    loop {
        let progress = scan.step(64 * 1024).expect("a step");
        assert!(
            progress.done_bytes >= last && progress.done_bytes <= progress.total_bytes,
            "{progress:?}"
        );
        last = progress.done_bytes;
        steps += 1;
        if progress.finished {
            assert_eq!(progress.done_bytes, progress.total_bytes);
            break;
        }
    }
    assert!(steps > 10, "{steps} steps");
    let sliced = scan.finish().expect("a bundle");
    assert_eq!(sliced, whole);
    assert_eq!(sliced.get("product/dataphin/big.bin").unwrap().bytes, big);
    assert_eq!(
        sliced.get("product/dataphin/big.bin").unwrap().md5_hex(),
        md5_hex(&big)
    );
    let (report, _) = check_standard_bundle(&zip_package("V5.1.2.04"), sliced, &limits());
    assert!(report.ok, "{report:#?}");
    let (report, _) = check_version_package_bundle(whole, &limits());
    assert_eq!(codes(&report), ["bundle-missing-file"]);
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile YAML.

fn yaml_rejected(text: &[u8], code: &str) -> Finding {
    let (report, text_back) =
        check_standard_config(&zip_package("V5.1.2.04"), "values.yaml", text, &limits());
    assert!(text_back.is_none());
    rejected(&report, code, "values.yaml").clone()
}

pub fn yaml_billion_laughs_fails_fast() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    yaml_rejected(text.as_bytes(), "yaml-too-complex");
    // The same inside a version package.
    let (report, _) = check_version_package("version.yaml", text.as_bytes(), &limits());
    rejected(&report, "yaml-too-complex", "version.yaml");
}

pub fn yaml_wide_alias_expansion_is_bounded() {
    // One anchor of 100,000 items used 100 times: few alias jumps, ten million nodes.
    let items = vec!["x"; 100_000].join(",");
    let mut text = format!("a: &a [{items}]\n");
    for i in 0..100 {
        text.push_str(&format!("k{i}: *a\n"));
    }
    let finding = yaml_rejected(text.as_bytes(), "yaml-too-complex");
    assert!(finding.message.contains("aliases"), "{}", finding.message);
}

pub fn yaml_large_documents_without_aliases_pass() {
    // The densest YAML there is (a null per two bytes, a key and a null per few bytes) stays within the expansion
    // bound: only aliases reach it.
    let mut text = format!("a: [{}]\n", vec!["~"; 500_000].join(","));
    let keys: Vec<String> = (0..100_000).map(|i| format!("k{i}")).collect();
    text.push_str(&format!("b: {{{}}}\n", keys.join(",")));
    let value =
        shared::yaml::parse_mapping("values.yaml", text.as_bytes(), &limits()).expect("parses");
    let b = value
        .get(&KeyPath::parse("b").unwrap())
        .and_then(|b| b.as_map())
        .expect("a map");
    assert_eq!(b.len(), 100_000);
}

pub fn yaml_deep_nesting_is_too_complex() {
    let deep = format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    yaml_rejected(deep.as_bytes(), "yaml-too-complex");
    // 128 levels (the root mapping is one) are fine, 129 are not.
    let at_limit = format!("a: {}1{}\n", "[".repeat(127), "]".repeat(127));
    let (report, _) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "values.yaml",
        at_limit.as_bytes(),
        &limits(),
    );
    assert!(
        report.with_code("yaml-too-complex").next().is_none(),
        "{report:#?}"
    );
    let over = format!("a: {}1{}\n", "[".repeat(128), "]".repeat(128));
    yaml_rejected(over.as_bytes(), "yaml-too-complex");
    let lower = Limits {
        max_yaml_depth: 3,
        ..limits()
    };
    let (report, _) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "values.yaml",
        b"a: {b: {c: {d: 1}}}\n",
        &lower,
    );
    rejected(&report, "yaml-too-complex", "values.yaml");
}

pub fn yaml_syntax_error_has_line_and_column() {
    let finding = yaml_rejected(
        b"global:\n  database:\n    host: [unclosed\n  port: 1\n",
        "yaml-syntax",
    );
    assert!(
        finding.line.is_some() && finding.column.is_some(),
        "{finding:#?}"
    );
    assert!(
        finding.message.starts_with("values.yaml line"),
        "{}",
        finding.message
    );
    let finding = yaml_rejected(b"a: 1\n b: 2\n", "yaml-syntax");
    assert_eq!(finding.line, Some(2), "{finding:#?}");
}

pub fn yaml_duplicate_key_has_line() {
    let finding = yaml_rejected(
        b"gateway:\n  replicas: 1\n  hosts: []\n  replicas: 2\n",
        "yaml-duplicate-key",
    );
    assert_eq!(finding.line, Some(4), "{finding:#?}");
    assert!(
        finding.message.contains("`replicas`"),
        "{}",
        finding.message
    );
}

pub fn yaml_root_must_be_a_mapping() {
    yaml_rejected(b"- a\n- b\n", "yaml-not-mapping");
    yaml_rejected(b"just text\n", "yaml-not-mapping");
}

/// Windows editors write a byte-order mark; YAML does not read it as content (issue 11, point 1).
pub fn yaml_byte_order_mark_is_not_content() {
    let package = zip_package("V5.1.2.04");
    let with_bom = format!("\u{feff}{GOOD_VALUES}");
    let (report, text) =
        check_standard_config(&package, "values.yaml", with_bom.as_bytes(), &limits());
    assert!(report.ok && report.findings.is_empty(), "{report:#?}");
    assert_eq!(
        text.as_deref(),
        Some(with_bom.as_str()),
        "the operator's bytes, unchanged"
    );
    let manifest = format!(
        "\u{feff}{}",
        manifest_text("V5.1.2.04", &template_files(), "")
    );
    let (report, package) = check_version_package("version.yaml", manifest.as_bytes(), &limits());
    assert!(report.ok, "{report:#?}");
    let package = package.expect("a package");
    let bytes = bundle_zip(&with_bom, &template_files(), &[]);
    let running = format!("\u{feff}{GOOD_VALUES}");
    let (report, _) = check_non_standard_config(
        &zip_package("V5.1.2.04"),
        "bundle.zip",
        &bytes,
        online(&running, &running_chart()),
        &limits(),
    );
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.with_code("online-config-differs").count(), 0);
    assert_eq!(package.version.to_string(), "V5.1.2.04");
    // A syntax error after the mark is still placed on the line an editor shows.
    let finding = yaml_rejected("\u{feff}a: 1\nb: [\n".as_bytes(), "yaml-syntax");
    assert!(finding.line.is_some(), "{finding:#?}");
}

/// Helm accepts an empty or comment-only values.yaml: no overrides (issue 11, point 4).
pub fn empty_or_comment_only_values_are_an_empty_mapping() {
    let package = zip_package("V5.1.2.04");
    for text in [
        "",
        "# only a comment\n",
        "\u{feff}# overrides go here\n---\n",
    ] {
        let (report, back) =
            check_standard_config(&package, "values.yaml", text.as_bytes(), &limits());
        assert_eq!(back.as_deref(), Some(text));
        let missing: Vec<&str> = report
            .with_code("missing-config-item")
            .filter_map(|f| f.path.as_deref())
            .collect();
        assert_eq!(
            missing.len(),
            6,
            "every item is missing for {text:?}: {report:#?}"
        );
        assert_eq!(report.findings.len(), 6, "{report:#?}");
        let bytes = bundle_zip(text, &template_files(), &[]);
        let (report, _) =
            check_non_standard_config(&package, "bundle.zip", &bytes, None, &limits());
        assert!(report.ok, "no overrides are compatible: {report:#?}");
    }
}

pub fn yaml_not_utf8_is_reported() {
    let finding = yaml_rejected(b"a: 1\nb: caf\xe9\n", "yaml-not-utf8");
    assert_eq!((finding.line, finding.column), (Some(2), Some(7)));
    let utf16: Vec<u8> = "\u{feff}a: 1\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    yaml_rejected(&utf16, "yaml-not-utf8");
}

pub fn yaml_too_large_is_too_complex() {
    let small = Limits {
        max_yaml_bytes: 1000,
        ..limits()
    };
    let text = format!("a: \"{}\"\n", "x".repeat(2000));
    let (report, _) = check_standard_config(
        &zip_package("V5.1.2.04"),
        "values.yaml",
        text.as_bytes(),
        &small,
    );
    let finding = rejected(&report, "yaml-too-complex", "values.yaml");
    assert!(finding.message.contains("1000"), "{}", finding.message);
}
