//! Component tests in headless Chromium (wasm-bindgen-test): what the operator sees for a report, a log and a
//! check of the demo product's real files.
#![cfg(target_arch = "wasm32")]

use frontend::checks;
use frontend::components::log_viewer::LogViewer;
use frontend::components::probe_chart::ProbeChart;
use frontend::components::progress_bar::ProgressBar;
use frontend::components::replica_map::ReplicaMap;
use frontend::components::report_view::ReportView;
use frontend::log_buffer::LogBuffer;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use serde_json::json;
use shared::api::{
    ApplicationView, ConfigKind, Limits, LogEntry, ProbeSeries, ReplicaView, SeriesPoint,
};
use shared::nonstandard::{Online, RunningChart};
use shared::report::{Finding, Report};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PACKAGE_V5_1_2_04: &[u8] = include_bytes!("../../demo/versions/V5.1.2.04.zip");
const MISSING_ITEMS: &[u8] =
    include_bytes!("../../demo/config/standard-V5.1.2.04-missing-items.yaml");
const TEMPLATE_CHANGED: &[u8] =
    include_bytes!("../../demo/config/nonstandard-V5.1.2.04-template-changed.zip");
const INCOMPATIBLE: &[u8] =
    include_bytes!("../../demo/config/nonstandard-V5.1.2.04-incompatible.zip");
const RUNNING_VALUES: &str = include_str!("../../demo/config/values-V5.1.2.02.yaml");
const PACKAGE_V5_1_2_02: &[u8] = include_bytes!("../../demo/versions/V5.1.2.02.zip");

/// The values V5.1.2.02 runs with, and its chart, read from its package as the Upgrade page does.
async fn running_chart(limits: &Limits) -> RunningChart {
    checks::running_chart("V5.1.2.02", PACKAGE_V5_1_2_02, limits).await
}

fn running<'a>(chart: &'a RunningChart) -> Option<Online<'a>> {
    Some(Online {
        values: RUNNING_VALUES,
        chart,
    })
}

/// Mounts a view in a fresh element and returns that element.
fn mount<V: IntoView + 'static>(f: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect("a document");
    let host: web_sys::HtmlElement = document
        .create_element("div")
        .expect("a div")
        .unchecked_into();
    document
        .body()
        .expect("a body")
        .append_child(&host)
        .expect("appended");
    leptos::mount::mount_to(host.clone(), f).forget();
    host
}

fn text(host: &web_sys::HtmlElement, selector: &str) -> Option<String> {
    host.query_selector(selector)
        .ok()
        .flatten()
        .and_then(|e| e.text_content())
}

async fn settle() {
    TimeoutFuture::new(20).await;
}

#[wasm_bindgen_test]
async fn view_details_lists_the_missing_items_of_a_demo_file() {
    let limits = Limits::default();
    let (package_report, package) =
        checks::version_package("V5.1.2.04.zip", PACKAGE_V5_1_2_04, &limits, &|_, _| {}).await;
    assert!(
        package_report.ok,
        "the demo package is valid: {package_report:?}"
    );
    let package = package.expect("a package");
    let report = checks::configuration(
        ConfigKind::Standard,
        &package,
        "standard-V5.1.2.04-missing-items.yaml",
        MISSING_ITEMS,
        None,
        &limits,
        &|_, _| {},
    )
    .await;
    assert!(!report.ok);
    let missing: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.code == "missing-config-item")
        .filter_map(|f| f.path.clone())
        .collect();
    assert!(
        !missing.is_empty(),
        "the broken demo file lacks items: {report:?}"
    );

    let host = mount(move || view! { <ReportView report /> });
    settle().await;
    assert!(
        text(&host, ".report-summary")
            .unwrap_or_default()
            .contains("error")
    );
    assert!(
        text(&host, ".missing-items").is_none(),
        "details stay folded until asked for"
    );
    let button: web_sys::HtmlElement = host
        .query_selector(".view-details")
        .ok()
        .flatten()
        .expect("View Details")
        .unchecked_into();
    button.click();
    settle().await;
    let table = text(&host, ".missing-items").expect("the missing items table");
    for key in &missing {
        assert!(table.contains(key.as_str()), "{key} listed in {table}");
    }
}

