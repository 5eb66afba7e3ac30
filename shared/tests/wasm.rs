//! Every shared case (tests/common) in headless Chromium, with the same inputs and expected reports as
//! `tests/checks.rs`. Run with
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver cargo test -p shared --target wasm32-unknown-unknown`.

#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

all_cases!();
