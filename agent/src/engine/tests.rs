//! The engine's logic on the in-memory platform: plans, order, rollback, force stop and retry, downtime, and the
//! progress it reports, checked at every change of the replica table. The clock is paused (readiness timeouts pass
//! at once), so each test takes milliseconds; `agent/tests/engine/` runs the same scenarios with real processes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::api::{Availability, UpgradeMode};
use shared::manifest::Manifest;
use tokio::sync::watch;

use super::rolling::RollingPlan;
use super::steps::StepRunner;
use super::{
    Deployment, Engine, Failure, Halt, Level, LimitBreach, LimitKind, RunOutcome, StepStatus,
    UpgradeEngine, UpgradeEvents, UpgradeJob,
};
use crate::platform::memory::{EXIT, MemoryPlatform, Script};
use crate::platform::{Platform, PlatformError, Release, Replica, ReplicaState};

const V1: &str = "V1.0.0.1";
const V2: &str = "V1.0.0.2";

/// Three applications listed against their dependency order (store ← catalog ← portal), so that following the
/// manifest's order would show.
fn manifest(version: &str) -> Manifest {
    let app = |name: &str, replicas: u32, depends: &str| {
        format!(
            "  - {{name: {name}, replicas: {replicas}, rolling: true, dependsOn: [{depends}], \
             readiness: {{path: /healthz, timeoutSeconds: 5}}}}\n"
        )
    };
    let yaml = format!(
        "version: {version}\nproduct: p\napplications:\n{}{}{}",
        app("portal", 1, "catalog"),
        app("catalog", 2, "store"),
        app("store", 2, "")
    );
    serde_norway::from_str(&yaml).expect("test manifest")
}

fn deployment(version: &str) -> Deployment {
    Deployment {
        manifest: manifest(version),
        values: format!("release: {version}\n"),
    }
}

/// One step as the records side would store it.
#[derive(Debug, Clone)]
struct Step {
    app: String,
    action: String,
    status: Option<StepStatus>,
    message: String,
}

#[derive(Debug, Default, Clone)]
struct Recorded {
    logs: Vec<String>,
    steps: Vec<Step>,
    planned: u32,
    /// Steps begun beyond the plan: (step number, total planned then), i.e. progress reading "28 of 27".
    over_plan: Vec<(usize, u32)>,
    availability: Option<Availability>,
}

type StopWhen = Box<dyn Fn(&Step) -> bool + Send + Sync>;

/// The records side, in memory; it can play an operator who forces a stop once a step matching `stop_when` ends.
#[derive(Default)]
struct Recorder {
    recorded: Mutex<Recorded>,
    stop_when: Option<(StopWhen, watch::Sender<bool>)>,
}

impl Recorder {
    fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    fn stopping(when: StopWhen, stop: watch::Sender<bool>) -> Arc<Recorder> {
        Arc::new(Recorder {
            recorded: Mutex::default(),
            stop_when: Some((when, stop)),
        })
    }

    fn recorded(&self) -> Recorded {
        self.recorded.lock().unwrap().clone()
    }
}

impl UpgradeEvents for Recorder {
    fn log(&self, _level: Level, _app: Option<&str>, message: &str) {
        self.recorded.lock().unwrap().logs.push(message.into());
    }

    fn plan(&self, total: u32) {
        self.recorded.lock().unwrap().planned = total;
    }

    fn step_started(&self, app: &str, _replica: Option<&str>, action: &str, message: &str) -> u32 {
        let mut recorded = self.recorded.lock().unwrap();
        recorded.steps.push(Step {
            app: app.into(),
            action: action.into(),
            status: None,
            message: message.into(),
        });
        let seq = recorded.steps.len();
        if seq as u32 > recorded.planned {
            let planned = recorded.planned;
            recorded.over_plan.push((seq, planned));
        }
        seq as u32
    }

    fn step_finished(&self, seq: u32, status: StepStatus, message: &str) {
        let step = {
            let mut recorded = self.recorded.lock().unwrap();
            let step = &mut recorded.steps[seq as usize - 1];
            step.status = Some(status);
            step.message = message.into();
            step.clone()
        };
        if let Some((when, stop)) = &self.stop_when
            && when(&step)
        {
            stop.send_replace(true);
        }
    }

