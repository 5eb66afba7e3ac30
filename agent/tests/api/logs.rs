//! Live logs: replay then follow, many viewers at once, reconnecting viewers miss nothing and see nothing twice.

use crate::support::{Agent, UpgradeForm, assert_gapless};

#[tokio::test]
async fn log_viewers_replay_follow_and_reconnect_without_loss_or_duplicates() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;

    // Many viewers at once, each from the start.
    let viewers: Vec<_> = (0..20)
        .map(|_| {
            let admin = admin.clone();
            tokio::spawn(async move {
                let mut viewer = admin.open_stream(id, 0, None).await.expect("viewer");
                let mut seqs = Vec::new();
                let end = viewer.read_to_end(&mut seqs).await;
                (seqs, end)
            })
        })
        .collect();

    // One viewer that leaves after a few lines and comes back with its last seq, twice.
    let mut seen = Vec::new();
    let mut viewer = admin.open_stream(id, 0, None).await.expect("viewer");
    let mut end = None;
    for round in 0..3 {
        let mut taken = 0;
        while let Some(message) = viewer.next().await {
            match message["type"].as_str() {
                Some("log") => {
                    seen.push(message["seq"].as_u64().expect("seq"));
                    taken += 1;
                }
                Some("end") => {
                    end = message["status"].as_str().map(str::to_string);
                    break;
                }
                _ => {}
            }
            if round < 2 && taken == 4 {
                break;
            }
        }
        if end.is_some() {
            break;
        }
        drop(viewer);
        let last = seen.last().copied().unwrap_or(0);
        viewer = admin.open_stream(id, last, None).await.expect("reconnect");
    }
    if end.is_none() {
        end = viewer.read_to_end(&mut seen).await;
    }
    assert_eq!(end.as_deref(), Some("succeeded"));

    let stored: Vec<u64> = admin.all_logs(id).await.iter().map(|e| e.seq).collect();
    assert_gapless(&stored);
    assert_eq!(seen, stored, "the reconnecting viewer saw every line once");
    for viewer in viewers {
        let (seqs, end) = viewer.await.expect("viewer task");
        assert_eq!(end.as_deref(), Some("succeeded"));
        assert_eq!(seqs, stored, "every viewer saw every line once");
    }

    // A viewer of a finished upgrade gets the replay and the end.
    let mut late = admin.open_stream(id, 3, None).await.expect("late viewer");
    let mut seqs = Vec::new();
    assert_eq!(
        late.read_to_end(&mut seqs).await.as_deref(),
        Some("succeeded")
    );
    assert_eq!(seqs, stored[3..].to_vec());
}

#[tokio::test]
async fn the_stream_sends_progress_and_refuses_unknown_upgrades() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    assert!(
        admin.open_stream(42, 0, None).await.is_err(),
        "no stream for an unknown upgrade"
    );
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;
    let mut viewer = admin.open_stream(id, 0, None).await.expect("viewer");
    let mut progress = Vec::new();
    while let Some(message) = viewer.next().await {
        match message["type"].as_str() {
            Some("progress") => {
                progress.push((message["done"].as_u64(), message["total"].as_u64()))
            }
            Some("end") => break,
            _ => {}
        }
    }
    assert!(!progress.is_empty());
    let (done, total) = progress.last().copied().expect("progress");
    assert_eq!(
        done, total,
        "the last progress message shows every step done"
    );
}
