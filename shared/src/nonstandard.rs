//! The non-standard configuration checks (formats.md, "Non-standard configuration"): a ZIP from O&M holding
//! `values.yaml`, its own copy of the template under `product/<product>/` and overlays under `overlay/`.
//!
//! 1. template MD5 against the version's (a warning the operator must confirm);
//! 2. compatibility of `values.yaml` and the overlays with the template (errors);
//! 3. the difference with the values running now (a warning; secrets masked).
//!
//! The rules for values against the chart live in [`crate::chart`]; masking in [`crate::secrets`].

use std::collections::BTreeMap;

use serde_json::json;

use crate::archive::{self, Bundle, ZipScan};
use crate::chart::{Chart, coalesce};
use crate::keypath::KeyPath;
use crate::limits::Limits;
use crate::package::{FileDifference, Template, VersionPackage, template_prefix};
use crate::report::{Finding, Report, Severity};
use crate::secrets;
use crate::standard::{VALUES_FILE, missing_file};
use crate::yaml::{self, Value};

/// Where overlays live in the ZIP.
pub const OVERLAY_PREFIX: &str = "overlay/";
/// How the values running now are named in findings.
pub const ONLINE_VALUES: &str = "values running now";

/// The chart the values running now run with: the defaults Helm merges them with (issue 11, point 10).
#[derive(Debug, Clone, PartialEq)]
pub enum RunningChart {
    /// The running version's chart defaults: its template's values.yaml.
    Defaults(Value),
    /// Not known, and why (the difference then takes the target chart's defaults for both sides).
    Unknown(String),
}

impl RunningChart {
    /// The chart of the running version's package: its template's values.yaml, when the package carries it.
    pub fn of(package: VersionPackage) -> RunningChart {
        match package.template.and_then(|t| t.values) {
            Some(values) => RunningChart::Defaults(values),
            None => RunningChart::Unknown(format!(
                "the package of the running version {} carries no chart values.yaml",
                package.version
            )),
        }
    }

    /// Not known: the package of the running version `version` `why` (e.g. "is not stored").
    pub fn unknown(version: &str, why: &str) -> RunningChart {
        RunningChart::Unknown(format!(
            "the package of the running version {version} {why}"
        ))
    }
}

/// What runs now, for the online difference.
#[derive(Debug, Clone, Copy)]
pub struct Online<'a> {
    /// The values.yaml running now, as text.
    pub values: &'a str,
    /// The chart those values run with.
    pub chart: &'a RunningChart,
}

/// Checks a non-standard configuration ZIP; returns the report and, when readable, the values.yaml text to run
/// with. `online` is what runs now, when known.
pub fn check_non_standard_config(
    package: &VersionPackage,
    file_name: &str,
    bytes: &[u8],
    online: Option<Online<'_>>,
    limits: &Limits,
) -> (Report, Option<String>) {
    if !archive::is_zip(file_name, bytes) {
        let finding = Finding::error(
            "zip-invalid",
            format!("{file_name}: a non-standard configuration must be a ZIP holding values.yaml, product/{}/ and overlay/", package.manifest.product),
        )
        .in_file(file_name);
        return (Report::single(finding), None);
    }
    match ZipScan::open(file_name, bytes, limits).and_then(ZipScan::finish) {
        Ok(bundle) => check_non_standard_bundle(package, bundle, online, limits),
        Err(finding) => (Report::single(finding), None),
    }
}

