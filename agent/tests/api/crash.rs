//! Crash safety: the agent killed with SIGKILL in the middle of an upgrade and started again.

use std::time::Duration;

use shared::api::UpgradeStatus;

use crate::support::{Agent, UpgradeForm, assert_gapless, assert_log_kept_across_a_restart};

#[tokio::test]
async fn sigkill_mid_upgrade_then_restart_ends_the_upgrade_without_a_stale_lock_or_lost_lines() {
    let mut agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;

    // Wait until the upgrade is well under way, then kill the agent where it stands.
    admin
        .wait_for_steps_done(id, 3, Duration::from_secs(60))
        .await;
    let before = admin.all_logs(id).await;
    agent.kill();

    agent.restart();
    let admin = agent.admin().await;
    let record = admin.wait_until_ended(id).await;
    match record.summary.status {
        UpgradeStatus::Succeeded => {}
        UpgradeStatus::Failed | UpgradeStatus::RolledBack => {
            assert!(
                record
                    .summary
                    .reason
                    .as_deref()
                    .is_some_and(|r| !r.is_empty()),
                "a reason: {record:?}"
            )
        }
        other => panic!("unexpected status {other:?} after the restart: {record:?}"),
    }

    assert_log_kept_across_a_restart(&before, &admin.all_logs(id).await);

    // No stale lock: another operation can start.
    let cluster = admin.get_json("/api/v1/cluster").await;
    assert!(cluster.get("operation").is_none(), "{cluster}");
    let next = if record.summary.status == UpgradeStatus::Succeeded {
        UpgradeForm {
            target: "V5.2.0.01",
            mode: "downtime",
            config: "config/standard-V5.2.0.01.yaml",
            ..UpgradeForm::rolling()
        }
    } else {
        UpgradeForm::rolling()
    };
    let next_id = admin.start_upgrade(&next).await;
    let next_record = admin.wait_until_ended(next_id).await;
    assert_eq!(
        next_record.summary.status,
        UpgradeStatus::Succeeded,
        "{next_record:?}"
    );
}

#[tokio::test]
async fn sigterm_during_an_upgrade_closes_live_viewers_and_stops_the_run_for_a_retry() {
    let mut agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;
    let mut viewer = admin.open_stream(id, 0, None).await.expect("viewer");
    assert!(viewer.next().await.is_some());

    let (mut agent, exited) = tokio::task::spawn_blocking(move || {
        let exited = agent.stop();
        (agent, exited)
    })
    .await
    .expect("stop");
    assert!(
        exited,
        "SIGTERM stops the agent although a viewer follows a running upgrade"
    );
    let mut seqs = Vec::new();
    let end = viewer.read_to_end(&mut seqs).await;
    assert_eq!(end, None, "the viewer is closed before the upgrade ends");
    assert_eq!(viewer.close_code, Some(1001), "closed as going away");

    agent.restart();
    let admin = agent.admin().await;
    let record = admin.upgrade(id).await;
    assert_eq!(
        record.summary.status,
        UpgradeStatus::Stopped,
        "a clean shutdown stops the run: {record:?}"
    );
    assert!(
        record
            .summary
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("shut down")),
        "{record:?}"
    );
    let logs = admin.all_logs(id).await;
    assert_gapless(&logs.iter().map(|e| e.seq).collect::<Vec<_>>());
    assert!(
        admin
            .get_json("/api/v1/cluster")
            .await
            .get("operation")
            .is_none(),
        "no stale lock"
    );

    let retry_id = admin.retry(id).await;
    assert_eq!(
        admin.wait_until_ended(retry_id).await.summary.status,
        UpgradeStatus::Succeeded
    );
}
