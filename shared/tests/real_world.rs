//! The shared checks on real-world input: ZIPs written by Info-ZIP `zip`, Python's `zipfile`, 7-Zip, streamed
//! with data descriptors, ZIP64, and a macOS Finder-style layout; values files shaped like public Helm charts
//! (anchors, merge keys, multi-line strings, comments, quoted keys). `tests/fixtures/real-world/make.sh` writes
//! the fixtures with those tools.
//!
//! Each test asserts what an operator would check: the report is ok, the template digest is what `md5sum` gives
//! on the extracted files, Finder's junk is ignored, and the configuration items are found where the file puts
//! them.
//!
//! The same tests run in headless Chromium (`cargo test -p shared --target wasm32-unknown-unknown` with
//! wasm-bindgen-test-runner), with the fixtures embedded: there the digest is compared with the manifest's, which
//! the native run compares with `md5sum`'s.

use serde_json::Value as Json;
use shared::keypath::KeyPath;
use shared::limits::Limits;
use shared::nonstandard::{Online, RunningChart, check_non_standard_config};
use shared::package::{VersionPackage, check_version_package};
use shared::report::{Finding, Report, Severity};
use shared::standard::check_standard_config;
use shared::yaml::{self, Value};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The fixtures, embedded so that the browser run has them too.
macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        fn fixture(name: &str) -> Vec<u8> {
            match name {
                $($name => include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/real-world/", $name))
                    .to_vec(),)*
                _ => panic!("{name}: not a real-world fixture"),
            }
        }
    };
}

fixtures!(
    "version.yaml",
    "online-values.yaml",
    "package-infozip.zip",
    "package-infozip-streamed.zip",
    "package-infozip-zip64.zip",
    "package-python-deflate.zip",
    "package-python-stored.zip",
    "package-python-zip64.zip",
    "package-7z.zip",
    "package-macos-finder.zip",
    "bundle-infozip.zip",
    "bundle-7z.zip",
    "bundle-python-streamed.zip",
    "bundle-macos-finder.zip",
    "bundle-template-edited.zip",
    "standard-infozip.zip",
    "src/bundle/values.yaml",
    "src/template/values.yaml",
    "src/values/ingress-controller.yaml",
    "src/values/monitoring-stack.yaml",
);

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn codes(report: &Report) -> Vec<&str> {
    report
        .findings
        .iter()
        .map(|finding| finding.code.as_str())
        .collect()
}

fn findings_with<'a>(report: &'a Report, code: &str) -> Vec<&'a Finding> {
    report
        .findings
        .iter()
        .filter(|finding| finding.code == code)
        .collect()
}

/// The version package as its YAML manifest alone (template MD5s, no files).
fn yaml_package() -> VersionPackage {
    let (report, package) =
        check_version_package("version.yaml", &fixture("version.yaml"), &Limits::default());
    assert!(report.ok, "version.yaml: {:#?}", report.findings);
    package.expect("a valid version.yaml gives a package")
}

/// The version package as Info-ZIP wrote it (manifest and template files).
fn zip_package() -> VersionPackage {
    let (report, package) = check_version_package(
        "package-infozip.zip",
        &fixture("package-infozip.zip"),
        &Limits::default(),
    );
    assert!(report.ok, "package-infozip.zip: {:#?}", report.findings);
    package.expect("a valid package gives a package")
}