#[wasm_bindgen_test]
async fn a_changed_template_is_checked_in_slices_and_asks_for_confirmation() {
    let limits = Limits::default();
    let (_, package) =
        checks::version_package("V5.1.2.04.zip", PACKAGE_V5_1_2_04, &limits, &|_, _| {}).await;
    let package = package.expect("a package");
    let slices = Rc::new(Cell::new(0u32));
    let counter = slices.clone();
    let chart = running_chart(&limits).await;
    let report = checks::configuration(
        ConfigKind::NonStandard,
        &package,
        "nonstandard-V5.1.2.04-template-changed.zip",
        TEMPLATE_CHANGED,
        running(&chart),
        &limits,
        &move |_, _| counter.set(counter.get() + 1),
    )
    .await;
    assert!(slices.get() >= 1, "progress was reported");
    let mismatch = report
        .findings
        .iter()
        .find(|f| f.code == "template-md5-mismatch")
        .expect("a mismatch");
    assert!(mismatch.needs_confirmation);

    let confirmed = RwSignal::new(false);
    let digest = package.template_digest().map(|d| d.0);
    let expected = digest.clone().unwrap_or_default();
    let host = mount(
        move || view! { <ReportView report version_digest=digest mismatch_confirmed=Some(confirmed) /> },
    );
    settle().await;
    // The difference merges the running values with V5.1.2.02's own chart: `global.timezone`, a default new in
    // V5.1.2.04's chart, is a key added rather than a change from the target's `UTC`.
    let added = text(&host, ".online-difference tr.diff-added").expect("an added row");
    assert!(
        added.contains("global.timezone") && added.contains("Asia/Shanghai"),
        "{added}"
    );
    let comparison = text(&host, ".template-comparison").expect("the comparison");
    assert!(
        comparison.contains(&expected),
        "the version's digest {expected} is shown: {comparison}"
    );
    let checkbox: web_sys::HtmlElement = host
        .query_selector(".confirm-mismatch")
        .ok()
        .flatten()
        .expect("the confirmation")
        .unchecked_into();
    checkbox.click();
    settle().await;
    assert!(confirmed.get_untracked());
}

#[wasm_bindgen_test]
async fn an_incompatible_bundle_is_blocked_with_each_problem_listed() {
    let limits = Limits::default();
    let (_, package) =
        checks::version_package("V5.1.2.04.zip", PACKAGE_V5_1_2_04, &limits, &|_, _| {}).await;
    let report = checks::configuration(
        ConfigKind::NonStandard,
        &package.expect("a package"),
        "nonstandard-V5.1.2.04-incompatible.zip",
        INCOMPATIBLE,
        running(&running_chart(&limits).await),
        &limits,
        &|_, _| {},
    )
    .await;
    assert!(!report.ok);
    let host = mount(move || view! { <ReportView report /> });
    settle().await;
    let problems = text(&host, ".compatibility-problems").expect("the problems panel");
    assert!(problems.contains("Blocked"), "{problems}");
}

#[wasm_bindgen_test]
async fn secrets_never_reach_the_page() {
    let finding = Finding::warning("online-config-differs", "values differ").with_details(json!({
        "changed": [{"path": "global.database.password", "old": "hunter2", "new": "correct-horse"}]
    }));
    let report = Report {
        ok: true,
        template_digest: None,
        findings: vec![finding],
    };
    let host = mount(move || view! { <ReportView report /> });
    settle().await;
    let page = host.text_content().unwrap_or_default();
    assert!(page.contains("global.database.password"));
    assert!(
        !page.contains("hunter2") && !page.contains("correct-horse"),
        "{page}"
    );
}

#[wasm_bindgen_test]
async fn the_progress_bar_says_where_the_upgrade_is() {
    let done = RwSignal::new(3u32);
    let host = mount(move || {
        view! {
            <ProgressBar label="Upgrade progress" done total=12u32 step="start web (web-3)".to_string() status="running".to_string() />
        }
    });
    settle().await;
    assert_eq!(
        text(&host, "#progress-step").as_deref(),
        Some("start web (web-3)")
    );
    assert!(
        text(&host, "#progress-count")
            .unwrap_or_default()
            .contains("3 of 12 steps · 25%")
    );
    done.set(12);
    settle().await;
    assert!(
        text(&host, "#progress-count")
            .unwrap_or_default()
            .contains("100%")
    );
}

