//! The non-standard configuration checks (formats.md, "Non-standard configuration"): a ZIP from O&M holding
//! `values.yaml`, its own copy of the template under `product/<product>/` and overlays under `overlay/`.
//!
//! 1. template MD5 against the version's (a warning the operator must confirm);
//! 2. compatibility of `values.yaml` and the overlays with the template (errors);
//! 3. the difference with the values running now (a warning; secrets masked).

use std::collections::BTreeMap;

use serde_json::json;

use crate::archive::{self, Bundle, ZipScan};
use crate::keypath::KeyPath;
use crate::limits::Limits;
use crate::package::{FileDifference, Template, VersionPackage, template_prefix};
use crate::report::{Finding, Report, Severity};
use crate::standard::{VALUES_FILE, missing_file};
use crate::yaml::{self, Value};

/// Where overlays live in the ZIP.
pub const OVERLAY_PREFIX: &str = "overlay/";
/// How the values running now are named in findings.
pub const ONLINE_VALUES: &str = "values running now";
/// What a secret value is shown as.
pub const MASK: &str = "******";
/// Typo suggestions are computed for this many unknown keys at most: each costs a comparison with every sibling,
/// and a hostile file may have a million unknown keys.
const MAX_SUGGESTIONS: usize = 1000;
/// Key segments that mark a value as secret (case-insensitive, anywhere in the segment).
const SECRET_WORDS: [&str; 4] = ["password", "secret", "token", "key"];

/// Checks a non-standard configuration ZIP; returns the report and, when readable, the values.yaml text to run
/// with. `online_values` is the values.yaml running now, when known.
pub fn check_non_standard_config(
    package: &VersionPackage,
    file_name: &str,
    bytes: &[u8],
    online_values: Option<&str>,
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
        Ok(bundle) => check_non_standard_bundle(package, bundle, online_values, limits),
        Err(finding) => (Report::single(finding), None),
    }
}

