//! `GET /metrics` after a real rolling upgrade of the demo product, parsed as Prometheus reads it: for a logged-on
//! session or the scraper's bearer token, and nobody else.

use std::collections::BTreeMap;

use shared::api::{Role, UpgradeStatus};

use crate::support::{Agent, Options, UpgradeForm};

/// One sample of the Prometheus text format.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    /// Metric name with its suffix (`_total`, `_bucket`...).
    name: String,
    /// Its labels.
    labels: BTreeMap<String, String>,
    /// Its value.
    value: f64,
}

/// Parses the Prometheus text format (version 0.0.4): comments skipped, label values unescaped. Panics, naming
/// the line, on anything else.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |what: &str| format!("line {}: {what}: {line}", number + 1);
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("{}", at("no value")));
        let name = line[..name_end].to_string();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{}",
            at("a metric name")
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            loop {
                let (start, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("{}", at("unclosed labels")));
                if c == '}' {
                    rest = &inner[start + 1..];
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = inner[start..]
                    .find("=\"")
                    .unwrap_or_else(|| panic!("{}", at("a label without a quoted value")));
                let key = inner[start..start + eq].to_string();
                while chars.peek().is_some_and(|(i, _)| *i < start + eq + 2) {
                    chars.next();
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, 'n')) => value.push('\n'),
                            Some((_, escaped)) => value.push(escaped),
                            None => panic!("{}", at("a dangling escape")),
                        },
                        Some((_, c)) => value.push(c),
                        None => panic!("{}", at("an unclosed label value")),
                    }
                }
                labels.insert(key, value);
            }
        }
        let value = rest.split_whitespace().next().unwrap_or_default();
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            number => number
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{}", at("a number"))),
        };
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    samples
}

/// The samples named `name` whose labels include `labels`.
fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|have| have == v))
        })
        .collect()
}

/// The one sample named `name` with `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    match find(samples, name, labels).as_slice() {
        [one] => one.value,
        other => panic!("one sample {name}{labels:?} expected, found {other:?}"),
    }
}

/// The sum of the samples named `name` (over every label set).
fn total(samples: &[Sample], name: &str) -> f64 {
    find(samples, name, &[]).iter().map(|s| s.value).sum()
}

