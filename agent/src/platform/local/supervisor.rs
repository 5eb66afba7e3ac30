//! `agent supervise --data-dir <dir>`: the process that holds the product (replicas and stable addresses) apart
//! from the agent, so that stopping or killing the agent leaves the product serving.
//!
//! One per data dir: it takes an exclusive lock on `platform/supervisor.lock` (a second one exits at once), listens
//! on `platform/supervisor.sock` (0600, in a 0700 dir; a peer of another user is refused), writes its pid to
//! `platform/supervisor.pid` and logs to `platform/supervisor.log` (the agent starts it with stderr there).
//! SIGTERM, SIGINT or a `stop_product` call stop the product and end it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Notify;

use super::host::Host;
use super::wire::{Answer, MAX_LINE, Reply, Request};
use crate::platform::{PlatformError, Result};

/// The files of a platform dir the supervisor and the agent meet at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `<data dir>/platform` (canonical once it exists).
    pub dir: PathBuf,
    /// The Unix socket.
    pub socket: PathBuf,
    /// The supervisor's pid.
    pub pid: PathBuf,
    /// Held (flock) by the running supervisor.
    pub lock: PathBuf,
    /// The supervisor's own log.
    pub log: PathBuf,
}

impl Paths {
    /// Creates `<data_dir>/platform` when missing, owner-only (0700), and names its files.
    pub fn prepare(data_dir: &Path) -> Result<Paths> {
        let dir = data_dir.join("platform");
        let io = |source| PlatformError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        // The replicas' marker is compared as text: one canonical spelling of the directory.
        let dir = dir.canonicalize().map_err(io)?;
        Ok(Paths {
            socket: dir.join("supervisor.sock"),
            pid: dir.join("supervisor.pid"),
            lock: dir.join("supervisor.lock"),
            log: dir.join("supervisor.log"),
            dir,
        })
    }

    /// The running supervisor's pid, from its pid file.
    pub fn running_pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pid).ok()?.trim().parse().ok()
    }
}

/// Runs the supervisor of `data_dir` until the product is stopped. Returns at once when another one holds the lock.
pub async fn run(data_dir: &Path) -> Result<()> {
    let paths = Paths::prepare(data_dir)?;
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| PlatformError::Io { path, source }
    };
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(io(&paths.lock))?;
    let _lock =
        match nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                tracing::info!("a supervisor already runs for {}", paths.dir.display());
                return Ok(());
            }
            Err((_, errno)) => {
                return Err(PlatformError::Io {
                    path: paths.lock.display().to_string(),
                    source: errno.into(),
                });
            }
        };
    // Before listening: an unreadable table ends the supervisor with its error, and no agent waits on a socket.
    let host = Host::open(&paths.dir)?;
    // The lock is ours: a socket file left is from a supervisor that died.
    let _ = std::fs::remove_file(&paths.socket);
    let listener = UnixListener::bind(&paths.socket).map_err(io(&paths.socket))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io(&paths.socket))?;
    std::fs::write(&paths.pid, format!("{}\n", std::process::id())).map_err(io(&paths.pid))?;
    tracing::info!(
        "supervisor {} holds the product of {}",
        std::process::id(),
        paths.dir.display()
    );

    host.take_back().await?;
    let stop = std::sync::Arc::new(Notify::new());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|source| PlatformError::Io {
        path: "SIGTERM handler".into(),
        source,
    })?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (host, stop) = (host.clone(), stop.clone());
                    tokio::spawn(async move {
                        if let Err(e) = serve(stream, host, stop).await {
                            tracing::warn!("a connection: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: stopping the product");
                host.stop_product(STOP_GRACE).await;
                break;
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("SIGINT: stopping the product");
                host.stop_product(STOP_GRACE).await;
                break;
            }
            _ = stop.notified() => break,
        }
    }
    let _ = std::fs::remove_file(&paths.socket);
    let _ = std::fs::remove_file(&paths.pid);
    tracing::info!(
        "the product is stopped; supervisor {} ends",
        std::process::id()
    );
    Ok(())
}

/// How long a replica may finish its work when the product is stopped by a signal.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// One connection: one request line, one reply line (a watch: a line per change; a hold: until it closes).
async fn serve(
    stream: UnixStream,
    host: Host,
    stop: std::sync::Arc<Notify>,
) -> std::io::Result<()> {
    let peer = stream.peer_cred()?;
    if peer.uid() != nix::unistd::getuid().as_raw() {
        return Err(std::io::Error::other(format!(
            "refused a connection from uid {}",
            peer.uid()
        )));
    }
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_LINE as u64));
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let request: Request = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(e) => {
            let reply = Reply::Err(PlatformError::Supervisor(format!("bad request: {e}")).into());
            return send(&mut write, &reply).await;
        }
    };
    let answer = match request {
        Request::Watch => {
            let mut changes = host.subscribe();
            let mut rest = reader.into_inner().into_inner();
            let mut sink = [0u8; 64];
            loop {
                let snapshot = changes.borrow_and_update().clone();
                let reply = Reply::Ok {
                    answer: Answer::Done,
                    snapshot,
                };
                send(&mut write, &reply).await?;
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return Ok(()) },
                    // The agent closed its end (or sent something it should not): the watch ends.
                    _ = rest.read(&mut sink) => return Ok(()),
                }
            }
        }
        Request::HoldRepairs => {
            host.hold_repairs();
            let reply = Reply::Ok {
                answer: Answer::Done,
                snapshot: host.snapshot(),
            };
            let sent = send(&mut write, &reply).await;
            let mut rest = reader.into_inner().into_inner();
            let mut sink = [0u8; 64];
            // Held until the agent closes the connection (its upgrade ended, or it died).
            while sent.is_ok() && matches!(rest.read(&mut sink).await, Ok(n) if n > 0) {}
            host.release_repairs();
            return sent;
        }
        Request::StopProduct { grace_ms } => {
            host.stop_product(Duration::from_millis(grace_ms)).await;
            let reply = Reply::Ok {
                answer: Answer::Done,
                snapshot: host.snapshot(),
            };
            let sent = send(&mut write, &reply).await;
            stop.notify_one();
            return sent;
        }
        Request::Snapshot => Ok(Answer::Done),
        Request::Expose { app, base_port } => {
            host.expose(&app, base_port).await.map(Answer::Address)
        }
        Request::StartReplica {
            app,
            command,
            version,
            values,
        } => {
            let release = crate::platform::Release { version, values };
            host.start_replica(&app, command, &release)
                .await
                .map(Answer::Replica)
        }
        Request::Health { replica, path } => Ok(Answer::Health(host.health(&replica, &path).await)),
        Request::RouteIn { replica } => host.route_in(&replica).await.map(|()| Answer::Done),
        Request::DrainAndStop { replica, grace_ms } => host
            .drain_and_stop(&replica, Duration::from_millis(grace_ms))
            .await
            .map(|()| Answer::Done),
        Request::Adopt => host.adopt().await.map(Answer::Adoption),
    };
    let reply = match answer {
        Ok(answer) => Reply::Ok {
            answer,
            snapshot: host.snapshot(),
        },
        Err(e) => Reply::Err(e.into()),
    };
    send(&mut write, &reply).await
}

async fn send(write: &mut tokio::net::unix::OwnedWriteHalf, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await
}
