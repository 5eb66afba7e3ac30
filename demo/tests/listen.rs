//! The real `demo-app` binary on a real socket: it listens on loopback unless told `DEMO_LISTEN=0.0.0.0` (what a
//! pod needs: the kubelet's probes and the Service reach it from outside the pod's loopback), and without
//! `DEMO_REPLICA` it names itself after the host (a pod's name). Traffic goes to 127.0.0.1 and 127.0.0.2 only: an
//! address in 127.0.0.0/8 other than 127.0.0.1 reaches a socket bound to 0.0.0.0, never one bound to 127.0.0.1.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The replica, killed when the test ends however it ends.
struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a metadata replica with `env` on a free port; returns it and its port.
fn start(env: &[(&str, &str)], dir: &std::path::Path) -> (Replica, u16) {
    let port = free_port();
    let values = dir.join("values.yaml");
    std::fs::write(&values, "demo: {startupMillis: 0}\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo-app"));
    command
        .args(["--role", "metadata"])
        .env_remove("DEMO_REPLICA")
        .env_remove("DEMO_LISTEN")
        .env("DEMO_PORT", port.to_string())
        .env("DEMO_VALUES", &values)
        .env("DEMO_STATE_DIR", dir.join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    (Replica(command.spawn().unwrap()), port)
}

/// `GET path` over a new connection; `None` when nothing accepts the connection.
fn get(address: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: demo\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Waits (at most 20 s) until `/healthz` at 127.0.0.1 answers ready.
fn wait_ready(port: u16) {
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if get(address, "/healthz").is_some_and(|a| a.starts_with("HTTP/1.0 200")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("demo-app did not become ready on 127.0.0.1:{port} within 20 s");
}

#[test]
fn by_default_it_listens_on_127_0_0_1_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_replica, port) = start(&[("HOSTNAME", "")], dir.path());
    wait_ready(port);
    let other: SocketAddr = ([127, 0, 0, 2], port).into();
    assert_eq!(get(other, "/healthz"), None, "127.0.0.2 must not reach it");
    let version = get(([127, 0, 0, 1], port).into(), "/version").unwrap();
    assert!(version.contains(r#""replica":"replica-1""#), "{version}");
}

#[test]
fn with_demo_listen_0_0_0_0_it_answers_on_every_address_and_names_itself_after_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let (_replica, port) = start(
        &[
            ("DEMO_LISTEN", "0.0.0.0"),
            ("HOSTNAME", "metadata-5d9f7-x2x4q"),
        ],
        dir.path(),
    );
    wait_ready(port);
    let version = get(([127, 0, 0, 2], port).into(), "/version").expect("127.0.0.2 reaches it");
    assert!(version.starts_with("HTTP/1.0 200"), "{version}");
    assert!(
        version.contains(r#""replica":"metadata-5d9f7-x2x4q""#),
        "{version}"
    );
}

#[test]
fn a_listen_address_that_is_not_one_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_demo-app"))
        .args([
            "--role",
            "metadata",
            "--port",
            "1",
            "--listen",
            "everywhere",
        ])
        .args(["--values", "/nonexistent", "--state-dir", "/nonexistent"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("everywhere") && stderr.contains("--listen"),
        "{stderr}"
    );
}

#[test]
fn after_sigterm_it_lingers_not_ready_still_answering_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut replica, port) = start(&[("DEMO_LINGER_MILLIS", "2000")], dir.path());
    wait_ready(port);
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let terminated = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &replica.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Within the linger: a new connection is still served, and says it is not ready.
    let answer = get(address, "/healthz");
    assert!(
        terminated.elapsed() < Duration::from_millis(1500),
        "the check came too late to say anything"
    );
    let answer = answer.expect("a new connection during the linger is served");
    assert!(answer.starts_with("HTTP/1.0 503"), "{answer}");
    // Then it stops accepting and exits 0 (it runs no job).
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = replica.0.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
    assert!(
        terminated.elapsed() >= Duration::from_millis(2000),
        "left before its linger"
    );
    assert_eq!(get(address, "/healthz"), None);
}
