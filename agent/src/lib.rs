//! The upgrade agent: keeps the records, re-checks every upload with the `shared` crate, runs one upgrade at a
//! time through the engine, and streams its log to any number of viewers.
//!
//! # Layout
//! - `serve`: the entry point; `config`: what `agent serve` is told; `tls`: HTTPS with `--tls-cert/--tls-key`.
//! - `db`: the SQLite database; `accounts`: passwords, sessions and logon throttling.
//! - `versions`: stored version packages and the running deployment; `checks`: the `shared` checks as the agent
//!   calls them.
//! - `records`: upgrade records, steps, acknowledgements and log entries in the database.
//! - `operations`: the lifecycle of an upgrade (the lock, start, stop, retry, resume after a crash); it implements
//!   the engine's `UpgradeEvents`.
//! - `live`: fan-out of log lines and progress to websocket viewers.
//! - `metrics`: what `GET /metrics` reports, read from the records at each scrape.
//! - `api`: the HTTP and websocket API, one module per resource (sessions, cluster, versions, upgrades, the log
//!   stream, metrics, the console's static files), with `api::routes` putting them together.
//! - `validate`: the `agent validate` command; `users`: the `agent users` command (accounts and roles).
//! - `engine`: the engine that moves replicas, behind one small trait; `platform`: where replicas run.

pub mod accounts;
pub mod api;
pub mod checks;
pub mod config;
pub mod db;
pub mod engine;
pub mod live;
pub mod metrics;
pub mod operations;
pub mod platform;
pub mod records;
pub mod tls;
pub mod users;
pub mod validate;
pub mod versions;

use std::future::Future;
use std::sync::Arc;

pub use config::Config;
use engine::Engine;

/// Errors of the agent's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database could not be opened or a statement failed.
    #[error("database: {0}")]
    Database(String),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The bootstrap package or values could not be used.
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    /// Hashing a password failed.
    #[error("password hashing: {0}")]
    Password(String),
    /// `agent serve` is told something it refuses (a `--listen` without TLS, an empty token file); the message
    /// names the option or file and what to do.
    #[error("{0}")]
    Config(String),
    /// The metrics could not be encoded.
    #[error("metrics: {0}")]
    Metrics(String),
    /// An account cannot be used or changed as asked (e.g. its stored role names no role, it is the last admin).
    #[error("account `{account}`: {refusal}")]
    Account {
        /// The account's name.
        account: String,
        /// Why.
        refusal: accounts::Refusal,
    },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Database(e.to_string())
    }
}

/// The agent library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Serves the agent on `listener` until `shutdown` completes: opens the database in the data directory, creates
/// the admin account on a first start, resumes an interrupted upgrade or starts the running deployment, then
/// answers the API. At shutdown a running upgrade stops after its current replica step (recorded `stopped`,
/// retryable); the product keeps running under its platform (the local platform's supervisor).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    engine: Arc<dyn Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::Io {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let db = db::Db::open(&config.data_dir)?;
    if let Some(generated) = accounts::ensure_admin(&db, config.admin_password.as_deref())? {
        // Printed once, on the first start only: the hash is all that is stored.
        println!("Created account `admin` with password: {generated}");
        println!("(set --admin-password or AGENT_ADMIN_PASSWORD on a first start to choose it)");
    }
    let local = listener.local_addr().map_err(|source| Error::Io {
        path: "listener".into(),
        source,
    })?;
    let ops = operations::Operations::new(db.clone(), engine.clone(), config.limits);
    ops.bring_up(config.bootstrap.as_ref()).await?;
    let state = api::State::new(db, ops.clone(), &config, local);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!("listening on {scheme}://{local}");
    let closer = state.clone();
    let shutdown = async move {
        shutdown.await;
        // Graceful shutdown waits for open connections: live log viewers would hold it forever.
        closer.close_viewers();
    };
    let routes = api::routes(state);
    match config.tls {
        Some(tls) => tls::serve(listener, tls, routes, shutdown).await,
        None => {
            warp::serve(routes)
                .incoming(listener)
                .graceful(shutdown)
                .run()
                .await
        }
    }
    tracing::info!("shutting down; the product keeps running (agent stop-product stops it)");
    // The engine stops a run in progress after its current replica step and lets go of the platform; the run's
    // record is ended (stopped, retryable) before the agent exits.
    engine.shutdown().await;
    ops.wait_for_runs(std::time::Duration::from_secs(30)).await;
    Ok(())
}
