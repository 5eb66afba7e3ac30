//! The one engine: runs a job's plan (rolling or downtime) on a platform, rolls back on failure, stops on request,
//! resumes after a restart, and runs the availability probe alongside.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use shared::api::{ApplicationView, ReplicaView, UpgradeMode};
use shared::manifest::Manifest;
use tokio::sync::watch;

use super::downtime::DowntimePlan;
use super::order::dependency_order;
use super::probe::{self, Probe};
use super::rolling::RollingPlan;
use super::steps::{StepRunner, expose};
use super::{
    Deployment, Engine, EngineError, Failure, Halt, Level, RunOutcome, StepStatus, UpgradeEvents,
    UpgradeJob,
};
use crate::platform::{Platform, PlatformError, Release};

/// How long a stopping replica may finish its work before it is killed.
const GRACE: Duration = Duration::from_secs(30);

/// The engine over one platform.
pub struct UpgradeEngine<P: Platform> {
    platform: P,
    /// The manifest whose applications the cluster view shows (the target while a run goes on).
    view: Mutex<Option<Manifest>>,
    /// Turns true when the agent shuts down: a run stops after its current replica step.
    shutting_down: watch::Sender<bool>,
    /// Held by a run; shutdown takes it to wait for the run to reach a step boundary before stopping replicas.
    run_lock: tokio::sync::Mutex<()>,
}

fn release(deployment: &Deployment) -> Release {
    Release {
        version: deployment.manifest.version.clone(),
        values: deployment.values.clone(),
    }
}

