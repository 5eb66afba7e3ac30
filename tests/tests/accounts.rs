//! The Accounts page in headless Chromium against a real agent (ignored by default: `cargo nextest run -p
//! system-tests --run-ignored only`, after building the console).

use std::time::Duration;

use anyhow::Result;
use fantoccini::Locator;
use system_tests::Console;

/// Long enough for the debug build of the console on a busy 2-core machine.
const SHORT: Duration = Duration::from_secs(30);

/// Logs on as `username` from the logon page.
async fn log_on_as(console: &Console, username: &str, password: &str) -> Result<()> {
    console.type_into("#username", username).await?;
    console.type_into("#password", password).await?;
    console.click("#log-on").await
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn an_admin_adds_an_operator_who_then_sees_no_accounts_page() -> Result<()> {
    let console = Console::start().await?;
    console.open("/opsconsole/v2/accounts").await?;
    console.log_on().await?;
    console.wait_text("#current-user", "admin", SHORT).await?;
    assert_eq!(console.path().await?, "/opsconsole/v2/accounts");
    console
        .wait_text("#nav-accounts", "Accounts", SHORT)
        .await?;
    console
        .wait_text("#accounts tr[data-account='admin']", "(you)", SHORT)
        .await?;

    // A refusal is shown next to the form; nothing is added.
    console.type_into("#new-username", "oscar").await?;
    console
        .find("#new-role")
        .await?
        .select_by_value("operator")
        .await?;
    console.type_into("#new-password", "short").await?;
    console.click("#add-account").await?;
    console
        .wait_text(
            "#add-result .control-error",
            "account `oscar`: the password has 5 characters; it needs at least 12",
            SHORT,
        )
        .await?;

    console.type_into("#new-password", "-enough-now").await?;
    console.click("#add-account").await?;
    console
        .wait_text(
            "#add-result",
            "Account oscar added with the operator role.",
            SHORT,
        )
        .await?;
    let row = console.find("#accounts tr[data-account='oscar']").await?;
    let role = row
        .find(Locator::Css(".role-select"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(role.as_deref(), Some("operator"), "the new row's role");
    console
        .wait_text(
            "#account-changes tbody tr",
            "added with the operator role",
            SHORT,
        )
        .await?;
    let change = console
        .find("#account-changes tbody tr")
        .await?
        .text()
        .await?;
    assert!(
        change.contains("oscar") && change.ends_with("admin"),
        "{change}"
    );
    console.screenshot("accounts").await;

    // The last admin can be neither demoted nor removed (after the confirmation): the refusal is next to the control.
    let admin_row = "#accounts tr[data-account='admin']";
    console
        .find(&format!("{admin_row} .role-select"))
        .await?
        .select_by_value("viewer")
        .await?;
    console.click(&format!("{admin_row} .change-role")).await?;
    console
        .wait_text(
            &format!("{admin_row} td:nth-child(2) .control-error"),
            "account `admin`: it is the last admin and cannot be demoted",
            SHORT,
        )
        .await?;
    console
        .click(&format!("{admin_row} .remove-account"))
        .await?;
    console.client.accept_alert().await?;
    console
        .wait_text(
            &format!("{admin_row} td:nth-child(6) .control-error"),
            "it is the last admin and cannot be removed",
            SHORT,
        )
        .await?;

    // The operator's password is reset; it logs on with the new one below.
    let oscar_row = "#accounts tr[data-account='oscar']";
    console
        .type_into(
            &format!("{oscar_row} .new-password"),
            "oscar-reset-password",
        )
        .await?;
    console
        .click(&format!("{oscar_row} .reset-password"))
        .await?;
    console
        .wait_text(oscar_row, "Password set; its sessions ended.", SHORT)
        .await?;
    console.screenshot("accounts-refusals").await;

    // The operator logs on: no Accounts entry, and the page's address says why it cannot be used.
    console.click("#log-off").await?;
    console.find("#username").await?;
    log_on_as(&console, "oscar", "oscar-reset-password").await?;
    console
        .wait_text("#current-user", "oscar (operator)", SHORT)
        .await?;
    let entries = console
        .client
        .find_all(Locator::Css("#nav-accounts"))
        .await?;
    assert!(entries.is_empty(), "an operator has no Accounts entry");
    console.find("#nav-upgrade").await?;
    console.open("/opsconsole/v2/accounts").await?;
    console
        .wait_text(
            "#accounts-not-allowed",
            "You are logged on as oscar with the operator role",
            SHORT,
        )
        .await?;
    assert!(
        console
            .client
            .find_all(Locator::Css("#accounts, #add-account-form"))
            .await?
            .is_empty(),
        "no account tools for an operator"
    );
    console.screenshot("accounts-not-allowed").await;
    console.close().await;
    Ok(())
}
