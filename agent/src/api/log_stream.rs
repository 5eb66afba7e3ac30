//! An upgrade's log over a websocket: the entries after the viewer's last seq, then new ones live until the
//! upgrade ends, the viewer leaves or falls too far behind, or the agent shuts down.

use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use shared::api::{Me, Role, StreamMessage, UpgradeStatus};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::{Filter, Rejection, Reply};

use super::log_query::{LogQuery, log_query};
use super::problem::Problem;
use super::{State, session_with, with_state};
use crate::live::LiveMessage;
use crate::records;

/// Longest wait for one websocket send: a viewer slower than this is dropped (it can reconnect).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Log entries read from the database at once when replaying.
const REPLAY_PAGE: u32 = 1000;
/// Most live messages sent with one flush.
const SEND_BATCH: usize = 256;

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[("/api/v1/upgrades/{id}/logs/stream", "GET")];

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    stream(state)
}

/// GET /api/v1/upgrades/{id}/logs/stream (websocket)
pub fn stream(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "logs" / "stream")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(log_query())
        .and(handshake())
        .and(with_state(state))
        .and_then(open_stream)
}

/// A websocket handshake; a plain request to the stream gets 400 saying what a handshake needs (RFC 6455, 4.2.1).
fn handshake() -> impl Filter<Extract = (Ws,), Error = Rejection> + Clone {
    warp::ws().or_else(|_| async {
        Err(Rejection::from(Problem::bad_request(
            "this is a websocket: send a handshake (Connection: Upgrade, Upgrade: websocket, \
             Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key)",
        )))
    })
}

async fn open_stream(
    id: i64,
    _me: Me,
    query: LogQuery,
    ws: Ws,
    state: State,
) -> Result<impl Reply, Rejection> {
    let exists = state
        .db
        .run(move |conn| records::summary(conn, id))
        .await
        .map_err(Problem::from)?
        .is_some();
    if !exists {
        return Err(Problem::not_found(format!("upgrade {id} does not exist")).into());
    }
    Ok(ws.on_upgrade(move |socket| async move {
        follow(socket, &state, id, query.after).await;
        state.ops.live().release(id);
    }))
}

/// Why a viewer's connection ended.
enum Ended {
    /// The upgrade ended (or had ended) and everything was sent.
    Finished,
    /// The viewer went away or was too slow to send to.
    Gone,
    /// The viewer fell too far behind the live messages; it reconnects with its last seq.
    Lagged,
    /// The agent shuts down; the viewer reconnects to the next one with its last seq.
    Closing,
}

/// Replays the log after `after`, then follows it live until the upgrade ends or the viewer leaves.
async fn follow(socket: WebSocket, state: &State, id: i64, after: u64) {
    let (mut sink, mut incoming) = socket.split();
    // Subscribe before reading the database: whatever is not in the replay arrives on the channel.
    let mut live = state.ops.live().subscribe(id);
    let mut closing = state.closing.subscribe();
    let ended = async {
        let status = match state.db.run(move |conn| records::summary(conn, id)).await {
            Ok(Some(summary)) => summary.status,
            _ => return Ended::Gone,
        };
        let mut last = after;
        loop {
            let page = match state
                .db
                .run(move |conn| records::logs(conn, id, last, REPLAY_PAGE))
                .await
            {
                Ok(page) => page,
                Err(_) => return Ended::Gone,
            };
            let Some(newest) = page.last().map(|entry| entry.seq) else {
                break;
            };
            let texts = page
                .into_iter()
                .map(|entry| LiveMessage::new(&StreamMessage::Log(entry)).json);
            if !send_all(&mut sink, texts.collect()).await {
                return Ended::Gone;
            }
            last = newest;
        }
        if status != UpgradeStatus::Running {
            let end = LiveMessage::new(&StreamMessage::End { status });
            return if send_all(&mut sink, vec![end.json]).await {
                Ended::Finished
            } else {
                Ended::Gone
            };
        }
        if let Ok((progress, step)) = state
            .db
            .run(move |conn| {
                Ok((
                    records::progress(conn, id)?,
                    records::current_step(conn, id)?,
                ))
            })
            .await
        {
            let message = StreamMessage::Progress {
                done: progress.done,
                total: progress.total,
                status,
                step,
            };
            if !send_all(&mut sink, vec![LiveMessage::new(&message).json]).await {
                return Ended::Gone;
            }
        }
        if *closing.borrow() {
            return Ended::Closing;
        }
        loop {
            tokio::select! {
                received = live.recv() => {
                    let first = match received {
                        Ok(message) => message,
                        Err(RecvError::Lagged(_)) => return Ended::Lagged,
                        Err(RecvError::Closed) => return Ended::Gone,
                    };
                    // Take whatever else is already queued and send it with one flush: under load this turns
                    // one write per line into one write per batch.
                    let mut batch = vec![first];
                    while batch.len() < SEND_BATCH {
                        match live.try_recv() {
                            Ok(message) => batch.push(message),
                            Err(TryRecvError::Lagged(_)) => return Ended::Lagged,
                            Err(_) => break,
                        }
                    }
                    let mut texts = Vec::with_capacity(batch.len());
                    let mut ended = false;
                    for message in batch {
                        if message.seq.is_some_and(|seq| seq <= last) {
                            continue;
                        }
                        texts.push(message.json.clone());
                        if let Some(seq) = message.seq {
                            last = seq;
                        }
                        if message.end {
                            ended = true;
                            break;
                        }
                    }
                    if !send_all(&mut sink, texts).await {
                        return Ended::Gone;
                    }
                    if ended {
                        return Ended::Finished;
                    }
                },
                _ = closing.changed() => return Ended::Closing,
                from_viewer = incoming.next() => match from_viewer {
                    Some(Ok(message)) if !message.is_close() => {}
                    _ => return Ended::Gone,
                },
            }
        }
    }
    .await;
    drop(live);
    let close = match ended {
        Ended::Finished => Some(Message::close_with(1000u16, "upgrade ended")),
        Ended::Lagged => Some(Message::close_with(
            4000u16,
            "too slow: reconnect with after=<last seq>",
        )),
        Ended::Closing => Some(Message::close_with(1001u16, "the agent is shutting down")),
        Ended::Gone => None,
    };
    if let Some(close) = close {
        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close)).await;
    }
}

/// Sends text messages with one flush; false when the viewer is gone or too slow.
async fn send_all(sink: &mut SplitSink<WebSocket, Message>, texts: Vec<String>) -> bool {
    let sending = async {
        for text in texts {
            sink.feed(Message::text(text)).await?;
        }
        sink.flush().await
    };
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, sending).await,
        Ok(Ok(()))
    )
}
