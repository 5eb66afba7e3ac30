//! The `local` platform: each replica is a child process on a free loopback port; each application's stable address
//! (`127.0.0.1:<base_port + i>`) is a reverse proxy to its ready replicas.
//!
//! What a replica gets (see docs/engine.md): `DEMO_APP`, `DEMO_REPLICA`, `DEMO_VERSION`, `DEMO_PORT`,
//! `DEMO_VALUES` (a file holding the values.yaml it runs with), `DEMO_STATE_DIR` (shared by every replica of the
//! product, so work outlives a replica), and the marker `UPGRADE_AGENT_HOME` that finds orphans after a crash.
//! Its stdout and stderr go to `<data dir>/platform/logs/<replica>.log`.

mod process;
mod proxy;
mod table;

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::Signal;
use shared::manifest::Application;
use tokio::sync::watch;

use self::proxy::{Backend, Backends};
use self::table::{ReplicaRecord, ReplicaTable};
use super::{Adoption, Health, Platform, PlatformError, Release, Replica, ReplicaState, Result};

/// How long a drain waits for the requests a replica is serving before it stops it anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Replicas as child processes behind per-application reverse proxies.
pub struct LocalPlatform {
    shared: Arc<Shared>,
}

struct Shared {
    /// `<data dir>/platform`: the table, values files, logs.
    dir: PathBuf,
    /// Where application commands are found.
    bin_dir: PathBuf,
    /// First stable port.
    base_port: u16,
    inner: Mutex<Inner>,
    client: Client<HttpConnector, Full<Bytes>>,
    http: reqwest::Client,
}

#[derive(Default)]
struct Inner {
    table: ReplicaTable,
    /// Application → its traffic set and proxy task (the task only once exposed).
    addresses: HashMap<String, Address>,
    /// Replica → how it ended, once it has.
    exits: HashMap<String, watch::Receiver<Option<String>>>,
    /// Replicas asked to stop: their exit is not a crash.
    stopping: HashSet<String>,
}

#[derive(Default)]
struct Address {
    backends: Arc<Backends>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What the local platform needs to know (`agent serve`'s `--data-dir`, `--bin-dir` and `--base-port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The agent's data dir; the platform keeps its replica table, values files and replica logs in `platform/`.
    pub data_dir: PathBuf,
    /// Where application commands such as `demo-app` are found.
    pub bin_dir: PathBuf,
    /// The first stable address port: application i listens on `127.0.0.1:<base_port + i>`.
    pub base_port: u16,
}

impl LocalConfig {
    /// The default stable address port of the first application.
    pub const DEFAULT_BASE_PORT: u16 = 18081;