    fn availability(&self, measured: &Availability) {
        self.recorded.lock().unwrap().availability = Some(measured.clone());
    }
}

/// An engine on `platform` running V1, its start-up left out of the platform's history.
async fn running_v1(platform: &MemoryPlatform) -> UpgradeEngine<MemoryPlatform> {
    let engine = UpgradeEngine::new(platform.clone());
    engine.start(&deployment(V1)).await.expect("V1 starts");
    platform.take_history();
    engine
}

async fn upgrade(
    engine: &UpgradeEngine<MemoryPlatform>,
    id: i64,
    mode: UpgradeMode,
    events: &Arc<Recorder>,
    stop: watch::Receiver<bool>,
) -> RunOutcome {
    let job = UpgradeJob {
        id,
        mode,
        from: deployment(V1),
        to: deployment(V2),
        resuming: false,
    };
    engine.run(job, events.clone(), stop).await
}

/// What a run's steps touched, in order: (application, action).
fn steps_of(recorded: &Recorded) -> Vec<(&str, &str)> {
    recorded
        .steps
        .iter()
        .map(|s| (s.app.as_str(), s.action.as_str()))
        .collect()
}

fn ready(replicas: &[Replica], app: &str) -> usize {
    replicas
        .iter()
        .filter(|r| r.app == app && r.state == ReplicaState::Ready)
        .count()
}

/// Every application of the manifest had its ready replicas in every state the platform went through.
fn assert_never_short(history: &[Vec<Replica>]) {
    assert!(!history.is_empty(), "the platform changed during the run");
    for (i, replicas) in history.iter().enumerate() {
        for app in &manifest(V1).applications {
            assert!(
                ready(replicas, &app.name) >= app.replicas as usize,
                "change {i}: {} has fewer than {} ready replicas: {replicas:?}",
                app.name,
                app.replicas
            );
        }
    }
}

/// Exactly the desired ready replicas on `version`, and nothing else.
fn assert_all_on(platform: &MemoryPlatform, version: &str) {
    let replicas = platform.replicas();
    for app in &manifest(version).applications {
        assert_eq!(
            ready(&replicas, &app.name),
            app.replicas as usize,
            "{}: {replicas:?}",
            app.name
        );
    }
    assert!(
        replicas
            .iter()
            .all(|r| r.version == version && r.state == ReplicaState::Ready),
        "not all on {version}: {replicas:?}"
    );
}

fn assert_within_plan(recorded: &Recorded) {
    assert!(
        recorded.over_plan.is_empty(),
        "steps begun beyond the plan (step, planned): {:?}; steps: {:?}",
        recorded.over_plan,
        steps_of(recorded)
    );
}

fn no_stop() -> (watch::Sender<bool>, watch::Receiver<bool>) {
    watch::channel(false)
}

#[tokio::test(start_paused = true)]
async fn rolling_goes_in_dependency_order_replica_by_replica_never_below_the_ready_count() {
    let platform = MemoryPlatform::new();
    for app in ["store", "catalog", "portal"] {
        platform.script(app, V2, Script::ReadyAfter(3));
    }
    let engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::ZeroDowntime, &events, stop).await;

    let recorded = events.recorded();
    assert!(matches!(outcome, RunOutcome::Succeeded), "{outcome:?}");
    let pair = |app| [(app, "start"), (app, "drain")];
    let expected: Vec<(&str, &str)> = [
        pair("store"),
        pair("store"),
        pair("catalog"),
        pair("catalog"),
        pair("portal"),
    ]
    .concat();
    assert_eq!(steps_of(&recorded), expected);
    assert_eq!(recorded.planned, 10, "the plan counted every step");
    assert_within_plan(&recorded);
    assert_never_short(&platform.take_history());
    assert_all_on(&platform, V2);
}

