//! The upgrade engine with real demo-product processes on the local platform, driven through the `Engine` trait:
//! rolling under load, downtime, rollback, crash, force stop and retry, restart after SIGKILL, and the benchmark.

#[path = "../common/load.rs"]
mod load;
mod second_product;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::engine::{Failure, Level, LimitKind, RunOutcome, StepStatus, UpgradeJob};
use load::{Load, percentiles, unfinished_jobs};
use shared::api::UpgradeMode;
use support::*;
use tokio::sync::watch;

const RATE: u32 = 200;

fn no_stop() -> watch::Receiver<bool> {
    watch::channel(false).1
}

async fn version_at(address: &str) -> serde_json::Value {
    reqwest::get(format!("{address}/version"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_upgrade_under_load_fails_no_request_and_keeps_every_job() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    cluster.engine.start(&from).await.unwrap();
    assert_all_on(&cluster.engine, "V5.1.2.02");
    let (ds, web) = (cluster.address("dataservice"), cluster.address("web"));

    let load = Load::start(ds.clone(), web.clone(), RATE);
    let shortfalls = Shortfalls::watch(cluster.engine.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        1,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let shortfalls = shortfalls.finish().await;
    assert!(
        shortfalls.is_empty(),
        "short of ready replicas: {shortfalls:?}"
    );
    let load = load.finish().await;

    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        events.log_text()
    );
    assert!(
        load.requests > 500,
        "the load ran ({} requests)",
        load.requests
    );
    assert!(
        load.failures.is_empty(),
        "{} failed requests: {:?}",
        load.failures.len(),
        &load.failures[..load.failures.len().min(10)]
    );
    assert!(!load.jobs.is_empty());
    let unfinished = unfinished_jobs(&ds, &load.jobs).await;
    assert!(
        unfinished.is_empty(),
        "jobs without a result: {unfinished:?}"
    );
    assert_all_on(&cluster.engine, "V5.1.2.04");
    let answer = version_at(&ds).await;
    assert_eq!(answer["version"], "V5.1.2.04");
    assert_eq!(answer["greeting"], "Welcome to Dataphin 5.1.2.04");

    {
        let recorded = events.snapshot();
        // 7 replicas, each started then one old drained, in dependency order.
        let starts: Vec<&str> = recorded
            .steps
            .iter()
            .filter(|s| s.action == "start")
            .map(|s| s.app.as_str())
            .collect();
        assert_eq!(
            starts,
            [
                "metadata",
                "metadata",
                "dataservice",
                "dataservice",
                "dataservice",
                "web",
                "web"
            ]
        );
        assert_eq!(
            recorded
                .steps
                .iter()
                .filter(|s| s.action == "drain")
                .count(),
            7
        );
        assert_eq!(recorded.planned, 14);
        assert!(
            recorded
                .steps
                .iter()
                .all(|s| s.status == Some(StepStatus::Done))
        );
        assert!(
            recorded
                .steps
                .iter()
                .all(|s| s.replica.as_deref().is_some_and(|r| r.starts_with(&s.app))),
            "every step names its replica"
        );
        let first_start = &recorded.steps[0];
        assert!(
            first_start.message.contains("(V5.1.2.04) ready in"),
            "{}",
            first_start.message
        );
        let availability = recorded.availability.clone().expect("the probe reported");
        assert!(availability.calls > 10, "{availability:?}");
        assert_eq!(availability.failures, 0, "{availability:?}");
        assert_eq!(availability.success_ratio, Some(1.0));
        // Every probe V5.1.2.04 declares made calls, none failed, and together they make the total.
        let probes: Vec<(&str, &str)> = availability
            .probes
            .iter()
            .map(|p| (p.name.as_str(), p.kind.as_str()))
            .collect();
        assert_eq!(
            probes,
            [
                ("dataservice-query", "http"),
                ("dataservice-job", "job"),
                ("web-logon", "logon")
            ]
        );
        assert!(
            availability
                .probes
                .iter()
                .all(|p| p.calls > 0 && p.failures == 0 && p.success_ratio == Some(1.0)),
            "{availability:?}"
        );
        assert_eq!(
            availability.probes.iter().map(|p| p.calls).sum::<u64>(),
            availability.calls
        );
        assert!(
            !recorded
                .logs
                .iter()
                .any(|(_, _, m)| m.contains("dataphin-demo")),
            "the logon's password is never logged"
        );
    }

    let dir = cluster.platform_dir();
    assert_eq!(marked_processes(&dir).len(), 7);
    cluster.engine.shutdown().await;
    assert_eq!(
        marked_processes(&dir).len(),
        7,
        "the product keeps running after the agent's shutdown"
    );
    assert_eq!(version_at(&ds).await["version"], "V5.1.2.04");
    stop_product(&cluster.config.data_dir).await;
    assert!(
        marked_processes(&dir).is_empty(),
        "replicas outlived stop-product"
    );
    assert!(
        reqwest::get(format!("{ds}/version")).await.is_err(),
        "the stable address is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_without_probes_makes_no_call_and_says_so() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let mut to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    to.manifest.probes.clear();
    cluster.engine.start(&from).await.unwrap();
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        1,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    assert!(matches!(outcome, RunOutcome::Succeeded), "{outcome:?}");
    let availability = events
        .snapshot()
        .availability
        .clone()
        .expect("the record holds what was (not) measured");
    assert_eq!(
        (
            availability.calls,
            availability.success_ratio,
            availability.probes.len()
        ),
        (0, None, 0),
        "{availability:?}"
    );
    assert_eq!(
        availability.no_call_reason(),
        Some("no availability probe declared")
    );
    let log = events.log_text();
    assert!(
        log.contains("warn [-] no availability probe declared")
            && log.contains("availability during the upgrade: no availability probe declared"),
        "{log}"
    );
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_probe_whose_endpoint_fails_is_counted_and_named() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let mut to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    let missing: shared::probes::Probe = serde_norway::from_str(
        "{ name: reports, rate: 10, http: { application: dataservice, method: GET, path: /api/reports } }",
    )
    .unwrap();
    to.manifest.probes.push(missing);
    cluster.engine.start(&from).await.unwrap();
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        1,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    // A probe without limits is measured, it does not stop the upgrade.
    assert!(matches!(outcome, RunOutcome::Succeeded), "{outcome:?}");
    let availability = events.snapshot().availability.clone().unwrap();
    let reports = availability
        .probes
        .iter()
        .find(|p| p.name == "reports")
        .expect("the failing probe is in the record");
    assert!(reports.calls > 5, "{reports:?}");
    assert_eq!(reports.failures, reports.calls, "{reports:?}");
    assert_eq!(reports.success_ratio, Some(0.0));
    assert_eq!(
        reports.first_failures,
        ["GET /api/reports answered 404, expected 200"]
    );
    // Its calls over time: 1 s buckets that hold every call and every failure.
    let series = &reports.series;
    assert_eq!(series.bucket_seconds, 1);
    assert!(series.points.len() >= 2, "{series:?}");
    let sum = |f: fn(&shared::api::SeriesPoint) -> u32| -> u64 {
        series.points.iter().map(|p| u64::from(f(p))).sum()
    };
    assert_eq!(
        (sum(|p| p.calls), sum(|p| p.failures)),
        (reports.calls, reports.failures)
    );
    let others: Vec<_> = availability
        .probes
        .iter()
        .filter(|p| p.name != "reports")
        .collect();
    assert_eq!(others.len(), 3);
    assert!(
        others.iter().all(|p| p.calls > 0 && p.failures == 0),
        "{others:?}"
    );
    assert_eq!(availability.failures, reports.failures);
    let log = events.log_text();
    assert!(
        log.contains(&format!(
            "probe `reports`: {0} of {0} calls failed, first: GET /api/reports answered 404",
            reports.calls
        )),
        "{log}"
    );
    cluster.engine.shutdown().await;
}

/// V5.1.2.02 → V5.1.2.04 where the new DataService replicas have `faults` (their readiness still passes, and they
/// take 2 s to become ready, so that the probes see them serve before the next one starts) and the
/// `dataservice-query` probe has `limits`: the rolling upgrade must stop before `web` and roll back without
/// downtime, naming the probe, the measure, the limit and the window.
async fn gated_rollout(faults: &str, limits: &str) -> (Failure, Arc<RecordingEvents>) {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let mut to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    to.values = to
        .values
        .replace("startupMillis: 300", "startupMillis: 2000")
        + &format!("faults: {faults}\n");
    let query = to
        .manifest
        .probes
        .iter_mut()
        .find(|p| p.name == "dataservice-query")
        .expect("the demo declares dataservice-query");
    query.limits = Some(serde_norway::from_str(limits).unwrap());
    cluster.engine.start(&from).await.unwrap();
    let shortfalls = Shortfalls::watch(cluster.engine.clone());
    let events = Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        1,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    let shortfalls = shortfalls.finish().await;

    let RunOutcome::RolledBack(failure) = outcome else {
        panic!(
            "expected a rollback, got {outcome:?}; log:\n{}",
            events.log_text()
        );
    };
    assert!(
        shortfalls.is_empty(),
        "short of ready replicas: {shortfalls:?}"
    );
    assert_all_on(&cluster.engine, "V5.1.2.02");
    let log = events.log_text();
    {
        let recorded = events.snapshot();
        // The rollback notes that web still runs the old version (`skip`); nothing started or drained it.
        assert!(
            recorded
                .steps
                .iter()
                .all(|s| s.app != "web" || s.action == "skip"),
            "web was never moved: {:?}",
            recorded.steps
        );
        let reason = failure.to_string();
        assert!(
            recorded
                .logs
                .iter()
                .any(|(level, app, m)| *level == Level::Error
                    && app.as_deref().is_some_and(|app| {
                        *m == format!("{app}: no further replica is moved: {reason}")
                    })),
            "{log}"
        );
        assert!(
            recorded
                .logs
                .iter()
                .any(|(level, _, m)| *level == Level::Error
                    && *m == format!("rolling back to V5.1.2.02: {reason}")),
            "{log}"
        );
    }
    cluster.engine.shutdown().await;
    (failure, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_release_answering_errors_is_rolled_back_once_its_probe_crosses_the_error_limit() {
    let (failure, events) = gated_rollout(
        "{errorRatio: {dataservice: 0.5}}",
        "{errorRatio: 0.05, windowSeconds: 10}",
    )
    .await;

    let Failure::ProbeLimit(breach) = &failure else {
        panic!("expected the probe's limit, got {failure:?}");
    };
    assert_eq!(
        (
            &*breach.probe,
            breach.kind,
            breach.limit,
            breach.window_seconds
        ),
        ("dataservice-query", LimitKind::ErrorRatio, 0.05, 10)
    );
    assert!(breach.measured > 0.05 && breach.calls >= 20, "{breach:?}");
    let reason = failure.to_string();
    assert!(
        reason.starts_with("probe `dataservice-query`: error ratio 0.")
            && reason.ends_with("crossed its limit errorRatio 0.05")
            && reason.contains(" over the last 10 s ("),
        "{reason}"
    );
    let availability = events.snapshot().availability.clone().unwrap();
    let query = availability
        .probes
        .iter()
        .find(|p| p.name == "dataservice-query")
        .unwrap();
    assert!(query.failures >= 2, "{query:?}");
    assert_eq!(
        query.first_failures,
        ["GET /api/query?q=probe answered 500, expected 200"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_release_is_rolled_back_once_its_probe_crosses_the_p99_limit() {
    let (failure, _events) = gated_rollout(
        "{slowMillis: {dataservice: 600}}",
        "{p99Ms: 300, windowSeconds: 20}",
    )
    .await;

    let Failure::ProbeLimit(breach) = &failure else {
        panic!("expected the probe's limit, got {failure:?}");
    };
    assert_eq!(
        (
            &*breach.probe,
            breach.kind,
            breach.limit,
            breach.window_seconds
        ),
        ("dataservice-query", LimitKind::P99Ms, 300.0, 20)
    );
    assert!(breach.measured >= 600.0, "{breach:?}");
    let reason = failure.to_string();
    assert!(
        reason.starts_with("probe `dataservice-query`: p99 latency ")
            && reason.ends_with(" crossed its limit p99Ms 300"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn downtime_upgrade_stops_in_reverse_order_starts_in_order_and_measures_the_downtime() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.2.0.01", "standard-V5.2.0.01.yaml");
    cluster.engine.start(&from).await.unwrap();
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        2,
        UpgradeMode::Downtime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        events.log_text()
    );
    assert_all_on(&cluster.engine, "V5.2.0.01");
    assert_eq!(
        version_at(&cluster.address("web")).await["version"],
        "V5.2.0.01"
    );

    {
        let recorded = events.snapshot();
        let drains: Vec<&str> = recorded
            .steps
            .iter()
            .filter(|s| s.action == "drain")
            .map(|s| s.app.as_str())
            .collect();
        assert_eq!(
            drains,
            [
                "web",
                "web",
                "dataservice",
                "dataservice",
                "dataservice",
                "metadata",
                "metadata"
            ]
        );
        let starts: Vec<&str> = recorded
            .steps
            .iter()
            .filter(|s| s.action == "start")
            .map(|s| s.app.as_str())
            .collect();
        assert_eq!(
            starts,
            [
                "metadata",
                "metadata",
                "dataservice",
                "dataservice",
                "dataservice",
                "web",
                "web"
            ]
        );
        let downtime = recorded
            .availability
            .as_ref()
            .and_then(|a| a.downtime_seconds)
            .expect("downtime measured");
        assert!(downtime > 0.3 && downtime < 60.0, "{downtime}");
        assert!(
            recorded
                .logs
                .iter()
                .any(|(_, _, m)| m.contains("of downtime")),
            "the log states the downtime"
        );
    }
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_version_that_never_becomes_ready_is_rolled_back_without_a_failed_request() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let mut to = deployment("V5.1.2.04", "standard-V5.1.2.04-never-ready.yaml");
    for app in &mut to.manifest.applications {
        app.readiness.timeout_seconds = 3;
    }
    cluster.engine.start(&from).await.unwrap();
    let (ds, web) = (cluster.address("dataservice"), cluster.address("web"));
    let load = Load::start(ds.clone(), web, RATE);
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        3,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    let load = load.finish().await;

    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!(
            "expected a rollback, got {outcome:?}; log:\n{}",
            events.log_text()
        );
    };
    let reason = failure.to_string();
    assert!(
        matches!(failure, Failure::NotReady { app, within: 3, .. } if app == "dataservice"),
        "{failure:?}"
    );
    assert!(
        reason.starts_with("dataservice: replica dataservice-")
            && reason.contains("(V5.1.2.04) did not become ready within 3 s (last check: "),
        "{reason}"
    );
    assert!(
        load.failures.is_empty(),
        "failed requests: {:?}",
        &load.failures[..load.failures.len().min(10)]
    );
    assert!(unfinished_jobs(&ds, &load.jobs).await.is_empty());
    // metadata had moved to V5.1.2.04 and came back.
    assert_all_on(&cluster.engine, "V5.1.2.02");
    {
        let recorded = events.snapshot();
        assert!(
            recorded
                .steps
                .iter()
                .any(|s| s.app == "dataservice" && s.status == Some(StepStatus::Failed))
        );
        assert!(
            recorded
                .logs
                .iter()
                .any(|(l, _, m)| *l == Level::Error && m.starts_with("rolling back to V5.1.2.02"))
        );
    }
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_crashes_during_the_upgrade_is_noticed_and_rolled_back() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.1.2.04", "standard-V5.1.2.04-crash.yaml");
    cluster.engine.start(&from).await.unwrap();
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        4,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!(
            "expected a rollback, got {outcome:?}; log:\n{}",
            events.log_text()
        );
    };
    let reason = failure.to_string();
    assert!(
        reason.contains("web") && reason.contains("exited with status 3"),
        "{reason}"
    );
    assert_all_on(&cluster.engine, "V5.1.2.02");
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn force_stop_leaves_every_application_ready_and_retry_skips_what_is_done() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    cluster.engine.start(&from).await.unwrap();
    let (ds, web) = (cluster.address("dataservice"), cluster.address("web"));
    let load = Load::start(ds.clone(), web, RATE);

    let events = std::sync::Arc::new(RecordingEvents::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let run = {
        let (engine, events) = (cluster.engine.clone(), events.clone());
        let (from, to) = (from.clone(), to.clone());
        tokio::spawn(async move {
            upgrade(
                &engine,
                5,
                UpgradeMode::ZeroDowntime,
                &from,
                &to,
                &events,
                stop_rx,
            )
            .await
        })
    };
    // Stop once the first DataService replica runs the new version.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events.snapshot().steps.iter().any(|s| {
        s.app == "dataservice" && s.action == "start" && s.status == Some(StepStatus::Done)
    }) {
        assert!(Instant::now() < deadline, "no DataService replica started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop_tx.send(true).unwrap();
    let outcome = run.await.unwrap();
    assert!(
        matches!(outcome, RunOutcome::Stopped),
        "{outcome:?}; log:\n{}",
        events.log_text()
    );
    let apps = cluster.engine.applications();
    for app in &apps {
        assert!(
            app.replicas.iter().filter(|r| r.ready).count() as u32 >= app.desired_replicas,
            "{} is short of ready replicas: {:?}",
            app.name,
            app.replicas
        );
    }
    let ds_versions: Vec<&str> = apps[1]
        .replicas
        .iter()
        .map(|r| r.version.as_str())
        .collect();
    assert!(
        ds_versions.contains(&"V5.1.2.02") && ds_versions.contains(&"V5.1.2.04"),
        "{ds_versions:?}"
    );

    let retry = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        6,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &retry,
        no_stop(),
    )
    .await;
    let load = load.finish().await;
    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        retry.log_text()
    );
    assert_all_on(&cluster.engine, "V5.1.2.04");
    {
        let recorded = retry.snapshot();
        let skipped: Vec<&str> = recorded
            .steps
            .iter()
            .filter(|s| s.status == Some(StepStatus::Skipped))
            .map(|s| s.app.as_str())
            .collect();
        assert_eq!(skipped, ["metadata", "dataservice"]);
        assert!(
            !recorded
                .steps
                .iter()
                .any(|s| s.app == "metadata" && s.action == "start"),
            "metadata was done"
        );
    }
    assert!(
        load.failures.is_empty(),
        "failed requests: {:?}",
        &load.failures[..load.failures.len().min(10)]
    );
    assert!(unfinished_jobs(&ds, &load.jobs).await.is_empty());
    cluster.engine.shutdown().await;
}

/// Not a test on its own: the "agent" process that `an_agent_killed_mid_upgrade_resumes_and_leaves_no_orphan`
/// starts and kills. It runs only when that test sets `ENGINE_TEST_AGENT_DIR`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by an_agent_killed_mid_upgrade_resumes_and_leaves_no_orphan"]
async fn agent_process_for_the_kill_test() {
    let Ok(dir) = std::env::var("ENGINE_TEST_AGENT_DIR") else {
        return;
    };
    let base_port: u16 = std::env::var("ENGINE_TEST_BASE_PORT")
        .unwrap()
        .parse()
        .unwrap();
    let config = local_config(std::path::Path::new(&dir), base_port);
    let engine = Cluster::reopen(&config);
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    engine.start(&from).await.unwrap();
    println!("STARTED");
    let events = std::sync::Arc::new(RecordingEvents::default());
    let _ = upgrade(
        &engine,
        7,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    // Killed before it gets here.
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_killed_mid_upgrade_resumes_and_leaves_no_orphan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("platform")).unwrap();
    let _guard = ReplicaGuard(dir.path().join("platform").canonicalize().unwrap());
    let base_port = free_base_port();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "agent_process_for_the_kill_test",
            "--ignored",
            "--nocapture",
        ])
        .env("ENGINE_TEST_AGENT_DIR", dir.path())
        .env("ENGINE_TEST_BASE_PORT", base_port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it when the DataService is half way: one replica on the new version, the table says so.
    let table = dir.path().join("platform/replicas.json");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the agent process never reached the DataService"
        );
        if let Ok(text) = std::fs::read_to_string(&table)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && json["replicas"].as_array().is_some_and(|rs| {
                rs.iter()
                    .any(|r| r["app"] == "dataservice" && r["version"] == "V5.1.2.04")
            })
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let platform_dir = dir.path().join("platform").canonicalize().unwrap();
    let before: Vec<u32> = marked_processes(&platform_dir);
    assert!(!before.is_empty(), "the replicas outlive the killed agent");

    let config = local_config(dir.path(), base_port);
    let engine = Cluster::reopen(&config);
    let events = std::sync::Arc::new(RecordingEvents::default());
    let job = UpgradeJob {
        id: 7,
        mode: UpgradeMode::ZeroDowntime,
        from: deployment("V5.1.2.02", "values-V5.1.2.02.yaml"),
        to: deployment("V5.1.2.04", "standard-V5.1.2.04.yaml"),
        resuming: true,
    };
    let outcome = tokio::time::timeout(
        Duration::from_secs(180),
        engine.run(job, events.clone(), no_stop()),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        events.log_text()
    );
    assert_all_on(&engine, "V5.1.2.04");
    assert!(
        events.log_text().contains("after the restart: took back"),
        "{}",
        events.log_text()
    );
    // Exactly the replicas in the view run: nothing left over from before the kill.
    let running = marked_processes(&platform_dir);
    assert_eq!(
        running.len(),
        7,
        "processes: {running:?}; view: {:?}",
        engine.applications()
    );
    // The supervisor writes its table on its own thread: the last removal reaches the disk shortly after.
    let table_pids = || {
        let table: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
        let mut pids: Vec<u32> = table["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["pid"].as_u64().unwrap() as u32)
            .collect();
        pids.sort();
        pids
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while table_pids() != running && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(table_pids(), running);
    engine.shutdown().await;
    stop_product(dir.path()).await;
    assert!(marked_processes(&platform_dir).is_empty());
}

/// Item 8's measurement, not a pass/fail test: rolling upgrades' duration against their floor (the replicas'
/// start-to-ready times) plus drain time, and DataService query latency during the upgrades against before them.
/// Six upgrades back and forth (V5.1.2.02 ⇄ V5.1.2.04) under the 200 req/s mixed load, so that the "during" sample
/// is large enough for a p99. Rerun: `cargo build -p demo && cargo nextest run -p agent --test engine
/// --run-ignored ignored-only benchmark --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; run it by name"]
async fn benchmark_rolling_upgrade() {
    const UPGRADES: usize = 6;
    let cluster = Cluster::new();
    let old = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let new = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    cluster.engine.start(&old).await.unwrap();
    let (ds, web) = (cluster.address("dataservice"), cluster.address("web"));
    let load = Load::start(ds, web, RATE);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let first = Instant::now();
    let mut windows = Vec::new();
    let (mut took, mut floor, mut drains) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for i in 0..UPGRADES {
        let (from, to) = if i % 2 == 0 {
            (&old, &new)
        } else {
            (&new, &old)
        };
        let events = std::sync::Arc::new(RecordingEvents::default());
        let began = Instant::now();
        let outcome = upgrade(
            &cluster.engine,
            i as i64,
            UpgradeMode::ZeroDowntime,
            from,
            to,
            &events,
            no_stop(),
        )
        .await;
        let this = began.elapsed();
        assert!(matches!(outcome, RunOutcome::Succeeded), "{outcome:?}");
        windows.push((began, began + this));
        let recorded = events.snapshot();
        let sum = |action: &str| -> Duration {
            recorded
                .steps
                .iter()
                .filter(|s| s.action == action)
                .filter_map(|s| s.took)
                .sum()
        };
        let (f, d) = (sum("start"), sum("drain"));
        println!(
            "upgrade {} → {}: {:.2} s; floor {:.2} s; drains {:.2} s; over floor + drains {:+.1} %",
            from.manifest.version,
            to.manifest.version,
            this.as_secs_f64(),
            f.as_secs_f64(),
            d.as_secs_f64(),
            (this.as_secs_f64() / (f + d).as_secs_f64() - 1.0) * 100.0
        );
        (took, floor, drains) = (took + this, floor + f, drains + d);
    }
    let load = load.finish().await;
    let before: Vec<f64> = load
        .query_ms
        .iter()
        .filter(|(t, _)| *t < first)
        .map(|(_, ms)| *ms)
        .collect();
    let during: Vec<f64> = load
        .query_ms
        .iter()
        .filter(|(t, _)| windows.iter().any(|(a, b)| t >= a && t <= b))
        .map(|(_, ms)| *ms)
        .collect();
    let ((b50, b99, bn), (d50, d99, dn)) = (percentiles(before), percentiles(during));
    println!(
        "{UPGRADES} rolling upgrades of 7 replicas: {:.2} s in all; floor (sum of start-to-ready) {:.2} s; drains \
         {:.2} s; over floor + drains {:+.1} %",
        took.as_secs_f64(),
        floor.as_secs_f64(),
        drains.as_secs_f64(),
        (took.as_secs_f64() / (floor + drains).as_secs_f64() - 1.0) * 100.0
    );
    println!(
        "DataService query latency at {RATE} req/s mixed load: before p50 {b50:.2} ms p99 {b99:.2} ms ({bn} calls); \
         during p50 {d50:.2} ms p99 {d99:.2} ms ({dn} calls); p99 ratio {:.2}; failed requests {}",
        d99 / b99,
        load.failures.len()
    );
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_outside_an_upgrade_leaves_traffic_and_comes_back() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    cluster.engine.start(&from).await.unwrap();
    let (ds, web) = (cluster.address("dataservice"), cluster.address("web"));
    let table = cluster.config.data_dir.join("platform/replicas.json");
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(table).unwrap()).unwrap();
    let victim = table["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"] == "dataservice")
        .unwrap()
        .clone();
    let pid = nix::unistd::Pid::from_raw(victim["pid"].as_i64().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let apps = cluster.engine.applications();
        let replica = apps[1]
            .replicas
            .iter()
            .find(|r| r.id == victim["id"])
            .cloned();
        if replica
            .as_ref()
            .is_some_and(|r| r.state == "failed" && !r.ready)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the kill was not noticed: {replica:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The other two DataService replicas take every request while the supervisor starts it again.
    let load = Load::start(ds, web, RATE);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let apps = cluster.engine.applications();
        let replica = apps[1]
            .replicas
            .iter()
            .find(|r| r.id == victim["id"])
            .cloned();
        if replica
            .as_ref()
            .is_some_and(|r| r.state == "ready" && r.ready)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the killed replica did not come back: {replica:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Back in traffic: it answers through the stable address.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load = load.finish().await;
    assert!(load.requests > 200);
    assert!(
        load.failures.is_empty(),
        "failed requests: {:?}",
        &load.failures[..load.failures.len().min(10)]
    );
    let platform_dir = cluster.platform_dir();
    let table: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(platform_dir.join("replicas.json")).unwrap())
            .unwrap();
    let again = table["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == victim["id"])
        .unwrap()
        .clone();
    assert_ne!(again["pid"], victim["pid"], "a new process");
    assert!(marked_processes(&platform_dir).contains(&(again["pid"].as_u64().unwrap() as u32)));
    let http = reqwest::Client::new();
    let mut answered_by = std::collections::HashSet::new();
    for i in 0..30 {
        let body: serde_json::Value = http
            .get(format!(
                "{}/api/query?q=back{i}",
                cluster.address("dataservice")
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answered_by.insert(body["replica"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        answered_by.contains(victim["id"].as_str().unwrap()),
        "{answered_by:?}"
    );
    let log = std::fs::read_to_string(platform_dir.join("supervisor.log")).unwrap();
    assert!(
        log.contains("starting it again in 1s")
            && log.contains("started again and back in traffic"),
        "{log}"
    );
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stray_replica_missing_from_the_table_is_stopped_at_start() {
    let cluster = Cluster::new();
    let platform_dir = cluster.platform_dir();
    let values = repo().join("demo/config/values-V5.1.2.02.yaml");
    // As if the agent had been killed between starting a replica and writing the table.
    let stray_port = free_base_port();
    let mut stray = std::process::Command::new(bin_dir().join("demo-app"))
        .args(["--role", "dataservice"])
        .env("DEMO_PORT", stray_port.to_string())
        .env("DEMO_VALUES", &values)
        .env("DEMO_STATE_DIR", platform_dir.join("state"))
        .env("UPGRADE_AGENT_HOME", &platform_dir)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    // Listening means it runs as a replica would (its SIGTERM handler is in place before it binds).
    while !marked_processes(&platform_dir).contains(&stray.id())
        || std::net::TcpStream::connect(("127.0.0.1", stray_port)).is_err()
    {
        assert!(Instant::now() < deadline, "the stray process did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster
        .engine
        .start(&deployment("V5.1.2.02", "values-V5.1.2.02.yaml"))
        .await
        .unwrap();
    // Stopped gracefully (SIGTERM: it drains and exits 0) by the start's adoption.
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = stray.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the stray replica still runs");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(status.success(), "{status:?}");
    let running = marked_processes(&platform_dir);
    assert_eq!(running.len(), 7, "{running:?}");
    assert!(!running.contains(&stray.id()));
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_requests_in_flight_finish_while_their_replicas_drain() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    cluster.engine.start(&from).await.unwrap();
    let ds = cluster.address("dataservice");
    // One slow query on each DataService replica (round robin), in flight when the upgrade drains them.
    let slow: Vec<_> = (0..3)
        .map(|i| {
            let url = format!("{ds}/api/query?q=slow{i}&delayMillis=6000");
            tokio::spawn(async move {
                let answer = reqwest::get(url).await.map_err(|e| e.to_string())?;
                let status = answer.status();
                let body: serde_json::Value = answer.json().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((status, body))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        8,
        UpgradeMode::ZeroDowntime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        events.log_text()
    );
    let mut replicas = Vec::new();
    for call in slow {
        let (status, body) = call.await.unwrap().expect("the slow query was answered");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["version"], "V5.1.2.02");
        replicas.push(body["replica"].as_str().unwrap_or_default().to_string());
    }
    replicas.sort();
    replicas.dedup();
    assert_eq!(
        replicas.len(),
        3,
        "one slow query per replica: {replicas:?}"
    );
    {
        let recorded = events.snapshot();
        let first_drain = recorded
            .steps
            .iter()
            .find(|s| s.app == "dataservice" && s.action == "drain")
            .and_then(|s| s.took)
            .unwrap();
        assert!(
            first_drain > Duration::from_secs(1),
            "the drain waited for its slow query: {first_drain:?}"
        );
    }
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_downtime_upgrade_brings_the_old_version_back() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let mut to = deployment("V5.1.2.04", "standard-V5.1.2.04-never-ready.yaml");
    for app in &mut to.manifest.applications {
        app.readiness.timeout_seconds = 2;
    }
    cluster.engine.start(&from).await.unwrap();
    let events = std::sync::Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        9,
        UpgradeMode::Downtime,
        &from,
        &to,
        &events,
        no_stop(),
    )
    .await;
    let RunOutcome::RolledBack(failure) = &outcome else {
        panic!(
            "expected a rollback, got {outcome:?}; log:\n{}",
            events.log_text()
        );
    };
    let reason = failure.to_string();
    assert!(
        reason.contains("dataservice") && reason.contains("did not become ready"),
        "{reason}"
    );
    assert_all_on(&cluster.engine, "V5.1.2.02");
    assert_eq!(
        version_at(&cluster.address("dataservice")).await["version"],
        "V5.1.2.02"
    );
    let downtime = events
        .snapshot()
        .availability
        .as_ref()
        .and_then(|a| a.downtime_seconds);
    assert!(
        downtime.is_some_and(|d| d > 2.0),
        "the downtime includes the wait and the way back: {downtime:?}"
    );
    cluster.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_shutdown_mid_upgrade_stops_after_the_step_and_leaves_the_product_serving() {
    let cluster = Cluster::new();
    let from = deployment("V5.1.2.02", "values-V5.1.2.02.yaml");
    let to = deployment("V5.1.2.04", "standard-V5.1.2.04.yaml");
    cluster.engine.start(&from).await.unwrap();
    let events = std::sync::Arc::new(RecordingEvents::default());
    let run = {
        let (engine, events) = (cluster.engine.clone(), events.clone());
        tokio::spawn(async move {
            upgrade(
                &engine,
                10,
                UpgradeMode::ZeroDowntime,
                &from,
                &to,
                &events,
                no_stop(),
            )
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events.snapshot().steps.iter().any(|s| s.action == "start") {
        assert!(
            Instant::now() < deadline,
            "the upgrade did not start a replica"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.engine.shutdown().await;
    let outcome = run.await.unwrap();
    assert!(
        matches!(outcome, RunOutcome::Stopped),
        "{outcome:?}; log:\n{}",
        events.log_text()
    );
    assert!(
        events.log_text().contains(
            "the agent is shutting down: the upgrade stops after the current replica step"
        ),
        "{}",
        events.log_text()
    );
    // The product still runs (old and new replicas) and its stable addresses answer.
    let running = marked_processes(&cluster.platform_dir());
    assert!(running.len() >= 7, "{running:?}");
    for app in ["dataservice", "web"] {
        let answer = reqwest::get(format!("{}/healthz", cluster.address(app)))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{app}");
    }
    stop_product(&cluster.config.data_dir).await;
    assert!(
        marked_processes(&cluster.platform_dir()).is_empty(),
        "replicas outlived stop-product"
    );
}

/// Not a test on its own: one replica of the second product (`second_product.rs`), started by the local platform
/// with the `DEMO_*` environment; without it, it returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a replica of the second product, started by the local platform"]
async fn second_product_replica() {
    let Some(port) = std::env::var("DEMO_PORT").ok().and_then(|p| p.parse().ok()) else {
        return;
    };
    second_product::serve_replica(port).await;
}

/// The applications of the steps with `action`, in order.
fn apps_of(events: &RecordingEvents, action: &str) -> Vec<String> {
    events
        .snapshot()
        .steps
        .iter()
        .filter(|s| s.action == action)
        .map(|s| s.app.clone())
        .collect()
}

/// Each probe of the record made calls; returns (name, calls, failures) in manifest order.
fn probes_measured(events: &RecordingEvents) -> Vec<(String, u64, u64)> {
    let availability = events
        .snapshot()
        .availability
        .clone()
        .expect("the record holds the measure");
    let probes: Vec<(String, u64, u64)> = availability
        .probes
        .iter()
        .map(|p| (p.name.clone(), p.calls, p.failures))
        .collect();
    let names: Vec<&str> = probes.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["balance", "transfer", "signin"]);
    assert!(probes.iter().all(|p| p.1 > 0), "{probes:?}");
    probes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_product_upgrades_rolling_then_with_downtime_and_its_probes_are_measured() {
    let cluster = Cluster::new();
    let v1 = second_product::deployment("V1.0.0.1");
    let v2 = second_product::deployment("V1.0.0.2");
    let v3 = second_product::deployment("V1.1.0.0");
    cluster.engine.start(&v1).await.unwrap();
    assert_all_on(&cluster.engine, "V1.0.0.1");

    let shortfalls = Shortfalls::watch(cluster.engine.clone());
    let rolling = Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        1,
        UpgradeMode::ZeroDowntime,
        &v1,
        &v2,
        &rolling,
        no_stop(),
    )
    .await;
    let shortfalls = shortfalls.finish().await;
    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        rolling.log_text()
    );
    assert!(
        shortfalls.is_empty(),
        "short of ready replicas: {shortfalls:?}"
    );
    assert_all_on(&cluster.engine, "V1.0.0.2");
    // Its own dependency order: frontdoor (needs nothing, listed before ledger), ledger, then payments.
    assert_eq!(
        apps_of(&rolling, "start"),
        ["frontdoor", "ledger", "ledger", "payments", "payments"]
    );
    let measured = probes_measured(&rolling);
    assert!(
        measured.iter().all(|p| p.2 == 0),
        "no probe call failed while rolling: {measured:?}"
    );
    let about: serde_json::Value = reqwest::get(format!("{}/about", cluster.address("ledger")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&about["app"], &about["version"]),
        (&"ledger".into(), &"V1.0.0.2".into())
    );

    let downtime = Arc::new(RecordingEvents::default());
    let outcome = upgrade(
        &cluster.engine,
        2,
        UpgradeMode::Downtime,
        &v2,
        &v3,
        &downtime,
        no_stop(),
    )
    .await;
    assert!(
        matches!(outcome, RunOutcome::Succeeded),
        "{outcome:?}; log:\n{}",
        downtime.log_text()
    );
    assert_all_on(&cluster.engine, "V1.1.0.0");
    assert_eq!(
        apps_of(&downtime, "drain"),
        ["payments", "payments", "ledger", "ledger", "frontdoor"]
    );
    assert_eq!(
        apps_of(&downtime, "start"),
        ["frontdoor", "ledger", "ledger", "payments", "payments"]
    );
    probes_measured(&downtime);
    let measured = downtime.snapshot().availability.clone().unwrap();
    assert!(
        measured.downtime_seconds.is_some_and(|s| s > 0.0),
        "{measured:?}"
    );
    let dir = cluster.platform_dir();
    cluster.engine.shutdown().await;
    stop_product(&cluster.config.data_dir).await;
    assert!(
        marked_processes(&dir).is_empty(),
        "replicas outlived stopping the product"
    );
}
