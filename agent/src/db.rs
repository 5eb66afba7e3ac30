//! The agent's SQLite database: one file in the data directory holding accounts, sessions, version packages, the
//! running deployment, upgrade records with their steps, acknowledgements and logs.
//!
//! WAL mode with `synchronous=NORMAL`: a commit is in the WAL (in the operating system's cache) when it returns, so
//! it survives the agent being killed (SIGKILL); a power loss may lose the last commits. See docs/agent.md.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::{Error, Result};

/// The schema, applied at every start (every statement is idempotent).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    username      TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
-- The account audit: every change to an account and who made it (kept after the account is removed).
CREATE TABLE IF NOT EXISTS account_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL,
    what    TEXT NOT NULL,
    who     TEXT NOT NULL,
    at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token        TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES accounts(username),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    version         TEXT PRIMARY KEY,
    product         TEXT NOT NULL,
    manifest        TEXT NOT NULL,
    file_name       TEXT NOT NULL,
    package         BLOB NOT NULL,
    has_template    INTEGER NOT NULL,
    template_digest TEXT,
    imported_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deployment (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version TEXT NOT NULL REFERENCES versions(version),
    vals    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS upgrades (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    from_version     TEXT NOT NULL,
    from_values      TEXT NOT NULL,
    to_version       TEXT NOT NULL,
    to_values        TEXT NOT NULL,
    mode             TEXT NOT NULL,
    config_kind      TEXT NOT NULL,
    config_file_name TEXT NOT NULL,
    config           BLOB NOT NULL,
    status           TEXT NOT NULL,
    reason           TEXT,
    retry_of         INTEGER REFERENCES upgrades(id),
    started_by       TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    progress_done    INTEGER NOT NULL DEFAULT 0,
    progress_total   INTEGER NOT NULL DEFAULT 0,
    current_step     TEXT NOT NULL DEFAULT '',
    availability     TEXT
);
-- The lock: at most one running upgrade, enforced by the database itself.
CREATE UNIQUE INDEX IF NOT EXISTS one_running_upgrade ON upgrades(status) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS steps (
    upgrade_id  INTEGER NOT NULL REFERENCES upgrades(id),
    seq         INTEGER NOT NULL,
    application TEXT NOT NULL,
    replica     TEXT,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    message     TEXT,
    PRIMARY KEY (upgrade_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    upgrade_id INTEGER NOT NULL REFERENCES upgrades(id),
    who        TEXT NOT NULL,
    what       TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    upgrade_id INTEGER NOT NULL REFERENCES upgrades(id),
    seq        INTEGER NOT NULL,
    ts         TEXT NOT NULL,
    level      TEXT NOT NULL,
    app        TEXT,
    message    TEXT NOT NULL,
    PRIMARY KEY (upgrade_id, seq)
) WITHOUT ROWID;
";

/// A shared handle on the database. Calls are short; the HTTP handlers make them through [`Db::run`], off the
/// async threads.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Connection>>);

impl Db {
    /// Opens (creating if needed) `agent.db` in `data_dir` and applies the schema.
    pub fn open(data_dir: &Path) -> Result<Db> {
        let path = data_dir.join("agent.db");
        let conn = Connection::open(&path)
            .map_err(|e| Error::Database(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db(Arc::new(Mutex::new(conn))))
    }

    /// Locks the connection for a short synchronous use.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back), so the poison is moot.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&mut db.lock()))
            .await
            .map_err(|e| Error::Database(format!("database task ended: {e}")))?
    }
}

/// Now, as RFC 3339 with milliseconds (UTC).
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Now, in seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
