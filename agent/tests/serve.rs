//! `agent serve` refusing what it cannot run: an unknown platform before it creates anything, an unreadable
//! replica table at its start.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
fn an_unreadable_replica_table_is_named_at_the_start_and_no_supervisor_listens() {
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    std::fs::create_dir_all(data_dir.join("platform")).unwrap();
    std::fs::write(data_dir.join("platform/replicas.json"), "{not json").unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut agent = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-password"])
        .arg("test-admin-password")
        .arg("--bootstrap-package")
        .arg(repo.join("demo/versions/V5.1.2.02.zip"))
        .arg("--bootstrap-values")
        .arg(repo.join("demo/config/values-V5.1.2.02.yaml"))
        .arg("--data-dir")
        .arg(&data_dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = agent.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The agent keeps serving (records, versions) when the running version cannot start; it says why.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let named = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("did not start") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = agent.kill();
    let _ = agent.wait();
    let named = named.unwrap_or_else(|| panic!("no error line within 60 s: {seen:?}"));
    assert!(
        named.contains("replicas.json") && named.contains("unreadable"),
        "{named}"
    );
    let platform = data_dir.join("platform");
    assert!(
        !platform.join("supervisor.sock").exists() && !platform.join("supervisor.pid").exists(),
        "the supervisor ended without listening"
    );
}
