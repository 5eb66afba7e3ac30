//! The fuzz targets' harness (`fuzz/harness.rs`) replayed as ordinary tests: every input of the saved corpus
//! (`fuzz/corpus/<target>/`, what `scripts/fuzz.sh` found worth keeping) and every regression
//! (`fuzz/regressions/<target>/<what-broke>`, an input that once crashed, hung or ran out of memory). A panic or a
//! broken invariant fails the test naming the input.

#![cfg(not(target_arch = "wasm32"))]

#[path = "../../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs `harness` on every file of `fuzz/<kind>/<target>/`; returns how many there were.
fn replay(kind: &str, target: &str, harness: fn(&[u8])) -> usize {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("listing the corpus").path();
        let bytes = std::fs::read(&path).expect("reading a corpus input");
        let run = std::panic::catch_unwind(|| harness(&bytes));
        assert!(run.is_ok(), "{target} fails on {}", path.display());
        count += 1;
    }
    count
}

/// The corpus of a target, which `scripts/fuzz.sh --seed` always fills from the fixtures.
fn replay_corpus(target: &str, harness: fn(&[u8])) {
    let count = replay("corpus", target, harness);
    assert!(
        count > 0,
        "fuzz/corpus/{target} is empty: run scripts/fuzz.sh --seed"
    );
    replay("regressions", target, harness);
}

#[test]
fn the_zip_reader_survives_its_corpus() {
    replay_corpus("zip_reader", harness::zip_reader);
}

#[test]
fn the_yaml_loader_survives_its_corpus() {
    replay_corpus("yaml_loader", harness::yaml_loader);
}

#[test]
fn the_manifest_check_survives_its_corpus() {
    replay_corpus("manifest", harness::manifest);
}

#[test]
fn key_paths_print_back_for_their_corpus() {
    replay_corpus("key_path", harness::key_path);
}

#[test]
fn the_non_standard_check_survives_its_corpus() {
    replay_corpus("non_standard", harness::non_standard);
}
