//! The replica table of the local platform, persisted by the supervisor in the data dir after every change (temp
//! file + rename), so that a supervisor killed at any moment finds on restart the replicas it had started.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::platform::{PlatformError, ReplicaState, Result};

/// One replica process as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRecord {
    /// Stable id, e.g. `web-3`.
    pub id: String,
    /// Application name.
    pub app: String,
    /// Version it runs.
    pub version: String,
    /// Fingerprint of its values.
    pub config: String,
    /// Process id.
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22), so that a reused pid is
    /// never taken for the replica.
    pub start_ticks: u64,
    /// Loopback port it listens on.
    pub port: u16,
    /// Where it stands.
    pub state: ReplicaState,
    /// How to start it again when it ends unexpectedly (absent in tables written before the supervisor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
}

/// How a replica was started, so that the supervisor can start it again the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Launch {
    /// The program (absolute).
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The values file it runs with.
    pub values: PathBuf,
    /// Its readiness path.
    pub readiness_path: String,
    /// How long it may take to become ready.
    pub ready_within_secs: u32,
}

/// Everything the local platform persists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaTable {
    /// The number the next replica id gets.
    pub next_number: u64,
    /// The base port the stable ports were given from; another base gives them anew.
    #[serde(default)]
    pub base_port: u16,
    /// Application name → stable port, kept while the base port stays the same.
    pub ports: BTreeMap<String, u16>,
    /// The replicas, in start order.
    pub replicas: Vec<ReplicaRecord>,
}

impl ReplicaTable {
    /// The file inside the platform's data dir.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("replicas.json")
    }

    /// Reads the table; a missing file is an empty table.
    pub fn load(dir: &Path) -> Result<ReplicaTable> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| PlatformError::Table {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ReplicaTable::default()),
            Err(source) => Err(PlatformError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the table atomically: a reader (or a restart) sees the old table or the new one, never half.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = Self::path(dir);
        let tmp = dir.join("replicas.json.tmp");
        let io = |source| PlatformError::Io {
            path: tmp.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| PlatformError::Table {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(&bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(|source| PlatformError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The record of a replica.
    pub fn get(&self, id: &str) -> Option<&ReplicaRecord> {
        self.replicas.iter().find(|r| r.id == id)
    }

    /// The record of a replica, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut ReplicaRecord> {
        self.replicas.iter_mut().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_table_reads_back_and_a_missing_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            ReplicaTable::load(dir.path()).unwrap(),
            ReplicaTable::default()
        );
        let mut table = ReplicaTable {
            next_number: 3,
            ..Default::default()
        };
        table.ports.insert("web".into(), 18081);
        table.replicas.push(ReplicaRecord {
            id: "web-2".into(),
            app: "web".into(),
            version: "V5.1.2.02".into(),
            config: "abc".into(),
            pid: 42,
            start_ticks: 7,
            port: 40000,
            state: ReplicaState::Exited("killed by signal 9".into()),
            launch: Some(Launch {
                command: "/bin/demo-app".into(),
                args: vec!["--role".into(), "web".into()],
                values: "/data/platform/values/V5.1.2.02-abc.yaml".into(),
                readiness_path: "/healthz".into(),
                ready_within_secs: 20,
            }),
        });
        table.save(dir.path()).unwrap();
        assert_eq!(ReplicaTable::load(dir.path()).unwrap(), table);
        assert!(!dir.path().join("replicas.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_table_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(ReplicaTable::path(dir.path()), b"{not json").unwrap();
        let err = ReplicaTable::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("replicas.json"), "{err}");
    }
}
