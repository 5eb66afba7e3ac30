//! The lifecycle of an upgrade: one at a time (the `running` record is the lock), start, force stop, retry, and
//! resuming after a crash. The engine reports through [`RecordEvents`], which persists every event before it
//! returns and then sends it to the live viewers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::api::{Availability, ConfigKind, StreamMessage, UpgradeStatus};
use shared::limits::Limits;
use shared::manifest::Manifest;
use tokio::sync::watch;

use crate::checks;
use crate::config::Bootstrap;
use crate::db::Db;
use crate::engine::{Deployment, Engine, Level, RunOutcome, StepStatus, UpgradeEvents, UpgradeJob};
use crate::live::Live;
use crate::records::{self, Created, NewRecord};
use crate::versions;
use crate::{Error, Result};

/// Why an upgrade could not be started, stopped or retried.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Another upgrade holds the lock.
    #[error("upgrade {0} is running; one operation at a time")]
    Running(i64),
    /// No such record.
    #[error("upgrade {0} does not exist")]
    NotFound(i64),
    /// The record is not in a state that allows it.
    #[error("upgrade {id} is {status}: {what}")]
    State {
        /// The record.
        id: i64,
        /// Its status, in words.
        status: String,
        /// What is not possible.
        what: &'static str,
    },
    /// Something failed on the agent's side.
    #[error(transparent)]
    Agent(#[from] Error),
}

/// Why a run ended without an outcome from the engine.
#[derive(Debug, thiserror::Error)]
enum Broken {
    /// Its job could not be read back from the records.
    #[error("the upgrade could not be prepared: {0}")]
    NotPrepared(Error),
    /// The engine's task ended without returning (a panic).
    #[error("the engine stopped unexpectedly: {0}")]
    EngineStopped(tokio::task::JoinError),
}