#[tokio::test]
async fn metrics_after_a_rolling_upgrade_count_what_happened_for_sessions_and_the_scraper_only() {
    let files = tempfile::tempdir().expect("temporary directory");
    let token_file = files.path().join("metrics-token");
    std::fs::write(&token_file, "s3cret-scraper-token\n").expect("write the token");
    let agent = Agent::start_with(Options {
        args: vec![
            "--metrics-token-file".into(),
            token_file.display().to_string(),
        ],
        ..Options::default()
    })
    .await;
    let anonymous = agent.anonymous();
    let failed = anonymous
        .post(agent.at("/api/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": "wrong"}))
        .send()
        .await
        .expect("a failed logon");
    assert_eq!(failed.status(), 401);
    let admin = agent.admin().await;
    let viewer = agent.add_account("victor", Role::Viewer).await;
    let scrape = |client: &reqwest::Client, bearer: Option<&str>| {
        let mut request = client.get(agent.at("/metrics"));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("GET /metrics");
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (status, content_type, response.text().await.expect("body"))
        }
    };

    // Before any upgrade: every status is reported, at zero.
    let (status, content_type, text) = scrape(&viewer.http, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let before = parse(&text);
    for status in ["running", "succeeded", "failed", "rolled_back", "stopped"] {
        assert_eq!(
            value(&before, "upgrade_manager_upgrades", &[("status", status)]),
            0.0,
            "{status}"
        );
    }

    // During the upgrade: its progress, its current step and the one viewer following its log.
    admin.import_demo_versions().await;
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;
    let mut follower = admin.open_stream(id, 0, None).await.expect("a log viewer");
    assert!(follower.next().await.is_some(), "the viewer is following");
    // The engine records its plan just after the start: scrape (at most 30 s) until it is there.
    let upgrade = id.to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let during = loop {
        let (_, _, text) = scrape(&viewer.http, None).await;
        let during = parse(&text);
        let planned = find(
            &during,
            "upgrade_manager_running_upgrade_steps_planned",
            &[("upgrade", &upgrade)],
        );
        if planned.iter().any(|s| s.value > 0.0) || std::time::Instant::now() >= deadline {
            break during;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        value(
            &during,
            "upgrade_manager_upgrades",
            &[("status", "running")]
        ),
        1.0
    );
    assert_eq!(value(&during, "upgrade_manager_log_viewers", &[]), 1.0);
    let planned = value(
        &during,
        "upgrade_manager_running_upgrade_steps_planned",
        &[("upgrade", &upgrade)],
    );
    let done = value(
        &during,
        "upgrade_manager_running_upgrade_steps_done",
        &[("upgrade", &upgrade)],
    );
    assert!(planned > 0.0 && done <= planned, "{done} of {planned}");
    let step = find(
        &during,
        "upgrade_manager_running_upgrade_step_info",
        &[("upgrade", &upgrade)],
    );
    assert_eq!(step.len(), 1, "{text}");
    assert_eq!(step[0].value, 1.0);
    let mut seqs = Vec::new();
    assert_eq!(
        follower.read_to_end(&mut seqs).await.as_deref(),
        Some("succeeded")
    );
    drop(follower);

    // After it: one succeeded, the steps timed, the probes counted, the failed logon counted.
    let record = admin.wait_until_ended(id).await;
    assert_eq!(record.summary.status, UpgradeStatus::Succeeded);
    let (status, _, text) = scrape(&viewer.http, None).await;
    assert_eq!(status, 200);
    let after = parse(&text);
    assert_eq!(
        value(
            &after,
            "upgrade_manager_upgrades",
            &[("status", "succeeded")]
        ),
        1.0
    );
    assert_eq!(
        value(&after, "upgrade_manager_upgrades", &[("status", "running")]),
        0.0
    );
    assert!(
        find(&after, "upgrade_manager_running_upgrade_steps_planned", &[]).is_empty(),
        "no running upgrade: {text}"
    );
    let steps_counted = total(&after, "upgrade_manager_step_duration_seconds_count");
    assert!(steps_counted > 0.0, "{text}");
    let recorded_steps = record
        .steps
        .iter()
        .filter(|s| matches!(s.status.as_str(), "done" | "failed"))
        .count();
    assert_eq!(
        steps_counted as usize, recorded_steps,
        "every step that ran is timed"
    );
    for count in find(&after, "upgrade_manager_step_duration_seconds_count", &[]) {
        let action = &count.labels["action"];
        let infinite = value(
            &after,
            "upgrade_manager_step_duration_seconds_bucket",
            &[("action", action), ("le", "+Inf")],
        );
        assert_eq!(
            infinite, count.value,
            "the +Inf bucket of {action} holds every step"
        );
        let mut buckets: Vec<(f64, f64)> = find(
            &after,
            "upgrade_manager_step_duration_seconds_bucket",
            &[("action", action)],
        )
        .iter()
        .map(|b| {
            (
                b.labels["le"].parse::<f64>().unwrap_or(f64::INFINITY),
                b.value,
            )
        })
        .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(
            buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
            "cumulative buckets of {action}: {buckets:?}"
        );
        let sum = value(
            &after,
            "upgrade_manager_step_duration_seconds_sum",
            &[("action", action)],
        );
        assert!(sum > 0.0, "steps of {action} took time");
    }
    let measured = record
        .availability
        .as_ref()
        .expect("the probe's measurement");
    assert!(measured.calls > 0, "{measured:?}");
    assert_eq!(
        total(&after, "upgrade_manager_probe_calls_total"),
        measured.calls as f64
    );
    assert_eq!(
        total(&after, "upgrade_manager_probe_failures_total"),
        measured.failures as f64
    );
    for probe in &measured.probes {
        assert_eq!(
            value(
                &after,
                "upgrade_manager_probe_calls_total",
                &[("probe", &probe.name)]
            ),
            probe.calls as f64,
            "{}",
            probe.name
        );
        let p99 = value(
            &after,
            "upgrade_manager_probe_latency_seconds",
            &[("probe", &probe.name), ("quantile", "0.99")],
        );
        // The record keeps milliseconds, the metric seconds: equal but for the last bit of the division.
        assert!(
            (p99 - probe.p99_ms / 1000.0).abs() <= 1e-9 * p99.abs().max(1.0),
            "{}: {p99} s against {} ms",
            probe.name,
            probe.p99_ms
        );
    }
    assert_eq!(
        value(
            &after,
            "upgrade_manager_logon_failures_total",
            &[("reason", "refused")]
        ),
        1.0
    );
    assert_eq!(value(&after, "upgrade_manager_log_viewers", &[]), 0.0);

    // The scraper's token works without a session; another token, or nothing, gets 401.
    let (status, _, text) = scrape(&anonymous, Some("s3cret-scraper-token")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        value(
            &parse(&text),
            "upgrade_manager_upgrades",
            &[("status", "succeeded")]
        ),
        1.0
    );
    let lowercase = anonymous
        .get(agent.at("/metrics"))
        .header("authorization", "bearer s3cret-scraper-token")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(
        lowercase.status(),
        200,
        "the scheme's name is case-insensitive"
    );
    let (status, _, text) = scrape(&anonymous, Some("s3cret-scraper-tokeN")).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("--metrics-token-file"), "{text}");
    let (status, _, text) = scrape(&anonymous, None).await;
    assert_eq!(status, 401, "{text}");
    // A wrong token is refused even with a session: the scraper is told its token is wrong.
    let (status, _, text) = scrape(&viewer.http, Some("not-the-token")).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("--metrics-token-file"), "{text}");
}