#[wasm_bindgen_test]
async fn a_replica_not_ready_shows_its_node_and_the_platforms_reason() {
    let replica = |id: &str, version: &str, node: Option<&str>, reason: Option<&str>| ReplicaView {
        id: id.into(),
        version: version.into(),
        state: if reason.is_some() { "failed" } else { "ready" }.into(),
        ready: reason.is_none(),
        node: node.map(String::from),
        reason: reason.map(String::from),
    };
    let applications = vec![ApplicationView {
        name: "dataservice".into(),
        address: "http://dataservice:8080".into(),
        desired_replicas: 2,
        replicas: vec![
            replica(
                "dataservice-v5-1-2-02-x7k2p",
                "V5.1.2.02",
                Some("worker-1"),
                None,
            ),
            replica(
                "dataservice-v5-1-2-04-q9z4m",
                "V5.1.2.04",
                Some("worker-2"),
                Some("CrashLoopBackOff: back-off 40s restarting failed container=dataservice"),
            ),
        ],
    }];
    let host = mount(move || view! { <ReplicaMap applications target="V5.1.2.04".to_string() /> });
    settle().await;
    let chips = host.query_selector_all(".chip").unwrap();
    assert_eq!(chips.length(), 2);
    let chip = |i| {
        chips
            .item(i)
            .and_then(|c| c.text_content())
            .unwrap_or_default()
    };
    assert_eq!(
        chip(1),
        "dataservice-v5-1-2-04-q9z4m · V5.1.2.04 · failed · worker-2\
         not ready: CrashLoopBackOff: back-off 40s restarting failed container=dataservice"
    );
    assert_eq!(
        chip(0),
        "dataservice-v5-1-2-02-x7k2p · V5.1.2.02 · ready · worker-1",
        "a ready replica gives no reason"
    );
    assert_eq!(
        text(&host, ".chip-notready .chip-reason").as_deref(),
        Some("not ready: CrashLoopBackOff: back-off 40s restarting failed container=dataservice")
    );
    assert_eq!(
        text(&host, ".chip-notready .chip-node").as_deref(),
        Some("worker-2")
    );
    assert!(
        text(&host, "td.sev-warning").is_some_and(|t| t == "1 / 2"),
        "one of two replicas ready is short"
    );
}

#[wasm_bindgen_test]
async fn a_probe_chart_draws_its_latency_line_and_a_bar_per_bucket_with_failures() {
    let point = |calls, failures, p99_ms| SeriesPoint {
        calls,
        failures,
        p99_ms,
        max_ms: p99_ms,
    };
    let series = ProbeSeries {
        bucket_seconds: 1,
        points: vec![point(5, 0, 4.0), point(5, 1, 40.0), point(5, 5, 90.0)],
    };
    let host = mount(move || view! { <ProbeChart name="dataservice-query".to_string() series /> });
    settle().await;
    let svg = host
        .query_selector(".probe-chart svg")
        .unwrap()
        .expect("an svg");
    assert_eq!(
        svg.get_attribute("aria-label").as_deref(),
        Some("dataservice-query: p99 latency over 3 s (top 99 ms), failed share in red")
    );
    let d = |selector: &str| {
        host.query_selector(selector)
            .unwrap()
            .and_then(|path| path.get_attribute("d"))
            .unwrap_or_default()
    };
    let line = d("path.chart-latency");
    assert_eq!(line.matches(['M', 'L']).count(), 3, "{line}");
    let bars = d("path.chart-failures");
    assert_eq!(
        bars.matches('z').count(),
        2,
        "the bucket without failures has no bar: {bars}"
    );
}

#[wasm_bindgen_test]
async fn the_log_filters_by_application_and_level() {
    let log = RwSignal::new(LogBuffer::default());
    let line = |seq: u64, level: &str, app: &str| LogEntry {
        seq,
        ts: "2026-11-25T10:00:00.000Z".into(),
        level: level.into(),
        app: Some(app.into()),
        message: format!("line {seq}"),
    };
    log.update(|b| {
        b.push(line(1, "info", "web"));
        b.push(line(2, "warn", "dataservice"));
        b.push(line(3, "error", "web"));
        b.push(line(2, "warn", "dataservice")); // repeated after a reconnect
    });
    let host =
        mount(move || view! { <LogViewer log connection=Signal::stored("Live".to_string()) /> });
    settle().await;
    assert_eq!(
        host.query_selector_all(".log-line")
            .map(|l| l.length())
            .unwrap_or(0),
        3
    );
    let level: web_sys::HtmlSelectElement = host
        .query_selector("#log-level")
        .ok()
        .flatten()
        .expect("level filter")
        .unchecked_into();
    level.set_value("error");
    level
        .dispatch_event(&web_sys::Event::new("change").expect("an event"))
        .expect("dispatched");
    settle().await;
    assert_eq!(
        host.query_selector_all(".log-line")
            .map(|l| l.length())
            .unwrap_or(0),
        1
    );
    assert!(text(&host, "#log").unwrap_or_default().contains("line 3"));
}