#[cfg(not(target_arch = "wasm32"))]
mod tools {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A temporary folder removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(label: &str) -> Scratch {
            // Tests run as threads of one process under `cargo test`: the counter keeps their folders apart.
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("real-world-{label}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// What an operator computes with standard tools: extract with `unzip`, then
    /// `cd product/dataphin && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum | md5sum`.
    /// `find_filter` narrows `find` (e.g. `! -name .DS_Store`). A missing `unzip` fails the test (scripts/setup.sh
    /// installs it): the comparison with the standard tools is never skipped.
    pub fn md5sum_digest(zip: &str, find_filter: &str) -> Option<String> {
        let scratch = Scratch::new(zip);
        let extracted = Command::new("unzip")
            .args(["-q", "-o", "-d"])
            .arg(&scratch.0)
            .arg(fixtures().join(zip))
            .status()
            .unwrap_or_else(|err| {
                panic!("running unzip on {zip} (scripts/setup.sh installs it): {err}")
            });
        assert!(extracted.success(), "unzip could not extract {zip}");
        let pipeline = format!(
            "cd \"$1\"/product/dataphin && find . -type f {find_filter} | sed 's|^\\./||' | LC_ALL=C sort \
             | xargs md5sum | md5sum"
        );
        let output = Command::new("sh")
            .args(["-c", &pipeline, "sh"])
            .arg(&scratch.0)
            .output()
            .unwrap_or_else(|err| panic!("running md5sum on {zip}: {err}"));
        assert!(
            output.status.success(),
            "{zip}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        Some(
            text.split_whitespace()
                .next()
                .expect("md5sum prints a digest")
                .to_string(),
        )
    }

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-world")
    }
}

#[cfg(not(target_arch = "wasm32"))]
use tools::md5sum_digest;

/// In the browser there is no `unzip`: the digest is held to the manifest's instead (see the crate docs).
#[cfg(target_arch = "wasm32")]
fn md5sum_digest(_zip: &str, _find_filter: &str) -> Option<String> {
    None
}

fn assert_package_passes(zip: &str, find_filter: &str) -> VersionPackage {
    let (report, package) = check_version_package(zip, &fixture(zip), &Limits::default());
    assert!(report.ok, "{zip}: {:#?}", report.findings);
    assert!(report.findings.is_empty(), "{zip}: {:#?}", report.findings);
    let package = package.unwrap_or_else(|| panic!("{zip}: an ok report gives a package"));
    assert_eq!(package.manifest.version, "V5.1.2.04", "{zip}");
    let apps: Vec<&str> = package
        .manifest
        .applications
        .iter()
        .map(|app| app.name.as_str())
        .collect();
    assert_eq!(
        apps,
        ["metadata", "scheduler", "gateway", "console"],
        "{zip}"
    );
    let digest = report
        .template_digest
        .clone()
        .unwrap_or_else(|| panic!("{zip}: the report shows the digest"));
    // The same template as the manifest lists, whichever tool zipped it.
    assert_eq!(
        Some(digest.as_str()),
        yaml_package()
            .template_digest()
            .as_ref()
            .map(|d| d.0.as_str()),
        "{zip}"
    );
    if let Some(expected) = md5sum_digest(zip, find_filter) {
        assert_eq!(digest, expected, "{zip}: the digest differs from md5sum's");
    }
    package
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_zipped_by_info_zip() {
    assert_package_passes("package-infozip.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_streamed_by_info_zip_with_data_descriptors() {
    assert_package_passes("package-infozip-streamed.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_zip64_by_info_zip() {
    assert_package_passes("package-infozip-zip64.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_deflated_by_python_zipfile_without_directory_entries() {
    assert_package_passes("package-python-deflate.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_stored_by_python_zipfile() {
    assert_package_passes("package-python-stored.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_zip64_by_python_zipfile() {
    assert_package_passes("package-python-zip64.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_zipped_by_7zip() {
    assert_package_passes("package-7z.zip", "");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn package_from_macos_finder_ignores_macosx_and_ds_store() {
    // md5sum sees the .DS_Store files unzip extracts; an operator leaves them out as the check does.
    let package = assert_package_passes("package-macos-finder.zip", "! -name .DS_Store");
    let template = package
        .template
        .expect("a ZIP package carries its template");
    let listed: Vec<&String> = template.files.keys().collect();
    let manifest_files = yaml_package()
        .template
        .expect("version.yaml lists template files")
        .files;
    assert_eq!(listed, manifest_files.keys().collect::<Vec<_>>());
    assert!(
        listed
            .iter()
            .all(|path| !path.contains(".DS_Store") && !path.contains("._")),
        "{listed:?}"
    );
}

fn assert_bundle_passes(zip: &str, package: &VersionPackage, find_filter: &str) {
    let (report, values) =
        check_non_standard_config(package, zip, &fixture(zip), None, &Limits::default());
    assert!(report.ok, "{zip}: {:#?}", report.findings);
    // Only notes: which template was the reference, and the open places (`{}`, null) that took new keys.
    assert!(
        report.findings.iter().all(|f| f.severity == Severity::Info),
        "{zip}: same template, compatible values, no online values: {:#?}",
        report.findings
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.code == "values-open-key"
                && f.path.as_deref() == Some("gateway.nodeSelector")),
        "{zip}: {:#?}",
        report.findings
    );
    assert_eq!(
        values.as_deref(),
        Some(fixture_text("src/bundle/values.yaml").as_str()),
        "{zip}: values.yaml as uploaded"
    );
    let digest = report
        .template_digest
        .unwrap_or_else(|| panic!("{zip}: the report shows the digest"));
    if let Some(expected) = md5sum_digest(zip, find_filter) {
        assert_eq!(digest, expected, "{zip}: the digest differs from md5sum's");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn bundles_from_every_tool_pass_against_the_yaml_package() {
    let package = yaml_package();
    for zip in [
        "bundle-infozip.zip",
        "bundle-7z.zip",
        "bundle-python-streamed.zip",
    ] {
        assert_bundle_passes(zip, &package, "");
    }
    assert_bundle_passes("bundle-macos-finder.zip", &package, "! -name .DS_Store");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn bundles_from_every_tool_pass_against_the_official_template() {
    // A ZIP package carries the template's values.yaml: compatibility is checked against it.
    let package = zip_package();
    for zip in [
        "bundle-infozip.zip",
        "bundle-7z.zip",
        "bundle-python-streamed.zip",
    ] {
        assert_bundle_passes(zip, &package, "");
    }
    assert_bundle_passes("bundle-macos-finder.zip", &package, "! -name .DS_Store");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn edited_template_needs_confirmation_and_lists_the_files() {
    let zip = "bundle-template-edited.zip";
    let (report, _) =
        check_non_standard_config(&zip_package(), zip, &fixture(zip), None, &Limits::default());
    assert!(
        report.ok,
        "a template change is a warning, not an error: {:#?}",
        report.findings
    );
    let mismatches = findings_with(&report, "template-md5-mismatch");
    assert_eq!(mismatches.len(), 1, "{:#?}", report.findings);
    let mismatch = mismatches[0];
    assert_eq!(mismatch.severity, Severity::Warning);
    assert!(mismatch.needs_confirmation);
    let details = mismatch
        .details
        .clone()
        .expect("the changed files are listed");
    assert_eq!(details["changed"], serde_json::json!(["values.yaml"]));
    assert_eq!(
        details["added"],
        serde_json::json!(["templates/site-secret.yaml"])
    );
    assert_eq!(details["missing"], serde_json::json!([]));
    let digest = report
        .template_digest
        .expect("the report shows the bundle's digest");
    assert_ne!(
        Some(digest.clone()),
        yaml_package().template_digest().map(|d| d.0)
    );
    if let Some(expected) = md5sum_digest(zip, "") {
        assert_eq!(digest, expected);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn online_difference_lists_changes_and_masks_the_database_password() {
    let zip = "bundle-infozip.zip";
    let online = fixture_text("online-values.yaml");
    let (report, _) = check_non_standard_config(
        &zip_package(),
        zip,
        &fixture(zip),
        Some(Online {
            values: &online,
            chart: &RunningChart::of(zip_package()),
        }),
        &Limits::default(),
    );
    assert!(report.ok, "{:#?}", report.findings);
    let shown_codes: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| f.code.as_str())
        .collect();
    assert_eq!(
        shown_codes,
        ["online-config-differs"],
        "{:#?}",
        report.findings
    );
    let finding = &report.findings[0];
    assert_eq!(finding.severity, Severity::Warning);
    let shown = serde_json::to_string(&report).expect("a report serialises");
    for path in [
        "global.database.host",
        "gateway.replicaCount",
        "gateway.hosts",
        "metadata.heapSize",
    ] {
        assert!(shown.contains(path), "the difference names {path}: {shown}");
    }
    assert!(
        shown.contains("pg-prod-old.db.hz.example.internal"),
        "old values are shown: {shown}"
    );
    assert!(
        !shown.contains("s3cr3t-from-vault"),
        "the password is masked: {shown}"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn standard_config_finds_quoted_keys_list_indices_aliases_and_merge_keys() {
    let package = yaml_package();
    let limits = Limits::default();
    assert!(package.manifest.config_items.len() >= 15);
    for (name, bytes) in [
        ("standard-infozip.zip", fixture("standard-infozip.zip")),
        ("values.yaml", fixture("src/bundle/values.yaml")),
        ("chart-defaults.yaml", fixture("src/template/values.yaml")),
    ] {
        let (report, values) = check_standard_config(&package, name, &bytes, &limits);
        assert!(report.ok, "{name}: {:#?}", report.findings);
        assert!(report.findings.is_empty(), "{name}: {:#?}", report.findings);
        assert!(values.is_some(), "{name}: the values to run with");
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn standard_config_reports_the_items_it_cannot_find() {
    let site = fixture_text("src/bundle/values.yaml");
    let broken = site
        .replace("    \"app.kubernetes.io/part-of\": dataphin\n", "")
        .replace(
            "  hosts:\n    - dataphin.hz.example.com\n    - api.dataphin.hz.example.com\n",
            "  hosts: []\n",
        )
        .replace(
            "      <<: *sitePool\n      maxActive: 96\n",
            "      maxActive: 96\n",
        )
        .replace(
            "  heapSize: 6g\n  jvmOptions: >-\n",
            "  heapSize: 6g\n  jvmOptions: 4\n  jvmOptionsWere: >-\n",
        );
    assert_ne!(broken, site);
    let (report, _) = check_standard_config(
        &yaml_package(),
        "values.yaml",
        broken.as_bytes(),
        &Limits::default(),
    );
    assert!(!report.ok);
    let missing: Vec<&str> = findings_with(&report, "missing-config-item")
        .iter()
        .filter_map(|finding| finding.path.as_deref())
        .collect();
    assert_eq!(
        missing,
        [
            "global.commonLabels[\"app.kubernetes.io/part-of\"]",
            "gateway.hosts[0]",
            "metadata.database.pool.minIdle"
        ],
        "{:#?}",
        report.findings
    );
    let wrong_type = findings_with(&report, "config-item-type");
    assert_eq!(wrong_type.len(), 1, "{:#?}", report.findings);
    assert_eq!(wrong_type[0].path.as_deref(), Some("metadata.jvmOptions"));
    assert_eq!(wrong_type[0].file.as_deref(), Some("values.yaml"));
}

/// A manifest for a chart-shaped values file whose `configItems` are these `(key path, type)` pairs.
fn manifest_with_items(items: &[(&str, &str)]) -> VersionPackage {
    let mut text = String::from(
        "version: V1.0.0.01\nproduct: charts\napplications:\n  - name: app\n    replicas: 1\n    rolling: true\n    \
         readiness: { path: /healthz, timeoutSeconds: 5 }\nconfigItems:\n",
    );
    for (key, item_type) in items {
        // Single-quoted, as a manifest author writes a key path holding `[`, `]` or `"`.
        text.push_str(&format!(
            "  - key: '{}'\n    type: {item_type}\n",
            key.replace('\'', "''")
        ));
    }
    let (report, package) =
        check_version_package("version.yaml", text.as_bytes(), &Limits::default());
    assert!(report.ok, "{text}\n{:#?}", report.findings);
    package.expect("a valid manifest")
}

fn value_at<'a>(values: &'a Value, path: &str) -> &'a Value {
    let key_path = KeyPath::parse(path).unwrap_or_else(|err| panic!("{path}: {err:?}"));
    values
        .get(&key_path)
        .unwrap_or_else(|| panic!("{path} is not in the file"))
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn ingress_controller_values_resolve_merge_keys_and_quoted_keys() {
    let name = "src/values/ingress-controller.yaml";
    let bytes = fixture(name);
    let package = manifest_with_items(&[
        ("controller.image.registry", "string"),
        ("controller.image.runAsUser", "integer"),
        ("controller.image.tag", "string"),
        ("defaultBackend.image.seccompProfile.type", "string"),
        ("controller.readinessProbe.httpGet.path", "string"),
        ("controller.readinessProbe.failureThreshold", "integer"),
        ("controller.config.log-format-upstream", "string"),
        ("controller.config.http-snippet", "string"),
        ("controller.addHeaders.Strict-Transport-Security", "string"),
        (
            r#"controller.service.annotations["service.beta.kubernetes.io/aws-load-balancer-type"]"#,
            "string",
        ),
        (
            "controller.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchExpressions[1].values[0]",
            "string",
        ),
        (
            "controller.metrics.serviceMonitor.metricRelabelings[0].sourceLabels",
            "list",
        ),
        ("controller.service.loadBalancerSourceRanges", "list"),
        ("controller.hostPort.enabled", "boolean"),
        ("tcp.5432", "string"),
        ("commonLabels", "map"),
    ]);
    let (report, _) = check_standard_config(&package, "values.yaml", &bytes, &Limits::default());
    assert!(report.ok, "{:#?}", report.findings);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);

    let values =
        yaml::parse_mapping("values.yaml", &bytes, &Limits::default()).expect("the file parses");
    // `<<: *imageDefaults` then own keys: the own keys win, the rest comes from the anchor.
    assert_eq!(
        value_at(&values, "defaultBackend.image.runAsUser"),
        &Value::Integer(65534)
    );
    assert_eq!(
        value_at(&values, "controller.image.runAsUser"),
        &Value::Integer(101)
    );
    assert_eq!(
        value_at(&values, "controller.readinessProbe.failureThreshold"),
        &Value::Integer(3)
    );
    assert_eq!(
        value_at(&values, "controller.livenessProbe.failureThreshold"),
        &Value::Integer(5)
    );
    assert_eq!(
        value_at(&values, "tcp.5432"),
        &Value::String("data/pg-primary:5432".into())
    );
    let Value::String(snippet) = value_at(&values, "controller.config.http-snippet") else {
        panic!("a string")
    };
    assert!(
        snippet.starts_with("map $http_upgrade $connection_upgrade {\n")
            && snippet.ends_with("}\n"),
        "{snippet:?}"
    );
    let Value::String(folded) = value_at(&values, "controller.config.log-format-upstream") else {
        panic!("a string")
    };
    assert!(
        !folded.contains('\n') && folded.contains("\"status\": $status"),
        "folded to one line: {folded:?}"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn monitoring_stack_values_resolve_aliases_and_report_nulls_as_missing() {
    let name = "src/values/monitoring-stack.yaml";
    let bytes = fixture(name);
    let package = manifest_with_items(&[
        (
            r#"grafana["grafana.ini"]["auth.generic_oauth"].role_attribute_path"#,
            "string",
        ),
        ("kube-state-metrics.prometheus.monitor.interval", "string"),
        (
            r#"kube-state-metrics.nodeSelector["node.example.com/pool"]"#,
            "string",
        ),
        ("prometheusOperator.tolerations[0].key", "string"),
        (
            "kubelet.serviceMonitor.cAdvisorMetricRelabelings[2].regex",
            "string",
        ),
        (
            "alertmanager.config.receivers[2].webhook_configs[0].http_config.authorization.credentials",
            "string",
        ),
        (
            "prometheus.prometheusSpec.remoteWrite[0].queueConfig.maxShards",
            "integer",
        ),
        ("defaultRules.disabled.InfoInhibitor", "boolean"),
        ("grafana.dashboards.dataphin.overview.json", "string"),
        (
            "additionalPrometheusRulesMap.dataphin-slo.groups[0].rules[1].for",
            "string",
        ),
        (
            "kubeApiServer.serviceMonitor.metricRelabelings[0].action",
            "string",
        ),
        (r#"alertmanager.templateFiles["mail.tmpl"]"#, "string"),
        ("prometheus.prometheusSpec.externalLabels", "map"),
        ("kubeControllerManager.service.port", "integer"),
        ("alertmanager.serviceMonitor.proxyUrl", "string"),
        ("prometheus.serviceMonitor.bearerTokenFile", "string"),
    ]);
    let (report, _) = check_standard_config(&package, "values.yaml", &bytes, &Limits::default());
    let missing: Vec<&str> = findings_with(&report, "missing-config-item")
        .iter()
        .filter_map(|finding| finding.path.as_deref())
        .collect();
    // The only findings: the three items whose value is null (formats.md: present means "not null").
    assert_eq!(codes(&report).len(), 3, "{:#?}", report.findings);
    assert_eq!(
        missing,
        [
            "kubeControllerManager.service.port",
            "alertmanager.serviceMonitor.proxyUrl",
            "prometheus.serviceMonitor.bearerTokenFile"
        ]
    );

    let values =
        yaml::parse_mapping("values.yaml", &bytes, &Limits::default()).expect("the file parses");
    assert_eq!(
        value_at(&values, "kubelet.serviceMonitor.interval"),
        &Value::String("30s".into())
    );
    let Value::List(relabelings) =
        value_at(&values, "kubeApiServer.serviceMonitor.metricRelabelings")
    else {
        panic!("a list")
    };
    assert_eq!(
        relabelings.len(),
        1,
        "the map's own list wins over the merged empty one"
    );
    let Value::String(dashboard) = value_at(&values, "grafana.dashboards.dataphin.overview.json")
    else {
        panic!("a string")
    };
    let dashboard: Json =
        serde_json::from_str(dashboard).expect("the block scalar keeps the JSON intact");
    assert_eq!(dashboard["panels"][1]["title"], "Queue depth");
}
