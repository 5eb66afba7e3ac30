//! A report turned into what the operator reads: counts by severity, where each finding is, the missing items,
//! the template comparison and the difference from the running values (secrets masked).

use serde_json::Value;
use shared::keypath::KeyPath;
use shared::report::{Finding, Report, Severity};
use shared::secrets::{self, MASK};

/// How many findings of each severity a report holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Findings that block.
    pub errors: usize,
    /// Findings to read (some need confirming).
    pub warnings: usize,
    /// Notes.
    pub infos: usize,
}

/// Counts a report's findings by severity.
pub fn counts(report: &Report) -> Counts {
    let mut c = Counts::default();
    for f in &report.findings {
        match f.severity {
            Severity::Error => c.errors += 1,
            Severity::Warning => c.warnings += 1,
            Severity::Info => c.infos += 1,
        }
    }
    c
}

/// The findings sorted errors first, keeping each severity's order.
pub fn by_severity(report: &Report) -> Vec<Finding> {
    // The same order as the agent's reports, by the same code.
    Report::new(report.findings.clone(), None).findings
}

/// `values.yaml:12:3`, `values.yaml`, or empty: where a finding points.
pub fn location(f: &Finding) -> String {
    match (&f.file, f.line, f.column) {
        (Some(file), Some(line), Some(col)) => format!("{file}:{line}:{col}"),
        (Some(file), Some(line), None) => format!("{file}:{line}"),
        (Some(file), None, _) => file.clone(),
        (None, Some(line), Some(col)) => format!("line {line}, column {col}"),
        _ => String::new(),
    }
}

/// The CSS class and word for a severity, the same everywhere in the console.
pub fn severity_label(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Error => ("sev-error", "Error"),
        Severity::Warning => ("sev-warning", "Warning"),
        Severity::Info => ("sev-info", "Info"),
    }
}

/// One configuration item the target version requires and the file lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingItem {
    /// Key path, e.g. `global.database.host`.
    pub key: String,
    /// Expected type.
    pub item_type: String,
    /// What it is for.
    pub description: String,
}

/// The `missing-config-item` findings as rows for View Details.
pub fn missing_items(report: &Report) -> Vec<MissingItem> {
    report
        .findings
        .iter()
        .filter(|f| f.code == "missing-config-item")
        .map(|f| MissingItem {
            key: f
                .path
                .clone()
                .or_else(|| detail_str(f, "key"))
                .unwrap_or_default(),
            item_type: detail_str(f, "type").unwrap_or_else(|| "any".into()),
            description: detail_str(f, "description").unwrap_or_default(),
        })
        .collect()
}

/// The template comparison of a non-standard bundle against the version's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateComparison {
    /// The version's template digest.
    pub expected: Option<String>,
    /// The bundle's template digest.
    pub actual: Option<String>,
    /// Files whose MD5 differs.
    pub changed: Vec<String>,
    /// Files only in the bundle.
    pub added: Vec<String>,
    /// Files only in the version's template.
    pub missing: Vec<String>,
    /// Whether the operator must confirm before starting.
    pub needs_confirmation: bool,
}

/// The `template-md5-mismatch` finding, if any, with both digests (`version_digest` from the versions list when
/// the finding does not carry it).
pub fn template_comparison(
    report: &Report,
    version_digest: Option<&str>,
) -> Option<TemplateComparison> {
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "template-md5-mismatch")?;
    Some(TemplateComparison {
        expected: detail_str(f, "expected").or_else(|| version_digest.map(String::from)),
        actual: detail_str(f, "actual").or_else(|| report.template_digest.clone()),
        changed: detail_list(f, "changed"),
        added: detail_list(f, "added"),
        missing: detail_list(f, "missing"),
        needs_confirmation: f.needs_confirmation,
    })
}

/// One row of the difference from the running values.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    /// Key path.
    pub path: String,
    /// `changed`, `added` or `removed`.
    pub change: &'static str,
    /// The running value, masked when secret; empty when added.
    pub running: String,
    /// The uploaded value, masked when secret; empty when removed.
    pub uploaded: String,
}

