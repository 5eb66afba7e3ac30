//! Where the product's replicas run. The engine moves replicas through this small trait; `local` (child processes
//! behind an HTTP reverse proxy on this machine) and `kubernetes` (ReplicaSets behind Services) implement it.

pub mod kubernetes;
pub mod local;
#[cfg(test)]
pub mod memory;

use std::future::Future;
use std::time::Duration;

use shared::manifest::Application;

/// What can go wrong on a platform, with what an operator needs to act on it.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The application's command could not be started.
    #[error("cannot start a replica of {app} with `{command}`: {source}")]
    Spawn {
        /// Application name.
        app: String,
        /// The command as resolved.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The manifest gives no way to run the application on this platform.
    #[error(
        "application {app} has no {missing} in the manifest, so the {platform} platform cannot run it"
    )]
    NotRunnable {
        /// Application name.
        app: String,
        /// The platform's name, e.g. `local`.
        platform: &'static str,
        /// What it needs from the manifest, e.g. ``a `local:` command``.
        missing: &'static str,
    },
    /// The stable address of an application could not be opened.
    #[error("cannot listen on the stable address {address} of {app}: {source}")]
    Listen {
        /// Application name.
        app: String,
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// A replica id the platform does not know.
    #[error("unknown replica {0}")]
    UnknownReplica(String),
    /// Reading or writing the platform's files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The local platform's supervisor cannot be started or reached, or refused the call.
    #[error("{0}")]
    Supervisor(String),
    /// Kubernetes refused a request, or could not be asked.
    #[error("{action} {object}: {answer}")]
    Kubernetes {
        /// What the platform was doing, e.g. `scaling to 3`.
        action: String,
        /// The object, e.g. `replicaset web-v5-1-2-04-1a2b3c4d5e6f`.
        object: String,
        /// What Kubernetes answered, or why it could not be reached.
        answer: String,
    },
    /// Something the platform waits for did not happen in time.
    #[error("{what} did not happen within {seconds} s")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
    /// The persisted replica table cannot be read.
    #[error("replica table {path} is unreadable: {message}")]
    Table {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// `Result` with [`PlatformError`].
pub type Result<T, E = PlatformError> = std::result::Result<T, E>;

/// What a replica runs: a version with one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The version, e.g. `V5.1.2.04`.
    pub version: String,
    /// The values.yaml text the replica is started with.
    pub values: String,
}

impl Release {
    /// A short fingerprint of the values, so that a replica started with other values counts as not on target.
    pub fn config_digest(&self) -> String {
        use md5::{Digest, Md5};
        let digest = Md5::digest(self.values.as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

/// Where a replica stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    /// Started, not yet in traffic.
    Starting,
    /// Ready and receiving traffic.
    Ready,
    /// Out of traffic, finishing its work before it stops.
    Draining,
    /// The process ended without being asked to; the reason says how.
    Exited(String),
}

impl ReplicaState {
    /// The word shown in the cluster view.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReplicaState::Starting => "starting",
            ReplicaState::Ready => "ready",
            ReplicaState::Draining => "draining",
            ReplicaState::Exited(_) => "failed",
        }
    }

    /// Why a replica in this state is not ready (`None` when it is): how it ended, that it is leaving traffic, or
    /// while it starts what its platform last saw of it (`starting`, e.g. [`Health::as_reason`]).
    pub fn reason(&self, starting: Option<String>) -> Option<String> {
        match self {
            ReplicaState::Ready => None,
            ReplicaState::Starting => {
                Some(starting.unwrap_or_else(|| "started, readiness not checked yet".into()))
            }
            ReplicaState::Draining => Some("out of traffic, being stopped".into()),
            ReplicaState::Exited(how) => Some(how.clone()),
        }
    }
}

/// One replica as the platform knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replica {
    /// Stable id, e.g. `dataservice-4`.
    pub id: String,
    /// Application name.
    pub app: String,
    /// Version it runs.
    pub version: String,
    /// Fingerprint of the values it was started with ([`Release::config_digest`]).
    pub config: String,
    /// Where it stands.
    pub state: ReplicaState,
    /// Where it runs: the Kubernetes node, or this machine's host name on the local platform; `None` while the
    /// platform has not placed it (a pod not scheduled yet). Defaults when a supervisor of an older agent sends it.
    #[serde(default)]
    pub node: Option<String>,
    /// Why it is not ready, in the platform's words ([`ReplicaState::reason`]); `None` when ready.
    #[serde(default)]
    pub reason: Option<String>,
}

