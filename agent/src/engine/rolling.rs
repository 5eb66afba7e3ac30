//! The zero-downtime plan: applications in dependency order, and within one, replica by replica — start a new one,
//! wait until it is ready, put it in traffic, then drain and stop one old one. An application never has fewer ready
//! replicas than it should. A force stop takes effect between two such replica steps.

use shared::manifest::{Application, Manifest};

use super::order::dependency_order;
use super::steps::StepRunner;
use super::{Failure, Halt, Level, StepStatus};
use crate::platform::{Platform, Release, Replica, ReplicaState};

/// What moving one application to a release takes, counted from its replicas now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppPlan {
    /// Ready replicas already on the release.
    pub done: u32,
    /// Replicas to start.
    pub starts: u32,
    /// Replicas to drain and stop.
    pub drains: u32,
}

impl AppPlan {
    /// The plan for `app` given its replicas.
    pub fn of(app: &Application, release: &Release, replicas: &[Replica]) -> AppPlan {
        let done = replicas
            .iter()
            .filter(|r| r.runs(release) && r.state == ReplicaState::Ready)
            .count() as u32;
        let others = replicas.len() as u32 - done;
        AppPlan {
            done,
            starts: app.replicas.saturating_sub(done),
            drains: others + done.saturating_sub(app.replicas),
        }
    }

    /// Steps it takes (plus one `skip` step when some replicas are already done).
    pub fn steps(&self) -> u32 {
        self.starts + self.drains + u32::from(self.done > 0)
    }
}

fn crashed_after_ready(replica: &Replica, how: &str) -> Failure {
    Failure::CrashedAfterReady {
        app: replica.app.clone(),
        replica: replica.id.clone(),
        version: replica.version.clone(),
        how: how.to_string(),
    }
}

/// Moves applications to a release replica by replica.
pub struct RollingPlan<'r, 'a, P: Platform> {
    /// Runs and reports the steps.
    pub steps: &'r StepRunner<'a, P>,
}

impl<P: Platform> RollingPlan<'_, '_, P> {
    /// Steps needed to move every application of `manifest` to `release`, and to remove the replicas of
    /// applications it no longer has.
    pub fn count(&self, manifest: &Manifest, release: &Release) -> u32 {
        let replicas = self.steps.platform.replicas();
        let mut total = 0;
        for app in &manifest.applications {
            let mine: Vec<Replica> = replicas
                .iter()
                .filter(|r| r.app == app.name)
                .cloned()
                .collect();
            total += AppPlan::of(app, release, &mine).steps();
        }
        total
            + replicas
                .iter()
                .filter(|r| !manifest.applications.iter().any(|a| a.name == r.app))
                .count() as u32
    }

    /// Moves every application of `manifest` to `release` in dependency order. On failure the applications
    /// touched so far are returned with the error, so that the caller can roll them back.
    pub async fn run<'m>(
        &self,
        manifest: &'m Manifest,
        release: &Release,
        touched: &mut Vec<&'m str>,
    ) -> Result<(), Halt> {
        let order = dependency_order(manifest)?;
        for app in order {
            touched.push(&app.name);
            self.converge(app, release).await?;
            self.check_crashes(manifest, release)?;
        }
        self.remove_dropped(manifest).await
    }

    /// Stops the replicas of applications that `manifest` does not have.
    pub async fn remove_dropped(&self, manifest: &Manifest) -> Result<(), Halt> {
        let dropped: Vec<Replica> = self
            .steps
            .platform
            .replicas()
            .into_iter()
            .filter(|r| !manifest.applications.iter().any(|a| a.name == r.app))
            .collect();
        for replica in dropped {
            self.steps.drain(&replica).await?;
        }
        Ok(())
    }

    /// A replica already on the release that ended on its own fails the run (the caller rolls back).
    fn check_crashes(&self, manifest: &Manifest, release: &Release) -> Result<(), Halt> {
        for replica in self.steps.platform.replicas() {
            if let ReplicaState::Exited(how) = &replica.state
                && replica.runs(release)
                && manifest.applications.iter().any(|a| a.name == replica.app)
            {
                let failure = crashed_after_ready(&replica, how);
                self.steps
                    .events
                    .log(Level::Error, Some(&replica.app), &failure.to_string());
                return Err(failure.into());
            }
        }
        Ok(())
    }

    /// Moves one application to `release`, one replica step at a time.
    pub async fn converge(&self, app: &Application, release: &Release) -> Result<(), Halt> {
        let steps = self.steps;
        let plan = AppPlan::of(app, release, &steps.replicas_of(&app.name));
        if plan.done > 0 {
            let seq = steps.events.step_started(
                &app.name,
                None,
                "skip",
                "replicas already on the target",
            );
            let message = format!(
                "{}: {} of {} replicas already run {}, skipped",
                app.name, plan.done, app.replicas, release.version
            );
            steps
                .events
                .step_finished(seq, StepStatus::Skipped, &message);
            steps.events.log(Level::Info, Some(&app.name), &message);
        }
        if plan.starts > 0 || plan.drains > 0 {
            steps.events.log(
                Level::Info,
                Some(&app.name),
                &format!(
                    "{}: moving to {} replica by replica ({} to start, {} to drain)",
                    app.name, release.version, plan.starts, plan.drains
                ),
            );
        }
        loop {
            let mine = steps.replicas_of(&app.name);
            if let Some((crashed, how)) = mine.iter().find_map(|r| match &r.state {
                ReplicaState::Exited(how) if r.runs(release) => Some((r, how)),
                _ => None,
            }) {
                let failure = crashed_after_ready(crashed, how);
                steps
                    .events
                    .log(Level::Error, Some(&app.name), &failure.to_string());
                // Its removal is a step the plan did not count (it counted the replica's start only).
                steps.plan_more(1);
                steps.drain(crashed).await?;
                return Err(failure.into());
            }
            let ready_on_target = mine
                .iter()
                .filter(|r| r.runs(release) && r.state == ReplicaState::Ready)
                .count() as u32;
            // Replicas not serving (ended, never put in traffic, half drained) go first: removing them costs no
            // capacity.
            let idle_old = mine
                .iter()
                .find(|r| !r.runs(release) && r.state != ReplicaState::Ready);
            let serving_old = mine
                .iter()
                .find(|r| !r.runs(release) && r.state == ReplicaState::Ready);
            if idle_old.is_none() && serving_old.is_none() && ready_on_target == app.replicas {
                return Ok(());
            }
            if let Some(breach) = steps.limit_crossed() {
                steps.events.log(
                    Level::Error,
                    Some(&app.name),
                    &format!("{}: no further replica is moved: {breach}", app.name),
                );
                return Err(Failure::ProbeLimit(breach).into());
            }
            if steps.stop_requested() {
                steps.events.log(
                    Level::Warn,
                    Some(&app.name),
                    &format!("{}: stopped between replica steps, as asked", app.name),
                );
                return Err(Halt::Stopped);
            }
            if let Some(idle) = idle_old {
                steps.drain(idle).await?;
                continue;
            }
            if ready_on_target < app.replicas {
                steps.start_ready(app, release).await?;
                if let Some(old) = serving_old {
                    steps.drain(old).await?;
                }
            } else if let Some(old) = serving_old {
                steps.drain(old).await?;
            } else if let Some(extra) = mine
                .iter()
                .find(|r| r.runs(release) && r.state == ReplicaState::Ready)
            {
                // More than it should have: one fewer.
                steps.drain(extra).await?;
            }
        }
    }
}
