//! The demo product: one binary, three roles (`metadata`, which the others depend on; `dataservice`, with a
//! synchronous query API and asynchronous jobs; `web`, which users log on to).
//!
//! # Layout
//! - `settings`: what a replica reads from its environment and values file;
//! - `jobs`: the asynchronous jobs, kept as files in the state dir every replica shares;
//! - `pack`: builds the version packages and bundles under `demo/` from their sources;
//! - `routes`: the HTTP interface of each role;
//! - `run`: serve until SIGTERM, then drain: stop accepting, finish in-flight requests and running jobs.

pub mod jobs;
pub mod pack;
pub mod routes;
pub mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

pub use settings::{Args, Role, Settings};

/// What can stop a replica from running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The values file is missing or unreadable.
    #[error("values file {path}: {message}")]
    Values {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// An I/O failure, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The state of one replica, shared by its request handlers.
pub struct Replica {
    /// Its settings.
    pub settings: Settings,
    /// True once warmed up, false again when shutting down.
    pub ready: AtomicBool,
    /// The jobs it runs and reads.
    pub jobs: jobs::JobStore,
    /// API calls answered so far, to spread the `faults.errorRatio` failures evenly.
    pub api_calls: AtomicU64,
}

impl Replica {
    /// Whether the next API call answers 500 (`faults.errorRatio`): call n fails when n × ratio reaches a new
    /// whole number, so that a ratio of 0.25 fails every fourth call, the same in every run.
    pub fn injects_error(&self) -> bool {
        let ratio = self.settings.error_ratio;
        let n = self.api_calls.fetch_add(1, Ordering::SeqCst) as f64;
        ((n + 1.0) * ratio).floor() > (n * ratio).floor()
    }
}

/// Runs one replica until SIGTERM (or SIGINT), then shuts down gracefully.
pub async fn run(args: Args) -> Result<()> {
    // Before anything else, so that a SIGTERM during start-up still ends the replica gracefully.
    let terminate = signal(SignalKind::terminate()).map_err(|source| Error::Io {
        what: "SIGTERM handler".into(),
        source,
    })?;
    let interrupt = signal(SignalKind::interrupt()).map_err(|source| Error::Io {
        what: "SIGINT handler".into(),
        source,
    })?;
    let settings = Settings::load(&args)?;
    let address = std::net::SocketAddr::new(settings.listen, settings.port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| Error::Io {
            what: format!("listening on {address}"),
            source,
        })?;
    serve(listener, settings, async move {
        let (mut terminate, mut interrupt) = (terminate, interrupt);
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
    .await
}

/// Serves `listener` as the replica `settings` describe until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let replica = Arc::new(Replica {
        jobs: jobs::JobStore::open(&settings.state_dir, settings.job_duration)?,
        ready: AtomicBool::new(false),
        api_calls: AtomicU64::new(0),
        settings,
    });
    let s = &replica.settings;
    let address = listener
        .local_addr()
        .map_or_else(|e| format!("an unknown address ({e})"), |a| a.to_string());
    eprintln!(
        "{} replica {} of {} {} listening on {address}",
        s.role.as_str(),
        s.replica,
        s.app,
        s.version,
    );
    tokio::spawn(warm_up(replica.clone()));
    if let Some(after) = replica.settings.crash_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            eprintln!("crashing on purpose (faults.crashAfterMillis)");
            std::process::exit(3);
        });
    }
    let graceful = GracefulShutdown::new();
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let accept = |stream: tokio::net::TcpStream| {
        let _ = stream.set_nodelay(true);
        let replica = replica.clone();
        let service = hyper::service::service_fn(move |req| routes::handle(replica.clone(), req));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
        });
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted { accept(stream) }
            }
            _ = &mut shutdown => break,
        }
    }
    // Drain: not ready any more; still accepting for `linger` (a connection a proxy sent before it learnt that this
    // replica left is served, not refused), then no new connections; in-flight requests and running jobs finish.
    replica.ready.store(false, Ordering::SeqCst);
    let linger = tokio::time::sleep(replica.settings.linger);
    tokio::pin!(linger);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted { accept(stream) }
            }
            _ = &mut linger => break,
        }
    }
    drop(listener);
    eprintln!("{}: shutting down, draining", replica.settings.replica);
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
    replica.jobs.wait_idle(Duration::from_secs(60)).await;
    eprintln!("{}: stopped", replica.settings.replica);
    Ok(())
}

async fn warm_up(replica: Arc<Replica>) {
    if replica.settings.never_ready {
        eprintln!(
            "never becoming ready (faults.neverReady lists {})",
            replica.settings.app
        );
        return;
    }
    tokio::time::sleep(replica.settings.startup).await;
    replica.ready.store(true, Ordering::SeqCst);
    eprintln!("{}: ready", replica.settings.replica);
}