#[wasm_bindgen_test]
async fn an_answer_shows_loading_then_the_newest_answer_never_an_older_one() {
    let refresh = Rc::new(Cell::new(None::<RwSignal<u32>>));
    let first_answered = Rc::new(Cell::new(false));
    let (handle, flag) = (refresh.clone(), first_answered.clone());
    let host = mount(move || {
        let asked = RwSignal::new(0u32);
        handle.set(Some(asked));
        // The first question is slow to answer, the second quick: the first answer arrives last.
        let answer = frontend::answer::ask(move || {
            let n = asked.get();
            let flag = flag.clone();
            async move {
                TimeoutFuture::new(if n == 0 { 300 } else { 10 }).await;
                flag.set(flag.get() || n == 0);
                Ok(format!("answer to question {n}"))
            }
        });
        let failed = frontend::answer::ask(|| async {
            Err::<String, _>(frontend::api::Error::Network("the agent is down".into()))
        });
        view! {
            <p id="answer">{frontend::answer::shown(answer, "Loading…", |text: String| text)}</p>
            <div id="failed">{frontend::answer::shown(failed, "Loading…", |text: String| text)}</div>
        }
    });
    settle().await;
    assert_eq!(text(&host, "#answer").as_deref(), Some("Loading…"));
    assert!(
        text(&host, "#failed .panel-error")
            .is_some_and(|t| t.contains("Cannot reach the agent: the agent is down")),
        "{:?}",
        text(&host, "#failed")
    );
    refresh.get().expect("mounted").set(1);
    // Waits by events, not by guessing times, so that a slow machine changes nothing.
    let newest = || text(&host, "#answer").as_deref() == Some("answer to question 1");
    for _ in 0..500 {
        if first_answered.get() && newest() {
            break;
        }
        TimeoutFuture::new(10).await;
    }
    assert!(first_answered.get(), "the first question was answered");
    settle().await;
    assert_eq!(
        text(&host, "#answer").as_deref(),
        Some("answer to question 1"),
        "the older answer, arriving last, did not replace the newer one"
    );
}

#[wasm_bindgen_test]
async fn links_inside_the_console_are_taken_over_and_the_rest_left_to_the_browser() {
    let window = web_sys::window().expect("a window");
    let came_from = window.location().href().expect("href");
    let host = mount(|| {
        let page = frontend::nav::follow_address_bar();
        view! {
            <a id="inside" href="/opsconsole/v2/upgrades/7">"progress"</a>
            <a id="api" href="/api/v1/upgrades/7/config">"configuration"</a>
            <a id="download" href="/opsconsole/v2/upgrade" download="x.yaml">"download"</a>
            <a id="new-window" href="/opsconsole/v2/upgrade" target="_blank">"new window"</a>
            <p id="page">{move || format!("{:?}", page.get())}</p>
        }
    });
    settle().await;
    let before = text(&host, "#page");
    assert!(before.is_some(), "the page shown is named");
    // Registered after the console's own listener: sees whether the console took a click on these links over,
    // then stops any navigation so that the test page stays.
    let taken = Rc::new(Cell::new(None::<bool>));
    let (seen, links) = (taken.clone(), host.clone());
    let after = window_event_listener(leptos::ev::click, move |ev| {
        let node = ev.target().and_then(|t| t.dyn_into::<web_sys::Node>().ok());
        if links.contains(node.as_ref()) {
            seen.set(Some(ev.default_prevented()));
            ev.prevent_default();
        }
    });
    let click = |id: &str, ctrl: bool| {
        let init = web_sys::MouseEventInit::new();
        init.set_bubbles(true);
        init.set_cancelable(true);
        init.set_ctrl_key(ctrl);
        let event = web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).unwrap();
        taken.set(None);
        host.query_selector(&format!("#{id}"))
            .unwrap()
            .expect("the link")
            .dispatch_event(&event)
            .unwrap();
        taken.get().expect("the click reached the window")
    };
    for (id, ctrl) in [
        ("api", false),
        ("download", false),
        ("new-window", false),
        ("inside", true),
    ] {
        assert!(
            !click(id, ctrl),
            "#{id} (ctrl: {ctrl}) is left to the browser"
        );
    }
    assert!(
        click("inside", false),
        "a plain click inside the console is taken over"
    );
    settle().await;
    assert_eq!(text(&host, "#page").as_deref(), Some("Progress(7)"));
    assert_eq!(
        window.location().pathname().unwrap(),
        "/opsconsole/v2/upgrades/7"
    );
    // Back follows the address bar too.
    window.history().unwrap().back().unwrap();
    for _ in 0..100 {
        if window.location().href().unwrap() == came_from {
            break;
        }
        TimeoutFuture::new(10).await;
    }
    settle().await;
    after.remove();
    assert_eq!(text(&host, "#page"), before);
}