impl<P: Platform> UpgradeEngine<P> {
    /// An engine moving replicas on `platform`.
    pub fn new(platform: P) -> Self {
        UpgradeEngine {
            platform,
            view: Mutex::new(None),
            shutting_down: watch::channel(false).0,
            run_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn set_view(&self, manifest: &Manifest) {
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = Some(manifest.clone());
    }

    async fn expose_all(&self, manifest: &Manifest) -> Result<(), Failure> {
        for app in &manifest.applications {
            expose(&self.platform, app).await?;
        }
        Ok(())
    }

    async fn adopt(&self, events: &dyn UpgradeEvents) -> Result<(), PlatformError> {
        let found = self.platform.adopt().await?;
        let list = |ids: &[String]| {
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            }
        };
        events.log(
            Level::Info,
            None,
            &format!(
                "after the restart: took back {}; replaced (were starting or draining) {}; already gone {}; \
                 stray processes stopped: {}",
                list(&found.adopted),
                list(&found.replaced),
                list(&found.vanished),
                found.strays_stopped.len()
            ),
        );
        Ok(())
    }

    async fn start_running(&self, running: &Deployment) -> Result<(), EngineError> {
        let events = TracingEvents::default();
        self.adopt(&events).await?;
        self.set_view(&running.manifest);
        self.expose_all(&running.manifest)
            .await
            .map_err(Halt::Failed)?;
        let steps = StepRunner::new(&self.platform, &events, None, GRACE);
        let plan = RollingPlan { steps: &steps };
        let mut touched = Vec::new();
        plan.run(&running.manifest, &release(running), &mut touched)
            .await?;
        Ok(())
    }

    async fn run_job(
        &self,
        job: UpgradeJob,
        events: Arc<dyn UpgradeEvents>,
        stop: watch::Receiver<bool>,
    ) -> RunOutcome {
        let _running = self.run_lock.lock().await;
        // The platform restarts no replica by itself while the run goes on: an exit is the engine's to act on.
        let _hold = match self.platform.hold_repairs().await {
            Ok(hold) => hold,
            Err(e) => {
                let failure = Failure::RepairsNotHeld {
                    source: Box::new(e),
                };
                events.log(Level::Error, None, &failure.to_string());
                return RunOutcome::Failed(failure);
            }
        };
        let began = Instant::now();
        let (from, to) = (release(&job.from), release(&job.to));
        let stop = self.stop_signal(stop, events.clone());
        events.log(
            Level::Info,
            None,
            &format!(
                "{} upgrade from {} to {} (record {}){}",
                match job.mode {
                    UpgradeMode::ZeroDowntime => "zero-downtime",
                    UpgradeMode::Downtime => "downtime",
                },
                from.version,
                to.version,
                job.id,
                if job.resuming {
                    ", resumed after an agent restart"
                } else {
                    ""
                }
            ),
        );
        if job.resuming
            && let Err(e) = self.adopt(events.as_ref()).await
        {
            events.log(Level::Error, None, &format!("cannot resume: {e}"));
            return RunOutcome::Failed(Failure::Resume {
                source: Box::new(e),
            });
        }
        for manifest in [&job.to.manifest, &job.from.manifest] {
            if let Err(failure) = dependency_order(manifest) {
                return RunOutcome::Failed(failure);
            }
        }
        self.set_view(&job.to.manifest);
        if let Err(failure) = self.expose_all(&job.to.manifest).await {
            events.log(Level::Error, None, &failure.to_string());
            return RunOutcome::Failed(failure);
        }
        let probe = Probe::start(
            &job.to.manifest.probes,
            |app| self.platform.address(app),
            [&to.values, &from.values],
            events.clone(),
        );
        let steps = StepRunner::new(&self.platform, events.as_ref(), Some(stop), GRACE);
        let (result, downtime) = match job.mode {
            UpgradeMode::ZeroDowntime => {
                // Only the rolling way forward is gated: its rollback, and a downtime upgrade, are seen through.
                let steps = steps.gated(probe.breaches());
                let plan = RollingPlan { steps: &steps };
                steps.plan_more(plan.count(&job.to.manifest, &to));
                let mut touched = Vec::new();
                let result = plan.run(&job.to.manifest, &to, &mut touched).await;
                // A limit crossed during the last replica step still fails the upgrade it measured.
                let result = match (result, steps.limit_crossed()) {
                    (Ok(()), Some(breach)) => Err(Halt::Failed(Failure::ProbeLimit(breach))),
                    (result, _) => result,
                };
                let result = match result {
                    Err(Halt::Failed(failure)) => Err(self
                        .roll_back_rolling(&steps, &job, &touched, failure)
                        .await),
                    Err(Halt::Stopped) => Err(RunOutcome::Stopped),
                    Ok(()) => Ok(()),
                };
                (result, None)
            }
            UpgradeMode::Downtime => {
                let plan = DowntimePlan { steps: &steps };
                if steps.stop_requested() {
                    (Err(RunOutcome::Stopped), None)
                } else {
                    steps.plan_more(plan.count(&job.to.manifest));
                    let (mut downtime, result) =
                        plan.run(&job.from.manifest, &job.to.manifest, &to).await;
                    let result = match result {
                        Ok(()) => Ok(()),
                        Err(failure) => {
                            steps.plan_more(plan.count(&job.from.manifest));
                            events.log(
                                Level::Error,
                                None,
                                &format!("rolling back to {}: {failure}", from.version),
                            );
                            // The product stays down until the old version is back: that counts too.
                            let (more, back) =
                                plan.run(&job.to.manifest, &job.from.manifest, &from).await;
                            downtime += more;
                            Err(match back {
                                Ok(()) => RunOutcome::RolledBack(failure),
                                Err(again) => RunOutcome::Failed(Failure::Rollback {
                                    first: Box::new(failure),
                                    then: Box::new(again),
                                }),
                            })
                        }
                    };
                    if steps.stop_requested() {
                        events.log(
                            Level::Info,
                            None,
                            "a downtime upgrade is not left half done: the stop took effect once every application ran again",
                        );
                    }
                    (result, Some(downtime))
                }
            }
        };
        let mut measured = probe.finish().await;
        measured.downtime_seconds = downtime.map(|d| d.as_secs_f64());
        events.availability(&measured);
        events.log(
            if measured.failures == 0 && measured.calls > 0 {
                Level::Info
            } else {
                Level::Warn
            },
            None,
            &probe::summary(&measured),
        );
        let outcome = match result {
            Ok(()) => RunOutcome::Succeeded,
            Err(outcome) => outcome,
        };
        if let RunOutcome::RolledBack(_) = outcome {
            self.set_view(&job.from.manifest);
        }
        events.log(
            Level::Info,
            None,
            &format!(
                "{} after {:.1} s",
                match &outcome {
                    RunOutcome::Succeeded => format!("every application runs {}", to.version),
                    RunOutcome::RolledBack(reason) =>
                        format!("rolled back to {} ({reason})", from.version),
                    RunOutcome::Failed(reason) => format!("failed: {reason}"),
                    RunOutcome::Stopped => "stopped after a replica step, as asked".to_string(),
                },
                began.elapsed().as_secs_f64()
            ),
        );
        outcome
    }

    /// One signal for both reasons to stop after the current replica step: an operator's force stop and the agent
    /// shutting down; the log says which.
    fn stop_signal(
        &self,
        mut operator: watch::Receiver<bool>,
        events: Arc<dyn UpgradeEvents>,
    ) -> watch::Receiver<bool> {
        let (tx, rx) = watch::channel(false);
        let mut shutdown = self.shutting_down.subscribe();
        tokio::spawn(async move {
            let why = tokio::select! {
                Ok(_) = operator.wait_for(|s| *s) => "force stop asked by an operator",
                Ok(_) = shutdown.wait_for(|s| *s) => "the agent is shutting down",
                _ = tx.closed() => return,
            };
            events.log(
                Level::Warn,
                None,
                &format!("{why}: the upgrade stops after the current replica step"),
            );
            let _ = tx.send(true);
        });
        rx
    }

    /// Returns the applications touched, last first, to the old version and configuration, replica by replica.
    async fn roll_back_rolling(
        &self,
        steps: &StepRunner<'_, P>,
        job: &UpgradeJob,
        touched: &[&str],
        failure: Failure,
    ) -> RunOutcome {
        let from = release(&job.from);
        steps.events.log(
            Level::Error,
            None,
            &format!("rolling back to {}: {failure}", from.version),
        );
        let back = StepRunner::new(steps.platform, steps.events, None, steps.grace);
        let plan = RollingPlan { steps: &back };
        back.plan_more(steps.planned() + plan.count(&job.from.manifest, &from));
        for name in touched.iter().rev() {
            let result = match job
                .from
                .manifest
                .applications
                .iter()
                .find(|a| a.name == *name)
            {
                Some(app) => plan.converge(app, &from).await,
                None => {
                    let mut result = Ok(());
                    for replica in back.replicas_of(name) {
                        result = back.drain(&replica).await.map_err(Halt::Failed);
                        if result.is_err() {
                            break;
                        }
                    }
                    result
                }
            };
            // A rollback has no stop signal: it only ends early on a failure.
            if let Err(Halt::Failed(again)) = result {
                return RunOutcome::Failed(Failure::Rollback {
                    first: Box::new(failure),
                    then: Box::new(again),
                });
            }
        }
        RunOutcome::RolledBack(failure)
    }
}

impl<P: Platform> Engine for UpgradeEngine<P> {
    fn start(&self, running: &Deployment) -> BoxFuture<'_, Result<(), EngineError>> {
        let running = running.clone();
        Box::pin(async move { self.start_running(&running).await })
    }

