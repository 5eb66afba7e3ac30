//! `agent serve` refusing what it cannot run: an unknown platform before it creates anything, an unreadable
//! replica table at its start.

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

#[test]
fn an_unreadable_replica_table_stops_the_start_naming_the_file_and_leaves_no_supervisor() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    std::fs::create_dir_all(data_dir.join("platform")).unwrap();
    std::fs::write(data_dir.join("platform/replicas.json"), "{not json").unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-password"])
        .arg("test-admin-password")
        .arg("--bootstrap-package")
        .arg(repo.join("demo/versions/V5.1.2.02.zip"))
        .arg("--bootstrap-values")
        .arg(repo.join("demo/config/values-V5.1.2.02.yaml"))
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("replicas.json") && stderr.contains("unreadable"),
        "{stderr}"
    );
    let platform = data_dir.join("platform");
    assert!(
        !platform.join("supervisor.sock").exists() && !platform.join("supervisor.pid").exists(),
        "the supervisor ended without listening"
    );
}
