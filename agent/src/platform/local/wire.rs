//! What the agent and the supervisor say to each other over the supervisor's Unix socket: one JSON object a line.
//! A call opens a connection, sends one [`Request`] line and reads one [`Reply`] line; `watch` and `hold_repairs`
//! keep their connection open (see each).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shared::manifest::Application;

use crate::platform::{Adoption, Health, PlatformError, Replica};

/// Longest line either side reads: a values file is the biggest thing sent, and uploads are bounded well below this.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// One call to the supervisor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Request {
    /// What the supervisor holds now.
    Snapshot,
    /// `Platform::expose`, with the agent's base port.
    Expose {
        /// The application.
        app: Application,
        /// The agent's `--base-port`.
        base_port: u16,
    },
    /// `Platform::start_replica`, the command already resolved by the agent.
    StartReplica {
        /// The application.
        app: Application,
        /// The program to run (absolute).
        command: PathBuf,
        /// The version it runs.
        version: String,
        /// The values.yaml text it runs with.
        values: String,
    },
    /// `Platform::health`.
    Health {
        /// Replica id.
        replica: String,
        /// Readiness path.
        path: String,
    },
    /// `Platform::route_in`.
    RouteIn {
        /// Replica id.
        replica: String,
    },
    /// `Platform::drain_and_stop`.
    DrainAndStop {
        /// Replica id.
        replica: String,
        /// Grace before a kill, in milliseconds.
        grace_ms: u64,
    },
    /// `Platform::adopt`: the agent (re)started.
    Adopt,
    /// Answers a snapshot now and a new one on every change, until the agent closes the connection.
    Watch,
    /// Repairs pause until the agent closes this connection (an upgrade runs).
    HoldRepairs,
    /// Stops every replica, closes the stable addresses, and ends the supervisor.
    StopProduct {
        /// Grace before a kill, in milliseconds.
        grace_ms: u64,
    },
}

/// What the supervisor holds: the agent's cache for `Platform::replicas` and `Platform::address`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The supervisor's pid: another supervisor starts counting changes anew.
    pub supervisor: u32,
    /// Grows with every change, so an older snapshot never replaces a newer one.
    pub generation: u64,
    /// Application name → stable port.
    pub ports: BTreeMap<String, u16>,
    /// Every replica.
    pub replicas: Vec<Replica>,
}

/// The answer to one call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Done, nothing to say.
    Done,
    /// A stable address.
    Address(String),
    /// A new replica's id.
    Replica(String),
    /// A readiness check.
    Health(Health),
    /// What adoption found.
    Adoption(Adoption),
}

/// One reply line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The call succeeded; the snapshot after it.
    Ok {
        /// The answer.
        answer: Answer,
        /// The state right after the call.
        snapshot: Snapshot,
    },
    /// The call failed.
    Err(RemoteError),
}

/// A [`PlatformError`] that crossed the socket: the same variants, the cause as text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteError {
    /// [`PlatformError::Spawn`].
    Spawn {
        /// Application name.
        app: String,
        /// The command.
        command: String,
        /// Why.
        source: String,
    },
    /// [`PlatformError::Listen`].
    Listen {
        /// Application name.
        app: String,
        /// The address.
        address: String,
        /// Why.
        source: String,
    },
    /// [`PlatformError::UnknownReplica`].
    UnknownReplica(String),
    /// [`PlatformError::Io`].
    Io {
        /// The file.
        path: String,
        /// Why.
        source: String,
    },
    /// [`PlatformError::Table`].
    Table {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// [`PlatformError::Supervisor`].
    Supervisor(String),
}

impl From<PlatformError> for RemoteError {
    fn from(e: PlatformError) -> Self {
        match e {
            PlatformError::Spawn {
                app,
                command,
                source,
            } => RemoteError::Spawn {
                app,
                command,
                source: source.to_string(),
            },
            // Not the local platform's own errors: carried as their message.
            e @ (PlatformError::NotRunnable { .. }
            | PlatformError::Kubernetes { .. }
            | PlatformError::Timeout { .. }) => RemoteError::Supervisor(e.to_string()),
            PlatformError::Listen {
                app,
                address,
                source,
            } => RemoteError::Listen {
                app,
                address,
                source: source.to_string(),
            },
            PlatformError::UnknownReplica(id) => RemoteError::UnknownReplica(id),
            PlatformError::Io { path, source } => RemoteError::Io {
                path,
                source: source.to_string(),
            },
            PlatformError::Table { path, message } => RemoteError::Table { path, message },
            PlatformError::Supervisor(message) => RemoteError::Supervisor(message),
        }
    }
}

impl From<RemoteError> for PlatformError {
    fn from(e: RemoteError) -> Self {
        let io = |text: String| std::io::Error::other(text);
        match e {
            RemoteError::Spawn {
                app,
                command,
                source,
            } => PlatformError::Spawn {
                app,
                command,
                source: io(source),
            },
            RemoteError::Listen {
                app,
                address,
                source,
            } => PlatformError::Listen {
                app,
                address,
                source: io(source),
            },
            RemoteError::UnknownReplica(id) => PlatformError::UnknownReplica(id),
            RemoteError::Io { path, source } => PlatformError::Io {
                path,
                source: io(source),
            },
            RemoteError::Table { path, message } => PlatformError::Table { path, message },
            RemoteError::Supervisor(message) => PlatformError::Supervisor(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_error_crosses_the_socket_with_the_same_message() {
        let errors = [
            PlatformError::UnknownReplica("web-3".into()),
            PlatformError::Spawn {
                app: "web".into(),
                command: "/bin/nothing".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            PlatformError::Table {
                path: "/data/platform/replicas.json".into(),
                message: "expected value at line 1".into(),
            },
        ];
        for error in errors {
            let said = error.to_string();
            let line = serde_json::to_string(&Reply::Err(error.into())).unwrap();
            let Reply::Err(remote) = serde_json::from_str::<Reply>(&line).unwrap() else {
                panic!("not an error: {line}");
            };
            assert_eq!(PlatformError::from(remote).to_string(), said);
        }
    }
}