    /// The local platform in `data_dir`, commands from `bin_dir`, with the default base port.
    pub fn new(data_dir: impl Into<PathBuf>, bin_dir: impl Into<PathBuf>) -> LocalConfig {
        LocalConfig {
            data_dir: data_dir.into(),
            bin_dir: bin_dir.into(),
            base_port: Self::DEFAULT_BASE_PORT,
        }
    }
}

impl LocalPlatform {
    /// Opens the platform living in `<data dir>/platform` (created if missing), reading its replica table.
    pub fn open(config: &LocalConfig) -> Result<LocalPlatform> {
        let LocalConfig {
            data_dir,
            bin_dir,
            base_port,
        } = config;
        let base_port = *base_port;
        let dir = data_dir.join("platform");
        for sub in ["", "logs", "values", "state"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| PlatformError::Io {
                path: path.display().to_string(),
                source,
            })?;
        }
        // The marker is compared as text: one canonical spelling of the directory.
        let dir = dir.canonicalize().map_err(|source| PlatformError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut table = ReplicaTable::load(&dir)?;
        if table.base_port != base_port {
            table.base_port = base_port;
            table.ports.clear();
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| PlatformError::Io {
                path: "HTTP client".into(),
                source: std::io::Error::other(e),
            })?;
        Ok(LocalPlatform {
            shared: Arc::new(Shared {
                dir,
                bin_dir: bin_dir.to_path_buf(),
                base_port,
                inner: Mutex::new(Inner {
                    table,
                    ..Default::default()
                }),
                client: proxy::client(),
                http,
            }),
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists the table; a failure is logged, since the replicas themselves are fine.
    fn save(&self, inner: &Inner) {
        if let Err(e) = inner.table.save(&self.dir) {
            tracing::error!("cannot persist the replica table: {e}");
        }
    }

    fn values_file(&self, release: &Release) -> Result<PathBuf> {
        let path = self.dir.join("values").join(format!(
            "{}-{}.yaml",
            release.version,
            release.config_digest()
        ));
        if !path.exists() {
            let tmp = path.with_extension("tmp");
            let io = |source| PlatformError::Io {
                path: path.display().to_string(),
                source,
            };
            std::fs::write(&tmp, &release.values).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        Ok(path)
    }

    /// Notes that a replica ended: out of traffic, and marked as a crash unless it was asked to stop.
    fn ended(&self, id: &str, reason: String) {
        let mut inner = self.lock();
        let asked = inner.stopping.contains(id);
        let app = inner
            .table
            .replicas
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.app.clone());
        if let Some(app) = app
            && let Some(address) = inner.addresses.get(&app)
        {
            address.backends.remove(id);
        }
        if !asked && let Some(record) = inner.table.get_mut(id) {
            tracing::warn!(replica = id, "replica ended unexpectedly: {reason}");
            record.state = ReplicaState::Exited(reason);
            self.save(&inner);
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".into(),
    }
}

/// Watches a child until it ends.
fn watch_child(
    shared: Arc<Shared>,
    id: String,
    mut child: tokio::process::Child,
) -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let reason = match child.wait().await {
            Ok(status) => describe(status),
            Err(e) => format!("cannot be waited for: {e}"),
        };
        shared.ended(&id, reason.clone());
        let _ = tx.send(Some(reason));
    });
    rx
}

/// Watches an adopted process (not our child: no exit status) until it ends.
fn watch_adopted(
    shared: Arc<Shared>,
    id: String,
    pid: u32,
    start: u64,
) -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        while process::is_alive(pid, start) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let reason = format!("process {pid} ended");
        shared.ended(&id, reason.clone());
        let _ = tx.send(Some(reason));
    });
    rx
}

fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|source| PlatformError::Io {
            path: "127.0.0.1:0".into(),
            source,
        })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| PlatformError::Io {
            path: "127.0.0.1:0".into(),
            source,
        })
}

fn to_replica(record: &ReplicaRecord) -> Replica {
    Replica {
        id: record.id.clone(),
        app: record.app.clone(),
        version: record.version.clone(),
        config: record.config.clone(),
        state: record.state.clone(),
    }
}

async fn wait_exit(mut exit: watch::Receiver<Option<String>>, limit: Duration) -> bool {
    tokio::time::timeout(limit, exit.wait_for(|e| e.is_some()))
        .await
        .is_ok()
}

impl Platform for LocalPlatform {
    async fn expose(&self, app: &Application) -> Result<String> {
        let shared = &self.shared;
        let port = {
            let mut inner = shared.lock();
            if let Some(port) = inner.table.ports.get(&app.name).copied() {
                port
            } else {
                let used: HashSet<u16> = inner.table.ports.values().copied().collect();
                let mut port = shared.base_port;
                while used.contains(&port) {
                    port = port.saturating_add(1);
                }
                inner.table.ports.insert(app.name.clone(), port);
                shared.save(&inner);
                port
            }
        };
        let address = format!("http://127.0.0.1:{port}");
        if shared
            .lock()
            .addresses
            .get(&app.name)
            .is_some_and(|a| a.task.is_some())
        {
            return Ok(address);
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| PlatformError::Listen {
                app: app.name.clone(),
                address: address.clone(),
                source,
            })?;
        let mut inner = shared.lock();
        let entry = inner.addresses.entry(app.name.clone()).or_default();
        if entry.task.is_none() {
            entry.task = Some(proxy::serve(
                app.name.clone(),
                listener,
                entry.backends.clone(),
                shared.client.clone(),
            ));
        }
        Ok(address)
    }

