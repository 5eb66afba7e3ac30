//! The report: the one structure every check produces (formats.md, "The report").

use serde::{Deserialize, Serialize};

/// How serious a finding is: any `Error` makes the report not ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the import or the upgrade.
    Error,
    /// Shown to the operator; may need an explicit confirmation.
    Warning,
    /// For information only.
    Info,
}

/// One thing a check found, with where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable code, e.g. `missing-config-item` (formats.md lists them).
    pub code: String,
    /// Error, warning or info.
    pub severity: Severity,
    /// Whether the operator must confirm it before the upgrade can start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_confirmation: bool,
    /// A sentence an operator understands.
    pub message: String,
    /// The file it is about, as named in the upload or inside the ZIP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line in that file, for YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based column in that file, for YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// Key path it is about, e.g. `global.database.host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Code-specific details (missing item type and description, changed files, differences...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// What a check says about one upload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Report {
    /// True when no finding is an error.
    pub ok: bool,
    /// The template digest of the bundle or package checked, when it has a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_digest: Option<String>,
    /// Everything found, errors first.
    pub findings: Vec<Finding>,
}
