//! Starts the real agent binary on a loopback port with a temporary data directory and the demo product, and
//! talks to it over real HTTP and websocket connections.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use shared::api::{LogEntry, Role, UpgradeDetail, UpgradeStatus};
use tokio_tungstenite::tungstenite::Message;

/// The admin password the tests start the agent with.
pub const PASSWORD: &str = "test-admin-password";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the demo product.
pub fn demo(path: &str) -> PathBuf {
    root().join("demo").join(path)
}

/// Reads a demo file.
pub fn demo_bytes(path: &str) -> Vec<u8> {
    std::fs::read(demo(path)).unwrap_or_else(|e| panic!("{}: {e}", demo(path).display()))
}

/// Consecutive free loopback ports for the demo product's stable addresses, below the ephemeral range (32768 and
/// up) that replicas get their ports from.
fn free_base_port() -> u16 {
    for _ in 0..200 {
        let base = 20_000 + (rand_u16() % 12_000);
        if (0..4).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free ports for the demo product's stable addresses");
}

fn rand_u16() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    ((nanos ^ std::process::id().wrapping_mul(2_654_435_761)) % 65_521) as u16
}

/// How to start an agent.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pass `--admin-password` (else the agent generates one).
    pub admin_password: bool,
    /// `--listen`.
    pub listen: String,
    /// Extra arguments.
    pub args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            admin_password: true,
            listen: "127.0.0.1:0".into(),
            args: Vec::new(),
        }
    }
}

/// A running agent.
pub struct Agent {
    /// The agent process.
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its data directory (kept across restarts).
    pub data_dir: PathBuf,
    /// First stable address port of the demo product.
    pub base_port: u16,
    /// Lines the agent printed on stdout.
    pub stdout: Vec<String>,
    /// What it was started with, for a restart.
    options: Options,
    /// Keeps the temporary directory alive.
    _temp: Option<tempfile::TempDir>,
}

impl Agent {
    /// Starts an agent with the demo product's V5.1.2.02 running.
    pub async fn start() -> Agent {
        Agent::start_with(Options::default()).await
    }

    /// Starts an agent in a new temporary data directory.
    pub async fn start_with(options: Options) -> Agent {
        let temp = tempfile::tempdir().expect("temporary directory");
        let data_dir = temp.path().join("data");
        let mut agent = Agent::launch(data_dir, free_base_port(), &options);
        agent._temp = Some(temp);
        agent
    }

