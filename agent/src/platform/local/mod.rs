//! The `local` platform: each replica is a process on this machine on a free loopback port; each application's
//! stable address (`127.0.0.1:<base_port + i>`) is a reverse proxy to its ready replicas. Both are held by a
//! supervisor process (`agent supervise`, [`supervisor`]) that outlives the agent: the agent starts it when none
//! runs for its data dir and talks to it over a Unix socket ([`wire`]), so stopping or killing the agent leaves
//! the product serving. `agent stop-product` ([`stop_product`]) stops it on purpose.
//!
//! What a replica gets (see docs/engine.md): `DEMO_APP`, `DEMO_REPLICA`, `DEMO_VERSION`, `DEMO_PORT`,
//! `DEMO_VALUES` (a file holding the values.yaml it runs with), `DEMO_STATE_DIR` (shared by every replica of the
//! product, so work outlives a replica), and the marker `UPGRADE_AGENT_HOME` that finds orphans after a crash.
//! Its stdout and stderr go to `<data dir>/platform/logs/<replica>.log`.

mod host;
mod process;
mod proxy;
pub mod supervisor;
mod table;
pub mod wire;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::manifest::Application;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use self::supervisor::Paths;
use self::wire::{Answer, MAX_LINE, Reply, Request, Snapshot};
use super::{Adoption, Health, Platform, PlatformError, Release, RepairHold, Replica, Result};

/// How long the agent waits for a supervisor it started to listen.
const SUPERVISOR_START: Duration = Duration::from_secs(10);

/// What the local platform needs to know (`agent serve`'s `--data-dir`, `--bin-dir` and `--base-port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalConfig {
    /// The agent's data dir; the platform keeps its replica table, values files and logs in `platform/`.
    pub data_dir: PathBuf,
    /// Where application commands such as `demo-app` are found.
    pub bin_dir: PathBuf,
    /// The first stable address port: application i listens on `127.0.0.1:<base_port + i>`.
    pub base_port: u16,
    /// The agent's executable, started as `<agent_program> supervise --data-dir <data dir>` when no supervisor runs.
    pub agent_program: PathBuf,
}

impl LocalConfig {
    /// The default stable address port of the first application.
    pub const DEFAULT_BASE_PORT: u16 = 18081;

    /// The local platform in `data_dir`, commands from `bin_dir`, the agent beside them (`<bin_dir>/agent`, as in
    /// a build's target dir), with the default base port.
    pub fn new(data_dir: impl Into<PathBuf>, bin_dir: impl Into<PathBuf>) -> LocalConfig {
        let bin_dir = bin_dir.into();
        LocalConfig {
            data_dir: data_dir.into(),
            agent_program: bin_dir.join("agent"),
            bin_dir,
            base_port: Self::DEFAULT_BASE_PORT,
        }
    }
}