#[tokio::test(start_paused = true)]
async fn a_never_ready_replica_rolls_the_touched_applications_back_last_first() {
    let platform = MemoryPlatform::new();
    platform.script("catalog", V2, Script::NeverReady);
    let engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::ZeroDowntime, &events, stop).await;

    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!("expected a rollback, got {outcome:?}");
    };
    let Failure::NotReady {
        app,
        replica,
        version,
        within,
        last_check,
    } = failure
    else {
        panic!("expected not ready, got {failure:?}");
    };
    assert_eq!(
        (app.as_str(), version.as_str(), *within, last_check.as_str()),
        (
            "catalog",
            V2,
            5,
            "/healthz answered 503 Service Unavailable"
        )
    );
    assert_eq!(
        failure.to_string(),
        format!(
            "catalog: replica {replica} ({V2}) did not become ready within 5 s \
             (last check: /healthz answered 503 Service Unavailable)"
        )
    );
    let recorded = events.recorded();
    let failed = recorded
        .steps
        .iter()
        .position(|s| s.status == Some(StepStatus::Failed))
        .expect("a failed step");
    assert_eq!(steps_of(&recorded)[failed], ("catalog", "start"));
    // Back, last touched first: catalog (its old replicas never left), then store; portal was never touched.
    let after: Vec<(&str, &str)> = steps_of(&recorded)[failed + 1..].to_vec();
    assert_eq!(
        after,
        [
            ("catalog", "skip"),
            ("store", "start"),
            ("store", "drain"),
            ("store", "start"),
            ("store", "drain"),
        ]
    );
    assert_within_plan(&recorded);
    assert_never_short(&platform.take_history());
    assert_all_on(&platform, V1);
}

#[tokio::test(start_paused = true)]
async fn force_stop_takes_effect_between_replica_steps_and_retry_skips_what_is_on_target() {
    let platform = MemoryPlatform::new();
    let engine = running_v1(&platform).await;
    let (stop_tx, stop) = watch::channel(false);
    let first_catalog_start: StopWhen = Box::new(|step: &Step| {
        step.app == "catalog" && step.action == "start" && step.status == Some(StepStatus::Done)
    });
    let events = Recorder::stopping(first_catalog_start, stop_tx);

    let outcome = upgrade(&engine, 1, UpgradeMode::ZeroDowntime, &events, stop).await;

    assert!(matches!(outcome, RunOutcome::Stopped), "{outcome:?}");
    let recorded = events.recorded();
    assert!(
        recorded.logs.iter().any(|l| l
            == "force stop asked by an operator: the upgrade stops after the current replica step"),
        "{:?}",
        recorded.logs
    );
    // The replica step that was going on finished (the new catalog replica in, an old one out), then nothing.
    assert_eq!(
        steps_of(&recorded).last(),
        Some(&("catalog", "drain")),
        "{:?}",
        steps_of(&recorded)
    );
    let replicas = platform.replicas();
    let on = |app: &str, version: &str| {
        replicas
            .iter()
            .filter(|r| r.app == app && r.version == version && r.state == ReplicaState::Ready)
            .count()
    };
    assert_eq!(
        [
            on("store", V2),
            on("catalog", V2),
            on("catalog", V1),
            on("portal", V1)
        ],
        [2, 1, 1, 1],
        "{replicas:?}"
    );
    assert_within_plan(&recorded);

    let retry = Recorder::new();
    let (_keep, stop) = no_stop();
    let outcome = upgrade(&engine, 2, UpgradeMode::ZeroDowntime, &retry, stop).await;

    assert!(matches!(outcome, RunOutcome::Succeeded), "{outcome:?}");
    let recorded = retry.recorded();
    let skipped: Vec<&str> = recorded
        .steps
        .iter()
        .filter(|s| s.status == Some(StepStatus::Skipped))
        .map(|s| s.message.as_str())
        .collect();
    assert_eq!(
        skipped,
        [
            format!("store: 2 of 2 replicas already run {V2}, skipped"),
            format!("catalog: 1 of 2 replicas already run {V2}, skipped"),
        ]
    );
    assert_eq!(
        steps_of(&recorded),
        [
            ("store", "skip"),
            ("catalog", "skip"),
            ("catalog", "start"),
            ("catalog", "drain"),
            ("portal", "start"),
            ("portal", "drain"),
        ]
    );
    assert_eq!(recorded.planned, 6, "the skip steps are planned too");
    assert_within_plan(&recorded);
    assert_never_short(&platform.take_history());
    assert_all_on(&platform, V2);
}

