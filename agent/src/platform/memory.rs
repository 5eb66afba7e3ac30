//! A platform in memory, for the engine's unit tests (compiled for tests only): replicas are rows of a table, how a
//! replica of an application and version behaves is scripted, and every change of the table is kept, so that a
//! test can check what an operator would have seen at every step. No process, no socket, no clock: a run takes
//! milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use shared::manifest::Application;

use super::{
    Adoption, Health, Platform, PlatformError, Release, RepairHold, Replica, ReplicaState, Result,
};

/// How the replicas of one application and version behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Ready at the `n`th readiness check (1: the first).
    ReadyAfter(u32),
    /// Its readiness check answers 503 forever.
    NeverReady,
    /// Ends (`exited with status 3`) at the `n`th readiness check, before it is ready.
    ExitsBeforeReady(u32),
    /// Ready at the first check; ends (`exited with status 3`) as soon as it is put in traffic.
    CrashesAfterReady,
    /// The platform cannot start it.
    FailsToStart,
}

/// What a replica ends with when its script makes it end.
pub const EXIT: &str = "exited with status 3";

/// The in-memory platform; clones share the same table, so a test keeps one while the engine owns another.
#[derive(Clone, Default)]
pub struct MemoryPlatform {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// (application, version) → script; `ReadyAfter(1)` when none is set.
    scripts: HashMap<(String, String), Script>,
    replicas: Vec<Row>,
    /// The last replica number given out.
    number: u32,
    /// Application → stable address, once exposed.
    addresses: Vec<(String, String)>,
    /// The table after every change.
    history: Vec<Vec<Replica>>,
}

struct Row {
    replica: Replica,
    script: Script,
    checks: u32,
}

impl Inner {
    fn row(&mut self, id: &str) -> Result<&mut Row> {
        self.replicas
            .iter_mut()
            .find(|r| r.replica.id == id)
            .ok_or_else(|| PlatformError::UnknownReplica(id.into()))
    }

    fn set_state(&mut self, id: &str, state: ReplicaState) -> Result<()> {
        let replica = &mut self.row(id)?.replica;
        replica.reason = state.reason(None);
        replica.state = state;
        self.record();
        Ok(())
    }

    fn record(&mut self) {
        let now = self.replicas.iter().map(|r| r.replica.clone()).collect();
        self.history.push(now);
    }
}

impl MemoryPlatform {
    /// An empty platform; replicas become ready at their first check unless scripted otherwise.
    pub fn new() -> MemoryPlatform {
        MemoryPlatform::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets how the replicas of `app` on `version` started from now on behave.
    pub fn script(&self, app: &str, version: &str, script: Script) {
        self.lock()
            .scripts
            .insert((app.into(), version.into()), script);
    }

    /// The table after every change since the last call, oldest first.
    pub fn take_history(&self) -> Vec<Vec<Replica>> {
        std::mem::take(&mut self.lock().history)
    }
}

impl Platform for MemoryPlatform {
    async fn expose(&self, app: &Application) -> Result<String> {
        // Each call yields, as a call to a real platform would, so that the engine's other tasks (the stop signal)
        // run between steps as they do in production.
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        let address = format!("memory:{}", app.name);
        if !inner.addresses.iter().any(|(name, _)| *name == app.name) {
            inner.addresses.push((app.name.clone(), address.clone()));
        }
        Ok(address)
    }

    fn address(&self, app: &str) -> Option<String> {
        self.lock()
            .addresses
            .iter()
            .find(|(name, _)| name == app)
            .map(|(_, address)| address.clone())
    }

    async fn start_replica(&self, app: &Application, release: &Release) -> Result<String> {
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        let script = inner
            .scripts
            .get(&(app.name.clone(), release.version.clone()))
            .copied()
            .unwrap_or(Script::ReadyAfter(1));
        if script == Script::FailsToStart {
            return Err(PlatformError::Spawn {
                app: app.name.clone(),
                command: "memory".into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "scripted to fail"),
            });
        }
        inner.number += 1;
        let id = format!("{}-{}", app.name, inner.number);
        inner.replicas.push(Row {
            replica: Replica {
                id: id.clone(),
                app: app.name.clone(),
                version: release.version.clone(),
                config: release.config_digest(),
                state: ReplicaState::Starting,
                node: Some("memory".into()),
                reason: ReplicaState::Starting.reason(None),
            },
            script,
            checks: 0,
        });
        inner.record();
        Ok(id)
    }

    async fn health(&self, replica: &str, path: &str) -> Health {
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        let Ok(row) = inner.row(replica) else {
            return Health::Exited(format!("replica {replica} is not running"));
        };
        if let ReplicaState::Exited(how) = &row.replica.state {
            return Health::Exited(how.clone());
        }
        row.checks += 1;
        let not_ready = Health::NotReady(format!("{path} answered 503 Service Unavailable"));
        match row.script {
            Script::ReadyAfter(n) if row.checks >= n => Health::Ready,
            Script::CrashesAfterReady => Health::Ready,
            Script::ExitsBeforeReady(n) if row.checks >= n => {
                let exited = ReplicaState::Exited(EXIT.into());
                row.replica.reason = exited.reason(None);
                row.replica.state = exited;
                inner.record();
                Health::Exited(EXIT.into())
            }
            _ => not_ready,
        }
    }

    async fn route_in(&self, replica: &str) -> Result<()> {
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        inner.set_state(replica, ReplicaState::Ready)?;
        if inner.row(replica)?.script == Script::CrashesAfterReady {
            inner.set_state(replica, ReplicaState::Exited(EXIT.into()))?;
        }
        Ok(())
    }

    async fn drain_and_stop(&self, replica: &str, _grace: Duration) -> Result<()> {
        tokio::task::yield_now().await;
        let mut inner = self.lock();
        if !matches!(inner.row(replica)?.replica.state, ReplicaState::Exited(_)) {
            inner.set_state(replica, ReplicaState::Draining)?;
        }
        inner.replicas.retain(|r| r.replica.id != replica);
        inner.record();
        Ok(())
    }

    fn replicas(&self) -> Vec<Replica> {
        self.lock()
            .replicas
            .iter()
            .map(|r| r.replica.clone())
            .collect()
    }

    async fn adopt(&self) -> Result<Adoption> {
        // Nothing is lost in memory: every replica is taken back as it is.
        Ok(Adoption {
            adopted: self.replicas().into_iter().map(|r| r.id).collect(),
            ..Adoption::default()
        })
    }

    async fn hold_repairs(&self) -> Result<RepairHold> {
        // Nothing here restarts a replica by itself.
        Ok(RepairHold::nothing())
    }

    async fn shutdown(&self, _grace: Duration) {
        let mut inner = self.lock();
        inner.replicas.clear();
        inner.record();
    }
}
