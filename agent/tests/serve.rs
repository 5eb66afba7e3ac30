//! `agent serve` refusing what it cannot run, before it creates anything.

use std::process::Command;

#[test]
fn an_unknown_platform_is_named_and_nothing_is_created() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args([
            "serve",
            "--platform",
            "nomad",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown platform `nomad`") && stderr.contains("`local`"),
        "{stderr}"
    );
    assert!(!data_dir.exists(), "the data directory was created");
}
