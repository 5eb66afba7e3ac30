//! What the supervisor holds: each replica a child process on a free loopback port, each application's stable
//! address (`127.0.0.1:<base_port + i>`) a reverse proxy to its ready replicas, and the replica table.
//!
//! A replica that ends unexpectedly after it was in traffic is started again (same id, command, version and values)
//! after a backoff (1 s doubling to 30 s, back to 1 s once it served 30 s), unless an upgrade holds repairs: then it
//! stays ended and the engine acts on it.

use std::collections::{HashMap, HashSet};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::Signal;
use shared::manifest::Application;
use tokio::sync::watch;

use super::process;
use super::proxy::{self, Backend, Backends};
use super::table::{Launch, ReplicaRecord, ReplicaTable};
use super::wire::Snapshot;
use crate::platform::{Adoption, Health, PlatformError, Release, Replica, ReplicaState, Result};

/// How long a drain waits for the requests a replica is serving before it stops it anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// The first wait before a repair.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between repairs.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A replica that served this long before it ended starts its backoff anew.
const HEALTHY_RUN: Duration = Duration::from_secs(30);

/// The replicas and stable addresses of one platform dir.
#[derive(Clone)]
pub struct Host {
    shared: Arc<Shared>,
}

struct Shared {
    /// `<data dir>/platform`: the table, values files, logs.
    dir: PathBuf,
    /// Where the replicas run: this machine's host name.
    node: String,
    inner: Mutex<Inner>,
    client: Client<HttpConnector, Full<Bytes>>,
    http: reqwest::Client,
    /// What the agent's watch sees; replaced after every change.
    snapshot: watch::Sender<Snapshot>,
    generation: AtomicU64,
    /// Writes the table to disk off the async workers and outside the lock.
    writer: TableWriter,
}

