//! Fan-out of an upgrade's log lines and progress to its websocket viewers.
//!
//! One bounded broadcast channel per upgrade that has viewers. A message is sent after it is persisted, by the
//! writer holding the database lock, so messages arrive in seq order. Sending never waits: a viewer that falls
//! more than [`CAPACITY`] messages behind is told it lagged and is closed; it reconnects with its last seq.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use shared::api::StreamMessage;
use tokio::sync::broadcast;

/// Messages a viewer may fall behind before it is dropped.
pub const CAPACITY: usize = 4096;

/// One message for the viewers of an upgrade, serialized once for all of them.
#[derive(Debug)]
pub struct LiveMessage {
    /// The log seq, for log lines (viewers skip what they already replayed).
    pub seq: Option<u64>,
    /// Whether it is the `end` message.
    pub end: bool,
    /// The JSON text sent on the websocket.
    pub json: String,
}

impl LiveMessage {
    /// Serializes a stream message.
    pub fn new(message: &StreamMessage) -> LiveMessage {
        let seq = match message {
            StreamMessage::Log(entry) => Some(entry.seq),
            _ => None,
        };
        LiveMessage {
            seq,
            end: matches!(message, StreamMessage::End { .. }),
            json: serde_json::to_string(message).unwrap_or_default(),
        }
    }
}

/// The channels of the upgrades being watched.
#[derive(Clone, Default)]
pub struct Live(Arc<Mutex<HashMap<i64, broadcast::Sender<Arc<LiveMessage>>>>>);

impl Live {
    fn channels(&self) -> MutexGuard<'_, HashMap<i64, broadcast::Sender<Arc<LiveMessage>>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends to the viewers of upgrade `id`, if any; never waits.
    pub fn send(&self, id: i64, message: &StreamMessage) {
        let channels = self.channels();
        if let Some(sender) = channels.get(&id) {
            // An error only means nobody listens right now.
            let _ = sender.send(Arc::new(LiveMessage::new(message)));
        }
    }

    /// Starts following upgrade `id`: every message sent from now on.
    pub fn subscribe(&self, id: i64) -> broadcast::Receiver<Arc<LiveMessage>> {
        self.channels()
            .entry(id)
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe()
    }

    /// How many viewers follow an upgrade live now (each holds one receiver while its websocket is open).
    pub fn viewers(&self) -> usize {
        self.channels()
            .values()
            .map(broadcast::Sender::receiver_count)
            .sum()
    }

    /// Forgets the channel of upgrade `id` when nobody follows it any more (call after dropping a receiver).
    pub fn release(&self, id: i64) {
        let mut channels = self.channels();
        if channels.get(&id).is_some_and(|s| s.receiver_count() == 0) {
            channels.remove(&id);
        }
    }
}
