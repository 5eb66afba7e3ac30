//! What can stop the engine, typed: the records side stores the text (`Display`, the operator's words), tests and a
//! second platform match on the variants. The platform's errors are boxed inside a [`Failure`], which keeps every
//! `Result` of the engine small.

use std::time::Duration;

use super::LimitBreach;
use crate::platform::PlatformError;

/// Why the engine could not be built or could not bring the running version up.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `--platform` names a platform the agent does not have.
    #[error("unknown platform `{0}`: the agent knows `local` and `kubernetes`")]
    UnknownPlatform(String),
    /// The platform could not be opened or refused an operation.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// Bringing the running version up ended early.
    #[error(transparent)]
    Halted(#[from] Halt),
}

/// Why a plan ended early.
#[derive(Debug, thiserror::Error)]
pub enum Halt {
    /// A step failed; the failure names the replica and what was seen.
    #[error(transparent)]
    Failed(#[from] Failure),
    /// An operator asked to stop (or the agent shuts down); it stopped between replica steps.
    #[error("stopped after a replica step, as asked")]
    Stopped,
}

/// Why a run failed: the application, the replica, the version, and what was seen.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The platform could not start a replica.
    #[error("{app}: {source}")]
    StartFailed {
        /// Application name.
        app: String,
        /// The version it was to run.
        version: String,
        /// What the platform answered.
        source: Box<PlatformError>,
    },
    /// A new replica ended before its readiness check passed.
    #[error(
        "{app}: replica {replica} ({version}) {how} after {:.1} s, before becoming ready",
        .after.as_secs_f64()
    )]
    ExitedBeforeReady {
        /// Application name.
        app: String,
        /// Replica id.
        replica: String,
        /// The version it runs.
        version: String,
        /// How it ended, e.g. `exited with status 3`.
        how: String,
        /// How long after its start.
        after: Duration,
    },
    /// A new replica stayed unready past the manifest's readiness timeout.
    #[error(
        "{app}: replica {replica} ({version}) did not become ready within {within} s (last check: {last_check})"
    )]
    NotReady {
        /// Application name.
        app: String,
        /// Replica id.
        replica: String,
        /// The version it runs.
        version: String,
        /// The manifest's `readiness.timeoutSeconds`.
        within: u32,
        /// What the last readiness check saw.
        last_check: String,
    },
    /// A replica on the target ended after it had become ready.
    #[error("{app}: replica {replica} ({version}) {how} after becoming ready")]
    CrashedAfterReady {
        /// Application name.
        app: String,
        /// Replica id.
        replica: String,
        /// The version it runs.
        version: String,
        /// How it ended.
        how: String,
    },
    /// A ready replica could not be put in traffic.
    #[error("{app}: cannot put {replica} ({version}) in traffic: {source}")]
    RouteInFailed {
        /// Application name.
        app: String,
        /// Replica id.
        replica: String,
        /// The version it runs.
        version: String,
        /// What the platform answered.
        source: Box<PlatformError>,
    },
    /// A replica could not be drained and stopped.
    #[error("{app}: stopping {replica} ({version}) failed: {source}")]
    StopFailed {
        /// Application name.
        app: String,
        /// Replica id.
        replica: String,
        /// The version it runs.
        version: String,
        /// What the platform answered.
        source: Box<PlatformError>,
    },
    /// An application's stable address could not be opened (the platform's error names it).
    #[error("{source}")]
    ExposeFailed {
        /// Application name.
        app: String,
        /// What the platform answered.
        source: Box<PlatformError>,
    },
    /// The manifest's `dependsOn` cannot be ordered (the shared checks reject such manifests before).
    #[error(
        "{product} {version}: the dependencies of {} form a cycle or name an unknown application",
        .applications.join(", ")
    )]
    Dependencies {
        /// The manifest's product.
        product: String,
        /// The manifest's version.
        version: String,
        /// The applications that could not be placed.
        applications: Vec<String>,
    },
    /// After an agent restart, the platform could not say where the replicas stand.
    #[error("cannot resume after the restart: {source}")]
    Resume {
        /// What the platform answered.
        source: Box<PlatformError>,
    },
    /// The platform could not hold its own repairs for the run (e.g. the local supervisor cannot be reached).
    #[error("the platform cannot hold its repairs for the run: {source}")]
    RepairsNotHeld {
        /// What the platform answered.
        source: Box<PlatformError>,
    },
    /// A probe crossed one of its limits during a rolling upgrade: no further replica was moved.
    #[error("{0}")]
    ProbeLimit(LimitBreach),
    /// The run failed, and so did its rollback.
    #[error("{first}; the rollback failed too: {then}")]
    Rollback {
        /// Why the run failed.
        first: Box<Failure>,
        /// Why the rollback failed.
        then: Box<Failure>,
    },
}
