//! The benchmark in headless Chromium: the same `bench::check` as natively, on bytes fetched from the local
//! server that `scripts/bench-bundle.sh` starts, timed with `performance.now()`.
//!
//! It also times the check as the console runs it (`frontend::checks::configuration`): the ZIP extracted in slices
//! of about 40 ms with a yield to the browser (`setTimeout(0)`) between them, so that the page stays responsive.
//!
//! The URLs are baked in at build time (`BENCH_PACKAGE_URL`, `BENCH_BUNDLE_URL`, optional `BENCH_RUNS`): a
//! build without them (an ordinary `cargo test --target wasm32-unknown-unknown`) skips with a message.
#![cfg(target_arch = "wasm32")]

use bench::{Prepared, Summary, check, inflated_bytes, megabytes_per_second, prepare};
use js_sys::Uint8Array;
use shared::api::ConfigKind;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::Response;

wasm_bindgen_test_configure!(run_in_browser);

async fn fetch_bytes(url: &str) -> Vec<u8> {
    let window = web_sys::window().expect("a browser window");
    let response = JsFuture::from(window.fetch_with_str(url))
        .await
        .expect("the benchmark server answers");
    let response: Response = response.dyn_into().expect("a fetch Response");
    assert!(response.ok(), "{url}: HTTP {}", response.status());
    let buffer = JsFuture::from(response.array_buffer().expect("a body"))
        .await
        .expect("the whole body");
    Uint8Array::new(&buffer).to_vec()
}

/// The check as the console runs it (`frontend::checks::configuration`): extraction in time slices with a yield
/// to the browser between them, then the bundle checks.
async fn check_in_slices(prepared: &Prepared, bundle: &[u8]) -> Option<String> {
    let report = frontend::checks::configuration(
        ConfigKind::NonStandard,
        &prepared.package,
        "bundle.zip",
        bundle,
        None,
        &prepared.limits,
        &|_, _| {},
    )
    .await;
    assert!(report.ok, "{:?}", report.findings);
    report.template_digest
}

/// Times `runs` runs of `check` (which answers the template digest), logging each run and then the summary.
async fn time_runs(
    label: &str,
    key: &str,
    runs: usize,
    inflated: u64,
    check: impl AsyncFn() -> Option<String>,
) {
    let performance = web_sys::window()
        .and_then(|window| window.performance())
        .expect("performance.now()");
    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        let started = performance.now();
        let digest = check().await;
        let seconds = (performance.now() - started) / 1000.0;
        console_log!(
            "{label} run {run}: {seconds:.3} s, {:.0} MB/s inflated, digest {}",
            megabytes_per_second(inflated, seconds),
            digest.as_deref().unwrap_or("(none)")
        );
        times.push(seconds);
    }
    let summary = Summary::of(&times).expect("BENCH_RUNS is at least 1");
    for line in summary.lines(label, key, inflated) {
        console_log!("{line}");
    }
}

#[wasm_bindgen_test]
async fn check_large_bundle_in_browser() {
    let (Some(package_url), Some(bundle_url)) = (
        option_env!("BENCH_PACKAGE_URL"),
        option_env!("BENCH_BUNDLE_URL"),
    ) else {
        console_log!(
            "skipped: build with BENCH_PACKAGE_URL and BENCH_BUNDLE_URL set (scripts/bench-bundle.sh does)"
        );
        return;
    };
    let runs: usize = option_env!("BENCH_RUNS")
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(5);
    let package = fetch_bytes(package_url).await;
    let bundle = fetch_bytes(bundle_url).await;
    let prepared =
        prepare("version.yaml", &package).expect("the benchmark's version package is valid");
    let inflated =
        inflated_bytes(&prepared, "bundle.zip", &bundle).expect("the benchmark's bundle extracts");

    time_runs("browser", "browser", runs, inflated, async || {
        check(&prepared, "bundle.zip", &bundle)
            .expect("the benchmark's bundle passes")
            .template_digest
    })
    .await;
    time_runs("console-style", "console", runs, inflated, async || {
        check_in_slices(&prepared, &bundle).await
    })
    .await;
}