/// Checks a non-standard configuration ZIP already extracted by [`ZipScan`].
pub fn check_non_standard_bundle(
    package: &VersionPackage,
    mut bundle: Bundle,
    online: Option<Online<'_>>,
    limits: &Limits,
) -> (Report, Option<String>) {
    let product = &package.manifest.product;
    let prefix = template_prefix(product);
    let mut findings = Vec::new();
    let own = match Template::take_from_bundle(&mut bundle, product, limits) {
        Ok(own) => own,
        Err(finding) => return (Report::single(finding), None),
    };
    if own.files.is_empty() {
        findings.push(missing_file(&bundle, &prefix));
    }
    let values = match bundle.get(VALUES_FILE) {
        None => {
            findings.push(missing_file(&bundle, VALUES_FILE));
            None
        }
        Some(entry) => match yaml::parse_mapping(VALUES_FILE, &entry.bytes, limits) {
            Ok(values) => Some((values, String::from_utf8_lossy(&entry.bytes).into_owned())),
            Err(finding) => {
                findings.push(finding);
                None
            }
        },
    };
    if own.files.is_empty() || values.is_none() {
        return (Report::new(findings, None), None);
    }
    let digest = own.digest();

    // 1. Template MD5.
    let official = package.template.as_ref();
    match official {
        Some(official) if official.digest() != digest => {
            let mut expected = BTreeMap::new();
            for (path, file) in &official.files {
                expected.insert(path.clone(), file.md5.clone());
            }
            let difference = FileDifference::between(&expected, &own.files);
            findings.push(
                Finding::warning(
                    "template-md5-mismatch",
                    format!(
                        "{}: the template under {prefix} has digest {digest}, not {} as version {} has ({}); confirm to go on",
                        bundle.file_name,
                        official.digest(),
                        package.version,
                        difference.summary()
                    ),
                )
                .needing_confirmation()
                .in_file(&bundle.file_name)
                .with_details(difference.to_json()),
            );
        }
        Some(_) => {}
        None => findings.push(
            Finding::new(
                Severity::Info,
                "template-not-in-package",
                format!(
                    "{}: the package of version {} lists no template, so the template MD5 cannot be checked and the configuration is checked against its own copy",
                    bundle.file_name, package.version
                ),
            )
            .in_file(&bundle.file_name),
        ),
    }

    // 2. Compatibility, against the official template when the package carries it.
    let (reference, reference_words) = match official {
        Some(official) if official.carries_files() => (
            official,
            format!("the official template of version {}", package.version),
        ),
        Some(_) => (
            &own,
            format!(
                "the bundle's own copy under {prefix} (the package of version {} lists the template's MD5s only)",
                package.version
            ),
        ),
        // `template-not-in-package` already says so.
        None => (&own, String::new()),
    };
    if !reference_words.is_empty() {
        findings.push(
            Finding::new(
                Severity::Info,
                "template-reference",
                format!(
                    "{}: values and overlays are checked against {reference_words}",
                    bundle.file_name
                ),
            )
            .in_file(&bundle.file_name)
            .with_details(json!({
                "reference": if std::ptr::eq(reference, &own) { "bundle" } else { "official" }
            })),
        );
    }
    let (values, text) = values.unwrap_or((Value::Null, String::new()));
    let chart = Chart::of(reference, &prefix, limits);
    match &reference.values {
        Some(_) => {
            findings.extend(chart.notes.iter().cloned());
            findings.extend(chart.check_values(&values, &text));
        }
        None => findings.push(missing_file(&bundle, &format!("{prefix}values.yaml"))),
    }
    check_overlays(&bundle, reference, &prefix, limits, &mut findings);

    // 3. Online difference: both sides as Helm uses them, each chart's defaults merged with its values.
    if let Some(online) = online {
        findings.extend(online_findings(online, &chart.values, &values, limits));
    }
    (Report::new(findings, Some(digest.0)), Some(text))
}

/// The running values against the new ones, each merged with its chart's defaults (`new_defaults`: the
/// reference chart's); the running chart unknown is an info and the target's defaults then stand for it.
fn online_findings(
    online: Online<'_>,
    new_defaults: &Value,
    values: &Value,
    limits: &Limits,
) -> Vec<Finding> {
    let running = match yaml::parse_mapping(ONLINE_VALUES, online.values.as_bytes(), limits) {
        Ok(running) => running,
        Err(mut finding) => {
            finding.severity = Severity::Warning;
            finding.message = format!(
                "{} (so the difference with the running values is not shown)",
                finding.message
            );
            return vec![finding];
        }
    };
    let mut findings = Vec::new();
    let running_defaults = match online.chart {
        RunningChart::Defaults(defaults) => defaults,
        RunningChart::Unknown(why) => {
            findings.push(Finding::new(
                Severity::Info,
                "online-chart-unknown",
                format!(
                    "{why}, so the values running now are merged with the target chart's defaults: a default that changed between the two charts does not show in the difference"
                ),
            ));
            new_defaults
        }
    };
    findings.extend(online_difference(
        &coalesce(running_defaults, &running),
        &coalesce(new_defaults, values),
    ));
    findings
}

