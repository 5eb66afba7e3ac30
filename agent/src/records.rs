//! Upgrade records in the database: the record itself (whose `running` status is the lock), its steps,
//! acknowledgements, availability and log entries.

use rusqlite::types::Type;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{
    ApplicationView, AuditEvent, Availability, ConfigKind, LogEntry, Progress, StepView,
    UpgradeDetail, UpgradeMode, UpgradeStatus, UpgradeSummary,
};

use crate::db;
use crate::{Error, Result};

/// A record about to be created.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The version running when it starts (for a retry: when the original started).
    pub from_version: String,
    /// The values running then.
    pub from_values: String,
    /// The target version.
    pub to_version: String,
    /// The target values.yaml, as the checks extracted it.
    pub to_values: String,
    /// Rolling or downtime.
    pub mode: UpgradeMode,
    /// Standard or non-standard configuration.
    pub config_kind: ConfigKind,
    /// The configuration file's name as uploaded.
    pub config_file_name: String,
    /// The configuration file, bytes as uploaded.
    pub config: Vec<u8>,
    /// Who starts it.
    pub started_by: String,
    /// The record it retries.
    pub retry_of: Option<i64>,
    /// Audit events recorded with it: `started`, `risk-accepted`, `template-mismatch-confirmed`...
    pub acknowledgements: Vec<&'static str>,
}

/// What creating a record gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The new record's id; it holds the lock.
    Started(i64),
    /// Another record holds the lock.
    Refused {
        /// The running record.
        running: i64,
    },
}

/// A stored configuration file.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Its file name as uploaded.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What the engine needs to run a record.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Rolling or downtime.
    pub mode: UpgradeMode,
    /// Version running when it started.
    pub from_version: String,
    /// Values running when it started.
    pub from_values: String,
    /// Target version.
    pub to_version: String,
    /// Target values.
    pub to_values: String,
}

/// The word a serde enum serializes to (`zero-downtime`, `rolled_back`...).
pub fn word<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn from_word<T: DeserializeOwned>(row: &Row, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

/// Creates a record holding the lock, with its acknowledgements, in one transaction; refused when another record
/// runs.
pub fn create(conn: &mut Connection, new: &NewRecord) -> Result<Created> {
    let tx = conn.transaction()?;
    let now = db::now();
    let inserted = tx.execute(
        "INSERT INTO upgrades (from_version, from_values, to_version, to_values, mode, config_kind,
                               config_file_name, config, status, retry_of, started_by, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9, ?10, ?11)",
        params![
            new.from_version,
            new.from_values,
            new.to_version,
            new.to_values,
            word(new.mode),
            word(new.config_kind),
            new.config_file_name,
            new.config,
            new.retry_of,
            new.started_by,
            now
        ],
    );
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            drop(tx);
            let running = running_id(conn)?.unwrap_or_default();
            return Ok(Created::Refused { running });
        }
        Err(e) => return Err(e.into()),
    }
    let id = tx.last_insert_rowid();
    for what in &new.acknowledgements {
        tx.execute(
            "INSERT INTO audit (upgrade_id, who, what, at) VALUES (?1, ?2, ?3, ?4)",
            params![id, new.started_by, what, now],
        )?;
    }
    tx.commit()?;
    Ok(Created::Started(id))
}

/// The record holding the lock, if any.
pub fn running_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM upgrades WHERE status = 'running'",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

const SUMMARY_COLUMNS: &str =
    "id, from_version, to_version, mode, config_kind, status, started_by, started_at,
    finished_at, progress_done, progress_total, reason, retry_of";

fn summary_of(r: &Row) -> rusqlite::Result<UpgradeSummary> {
    Ok(UpgradeSummary {
        id: r.get(0)?,
        from_version: r.get(1)?,
        to_version: r.get(2)?,
        mode: from_word(r, 3)?,
        config_kind: from_word(r, 4)?,
        status: from_word(r, 5)?,
        started_by: r.get(6)?,
        started_at: r.get(7)?,
        finished_at: r.get(8)?,
        progress: Progress {
            done: r.get(9)?,
            total: r.get(10)?,
        },
        reason: r.get(11)?,
        retry_of: r.get(12)?,
    })
}

