//! Helpers for the end-to-end tests: a real agent running the demo product, chromedriver, and a headless
//! Chromium driven through WebDriver (fantoccini).
//!
//! The tests are `#[ignore]`d so that a plain `cargo nextest run --workspace` reports them as skipped;
//! `scripts/test.sh` runs them with `--run-ignored only` after building the console. They need `frontend/dist`
//! (`trunk build --offline`), the agent and the demo binaries (`cargo build -p agent -p demo --bins`),
//! `/usr/bin/chromium` and `/usr/bin/chromedriver`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};

/// The admin password the tests start the agent with.
pub const ADMIN_PASSWORD: &str = "e2e-Admin-password-1";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A file of the demo product, e.g. `demo/versions/V5.1.2.04.zip`.
pub fn demo_file(relative: &str) -> String {
    root().join(relative).display().to_string()
}

/// A running agent with the demo product and a browser pointed at its console.
pub struct Console {
    /// The WebDriver session.
    pub client: Client,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    processes: Processes,
    data: tempfile::TempDir,
}

/// The agent, the product's supervisor and chromedriver, ended when the test ends however it ends.
struct Processes {
    agent: Child,
    /// The agent's executable, which also stops the product (`agent stop-product`).
    agent_bin: PathBuf,
    /// The agent's data directory.
    data_dir: PathBuf,
    driver: Option<Child>,
}

