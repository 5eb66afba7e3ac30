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

impl Finding {
    /// A finding of the given severity with only a code and a message.
    pub fn new(severity: Severity, code: &str, message: impl Into<String>) -> Finding {
        Finding {
            code: code.to_string(),
            severity,
            needs_confirmation: false,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            path: None,
            details: None,
        }
    }

    /// An error: blocks the import or the upgrade.
    pub fn error(code: &str, message: impl Into<String>) -> Finding {
        Finding::new(Severity::Error, code, message)
    }

    /// A warning: shown, does not block.
    pub fn warning(code: &str, message: impl Into<String>) -> Finding {
        Finding::new(Severity::Warning, code, message)
    }

    /// Names the file it is about.
    pub fn in_file(mut self, file: impl Into<String>) -> Finding {
        self.file = Some(file.into());
        self
    }

    /// Adds the 1-based line and column.
    pub fn at(mut self, line: u64, column: u64) -> Finding {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Names the key path it is about.
    pub fn with_path(mut self, path: impl Into<String>) -> Finding {
        self.path = Some(path.into());
        self
    }

    /// Adds code-specific details.
    pub fn with_details(mut self, details: serde_json::Value) -> Finding {
        self.details = Some(details);
        self
    }

    /// Marks it as needing the operator's explicit confirmation.
    pub fn needing_confirmation(mut self) -> Finding {
        self.needs_confirmation = true;
        self
    }

    /// Whether it blocks.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Finding {
    /// `error[code]: message`, the form of the readable summary (messages name their file, line and column).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        write!(f, "{severity}[{}]: {}", self.code, self.message)
    }
}

impl Report {
    /// A report of these findings: errors first (then warnings, then information, each in the order found), `ok`
    /// when none is an error.
    pub fn new(findings: Vec<Finding>, template_digest: Option<String>) -> Report {
        // Three piles in order rather than a stable sort: the same result with less code in the console's wasm.
        let mut piles: [Vec<Finding>; 3] = Default::default();
        for finding in findings {
            piles[finding.severity as usize].push(finding);
        }
        let findings: Vec<Finding> = piles.into_iter().flatten().collect();
        Report {
            ok: !findings.iter().any(Finding::is_error),
            template_digest,
            findings,
        }
    }

    /// A report of one finding.
    pub fn single(finding: Finding) -> Report {
        Report::new(vec![finding], None)
    }

    /// The findings with this code.
    pub fn with_code<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings
            .iter()
            .filter(move |finding| finding.code == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_first_and_decide_ok() {
        let warning = Finding::warning("online-config-differs", "w");
        let error = Finding::error("missing-config-item", "e");
        let report = Report::new(vec![warning.clone(), error.clone()], None);
        assert!(!report.ok);
        assert_eq!(report.findings, vec![error, warning.clone()]);
        assert!(Report::new(vec![warning], None).ok);
    }

    #[test]
    fn display_is_severity_code_and_message() {
        let finding = Finding::error("yaml-syntax", "values.yaml line 3, column 5: bad")
            .in_file("values.yaml")
            .at(3, 5);
        assert_eq!(
            finding.to_string(),
            "error[yaml-syntax]: values.yaml line 3, column 5: bad"
        );
    }
}