/// Writes the replica table on its own thread, newest version first (older ones pending are skipped), each with
/// an fsync, so that a slow disk never holds the lock the proxies' neighbours need nor an async worker. A table on
/// disk that lags behind is safe: after a supervisor crash, a replica missing from it carries the marker and is
/// stopped as a stray, one not yet marked ready is replaced.
struct TableWriter {
    state: Arc<(Mutex<Written>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Written {
    /// The newest table not yet written, with its generation.
    pending: Option<(u64, ReplicaTable)>,
    /// The generation last written.
    done: u64,
}

impl TableWriter {
    fn start(dir: PathBuf) -> TableWriter {
        let state: Arc<(Mutex<Written>, std::sync::Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            let (lock, changed) = &*shared;
            loop {
                let (generation, table) = {
                    let mut written = lock.lock().unwrap_or_else(|p| p.into_inner());
                    loop {
                        if let Some(next) = written.pending.take() {
                            break next;
                        }
                        written = changed.wait(written).unwrap_or_else(|p| p.into_inner());
                    }
                };
                if let Err(e) = table.save(&dir) {
                    tracing::error!("cannot persist the replica table: {e}");
                }
                lock.lock().unwrap_or_else(|p| p.into_inner()).done = generation;
                changed.notify_all();
            }
        });
        TableWriter { state }
    }

    fn submit(&self, generation: u64, table: ReplicaTable) {
        let (lock, changed) = &*self.state;
        let mut written = lock.lock().unwrap_or_else(|p| p.into_inner());
        if written
            .pending
            .as_ref()
            .is_none_or(|(g, _)| *g < generation)
        {
            written.pending = Some((generation, table));
            changed.notify_all();
        }
    }

    /// Waits (at most 10 s) until the table of `generation` or a newer one is on disk.
    fn flush(&self, generation: u64) {
        let (lock, changed) = &*self.state;
        let mut written = lock.lock().unwrap_or_else(|p| p.into_inner());
        let deadline = Instant::now() + Duration::from_secs(10);
        while written.done < generation {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::error!("the replica table was not written within 10 s");
                return;
            }
            written = changed
                .wait_timeout(written, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[derive(Default)]
struct Inner {
    table: ReplicaTable,
    /// Application → its traffic set and proxy task (the task only once exposed).
    addresses: HashMap<String, Address>,
    /// Replica → how it ended, once it has.
    exits: HashMap<String, watch::Receiver<Option<String>>>,
    /// Starting replica → its last readiness check, the reason it is not ready yet.
    checks: HashMap<String, Health>,
    /// Replicas asked to stop: their exit is not a crash.
    stopping: HashSet<String>,
    /// Open `hold_repairs` connections (an upgrade runs), plus one once the product is being stopped.
    holds: usize,
    /// Replicas being started again.
    repairing: HashSet<String>,
    /// Replica → the wait before its next repair, and when it last went into traffic.
    backoff: HashMap<String, (Duration, Instant)>,
    /// What the supervisor found at its own start, told to the first agent that adopts.
    startup: Option<Adoption>,
}

#[derive(Default)]
struct Address {
    backends: Arc<Backends>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Host {
    /// Opens the platform living in `dir` (existing, canonical), reading its replica table.
    pub fn open(dir: &Path) -> Result<Host> {
        for sub in ["logs", "values", "state"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| PlatformError::Io {
                path: path.display().to_string(),
                source,
            })?;
        }
        let table = ReplicaTable::load(dir)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| PlatformError::Io {
                path: "HTTP client".into(),
                source: std::io::Error::other(e),
            })?;
        let host = Host {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                node: host_name(),
                inner: Mutex::new(Inner {
                    table,
                    ..Default::default()
                }),
                client: proxy::client(),
                http,
                snapshot: watch::channel(Snapshot::default()).0,
                generation: AtomicU64::new(0),
                writer: TableWriter::start(dir.to_path_buf()),
            }),
        };
        host.shared.publish(&host.shared.lock());
        Ok(host)
    }

    /// What the agent's cache holds now.
    pub fn snapshot(&self) -> Snapshot {
        self.shared.snapshot.borrow().clone()
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.shared.snapshot.subscribe()
    }

    /// Pauses repairs until [`Host::release_repairs`].
    pub fn hold_repairs(&self) {
        self.shared.lock().holds += 1;
    }

    /// Ends one hold.
    pub fn release_repairs(&self) {
        let mut inner = self.shared.lock();
        inner.holds = inner.holds.saturating_sub(1);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the watchers and has the table persisted (a failure to write is logged, since the replicas
    /// themselves are fine); returns the change's generation.
    fn save(&self, inner: &Inner) -> u64 {
        let generation = self.publish(inner);
        self.writer.submit(generation, inner.table.clone());
        generation
    }

    fn publish(&self, inner: &Inner) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.snapshot.send_replace(Snapshot {
            supervisor: std::process::id(),
            generation,
            ports: inner.table.ports.clone(),
            replicas: inner
                .table
                .replicas
                .iter()
                .map(|r| self.to_replica(r, inner.checks.get(&r.id)))
                .collect(),
        });
        generation
    }

    fn values_file(&self, release: &Release) -> Result<PathBuf> {
        let path = self.dir.join("values").join(format!(
            "{}-{}.yaml",
            release.version,
            release.config_digest()
        ));
        if !path.exists() {
            // Replicas of one release may start at once (downtime mode starts independent applications
            // together): each writes its own temporary file, and the renames agree.
            static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = path.with_extension(format!("{n}.tmp"));
            let io = |source| PlatformError::Io {
                path: path.display().to_string(),
                source,
            };
            std::fs::write(&tmp, &release.values).map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        Ok(path)
    }

    /// Notes that a replica ended: out of traffic, marked as a crash unless it was asked to stop, and repaired
    /// when it had been in traffic and no upgrade holds repairs.
    fn ended(self: &Arc<Self>, id: &str, reason: String) {
        let mut inner = self.lock();
        let asked = inner.stopping.contains(id);
        let Some(record) = inner.table.get(id).cloned() else {
            return;
        };
        if let Some(address) = inner.addresses.get(&record.app) {
            address.backends.remove(id);
        }
        if asked {
            return;
        }
        tracing::warn!(replica = id, "replica ended unexpectedly: {reason}");
        if let Some(r) = inner.table.get_mut(id) {
            r.state = ReplicaState::Exited(reason.clone());
        }
        self.save(&inner);
        let repairable = record.state == ReplicaState::Ready && record.launch.is_some();
        if !repairable || inner.repairing.contains(id) {
            return;
        }
        if inner.holds > 0 {
            tracing::info!(
                replica = id,
                "not restarted: an upgrade runs, the engine decides what replaces it"
            );
            return;
        }
        let delay = match inner.backoff.get(id) {
            Some((next, ready_at)) if ready_at.elapsed() < HEALTHY_RUN => *next,
            _ => FIRST_BACKOFF,
        };
        inner.repairing.insert(id.to_string());
        tokio::spawn(repair(self.clone(), id.to_string(), delay));
    }

    /// Starts the process of replica `id` as `launch` says, on a new port, and records it (one lock: a stray
    /// sweep never sees the process without its record).
    fn launch(
        self: &Arc<Self>,
        inner: &mut Inner,
        record: ReplicaRecord,
        launch: &Launch,
    ) -> Result<()> {
        let id = record.id.clone();
        let port = free_port()?;
        let log_path = self.dir.join("logs").join(format!("{id}.log"));
        let io = |source| PlatformError::Io {
            path: log_path.display().to_string(),
            source,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io)?;
        let log_err = log.try_clone().map_err(io)?;
        let child = tokio::process::Command::new(&launch.command)
            .args(&launch.args)
            .env("DEMO_APP", &record.app)
            .env("DEMO_REPLICA", &id)
            .env("DEMO_VERSION", &record.version)
            .env("DEMO_PORT", port.to_string())
            .env("DEMO_VALUES", &launch.values)
            .env("DEMO_STATE_DIR", self.dir.join("state"))
            .env(process::MARKER, &self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            // Its own process group: a Ctrl-C meant for the agent or the supervisor does not reach the replicas.
            .process_group(0)
            .spawn()
            .map_err(|source| PlatformError::Spawn {
                app: record.app.clone(),
                command: launch.command.display().to_string(),
                source,
            })?;
        let pid = child.id().unwrap_or_default();
        let start_ticks = process::stat(pid)
            .map(|(start, _)| start)
            .unwrap_or_default();
        let record = ReplicaRecord {
            pid,
            start_ticks,
            port,
            state: ReplicaState::Starting,
            launch: Some(launch.clone()),
            ..record
        };
        match inner.table.get_mut(&id) {
            Some(existing) => *existing = record,
            None => inner.table.replicas.push(record),
        }
        inner.checks.remove(&id);
        self.save(inner);
        let exit = watch_child(self.clone(), id.clone(), child);
        inner.exits.insert(id, exit);
        Ok(())
    }

    fn route_in(&self, replica: &str) -> Result<()> {
        let mut inner = self.lock();
        let record = inner
            .table
            .get_mut(replica)
            .ok_or_else(|| PlatformError::UnknownReplica(replica.into()))?;
        record.state = ReplicaState::Ready;
        let (app, port) = (record.app.clone(), record.port);
        inner.checks.remove(replica);
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
        self.save(&inner);
        Ok(())
    }

    async fn health(&self, replica: &str, path: &str) -> Health {
        let port = {
            let inner = self.lock();
            match inner.table.get(replica) {
                None => return Health::Exited(format!("replica {replica} is not running")),
                Some(ReplicaRecord {
                    state: ReplicaState::Exited(reason),
                    ..
                }) => return Health::Exited(reason.clone()),
                Some(record) => record.port,
            }
        };
        let url = format!("http://127.0.0.1:{port}{path}");
        let health = match self.http.get(&url).send().await {
            Ok(response) if response.status().is_success() => Health::Ready,
            Ok(response) => Health::NotReady(format!("{path} answered {}", response.status())),
            Err(e) if e.is_connect() => {
                Health::NotReady(format!("nothing listens on port {port} yet"))
            }
            Err(e) => Health::NotReady(format!("{path}: {e}")),
        };
        // The cluster view says why a starting replica is not ready: told to the watchers when it changes.
        let mut inner = self.lock();
        let starting = inner
            .table
            .get(replica)
            .is_some_and(|r| r.state == ReplicaState::Starting);
        if starting && inner.checks.get(replica) != Some(&health) {
            inner.checks.insert(replica.to_string(), health.clone());
            self.publish(&inner);
        }
        health
    }

    fn to_replica(&self, record: &ReplicaRecord, last_check: Option<&Health>) -> Replica {
        Replica {
            id: record.id.clone(),
            app: record.app.clone(),
            version: record.version.clone(),
            config: record.config.clone(),
            state: record.state.clone(),
            node: Some(self.node.clone()),
            reason: record.state.reason(last_check.map(Health::as_reason)),
        }
    }
}

/// Starts replica `id` again after `delay`, until it is back in traffic, the upgrade holds repairs, or someone
/// stopped it; each failed attempt doubles the wait (at most 30 s).
async fn repair(shared: Arc<Shared>, id: String, mut delay: Duration) {
    let give_up = |why: &str| {
        tracing::info!(replica = id, "repair ended: {why}");
        shared.lock().repairing.remove(&id);
    };
    loop {
        tracing::warn!(replica = id, "starting it again in {delay:?}");
        {
            let mut inner = shared.lock();
            let next = (delay * 2).min(MAX_BACKOFF);
            let ready_at = inner
                .backoff
                .get(&id)
                .map(|(_, at)| *at)
                .unwrap_or_else(Instant::now);
            inner.backoff.insert(id.clone(), (next, ready_at));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_BACKOFF);
        let (exit, launch) = {
            let mut inner = shared.lock();
            if inner.holds > 0 {
                drop(inner);
                return give_up("an upgrade runs, the engine decides what replaces it");
            }
            let record = match inner.table.get(&id) {
                Some(record) if !inner.stopping.contains(&id) => record.clone(),
                _ => {
                    drop(inner);
                    return give_up("the replica was stopped");
                }
            };
            let Some(launch) = record.launch.clone() else {
                drop(inner);
                return give_up("no command recorded to start it with");
            };
            if let Err(e) = shared.launch(&mut inner, record, &launch) {
                tracing::error!(replica = id, "cannot start it again: {e}");
                continue;
            }
            (inner.exits.get(&id).cloned(), launch)
        };
        let Some(mut exit) = exit else { continue };
        let deadline = Instant::now() + Duration::from_secs(u64::from(launch.ready_within_secs));
        loop {
            if exit.borrow_and_update().is_some() {
                break;
            }
            match shared.health(&id, &launch.readiness_path).await {
                Health::Ready => {
                    let routed = {
                        let inner = shared.lock();
                        !inner.stopping.contains(&id) && inner.table.get(&id).is_some()
                    };
                    if routed && shared.route_in(&id).is_ok() {
                        let mut inner = shared.lock();
                        inner.repairing.remove(&id);
                        inner.backoff.insert(id.clone(), (delay, Instant::now()));
                        tracing::info!(replica = id, "started again and back in traffic");
                    } else {
                        give_up("the replica was stopped");
                    }
                    return;
                }
                Health::Exited(_) => break,
                Health::NotReady(seen) if Instant::now() > deadline => {
                    tracing::warn!(
                        replica = id,
                        "not ready within {} s ({seen}): stopped",
                        launch.ready_within_secs
                    );
                    let pid = shared.lock().table.get(&id).map(|r| r.pid);
                    if let Some(pid) = pid {
                        process::signal(pid, Signal::SIGKILL);
                    }
                    break;
                }
                Health::NotReady(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
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

/// This machine's host name, where the local platform's replicas run; `local` when it cannot be read.
fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "local".into())
}

async fn wait_exit(mut exit: watch::Receiver<Option<String>>, limit: Duration) -> bool {
    tokio::time::timeout(limit, exit.wait_for(|e| e.is_some()))
        .await
        .is_ok()
}

impl Host {
    /// Gives the application its stable address (idempotent) and returns it.
    pub async fn expose(&self, app: &Application, base_port: u16) -> Result<String> {
        let shared = &self.shared;
        let port = {
            let mut inner = shared.lock();
            if inner.table.base_port != base_port {
                if let Some(port) = inner
                    .addresses
                    .values()
                    .any(|a| a.task.is_some())
                    .then(|| inner.table.base_port)
                {
                    return Err(PlatformError::Supervisor(format!(
                        "the product's stable addresses are served from base port {port}, not {base_port}: stop \
                         the product first to move them (agent stop-product --data-dir <dir>)"
                    )));
                }
                inner.table.base_port = base_port;
                inner.table.ports.clear();
            }
            if let Some(port) = inner.table.ports.get(&app.name).copied() {
                port
            } else {
                let used: HashSet<u16> = inner.table.ports.values().copied().collect();
                let mut port = base_port;
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

    /// Starts one replica of `app` running `release` with `command`, out of traffic; returns its id.
    pub async fn start_replica(
        &self,
        app: &Application,
        command: PathBuf,
        release: &Release,
    ) -> Result<String> {
        let shared = &self.shared;
        let launch = Launch {
            command,
            args: app
                .local
                .as_ref()
                .map(|l| l.args.clone())
                .unwrap_or_default(),
            values: shared.values_file(release)?,
            readiness_path: app.readiness.path.clone(),
            ready_within_secs: app.readiness.timeout_seconds,
        };
        let mut inner = shared.lock();
        inner.table.next_number += 1;
        let id = format!("{}-{}", app.name, inner.table.next_number);
        let record = ReplicaRecord {
            id: id.clone(),
            app: app.name.clone(),
            version: release.version.clone(),
            config: release.config_digest(),
            pid: 0,
            start_ticks: 0,
            port: 0,
            state: ReplicaState::Starting,
            launch: None,
        };
        shared.launch(&mut inner, record, &launch)?;
        Ok(id)
    }

    /// One readiness check.
    pub async fn health(&self, replica: &str, path: &str) -> Health {
        self.shared.health(replica, path).await
    }

    /// Puts a replica in traffic.
    pub async fn route_in(&self, replica: &str) -> Result<()> {
        self.shared.route_in(replica)
    }

    /// Takes a replica out of traffic, waits for its requests, stops it gracefully (killed after `grace`).
    pub async fn drain_and_stop(&self, replica: &str, grace: Duration) -> Result<()> {
        let shared = &self.shared;
        let (in_flight, record, exit) = {
            let mut inner = shared.lock();
            let record = inner
                .table
                .get(replica)
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
        inner.checks.remove(replica);
        inner.stopping.remove(replica);
        inner.backoff.remove(replica);
        shared.save(&inner);
        Ok(())
    }

    /// At the supervisor's start: takes back the live replicas in traffic from the table (a supervisor killed
    /// before), stops the ones that were starting or draining and every process with this platform's marker that
    /// the table does not list. What it found is told to the first agent that adopts.
    pub async fn take_back(&self) -> Result<()> {
        let shared = &self.shared;
        let mut adoption = Adoption::default();
        let records = shared.lock().table.replicas.clone();
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
        inner.startup = Some(adoption);
        shared.save(&inner);
        Ok(())
    }

    /// An agent (re)started: replicas it had started but not put in traffic are stopped (it starts what is
    /// missing), ones that ended while it held repairs are forgotten, and stray processes with this platform's
    /// marker are stopped; the rest is taken back as it runs.
    pub async fn adopt(&self) -> Result<Adoption> {
        let shared = &self.shared;
        let (mut adoption, starting, strays) = {
            let mut inner = shared.lock();
            let mut adoption = inner.startup.take().unwrap_or_default();
            let idle = |r: &&ReplicaRecord| {
                !inner.repairing.contains(&r.id) && !inner.stopping.contains(&r.id)
            };
            let starting: Vec<String> = inner
                .table
                .replicas
                .iter()
                .filter(idle)
                .filter(|r| r.state == ReplicaState::Starting)
                .map(|r| r.id.clone())
                .collect();
            let ended: Vec<String> = inner
                .table
                .replicas
                .iter()
                .filter(idle)
                .filter(|r| matches!(r.state, ReplicaState::Exited(_)))
                .map(|r| r.id.clone())
                .collect();
            inner.table.replicas.retain(|r| !ended.contains(&r.id));
            inner.checks.retain(|id, _| !ended.contains(id));
            adoption.vanished.extend(ended);
            // Under the lock: a replica being started is in the table before its process can be seen.
            let known: HashSet<u32> = inner.table.replicas.iter().map(|r| r.pid).collect();
            let strays: Vec<u32> = process::marked_processes(&shared.dir)
                .into_iter()
                .filter(|pid| !known.contains(pid) && *pid != std::process::id())
                .collect();
            shared.save(&inner);
            (adoption, starting, strays)
        };
        for id in starting {
            self.drain_and_stop(&id, Duration::from_secs(30)).await?;
            adoption.replaced.push(id);
        }
        for pid in strays {
            process::terminate_foreign(pid, None, Duration::from_secs(10)).await;
            adoption.strays_stopped.push(format!("process {pid}"));
        }
        let inner = shared.lock();
        for record in &inner.table.replicas {
            if record.state == ReplicaState::Ready && !adoption.adopted.contains(&record.id) {
                adoption.adopted.push(record.id.clone());
            }
        }
        adoption.adopted.retain(|id| inner.table.get(id).is_some());
        Ok(adoption)
    }

    /// Stops every replica gracefully (in parallel) and closes the stable addresses: the product is stopped.
    pub async fn stop_product(&self, grace: Duration) {
        // No repair from now on.
        self.hold_repairs();
        let ids: Vec<String> = self
            .shared
            .lock()
            .table
            .replicas
            .iter()
            .map(|r| r.id.clone())
            .collect();
        let stops = ids.iter().map(|id| self.drain_and_stop(id, grace));
        for result in futures_util::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!("stopping the product: {e}");
            }
        }
        let generation = {
            let mut inner = self.shared.lock();
            for address in inner.addresses.values_mut() {
                if let Some(task) = address.task.take() {
                    task.abort();
                }
            }
            self.shared.save(&inner)
        };
        // The supervisor ends next: the table says what it left (nothing).
        self.shared.writer.flush(generation);
    }
}
