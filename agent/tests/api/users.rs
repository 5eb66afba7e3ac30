//! `agent users` as an administrator runs it: the real binary on the data directory of a running agent, judged by
//! its exit status, what it prints, and what the agent then answers the accounts' sessions.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{Agent, Client, PASSWORD};

/// `agent users <args> --data-dir <dir>` with `stdin` written to its standard input (a pipe, not a terminal).
fn users(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent"))
        .arg("users")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("AGENT_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the agent binary runs");
    let mut input = child.stdin.take().expect("stdin");
    // A command that reads no password may have exited already: a broken pipe is fine.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().expect("agent users ends")
}

/// Runs, expects `status`, and returns stdout and stderr together.
fn expect(data_dir: &Path, args: &[&str], stdin: &str, status: i32) -> String {
    let output = users(data_dir, args, stdin);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(status),
        "agent users {args:?}: {said}"
    );
    said
}

/// The status of `GET /api/v1/me` for a client, and its role when logged on.
async fn me(client: &Client) -> (u16, Option<String>) {
    let response = client
        .http
        .get(client.at("/api/v1/me"))
        .send()
        .await
        .expect("GET /api/v1/me");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["role"].as_str().map(String::from))
}

/// The status of a logon.
async fn logon_status(agent: &Agent, username: &str, password: &str) -> u16 {
    agent
        .anonymous()
        .post(agent.at("/api/v1/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("log on")
        .status()
        .as_u16()
}

/// The rows of `agent users list` as (name, role, last logon) words.
fn listed(data_dir: &Path) -> Vec<(String, String, String)> {
    expect(data_dir, &["list"], "", 0)
        .lines()
        .skip(1)
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(words.len(), 4, "name, role, created, last logon: {line}");
            (words[0].into(), words[1].into(), words[3].into())
        })
        .collect()
}

#[tokio::test]
async fn accounts_are_added_changed_and_removed_while_the_agent_runs() {
    let agent = Agent::start().await;
    let dir = &agent.data_dir;

    // The password is the first line of stdin; the command waits for it with nothing secret in its argv.
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["users", "add", "olga", "--role", "operator", "--data-dir"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent users add");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("status").is_none(),
        "it waits for the password on stdin"
    );
    let argv = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("its argv");
    let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
    assert!(argv.contains("users add olga --role operator"), "{argv}");
    assert!(!argv.contains("olga-first-password"), "{argv}");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(b"olga-first-password\nsecond line is not read\n")
        .expect("write the password");
    drop(input);
    let output = child.wait_with_output().expect("agent users add ends");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "account `olga` added with the operator role"
    );

    assert_eq!(
        listed(dir),
        [
            ("admin".into(), "admin".into(), "-".into()),
            ("olga".into(), "operator".into(), "-".into())
        ]
    );
    let olga = agent.log_on("olga", "olga-first-password").await;
    assert_eq!(me(&olga).await, (200, Some("operator".into())));
    let rows = listed(dir);
    assert_ne!(rows[1].2, "-", "the logon is listed: {rows:?}");

    // A role change holds from the session's next request.
    let said = expect(dir, &["role", "olga", "viewer"], "", 0);
    assert!(said.contains("operator -> viewer"), "{said}");
    assert_eq!(me(&olga).await, (200, Some("viewer".into())));
    let import = olga
        .http
        .post(olga.at("/api/v1/versions"))
        .body("not a package")
        .send()
        .await
        .expect("POST /api/v1/versions");
    assert_eq!(import.status(), 403, "a viewer imports nothing");

    // A new password ends the sessions: the old one gets 401, the old password is refused, the new one logs on.
    expect(dir, &["passwd", "olga"], "olga-second-password\r\n", 0);
    assert_eq!(me(&olga).await.0, 401);
    assert_eq!(
        logon_status(&agent, "olga", "olga-first-password").await,
        401
    );
    let olga = agent.log_on("olga", "olga-second-password").await;
    assert_eq!(me(&olga).await, (200, Some("viewer".into())));

    // Removed: the very next request with its cookie is 401, and it can no longer log on.
    let said = expect(dir, &["remove", "olga"], "", 0);
    assert!(said.contains("account `olga` removed"), "{said}");
    assert_eq!(me(&olga).await.0, 401);
    assert_eq!(
        logon_status(&agent, "olga", "olga-second-password").await,
        401
    );
    assert_eq!(listed(dir).len(), 1);

    // The admin's session was never touched.
    assert_eq!(me(&agent.admin().await).await, (200, Some("admin".into())));
}