/// The agent's side of the local platform: every change is a call to the supervisor; `replicas` and `address`
/// read a cache that the supervisor's watch keeps current.
pub struct LocalPlatform {
    config: LocalConfig,
    paths: Paths,
    cache: Arc<Mutex<Snapshot>>,
    /// The task following the supervisor's changes (started by the first call).
    watcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl LocalPlatform {
    /// Opens the platform of `<data dir>/platform` (created owner-only when missing). The first call connects to
    /// its supervisor, starting one when none runs.
    pub fn open(config: &LocalConfig) -> Result<LocalPlatform> {
        Ok(LocalPlatform {
            config: config.clone(),
            paths: Paths::prepare(&config.data_dir)?,
            cache: Arc::new(Mutex::new(Snapshot::default())),
            watcher: Mutex::new(None),
        })
    }

    fn update(&self, snapshot: Snapshot) {
        update(&self.cache, snapshot);
    }

    /// Follows the supervisor's changes from now on (once).
    fn follow(&self) {
        let mut watcher = self.watcher.lock().unwrap_or_else(|p| p.into_inner());
        if watcher.is_none() {
            let (paths, cache) = (self.paths.clone(), self.cache.clone());
            *watcher = Some(tokio::spawn(follow(paths, cache)));
        }
    }

    /// Opens a connection to the supervisor, starting one if none answers (first call, or it was stopped).
    async fn connect(&self) -> Result<UnixStream> {
        if let Some(stream) = connect(&self.paths).await? {
            return Ok(stream);
        }
        let (config, paths) = (self.config.clone(), self.paths.clone());
        tokio::task::spawn_blocking(move || start_supervisor(&config, &paths))
            .await
            .map_err(|e| PlatformError::Supervisor(e.to_string()))??;
        connect(&self.paths).await?.ok_or_else(|| {
            PlatformError::Supervisor(format!(
                "no supervisor answers on {}",
                self.paths.socket.display()
            ))
        })
    }

    /// One call: a request line, a reply line; the cache takes the snapshot that comes with it.
    async fn call(&self, request: &Request) -> Result<Answer> {
        self.follow();
        let stream = self.connect().await?;
        let (reply, _) = exchange(stream, request, &self.paths).await?;
        match reply {
            Reply::Ok { answer, snapshot } => {
                self.update(snapshot);
                Ok(answer)
            }
            Reply::Err(e) => Err(e.into()),
        }
    }
}

/// Starts a supervisor unless one answers on the socket, and waits until one does.
fn start_supervisor(config: &LocalConfig, paths: &Paths) -> Result<()> {
    if connect_blocking(paths)?.is_some() {
        return Ok(());
    }
    tracing::info!(
        "starting the supervisor of {} (its log: {})",
        paths.dir.display(),
        paths.log.display()
    );
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&paths.log)
        .map_err(|source| PlatformError::Io {
            path: paths.log.display().to_string(),
            source,
        })?;
    let program = &config.agent_program;
    let mut child = std::process::Command::new(program)
        .arg("supervise")
        .arg("--data-dir")
        .arg(&config.data_dir)
        .env_remove(process::MARKER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        // Its own process group: a Ctrl-C or a signal meant for the agent's group does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| {
            PlatformError::Supervisor(format!(
                "cannot start the supervisor `{} supervise`: {e}",
                program.display()
            ))
        })?;
    let deadline = Instant::now() + SUPERVISOR_START;
    loop {
        if connect_blocking(paths)?.is_some() {
            // Reaped when it ends (after a stop-product), so that it never lingers as a zombie of the agent.
            std::thread::spawn(move || child.wait());
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            // Another agent's supervisor may have won the lock in between.
            if connect_blocking(paths)?.is_some() {
                return Ok(());
            }
            return Err(PlatformError::Supervisor(format!(
                "the supervisor ended ({status}) before listening on {}: {}",
                paths.socket.display(),
                last_line(&paths.log)
            )));
        }
        if Instant::now() > deadline {
            return Err(PlatformError::Supervisor(format!(
                "the supervisor did not listen on {} within {SUPERVISOR_START:?}; its log: {}",
                paths.socket.display(),
                paths.log.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last line of a log, to quote it in an error (or where to look).
fn last_line(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|text| text.lines().last().map(str::to_string))
        .unwrap_or_else(|| format!("see {}", log.display()))
}

fn update(cache: &Mutex<Snapshot>, snapshot: Snapshot) {
    let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
    if snapshot.supervisor != cached.supervisor || snapshot.generation > cached.generation {
        *cached = snapshot;
    }
}

/// Refuses a socket that another user owns (it could be anyone's listener).
fn check_owner(paths: &Paths) -> Result<bool> {
    match std::fs::symlink_metadata(&paths.socket) {
        Ok(meta) if meta.uid() != nix::unistd::getuid().as_raw() => {
            Err(PlatformError::Supervisor(format!(
                "{} belongs to uid {}, not to this user: refused",
                paths.socket.display(),
                meta.uid()
            )))
        }
        Ok(_) => Ok(true),
        Err(_) => Ok(false),
    }
}

fn connect_blocking(paths: &Paths) -> Result<Option<std::os::unix::net::UnixStream>> {
    if !check_owner(paths)? {
        return Ok(None);
    }
    Ok(std::os::unix::net::UnixStream::connect(&paths.socket).ok())
}

async fn connect(paths: &Paths) -> Result<Option<UnixStream>> {
    if !check_owner(paths)? {
        return Ok(None);
    }
    Ok(UnixStream::connect(&paths.socket).await.ok())
}

/// Sends `request` and reads the first reply line; returns the reader too (a watch reads on).
async fn exchange(
    mut stream: UnixStream,
    request: &Request,
    paths: &Paths,
) -> Result<(Reply, BufReader<tokio::io::Take<UnixStream>>)> {
    let broken = |e: &dyn std::fmt::Display| {
        PlatformError::Supervisor(format!(
            "the supervisor on {} did not answer: {e}; its log: {}",
            paths.socket.display(),
            paths.log.display()
        ))
    };
    let mut line = serde_json::to_vec(request).map_err(|e| broken(&e))?;
    line.push(b'\n');
    stream.write_all(&line).await.map_err(|e| broken(&e))?;
    let mut reader = BufReader::new(stream.take(MAX_LINE as u64));
    let reply = read_reply(&mut reader).await.map_err(|e| broken(&e))?;
    Ok((reply, reader))
}

async fn read_reply(reader: &mut BufReader<tokio::io::Take<UnixStream>>) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(std::io::Error::other("connection closed"));
    }
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

/// Keeps `cache` current from the supervisor's watch, reconnecting when the connection breaks (the supervisor was
/// restarted); ends when the platform is shut down (the task is aborted).
async fn follow(paths: Paths, cache: Arc<Mutex<Snapshot>>) {
    loop {
        if let Ok(Some(stream)) = connect(&paths).await
            && let Ok((first, mut reader)) = exchange(stream, &Request::Watch, &paths).await
        {
            let mut reply = Ok(first);
            while let Ok(Reply::Ok { snapshot, .. }) = reply {
                update(&cache, snapshot);
                reply = read_reply(&mut reader).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Platform for LocalPlatform {
    async fn expose(&self, app: &Application) -> Result<String> {
        let request = Request::Expose {
            app: app.clone(),
            base_port: self.config.base_port,
        };
        match self.call(&request).await? {
            Answer::Address(address) => Ok(address),
            other => Err(unexpected(&other)),
        }
    }

    fn address(&self, app: &str) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .ports
            .get(app)
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    async fn start_replica(&self, app: &Application, release: &Release) -> Result<String> {
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
            self.config.bin_dir.join(&local.command)
        };
        let request = Request::StartReplica {
            app: app.clone(),
            command,
            version: release.version.clone(),
            values: release.values.clone(),
        };
        match self.call(&request).await? {
            Answer::Replica(id) => Ok(id),
            other => Err(unexpected(&other)),
        }
    }

    async fn health(&self, replica: &str, path: &str) -> Health {
        let request = Request::Health {
            replica: replica.into(),
            path: path.into(),
        };
        match self.call(&request).await {
            Ok(Answer::Health(health)) => health,
            Ok(other) => Health::NotReady(unexpected(&other).to_string()),
            Err(e) => Health::NotReady(e.to_string()),
        }
    }

    async fn route_in(&self, replica: &str) -> Result<()> {
        self.call(&Request::RouteIn {
            replica: replica.into(),
        })
        .await
        .map(drop)
    }

    async fn drain_and_stop(&self, replica: &str, grace: Duration) -> Result<()> {
        self.call(&Request::DrainAndStop {
            replica: replica.into(),
            grace_ms: u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        })
        .await
        .map(drop)
    }

    fn replicas(&self) -> Vec<Replica> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replicas
            .clone()
    }

    async fn adopt(&self) -> Result<Adoption> {
        match self.call(&Request::Adopt).await? {
            Answer::Adoption(adoption) => Ok(adoption),
            other => Err(unexpected(&other)),
        }
    }

    async fn hold_repairs(&self) -> Result<RepairHold> {
        let stream = self.connect().await?;
        let (reply, reader) = exchange(stream, &Request::HoldRepairs, &self.paths).await?;
        match reply {
            // The supervisor counts the hold as long as this connection stays open.
            Reply::Ok { snapshot, .. } => {
                self.update(snapshot);
                Ok(RepairHold::new(reader))
            }
            Reply::Err(e) => Err(e.into()),
        }
    }

    async fn shutdown(&self, _grace: Duration) {
        // The supervisor keeps the product running; the agent only stops following it.
        if let Some(watcher) = self
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            watcher.abort();
        }
    }
}

fn unexpected(answer: &Answer) -> PlatformError {
    PlatformError::Supervisor(format!("unexpected answer from the supervisor: {answer:?}"))
}

/// Stops the product of `data_dir` on purpose (`agent stop-product`): the supervisor drains and stops every
/// replica (killed after `grace`), closes the stable addresses and ends. Returns false when no supervisor runs.
pub async fn stop_product(data_dir: &Path, grace: Duration) -> Result<bool> {
    let dir = data_dir.join("platform");
    if !dir.is_dir() {
        return Ok(false);
    }
    let paths = Paths::prepare(data_dir)?;
    let Some(stream) = connect(&paths).await? else {
        return Ok(false);
    };
    let pid = paths.running_pid();
    let request = Request::StopProduct {
        grace_ms: u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
    };
    match exchange(stream, &request, &paths).await?.0 {
        Reply::Ok { .. } => {}
        Reply::Err(e) => return Err(e.into()),
    }
    // The supervisor ends right after its answer: wait for it, so the caller sees nothing left.
    if let Some(pid) = pid {
        let deadline = Instant::now() + Duration::from_secs(10);
        while process::stat(pid).is_some_and(|(_, zombie)| !zombie) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supervisor_socket_another_user_owns_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::prepare(dir.path()).unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(&paths.socket).unwrap();
        nix::unistd::chown(&paths.socket, Some(nix::unistd::Uid::from_raw(65534)), None)
            .expect("giving the socket to uid 65534 needs root (the tests run as root)");
        let error = connect_blocking(&paths).unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "{} belongs to uid 65534, not to this user: refused",
                paths.socket.display()
            )),
            "{error}"
        );
    }
}