/// The `online-config-differs` finding as side-by-side rows.
pub fn online_difference(report: &Report) -> Vec<DiffRow> {
    let Some(f) = report
        .findings
        .iter()
        .find(|f| f.code == "online-config-differs")
    else {
        return Vec::new();
    };
    let Some(details) = &f.details else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (change, key) in [
        ("changed", "changed"),
        ("added", "added"),
        ("removed", "removed"),
    ] {
        let Some(Value::Array(items)) = details.get(key) else {
            continue;
        };
        for item in items {
            let (path, old, new) = match item {
                Value::String(path) => (path.clone(), None, None),
                Value::Object(o) => (
                    o.get("path").map(show).unwrap_or_default(),
                    o.get("old").or_else(|| o.get("running")),
                    o.get("new")
                        .or_else(|| o.get("uploaded"))
                        .or_else(|| o.get("value")),
                ),
                _ => continue,
            };
            // The agent's reports are masked already; the console masks again with the same rule, so a report
            // from anywhere never shows a secret here. A path that does not parse is masked whole.
            let key_path = KeyPath::parse(&path).ok();
            let render = |v: Option<&Value>| match (v, &key_path) {
                (None, _) => String::new(),
                (Some(v), Some(key_path)) => show(&secrets::masked(key_path, v)),
                (Some(_), None) => MASK.to_string(),
            };
            let (running, uploaded) = match change {
                "added" => (String::new(), render(new.or(old))),
                "removed" => (render(old.or(new)), String::new()),
                _ => (render(old), render(new)),
            };
            rows.push(DiffRow {
                path,
                change,
                running,
                uploaded,
            });
        }
    }
    rows
}

/// Why the chart accepts keys it does not list at a place (`values-open-key`), when the finding says.
pub fn open_reason(f: &Finding) -> Option<String> {
    detail_str(f, "open")
}

/// The closest existing path a compatibility finding suggests, when it has one.
pub fn suggestion(f: &Finding) -> Option<String> {
    detail_str(f, "suggestion")
        .or_else(|| detail_str(f, "did_you_mean"))
        .or_else(|| detail_str(f, "closest"))
}

/// Compatibility problems (the upgrade is blocked by each).
pub fn compatibility_problems(report: &Report) -> Vec<Finding> {
    const CODES: [&str; 5] = [
        "values-unknown-key",
        "values-type-conflict",
        "overlay-target-missing",
        "overlay-invalid",
        "overlay-type-conflict",
    ];
    report
        .findings
        .iter()
        .filter(|f| CODES.contains(&f.code.as_str()))
        .cloned()
        .collect()
}

fn detail_str(f: &Finding, key: &str) -> Option<String> {
    f.details
        .as_ref()?
        .get(key)
        .map(show)
        .filter(|s| !s.is_empty())
}

fn detail_list(f: &Finding, key: &str) -> Vec<String> {
    match f.details.as_ref().and_then(|d| d.get(key)) {
        Some(Value::Array(items)) => items.iter().map(show).collect(),
        _ => Vec::new(),
    }
}

