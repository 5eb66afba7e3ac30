//! The standard configuration check (formats.md, "Standard configuration"): a `values.yaml` (any file name), or a
//! ZIP holding `values.yaml` at its root, must contain every configuration item of the target version, each with
//! its type.

use serde_json::json;

use crate::archive::{self, Bundle, ZipScan};
use crate::keypath::KeyPath;
use crate::limits::Limits;
use crate::manifest::{ConfigItem, ItemType};
use crate::package::VersionPackage;
use crate::report::{Finding, Report};
use crate::yaml::{self, Value};

/// The values file inside a configuration ZIP.
pub const VALUES_FILE: &str = "values.yaml";

/// Checks a standard configuration upload; returns the report and, when it could be read, the values.yaml text to
/// run with.
pub fn check_standard_config(
    package: &VersionPackage,
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> (Report, Option<String>) {
    if archive::is_zip(file_name, bytes) {
        return match ZipScan::open(file_name, bytes, limits).and_then(ZipScan::finish) {
            Ok(bundle) => check_standard_bundle(package, bundle, limits),
            Err(finding) => (Report::single(finding), None),
        };
    }
    let (findings, text) = check_values(package, file_name, bytes, limits);
    (Report::new(findings, None), text)
}

/// Checks a standard configuration ZIP already extracted by [`ZipScan`].
pub fn check_standard_bundle(
    package: &VersionPackage,
    bundle: Bundle,
    limits: &Limits,
) -> (Report, Option<String>) {
    let Some(entry) = bundle.get(VALUES_FILE) else {
        return (Report::single(missing_file(&bundle, VALUES_FILE)), None);
    };
    let (findings, text) = check_values(package, VALUES_FILE, &entry.bytes, limits);
    (Report::new(findings, None), text)
}

/// `bundle-missing-file` for a file (or, ending with `/`, a folder) a configuration ZIP must hold.
pub fn missing_file(bundle: &Bundle, path: &str) -> Finding {
    let hint = zipped_folder_hint(bundle, path).unwrap_or_default();
    Finding::error(
        "bundle-missing-file",
        format!(
            "{}: it must hold `{path}`, and it does not{hint}",
            bundle.file_name
        ),
    )
    .in_file(&bundle.file_name)
    .with_path(path)
}

/// When every file of the ZIP sits under one top folder that holds `path`: a sentence saying so and how to zip
/// (the folder was zipped instead of its contents, as a file manager's "Compress" does).
pub fn zipped_folder_hint(bundle: &Bundle, path: &str) -> Option<String> {
    let first = bundle.entries.keys().next()?;
    let folder = &first[..first.find('/')? + 1];
    if !bundle.entries.keys().all(|entry| entry.starts_with(folder)) {
        return None;
    }
    let inside = format!("{folder}{path}");
    let holds = bundle
        .entries
        .keys()
        .any(|entry| entry.starts_with(&inside));
    holds.then(|| {
        let name = folder.trim_end_matches('/');
        format!(
            "; its files are all inside the folder `{folder}` (the folder was zipped, not its contents): zip what is inside it, e.g. `cd {name} && zip -r ../{} .`",
            bundle.file_name
        )
    })
}

fn check_values(
    package: &VersionPackage,
    file: &str,
    bytes: &[u8],
    limits: &Limits,
) -> (Vec<Finding>, Option<String>) {
    match yaml::parse_mapping(file, bytes, limits) {
        Err(finding) => (vec![finding], None),
        Ok(values) => {
            let findings = check_items(&package.manifest.config_items, &values, file);
            (findings, Some(String::from_utf8_lossy(bytes).into_owned()))
        }
    }
}

/// `missing-config-item` and `config-item-type` for every item of the version against parsed values.
pub fn check_items(items: &[ConfigItem], values: &Value, file: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for item in items {
        // The manifest check has already refused keys that are not key paths.
        let Ok(path) = KeyPath::parse(&item.key) else {
            continue;
        };
        let type_name = type_word(item.item_type);
        match values.get(&path) {
            None | Some(Value::Null) => findings.push(
                Finding::error(
                    "missing-config-item",
                    format!(
                        "{file}: configuration item `{path}` ({type_name}) is missing{}",
                        if item.description.is_empty() { String::new() } else { format!(": {}", item.description) }
                    ),
                )
                .in_file(file)
                .with_path(path.to_string())
                .with_details(json!({ "type": type_name, "description": item.description })),
            ),
            Some(value) if !has_type(value, item.item_type) => findings.push(
                Finding::error(
                    "config-item-type",
                    format!(
                        "{file}: configuration item `{path}` must be {} {type_name}, not {} {}{}",
                        article(type_name),
                        article(value.type_name()),
                        value.type_name(),
                        if item.item_type == ItemType::String && matches!(value.kind(), yaml::Kind::Scalar) {
                            " (write it in quotes to make it a string)"
                        } else {
                            ""
                        }
                    ),
                )
                .in_file(file)
                .with_path(path.to_string())
                .with_details(json!({ "type": type_name, "found": value.type_name(), "description": item.description })),
            ),
            Some(_) => {}
        }
    }
    findings
}

fn has_type(value: &Value, item_type: ItemType) -> bool {
    match item_type {
        ItemType::String => matches!(value, Value::String(_)),
        ItemType::Integer => matches!(value, Value::Integer(_)),
        ItemType::Number => matches!(value, Value::Integer(_) | Value::Float(_)),
        ItemType::Boolean => matches!(value, Value::Bool(_)),
        ItemType::Map => matches!(value, Value::Map(_)),
        ItemType::List => matches!(value, Value::List(_)),
        ItemType::Any => !matches!(value, Value::Null),
    }
}

/// The type as the manifest writes it.
pub fn type_word(item_type: ItemType) -> &'static str {
    match item_type {
        ItemType::String => "string",
        ItemType::Integer => "integer",
        ItemType::Number => "number",
        ItemType::Boolean => "boolean",
        ItemType::Map => "map",
        ItemType::List => "list",
        ItemType::Any => "any",
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}