impl Drop for Processes {
    fn drop(&mut self) {
        // SIGTERM first, as an operator would; the demo product keeps running under its supervisor.
        let _ = Command::new("kill")
            .args(["-TERM", &self.agent.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && matches!(self.agent.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.agent.kill();
        let _ = self.agent.wait();
        // Then the product: its replicas and its supervisor.
        let stopped = Command::new(&self.agent_bin)
            .arg("stop-product")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped
            && let Ok(pid) = std::fs::read_to_string(self.data_dir.join("platform/supervisor.pid"))
        {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
        if let Some(driver) = &mut self.driver {
            // The whole group: a test that failed before closing its session would otherwise leave Chromium
            // running once chromedriver is gone.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", driver.id())])
                .status();
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

impl Console {
    /// Starts the agent (fresh data directory, demo product at V5.1.2.02), chromedriver and Chromium.
    pub async fn start() -> Result<Console> {
        let root = root();
        // E2E_CONSOLE_DIR points at another build, e.g. the release one for measurements.
        let console_dir = std::env::var_os("E2E_CONSOLE_DIR")
            .map(PathBuf::from)
            .unwrap_or(root.join("frontend/dist"));
        let dist = console_dir.join("index.html");
        if !dist.is_file() {
            bail!(
                "{} is missing: build the console first with `trunk build --offline`",
                dist.display()
            );
        }
        let agent_bin = root.join("target/debug/agent");
        if !agent_bin.is_file() || !root.join("target/debug/demo-app").is_file() {
            bail!(
                "the agent or demo-app binary is missing: run `cargo build -p agent -p demo --bins`"
            );
        }
        let data = tempfile::tempdir().context("creating a data directory")?;
        let port = free_port()?;
        let base_port = free_port_range(8)?;
        let log = std::fs::File::create(data.path().join("agent.log"))
            .context("creating the agent's log")?;
        let agent = Command::new(&agent_bin)
            .current_dir(&root)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data.path().join("agent"))
            .arg("--console-dir")
            .arg(&console_dir)
            .args(["--base-port", &base_port.to_string()])
            .args(["--admin-password", ADMIN_PASSWORD])
            .arg("--bootstrap-package")
            .arg(root.join("demo/versions/V5.1.2.02.zip"))
            .arg("--bootstrap-values")
            .arg(root.join("demo/config/values-V5.1.2.02.yaml"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting the agent")?;
        let mut processes = Processes {
            agent,
            agent_bin: agent_bin.clone(),
            data_dir: data.path().join("agent"),
            driver: None,
        };
        let driver_port = free_port()?;
        processes.driver = Some(
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={driver_port}"))
                // Its own process group, with the Chromium it starts: see `Drop`.
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting /usr/bin/chromedriver")?,
        );
        wait_http(
            &format!("http://127.0.0.1:{driver_port}/status"),
            Duration::from_secs(20),
        )
        .await?;
        let profile = data.path().join("chromium");
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1366,850",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            bail!("capabilities are an object")
        };
        let client = ClientBuilder::rustls()
            .context("setting up TLS for the WebDriver client")?
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .context("opening a Chromium session through chromedriver")?;
        let mut console = Console {
            client,
            base: format!("http://127.0.0.1:{port}"),
            processes,
            data,
        };
        console.wait_ready().await?;
        Ok(console)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.processes.agent.try_wait()? {
                bail!(
                    "the agent exited ({status}); its log:\n{}",
                    self.agent_log()
                );
            }
            if reqwest::get(format!("{}/healthz", self.base))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the agent did not answer /healthz within 60 s; its log:\n{}",
                    self.agent_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A directory for files a test makes; removed with the console.
    pub fn scratch(&self) -> &Path {
        self.data.path()
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, js: &str) -> Result<serde_json::Value> {
        self.client
            .execute(js, Vec::new())
            .await
            .with_context(|| format!("running {js}"))
    }

    /// Scrolls an element into view and saves a screenshot (see [`Console::screenshot`]).
    pub async fn screenshot_of(&self, css: &str, name: &str) -> Result<()> {
        let js = format!(
            "document.querySelector({}).scrollIntoView({{block: 'start'}})",
            serde_json::json!(css)
        );
        self.script(&js).await?;
        self.screenshot(name).await;
        Ok(())
    }

    /// The agent's output so far, for failure messages.
    pub fn agent_log(&self) -> String {
        let text = std::fs::read_to_string(self.data.path().join("agent.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Opens a console page, e.g. `/opsconsole/v2/upgrade`.
    pub async fn open(&self, path: &str) -> Result<()> {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .with_context(|| format!("opening {path}"))
    }

    /// Logs on as admin from the logon page.
    pub async fn log_on(&self) -> Result<()> {
        self.log_on_as("admin", ADMIN_PASSWORD).await
    }

    /// Logs on as `username` from the logon page.
    pub async fn log_on_as(&self, username: &str, password: &str) -> Result<()> {
        self.type_into("#username", username).await?;
        self.type_into("#password", password).await?;
        self.click("#log-on").await
    }

    /// Adds an account as an administrator would beside the running agent: `agent users add <name> --role <role>`
    /// on its data directory, the password on stdin.
    pub fn add_account(&self, name: &str, role: &str, password: &str) -> Result<()> {
        let mut child = Command::new(root().join("target/debug/agent"))
            .args(["users", "add", name, "--role", role, "--data-dir"])
            .arg(self.data.path().join("agent"))
            .env_remove("AGENT_DATA_DIR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting `agent users add`")?;
        let mut stdin = child.stdin.take().context("its stdin")?;
        std::io::Write::write_all(&mut stdin, format!("{password}\n").as_bytes())
            .context("writing the password to `agent users add`")?;
        drop(stdin);
        let output = child
            .wait_with_output()
            .context("waiting for `agent users add`")?;
        if !output.status.success() {
            bail!(
                "`agent users add {name} --role {role}` failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    /// Waits for an element. A look-up that a navigation aborts (the console's redirect to its logon page, say)
    /// is tried again: only the deadline ends the wait.
    pub async fn find(&self, css: &str) -> Result<fantoccini::elements::Element> {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return Ok(element),
                Err(e) if Instant::now() > deadline => {
                    self.screenshot("failure").await;
                    let at = self.path().await.unwrap_or_default();
                    return Err(e).with_context(|| format!("waiting for {css} on {at}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Clicks an element once it is there.
    pub async fn click(&self, css: &str) -> Result<()> {
        self.act_on(css, async |e| e.click().await)
            .await
            .with_context(|| format!("clicking {css}"))
    }

    /// Types into an input.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        self.act_on(css, async |e| e.send_keys(text).await)
            .await
            .with_context(|| format!("typing into {css}"))
    }

    /// Finds an element and acts on it; if a navigation replaced it in between, finds it again and acts once more.
    async fn act_on(
        &self,
        css: &str,
        act: impl AsyncFn(fantoccini::elements::Element) -> Result<(), fantoccini::error::CmdError>,
    ) -> Result<()> {
        if act(self.find(css).await?).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(act(self.find(css).await?).await?)
    }

    /// Picks a file in a file input.
    pub async fn upload(&self, css: &str, path: &str) -> Result<()> {
        self.find(css)
            .await?
            .send_keys(path)
            .await
            .with_context(|| format!("uploading {path} with {css}"))
    }

    /// Waits until the text of `css` contains `wanted`; returns the text.
    pub async fn wait_text(&self, css: &str, wanted: &str, within: Duration) -> Result<String> {
        self.wait_text_any(css, &[wanted], within).await
    }

    /// Waits until the text of `css` contains one of `wanted`; returns the text.
    pub async fn wait_text_any(
        &self,
        css: &str,
        wanted: &[&str],
        within: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                last = el.text().await.unwrap_or_default();
                if wanted.iter().any(|w| last.contains(w)) {
                    return Ok(last);
                }
            }
            if Instant::now() > deadline {
                self.screenshot("failure").await;
                let at = self.path().await.unwrap_or_default();
                bail!(
                    "`{css}` did not show {wanted:?} within {within:?} on {at}; it shows {last:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until a button is enabled.
    pub async fn wait_enabled(&self, css: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.enabled(css).await? {
            if Instant::now() > deadline {
                let blockers = match self.client.find(Locator::Css("#blockers")).await {
                    Ok(el) => el.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                self.screenshot("failure").await;
                bail!("`{css}` stayed disabled; still missing: {blockers}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Whether a button is enabled now.
    pub async fn enabled(&self, css: &str) -> Result<bool> {
        Ok(self.find(css).await?.is_enabled().await?)
    }

    /// The current path and query.
    pub async fn path(&self) -> Result<String> {
        let url = self.client.current_url().await?;
        Ok(format!(
            "{}{}",
            url.path(),
            url.query().map(|q| format!("?{q}")).unwrap_or_default()
        ))
    }

    /// Saves a screenshot to `target/e2e-screenshots/<name>.png` for a person to look at.
    pub async fn screenshot(&self, name: &str) {
        let dir = root().join("target/e2e-screenshots");
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
    }

    /// Ends the browser session, then the processes.
    pub async fn close(self) {
        let Console {
            client,
            processes,
            data,
            ..
        } = self;
        let _ = client.close().await;
        drop(processes);
        drop(data);
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A first port such that it and the next `count - 1` ports are free now.
fn free_port_range(count: u16) -> Result<u16> {
    for _ in 0..50 {
        let first = free_port()?;
        if first > u16::MAX - count {
            continue;
        }
        let listeners: Vec<_> = (first..first + count)
            .map(|p| TcpListener::bind(("127.0.0.1", p)))
            .collect();
        if listeners.iter().all(Result::is_ok) {
            return Ok(first);
        }
    }
    bail!("no range of {count} free ports found")
}

async fn wait_http(url: &str, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if reqwest::get(url).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not answer within {within:?}")
}

/// Writes a ZIP (deflated entries) of `files` to `path`: enough of the format for test bundles.
pub fn write_zip(path: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data)?;
        let packed = encoder.finish()?;
        let crc = crc32fast::hash(data);
        let offset = u32::try_from(out.len()).context("test ZIP over 4 GiB")?;
        let (csize, usize_) = (u32::try_from(packed.len())?, u32::try_from(data.len())?);
        let name_len = u16::try_from(name.len())?;
        let mut header = Vec::new();
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]);
        for v in [crc, csize, usize_] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.extend_from_slice(&name_len.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&packed);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 8, 0, 0, 0, 0x21, 0]);
        for v in [crc, csize, usize_] {
            central.extend_from_slice(&v.to_le_bytes());
        }
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len())?;
    let count = u16::try_from(files.len())?;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&u32::try_from(central.len())?.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// `len` bytes that do not compress (xorshift), so that a ZIP of them is as large as they are.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