/// Checks a non-standard configuration ZIP already extracted by [`ZipScan`].
pub fn check_non_standard_bundle(
    package: &VersionPackage,
    mut bundle: Bundle,
    online_values: Option<&str>,
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
        findings.push(missing_file(&bundle.file_name, &prefix));
    }
    let values = match bundle.get(VALUES_FILE) {
        None => {
            findings.push(missing_file(&bundle.file_name, VALUES_FILE));
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
    let reference = match official {
        Some(official) if official.carries_files() => official,
        _ => &own,
    };
    let (values, text) = values.unwrap_or((Value::Null, String::new()));
    match &reference.values {
        Some(template_values) => {
            let mut suggestions_left = MAX_SUGGESTIONS;
            compare_values(
                &values,
                template_values,
                &KeyPath::root(),
                &mut suggestions_left,
                &mut findings,
            );
        }
        None => findings.push(missing_file(
            &bundle.file_name,
            &format!("{prefix}values.yaml"),
        )),
    }
    check_overlays(&bundle, reference, &prefix, limits, &mut findings);

    // 3. Online difference.
    if let Some(online) = online_values {
        match yaml::parse_mapping(ONLINE_VALUES, online.as_bytes(), limits) {
            Ok(online) => findings.extend(online_difference(&online, &values)),
            Err(mut finding) => {
                finding.severity = Severity::Warning;
                finding.message = format!(
                    "{} (so the difference with the running values is not shown)",
                    finding.message
                );
                findings.push(finding);
            }
        }
    }
    (Report::new(findings, Some(digest.0)), Some(text))
}

/// `values-unknown-key` and `values-type-conflict` for values against the template's values.
fn compare_values(
    values: &Value,
    template: &Value,
    path: &KeyPath,
    suggestions_left: &mut usize,
    findings: &mut Vec<Finding>,
) {
    if is_free_form(template) || matches!(values, Value::Null) {
        return;
    }
    match (values, template) {
        (Value::Map(values), Value::Map(template)) => {
            for (key, value) in values {
                let child = path.key(key);
                match template.get(key) {
                    Some(template_value) => compare_values(value, template_value, &child, suggestions_left, findings),
                    None => {
                        let suggest = *suggestions_left > 0;
                        *suggestions_left = suggestions_left.saturating_sub(1);
                        findings.push(unknown_key(&child, key, template, path, suggest));
                    }
                }
            }
        }
        _ if values.kind() == template.kind() => {}
        _ => findings.push(
            Finding::error(
                "values-type-conflict",
                format!(
                    "{VALUES_FILE}: `{path}` is a {} here but a {} in the template",
                    values.kind(),
                    template.kind()
                ),
            )
            .in_file(VALUES_FILE)
            .with_path(path.to_string())
            .with_details(json!({ "found": values.kind().to_string(), "template": template.kind().to_string() })),
        ),
    }
}

/// Free-form places, as Helm charts write them: null or `{}` accepts anything beneath it.
fn is_free_form(template: &Value) -> bool {
    match template {
        Value::Null => true,
        Value::Map(map) => map.is_empty(),
        _ => false,
    }
}

fn unknown_key(
    child: &KeyPath,
    key: &str,
    siblings: &BTreeMap<String, Value>,
    parent: &KeyPath,
    suggest: bool,
) -> Finding {
    let suggestion = suggest
        .then(|| closest(key, siblings.keys().map(String::as_str)))
        .flatten()
        .map(|near| parent.key(near).to_string());
    let message = match &suggestion {
        Some(near) => {
            format!("{VALUES_FILE}: `{child}` is not in the template; did you mean `{near}`?")
        }
        None => format!("{VALUES_FILE}: `{child}` is not in the template"),
    };
    let finding = Finding::error("values-unknown-key", message)
        .in_file(VALUES_FILE)
        .with_path(child.to_string());
    match suggestion {
        Some(near) => finding.with_details(json!({ "suggestion": near })),
        None => finding,
    }
}

/// The sibling nearest to `key` by edit distance, when it is near enough to be a typo.
fn closest<'a>(key: &str, siblings: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let key_len = key.chars().count();
    // Long keys and huge maps are not typo-checked: the distance is quadratic in the lengths.
    if key_len > 128 {
        return None;
    }
    let allowed = (key_len / 3).clamp(1, 3);
    siblings
        .take(10_000)
        .filter(|sibling| sibling.chars().count().abs_diff(key_len) <= allowed)
        .map(|sibling| (edit_distance(key, sibling), sibling))
        .filter(|&(distance, _)| distance <= allowed && distance < key_len)
        .min_by_key(|&(distance, sibling)| (distance, sibling))
        .map(|(_, sibling)| sibling)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
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

/// Whether a value under this path is secret: a key segment contains password, secret, token or key.
pub fn is_secret(path: &KeyPath) -> bool {
    path.keys().any(|key| {
        let key = key.to_ascii_lowercase();
        SECRET_WORDS.iter().any(|word| key.contains(word))
    })
}

/// The leaves of a values document: scalars, nulls, lists (whole) and empty maps, by path.
fn leaves<'a>(value: &'a Value, path: KeyPath, out: &mut BTreeMap<KeyPath, &'a Value>) {
    match value {
        Value::Map(map) if !map.is_empty() => {
            for (key, child) in map {
                leaves(child, path.key(key), out);
            }
        }
        _ => {
            out.insert(path, value);
        }
    }
}

/// `online-config-differs` when the new values differ from those running now.
pub fn online_difference(online: &Value, new: &Value) -> Option<Finding> {
    let (mut old_leaves, mut new_leaves) = (BTreeMap::new(), BTreeMap::new());
    leaves(online, KeyPath::root(), &mut old_leaves);
    leaves(new, KeyPath::root(), &mut new_leaves);
    let shown = |path: &KeyPath, value: &Value| {
        if is_secret(path) {
            serde_json::Value::String(MASK.to_string())
        } else {
            value.to_json()
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keypath::Segment;

    #[test]
    fn typo_suggests_the_sibling() {
        assert_eq!(
            closest("replcas", ["image", "replicas", "resources"].into_iter()),
            Some("replicas")
        );
        assert_eq!(closest("zzz", ["image", "replicas"].into_iter()), None);
    }

    #[test]
    fn secret_paths_are_found_by_segment() {
        for secret in [
            "db.password",
            "auth.apiToken",
            "tls.privateKey",
            "Secrets.x",
            "a.SECRET",
        ] {
            assert!(is_secret(&KeyPath::parse(secret).unwrap()), "{secret}");
        }
        assert!(!is_secret(&KeyPath::parse("db.host").unwrap()));
    }

    #[test]
    fn index_segments_are_not_secret_words() {
        assert!(!is_secret(&KeyPath(vec![
            Segment::Key("hosts".into()),
            Segment::Index(0)
        ])));
    }
}