#[tokio::test]
async fn the_last_admin_stays_and_refusals_name_the_account() {
    let agent = Agent::start().await;
    let dir = &agent.data_dir;

    for args in [
        ["remove", "admin"].as_slice(),
        &["role", "admin", "operator"],
    ] {
        let said = expect(dir, args, "", 1);
        assert!(
            said.contains("account `admin`: it is the last admin"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(logon_status(&agent, "admin", PASSWORD).await, 200);

    // With a second admin, the first may be demoted; the second is then the last.
    expect(
        dir,
        &["add", "ada", "--role", "admin"],
        "ada-long-password\n",
        0,
    );
    expect(dir, &["role", "admin", "viewer"], "", 0);
    let said = expect(dir, &["remove", "ada"], "", 1);
    assert!(
        said.contains("account `ada`: it is the last admin"),
        "{said}"
    );

    // Unknown accounts, taken names, short or missing passwords: refused with 1, naming the account.
    for args in [
        ["passwd", "ghost"].as_slice(),
        &["remove", "ghost"],
        &["role", "ghost", "admin"],
    ] {
        let said = expect(dir, args, "ghost-long-password\n", 1);
        assert!(
            said.contains("account `ghost`: no such account"),
            "{args:?}: {said}"
        );
    }
    let said = expect(
        dir,
        &["add", "ada", "--role", "viewer"],
        "another-password\n",
        1,
    );
    assert!(said.contains("account `ada`: the name is taken"), "{said}");
    let said = expect(dir, &["add", "bo", "--role", "viewer"], "short\n", 1);
    assert!(
        said.contains("account `bo`: the password has 5 characters; it needs at least 12"),
        "{said}"
    );
    let said = expect(dir, &["add", "bo", "--role", "viewer"], "", 1);
    assert!(
        said.contains("account `bo`: no password on stdin"),
        "{said}"
    );
    assert_eq!(listed(dir).len(), 2, "nothing refused was added");
}

#[test]
fn usage_errors_exit_2_and_a_password_is_never_an_argument() {
    let temp = tempfile::tempdir().expect("temporary directory");
    let dir = temp.path();
    for args in [
        ["add", "olga"].as_slice(),
        &["add", "olga", "--role", "root"],
        &["add", "olga", "--role", "viewer", "olga-long-password"],
        &[
            "add",
            "olga",
            "--role",
            "viewer",
            "--password",
            "olga-long-password",
        ],
        &["passwd"],
        &["role", "olga"],
        &["rename", "olga"],
    ] {
        let said = expect(dir, args, "", 2);
        assert!(
            said.starts_with("error: ") && said.contains("--help"),
            "{args:?}: {said}"
        );
    }
    let said = expect(dir, &["add", "olga", "--role", "root"], "", 2);
    assert!(said.contains("`root` is not a role"), "{said}");

    // No agent has run here: nothing is created, and the message says where it looked.
    let said = expect(dir, &["list"], "", 1);
    assert!(
        said.contains(&format!(
            "{}: no agent database here",
            dir.join("agent.db").display()
        )),
        "{said}"
    );
    assert!(!dir.join("agent.db").exists());
}

/// Waits until what the terminal showed contains `text` (at most 30 s); returns all it showed so far.
fn shown_until(rx: &mpsc::Receiver<Vec<u8>>, shown: &mut String, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !shown.contains(text) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => shown.push_str(&String::from_utf8_lossy(&bytes)),
            Err(_) => panic!("the terminal never showed {text:?}; it showed {shown:?}"),
        }
    }
}

#[tokio::test]
async fn on_a_terminal_the_password_is_typed_twice_and_never_shown() {
    let agent = Agent::start().await;
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let mut child = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["users", "add", "tess", "--role", "viewer", "--data-dir"])
        .arg(&agent.data_dir)
        .stdin(Stdio::from(pty.slave.try_clone().expect("terminal")))
        .stderr(Stdio::from(pty.slave.try_clone().expect("terminal")))
        .stdout(Stdio::piped())
        .spawn()
        .expect("agent users add");
    // Only the child holds the terminal now: reading it ends when the child exits.
    drop(pty.slave);
    let mut screen = std::fs::File::from(pty.master);
    let mut reader = screen.try_clone().expect("terminal");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = String::new();
    shown_until(
        &rx,
        &mut shown,
        "New password for `tess` (at least 12 characters): ",
    );
    screen.write_all(b"tess-tty-password\n").expect("type");
    shown_until(&rx, &mut shown, "Again: ");
    screen
        .write_all(b"tess-tty-password\n")
        .expect("type again");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("agent users add did not end; the terminal showed {shown:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("agent users add ends");
    while let Ok(bytes) = rx.try_recv() {
        shown.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert_eq!(output.status.code(), Some(0), "{shown}");
    assert!(!shown.contains("tess-tty-password"), "echoed: {shown:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "account `tess` added with the viewer role"
    );
    let tess = agent.log_on("tess", "tess-tty-password").await;
    assert_eq!(me(&tess).await, (200, Some("viewer".into())));
}
