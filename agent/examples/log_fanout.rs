//! Log fan-out benchmark: one upgrade writing log lines at a steady rate through the same path the engine uses
//! (persisted in SQLite, then broadcast), followed by many websocket viewers over real loopback connections.
//! Prints lines delivered, viewers dropped, and the delivery latency (write call → viewer receives).
//!
//! `cargo run --release -p agent --example log_fanout -- [lines_per_second] [viewers] [seconds]`
//! (defaults: 10000 100 10).

use std::time::{Duration, Instant};

use agent::engine::{Level, PlatformConfig, UpgradeEvents as _};
use agent::platform::local::LocalConfig;
use agent::records::Created;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "../tests/fixtures/record.rs"]
mod fixtures;
use fixtures::record;

const PASSWORD: &str = "bench-password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>());
    let rate = args.next().transpose()?.unwrap_or(10_000);
    let viewers = args.next().transpose()?.unwrap_or(100) as usize;
    let seconds = args.next().transpose()?.unwrap_or(10);

    let temp = tempfile::tempdir()?;
    let mut config = agent::Config::new(temp.path().join("data"));
    config.admin_password = Some(PASSWORD.into());
    std::fs::create_dir_all(&config.data_dir)?;
    let db = agent::db::Db::open(&config.data_dir)?;
    agent::accounts::ensure_admin(&db, config.admin_password.as_deref())?;
    // The real engine of the local platform; nothing is started (the benchmark writes the log itself).
    let engine = agent::engine::for_platform(&PlatformConfig::Local(LocalConfig::new(
        &config.data_dir,
        temp.path(),
    )))
    .await
    .map_err(anyhow::Error::msg)?;
    let ops = agent::operations::Operations::new(db.clone(), engine, config.limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let local = listener.local_addr()?;
    let state = agent::api::State::new(db.clone(), ops.clone(), &config, local);
    tokio::spawn(
        warp::serve(agent::api::routes(state))
            .incoming(listener)
            .run(),
    );

    let id = match agent::records::create(&mut db.lock(), &record())? {
        Created::Started(id) => id,
        Created::Refused { running } => anyhow::bail!("upgrade {running} already runs"),
    };

    let cookie = log_on(local).await?;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..viewers {
        let mut request = format!("ws://{local}/api/v1/upgrades/{id}/logs/stream?after=0")
            .into_client_request()?;
        request.headers_mut().insert("cookie", cookie.parse()?);
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        tasks.push(tokio::spawn(view(socket, start)));
    }

    // One more viewer that never reads: it must be dropped without slowing the writer or the others.
    let mut request =
        format!("ws://{local}/api/v1/upgrades/{id}/logs/stream?after=0").into_client_request()?;
    request.headers_mut().insert("cookie", cookie.parse()?);
    let (stalled, _) = tokio_tungstenite::connect_async(request).await?;

    let events = ops.events(id);
    let total = rate * seconds;
    let writer = tokio::task::spawn_blocking(move || {
        let began = Instant::now();
        for i in 0..total {
            let due = began + Duration::from_secs_f64(i as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let sent = start.elapsed().as_micros();
            events.log(
                Level::Info,
                Some("bench"),
                &format!("line {i} sent_us={sent}"),
            );
        }
        began.elapsed()
    });
    let took = writer.await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    ops.events(id).log(Level::Info, None, "bench done");
    // End the record so viewers get `end` and close.
    agent::records::finish(
        &mut db.lock(),
        id,
        shared::api::UpgradeStatus::Stopped,
        Some("benchmark over"),
    )?;
    ops.live().send(
        id,
        &shared::api::StreamMessage::End {
            status: shared::api::UpgradeStatus::Stopped,
        },
    );

    // The stalled viewer now reads what it was sent before the agent dropped it.
    let (_, stalled_received, stalled_ended) = view(stalled, start).await;

    let mut latencies = Vec::new();
    let mut complete = 0;
    let mut dropped = 0;
    for task in tasks {
        let (lat, received, ended) = task.await?;
        latencies.extend(lat);
        if ended && received == total + 1 {
            complete += 1;
        } else {
            dropped += 1;
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{total} lines written in {:.2} s ({:.0} lines/s) to {viewers} viewers",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    println!(
        "viewers with every line once, in order: {complete}; dropped or incomplete: {dropped}"
    );
    println!(
        "viewer that never read: got {stalled_received} of {} lines from socket buffers, then {}",
        total + 1,
        if stalled_ended {
            "the end (it was never too far behind)"
        } else {
            "was dropped by the agent"
        }
    );
    println!(
        "delivery latency over {} deliveries: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

async fn log_on(local: std::net::SocketAddr) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("http://{local}/api/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    Ok(cookie.to_string())
}

/// Follows the stream; returns latencies (µs), log lines received in order without gaps, and whether `end` came.
async fn view(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    start: Instant,
) -> (Vec<u128>, u64, bool) {
    let mut latencies = Vec::new();
    let mut last = 0;
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            if message.is_close() {
                break;
            }
            continue;
        };
        let now = start.elapsed().as_micros();
        let text = text.as_str();
        // Cheap field extraction: the viewers share two cores with the agent, so parsing every line as JSON
        // would measure the benchmark rather than the agent.
        match text.strip_prefix("{\"type\":\"log\",\"seq\":") {
            Some(rest) => {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let seq: u64 = digits.parse().unwrap_or(0);
                if seq != last + 1 {
                    return (latencies, last, false);
                }
                last = seq;
                let sent = text
                    .rsplit("sent_us=")
                    .next()
                    .map(|s| {
                        s.chars()
                            .take_while(char::is_ascii_digit)
                            .collect::<String>()
                    })
                    .and_then(|s| s.parse::<u128>().ok());
                if let Some(sent) = sent {
                    latencies.push(now.saturating_sub(sent));
                }
            }
            None if text.starts_with("{\"type\":\"end\"") => return (latencies, last, true),
            None => {}
        }
    }
    (latencies, last, false)
}
