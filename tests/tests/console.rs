//! The console in headless Chromium against a real agent running the demo product (ignored by default: `cargo nextest run -p system-tests --run-ignored only`, after building the console).

use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::Locator;
use system_tests::{Console, demo_file, noise, write_zip};

/// Long enough for the debug build of the console on a busy 2-core machine.
const SHORT: Duration = Duration::from_secs(30);

/// Logs on from a deep link and lands back on it; uploads V5.1.2.04's package; selects it.
async fn to_upgrade_page_with_target(console: &Console) -> Result<()> {
    console.open("/opsconsole/v2/upgrade").await?;
    console.find("#username").await?;
    // Time from navigation start to a usable logon form, for docs/console.md.
    let usable_ms = console.script("return performance.now()").await?;
    println!("measured: logon form usable {usable_ms} ms after navigation start");
    console.screenshot("login").await;
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
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn zero_downtime_upgrade_from_logon_to_its_record() -> Result<()> {
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    console.screenshot("upgrade-page").await;

    // The console names its icon, and the agent serves it (a browser would otherwise ask for /favicon.ico: a 404).
    let icon = console
        .script("return document.querySelector('link[rel=icon]').href")
        .await?;
    let icon = icon.as_str().context("the console names an icon")?;
    let answer = reqwest::get(icon).await?;
    assert_eq!(answer.status(), 200, "{icon}");
    assert_eq!(
        answer.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"image/svg+xml"[..]),
        "{icon}"
    );

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
    console
        .screenshot_of("#config-check", "missing-items")
        .await?;
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
    console.screenshot_of("#log", "log").await?;

    // The record.
    console.click("#nav-records").await?;
    let records = console.wait_text("#records", "V5.1.2.04", SHORT).await?;
    assert!(
        records.contains("V5.1.2.02 → V5.1.2.04") && records.contains("Succeeded"),
        "{records}"
    );
    // Under the records, the cluster as it runs now: the platform, and every replica ready on the new version.
    let running = console
        .wait_text("#cluster", "on the local platform", SHORT)
        .await?;
    assert!(
        running.contains("V5.1.2.04 · ready · ")
            && !running.contains("V5.1.2.02")
            && !running.contains("not ready"),
        "{running}"
    );
    console.screenshot("records").await;

    // Back and Forward move between the console's pages without reloading it, and the menu marks where one is.
    console.find("#nav-records[aria-current='page']").await?;
    console.script("window.notReloaded = true").await?;
    console.client.back().await?;
    console
        .wait_text("#upgrade-status", "Succeeded", SHORT)
        .await?;
    assert!(
        console
            .path()
            .await?
            .starts_with("/opsconsole/v2/upgrades/")
    );
    console.client.forward().await?;
    console.wait_text("#records", "V5.1.2.04", SHORT).await?;
    assert_eq!(console.path().await?, "/opsconsole/v2/");
    assert_eq!(
        console.script("return window.notReloaded === true").await?,
        serde_json::json!(true),
        "the page was not reloaded"
    );

    // Log off: back on the logon page, and the records are out of reach until logging on again.
    console.click("#log-off").await?;
    console.find("#username").await?;
    console.open("/opsconsole/v2/").await?;
    console.find("#username").await?;
    assert!(
        console.path().await?.starts_with("/opsconsole/v2/login"),
        "logged off"
    );
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn a_changed_template_needs_confirmation() -> Result<()> {
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    // The same package again: the agent overwrites the stored one, and the console says so.
    console.find("#version-file").await?.clear().await?;
    console
        .upload("#version-file", &demo_file("demo/versions/V5.1.2.04.zip"))
        .await?;
    console
        .wait_text(
            "#version-check .check-note",
            "the stored package was overwritten",
            SHORT,
        )
        .await?;
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
    // The difference merges the running values with V5.1.2.02's own chart (fetched from the agent): the default
    // `global.timezone`, new in V5.1.2.04's chart, is a key added, not a change from the target's `UTC`.
    let added = console
        .wait_text(
            "#config-check .online-difference tr.diff-added",
            "global.timezone",
            SHORT,
        )
        .await?;
    assert!(added.contains("Asia/Shanghai"), "{added}");
    console.click("#risk").await?;
    console
        .wait_text("#blockers", "Confirm the template difference.", SHORT)
        .await?;
    assert!(!console.enabled("#start-upgrade").await?);
    console
        .screenshot_of("#config-check .template-comparison", "template-changed")
        .await?;
    console.click("#config-check .confirm-mismatch").await?;
    console.wait_enabled("#start-upgrade").await?;
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn an_incompatible_bundle_is_blocked() -> Result<()> {
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
    console
        .screenshot_of("#config-check", "incompatible")
        .await?;
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn a_failed_upgrade_rolls_back_and_offers_retry() -> Result<()> {
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    console
        .upload(
            "#config-file",
            &demo_file("demo/config/standard-V5.1.2.04-crash.yaml"),
        )
        .await?;
    console
        .wait_text_any(
            "#config-check .report-summary",
            &["No problems found.", "0 errors"],
            SHORT,
        )
        .await?;
    console.click("#risk").await?;
    console.wait_enabled("#start-upgrade").await?;
    console.click("#start-upgrade").await?;
    console
        .wait_text("#upgrade-status", "Rolled back", Duration::from_secs(180))
        .await?;
    console.find("#retry").await?;
    let replicas = console.find("#replica-map").await?.text().await?;
    assert!(
        replicas.contains("V5.1.2.02") && !replicas.contains("V5.1.2.04"),
        "every replica is back on the old version: {replicas}"
    );
    console.screenshot("rolled-back").await;
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn a_50_mb_bundle_is_checked_in_slices_with_progress() -> Result<()> {
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    let values = std::fs::read(demo_file("demo/config/standard-V5.1.2.04.yaml"))?;
    let bundle = console.scratch().join("standard-50mb.zip");
    let mut files = vec![("values.yaml", values)];
    let names = [
        "attachments/a.bin",
        "attachments/b.bin",
        "attachments/c.bin",
        "attachments/d.bin",
        "attachments/e.bin",
    ];
    for (i, name) in names.into_iter().enumerate() {
        files.push((name, noise(10_000_000, i as u64 + 7)));
    }
    write_zip(&bundle, &files)?;
    let size = std::fs::metadata(&bundle)?.len();
    assert!(size > 50_000_000, "the bundle is over 50 MB: {size}");

    // Watch the page's frames while the check runs: the longest gap is how long the page was frozen.
    console
        .script(
            "window.__gap = 0; window.__last = performance.now(); window.__watch = true;
             const tick = (t) => { window.__gap = Math.max(window.__gap, t - window.__last); window.__last = t;
                                   if (window.__watch) requestAnimationFrame(tick); };
             requestAnimationFrame(tick); window.__start = performance.now(); return 0;",
        )
        .await?;
    console
        .upload("#config-file", &bundle.display().to_string())
        .await?;
    let mut saw_progress = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        if console
            .client
            .find(Locator::Css("#config-check progress"))
            .await
            .is_ok()
        {
            saw_progress = true;
        }
        if let Ok(summary) = console
            .client
            .find(Locator::Css("#config-check .report-summary"))
            .await
        {
            let text = summary.text().await?;
            assert!(
                text.contains("No problems found.") || text.contains("0 errors"),
                "{text}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the 50 MB check did not finish within 300 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = console
        .script("window.__watch = false; return [performance.now() - window.__start, window.__gap]")
        .await?;
    println!(
        "measured: 50 MB bundle ({size} bytes) read and checked in the browser: [total ms, longest frame gap ms] = {took}"
    );
    assert!(
        saw_progress,
        "a progress indicator showed while the bundle was checked"
    );
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn force_stop_from_the_banner_then_retry_to_the_end() -> Result<()> {
    let console = Console::start().await?;
    to_upgrade_page_with_target(&console).await?;
    // The good configuration with slow-starting replicas, so that there is time to stop it.
    let values = std::fs::read_to_string(demo_file("demo/config/standard-V5.1.2.04.yaml"))?;
    assert!(
        values.contains("startupMillis: 300"),
        "the demo file sets the replicas' start-up time"
    );
    let slow = console.scratch().join("standard-V5.1.2.04-slow.yaml");
    std::fs::write(
        &slow,
        values.replace("startupMillis: 300", "startupMillis: 1500"),
    )?;
    console
        .upload("#config-file", &slow.display().to_string())
        .await?;
    console
        .wait_text_any(
            "#config-check .report-summary",
            &["No problems found.", "0 errors"],
            SHORT,
        )
        .await?;
    console.click("#risk").await?;
    console.wait_enabled("#start-upgrade").await?;
    console.click("#start-upgrade").await?;
    console
        .wait_text("#upgrade-status", "Running", SHORT)
        .await?;

    // The records page says an upgrade is in progress; Force stop from the banner (after a confirmation).
    console.click("#nav-records").await?;
    console
        .wait_text("#in-progress-banner", "Upgrade in progress", SHORT)
        .await?;
    console.screenshot("records-in-progress").await;
    console.click("#banner-force-stop").await?;
    console.client.accept_alert().await?;
    console
        .wait_text("#records", "Stopped", Duration::from_secs(60))
        .await?;

    // The stopped record offers Retry, which runs to the end.
    console.click("#records tbody tr .record-link").await?;
    console
        .wait_text("#upgrade-status", "Stopped", SHORT)
        .await?;
    let replicas = console.find("#replica-map").await?.text().await?;
    for app in ["metadata", "dataservice", "web"] {
        assert!(
            replicas.contains(app),
            "the stopped upgrade shows {app}'s replicas: {replicas}"
        );
    }
    console.screenshot("stopped").await;
    console.click("#retry").await?;
    console
        .wait_text("#upgrade-status", "Succeeded", Duration::from_secs(180))
        .await?;
    console.wait_text("#log-connection", "Ended", SHORT).await?;
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn a_target_that_cannot_roll_says_why_and_selects_downtime() -> Result<()> {
    let console = Console::start().await?;
    console.open("/opsconsole/v2/upgrade").await?;
    console.log_on().await?;
    console.click("#upload-version summary").await?;
    console
        .upload("#version-file", &demo_file("demo/versions/V5.2.0.01.zip"))
        .await?;
    console
        .wait_text("#version-check .check-note", "V5.2.0.01 imported.", SHORT)
        .await?;
    console
        .find("#target-version option[value='V5.2.0.01']")
        .await?;
    console
        .find("#target-version")
        .await?
        .select_by_value("V5.2.0.01")
        .await?;
    let reasons = console
        .wait_text("#mode-reasons", "Zero-downtime is not possible", SHORT)
        .await?;
    assert!(
        reasons.lines().count() > 1,
        "each reason is listed: {reasons}"
    );
    let zero = console.find("#mode-zero-downtime").await?;
    assert!(!zero.is_enabled().await?, "zero-downtime cannot be chosen");
    assert!(
        console.find("#mode-downtime").await?.is_selected().await?,
        "downtime is preselected"
    );
    console
        .screenshot_of("#mode-reasons", "downtime-only")
        .await?;
    console.close().await;
    Ok(())
}

#[tokio::test]
#[ignore = "end-to-end: needs the built console and Chromium; scripts/test.sh runs it"]
async fn a_viewer_sees_what_it_cannot_do_disabled_with_the_reason() -> Result<()> {
    let console = Console::start().await?;
    console.add_account("victor", "viewer", "victor-viewer-password")?;
    console.open("/opsconsole/v2/upgrade").await?;
    console.find("#username").await?;
    console
        .log_on_as("victor", "victor-viewer-password")
        .await?;
    console
        .wait_text("#current-user", "victor (viewer)", SHORT)
        .await?;

    // Starting: the button stays disabled and the list of what is missing starts with the role.
    let blockers = console
        .wait_text(
            "#blockers",
            "Starting an upgrade needs the operator role; you have the viewer role.",
            SHORT,
        )
        .await?;
    assert!(
        blockers.contains("Choose a target version."),
        "the other reasons are listed too: {blockers}"
    );
    assert!(!console.enabled("#start-upgrade").await?);

    // Uploading a configuration file, and a version package.
    console
        .wait_text(
            "#config-file-refusal",
            "Checking a configuration for an upgrade needs the operator role; you have the viewer role.",
            SHORT,
        )
        .await?;
    assert!(!console.enabled("#config-file").await?);
    console.click("#upload-version summary").await?;
    console
        .wait_text(
            "#version-file-refusal",
            "Uploading a version needs the operator role; you have the viewer role.",
            SHORT,
        )
        .await?;
    assert!(!console.enabled("#version-file").await?);
    console
        .screenshot_of("#upload-version", "viewer-upload")
        .await?;

    // The agent refuses the same account in the same words, whatever the console shows.
    let refused = console
        .script(
            "return fetch('/api/v1/versions', {method: 'POST', body: 'x'}).then(r => r.json().then(b => [r.status, b]))",
        )
        .await?;
    assert_eq!(refused[0], 403, "{refused}");
    assert_eq!(
        refused[1]["message"],
        "POST /api/v1/versions needs the operator role; you have the viewer role.",
        "{refused}"
    );

    // An upgrade the admin starts (slow replicas, so that it is still running when the viewer looks): Force stop,
    // then once the admin stopped it, Retry, are disabled for the viewer with the reason.
    let admin = AdminApi::log_on(&console).await?;
    let id = admin.start_slow_upgrade().await?;
    console
        .open(&format!("/opsconsole/v2/upgrades/{id}"))
        .await?;
    console
        .wait_text(
            "#force-stop-refusal",
            "Stopping an upgrade needs the operator role; you have the viewer role.",
            SHORT,
        )
        .await?;
    assert!(!console.enabled("#force-stop").await?);
    admin.post(&format!("/api/v1/upgrades/{id}/stop")).await?;
    console
        .wait_text("#upgrade-status", "Stopped", Duration::from_secs(60))
        .await?;
    console
        .wait_text(
            "#retry-refusal",
            "Retrying an upgrade needs the operator role; you have the viewer role.",
            SHORT,
        )
        .await?;
    assert!(!console.enabled("#retry").await?);
    console.close().await;
    Ok(())
}

/// The admin's session over HTTP, for what the test needs done while the browser is someone else's.
struct AdminApi {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl AdminApi {
    async fn log_on(console: &Console) -> Result<AdminApi> {
        let http = reqwest::Client::new();
        let response = http
            .post(format!("{}/api/v1/login", console.base))
            .json(
                &serde_json::json!({"username": "admin", "password": system_tests::ADMIN_PASSWORD}),
            )
            .send()
            .await?
            .error_for_status()?;
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("the logon sets the session cookie")?
            .to_string();
        Ok(AdminApi {
            http,
            base: console.base.clone(),
            cookie,
        })
    }

    /// POSTs `body` with `content_type`; fails unless the agent answers 2xx.
    async fn send(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<serde_json::Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "POST {path} answered {status}: {body}");
        Ok(body)
    }

    async fn post(&self, path: &str) -> Result<serde_json::Value> {
        self.send(path, "application/json", Vec::new()).await
    }

    /// Imports V5.1.2.04 and starts the rolling upgrade to it with replicas that take 5 s to start; its id.
    async fn start_slow_upgrade(&self) -> Result<i64> {
        let package = std::fs::read(demo_file("demo/versions/V5.1.2.04.zip"))?;
        self.send("/api/v1/versions", "application/zip", package)
            .await?;
        let values = std::fs::read_to_string(demo_file("demo/config/standard-V5.1.2.04.yaml"))?;
        anyhow::ensure!(
            values.contains("startupMillis: 300"),
            "the demo file sets the start-up time"
        );
        let values = values.replace("startupMillis: 300", "startupMillis: 5000");
        let boundary = "e2e-form-boundary-7MA4YWxk";
        let mut form = String::new();
        for (name, value) in [
            ("target_version", "V5.1.2.04"),
            ("mode", "zero-downtime"),
            ("config_kind", "standard"),
            ("risk_accepted", "true"),
        ] {
            form.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        form.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"config\"; filename=\"values.yaml\"\r\n\
             Content-Type: application/yaml\r\n\r\n{values}\r\n--{boundary}--\r\n"
        ));
        let started = self
            .send(
                "/api/v1/upgrades",
                &format!("multipart/form-data; boundary={boundary}"),
                form.into_bytes(),
            )
            .await?;
        started["id"].as_i64().context("the start answers the id")
    }
}
