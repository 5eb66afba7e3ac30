//! The replica steps both plans are made of — start a replica and wait until it is ready, drain and stop one — each
//! reported as a step with its timing, in an operator's words.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use shared::manifest::Application;
use tokio::sync::watch;
// Tokio's clock, so that the readiness timeout follows the runtime's time (paused in the engine's unit tests).
use tokio::time::Instant;

use super::{Failure, Level, LimitBreach, StepStatus, UpgradeEvents};
use crate::platform::{Health, Platform, Release, Replica, ReplicaState};

/// How often a starting replica's readiness is checked.
const READINESS_POLL: Duration = Duration::from_millis(50);

/// Runs replica steps on a platform and reports them.
pub struct StepRunner<'a, P: Platform> {
    /// Where the replicas run.
    pub platform: &'a P,
    /// Where steps and log lines go.
    pub events: &'a dyn UpgradeEvents,
    /// Turns true when an operator forces a stop; `None` while rolling back (a rollback is finished).
    pub stop: Option<watch::Receiver<bool>>,
    /// How long a stopping replica may take before it is killed.
    pub grace: Duration,
    /// The first probe limit crossed, when the run is gated by the probes (a rolling upgrade, not its rollback).
    gate: Option<watch::Receiver<Option<LimitBreach>>>,
    /// Steps planned so far.
    planned: AtomicU32,
}

/// Gives an application its stable address (idempotent); a failure names the application.
pub async fn expose<P: Platform>(platform: &P, app: &Application) -> Result<(), Failure> {
    platform
        .expose(app)
        .await
        .map(|_address| ())
        .map_err(|source| Failure::ExposeFailed {
            app: app.name.clone(),
            source: Box::new(source),
        })
}

/// A replica in words: `web-4 (V5.1.2.04)`.
fn named(replica: &Replica) -> String {
    format!("{} ({})", replica.id, replica.version)
}

impl<'a, P: Platform> StepRunner<'a, P> {
    /// A runner reporting into `events`.
    pub fn new(
        platform: &'a P,
        events: &'a dyn UpgradeEvents,
        stop: Option<watch::Receiver<bool>>,
        grace: Duration,
    ) -> Self {
        StepRunner {
            platform,
            events,
            stop,
            grace,
            gate: None,
            planned: AtomicU32::new(0),
        }
    }

    /// The same runner, gated by the probes' limits: see [`StepRunner::limit_crossed`].
    pub fn gated(mut self, gate: watch::Receiver<Option<LimitBreach>>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The limit a probe crossed, when the runner is gated and one did: the plan moves no further replica.
    pub fn limit_crossed(&self) -> Option<LimitBreach> {
        self.gate.as_ref().and_then(|gate| gate.borrow().clone())
    }

    /// Adds steps to the plan.
    pub fn plan_more(&self, steps: u32) {
        let total = self.planned.fetch_add(steps, Ordering::SeqCst) + steps;
        self.events.plan(total);
    }

    /// Steps planned so far.
    pub fn planned(&self) -> u32 {
        self.planned.load(Ordering::SeqCst)
    }

    /// Whether an operator asked to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| *stop.borrow())
    }

    /// The replicas of one application now.
    pub fn replicas_of(&self, app: &str) -> Vec<Replica> {
        self.platform
            .replicas()
            .into_iter()
            .filter(|r| r.app == app)
            .collect()
    }