#[tokio::test(start_paused = true)]
async fn downtime_stops_in_reverse_dependency_order_and_starts_in_order() {
    let platform = MemoryPlatform::new();
    let engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::Downtime, &events, stop).await;

    assert!(matches!(outcome, RunOutcome::Succeeded), "{outcome:?}");
    let recorded = events.recorded();
    assert_eq!(
        steps_of(&recorded),
        [
            ("portal", "drain"),
            ("catalog", "drain"),
            ("catalog", "drain"),
            ("store", "drain"),
            ("store", "drain"),
            ("store", "start"),
            ("store", "start"),
            ("catalog", "start"),
            ("catalog", "start"),
            ("portal", "start"),
        ]
    );
    assert_eq!(recorded.planned, 10);
    assert_within_plan(&recorded);
    assert!(
        recorded
            .availability
            .is_some_and(|a| a.downtime_seconds.is_some()),
        "the downtime is reported"
    );
    assert!(
        recorded
            .logs
            .iter()
            .any(|l| l.starts_with(&format!("every application runs {V2} again after"))),
        "{:?}",
        recorded.logs
    );
    assert_all_on(&platform, V2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_downtime_upgrade_stops_what_started_and_brings_the_old_version_back() {
    let platform = MemoryPlatform::new();
    platform.script("catalog", V2, Script::ExitsBeforeReady(2));
    let engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::Downtime, &events, stop).await;

    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!("expected a rollback, got {outcome:?}");
    };
    assert!(
        matches!(failure, Failure::ExitedBeforeReady { app, version, how, .. }
            if app == "catalog" && version == V2 && how == EXIT),
        "{failure:?}"
    );
    let reason = failure.to_string();
    assert!(
        reason.starts_with("catalog: replica catalog-")
            && reason.contains(&format!("({V2}) {EXIT} after "))
            && reason.ends_with(" s, before becoming ready"),
        "{reason}"
    );
    let recorded = events.recorded();
    let failed: Vec<(&str, &str)> = recorded
        .steps
        .iter()
        .filter(|s| s.status == Some(StepStatus::Failed))
        .map(|s| (s.app.as_str(), s.action.as_str()))
        .collect();
    assert_eq!(failed, [("catalog", "start"), ("catalog", "start")]);
    // After the failure: the V2 store replicas stopped, then V1 started in dependency order.
    let last_failed = recorded
        .steps
        .iter()
        .rposition(|s| s.status == Some(StepStatus::Failed))
        .unwrap();
    assert_eq!(
        steps_of(&recorded)[last_failed + 1..],
        [
            ("store", "drain"),
            ("store", "drain"),
            ("store", "start"),
            ("store", "start"),
            ("catalog", "start"),
            ("catalog", "start"),
            ("portal", "start"),
        ]
    );
    assert_within_plan(&recorded);
    assert_all_on(&platform, V1);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_ready_fails_the_run_and_progress_never_passes_the_plan() {
    let platform = MemoryPlatform::new();
    // The last application, one replica: its crash is noticed after the last planned step.
    platform.script("portal", V2, Script::CrashesAfterReady);
    let engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::ZeroDowntime, &events, stop).await;

    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!("expected a rollback, got {outcome:?}");
    };
    let Failure::CrashedAfterReady {
        app,
        replica,
        version,
        how,
    } = failure
    else {
        panic!("expected a crash after ready, got {failure:?}");
    };
    assert_eq!(
        (app.as_str(), version.as_str(), how.as_str()),
        ("portal", V2, EXIT)
    );
    assert_eq!(
        failure.to_string(),
        format!("portal: replica {replica} ({V2}) {EXIT} after becoming ready")
    );
    let recorded = events.recorded();
    assert!(
        recorded
            .steps
            .iter()
            .any(|s| s.app == "portal" && s.action == "remove"),
        "the crashed replica is removed as a step: {:?}",
        steps_of(&recorded)
    );
    assert_within_plan(&recorded);
    assert_all_on(&platform, V1);
}