/// Free-form places of a plain YAML file an overlay adjusts: null or `{}` accepts anything beneath it.
fn is_free_form(template: &Value) -> bool {
    match template {
        Value::Null => true,
        Value::Map(map) => map.is_empty(),
        _ => false,
    }
}

/// `overlay-target-missing`, `overlay-invalid`, `overlay-type-conflict` for every file under `overlay/`.
fn check_overlays(
    bundle: &Bundle,
    reference: &Template,
    prefix: &str,
    limits: &Limits,
    findings: &mut Vec<Finding>,
) {
    for (path, entry) in bundle.under(OVERLAY_PREFIX) {
        let file = format!("{OVERLAY_PREFIX}{path}");
        let Some(target) = reference.files.get(path) else {
            findings.push(
                Finding::error(
                    "overlay-target-missing",
                    format!(
                        "{file}: it adjusts `{prefix}{path}`, which the template does not have"
                    ),
                )
                .in_file(&file),
            );
            continue;
        };
        // A Helm template (`{{ }}` actions, in the overlay or in its target) is Go template text, not YAML.
        let is_template = |bytes: &[u8]| bytes.windows(2).any(|pair| pair == b"{{");
        if is_template(&entry.bytes) || target.bytes.as_deref().is_some_and(is_template) {
            if let Err(mut finding) = yaml::checked_text(&file, &entry.bytes, limits)
                .and_then(|text| unclosed_action(&file, text).map_or(Ok(()), Err))
            {
                finding.code = "overlay-invalid".to_string();
                findings.push(finding);
            }
            continue;
        }
        let lower = path.to_ascii_lowercase();
        if !(lower.ends_with(".yaml") || lower.ends_with(".yml")) {
            continue;
        }
        let overlay = match yaml::parse_documents(&file, &entry.bytes, limits) {
            Ok(documents) => documents,
            Err(mut finding) => {
                finding.code = "overlay-invalid".to_string();
                findings.push(finding);
                continue;
            }
        };
        // A target that is not plain YAML (a Helm template with `{{ }}`) has no kinds to compare.
        let target_file = format!("{prefix}{path}");
        let Some(Ok(target)) = target
            .bytes
            .as_deref()
            .map(|bytes| yaml::parse_documents(&target_file, bytes, limits))
        else {
            continue;
        };
        for (document, (overlay, target)) in overlay.iter().zip(&target).enumerate() {
            compare_overlay(overlay, target, &KeyPath::root(), &file, document, findings);
        }
    }
}

/// `overlay-invalid` at the first `{{` of a Go template that no `}}` closes (quoted strings and `/* */` comments
/// inside an action are skipped, as Go's parser does).
fn unclosed_action(file: &str, text: &str) -> Option<Finding> {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(open) = text[at..].find("{{").map(|found| found + at) {
        let mut i = open + 2;
        let mut closed = None;
        while i < bytes.len() {
            match bytes[i] {
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    closed = Some(i + 2);
                    break;
                }
                // Go's lexer refuses `{` inside an action: the earlier `{{` is the unclosed one.
                b'{' if bytes.get(i + 1) == Some(&b'{') => break,
                quote @ (b'"' | b'`' | b'\'') => {
                    i += 1;
                    while i < bytes.len()
                        && bytes[i] != quote
                        && !(quote != b'`' && bytes[i] == b'\n')
                    {
                        i += if bytes[i] == b'\\' && quote != b'`' {
                            2
                        } else {
                            1
                        };
                    }
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i = text[i + 2..]
                        .find("*/")
                        .map_or(bytes.len(), |end| i + 2 + end + 1);
                }
                _ => {}
            }
            i += 1;
        }
        match closed {
            Some(next) => at = next,
            None => {
                let line = text[..open].matches('\n').count() as u64 + 1;
                let line_start = text[..open].rfind('\n').map_or(0, |n| n + 1);
                let column = text[line_start..open].chars().count() as u64 + 1;
                return Some(
                    Finding::error(
                        "overlay-invalid",
                        format!(
                            "{file} line {line}, column {column}: this `{{{{` opens a template action that no `}}}}` closes"
                        ),
                    )
                    .in_file(file)
                    .at(line, column),
                );
            }
        }
    }
    None
}