/// Upgrades in progress and how to start, stop and retry them.
pub struct Operations {
    /// The database.
    db: Db,
    /// The engine that moves replicas.
    engine: Arc<dyn Engine>,
    /// Live viewers.
    live: Live,
    /// Upload limits, for the bootstrap checks.
    limits: Limits,
    /// The stop signal of each run in progress.
    stops: Mutex<HashMap<i64, watch::Sender<bool>>>,
    /// The task of each run in progress (it ends once the record is ended).
    runs: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Operations {
    /// Operations on `db` through `engine`.
    pub fn new(db: Db, engine: Arc<dyn Engine>, limits: Limits) -> Arc<Operations> {
        Arc::new(Operations {
            db,
            engine,
            live: Live::default(),
            limits,
            stops: Mutex::new(HashMap::new()),
            runs: Mutex::new(Vec::new()),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The live viewers' channels.
    pub fn live(&self) -> &Live {
        &self.live
    }

    /// At agent start: resume an interrupted upgrade, or (importing the bootstrap version on a first start) make
    /// the running deployment run.
    pub async fn bring_up(self: &Arc<Self>, bootstrap: Option<&Bootstrap>) -> Result<()> {
        if let Some(id) = self.db.run(|conn| records::running_id(conn)).await? {
            tracing::warn!(
                upgrade = id,
                "the agent stopped during upgrade {id}; handing it back to the engine"
            );
            self.launch(id, None).await;
            return Ok(());
        }
        let mut running = self
            .db
            .run(|conn| versions::running_deployment(conn))
            .await?;
        if running.is_none()
            && let Some(bootstrap) = bootstrap
        {
            running = Some(self.import_bootstrap(bootstrap).await?);
        }
        match running {
            Some(deployment) => {
                tracing::info!(version = %deployment.manifest.version, "starting the running version");
                if let Err(reason) = self.engine.start(&deployment).await {
                    tracing::error!("the running version did not start: {reason}");
                }
            }
            None => tracing::warn!(
                "no version is running yet: start with --bootstrap-package and --bootstrap-values"
            ),
        }
        Ok(())
    }

    /// Imports the bootstrap package and records it as running with its values.
    async fn import_bootstrap(&self, bootstrap: &Bootstrap) -> Result<Deployment> {
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let package_bytes = read(&bootstrap.package)?;
        let values_bytes = read(&bootstrap.values)?;
        let name = |path: &std::path::Path| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let (package_name, values_name) = (name(&bootstrap.package), name(&bootstrap.values));
        let (report, package) =
            checks::version_package(&package_name, &package_bytes, &self.limits);
        let package = package.filter(|_| report.ok).ok_or_else(|| {
            Error::Bootstrap(format!(
                "{}: {}",
                bootstrap.package.display(),
                summarize(&report)
            ))
        })?;
        let (report, values) = checks::configuration(
            ConfigKind::Standard,
            &package,
            &values_name,
            &values_bytes,
            None,
            &self.limits,
        );
        let values = values.filter(|_| report.ok).ok_or_else(|| {
            Error::Bootstrap(format!(
                "{}: {}",
                bootstrap.values.display(),
                summarize(&report)
            ))
        })?;
        let manifest = package.manifest().clone();
        let stored_values = values.clone();
        self.db
            .run(move |conn| {
                let tx = conn.transaction()?;
                versions::import(&tx, &package, &package_name, &package_bytes)?;
                versions::set_running(&tx, &package.manifest().version, &stored_values)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
        tracing::info!(version = %manifest.version, "bootstrap version imported and recorded as running");
        Ok(Deployment { manifest, values })
    }

    /// Creates a record holding the lock and starts its run from the `from` version to the `to` version, whose
    /// manifests the caller has read already; refused when another upgrade runs.
    pub async fn start(
        self: &Arc<Self>,
        new: NewRecord,
        from: Manifest,
        to: Manifest,
    ) -> Result<i64, Refusal> {
        let (mode, from_values, to_values) =
            (new.mode, new.from_values.clone(), new.to_values.clone());
        let created = self.db.run(move |conn| records::create(conn, &new)).await?;
        match created {
            Created::Started(id) => {
                let job = UpgradeJob {
                    id,
                    mode,
                    from: Deployment {
                        manifest: from,
                        values: from_values,
                    },
                    to: Deployment {
                        manifest: to,
                        values: to_values,
                    },
                    resuming: false,
                };
                self.launch(id, Some(job)).await;
                Ok(id)
            }
            Created::Refused { running } => Err(Refusal::Running(running)),
        }
    }

    /// Asks a running upgrade to stop after its current replica step.
    pub async fn stop(&self, id: i64, who: &str) -> Result<(), Refusal> {
        let summary = self
            .db
            .run(move |conn| records::summary(conn, id))
            .await?
            .ok_or(Refusal::NotFound(id))?;
        if summary.status != UpgradeStatus::Running {
            return Err(Refusal::State {
                id,
                status: records::word(summary.status),
                what: "only a running upgrade can be stopped",
            });
        }
        let who = who.to_string();
        let events = self.events(id);
        self.db
            .run(move |conn| records::audit(conn, id, &who, "stopped").map(|_| who))
            .await
            .map(|who| {
                events.log(
                    Level::Warn,
                    None,
                    &format!(
                        "force stop requested by {who}: stopping after the current replica step"
                    ),
                );
            })?;
        let stops = self.stops.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stop) = stops.get(&id) {
            stop.send_replace(true);
        }
        Ok(())
    }

    /// Starts a new run continuing a stopped or failed upgrade: same target and configuration, same starting
    /// point; replicas already on the target are skipped by the engine.
    pub async fn retry(self: &Arc<Self>, id: i64, who: &str) -> Result<i64, Refusal> {
        let summary = self
            .db
            .run(move |conn| records::summary(conn, id))
            .await?
            .ok_or(Refusal::NotFound(id))?;
        if matches!(
            summary.status,
            UpgradeStatus::Running | UpgradeStatus::Succeeded
        ) {
            return Err(Refusal::State {
                id,
                status: records::word(summary.status),
                what: "only a stopped, failed or rolled back upgrade can be retried",
            });
        }
        let who = who.to_string();
        let (new, from, to) = self
            .db
            .run(move |conn| {
                let Some(new) = records::retry_of(conn, id, &who)? else {
                    return Ok(None);
                };
                let from = stored_manifest(conn, &new.from_version)?;
                let to = stored_manifest(conn, &new.to_version)?;
                Ok(Some((new, from, to)))
            })
            .await?
            .ok_or(Refusal::NotFound(id))?;
        self.start(new, from, to).await
    }

    /// The reporter of record `id`: what the engine's run reports through (also used by the log fan-out
    /// benchmark to write lines the way the engine does).
    pub fn events(&self, id: i64) -> Arc<RecordEvents> {
        Arc::new(RecordEvents {
            id,
            db: self.db.clone(),
            live: self.live.clone(),
        })
    }

    /// Hands record `id` to the engine in a task of its own, with `job` when it starts, or resuming it from its
    /// record (`None`, after the agent restarted); its outcome ends the record.
    async fn launch(self: &Arc<Self>, id: i64, job: Option<UpgradeJob>) {
        let events = self.events(id);
        let resuming = job.is_none();
        // Registered first, so that a stop asked for while the run is being prepared is not lost.
        let (stop_tx, stop_rx) = watch::channel(false);
        self.stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, stop_tx.clone());
        let prepared = match job {
            Some(job) => Ok((job, false)),
            None => self.db.run(move |conn| resumed_job(conn, id)).await,
        };
        let job = match prepared {
            Ok((job, stop_requested)) => {
                if stop_requested {
                    // A stop asked for before the agent restarted still holds.
                    stop_tx.send_replace(true);
                }
                job
            }
            Err(e) => {
                let broken = Broken::NotPrepared(e);
                events.log(Level::Error, None, &broken.to_string());
                self.finish(id, Err(broken));
                return;
            }
        };
        if resuming {
            events.log(
                Level::Warn,
                None,
                "the agent restarted during this upgrade; resuming it",
            );
        } else {
            events.log(
                Level::Info,
                None,
                &format!(
                    "upgrade from {} to {} ({}) started",
                    job.from.manifest.version,
                    job.to.manifest.version,
                    records::word(job.mode)
                ),
            );
        }
        let this = self.clone();
        let task = tokio::spawn(async move {
            let engine = this.engine.clone();
            let reporter: Arc<dyn UpgradeEvents> = events;
            let run = tokio::spawn(async move { engine.run(job, reporter, stop_rx).await });
            let outcome = run.await.map_err(Broken::EngineStopped);
            this.finish(id, outcome);
        });
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.retain(|run| !run.is_finished());
        runs.push(task);
    }

    /// At agent shutdown, after the engine's: waits (at most `limit`) until the runs the engine stopped have
    /// recorded their outcome.
    pub async fn wait_for_runs(&self, limit: std::time::Duration) {
        let runs: Vec<_> =
            std::mem::take(&mut *self.runs.lock().unwrap_or_else(|p| p.into_inner()));
        let all = futures_util::future::join_all(runs);
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                "an upgrade run did not end in time; it stays running and resumes at the next start"
            );
        }
    }

    /// Ends record `id` with `outcome`, releasing the lock, and tells the viewers. Reasons are stored as the
    /// operator reads them.
    fn finish(&self, id: i64, outcome: Result<RunOutcome, Broken>) {
        let (status, reason, level, line) = match &outcome {
            Err(broken) => (
                UpgradeStatus::Failed,
                Some(broken.to_string()),
                Level::Error,
                format!("upgrade failed: {broken}"),
            ),
            Ok(RunOutcome::Succeeded) => (
                UpgradeStatus::Succeeded,
                None,
                Level::Info,
                "upgrade succeeded".to_string(),
            ),
            Ok(RunOutcome::RolledBack(r)) => (
                UpgradeStatus::RolledBack,
                Some(r.to_string()),
                Level::Error,
                format!("upgrade rolled back: {r}"),
            ),
            Ok(RunOutcome::Failed(r)) => (
                UpgradeStatus::Failed,
                Some(r.to_string()),
                Level::Error,
                format!("upgrade failed: {r}"),
            ),
            Ok(RunOutcome::Stopped) => {
                let asked = self
                    .stops
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&id)
                    .is_some_and(|stop| *stop.borrow());
                let reason = if asked {
                    "stopped by an operator"
                } else {
                    "stopped because the agent shut down; Retry continues it"
                };
                (
                    UpgradeStatus::Stopped,
                    Some(reason.to_string()),
                    Level::Warn,
                    format!("upgrade {reason}"),
                )
            }
        };
        let events = self.events(id);
        events.log(level, None, &line);
        off_the_workers(|| {
            let mut conn = self.db.lock();
            if let Err(e) = records::finish(&mut conn, id, status, reason.as_deref()) {
                tracing::error!(upgrade = id, "could not record the end of the upgrade: {e}");
            }
            if let Ok(progress) = records::progress(&conn, id) {
                self.live.send(
                    id,
                    &StreamMessage::Progress {
                        done: progress.done,
                        total: progress.total,
                        status,
                        step: line,
                    },
                );
            }
            self.live.send(id, &StreamMessage::End { status });
        });
        self.stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        tracing::info!(upgrade = id, status = %records::word(status), "upgrade ended");
    }
}

/// The job of record `id` interrupted by an agent restart, from its stored plan and the stored manifests (its
/// steps in progress marked interrupted), and whether a stop was asked for before the restart.
fn resumed_job(conn: &mut rusqlite::Connection, id: i64) -> Result<(UpgradeJob, bool)> {
    records::interrupt_steps(conn, id)?;
    let stop_requested = records::stop_requested(conn, id)?;
    let plan = records::plan(conn, id)?
        .ok_or_else(|| Error::Database(format!("upgrade {id} has no record")))?;
    let job = UpgradeJob {
        id,
        mode: plan.mode,
        from: Deployment {
            manifest: stored_manifest(conn, &plan.from_version)?,
            values: plan.from_values,
        },
        to: Deployment {
            manifest: stored_manifest(conn, &plan.to_version)?,
            values: plan.to_values,
        },
        resuming: true,
    };
    Ok((job, stop_requested))
}

/// The stored manifest of `version`; an error when its package is not stored.
fn stored_manifest(conn: &rusqlite::Connection, version: &str) -> Result<Manifest> {
    versions::manifest(conn, version)?
        .ok_or_else(|| Error::Database(format!("version {version} has no stored package")))
}

/// A report's errors in one line, for start-up errors.
fn summarize(report: &shared::report::Report) -> String {
    report
        .findings
        .iter()
        .map(|f| match (&f.file, f.line) {
            (Some(file), Some(line)) => format!("{file}:{line}: {} ({})", f.message, f.code),
            (Some(file), None) => format!("{file}: {} ({})", f.message, f.code),
            _ => format!("{} ({})", f.message, f.code),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where the engine reports one record's run: each call is committed to the database before it returns, then
/// sent to the live viewers (while still holding the database lock, so viewers see seq order).
pub struct RecordEvents {
    /// The record.
    id: i64,
    /// The database.
    db: Db,
    /// Live viewers.
    live: Live,
}

impl RecordEvents {
    fn send_progress(&self, conn: &rusqlite::Connection, progress: shared::api::Progress) {
        let step = records::current_step(conn, self.id).unwrap_or_default();
        self.live.send(
            self.id,
            &StreamMessage::Progress {
                done: progress.done,
                total: progress.total,
                status: UpgradeStatus::Running,
                step,
            },
        );
    }
}

impl UpgradeEvents for RecordEvents {
    fn log(&self, level: Level, app: Option<&str>, message: &str) {
        off_the_workers(|| {
            let mut conn = self.db.lock();
            match records::append_log(&mut conn, self.id, level.as_str(), app, message) {
                Ok(entry) => self.live.send(self.id, &StreamMessage::Log(entry)),
                Err(e) => {
                    tracing::error!(upgrade = self.id, "log line not recorded: {e}: {message}")
                }
            }
        })
    }

    fn plan(&self, total: u32) {
        off_the_workers(|| {
            let conn = self.db.lock();
            match records::set_total(&conn, self.id, total) {
                Ok(progress) => self.send_progress(&conn, progress),
                Err(e) => tracing::error!(upgrade = self.id, "plan not recorded: {e}"),
            }
        })
    }

    fn step_started(
        &self,
        application: &str,
        replica: Option<&str>,
        action: &str,
        message: &str,
    ) -> u32 {
        off_the_workers(|| {
            let mut conn = self.db.lock();
            match records::start_step(&mut conn, self.id, application, replica, action, message) {
                Ok(seq) => {
                    if let Ok(progress) = records::progress(&conn, self.id) {
                        self.send_progress(&conn, progress);
                    }
                    seq
                }
                Err(e) => {
                    tracing::error!(upgrade = self.id, "step not recorded: {e}: {message}");
                    0
                }
            }
        })
    }

    fn step_finished(&self, seq: u32, status: StepStatus, message: &str) {
        off_the_workers(|| {
            let mut conn = self.db.lock();
            match records::finish_step(&mut conn, self.id, seq, status.as_str(), message) {
                Ok(progress) => self.send_progress(&conn, progress),
                Err(e) => {
                    tracing::error!(upgrade = self.id, "step end not recorded: {e}: {message}")
                }
            }
        })
    }

    fn availability(&self, measured: &Availability) {
        off_the_workers(|| {
            if let Err(e) = records::set_availability(&self.db.lock(), self.id, measured) {
                tracing::error!(upgrade = self.id, "availability not recorded: {e}");
            }
        })
    }
}

/// Runs a record write without holding up the async tasks. The engine's calls are synchronous and return only
/// once the write is committed (what `UpgradeEvents` promises), so they wait for the database wherever they are
/// called: on a worker of the agent's multi-threaded runtime, the worker first hands its other tasks to another
/// thread (`block_in_place`); elsewhere (a blocking thread, a single-threaded runtime) the write just runs.
fn off_the_workers<T>(write: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(write)
        }
        _ => write(),
    }
}
