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

/// schemathesis found `limit=10001` served (the description's maximum is 10000) and negative values answered with
/// an undocumented, unspecific 400: both log routes now refuse values outside the described bounds, naming them.
#[tokio::test]
async fn log_reads_outside_the_described_bounds_are_refused_naming_the_parameter() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;
    admin.wait_until_ended(id).await;

    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=-80045", "limit"),
        ("after=-1", "after"),
        ("after=9223372036854775808", "after"),
        ("after=three", "after"),
    ] {
        // The stream takes `after` only (it sends everything after it).
        let routes: &[&str] = if parameter == "after" {
            &["logs", "logs/stream"]
        } else {
            &["logs"]
        };
        for route in routes {
            let response = admin
                .http
                .get(admin.at(&format!("/api/v1/upgrades/{id}/{route}?{query}")))
                .send()
                .await
                .expect("GET");
            assert_eq!(response.status(), 400, "{route}?{query}");
            let body: serde_json::Value = response.json().await.expect("JSON error");
            assert_eq!(body["error"], "bad-request", "{route}?{query}");
            let message = body["message"].as_str().expect("message");
            assert!(
                message.contains(&format!("`{parameter}`")) && message.contains("from"),
                "{route}?{query}: the message names the parameter and its bounds: {message}"
            );
        }
    }

    let all = admin.all_logs(id).await;
    let page = admin
        .get_json(&format!("/api/v1/upgrades/{id}/logs?limit=10000"))
        .await;
    assert_eq!(
        page.as_array().map(Vec::len),
        Some(all.len()),
        "the largest limit is served"
    );
    let past_the_end = admin
        .get_json(&format!(
            "/api/v1/upgrades/{id}/logs?after=9223372036854775807&limit=1"
        ))
        .await;
    assert_eq!(past_the_end, serde_json::json!([]));
}

/// schemathesis found a plain GET of the log stream answered 400 "the request could not be understood", a status
/// the description did not list: it is listed now, and the message says what the route needs.
#[tokio::test]
async fn the_stream_tells_a_plain_request_that_it_needs_a_websocket_handshake() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    admin.import_demo_versions().await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;

    let response = admin
        .http
        .get(admin.at(&format!("/api/v1/upgrades/{id}/logs/stream?after=0")))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("JSON error");
    assert_eq!(body["error"], "bad-request");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.contains("websocket") && message.contains("Upgrade"),
        "{message}"
    );

    // The same route with a handshake is still the stream.
    let mut viewer = admin.open_stream(id, 0, None).await.expect("viewer");
    let mut seqs = Vec::new();
    assert_eq!(
        viewer.read_to_end(&mut seqs).await.as_deref(),
        Some("succeeded")
    );
    assert_gapless(&seqs);
}