    fn address(&self, app: &str) -> Option<String> {
        let inner = self.shared.lock();
        inner
            .table
            .ports
            .get(app)
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    async fn start_replica(&self, app: &Application, release: &Release) -> Result<String> {
        let shared = &self.shared;
        let local = app
            .local
            .as_ref()
            .ok_or_else(|| PlatformError::NotRunnable {
                app: app.name.clone(),
                platform: "local",
                missing: "`local:` command",
            })?;
        let command = if Path::new(&local.command).is_absolute() {
            PathBuf::from(&local.command)
        } else {
            shared.bin_dir.join(&local.command)
        };
        let values = shared.values_file(release)?;
        let port = free_port()?;
        let id = {
            let mut inner = shared.lock();
            inner.table.next_number += 1;
            format!("{}-{}", app.name, inner.table.next_number)
        };
        let log_path = shared.dir.join("logs").join(format!("{id}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|source| PlatformError::Io {
                path: log_path.display().to_string(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| PlatformError::Io {
            path: log_path.display().to_string(),
            source,
        })?;
        let child = tokio::process::Command::new(&command)
            .args(&local.args)
            .env("DEMO_APP", &app.name)
            .env("DEMO_REPLICA", &id)
            .env("DEMO_VERSION", &release.version)
            .env("DEMO_PORT", port.to_string())
            .env("DEMO_VALUES", &values)
            .env("DEMO_STATE_DIR", shared.dir.join("state"))
            .env(process::MARKER, &shared.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // Its own process group: a Ctrl-C meant for the agent does not reach the replicas; the agent stops
            // them in order.
            .process_group(0)
            .spawn()
            .map_err(|source| PlatformError::Spawn {
                app: app.name.clone(),
                command: command.display().to_string(),
                source,
            })?;
        let pid = child.id().unwrap_or_default();
        let start_ticks = process::stat(pid)
            .map(|(start, _)| start)
            .unwrap_or_default();
        let mut inner = shared.lock();
        inner.table.replicas.push(ReplicaRecord {
            id: id.clone(),
            app: app.name.clone(),
            version: release.version.clone(),
            config: release.config_digest(),
            pid,
            start_ticks,
            port,
            state: ReplicaState::Starting,
        });
        shared.save(&inner);
        drop(inner);
        let exit = watch_child(shared.clone(), id.clone(), child);
        shared.lock().exits.insert(id.clone(), exit);
        Ok(id)
    }

    async fn health(&self, replica: &str, path: &str) -> Health {
        let port = {
            let inner = self.shared.lock();
            match inner.table.replicas.iter().find(|r| r.id == replica) {
                None => return Health::Exited(format!("replica {replica} is not running")),
                Some(ReplicaRecord {
                    state: ReplicaState::Exited(reason),
                    ..
                }) => return Health::Exited(reason.clone()),
                Some(record) => record.port,
            }
        };
        let url = format!("http://127.0.0.1:{port}{path}");
        match self.shared.http.get(&url).send().await {
            Ok(response) if response.status().is_success() => Health::Ready,
            Ok(response) => Health::NotReady(format!("{path} answered {}", response.status())),
            Err(e) if e.is_connect() => {
                Health::NotReady(format!("nothing listens on port {port} yet"))
            }
            Err(e) => Health::NotReady(format!("{path}: {e}")),
        }
    }

    async fn route_in(&self, replica: &str) -> Result<()> {
        let mut inner = self.shared.lock();
        let record = inner
            .table
            .get_mut(replica)
            .ok_or_else(|| PlatformError::UnknownReplica(replica.into()))?;
        record.state = ReplicaState::Ready;
        let (app, port) = (record.app.clone(), record.port);
        inner
            .addresses
            .entry(app)
            .or_default()
            .backends
            .add(Backend {
                replica: replica.into(),
                addr: ([127, 0, 0, 1], port).into(),
                in_flight: Default::default(),
            });
        self.shared.save(&inner);
        Ok(())
    }

    async fn drain_and_stop(&self, replica: &str, grace: Duration) -> Result<()> {
        let shared = &self.shared;
        let (in_flight, record, exit) = {
            let mut inner = shared.lock();
            let record = inner
                .table
                .replicas
                .iter()
                .find(|r| r.id == replica)
                .cloned()
                .ok_or_else(|| PlatformError::UnknownReplica(replica.into()))?;
            inner.stopping.insert(replica.into());
            let in_flight = inner
                .addresses
                .get(&record.app)
                .and_then(|a| a.backends.remove(replica));
            if let Some(r) = inner.table.get_mut(replica)
                && !matches!(r.state, ReplicaState::Exited(_))
            {
                r.state = ReplicaState::Draining;
            }
            shared.save(&inner);
            (in_flight, record, inner.exits.get(replica).cloned())
        };
        if let Some(in_flight) = in_flight {
            let deadline = Instant::now() + DRAIN_LIMIT;
            while in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if !matches!(record.state, ReplicaState::Exited(_)) {
            match exit {
                Some(exit) => {
                    process::signal(record.pid, Signal::SIGTERM);
                    if !wait_exit(exit.clone(), grace).await {
                        tracing::warn!(replica, "did not stop within {grace:?}: killed");
                        process::signal(record.pid, Signal::SIGKILL);
                        wait_exit(exit, Duration::from_secs(5)).await;
                    }
                }
                None => {
                    process::terminate_foreign(record.pid, Some(record.start_ticks), grace).await;
                }
            }
        }
        let mut inner = shared.lock();
        inner.table.replicas.retain(|r| r.id != replica);
        inner.exits.remove(replica);
        inner.stopping.remove(replica);
        shared.save(&inner);
        Ok(())
    }

    fn replicas(&self) -> Vec<Replica> {
        self.shared
            .lock()
            .table
            .replicas
            .iter()
            .map(to_replica)
            .collect()
    }

    async fn adopt(&self) -> Result<Adoption> {
        let shared = &self.shared;
        let mut adoption = Adoption::default();
        let records = {
            let mut inner = shared.lock();
            let ports = (inner.table.base_port, inner.table.ports.clone());
            inner.table = ReplicaTable::load(&shared.dir)?;
            (inner.table.base_port, inner.table.ports) = ports;
            inner.table.replicas.clone()
        };
        let mut keep = Vec::new();
        for record in records {
            let alive = process::is_alive(record.pid, record.start_ticks);
            match (&record.state, alive) {
                (ReplicaState::Ready, true) => {
                    adoption.adopted.push(record.id.clone());
                    keep.push(record);
                }
                (_, true) => {
                    // Never in traffic, or leaving it: stopped; the engine starts what is missing.
                    process::terminate_foreign(
                        record.pid,
                        Some(record.start_ticks),
                        Duration::from_secs(30),
                    )
                    .await;
                    adoption.replaced.push(record.id.clone());
                }
                (_, false) => adoption.vanished.push(record.id.clone()),
            }
        }
        let known: HashSet<u32> = keep.iter().map(|r| r.pid).collect();
        for pid in process::marked_processes(&shared.dir) {
            if !known.contains(&pid) && pid != std::process::id() {
                process::terminate_foreign(pid, None, Duration::from_secs(10)).await;
                adoption.strays_stopped.push(format!("process {pid}"));
            }
        }
        let mut inner = shared.lock();
        inner.table.replicas = keep.clone();
        for record in &keep {
            inner
                .addresses
                .entry(record.app.clone())
                .or_default()
                .backends
                .add(Backend {
                    replica: record.id.clone(),
                    addr: ([127, 0, 0, 1], record.port).into(),
                    in_flight: Default::default(),
                });
            let exit = watch_adopted(
                shared.clone(),
                record.id.clone(),
                record.pid,
                record.start_ticks,
            );
            inner.exits.insert(record.id.clone(), exit);
        }
        shared.save(&inner);
        Ok(adoption)
    }

    async fn shutdown(&self, grace: Duration) {
        let ids: Vec<String> = self.replicas().into_iter().map(|r| r.id).collect();
        let stops = ids.iter().map(|id| self.drain_and_stop(id, grace));
        for result in futures_util::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!("at shutdown: {e}");
            }
        }
        let mut inner = self.shared.lock();
        for address in inner.addresses.values_mut() {
            if let Some(task) = address.task.take() {
                task.abort();
            }
        }
    }
}
