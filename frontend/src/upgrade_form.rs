//! What the Upgrade page needs before Start Upgrade can be pressed, and what it still lacks, in words.

use shared::api::{UpgradeMode, ZeroDowntimeDecision};
use shared::report::Report;

/// The operator's choices on the Upgrade page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpgradeChoices {
    /// The target version chosen.
    pub target: Option<String>,
    /// The configuration file's report from the browser's checks, once checked.
    pub report: Option<Report>,
    /// Whether the check is still running.
    pub checking: bool,
    /// Whether the template mismatch was confirmed.
    pub mismatch_confirmed: bool,
    /// The zero-downtime decision for the chosen target.
    pub decision: Option<ZeroDowntimeDecision>,
    /// The mode chosen.
    pub mode: Option<UpgradeMode>,
    /// Whether the risk disclaimer is ticked.
    pub risk_accepted: bool,
    /// Whether another upgrade runs now.
    pub another_running: bool,
}

impl UpgradeChoices {
    /// Everything that still stops the upgrade from starting; empty means Start Upgrade is enabled.
    pub fn blockers(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.another_running {
            missing.push("Another upgrade is in progress.");
        }
        if self.target.is_none() {
            missing.push("Choose a target version.");
        }
        match (&self.report, self.checking) {
            (_, true) => missing.push("Wait for the configuration check to finish."),
            (None, false) => missing.push("Upload a configuration file."),
            (Some(r), false) if !r.ok => missing.push("Fix the errors in the configuration file."),
            (Some(r), false) => {
                if crate::findings::needs_confirmation(r) && !self.mismatch_confirmed {
                    missing.push("Confirm the template difference.");
                }
            }
        }
        match self.mode {
            None => missing.push("Choose an upgrade mode."),
            Some(UpgradeMode::ZeroDowntime) if !self.zero_downtime_allowed() => {
                missing.push("Zero-downtime is not possible for this target: choose Downtime.")
            }
            _ => {}
        }
        if !self.risk_accepted {
            missing.push("Accept the risk disclaimer.");
        }
        missing
    }

    /// Whether a rolling upgrade is possible for the chosen target.
    pub fn zero_downtime_allowed(&self) -> bool {
        self.decision.as_ref().is_some_and(|d| d.allowed)
    }

    /// The mode to preselect once the decision is known: zero-downtime when possible, else downtime.
    pub fn default_mode(decision: &ZeroDowntimeDecision) -> UpgradeMode {
        if decision.allowed {
            UpgradeMode::ZeroDowntime
        } else {
            UpgradeMode::Downtime
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::report::{Finding, Severity};

    fn ready() -> UpgradeChoices {
        UpgradeChoices {
            target: Some("V5.1.2.04".into()),
            report: Some(Report {
                ok: true,
                template_digest: None,
                findings: vec![],
            }),
            checking: false,
            mismatch_confirmed: false,
            decision: Some(ZeroDowntimeDecision {
                allowed: true,
                reasons: vec![],
            }),
            mode: Some(UpgradeMode::ZeroDowntime),
            risk_accepted: true,
            another_running: false,
        }
    }

    #[test]
    fn start_is_enabled_only_when_everything_holds() {
        assert!(ready().blockers().is_empty());
        let no_risk = UpgradeChoices {
            risk_accepted: false,
            ..ready()
        };
        assert_eq!(no_risk.blockers(), ["Accept the risk disclaimer."]);
        let nothing = UpgradeChoices::default();
        assert_eq!(nothing.blockers().len(), 4);
    }

    #[test]
    fn a_template_mismatch_must_be_confirmed() {
        let mismatch = Finding {
            code: "template-md5-mismatch".into(),
            severity: Severity::Warning,
            needs_confirmation: true,
            message: "differs".into(),
            file: None,
            line: None,
            column: None,
            path: None,
            details: None,
        };
        let mut choices = ready();
        choices.report = Some(Report {
            ok: true,
            template_digest: None,
            findings: vec![mismatch],
        });
        assert_eq!(choices.blockers(), ["Confirm the template difference."]);
        choices.mismatch_confirmed = true;
        assert!(choices.blockers().is_empty());
    }

    #[test]
    fn errors_and_an_impossible_rolling_upgrade_block() {
        let mut choices = ready();
        choices.report = Some(Report {
            ok: false,
            template_digest: None,
            findings: vec![],
        });
        choices.decision = Some(ZeroDowntimeDecision {
            allowed: false,
            reasons: vec![],
        });
        assert_eq!(
            choices.blockers(),
            [
                "Fix the errors in the configuration file.",
                "Zero-downtime is not possible for this target: choose Downtime."
            ]
        );
        assert_eq!(
            UpgradeChoices::default_mode(choices.decision.as_ref().unwrap()),
            UpgradeMode::Downtime
        );
    }
}