    fn launch(data_dir: PathBuf, base_port: u16, options: &Options) -> Agent {
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_agent"));
        let bin_dir = exe.parent().expect("the agent's directory").to_path_buf();
        assert!(
            bin_dir.join("demo-app").is_file(),
            "build the demo product first: cargo build -p demo --bins (looked for {})",
            bin_dir.join("demo-app").display()
        );
        let mut command = Command::new(&exe);
        command
            .arg("serve")
            .arg("--listen")
            .arg(&options.listen)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--bin-dir")
            .arg(&bin_dir)
            .arg("--base-port")
            .arg(base_port.to_string())
            .arg("--console-dir")
            .arg(root().join("agent/tests/api/console"))
            .arg("--bootstrap-package")
            .arg(demo("versions/V5.1.2.02.zip"))
            .arg("--bootstrap-values")
            .arg(demo("config/values-V5.1.2.02.yaml"))
            .args(&options.args)
            .env_remove("AGENT_ADMIN_PASSWORD")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if options.admin_password {
            command.arg("--admin-password").arg(PASSWORD);
        }
        let mut child = command.spawn().expect("start the agent");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        let out_tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = out_tx.send(Ok(line));
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[agent] {line}");
                let _ = tx.send(Err(line));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut printed = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Ok(line)) => printed.push(line),
                Ok(Err(line)) => {
                    if let Some(at) = line.find("listening on http") {
                        let url = line[at + "listening on ".len()..].trim();
                        // Strip the ANSI colour codes a terminal-less logger may still write.
                        let url: String = url.chars().take_while(|c| !c.is_control()).collect();
                        // Listening on every address: the tests still only talk to loopback.
                        break url.replacen("0.0.0.0", "127.0.0.1", 1);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("the agent did not start listening within 60 s")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                    panic!("the agent exited before listening ({status}); its log is above")
                }
            }
        };
        // Lines printed before "listening" are all we need (the generated password).
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Agent {
            child: Some(child),
            url,
            data_dir,
            base_port,
            stdout: printed,
            options: options.clone(),
            _temp: None,
        }
    }

    /// Kills the agent with SIGKILL (the product keeps running under its supervisor, as after a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the agent");
            child.wait().expect("reap the agent");
        }
    }

    /// Starts the agent again as it was started, on the same data directory and ports (after [`Agent::kill`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill the agent first");
        let mut again = Agent::launch(self.data_dir.clone(), self.base_port, &self.options);
        // Taken only once the new agent runs: if it fails to start, this value still ends the product.
        again._temp = self._temp.take();
        *self = again;
    }

    /// The API URL of `path` (e.g. `/api/v1/me`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A client without a session.
    pub fn anonymous(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// A client logged on as admin.
    pub async fn admin(&self) -> Client {
        self.log_on("admin", PASSWORD).await
    }

    /// Creates account `name` with `role` in the agent's database (as `agent users add` will), and logs it on.
    pub async fn add_account(&self, name: &str, role: Role) -> Client {
        let db = agent::db::Db::open(&self.data_dir).expect("the agent's database");
        let password = format!("{name}-password");
        agent::accounts::create(&db, "test set-up", name, role, &password)
            .expect("create the account");
        self.log_on(name, &password).await
    }

    /// A client logged on as `username`.
    pub async fn log_on(&self, username: &str, password: &str) -> Client {
        let http = self.anonymous();
        let response = http
            .post(self.at("/api/v1/login"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("log on");
        assert_eq!(response.status(), 200, "log on as {username}");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_string();
        Client {
            http,
            base: self.url.clone(),
            cookie,
        }
    }

    /// SIGTERM and wait (the product keeps running under its supervisor); true when the agent exited on its own
    /// within 20 s (else it is killed).
    pub fn stop(&mut self) -> bool {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        false
    }
}

impl Agent {
    /// Stops the product of the agent's data dir on purpose (`agent stop-product`), then kills whatever of it is
    /// left (its supervisor by the pid file, replicas by their marker), so that a test leaves no process behind.
    /// True when `stop-product` succeeded and nothing was left to kill.
    pub fn stop_product(&self) -> bool {
        let stopped = Command::new(env!("CARGO_BIN_EXE_agent"))
            .arg("stop-product")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let platform = self.data_dir.join("platform");
        let mut left = Vec::new();
        if let Some(pid) = std::fs::read_to_string(platform.join("supervisor.pid"))
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            && running(pid)
        {
            left.push(pid);
        }
        if let Ok(platform) = platform.canonicalize() {
            left.extend(marked_processes(&platform));
        }
        for pid in &left {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        stopped && left.is_empty()
    }
}

/// Whether `pid` runs (exists and is no zombie waiting to be reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Live processes carrying the local platform's marker for `platform_dir` (its replicas).
pub fn marked_processes(platform_dir: &Path) -> Vec<u32> {
    let needle = format!("UPGRADE_AGENT_HOME={}", platform_dir.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if running(pid) && environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found.sort();
    found
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.stop();
        // Only the owner of the data dir (not the value a restart replaces) ends the product.
        if self._temp.is_some() {
            let _ = self.stop_product();
        }
    }
}

/// A logged-on client.
#[derive(Clone)]
pub struct Client {
    /// The HTTP client holding the cookie.
    pub http: reqwest::Client,
    /// The agent's URL.
    pub base: String,
    /// `agent_session=<token>`, for websocket handshakes.
    pub cookie: String,
}

/// An upgrade form as the console sends it.
#[derive(Debug, Clone)]
pub struct UpgradeForm {
    /// `target_version`.
    pub target: &'static str,
    /// `mode`.
    pub mode: &'static str,
    /// `config_kind`.
    pub kind: &'static str,
    /// The demo configuration file (under `demo/`).
    pub config: &'static str,
    /// `risk_accepted`.
    pub risk_accepted: bool,
    /// `template_mismatch_confirmed`.
    pub confirmed: bool,
}

impl UpgradeForm {
    /// The good rolling upgrade of the demo product: V5.1.2.02 → V5.1.2.04 with its standard configuration.
    pub fn rolling() -> UpgradeForm {
        UpgradeForm {
            target: "V5.1.2.04",
            mode: "zero-downtime",
            kind: "standard",
            config: "config/standard-V5.1.2.04.yaml",
            risk_accepted: true,
            confirmed: false,
        }
    }

    fn form(&self) -> Form {
        let name = Path::new(self.config)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut form = Form::new()
            .text("target_version", self.target)
            .text("mode", self.mode)
            .text("config_kind", self.kind)
            .part(
                "config",
                Part::bytes(demo_bytes(self.config)).file_name(name),
            );
        if self.risk_accepted {
            form = form.text("risk_accepted", "true");
        }
        if self.confirmed {
            form = form.text("template_mismatch_confirmed", "true");
        }
        form
    }
}

impl Client {
    /// The URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET as JSON, asserting 200.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(self.at(path)).send().await.expect("GET");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON")
    }

    /// Uploads a demo version package; returns status and body.
    pub async fn import(&self, file: &str) -> (u16, Value) {
        self.import_zip(demo_bytes(file)).await
    }

    /// Uploads a version package's bytes; returns status and body.
    pub async fn import_zip(&self, package: Vec<u8>) -> (u16, Value) {
        let response = self
            .http
            .post(self.at("/api/v1/versions"))
            .header("content-type", "application/zip")
            .body(package)
            .send()
            .await
            .expect("POST /api/v1/versions");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Imports the demo product's V5.1.2.04 and V5.2.0.01.
    pub async fn import_demo_versions(&self) {
        for file in ["versions/V5.1.2.04.zip", "versions/V5.2.0.01.zip"] {
            let (status, body) = self.import(file).await;
            assert!(
                status == 201 || status == 200,
                "import {file}: {status} {body}"
            );
        }
    }

    /// Posts an upgrade form to `path` (`/api/v1/upgrades` or `/api/v1/upgrades/check`).
    pub async fn post_form(&self, path: &str, form: &UpgradeForm) -> (u16, Value) {
        let response = self
            .http
            .post(self.at(path))
            .multipart(form.form())
            .send()
            .await
            .expect("POST form");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts an upgrade, asserting 202; returns its id.
    pub async fn start_upgrade(&self, form: &UpgradeForm) -> i64 {
        let (status, body) = self.post_form("/api/v1/upgrades", form).await;
        assert_eq!(status, 202, "start upgrade: {body}");
        body["id"].as_i64().expect("id")
    }

    /// The record of upgrade `id`.
    pub async fn upgrade(&self, id: i64) -> UpgradeDetail {
        serde_json::from_value(self.get_json(&format!("/api/v1/upgrades/{id}")).await)
            .expect("upgrade detail")
    }

    /// Waits until upgrade `id` is no longer running (at most 120 s); returns its record.
    pub async fn wait_until_ended(&self, id: i64) -> UpgradeDetail {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let detail = self.upgrade(id).await;
            if detail.summary.status != shared::api::UpgradeStatus::Running {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "upgrade {id} still running after 120 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Retries stopped or failed upgrade `id` (`POST /api/v1/upgrades/{id}/retry`, which must be accepted); returns
    /// the new run's id.
    pub async fn retry(&self, id: i64) -> i64 {
        let answer = self
            .http
            .post(self.at(&format!("/api/v1/upgrades/{id}/retry")))
            .send()
            .await
            .expect("retry");
        assert_eq!(answer.status(), 202, "retry of upgrade {id} accepted");
        answer.json::<Value>().await.expect("body")["id"]
            .as_i64()
            .expect("the new run's id")
    }

    /// Waits (at most `within`) until `steps` replica steps of running upgrade `id` are done; it must still run then
    /// (the caller is about to interrupt it).
    pub async fn wait_for_steps_done(&self, id: i64, steps: u32, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let record = self.upgrade(id).await;
            assert_eq!(
                record.summary.status,
                UpgradeStatus::Running,
                "ended before {steps} steps were done: {record:?}"
            );
            if record.summary.progress.done >= steps {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not {steps} steps done within {within:?}: {record:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every log entry of upgrade `id` over HTTP.
    pub async fn all_logs(&self, id: i64) -> Vec<LogEntry> {
        let mut all = Vec::new();
        loop {
            let after = all.last().map(|e: &LogEntry| e.seq).unwrap_or(0);
            let page: Vec<LogEntry> = serde_json::from_value(
                self.get_json(&format!(
                    "/api/v1/upgrades/{id}/logs?after={after}&limit=500"
                ))
                .await,
            )
            .expect("log entries");
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    /// Opens the log stream of upgrade `id` after `after`, with this client's session and `origin`.
    pub async fn open_stream(
        &self,
        id: i64,
        after: u64,
        origin: Option<&str>,
    ) -> Result<Viewer, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!(
            "{}/api/v1/upgrades/{id}/logs/stream?after={after}",
            self.base.replacen("http://", "ws://", 1)
        );
        let mut request = url.into_client_request().expect("ws request");
        request
            .headers_mut()
            .insert("cookie", self.cookie.parse().expect("cookie header"));
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().expect("origin header"));
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Viewer {
            socket,
            close_code: None,
        })
    }
}

/// A websocket log viewer.
pub struct Viewer {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// The close code the agent sent, once closed.
    pub close_code: Option<u16>,
}

impl Viewer {
    /// The next JSON message; `None` when the stream closed.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(120), self.socket.next())
                .await
                .expect("a message within 120 s")?;
            match message.ok()? {
                Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
                Message::Close(frame) => {
                    self.close_code = frame.map(|f| u16::from(f.code));
                    return None;
                }
                _ => continue,
            }
        }
    }

    /// Reads until the `end` message (or the close); returns the log seqs seen and the end status.
    pub async fn read_to_end(&mut self, seqs: &mut Vec<u64>) -> Option<String> {
        while let Some(message) = self.next().await {
            match message["type"].as_str() {
                Some("log") => seqs.push(message["seq"].as_u64().expect("seq")),
                Some("end") => return message["status"].as_str().map(str::to_string),
                _ => {}
            }
        }
        None
    }
}

/// Asserts `seqs` is exactly 1..=n.
pub fn assert_gapless(seqs: &[u64]) {
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(
        seqs,
        expected.as_slice(),
        "log seqs must be 1..n without gaps or duplicates"
    );
}

/// An upgrade's log read `before` the agent was killed and `after` its restart: gapless, every line written before
/// kept as it was, and a line saying the agent restarted.
pub fn assert_log_kept_across_a_restart(before: &[LogEntry], after: &[LogEntry]) {
    assert_gapless(&after.iter().map(|e| e.seq).collect::<Vec<_>>());
    assert_eq!(
        &after[..before.len()],
        before,
        "every line written before the kill is kept as it was"
    );
    assert!(
        after.iter().any(|e| e.message.contains("restarted")),
        "the log says the agent restarted"
    );
}

/// The cluster view.
pub async fn cluster(client: &Client) -> shared::api::ClusterView {
    serde_json::from_value(client.get_json("/api/v1/cluster").await).expect("cluster view")
}

/// The stable address of `app` in the cluster view.
pub fn address(view: &shared::api::ClusterView, app: &str) -> String {
    view.applications
        .iter()
        .find(|a| a.name == app)
        .map(|a| a.address.clone())
        .unwrap_or_else(|| panic!("no application {app} in {view:?}"))
}

/// Every replica as `(id, version, state, ready)`, sorted.
pub fn replicas(view: &shared::api::ClusterView) -> Vec<(String, String, String, bool)> {
    let mut all: Vec<_> = view
        .applications
        .iter()
        .flat_map(|a| &a.replicas)
        .map(|r| (r.id.clone(), r.version.clone(), r.state.clone(), r.ready))
        .collect();
    all.sort();
    all
}