    /// Starts one replica of `app` on `release`, waits until its readiness check passes (within the manifest's
    /// timeout), and puts it in traffic. A replica that exits or stays unready is stopped and the step fails.
    pub async fn start_ready(
        &self,
        app: &Application,
        release: &Release,
    ) -> Result<String, Failure> {
        let started = Instant::now();
        let id = match self.platform.start_replica(app, release).await {
            Ok(id) => id,
            Err(source) => {
                let seq = self.events.step_started(
                    &app.name,
                    None,
                    "start",
                    &format!("starting a {} replica of {}", release.version, app.name),
                );
                let failure = Failure::StartFailed {
                    app: app.name.clone(),
                    version: release.version.clone(),
                    source: Box::new(source),
                };
                let reason = failure.to_string();
                self.events.step_finished(seq, StepStatus::Failed, &reason);
                self.events.log(Level::Error, Some(&app.name), &reason);
                return Err(failure);
            }
        };
        let who = format!("{id} ({})", release.version);
        let seq = self.events.step_started(
            &app.name,
            Some(&id),
            "start",
            &format!(
                "starting {who}, waiting for {} to answer 200",
                app.readiness.path
            ),
        );
        self.events.log(
            Level::Info,
            Some(&app.name),
            &format!("started replica {who}; waiting for it to become ready"),
        );
        let limit = Duration::from_secs(u64::from(app.readiness.timeout_seconds));
        let failure = loop {
            match self.platform.health(&id, &app.readiness.path).await {
                Health::Ready => break None,
                Health::Exited(how) => {
                    break Some(Failure::ExitedBeforeReady {
                        app: app.name.clone(),
                        replica: id.clone(),
                        version: release.version.clone(),
                        how,
                        after: started.elapsed(),
                    });
                }
                Health::NotReady(last_check) if started.elapsed() >= limit => {
                    break Some(Failure::NotReady {
                        app: app.name.clone(),
                        replica: id.clone(),
                        version: release.version.clone(),
                        within: app.readiness.timeout_seconds,
                        last_check,
                    });
                }
                Health::NotReady(_) => tokio::time::sleep(READINESS_POLL).await,
            }
        };
        if let Some(failure) = failure {
            let reason = failure.to_string();
            self.events.step_finished(seq, StepStatus::Failed, &reason);
            self.events.log(Level::Error, Some(&app.name), &reason);
            if let Err(e) = self.platform.drain_and_stop(&id, self.grace).await {
                self.events.log(
                    Level::Warn,
                    Some(&app.name),
                    &format!("stopping {who}: {e}"),
                );
            }
            return Err(failure);
        }
        if let Err(source) = self.platform.route_in(&id).await {
            let failure = Failure::RouteInFailed {
                app: app.name.clone(),
                replica: id.clone(),
                version: release.version.clone(),
                source: Box::new(source),
            };
            let reason = failure.to_string();
            self.events.step_finished(seq, StepStatus::Failed, &reason);
            self.events.log(Level::Error, Some(&app.name), &reason);
            return Err(failure);
        }
        let message = format!(
            "{who} ready in {:.2} s, now receiving traffic",
            started.elapsed().as_secs_f64()
        );
        self.events.step_finished(seq, StepStatus::Done, &message);
        self.events.log(Level::Info, Some(&app.name), &message);
        Ok(id)
    }

    /// Takes a replica out of traffic, lets it finish what it is doing, and stops it.
    pub async fn drain(&self, replica: &Replica) -> Result<(), Failure> {
        let who = named(replica);
        let started = Instant::now();
        let (action, intro) = match &replica.state {
            ReplicaState::Exited(how) => ("remove", format!("removing {who}, which {how}")),
            _ => (
                "drain",
                format!("taking {who} out of traffic, draining and stopping it"),
            ),
        };
        let seq = self
            .events
            .step_started(&replica.app, Some(&replica.id), action, &intro);
        match self.platform.drain_and_stop(&replica.id, self.grace).await {
            Ok(()) => {
                let message = format!(
                    "{who} drained and stopped in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                self.events.step_finished(seq, StepStatus::Done, &message);
                self.events.log(Level::Info, Some(&replica.app), &message);
                Ok(())
            }
            Err(source) => {
                let failure = Failure::StopFailed {
                    app: replica.app.clone(),
                    replica: replica.id.clone(),
                    version: replica.version.clone(),
                    source: Box::new(source),
                };
                let reason = failure.to_string();
                self.events.step_finished(seq, StepStatus::Failed, &reason);
                self.events.log(Level::Error, Some(&replica.app), &reason);
                Err(failure)
            }
        }
    }
}