/// A JSON value as an operator reads it: strings without quotes, the rest as compact JSON.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(code: &str, severity: Severity, details: Value) -> Finding {
        Finding {
            code: code.into(),
            severity,
            needs_confirmation: code == "template-md5-mismatch",
            message: format!("{code} happened"),
            file: Some("values.yaml".into()),
            line: Some(3),
            column: Some(5),
            path: Some("global.database.host".into()),
            details: Some(details),
        }
    }

    #[test]
    fn missing_items_list_key_type_and_description() {
        let report = Report {
            ok: false,
            template_digest: None,
            findings: vec![finding(
                "missing-config-item",
                Severity::Error,
                json!({"type": "string", "description": "Metadata database host"}),
            )],
        };
        assert_eq!(
            missing_items(&report),
            [MissingItem {
                key: "global.database.host".into(),
                item_type: "string".into(),
                description: "Metadata database host".into()
            }]
        );
        assert_eq!(
            counts(&report),
            Counts {
                errors: 1,
                warnings: 0,
                infos: 0
            }
        );
        assert_eq!(location(&report.findings[0]), "values.yaml:3:5");
    }

    #[test]
    fn secrets_are_masked_in_the_difference() {
        let report = Report {
            ok: true,
            template_digest: None,
            findings: vec![finding(
                "online-config-differs",
                Severity::Warning,
                json!({
                    "changed": [
                        {"path": "global.database.password", "old": "hunter2", "new": "s3cret"},
                        {"path": "web.replicas", "old": 2, "new": 3}
                    ],
                    "added": [
                        {"path": "web.apiToken", "new": "abc"},
                        {"path": "extraDeploy", "new": [{"stringData": {"password": "listed"}, "kind": "Secret"}]}
                    ],
                    "removed": [{"path": "web.theme", "old": "dark"}, {"path": "web.existingSecret", "old": "web-db"}]
                }),
            )],
        };
        let rows = online_difference(&report);
        assert_eq!(rows.len(), 6);
        assert_eq!(
            rows[5].running, "web-db",
            "the name of a Secret is not a secret"
        );
        assert_eq!(
            rows[3].uploaded, r#"[{"kind":"Secret","stringData":{"password":"******"}}]"#,
            "a secret inside a list is masked, the rest shown"
        );
        assert_eq!(
            (rows[0].running.as_str(), rows[0].uploaded.as_str()),
            (MASK, MASK)
        );
        assert_eq!(
            (rows[1].running.as_str(), rows[1].uploaded.as_str()),
            ("2", "3")
        );
        assert_eq!((rows[2].change, rows[2].uploaded.as_str()), ("added", MASK));
        assert_eq!(
            (rows[4].change, rows[4].running.as_str()),
            ("removed", "dark")
        );
        let all = format!("{rows:?}");
        assert!(!all.contains("hunter2") && !all.contains("s3cret") && !all.contains("abc"));
        assert!(!all.contains("listed"));
    }

    #[test]
    fn open_places_say_why() {
        let f = finding(
            "values-open-key",
            Severity::Info,
            json!({"open": "a Kubernetes node selector takes any node labels", "keys": ["node-role"]}),
        );
        assert_eq!(
            open_reason(&f).as_deref(),
            Some("a Kubernetes node selector takes any node labels")
        );
        assert_eq!(location(&f), "values.yaml:3:5");
        assert_eq!(
            open_reason(&finding("values-unknown-key", Severity::Error, json!({}))),
            None
        );
    }

    #[test]
    fn template_comparison_shows_both_digests_and_the_files() {
        let report = Report {
            ok: true,
            template_digest: Some("bbbb".into()),
            findings: vec![finding(
                "template-md5-mismatch",
                Severity::Warning,
                json!({"changed": ["templates/gateway.yaml"], "added": ["extra.yaml"], "missing": []}),
            )],
        };
        let cmp = template_comparison(&report, Some("aaaa")).expect("a mismatch");
        assert_eq!(cmp.expected.as_deref(), Some("aaaa"));
        assert_eq!(cmp.actual.as_deref(), Some("bbbb"));
        assert_eq!(cmp.changed, ["templates/gateway.yaml"]);
        assert_eq!(cmp.added, ["extra.yaml"]);
        assert!(cmp.needs_confirmation && shared::start::needs_confirmation(&report));
    }

    #[test]
    fn errors_come_first() {
        let report = Report {
            ok: false,
            template_digest: None,
            findings: vec![
                finding("online-config-differs", Severity::Warning, json!({})),
                finding(
                    "values-unknown-key",
                    Severity::Error,
                    json!({"suggestion": "web.replicas"}),
                ),
            ],
        };
        let sorted = by_severity(&report);
        assert_eq!(sorted[0].code, "values-unknown-key");
        assert_eq!(suggestion(&sorted[0]).as_deref(), Some("web.replicas"));
        assert_eq!(compatibility_problems(&report).len(), 1);
    }
}
