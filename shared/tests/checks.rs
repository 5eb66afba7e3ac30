//! Every shared case (tests/common) natively; `tests/wasm.rs` runs the same cases in headless Chromium.

#![cfg(not(target_arch = "wasm32"))]

mod common;

all_cases!();
