//! The product outlives its agent (issue 12): the supervisor holds the replicas and the stable addresses, so killing
//! or stopping the agent fails no call, the restarted agent takes the product back, and a replica that dies outside
//! an upgrade is started again.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use shared::api::UpgradeStatus;

use crate::load::{Load, unfinished_jobs};
use crate::support::{Agent, UpgradeForm, address, cluster, marked_processes, replicas};

/// Calls a second of the steady load (modest: these tests run beside others on small machines).
const RATE: u32 = 50;

/// Restarts the agent off the async workers (it waits for the agent's "listening" line), so the load keeps going.
async fn restart(mut agent: Agent) -> Agent {
    tokio::task::spawn_blocking(move || {
        agent.restart();
        agent
    })
    .await
    .expect("restart")
}

fn supervisor_pid(agent: &Agent) -> String {
    std::fs::read_to_string(agent.data_dir.join("platform/supervisor.pid"))
        .expect("the supervisor's pid file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_the_agent_fails_no_call_and_the_restart_takes_the_product_back() {
    let mut agent = Agent::start().await;
    let admin = agent.admin().await;
    let before = cluster(&admin).await;
    let supervisor = supervisor_pid(&agent);
    let traffic = Load::start(
        address(&before, "dataservice"),
        address(&before, "web"),
        RATE,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    agent.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agent = restart(agent).await;
    let admin = agent.admin().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = traffic.finish().await;

    assert!(report.requests > 100, "{} calls", report.requests);
    assert!(
        report.failures.is_empty(),
        "{} of {} calls failed: {:?}",
        report.failures.len(),
        report.requests,
        &report.failures[..report.failures.len().min(10)]
    );
    let after = cluster(&admin).await;
    assert_eq!(
        replicas(&after),
        replicas(&before),
        "the same replicas, taken back"
    );
    assert_eq!(supervisor_pid(&agent), supervisor, "the same supervisor");
    assert!(
        agent.stop_product(),
        "stop-product ends the supervisor and every replica"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_stopped_for_ten_seconds_fails_no_call() {
    let mut agent = Agent::start().await;
    let admin = agent.admin().await;
    let before = cluster(&admin).await;
    let traffic = Load::start(
        address(&before, "dataservice"),
        address(&before, "web"),
        RATE,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (agent, exited) = tokio::task::spawn_blocking(move || {
        let exited = agent.stop();
        (agent, exited)
    })
    .await
    .expect("stop");
    assert!(exited, "SIGTERM stops the agent");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let agent = restart(agent).await;
    let admin = agent.admin().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = traffic.finish().await;

    assert!(report.requests > 500, "{} calls", report.requests);
    assert!(
        report.failures.is_empty(),
        "{} of {} calls failed: {:?}",
        report.failures.len(),
        report.requests,
        &report.failures[..report.failures.len().min(10)]
    );
    assert_eq!(replicas(&cluster(&admin).await), replicas(&before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_killed_outside_an_upgrade_comes_back_in_the_cluster_view() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    let table: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(agent.data_dir.join("platform/replicas.json")).expect("table"),
    )
    .expect("table JSON");
    let victim = table["replicas"]
        .as_array()
        .expect("replicas")
        .iter()
        .find(|r| r["app"] == "web")
        .expect("a web replica")
        .clone();
    let id = victim["id"].as_str().expect("id").to_string();
    let status = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(victim["pid"].to_string())
        .status()
        .expect("kill");
    assert!(status.success());

    // (phase, ready, why not ready) as the cluster view shows the victim.
    let state_of = |view: &shared::api::ClusterView| {
        view.applications
            .iter()
            .flat_map(|a| &a.replicas)
            .find(|r| r.id == id)
            .map(|r| (r.state.clone(), r.ready, r.reason.clone()))
    };
    let down = Some((
        "failed".to_string(),
        false,
        Some("killed by signal 9".to_string()),
    ));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let back = loop {
        let view = cluster(&admin).await;
        let state = state_of(&view);
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if seen.contains(&down) && state == Some(("ready".to_string(), true, None)) {
            break view;
        }
        assert!(
            Instant::now() < deadline,
            "{id} did not come back: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for (phase, ready, reason) in seen.iter().flatten() {
        assert_eq!(
            reason.is_some(),
            !ready,
            "a reason exactly while not ready ({phase}): {seen:?}"
        );
    }
    // The local platform's replicas run on this machine, named by its host name.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("host name");
    for replica in back.applications.iter().flat_map(|a| &a.replicas) {
        assert_eq!(replica.node.as_deref(), Some(host.trim()), "{replica:?}");
    }
    let platform = agent
        .data_dir
        .join("platform")
        .canonicalize()
        .expect("platform dir");
    assert_eq!(
        marked_processes(&platform).len(),
        7,
        "one replica more again"
    );
    // Owner-only: the platform dir and the supervisor's socket.
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&platform), 0o700);
    assert_eq!(mode(&platform.join("supervisor.sock")), 0o600);
    // A second supervisor for the same data dir gives way at once to the one running.
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_agent"))
        .arg("supervise")
        .arg("--data-dir")
        .arg(&agent.data_dir)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("a second supervisor");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = second.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "the second supervisor ended at once: {status:?}"
    );
    assert_eq!(
        state_of(&cluster(&admin).await),
        Some(("ready".to_string(), true, None)),
        "the running supervisor still holds the product"
    );
    let log = std::fs::read_to_string(platform.join("supervisor.log")).expect("its log");
    assert!(
        log.contains(&id) && log.contains("starting it again in 1s"),
        "the restart and its backoff are logged: {log}"
    );

    // Killed again right after it came back: the wait doubles.
    let table: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(platform.join("replicas.json")).expect("table"),
    )
    .expect("table JSON");
    let again = table["replicas"]
        .as_array()
        .expect("replicas")
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("the replica")["pid"]
        .clone();
    assert_ne!(again, victim["pid"], "a new process");
    let status = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(again.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(platform.join("supervisor.log")).expect("its log");
        if log.contains("starting it again in 2s")
            && log.matches("started again and back in traffic").count() == 2
            && state_of(&cluster(&admin).await) == Some(("ready".to_string(), true, None))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second restart, after 2 s, did not happen: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_rolling_upgrade_under_load_fails_no_call_loses_no_job_and_the_run_finishes() {
    let mut agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    let view = cluster(&admin).await;
    let ds = address(&view, "dataservice");
    let traffic = Load::start(ds.clone(), address(&view, "web"), RATE);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;
    admin
        .wait_for_steps_done(id, 3, Duration::from_secs(60))
        .await;
    agent.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let agent = restart(agent).await;
    let admin = agent.admin().await;
    let record = admin.wait_until_ended(id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = traffic.finish().await;

    assert_eq!(
        record.summary.status,
        UpgradeStatus::Succeeded,
        "the restarted agent finishes the run: {record:?}"
    );
    assert!(
        report.failures.is_empty(),
        "{} of {} calls failed: {:?}",
        report.failures.len(),
        report.requests,
        &report.failures[..report.failures.len().min(10)]
    );
    assert!(report.jobs.len() > 20, "{} jobs", report.jobs.len());
    let missing = unfinished_jobs(&ds, &report.jobs).await;
    assert!(
        missing.is_empty(),
        "jobs not retrievable: {:?}",
        &missing[..missing.len().min(10)]
    );
    let after = cluster(&admin).await;
    assert!(
        replicas(&after)
            .iter()
            .all(|(_, version, state, ready)| version == "V5.1.2.04" && state == "ready" && *ready),
        "{after:?}"
    );
}
