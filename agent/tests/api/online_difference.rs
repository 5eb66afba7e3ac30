//! The online difference in the upgrade form's report (issue 11, point 10): the running side is what runs now
//! merged with the running version's own chart, read from its stored package.

use serde_json::{Value, json};

use crate::support::{Agent, UpgradeForm};

#[tokio::test]
async fn the_upgrade_forms_difference_merges_the_running_values_with_the_running_chart() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    // V5.1.2.02 runs; V5.1.2.04's chart adds the default `global.timezone: UTC` and the good bundle sets it to
    // Asia/Shanghai: against the running chart (which has no such default) that is a key added, not a change
    // from UTC, which the target chart's defaults on both sides would show.
    let form = UpgradeForm {
        kind: "non-standard",
        config: "config/nonstandard-V5.1.2.04-good.zip",
        ..UpgradeForm::rolling()
    };
    let (status, body) = admin.post_form("/api/v1/upgrades/check", &form).await;
    assert_eq!(status, 200, "{body}");
    let findings = body["report"]["findings"].as_array().expect("findings");
    let with_code =
        |code: &str| -> Vec<&Value> { findings.iter().filter(|f| f["code"] == code).collect() };
    assert!(with_code("online-chart-unknown").is_empty(), "{body}");
    let differs = with_code("online-config-differs");
    assert_eq!(differs.len(), 1, "{body}");
    let details = &differs[0]["details"];
    assert_eq!(
        details["added"],
        json!([{ "path": "global.timezone", "new": "Asia/Shanghai" }]),
        "{body}"
    );
    assert_eq!(
        details["changed"],
        json!([{
            "path": "global.greeting",
            "old": "Welcome to Dataphin 5.1.2.02",
            "new": "Welcome to Dataphin 5.1.2.04",
        }]),
        "{body}"
    );
    assert_eq!(details["removed"], json!([]), "{body}");
}