impl Replica {
    /// Whether it runs `release`.
    pub fn runs(&self, release: &Release) -> bool {
        self.version == release.version && self.config == release.config_digest()
    }
}

/// One readiness check's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Health {
    /// The readiness endpoint answered 200.
    Ready,
    /// Not yet; the reason says what was seen.
    NotReady(String),
    /// The replica is gone; the reason says how it ended.
    Exited(String),
}

impl Health {
    /// What this check says about a starting replica, as the reason it is not ready yet.
    pub fn as_reason(&self) -> String {
        match self {
            Health::Ready => "its readiness check passes, not in traffic yet".into(),
            Health::NotReady(seen) => format!("readiness check failing: {seen}"),
            Health::Exited(how) => how.clone(),
        }
    }
}

/// What `adopt` found after an agent restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Adoption {
    /// Replicas still running and back in traffic.
    pub adopted: Vec<String>,
    /// Replicas that were starting or draining when the agent stopped, now stopped (the engine replaces them).
    pub replaced: Vec<String>,
    /// Replicas in the table whose process had ended.
    pub vanished: Vec<String>,
    /// What this platform had started but does not list (processes, e.g. `process 4242`), now stopped.
    pub strays_stopped: Vec<String>,
}

/// The operations the engine needs from a platform. Small on purpose: a cluster engine maps each to a call.
///
/// Everything that changes the product, or that a cluster answers over the network (start, readiness, route in,
/// drain, adopt), is async and fallible. `replicas` and `address` are synchronous reads: the local platform keeps
/// them in memory, a cluster platform in a cache its watches keep current (the Kubernetes way: a reflector), so the
/// cluster view and the plan never wait for an API server.
pub trait Platform: Send + Sync + 'static {
    /// Gives the application its stable address (idempotent) and returns it, e.g. `http://127.0.0.1:18081`.
    fn expose(&self, app: &Application) -> impl Future<Output = Result<String>> + Send;
    /// The stable address of an application already exposed (a read of what the platform knows, no call).
    fn address(&self, app: &str) -> Option<String>;
    /// Starts one replica of `app` running `release`, out of traffic; returns its id.
    fn start_replica(
        &self,
        app: &Application,
        release: &Release,
    ) -> impl Future<Output = Result<String>> + Send;
    /// One readiness check of a replica at `path`.
    fn health(&self, replica: &str, path: &str) -> impl Future<Output = Health> + Send;
    /// Sends the application's traffic to this replica too; done when the stable address reaches it.
    fn route_in(&self, replica: &str) -> impl Future<Output = Result<()>> + Send;
    /// Takes the replica out of traffic (no new request reaches it), lets its in-flight requests finish, then stops
    /// it gracefully, forcing it after `grace`. A replica that already ended is just forgotten.
    fn drain_and_stop(
        &self,
        replica: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every replica now (a read of what the platform knows, no call).
    fn replicas(&self) -> Vec<Replica>;
    /// After an agent restart: takes back the replicas it had started and stops the rest.
    fn adopt(&self) -> impl Future<Output = Result<Adoption>> + Send;
    /// While an upgrade runs: a replica that ends stays ended (the engine sees it and acts) instead of being
    /// restarted by the platform; repairs resume when the returned hold is dropped.
    fn hold_repairs(&self) -> impl Future<Output = Result<RepairHold>> + Send;
    /// Agent shutdown: lets go of the platform. The product keeps running where the platform holds it apart from
    /// the agent (the local platform's supervisor); stopping the product is an operator's decision.
    fn shutdown(&self, grace: Duration) -> impl Future<Output = ()> + Send;
}

/// Repairs stay paused while this lives ([`Platform::hold_repairs`]).
pub struct RepairHold {
    /// What keeps the hold (the local platform: an open connection its supervisor counts); nothing when the
    /// platform repairs nothing.
    _held: Option<Box<dyn Send + Sync>>,
}

impl RepairHold {
    /// A hold kept as long as `held` lives.
    pub fn new(held: impl Send + Sync + 'static) -> RepairHold {
        RepairHold {
            _held: Some(Box::new(held)),
        }
    }

    /// A hold on a platform that repairs nothing.
    pub fn nothing() -> RepairHold {
        RepairHold { _held: None }
    }
}
