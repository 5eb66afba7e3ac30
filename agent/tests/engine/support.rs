//! What the engine tests share: the demo product's deployments, an engine on a fresh data dir, an events sink that
//! records into memory, a load generator that uses the product as its users do, and a look at `/proc`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent::engine::{
    Deployment, Engine, Level, PlatformConfig, RunOutcome, StepStatus, UpgradeEvents, UpgradeJob,
    for_platform,
};
use agent::platform::local::LocalConfig;
use shared::api::{Availability, UpgradeMode};
use shared::manifest::Manifest;
use tokio::sync::watch;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `demo-app` is: beside this test's own target dir (built by `cargo build -p demo`, which the test script
/// runs first; built here when missing).
pub fn bin_dir() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("own path");
            let dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/debug")
                .to_path_buf();
            if !dir.join("demo-app").exists() {
                let status = std::process::Command::new(env!("CARGO"))
                    .args(["build", "-p", "demo", "--bin", "demo-app"])
                    .current_dir(repo())
                    .status()
                    .expect("cargo build -p demo");
                assert!(status.success(), "cargo build -p demo failed");
            }
            dir
        })
        .clone()
}

/// A version of the demo product with a configuration file of `demo/config/`.
pub fn deployment(version: &str, config: &str) -> Deployment {
    let manifest_path = repo().join(format!("demo/versions/src/{version}/version.yaml"));
    let manifest: Manifest =
        serde_norway::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    let values = std::fs::read_to_string(repo().join("demo/config").join(config)).unwrap();
    Deployment { manifest, values }
}

/// Three consecutive free loopback ports for the stable addresses, below the ephemeral range (32768 and up) that
/// replicas get their ports from, so that no replica of a parallel test takes one before the supervisor binds it.
pub fn free_base_port() -> u16 {
    let mut seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for _ in 0..1000 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let base = 20_000 + (seed >> 8) as u16 % 12_000;
        let rest: Vec<_> = (0..3)
            .map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)))
            .collect();
        if rest.iter().all(Result::is_ok) {
            return base;
        }
    }
    panic!("no three free consecutive ports between 20000 and 32000");
}

/// The agent's executable: the local platform starts it as `agent supervise`.
pub fn agent_program() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_agent"))
}

/// The local platform's configuration for `data_dir` and `base_port`.
pub fn local_config(data_dir: &Path, base_port: u16) -> LocalConfig {
    LocalConfig {
        data_dir: data_dir.to_path_buf(),
        bin_dir: bin_dir(),
        base_port,
        agent_program: agent_program(),
    }
}

/// Stops the product of `data_dir` on purpose (as `agent stop-product` does): nothing of it runs afterwards.
pub async fn stop_product(data_dir: &Path) {
    let stopped = agent::platform::local::stop_product(data_dir, Duration::from_secs(30))
        .await
        .expect("stop the product");
    assert!(stopped, "a supervisor ran for {}", data_dir.display());
}

