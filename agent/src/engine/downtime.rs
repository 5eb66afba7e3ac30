//! The downtime plan: stop every application in reverse dependency order, then start every application of the new
//! version in dependency order, each application's replicas together, and wait until they are ready. The downtime
//! is measured from the first replica taken out of traffic to the last application ready again.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use shared::manifest::Manifest;

use super::order::dependency_order;
use super::steps::StepRunner;
use super::{Failure, Level};
use crate::platform::{Platform, Release, Replica};

/// Stops everything, then starts a release.
pub struct DowntimePlan<'r, 'a, P: Platform> {
    /// Runs and reports the steps.
    pub steps: &'r StepRunner<'a, P>,
}

impl<P: Platform> DowntimePlan<'_, '_, P> {
    /// Steps: one per replica stopped, one per replica started.
    pub fn count(&self, to: &Manifest) -> u32 {
        self.steps.platform.replicas().len() as u32
            + to.applications.iter().map(|a| a.replicas).sum::<u32>()
    }

    /// Stops every replica, applications in reverse dependency order of `from` (then any other application).
    pub async fn stop_all(&self, from: &Manifest) -> Result<(), Failure> {
        let mut order: Vec<String> = dependency_order(from)
            .map(|apps| apps.iter().map(|a| a.name.clone()).collect())
            .unwrap_or_default();
        order.reverse();
        let mut replicas: Vec<Replica> = self.steps.platform.replicas();
        // Known applications in reverse dependency order first, the rest after.
        replicas.sort_by_key(|r| order.iter().position(|a| *a == r.app).unwrap_or(usize::MAX));
        for replica in replicas {
            self.steps.drain(&replica).await?;
        }
        Ok(())
    }

    /// Starts every application of `to` in dependency order; all replicas of one application start together and
    /// the next application starts once they are ready.
    pub async fn start_all(&self, to: &Manifest, release: &Release) -> Result<(), Failure> {
        for app in dependency_order(to)? {
            self.steps
                .platform
                .expose(app)
                .await
                .map_err(|source| Failure::ExposeFailed {
                    app: app.name.clone(),
                    source: Box::new(source),
                })?;
            let starts = (0..app.replicas).map(|_| self.steps.start_ready(app, release));
            let results = join_all(starts).await;
            if let Some(Err(failure)) = results.into_iter().find(|r| r.is_err()) {
                return Err(failure);
            }
        }
        Ok(())
    }

    /// The whole plan: stop all, start all; returns the downtime measured.
    pub async fn run(
        &self,
        from: &Manifest,
        to: &Manifest,
        release: &Release,
    ) -> (Duration, Result<(), Failure>) {
        let began = Instant::now();
        let mut result = self.stop_all(from).await;
        if result.is_ok() {
            result = self.start_all(to, release).await;
        }
        let downtime = began.elapsed();
        if result.is_ok() {
            self.steps.events.log(
                Level::Info,
                None,
                &format!(
                    "every application runs {} again after {:.2} s of downtime",
                    release.version,
                    downtime.as_secs_f64()
                ),
            );
        }
        (downtime, result)
    }
}
