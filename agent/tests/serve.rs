//! `agent serve` refusing what it cannot run: an unknown platform, plain HTTP off loopback, an unusable TLS
//! certificate or key, an empty or missing metrics token file (each before it creates anything), an unreadable
//! replica table at its start, a Kubernetes API server it cannot reach or a kubeconfig it cannot read.

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

/// Runs `agent serve` with `args` and a data directory in a scratch directory; returns whether it succeeded, its
/// stderr, and whether the data directory exists afterwards.
fn serve(scratch: &std::path::Path, args: &[&str]) -> (bool, String, bool) {
    let data_dir = scratch.join("data");
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("AGENT_INSECURE_HTTP")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        data_dir.exists(),
    )
}

#[test]
fn plain_http_off_loopback_is_refused_saying_what_to_pass_and_nothing_is_created() {
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let scratch = tempfile::tempdir().unwrap();
        let (ok, stderr, created) = serve(scratch.path(), &["--listen", listen]);
        assert!(!ok, "{listen}: {stderr}");
        assert!(
            stderr.contains("refusing to serve plain HTTP")
                && stderr.contains("not a loopback address")
                && stderr.contains("--tls-cert and --tls-key")
                && stderr.contains("--insecure-http"),
            "{listen}: {stderr}"
        );
        assert!(!created, "{listen}: the data directory was created");
    }
}

#[test]
fn an_unusable_tls_certificate_or_key_is_named_and_nothing_is_created() {
    let scratch = tempfile::tempdir().unwrap();
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = scratch.path().join("agent.crt");
    let key = scratch.path().join("agent.key");
    let other_key = scratch.path().join("other.key");
    let empty = scratch.path().join("empty.pem");
    let missing = scratch.path().join("missing.pem");
    std::fs::write(&cert, pair.cert.pem()).unwrap();
    std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(&other_key, other.serialize_pem()).unwrap();
    std::fs::write(&empty, "").unwrap();
    let name = |p: &std::path::Path| p.display().to_string();
    let cases = [
        (
            &missing,
            &key,
            format!("{}: cannot read it", name(&missing)),
        ),
        (
            &cert,
            &missing,
            format!("{}: cannot read it", name(&missing)),
        ),
        (&empty, &key, format!("{}: no certificate", name(&empty))),
        (&key, &key, format!("{}: no certificate", name(&key))),
        (&cert, &empty, format!("{}: no private key", name(&empty))),
        (&cert, &cert, format!("{}: no private key", name(&cert))),
        (
            &cert,
            &other_key,
            format!("{} with {}", name(&cert), name(&other_key)),
        ),
    ];
    for (cert, key, expected) in cases {
        let (ok, stderr, created) = serve(
            scratch.path(),
            &[
                "--listen",
                "127.0.0.1:0",
                "--tls-cert",
                &name(cert),
                "--tls-key",
                &name(key),
            ],
        );
        assert!(!ok, "{expected}: {stderr}");
        assert!(
            stderr.contains(&expected),
            "expected `{expected}` in: {stderr}"
        );
        assert!(!created, "{expected}: the data directory was created");
    }
}

#[test]
fn an_empty_or_missing_metrics_token_file_is_named_and_nothing_is_created() {
    let scratch = tempfile::tempdir().unwrap();
    let empty = scratch.path().join("token");
    std::fs::write(&empty, "\n").unwrap();
    let missing = scratch.path().join("no-token");
    for (file, expected) in [
        (&empty, "the metrics token file is empty"),
        (&missing, "No such file"),
    ] {
        let (ok, stderr, created) = serve(
            scratch.path(),
            &[
                "--listen",
                "127.0.0.1:0",
                "--metrics-token-file",
                &file.display().to_string(),
            ],
        );
        assert!(!ok, "{stderr}");
        assert!(
            stderr.contains(&file.display().to_string()) && stderr.contains(expected),
            "{stderr}"
        );
        assert!(!created, "the data directory was created");
    }
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

/// `agent serve --platform kubernetes` with `kubeconfig`; returns its stderr after it exits (it must fail).
fn kubernetes_serve_fails(kubeconfig: &std::path::Path) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args([
            "serve",
            "--platform",
            "kubernetes",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_api_server_that_cannot_be_reached_is_named_with_the_namespace_it_was_reading() {
    // A loopback port nobody listens on: the port of a listener just closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scratch = tempfile::tempdir().unwrap();
    let kubeconfig = scratch.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{port}', \
             insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: x\n  \
             context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let stderr = kubernetes_serve_fails(&kubeconfig);
    assert!(
        stderr.contains(&format!(
            "reading namespace default at https://127.0.0.1:{port}/"
        )) && stderr.contains("the API server cannot be reached")
            && stderr.contains("Connection refused"),
        "{stderr}"
    );
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let stderr = kubernetes_serve_fails(std::path::Path::new("/nonexistent/kubeconfig"));
    assert!(
        stderr.contains("reading the kubeconfig /nonexistent/kubeconfig")
            && stderr.contains("No such file"),
        "{stderr}"
    );
}