#[tokio::test(start_paused = true)]
async fn a_replica_the_platform_cannot_start_fails_the_run_with_the_platforms_error() {
    let platform = MemoryPlatform::new();
    platform.script("store", V2, Script::FailsToStart);
    let engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::ZeroDowntime, &events, stop).await;

    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!("expected a rollback, got {outcome:?}");
    };
    assert!(
        matches!(failure, Failure::StartFailed { app, version, source }
            if app == "store" && version == V2 && matches!(**source, PlatformError::Spawn { .. })),
        "{failure:?}"
    );
    assert_eq!(
        failure.to_string(),
        "store: cannot start a replica of store with `memory`: scripted to fail"
    );
    assert_within_plan(&events.recorded());
    assert_all_on(&platform, V1);
}

#[tokio::test(start_paused = true)]
async fn a_rollback_that_fails_too_fails_the_run_naming_both_reasons() {
    let platform = MemoryPlatform::new();
    platform.script("catalog", V2, Script::NeverReady);
    let engine = running_v1(&platform).await;
    // From now on, V1 store replicas cannot be started: the way back is blocked.
    platform.script("store", V1, Script::FailsToStart);
    let events = Recorder::new();
    let (_keep, stop) = no_stop();

    let outcome = upgrade(&engine, 1, UpgradeMode::ZeroDowntime, &events, stop).await;

    let RunOutcome::Failed(failure) = &outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    let Failure::Rollback { first, then } = failure else {
        panic!("expected a failed rollback, got {failure:?}");
    };
    assert!(
        matches!(**first, Failure::NotReady { ref app, .. } if app == "catalog"),
        "{first:?}"
    );
    assert!(
        matches!(**then, Failure::StartFailed { ref app, ref version, .. } if app == "store" && version == V1),
        "{then:?}"
    );
    assert_eq!(
        failure.to_string(),
        format!("{first}; the rollback failed too: {then}")
    );
    assert_within_plan(&events.recorded());
    // The rollback stopped where it failed: store still runs V2, ready, so the product still answers.
    assert_eq!(ready(&platform.replicas(), "store"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_probe_over_its_limit_stops_the_rolling_plan_before_its_next_replica() {
    let platform = MemoryPlatform::new();
    let _engine = running_v1(&platform).await;
    let events = Recorder::new();
    let (cross, gate) = watch::channel(None);
    let steps =
        StepRunner::new(&platform, events.as_ref(), None, Duration::from_secs(1)).gated(gate);
    let plan = RollingPlan { steps: &steps };
    let to = deployment(V2);
    let release = Release {
        version: V2.into(),
        values: to.values.clone(),
    };
    let store = &to.manifest.applications[2];
    assert_eq!(store.name, "store");
    // The first store replica moves; then a probe crosses its limit (as the probes' window would report it).
    let first = steps.start_ready(store, &release).await.unwrap();
    let breach = LimitBreach {
        probe: "catalog-query".into(),
        kind: LimitKind::ErrorRatio,
        measured: 0.25,
        limit: 0.05,
        window_seconds: 30,
        calls: 40,
    };
    cross.send_replace(Some(breach.clone()));
    let mut touched = Vec::new();

    let halted = plan.run(&to.manifest, &release, &mut touched).await;

    let Err(Halt::Failed(Failure::ProbeLimit(seen))) = halted else {
        panic!("expected the probe's limit, got {halted:?}");
    };
    assert_eq!(seen, breach);
    assert_eq!(
        touched,
        ["store"],
        "no application after the one in progress"
    );
    let recorded = events.recorded();
    // The plan notes the replica already moved (`skip`), then starts and drains nothing more.
    assert_eq!(
        steps_of(&recorded),
        [("store", "start"), ("store", "skip")],
        "no further replica was started or drained"
    );
    assert!(
        recorded.logs.iter().any(|l| l
            == "store: no further replica is moved: probe `catalog-query`: error ratio 0.250 over the last 30 s \
                (40 calls) crossed its limit errorRatio 0.05"),
        "{:?}",
        recorded.logs
    );
    let replicas = platform.replicas();
    assert_eq!(ready(&replicas, "store"), 3, "{replicas:?}");
    assert!(replicas.iter().any(|r| r.id == first && r.version == V2));
}
