//! "A slow viewer never slows the upgrade or the other viewers (bounded buffers; it is dropped and can reconnect)."
//!
//! In process, like `examples/log_fanout.rs`: the agent's routes on a loopback port, the real local engine (nothing
//! is deployed: the test writes the log itself), one upgrade record, and log lines written through
//! `Operations::events` — the path the engine's lines take (SQLite commit, then the live broadcast). One viewer
//! never reads while the lines are written; one viewer reads normally.

use std::time::Duration;

use agent::engine::{Level, PlatformConfig, UpgradeEvents as _};
use agent::platform::local::LocalConfig;
use agent::records::Created;
use futures_util::StreamExt;
use shared::api::{LogEntry, StreamMessage, UpgradeStatus};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[path = "fixtures/record.rs"]
mod fixtures;
use fixtures::record;

const PASSWORD: &str = "slow-viewer-password";
/// The close code of a viewer that fell too far behind (api/log_stream.rs).
const LAGGED: u16 = 4000;
/// Generous bound for anything that should take seconds: a regression fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(120);
/// Receive buffer of the viewer that never reads: small, so that the bytes the sockets can absorb are known.
const SLOW_RCVBUF: u32 = 16 * 1024;
/// Size of the lines that fill the slow viewer's sockets: few lines, so that this part is quick.
const FILL_LINE: usize = 16 * 1024;
/// Lines written in all: the fill lines, then short ones.
const LINES: u64 = 30_000;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_never_reads_is_dropped_and_slows_nobody() {
    let demo_before = demo_processes();
    let temp = tempfile::tempdir().unwrap();
    let mut config = agent::Config::new(temp.path().join("data"));
    config.admin_password = Some(PASSWORD.into());
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let db = agent::db::Db::open(&config.data_dir).unwrap();
    agent::accounts::ensure_admin(&db, config.admin_password.as_deref()).unwrap();
    let engine = agent::engine::for_platform(&PlatformConfig::Local(LocalConfig::new(
        &config.data_dir,
        temp.path(),
    )))
    .await
    .expect("the local engine");
    let ops = agent::operations::Operations::new(db.clone(), engine.clone(), config.limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let state = agent::api::State::new(db.clone(), ops.clone(), &config, local);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let closer = state.clone();
    let server = tokio::spawn(
        warp::serve(agent::api::routes(state))
            .incoming(listener)
            .graceful(async move {
                let _ = stop_rx.await;
                closer.close_viewers();
            })
            .run(),
    );

    let id = match agent::records::create(&mut db.lock(), &record()).unwrap() {
        Created::Started(id) => id,
        Created::Refused { running } => panic!("upgrade {running} already runs"),
    };
    let cookie = log_on(local).await;
    let url = |after: u64| format!("ws://{local}/api/v1/upgrades/{id}/logs/stream?after={after}");

    // The viewer that never reads, on a socket with a small fixed receive buffer.
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(SLOW_RCVBUF).unwrap();
    let rcvbuf = tcp.recv_buffer_size().unwrap() as usize;
    let tcp = tcp.connect(local).await.unwrap();
    let (mut slow, _) =
        tokio_tungstenite::client_async(request(&url(0), &cookie), MaybeTlsStream::Plain(tcp))
            .await
            .expect("the slow viewer connects");
    // The agent subscribes before it sends the first message (`progress`): wait until that has arrived, without
    // reading it.
    if let MaybeTlsStream::Plain(tcp) = slow.get_ref() {
        let _ = tokio::time::timeout(Duration::from_secs(10), tcp.peek(&mut [0u8; 1])).await;
    }

    // The normal viewer, following from the start; it has subscribed once `progress` arrives.
    let (mut normal, _) = tokio_tungstenite::connect_async(request(&url(0), &cookie))
        .await
        .expect("the normal viewer connects");
    match next(&mut normal).await {
        Some(StreamMessage::Progress { .. }) => {}
        other => panic!("expected the progress message first, got {other:?}"),
    }

    // First long lines, more bytes than the slow viewer's sockets can hold (the agent's send buffer at its largest,
    // the viewer's receive buffer, a margin for user-space buffers): from then on the agent cannot send to it.
    // Then more short lines than the live channel holds: the slow viewer is more than CAPACITY messages behind.
    let fill = ((send_buffer_max() + rcvbuf + (1 << 20)) / FILL_LINE + 1) as u64;
    let behind = fill + agent::live::CAPACITY as u64 + 512;
    let lines = LINES;
    assert!(lines > behind);
    let line = move |i: u64| line(i, fill);

    let normal_task = tokio::spawn(async move {
        let mut received = Vec::new();
        loop {
            match next(&mut normal).await {
                Some(StreamMessage::Log(entry)) => received.push((entry.seq, entry.message)),
                Some(StreamMessage::Progress { .. }) => {}
                Some(StreamMessage::End { status }) => {
                    return (received, Some(status), close_code(&mut normal).await);
                }
                None => return (received, None, None),
            }
        }
    });

    let events = ops.events(id);
    let (behind_tx, behind_rx) = tokio::sync::oneshot::channel();
    let writer = tokio::task::spawn_blocking(move || {
        let mut behind_tx = Some(behind_tx);
        for i in 0..lines {
            events.log(Level::Info, Some("slow-viewer-test"), &line(i));
            if i + 1 == behind {
                let _ = behind_tx.take().map(|tx| tx.send(()));
            }
        }
    });
    tokio::time::timeout(LIMIT, behind_rx)
        .await
        .expect("the writer gets past the slow viewer's buffers although it reads nothing")
        .unwrap();

    // Now the slow viewer reads what its sockets held, while the writer goes on: a gapless prefix, then the agent
    // drops it: with a 4000 close frame when it notices the lag, or by cutting a socket that took nothing for its
    // send timeout (which one comes first depends on the machine's speed; both leave the viewer to reconnect).
    let mut slow_last = 0;
    let slow_close = tokio::time::timeout(LIMIT, async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Text(text))) => {
                    if let StreamMessage::Log(entry) = serde_json::from_str(text.as_str()).unwrap()
                    {
                        slow_last = next_line(slow_last, &entry, line, "the slow viewer");
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the slow viewer is dropped");
    if let Some((code, reason)) = slow_close {
        assert_eq!(code, LAGGED, "close code of the slow viewer ({reason})");
    }
    assert!(
        slow_last < behind,
        "the slow viewer was dropped while it was behind"
    );
    tokio::time::timeout(LIMIT, writer)
        .await
        .expect("the writer finishes")
        .unwrap();

    // It reconnects with its last seq and gets the rest, once each, in order.
    drop(slow);
    let (mut again, _) = tokio_tungstenite::connect_async(request(&url(slow_last), &cookie))
        .await
        .expect("the slow viewer reconnects");
    let mut last = slow_last;
    tokio::time::timeout(LIMIT, async {
        while last < lines {
            match next(&mut again).await {
                Some(StreamMessage::Log(entry)) => {
                    last = next_line(last, &entry, line, "after reconnecting");
                }
                Some(StreamMessage::Progress { .. }) => {}
                other => panic!("after reconnecting, before the last line: {other:?}"),
            }
        }
    })
    .await
    .expect("the reconnected viewer gets the rest");

    // End the record as the engine's end of run does: every viewer gets `end` and is closed with 1000.
    agent::records::finish(
        &mut db.lock(),
        id,
        UpgradeStatus::Stopped,
        Some("test over"),
    )
    .unwrap();
    ops.live().send(
        id,
        &StreamMessage::End {
            status: UpgradeStatus::Stopped,
        },
    );
    let end = tokio::time::timeout(LIMIT, async {
        loop {
            match next(&mut again).await {
                Some(StreamMessage::Progress { .. }) => {}
                other => return other,
            }
        }
    })
    .await
    .expect("end after the rest");
    assert_eq!(
        end,
        Some(StreamMessage::End {
            status: UpgradeStatus::Stopped
        }),
        "after the last line"
    );

    let (received, end, code) = tokio::time::timeout(LIMIT, normal_task)
        .await
        .expect("the normal viewer gets to the end")
        .unwrap();
    assert_eq!(
        received.len() as u64,
        lines,
        "the normal viewer got every line"
    );
    for (i, (seq, message)) in received.iter().enumerate() {
        assert_eq!(
            *seq,
            i as u64 + 1,
            "the normal viewer's lines are 1..n once each, in order"
        );
        assert_eq!(*message, line(i as u64));
    }
    assert_eq!(end, Some(UpgradeStatus::Stopped));
    assert_eq!(code, Some(1000));

    // Shut the agent down as at SIGTERM: viewers closed, server stopped, engine stopped.
    drop(again);
    let _ = stop_tx.send(());
    tokio::time::timeout(LIMIT, server)
        .await
        .expect("the server stops")
        .unwrap();
    engine.shutdown().await;
    assert_eq!(
        demo_processes(),
        demo_before,
        "no demo-app process left behind"
    );
}

/// Line `i` as written (seq `i + 1`): the first `fill` are long.
/// Checks that `entry` is the line after `last` with the text written for it; its seq.
fn next_line(last: u64, entry: &LogEntry, line: impl Fn(u64) -> String, who: &str) -> u64 {
    assert_eq!(entry.seq, last + 1, "{who}: a gap or a duplicate");
    assert_eq!(
        entry.message,
        line(entry.seq - 1),
        "{who}: line {}",
        entry.seq
    );
    entry.seq
}

fn line(i: u64, fill: u64) -> String {
    if i < fill {
        format!("line {i} {}", "x".repeat(FILL_LINE))
    } else {
        format!("line {i}")
    }
}

/// The largest send buffer the kernel gives a TCP socket.
fn send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// How many `demo-app` processes this test process has started (other agents may run on the machine).
fn demo_processes() -> usize {
    std::process::Command::new("pgrep")
        .args(["-c", "-P", &std::process::id().to_string(), "demo-app"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The next stream message; `None` when the connection closes.
async fn next(socket: &mut Socket) -> Option<StreamMessage> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(text.as_str()).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The code of the close frame that follows.
async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        match socket.next().await? {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn request(url: &str, cookie: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
}

async fn log_on(local: std::net::SocketAddr) -> String {
    let response = reqwest::Client::new()
        .post(format!("http://{local}/api/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}
