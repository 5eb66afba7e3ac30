//! The console in headless Chromium against a real agent running the demo product (run with E2E=1).

use std::time::Duration;

use anyhow::Result;
use fantoccini::Locator;
use system_tests::{Console, demo_file, enabled};

const SHORT: Duration = Duration::from_secs(20);

/// Logs on from a deep link and lands back on it; uploads V5.1.2.04's package; selects it.
async fn to_upgrade_page_with_target(console: &Console) -> Result<()> {
    console.open("/opsconsole/v2/upgrade").await?;
    console.find("#username").await?;
    assert!(
        console
            .path()
            .await?
            .starts_with("/opsconsole/v2/login?next="),
        "sent to the logon page"
    );
    console.log_on().await?;
    console.wait_text("#current-user", "admin", SHORT).await?;
    assert_eq!(
        console.path().await?,
        "/opsconsole/v2/upgrade",
        "back where the operator was"
    );
    console.click("#upload-version summary").await?;
    console
        .upload("#version-file", &demo_file("demo/versions/V5.1.2.04.zip"))
        .await?;
    console
        .wait_text("#version-check .check-note", "V5.1.2.04 imported.", SHORT)
        .await?;
    console
        .find("#target-version option[value='V5.1.2.04']")
        .await?;
    console
        .find("#target-version")
        .await?
        .select_by_value("V5.1.2.04")
        .await?;
    Ok(())
}

#[tokio::test]
async fn zero_downtime_upgrade_from_logon_to_its_record() -> Result<()> {
    if !enabled("zero_downtime_upgrade_from_logon_to_its_record") {
        return Ok(());
    }
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    console.screenshot("upgrade-page").await;

    // A configuration with missing items: each one listed under View Details.
    console
        .upload(
            "#config-file",
            &demo_file("demo/config/standard-V5.1.2.04-missing-items.yaml"),
        )
        .await?;
    console
        .wait_text("#config-check .report-summary", "error", SHORT)
        .await?;
    console.click("#config-check .view-details").await?;
    console.find("#config-check .missing-items").await?;
    let rows = console
        .client
        .find_all(Locator::Css("#config-check .missing-items tbody tr"))
        .await?;
    assert!(!rows.is_empty(), "each missing item has a row");
    let first = rows[0].text().await?;
    assert!(
        first.contains('.'),
        "a row shows the item's key path: {first}"
    );
    console.screenshot("missing-items").await;
    assert!(!console.enabled("#start-upgrade").await?);

    // The good one: no errors; zero-downtime is possible and preselected.
    console
        .upload(
            "#config-file",
            &demo_file("demo/config/standard-V5.1.2.04.yaml"),
        )
        .await?;
    console
        .wait_text_any(
            "#config-check .report-summary",
            &["No problems found.", "0 errors"],
            SHORT,
        )
        .await?;
    assert!(
        console
            .find("#mode-zero-downtime")
            .await?
            .is_selected()
            .await?,
        "zero-downtime preselected"
    );
    assert!(
        !console.enabled("#start-upgrade").await?,
        "the risk disclaimer is still needed"
    );
    console.click("#risk").await?;
    console.wait_enabled("#start-upgrade").await?;
    console.screenshot("ready-to-start").await;
    console.click("#start-upgrade").await?;

    // Progress: the bar and the log reach the end.
    console
        .wait_text("#upgrade-status", "Succeeded", Duration::from_secs(180))
        .await?;
    console.wait_text("#progress-count", "100%", SHORT).await?;
    console.wait_text("#log-connection", "Ended", SHORT).await?;
    let lines = console
        .client
        .find_all(Locator::Css(".log-line"))
        .await?
        .len();
    assert!(lines > 0, "the log shows lines");
    console.screenshot("progress-succeeded").await;

    // The record.
    console.click("#nav-records").await?;
    let records = console.wait_text("#records", "V5.1.2.04", SHORT).await?;
    assert!(
        records.contains("V5.1.2.02 → V5.1.2.04") && records.contains("Succeeded"),
        "{records}"
    );
    console.screenshot("records").await;
    console.close().await;
    Ok(())
}

#[tokio::test]
async fn a_changed_template_needs_confirmation() -> Result<()> {
    if !enabled("a_changed_template_needs_confirmation") {
        return Ok(());
    }
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    console.click("#kind-non-standard").await?;
    console
        .upload(
            "#config-file",
            &demo_file("demo/config/nonstandard-V5.1.2.04-template-changed.zip"),
        )
        .await?;
    let comparison = console
        .wait_text(
            "#config-check .template-comparison",
            "Bundle template MD5",
            SHORT,
        )
        .await?;
    assert!(comparison.contains("Version template MD5"), "{comparison}");
    console.click("#risk").await?;
    console
        .wait_text("#blockers", "Confirm the template difference.", SHORT)
        .await?;
    assert!(!console.enabled("#start-upgrade").await?);
    console.screenshot("template-changed").await;
    console.click("#config-check .confirm-mismatch").await?;
    console.wait_enabled("#start-upgrade").await?;
    console.close().await;
    Ok(())
}

#[tokio::test]
async fn an_incompatible_bundle_is_blocked() -> Result<()> {
    if !enabled("an_incompatible_bundle_is_blocked") {
        return Ok(());
    }
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    console.click("#kind-non-standard").await?;
    console
        .upload(
            "#config-file",
            &demo_file("demo/config/nonstandard-V5.1.2.04-incompatible.zip"),
        )
        .await?;
    let problems = console
        .wait_text("#config-check .compatibility-problems", "Blocked", SHORT)
        .await?;
    assert!(
        problems.lines().count() > 1,
        "each problem is listed: {problems}"
    );
    console.click("#risk").await?;
    console
        .wait_text(
            "#blockers",
            "Fix the errors in the configuration file.",
            SHORT,
        )
        .await?;
    assert!(!console.enabled("#start-upgrade").await?);
    console.screenshot("incompatible").await;
    console.close().await;
    Ok(())
}