fn compare_overlay(
    overlay: &Value,
    target: &Value,
    path: &KeyPath,
    file: &str,
    document: usize,
    findings: &mut Vec<Finding>,
) {
    if is_free_form(target) || matches!(overlay, Value::Null) {
        return;
    }
    match (overlay, target) {
        (Value::Map(overlay), Value::Map(target)) => {
            for (key, value) in overlay {
                if let Some(target_value) = target.get(key) {
                    compare_overlay(
                        value,
                        target_value,
                        &path.key(key),
                        file,
                        document,
                        findings,
                    );
                }
            }
        }
        _ if overlay.kind() == target.kind() => {}
        _ => {
            let shown = if path.0.is_empty() {
                "the document root".to_string()
            } else {
                format!("`{path}`")
            };
            findings.push(
                Finding::error(
                    "overlay-type-conflict",
                    format!(
                        "{file}: {shown}{} is a {} here but a {} in the template file it adjusts",
                        if document > 0 { format!(" (document {})", document + 1) } else { String::new() },
                        overlay.kind(),
                        target.kind()
                    ),
                )
                .in_file(file)
                .with_path(path.to_string())
                .with_details(json!({ "found": overlay.kind().to_string(), "template": target.kind().to_string() })),
            );
        }
    }
}

/// The leaves of a values document: scalars, nulls and lists (whole), by path. An empty map is no leaf: `{}`
/// filled on one side is the keys added, not a map removed.
fn leaves<'a>(value: &'a Value, path: KeyPath, out: &mut BTreeMap<KeyPath, &'a Value>) {
    match value {
        Value::Map(map) => {
            for (key, child) in map {
                leaves(child, path.key(key), out);
            }
        }
        _ => {
            out.insert(path, value);
        }
    }
}

/// `online-config-differs` when the new values differ from those running now (each already merged with its
/// chart's defaults, as Helm uses them).
pub fn online_difference(online: &Value, new: &Value) -> Option<Finding> {
    let (mut old_leaves, mut new_leaves) = (BTreeMap::new(), BTreeMap::new());
    leaves(online, KeyPath::root(), &mut old_leaves);
    leaves(new, KeyPath::root(), &mut new_leaves);
    let shown = |path: &KeyPath, value: &Value| {
        let mut json = value.to_json();
        secrets::mask(path, &mut json);
        json
    };
    let (mut changed, mut added, mut removed) = (Vec::new(), Vec::new(), Vec::new());
    let mut lines = Vec::new();
    for (path, old) in &old_leaves {
        match new_leaves.get(path) {
            Some(new) if new != old => {
                lines.push(format!(
                    "{path}: {} → {}",
                    shown(path, old),
                    shown(path, new)
                ));
                changed.push(json!({ "path": path.to_string(), "old": shown(path, old), "new": shown(path, new) }));
            }
            Some(_) => {}
            None => {
                lines.push(format!("{path}: {} removed", shown(path, old)));
                removed.push(json!({ "path": path.to_string(), "old": shown(path, old) }));
            }
        }
    }
    for (path, new) in &new_leaves {
        if !old_leaves.contains_key(path) {
            lines.push(format!("{path}: {} added", shown(path, new)));
            added.push(json!({ "path": path.to_string(), "new": shown(path, new) }));
        }
    }
    if lines.is_empty() {
        return None;
    }
    let more = lines.len().saturating_sub(5);
    lines.truncate(5);
    let message = format!(
        "{VALUES_FILE} differs from the values running now ({} changed, {} added, {} removed): {}{}; the upgrade will use the new file",
        changed.len(),
        added.len(),
        removed.len(),
        lines.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    );
    Some(
        Finding::warning("online-config-differs", message)
            .in_file(VALUES_FILE)
            .with_details(json!({ "changed": changed, "added": added, "removed": removed })),
    )
}
