//! The rules for starting an upgrade (`shared::start`), natively and in headless Chromium: the console and the agent
//! both call them, so both targets are held to the same answers. In the browser, run with
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver
//! cargo test -p shared --target wasm32-unknown-unknown --test start`.

use shared::api::{Role, RoleRefusal, UpgradeMode, ZeroDowntimeDecision};
use shared::report::{Finding, Report, Severity};
use shared::start::{
    Blocker, Configuration, ROLE_NEEDED, StartRequest, blockers, default_mode, needs_confirmation,
};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// One test per function, as `#[test]` natively and `#[wasm_bindgen_test]` in the browser.
macro_rules! both_targets {
    ($(fn $name:ident() $body:block)*) => {
        $(
            #[cfg_attr(not(target_arch = "wasm32"), test)]
            #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
            fn $name() $body
        )*
    };
}

fn clean() -> Report {
    Report::new(vec![], None)
}

fn with_errors() -> Report {
    Report::new(
        vec![Finding::error(
            "missing-config-item",
            "values.yaml lacks global.database.host",
        )],
        None,
    )
}

fn template_changed() -> Report {
    Report::new(
        vec![
            Finding::warning("template-md5-mismatch", "product/demo/a.yaml differs")
                .needing_confirmation(),
        ],
        None,
    )
}

fn rolling_allowed() -> ZeroDowntimeDecision {
    ZeroDowntimeDecision {
        allowed: true,
        reasons: vec![],
    }
}

fn rolling_refused() -> ZeroDowntimeDecision {
    ZeroDowntimeDecision {
        allowed: false,
        reasons: vec![Finding::warning(
            "zero-downtime-segments-differ",
            "V5.2 is not in the same segment as V5.1",
        )],
    }
}

/// An operator with everything chosen: the upgrade may start.
fn ready<'a>(report: &'a Report, decision: &'a ZeroDowntimeDecision) -> StartRequest<'a> {
    StartRequest {
        role: Role::Operator,
        running: None,
        target: Some("V5.1.2.04"),
        configuration: Configuration::Checked(report),
        mismatch_confirmed: false,
        decision: Some(decision),
        mode: Some(UpgradeMode::ZeroDowntime),
        risk_accepted: true,
    }
}

fn codes(found: &[Blocker]) -> Vec<&'static str> {
    found.iter().map(Blocker::code).collect()
}

