//! The boundary between the agent's records side (sessions, records, logs, the lock) and the engine that moves
//! replicas. The records side persists everything the engine reports before the call returns, so that a crash
//! loses nothing; the engine owns how replicas are started, checked, drained and stopped, through a `Platform`.

mod downtime;
mod error;
mod order;
mod probe;
mod rolling;
mod series;
mod steps;
#[cfg(test)]
mod tests;
mod upgrade;
mod window;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use shared::api::{ApplicationView, Availability, UpgradeMode};
use shared::manifest::Manifest;
use tokio::sync::watch;

pub use self::error::{EngineError, Failure, Halt};
pub use self::upgrade::UpgradeEngine;
pub use self::window::{LimitBreach, LimitKind};
use crate::platform::kubernetes::{KubernetesConfig, KubernetesPlatform};
use crate::platform::local::{LocalConfig, LocalPlatform};

/// Where the engine runs the product's replicas (`serve` builds it from its flags): one arm per platform, each with
/// what only that platform needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformConfig {
    /// Child processes on this machine, behind stable addresses on loopback.
    Local(LocalConfig),
    /// ReplicaSets on a Kubernetes cluster, behind NodePort Services.
    Kubernetes(KubernetesConfig),
}

/// The engine for the configured platform. Errors name what is wrong (e.g. an unreadable replica table, an API
/// server that cannot be reached).
pub async fn for_platform(config: &PlatformConfig) -> Result<Arc<dyn Engine>, EngineError> {
    match config {
        PlatformConfig::Local(local) => {
            Ok(Arc::new(UpgradeEngine::new(LocalPlatform::open(local)?)))
        }
        PlatformConfig::Kubernetes(cluster) => Ok(Arc::new(UpgradeEngine::new(
            KubernetesPlatform::connect(cluster).await?,
        ))),
    }
}

/// What runs now: the version and the values it was started with.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The running version's manifest.
    pub manifest: Manifest,
    /// The running values.yaml, as text.
    pub values: String,
}

/// One run of an upgrade, as the records side hands it to the engine.
#[derive(Debug, Clone)]
pub struct UpgradeJob {
    /// The record's id (a retry has its own id).
    pub id: i64,
    /// Rolling or downtime.
    pub mode: UpgradeMode,
    /// What ran when the upgrade (or the run it retries) started; rollback returns here.
    pub from: Deployment,
    /// Where it goes.
    pub to: Deployment,
    /// True when the agent restarted during this run and hands it back to the engine to resume.
    pub resuming: bool,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something unexpected that the upgrade survives.
    Warn,
    /// Something that fails a step.
    Error,
}

impl Level {
    /// The word used in log entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// It did what it said.
    Done,
    /// It failed; the message says why.
    Failed,
    /// Nothing to do (e.g. the replica already runs the target on a retry).
    Skipped,
}

impl StepStatus {
    /// The word used in step records.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Done => "done",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// Where the engine reports what it does. Every call is persisted (and logs are sent to viewers) before it
/// returns, so that the record and the log survive a crash.
pub trait UpgradeEvents: Send + Sync {
    /// One log line, about an application when `app` is set.
    fn log(&self, level: Level, app: Option<&str>, message: &str);
    /// The number of steps planned (may grow when a rollback adds steps).
    fn plan(&self, total: u32);
    /// A step begins; returns its seq. `action` is a word such as `start`, `ready`, `drain`, `stop`.
    fn step_started(
        &self,
        application: &str,
        replica: Option<&str>,
        action: &str,
        message: &str,
    ) -> u32;
    /// A step ends.
    fn step_finished(&self, seq: u32, status: StepStatus, message: &str);
    /// What the availability probe measured so far (stored in the record, replaced on each call).
    fn availability(&self, measured: &Availability);
}

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// Every application runs the target version.
    Succeeded,
    /// It failed and everything is back on the old version and configuration; the reason says why.
    RolledBack(Failure),
    /// It failed and could not be rolled back (or resumed); the reason says why.
    Failed(Failure),
    /// An operator asked it to stop; it stopped after the current replica step.
    Stopped,
}

/// The engine that performs upgrades on a platform. One implementation runs the steps; the platform behind it is
/// local processes today and a cluster engine later.
pub trait Engine: Send + Sync {
    /// At agent start: make `running` run (adopting or replacing replicas left from before a crash). Not called
    /// while a run is being resumed; `run` with `resuming: true` takes care of that.
    fn start(&self, running: &Deployment) -> BoxFuture<'_, Result<(), EngineError>>;
    /// Every application with its stable address and replicas now.
    fn applications(&self) -> Vec<ApplicationView>;
    /// Performs one run to its end. `stop` turns true when an operator forces a stop: the run stops after the
    /// current replica step and returns `Stopped`.
    fn run(
        &self,
        job: UpgradeJob,
        events: Arc<dyn UpgradeEvents>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'_, RunOutcome>;
    /// At agent shutdown: a run in progress stops after its current replica step; the product keeps running.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}