    fn applications(&self) -> Vec<ApplicationView> {
        let view = self.view.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let replicas = self.platform.replicas();
        let mut names: Vec<(String, u32)> = view
            .as_ref()
            .and_then(|m| dependency_order(m).ok())
            .map(|apps| apps.iter().map(|a| (a.name.clone(), a.replicas)).collect())
            .unwrap_or_default();
        for replica in &replicas {
            if !names.iter().any(|(n, _)| *n == replica.app) {
                names.push((replica.app.clone(), 0));
            }
        }
        names
            .into_iter()
            .map(|(name, desired)| ApplicationView {
                address: self.platform.address(&name).unwrap_or_default(),
                desired_replicas: desired,
                replicas: replicas
                    .iter()
                    .filter(|r| r.app == name)
                    .map(|r| ReplicaView {
                        id: r.id.clone(),
                        version: r.version.clone(),
                        state: r.state.as_str().to_string(),
                        ready: r.state == crate::platform::ReplicaState::Ready,
                        node: r.node.clone(),
                        reason: r.reason.clone(),
                    })
                    .collect(),
                name,
            })
            .collect()
    }

    fn run(
        &self,
        job: UpgradeJob,
        events: Arc<dyn UpgradeEvents>,
        stop: watch::Receiver<bool>,
    ) -> BoxFuture<'_, RunOutcome> {
        Box::pin(self.run_job(job, events, stop))
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // A run in progress stops after its current replica step; then the agent lets go of the platform, which
            // keeps the product running.
            self.shutting_down.send_replace(true);
            let _idle = self.run_lock.lock().await;
            self.platform.shutdown(GRACE).await
        })
    }
}

/// Where the steps of bringing the running version up at agent start go: the agent's own log.
#[derive(Default)]
struct TracingEvents {
    seq: AtomicU32,
}

impl UpgradeEvents for TracingEvents {
    fn log(&self, level: Level, app: Option<&str>, message: &str) {
        let app = app.unwrap_or("-");
        match level {
            Level::Info => tracing::info!(app, "{message}"),
            Level::Warn => tracing::warn!(app, "{message}"),
            Level::Error => tracing::error!(app, "{message}"),
        }
    }

    fn plan(&self, _total: u32) {}

    fn step_started(
        &self,
        _application: &str,
        _replica: Option<&str>,
        _action: &str,
        _message: &str,
    ) -> u32 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn step_finished(&self, _seq: u32, status: StepStatus, message: &str) {
        if status == StepStatus::Failed {
            tracing::warn!("{message}");
        }
    }

    fn availability(&self, _measured: &shared::api::Availability) {}
}