both_targets! {
    fn everything_chosen_by_an_operator_or_admin_starts() {
        let (report, decision) = (clean(), rolling_allowed());
        assert_eq!(blockers(&ready(&report, &decision)), []);
        let admin = StartRequest { role: Role::Admin, ..ready(&report, &decision) };
        assert_eq!(blockers(&admin), []);
    }

    fn a_viewer_is_told_the_role_starting_needs() {
        let (report, decision) = (clean(), rolling_allowed());
        let viewer = StartRequest { role: Role::Viewer, ..ready(&report, &decision) };
        let found = blockers(&viewer);
        assert_eq!(
            found,
            [Blocker::Role(RoleRefusal { needed: Role::Operator, have: Role::Viewer })]
        );
        assert_eq!(found[0].code(), "forbidden");
        assert_eq!(
            found[0].to_string(),
            "Starting an upgrade needs the operator role; you have the viewer role."
        );
        assert_eq!(ROLE_NEEDED, Role::Operator);
    }

    fn each_role_may_do_what_the_roles_below_it_may() {
        for have in Role::ALL {
            for needed in Role::ALL {
                let verdict = have.may(needed);
                if have >= needed {
                    assert_eq!(verdict, Ok(()), "{have} doing what needs {needed}");
                } else {
                    assert_eq!(verdict, Err(RoleRefusal { needed, have }));
                }
            }
        }
        let refusal = Role::Operator.may(Role::Admin).unwrap_err();
        assert_eq!(
            refusal.sentence("Adding an account"),
            "Adding an account needs the admin role; you have the operator role."
        );
    }

    fn another_running_upgrade_blocks_and_is_named() {
        let (report, decision) = (clean(), rolling_allowed());
        let busy = StartRequest { running: Some(7), ..ready(&report, &decision) };
        let found = blockers(&busy);
        assert_eq!(found, [Blocker::Running(7)]);
        assert_eq!(found[0].code(), "upgrade-running");
        assert!(found[0].to_string().contains("#7"), "{}", found[0]);
    }

    fn a_target_must_be_chosen() {
        let (report, decision) = (clean(), rolling_allowed());
        let none = StartRequest { target: None, ..ready(&report, &decision) };
        assert_eq!(blockers(&none), [Blocker::NoTarget]);
        assert_eq!(Blocker::NoTarget.to_string(), "Choose a target version.");
    }

    fn the_configuration_must_be_there_checked_and_without_errors() {
        let (report, decision) = (with_errors(), rolling_allowed());
        let missing = StartRequest { configuration: Configuration::Missing, ..ready(&report, &decision) };
        assert_eq!(blockers(&missing), [Blocker::NoConfiguration]);
        let checking = StartRequest { configuration: Configuration::Checking, ..ready(&report, &decision) };
        assert_eq!(blockers(&checking), [Blocker::Checking]);
        let found = blockers(&ready(&report, &decision));
        assert_eq!(found, [Blocker::ConfigurationErrors]);
        assert_eq!(found[0].to_string(), "Fix the errors in the configuration file.");
        // The report holds the errors already: the refusal adds nothing to it.
        assert_eq!(found[0].findings(), []);
    }

    fn a_template_difference_must_be_confirmed() {
        let (report, decision) = (template_changed(), rolling_allowed());
        assert!(report.ok && needs_confirmation(&report));
        let found = blockers(&ready(&report, &decision));
        assert_eq!(codes(&found), ["confirmation-required"]);
        assert!(found[0].to_string().starts_with("Confirm the template difference"));
        let confirmed = StartRequest { mismatch_confirmed: true, ..ready(&report, &decision) };
        assert_eq!(blockers(&confirmed), []);
        assert!(!needs_confirmation(&clean()));
    }

    fn zero_downtime_only_where_it_is_possible() {
        let (report, refused) = (clean(), rolling_refused());
        let found = blockers(&ready(&report, &refused));
        assert_eq!(codes(&found), ["zero-downtime-not-possible"]);
        assert_eq!(
            found[0].to_string(),
            "Zero-downtime is not possible for this target: choose Downtime."
        );
        // The agent's report carries each reason as an error, with its own code.
        let findings = found[0].findings();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "zero-downtime-segments-differ");
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(findings[0].message.starts_with("zero-downtime is not possible: "));

        let downtime = StartRequest { mode: Some(UpgradeMode::Downtime), ..ready(&report, &refused) };
        assert_eq!(blockers(&downtime), []);
        let unknown = StartRequest { decision: None, ..ready(&report, &refused) };
        assert_eq!(codes(&blockers(&unknown)), ["zero-downtime-not-possible"]);
        assert_eq!(default_mode(&refused), UpgradeMode::Downtime);
        assert_eq!(default_mode(&rolling_allowed()), UpgradeMode::ZeroDowntime);
    }

    fn a_mode_must_be_chosen() {
        let (report, decision) = (clean(), rolling_allowed());
        let none = StartRequest { mode: None, ..ready(&report, &decision) };
        assert_eq!(blockers(&none), [Blocker::NoMode]);
    }

    fn the_risk_must_be_accepted() {
        let (report, decision) = (clean(), rolling_allowed());
        let no_risk = StartRequest { risk_accepted: false, ..ready(&report, &decision) };
        let found = blockers(&no_risk);
        assert_eq!(found, [Blocker::RiskNotAccepted]);
        assert_eq!(found[0].to_string(), "Accept the risk disclaimer.");
        let findings = found[0].findings();
        assert_eq!(
            (findings[0].code.as_str(), findings[0].severity),
            ("risk-not-accepted", Severity::Error)
        );
    }

    fn every_reason_is_listed_in_the_order_of_the_page() {
        let nothing = StartRequest {
            role: Role::Viewer,
            running: Some(3),
            target: None,
            configuration: Configuration::Missing,
            mismatch_confirmed: false,
            decision: None,
            mode: None,
            risk_accepted: false,
        };
        assert_eq!(
            codes(&blockers(&nothing)),
            [
                "forbidden",
                "upgrade-running",
                "target-missing",
                "config-missing",
                "mode-missing",
                "risk-not-accepted"
            ]
        );
    }
}
