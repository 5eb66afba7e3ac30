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