/// The pid of the supervisor of a platform dir, from its pid file.
pub fn supervisor_pid(platform_dir: &Path) -> Option<u32> {
    std::fs::read_to_string(platform_dir.join("supervisor.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Kills, when dropped, the supervisor of a platform dir and then every replica process of it, so that a failing
/// test leaves none behind (the supervisor first: it would start a killed replica again).
pub struct ReplicaGuard(pub PathBuf);

impl Drop for ReplicaGuard {
    fn drop(&mut self) {
        if let Some(pid) = supervisor_pid(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        for pid in marked_processes(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// An engine on the local platform in a fresh data dir.
pub struct Cluster {
    pub engine: Arc<dyn Engine>,
    pub config: LocalConfig,
    _guard: ReplicaGuard,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn new() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let config = local_config(dir.path(), free_base_port());
        let engine = Cluster::reopen(&config);
        let guard = ReplicaGuard(config.data_dir.join("platform").canonicalize().unwrap());
        Cluster {
            engine,
            config,
            _guard: guard,
            _dir: dir,
        }
    }

    /// Another engine on the same data dir (as after an agent restart).
    pub fn reopen(config: &LocalConfig) -> Arc<dyn Engine> {
        // Opening the local platform awaits nothing (only a cluster platform connects), so it is ready at once.
        futures_util::FutureExt::now_or_never(for_platform(&PlatformConfig::Local(config.clone())))
            .expect("the local platform opens without waiting")
            .unwrap()
    }

    pub fn address(&self, app: &str) -> String {
        self.engine
            .applications()
            .into_iter()
            .find(|a| a.name == app)
            .map(|a| a.address)
            .unwrap_or_else(|| panic!("no application {app}"))
    }

    /// The platform's own directory (the replicas' marker).
    pub fn platform_dir(&self) -> PathBuf {
        self.config
            .data_dir
            .join("platform")
            .canonicalize()
            .unwrap()
    }
}

/// Starts `deployment`, runs `job`-like upgrade to `to`, returns the outcome.
pub async fn upgrade(
    engine: &Arc<dyn Engine>,
    id: i64,
    mode: UpgradeMode,
    from: &Deployment,
    to: &Deployment,
    events: &Arc<RecordingEvents>,
    stop: watch::Receiver<bool>,
) -> RunOutcome {
    let job = UpgradeJob {
        id,
        mode,
        from: from.clone(),
        to: to.clone(),
        resuming: false,
    };
    tokio::time::timeout(
        Duration::from_secs(180),
        engine.run(job, events.clone(), stop),
    )
    .await
    .expect("the upgrade ends within 3 minutes")
}

/// The cluster view sampled every 2 ms, noting each time an application has fewer ready replicas than it should.
pub struct Shortfalls {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

impl Shortfalls {
    pub fn watch(engine: Arc<dyn Engine>) -> Shortfalls {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            while !*stopped.borrow() {
                for app in engine.applications() {
                    let ready = app.replicas.iter().filter(|r| r.ready).count() as u32;
                    if ready < app.desired_replicas {
                        seen.push(format!(
                            "{}: {ready} ready of {}",
                            app.name, app.desired_replicas
                        ));
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        });
        Shortfalls { stop, task }
    }

    /// Stops watching; what was seen.
    pub async fn finish(self) -> Vec<String> {
        self.stop.send_replace(true);
        self.task.await.unwrap()
    }
}

/// Every replica runs `version` and each application has its desired number of ready replicas.
pub fn assert_all_on(engine: &Arc<dyn Engine>, version: &str) {
    for app in engine.applications() {
        let ready: Vec<_> = app.replicas.iter().filter(|r| r.ready).collect();
        assert_eq!(
            ready.len() as u32,
            app.desired_replicas,
            "{} should have {} ready replicas: {:?}",
            app.name,
            app.desired_replicas,
            app.replicas
        );
        assert!(
            app.replicas.iter().all(|r| r.version == version && r.ready),
            "{} is not all on {version}: {:?}",
            app.name,
            app.replicas
        );
    }
}

/// Live processes carrying the platform's marker for `platform_dir`.
pub fn marked_processes(platform_dir: &Path) -> Vec<u32> {
    let needle = format!("UPGRADE_AGENT_HOME={}", platform_dir.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
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
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie && environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found.sort();
    found
}

/// One step as the sink saw it.
#[derive(Debug, Clone)]
pub struct Step {
    pub app: String,
    pub replica: Option<String>,
    pub action: String,
    pub status: Option<StepStatus>,
    pub message: String,
    pub took: Option<Duration>,
    started: Instant,
}

#[derive(Debug, Default)]
pub struct Recorded {
    pub logs: Vec<(Level, Option<String>, String)>,
    pub steps: Vec<Step>,
    pub planned: u32,
    pub availability: Option<Availability>,
}

/// The engine's events, kept in memory for the assertions.
#[derive(Debug, Default)]
pub struct RecordingEvents(pub Mutex<Recorded>);

impl RecordingEvents {
    pub fn snapshot(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.0.lock().unwrap()
    }

    pub fn log_text(&self) -> String {
        self.snapshot()
            .logs
            .iter()
            .map(|(level, app, message)| {
                format!(
                    "{} [{}] {message}",
                    level.as_str(),
                    app.as_deref().unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl UpgradeEvents for RecordingEvents {
    fn log(&self, level: Level, app: Option<&str>, message: &str) {
        self.0
            .lock()
            .unwrap()
            .logs
            .push((level, app.map(String::from), message.to_string()));
    }

    fn plan(&self, total: u32) {
        self.0.lock().unwrap().planned = total;
    }

    fn step_started(
        &self,
        application: &str,
        replica: Option<&str>,
        action: &str,
        message: &str,
    ) -> u32 {
        let mut recorded = self.0.lock().unwrap();
        let seq = recorded.steps.len() as u32 + 1;
        recorded.steps.push(Step {
            app: application.into(),
            replica: replica.map(String::from),
            action: action.into(),
            status: None,
            message: message.into(),
            took: None,
            started: Instant::now(),
        });
        seq
    }

    fn step_finished(&self, seq: u32, status: StepStatus, message: &str) {
        let mut recorded = self.0.lock().unwrap();
        let step = &mut recorded.steps[seq as usize - 1];
        step.status = Some(status);
        step.message = message.into();
        step.took = Some(step.started.elapsed());
    }

    fn availability(&self, measured: &Availability) {
        self.0.lock().unwrap().availability = Some(measured.clone());
    }
}
