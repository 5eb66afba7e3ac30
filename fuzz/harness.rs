//! What each fuzz target does with one input, shared by the libFuzzer targets (`fuzz_targets/`) and by the replay
//! of the saved corpus and regressions as ordinary tests (`shared/tests/fuzz_replay.rs`).
//!
//! Every function runs a check of `shared` on hostile bytes and asserts what must hold whatever the input: no
//! panic (libFuzzer reports one as a crash), the limits respected, and the invariants an operator relies on (a
//! report is `ok` exactly when it has no error; a key path prints back to itself).

use std::sync::OnceLock;

use shared::archive::{Bundle, BundleEntry, ZipScan};
use shared::keypath::KeyPath;
use shared::limits::Limits;
use shared::package::{VersionPackage, check_version_package};
use shared::report::{Report, Severity};

/// Smaller than the defaults so that one run stays fast; the checks of the limits themselves are the same code.
pub fn limits() -> Limits {
    Limits {
        max_upload_bytes: 1024 * 1024,
        max_zip_entries: 1000,
        max_zip_inflated_bytes: 16 * 1024 * 1024,
        max_zip_entry_bytes: 8 * 1024 * 1024,
        max_yaml_bytes: 256 * 1024,
        max_yaml_depth: 128,
    }
}

/// A report's `ok` says whether it has an error, and every finding says what it is about.
fn assert_consistent(report: &Report) {
    let has_error = report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    assert_eq!(report.ok, !has_error, "ok disagrees with the findings");
    for finding in &report.findings {
        assert!(!finding.code.is_empty(), "a finding without a code");
        assert!(
            !finding.message.is_empty(),
            "{} without a message",
            finding.code
        );
    }
}

/// The ZIP reader: open, inflate step by step, finish; what it extracts stays within the limits.
pub fn zip_reader(data: &[u8]) {
    let limits = limits();
    let Ok(mut scan) = ZipScan::open("fuzz.zip", data, &limits) else {
        return;
    };
    loop {
        match scan.step(64 * 1024) {
            Ok(progress) if progress.finished => break,
            Ok(_) => {}
            Err(_) => return,
        }
    }
    if let Ok(bundle) = scan.finish() {
        assert!(bundle.entries.len() as u64 <= limits.max_zip_entries);
        let total: u64 = bundle.entries.values().map(|e| e.bytes.len() as u64).sum();
        assert!(
            total <= limits.max_zip_inflated_bytes,
            "{total} bytes inflated"
        );
        for (path, entry) in &bundle.entries {
            assert!(
                entry.bytes.len() as u64 <= limits.max_zip_entry_bytes,
                "{path}"
            );
            assert!(
                !path.starts_with('/') && !path.split('/').any(|s| s == ".."),
                "{path}"
            );
        }
    }
}

/// The YAML loader, as a values file (one mapping) and as an overlay (several documents).
pub fn yaml_loader(data: &[u8]) {
    let limits = limits();
    match shared::yaml::parse_mapping("values.yaml", data, &limits) {
        Ok(value) => assert!(
            value.as_map().is_some(),
            "a values file that is not a mapping"
        ),
        Err(finding) => assert_eq!(finding.file.as_deref(), Some("values.yaml")),
    }
    let _ = shared::yaml::parse_documents("overlay/values.yaml", data, &limits);
}

/// A version package that is only its manifest (`version.yaml`).
pub fn manifest(data: &[u8]) {
    let (report, package) = check_version_package("version.yaml", data, &limits());
    assert_consistent(&report);
    assert_eq!(
        report.ok,
        package.is_some(),
        "a package is returned exactly when it is valid"
    );
}

/// Key paths: what parses prints back to a text that parses to the same path.
pub fn key_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = KeyPath::parse(text) {
        let printed = path.to_string();
        assert_eq!(KeyPath::parse(&printed).as_ref(), Ok(&path), "{printed}");
    }
}

/// The demo's V5.1.2.04 package and its good non-standard bundle: the fuzzer's input replaces parts of the bundle.
fn demo() -> &'static (VersionPackage, Bundle) {
    static DEMO: OnceLock<(VersionPackage, Bundle)> = OnceLock::new();
    DEMO.get_or_init(|| {
        let limits = Limits::default();
        let package = include_bytes!("../demo/versions/V5.1.2.04.zip");
        let (report, package) = check_version_package("V5.1.2.04.zip", package, &limits);
        let package = package.unwrap_or_else(|| panic!("the demo package is valid: {report:?}"));
        let bundle = include_bytes!("../demo/config/nonstandard-V5.1.2.04-good.zip");
        let bundle = ZipScan::open("good.zip", bundle, &limits)
            .and_then(ZipScan::finish)
            .expect("the demo bundle is a valid ZIP");
        (package, bundle)
    })
}

/// The non-standard check. The input is up to eight parts separated by NUL bytes: the bundle's `values.yaml`, an
/// overlay's path under `overlay/`, that overlay's text, the values running now, replacements of the chart's
/// `values.yaml` and `Chart.yaml`, its `values.schema.json`, and a subchart's `charts/sub/values.yaml`; missing
/// parts keep the demo bundle's own files.
pub fn non_standard(data: &[u8]) {
    let (package, good) = demo();
    let mut bundle = good.clone();
    let mut parts = data.split(|b| *b == 0);
    let mut put = |path: String, bytes: &[u8]| {
        bundle
            .entries
            .insert(path, BundleEntry::new(bytes.to_vec()));
    };
    if let Some(values) = parts.next() {
        put("values.yaml".into(), values);
    }
    if let (Some(path), Some(text)) = (parts.next(), parts.next()) {
        put(format!("overlay/{}", String::from_utf8_lossy(path)), text);
    }
    let online = parts.next().map(String::from_utf8_lossy);
    if let Some(chart_values) = parts.next() {
        put("product/dataphin/values.yaml".into(), chart_values);
    }
    if let Some(chart) = parts.next() {
        put("product/dataphin/Chart.yaml".into(), chart);
    }
    if let Some(schema) = parts.next() {
        put("product/dataphin/values.schema.json".into(), schema);
    }
    if let Some(subchart) = parts.next() {
        put("product/dataphin/charts/sub/values.yaml".into(), subchart);
    }
    // The running side is merged with the demo version's own chart, the bundle's side with the fuzzed one.
    let running_chart = shared::nonstandard::RunningChart::of(package.clone());
    let online = online.as_deref().map(|values| shared::nonstandard::Online {
        values,
        chart: &running_chart,
    });
    let (report, values) =
        shared::nonstandard::check_non_standard_bundle(package, bundle, online, &limits());
    assert_consistent(&report);
    if report.ok {
        assert!(
            values.is_some(),
            "an ok report comes with the values to run"
        );
    }
}