/// Every record, newest first.
pub fn list(conn: &Connection) -> Result<Vec<UpgradeSummary>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM upgrades ORDER BY id DESC"
    ))?;
    let rows = stmt
        .query_map([], summary_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One record's summary.
pub fn summary(conn: &Connection, id: i64) -> Result<Option<UpgradeSummary>> {
    Ok(conn
        .query_row(
            &format!("SELECT {SUMMARY_COLUMNS} FROM upgrades WHERE id = ?1"),
            [id],
            summary_of,
        )
        .optional()?)
}

/// One record with its steps, acknowledgements and availability; `replicas` is the replica map now.
pub fn detail(
    conn: &Connection,
    id: i64,
    replicas: Vec<ApplicationView>,
) -> Result<Option<UpgradeDetail>> {
    let Some(summary) = summary(conn, id)? else {
        return Ok(None);
    };
    let (config_file_name, availability): (String, Option<String>) = conn.query_row(
        "SELECT config_file_name, availability FROM upgrades WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let availability =
        availability.and_then(|json| serde_json::from_str::<Availability>(&json).ok());
    let mut stmt = conn.prepare(
        "SELECT seq, application, replica, action, status, started_at, finished_at, message
         FROM steps WHERE upgrade_id = ?1 ORDER BY seq",
    )?;
    let steps = stmt
        .query_map([id], |r| {
            Ok(StepView {
                seq: r.get(0)?,
                application: r.get(1)?,
                replica: r.get(2)?,
                action: r.get(3)?,
                status: r.get(4)?,
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                message: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut stmt =
        conn.prepare("SELECT who, what, at FROM audit WHERE upgrade_id = ?1 ORDER BY id")?;
    let acknowledgements = stmt
        .query_map([id], |r| {
            Ok(AuditEvent {
                who: r.get(0)?,
                what: r.get(1)?,
                when: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(UpgradeDetail {
        summary,
        steps,
        acknowledgements,
        availability,
        replicas,
        config_file_name,
    }))
}

/// The configuration file of a record, bytes as uploaded.
pub fn config(conn: &Connection, id: i64) -> Result<Option<ConfigFile>> {
    Ok(conn
        .query_row(
            "SELECT config_file_name, config FROM upgrades WHERE id = ?1",
            [id],
            |r| {
                Ok(ConfigFile {
                    file_name: r.get(0)?,
                    bytes: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// What a record's run needs, and the record as it would be retried.
pub fn plan(conn: &Connection, id: i64) -> Result<Option<RunPlan>> {
    Ok(conn
        .query_row(
            "SELECT mode, from_version, from_values, to_version, to_values FROM upgrades WHERE id = ?1",
            [id],
            |r| {
                Ok(RunPlan {
                    mode: from_word(r, 0)?,
                    from_version: r.get(1)?,
                    from_values: r.get(2)?,
                    to_version: r.get(3)?,
                    to_values: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// The full new record that retries `id` (same target and configuration, same starting point).
pub fn retry_of(conn: &Connection, id: i64, who: &str) -> Result<Option<NewRecord>> {
    Ok(conn
        .query_row(
            "SELECT from_version, from_values, to_version, to_values, mode, config_kind, config_file_name, config
             FROM upgrades WHERE id = ?1",
            [id],
            |r| {
                Ok(NewRecord {
                    from_version: r.get(0)?,
                    from_values: r.get(1)?,
                    to_version: r.get(2)?,
                    to_values: r.get(3)?,
                    mode: from_word(r, 4)?,
                    config_kind: from_word(r, 5)?,
                    config_file_name: r.get(6)?,
                    config: r.get(7)?,
                    started_by: who.to_string(),
                    retry_of: Some(id),
                    acknowledgements: vec!["retried"],
                })
            },
        )
        .optional()?)
}

/// Records an audit event on a record.
pub fn audit(conn: &Connection, id: i64, who: &str, what: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (upgrade_id, who, what, at) VALUES (?1, ?2, ?3, ?4)",
        params![id, who, what, db::now()],
    )?;
    Ok(())
}

/// Ends a running record with its final status (releasing the lock); when it succeeded the target becomes the
/// running deployment, in the same transaction.
pub fn finish(
    conn: &mut Connection,
    id: i64,
    status: UpgradeStatus,
    reason: Option<&str>,
) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE upgrades SET status = ?2, reason = ?3, finished_at = ?4 WHERE id = ?1 AND status = 'running'",
        params![id, word(status), reason, db::now()],
    )?;
    if status == UpgradeStatus::Succeeded {
        tx.execute(
            "INSERT INTO deployment (id, version, vals) SELECT 1, to_version, to_values FROM upgrades WHERE id = ?1
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, vals = excluded.vals",
            [id],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Appends a log line with the next seq of its upgrade (allocated in the same transaction).
pub fn append_log(
    conn: &mut Connection,
    id: i64,
    level: &str,
    app: Option<&str>,
    message: &str,
) -> Result<LogEntry> {
    let tx = conn.transaction()?;
    let seq: u64 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM logs WHERE upgrade_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let ts = db::now();
    tx.execute(
        "INSERT INTO logs (upgrade_id, seq, ts, level, app, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, seq, ts, level, app, message],
    )?;
    tx.commit()?;
    Ok(LogEntry {
        seq,
        ts,
        level: level.into(),
        app: app.map(str::to_string),
        message: message.into(),
    })
}

/// Log entries of an upgrade with seq > `after`, at most `limit`.
pub fn logs(conn: &Connection, id: i64, after: u64, limit: u32) -> Result<Vec<LogEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, ts, level, app, message FROM logs WHERE upgrade_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt
        .query_map(params![id, after, limit], |r| {
            Ok(LogEntry {
                seq: r.get(0)?,
                ts: r.get(1)?,
                level: r.get(2)?,
                app: r.get(3)?,
                message: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Sets the number of planned steps.
pub fn set_total(conn: &Connection, id: i64, total: u32) -> Result<Progress> {
    conn.execute(
        "UPDATE upgrades SET progress_total =
             MAX(?2, (SELECT COUNT(*) FROM steps WHERE upgrade_id = ?1))
         WHERE id = ?1",
        params![id, total],
    )?;
    progress(conn, id)
}

/// Records a step that begins; returns its seq.
pub fn start_step(
    conn: &mut Connection,
    id: i64,
    application: &str,
    replica: Option<&str>,
    action: &str,
    message: &str,
) -> Result<u32> {
    let tx = conn.transaction()?;
    let seq: u32 = tx.query_row(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM steps WHERE upgrade_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    tx.execute(
        "INSERT INTO steps (upgrade_id, seq, application, replica, action, status, started_at, message)
         VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6, ?7)",
        params![id, seq, application, replica, action, db::now(), message],
    )?;
    tx.execute(
        "UPDATE upgrades SET current_step = ?2 WHERE id = ?1",
        params![id, message],
    )?;
    tx.commit()?;
    Ok(seq)
}

/// Recounts the steps finished. A failure adds steps the plan did not have (the failed one, the rollback's), so the
/// total grows with them: the progress never says "28 of 27".
const RECOUNT_DONE: &str = "UPDATE upgrades SET
         progress_done = (SELECT COUNT(*) FROM steps
                          WHERE upgrade_id = ?1 AND status IN ('done', 'failed', 'skipped')),
         progress_total = MAX(progress_total, (SELECT COUNT(*) FROM steps WHERE upgrade_id = ?1))
     WHERE id = ?1";

/// Records how a step ended and recounts the steps done.
pub fn finish_step(
    conn: &mut Connection,
    id: i64,
    seq: u32,
    status: &str,
    message: &str,
) -> Result<Progress> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE steps SET status = ?3, finished_at = ?4, message = ?5 WHERE upgrade_id = ?1 AND seq = ?2",
        params![id, seq, status, db::now(), message],
    )?;
    tx.execute(RECOUNT_DONE, [id])?;
    tx.commit()?;
    progress(conn, id)
}

/// Marks the steps a crash interrupted as failed (the engine redoes what is needed when it resumes).
pub fn interrupt_steps(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE steps SET status = 'failed', finished_at = ?2,
             message = COALESCE(message, '') || ' (interrupted: the agent stopped during this step)'
         WHERE upgrade_id = ?1 AND status = 'running'",
        params![id, db::now()],
    )?;
    conn.execute(RECOUNT_DONE, [id])?;
    Ok(())
}

/// Whether an operator asked record `id` to stop.
pub fn stop_requested(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM audit WHERE upgrade_id = ?1 AND what = 'stopped')",
        [id],
        |r| r.get(0),
    )?)
}

/// Steps done of planned, and the current step in words.
pub fn progress(conn: &Connection, id: i64) -> Result<Progress> {
    Ok(conn.query_row(
        "SELECT progress_done, progress_total FROM upgrades WHERE id = ?1",
        [id],
        |r| {
            Ok(Progress {
                done: r.get(0)?,
                total: r.get(1)?,
            })
        },
    )?)
}

/// The current step in words.
pub fn current_step(conn: &Connection, id: i64) -> Result<String> {
    Ok(conn.query_row(
        "SELECT current_step FROM upgrades WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// Replaces what the availability probe measured.
pub fn set_availability(conn: &Connection, id: i64, measured: &Availability) -> Result<()> {
    let json = serde_json::to_string(measured).map_err(|e| Error::Database(e.to_string()))?;
    conn.execute(
        "UPDATE upgrades SET availability = ?2 WHERE id = ?1",
        params![id, json],
    )?;
    Ok(())
}
