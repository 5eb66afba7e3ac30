//! Whether an upgrade may start: the rules the console shows before Start Upgrade can be pressed and the agent
//! enforces on `POST /api/v1/upgrades`, written once so that the two cannot disagree.

use crate::api::{Role, RoleRefusal, UpgradeMode, ZeroDowntimeDecision};
use crate::report::{Finding, Report, Severity};

/// The role an account needs to start an upgrade.
pub const ROLE_NEEDED: Role = Role::Operator;

/// What starting is called in a refusal: "Starting an upgrade needs the operator role; …".
pub const ACTION: &str = "Starting an upgrade";

/// Where the configuration file stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Configuration<'a> {
    /// No file chosen yet.
    Missing,
    /// The file is being read or checked.
    Checking,
    /// Checked: the report.
    Checked(&'a Report),
}

/// Everything a start depends on: who asks, what runs now, and the operator's choices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartRequest<'a> {
    /// The role of the account asking.
    pub role: Role,
    /// The upgrade running now, if any: its id.
    pub running: Option<i64>,
    /// The target version chosen.
    pub target: Option<&'a str>,
    /// The configuration file and its check.
    pub configuration: Configuration<'a>,
    /// Whether the operator confirmed the template difference.
    pub mismatch_confirmed: bool,
    /// Whether a rolling upgrade is possible for the target, once known.
    pub decision: Option<&'a ZeroDowntimeDecision>,
    /// The mode chosen.
    pub mode: Option<UpgradeMode>,
    /// Whether the operator accepted the risk disclaimer.
    pub risk_accepted: bool,
}

/// One reason an upgrade cannot start.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    /// The account's role is below [`ROLE_NEEDED`].
    Role(RoleRefusal),
    /// Another upgrade runs: its id.
    Running(i64),
    /// No target version chosen.
    NoTarget,
    /// No configuration file.
    NoConfiguration,
    /// The configuration is still being checked.
    Checking,
    /// The configuration's report has errors (they are in the report).
    ConfigurationErrors,
    /// The report holds a finding that needs confirming (the template differs) and it was not confirmed.
    MismatchNotConfirmed,
    /// No mode chosen.
    NoMode,
    /// Zero-downtime was chosen but is not possible: the decision's reasons (none while it is not known).
    ZeroDowntimeNotPossible(Vec<Finding>),
    /// The risk disclaimer was not accepted.
    RiskNotAccepted,
}

impl Blocker {
    /// Stable code: the agent's error code (`forbidden`, `upgrade-running`) or its report's finding code.
    pub fn code(&self) -> &'static str {
        match self {
            Blocker::Role(_) => "forbidden",
            Blocker::Running(_) => "upgrade-running",
            Blocker::NoTarget => "target-missing",
            Blocker::NoConfiguration => "config-missing",
            Blocker::Checking => "config-checking",
            Blocker::ConfigurationErrors => "config-invalid",
            Blocker::MismatchNotConfirmed => "confirmation-required",
            Blocker::NoMode => "mode-missing",
            Blocker::ZeroDowntimeNotPossible(_) => "zero-downtime-not-possible",
            Blocker::RiskNotAccepted => "risk-not-accepted",
        }
    }

    /// What a refused start's report adds for it: the zero-downtime reasons as errors, nothing for configuration
    /// errors (the report holds them already), else one error with the code and the sentence.
    pub fn findings(&self) -> Vec<Finding> {
        match self {
            Blocker::ConfigurationErrors => Vec::new(),
            Blocker::ZeroDowntimeNotPossible(reasons) if !reasons.is_empty() => reasons
                .iter()
                .map(|reason| {
                    let mut reason = reason.clone();
                    reason.severity = Severity::Error;
                    reason.message = format!("zero-downtime is not possible: {}", reason.message);
                    reason
                })
                .collect(),
            other => vec![Finding::error(other.code(), other.to_string())],
        }
    }
}

impl std::fmt::Display for Blocker {
    /// The sentence the console lists under Start Upgrade and the agent answers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::Role(refusal) => f.write_str(&refusal.sentence(ACTION)),
            Blocker::Running(id) => {
                write!(
                    f,
                    "Upgrade #{id} is in progress; one upgrade runs at a time."
                )
            }
            Blocker::NoTarget => f.write_str("Choose a target version."),
            Blocker::NoConfiguration => f.write_str("Upload a configuration file."),
            Blocker::Checking => f.write_str("Wait for the configuration check to finish."),
            Blocker::ConfigurationErrors => {
                f.write_str("Fix the errors in the configuration file.")
            }
            Blocker::MismatchNotConfirmed => f.write_str("Confirm the template difference."),
            Blocker::NoMode => f.write_str("Choose an upgrade mode."),
            Blocker::ZeroDowntimeNotPossible(_) => {
                f.write_str("Zero-downtime is not possible for this target: choose Downtime.")
            }
            Blocker::RiskNotAccepted => f.write_str("Accept the risk disclaimer."),
        }
    }
}

/// Every reason the upgrade cannot start, in the order the operator meets them on the Upgrade page; empty means
/// it may start.
pub fn blockers(request: &StartRequest) -> Vec<Blocker> {
    let mut found = Vec::new();
    if let Err(refusal) = request.role.may(ROLE_NEEDED) {
        found.push(Blocker::Role(refusal));
    }
    if let Some(id) = request.running {
        found.push(Blocker::Running(id));
    }
    if request.target.is_none() {
        found.push(Blocker::NoTarget);
    }
    match request.configuration {
        Configuration::Missing => found.push(Blocker::NoConfiguration),
        Configuration::Checking => found.push(Blocker::Checking),
        Configuration::Checked(report) if !report.ok => found.push(Blocker::ConfigurationErrors),
        Configuration::Checked(report) => {
            if needs_confirmation(report) && !request.mismatch_confirmed {
                found.push(Blocker::MismatchNotConfirmed);
            }
        }
    }
    match (request.mode, request.decision) {
        (None, _) => found.push(Blocker::NoMode),
        (Some(UpgradeMode::ZeroDowntime), None) => {
            found.push(Blocker::ZeroDowntimeNotPossible(Vec::new()))
        }
        (Some(UpgradeMode::ZeroDowntime), Some(decision)) if !decision.allowed => {
            found.push(Blocker::ZeroDowntimeNotPossible(decision.reasons.clone()))
        }
        _ => {}
    }
    if !request.risk_accepted {
        found.push(Blocker::RiskNotAccepted);
    }
    found
}

/// Whether a report holds a finding the operator must confirm before starting (a template difference).
pub fn needs_confirmation(report: &Report) -> bool {
    report.findings.iter().any(|f| f.needs_confirmation)
}

/// The mode to preselect once the decision is known: zero-downtime when possible, else downtime.
pub fn default_mode(decision: &ZeroDowntimeDecision) -> UpgradeMode {
    if decision.allowed {
        UpgradeMode::ZeroDowntime
    } else {
        UpgradeMode::Downtime
    }
}
