//! What `GET /metrics` reports, in the Prometheus text format (docs/agent.md lists every metric).
//!
//! Everything about upgrades is read from the records at each scrape: the records are the truth, survive restarts,
//! and the engine stays as it is. Only what the records do not keep is counted here: failed logons (since the
//! agent started) and the live log viewers (read from the live fan-out).

use std::fmt;
use std::path::Path;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use rusqlite::Connection;
use shared::api::UpgradeStatus;
use subtle::ConstantTimeEq;

use crate::records::word;
use crate::{Error, Result};

/// Upper bounds (seconds) of the step-duration buckets: a stop takes a fraction of a second, a replica that is
/// slow to become ready minutes.
const STEP_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// The largest token file read: a token is a line.
const MAX_TOKEN_BYTES: u64 = 4096;

/// Every status a record can have, so that each is reported, zero included.
const STATUSES: [UpgradeStatus; 5] = [
    UpgradeStatus::Running,
    UpgradeStatus::Succeeded,
    UpgradeStatus::Failed,
    UpgradeStatus::RolledBack,
    UpgradeStatus::Stopped,
];

/// The bearer token a Prometheus scraper presents, read from `--metrics-token-file`.
#[derive(Clone)]
pub struct MetricsToken(String);

impl fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

impl MetricsToken {
    /// Reads the token from `path`: its content without the surrounding white space (a trailing newline); an
    /// empty file is an error, as a token everybody knows would be.
    pub fn read(path: &Path) -> Result<MetricsToken> {
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io)?.len();
        if size > MAX_TOKEN_BYTES {
            return Err(Error::Config(format!(
                "{}: {size} bytes is too large for a metrics token (at most {MAX_TOKEN_BYTES})",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let token = text.trim();
        if token.is_empty() {
            return Err(Error::Config(format!(
                "{}: the metrics token file is empty",
                path.display()
            )));
        }
        Ok(MetricsToken(token.to_string()))
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// Why a logon failed, as the `reason` label says it.
#[derive(Debug, Clone, Copy)]
pub enum LogonFailure {
    /// Wrong account name or password.
    Refused,
    /// Refused unchecked: too many failures in a row.
    Throttled,
}

/// Labels of the logon failures counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    /// `refused` or `throttled`.
    reason: String,
}

/// What the agent counts itself, since it started.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    /// Failed logons by reason.
    logon_failures: Family<ReasonLabels, Counter>,
}

impl Metrics {
    /// Counts a failed logon.
    pub fn logon_failed(&self, why: LogonFailure) {
        let reason = match why {
            LogonFailure::Refused => "refused",
            LogonFailure::Throttled => "throttled",
        };
        self.logon_failures
            .get_or_create(&ReasonLabels {
                reason: reason.into(),
            })
            .inc();
    }

    /// The Prometheus text of `records` (read just before), these counters and `log_viewers`.
    pub fn encode(&self, records: &RecordFigures, log_viewers: usize) -> Result<String> {
        let mut registry = Registry::default();
        let upgrades = Family::<Vec<(String, String)>, Gauge>::default();
        for (status, count) in &records.by_status {
            upgrades
                .get_or_create(&vec![("status".into(), word(status))])
                .set(*count);
        }
        registry.register(
            "upgrade_manager_upgrades",
            "Upgrade records by status (running, succeeded, failed, rolled_back, stopped)",
            upgrades,
        );
        if let Some(running) = &records.running {
            let labels = vec![("upgrade".to_string(), running.id.to_string())];
            let done = Family::<Vec<(String, String)>, Gauge>::default();
            done.get_or_create(&labels).set(running.done);
            registry.register(
                "upgrade_manager_running_upgrade_steps_done",
                "Steps finished of the running upgrade",
                done,
            );
            let planned = Family::<Vec<(String, String)>, Gauge>::default();
            planned.get_or_create(&labels).set(running.planned);
            registry.register(
                "upgrade_manager_running_upgrade_steps_planned",
                "Steps planned of the running upgrade (grows when a rollback adds steps)",
                planned,
            );
            registry.register(
                "upgrade_manager_running_upgrade_step",
                "The running upgrade's current step, in words",
                Info::new(vec![
                    ("upgrade".to_string(), running.id.to_string()),
                    ("step".to_string(), running.step.clone()),
                ]),
            );
        }
        registry.register_with_unit(
            "upgrade_manager_step_duration",
            "How long upgrade steps that ran (done or failed) took, by action",
            Unit::Seconds,
            StepDurations(records.step_durations.clone()),
        );
        let calls = Family::<Vec<(String, String)>, Counter>::default();
        let failures = Family::<Vec<(String, String)>, Counter>::default();
        for probe in &records.probes {
            let labels = probe.labels.to_vec();
            calls.get_or_create(&labels).inc_by(probe.calls);
            failures.get_or_create(&labels).inc_by(probe.failures);
        }
        registry.register(
            "upgrade_manager_probe_calls",
            "Availability probe calls made during upgrades, by probe",
            calls,
        );
        registry.register(
            "upgrade_manager_probe_failures",
            "Availability probe calls that failed during upgrades, by probe",
            failures,
        );
        let latency =
            Family::<Vec<(String, String)>, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        for probe in &records.latency {
            for (quantile, seconds) in [("0.5", probe.p50), ("0.99", probe.p99), ("1", probe.max)] {
                let mut labels = probe.labels.to_vec();
                labels.push(("quantile".into(), quantile.into()));
                latency.get_or_create(&labels).set(seconds);
            }
        }
        registry.register_with_unit(
            "upgrade_manager_probe_latency",
            "Availability probe latency of the latest upgrade that measured it, by probe and quantile \
             (1: the slowest call)",
            Unit::Seconds,
            latency,
        );
        registry.register(
            "upgrade_manager_logon_failures",
            "Failed logons since the agent started, by reason (refused: wrong name or password; throttled)",
            self.logon_failures.clone(),
        );
        let viewers = Gauge::<i64>::default();
        viewers.set(i64::try_from(log_viewers).unwrap_or(i64::MAX));
        registry.register(
            "upgrade_manager_log_viewers",
            "Live log viewers connected now",
            viewers,
        );
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .map_err(|e| Error::Metrics(e.to_string()))?;
        Ok(text)
    }
}

/// The Content-Type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The running upgrade's progress.
#[derive(Debug, Clone)]
pub struct RunningFigures {
    /// Its record's id.
    pub id: i64,
    /// Steps finished.
    pub done: i64,
    /// Steps planned.
    pub planned: i64,
    /// The current step in words.
    pub step: String,
}

/// The durations of one action's steps, as histogram buckets.
#[derive(Debug, Clone)]
pub struct ActionDurations {
    /// The step action, e.g. `start`, `ready`, `drain`.
    pub action: String,
    /// Steps per bucket of [`STEP_BUCKETS`] (not cumulative), then those beyond the last.
    pub buckets: Vec<u64>,
    /// Seconds in total.
    pub sum: f64,
    /// Steps in total.
    pub count: u64,
}

/// One probe's calls over every record.
#[derive(Debug, Clone)]
pub struct ProbeTotals {
    /// `probe`, `application` and `kind` labels.
    pub labels: [(String, String); 3],
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
}

/// One probe's latency in the latest record that measured it.
#[derive(Debug, Clone)]
pub struct ProbeLatency {
    /// `probe`, `application` and `kind` labels.
    pub labels: [(String, String); 3],
    /// Median, seconds.
    pub p50: f64,
    /// 99th percentile, seconds.
    pub p99: f64,
    /// Slowest call, seconds.
    pub max: f64,
}

/// What the records say at one scrape; every query aggregates in SQLite, so a scrape's memory does not grow with
/// the history.
#[derive(Debug, Clone, Default)]
pub struct RecordFigures {
    /// Records per status, every status listed.
    pub by_status: Vec<(UpgradeStatus, i64)>,
    /// The running upgrade, if any.
    pub running: Option<RunningFigures>,
    /// Step durations by action.
    pub step_durations: Vec<ActionDurations>,
    /// Probe calls by probe, over every record.
    pub probes: Vec<ProbeTotals>,
    /// Probe latency by probe, of the latest record with a measurement.
    pub latency: Vec<ProbeLatency>,
}

/// Reads the figures of every metric that comes from the records.
pub fn read(conn: &mut Connection) -> Result<RecordFigures> {
    let mut figures = RecordFigures::default();
    let mut counts = std::collections::HashMap::new();
    let mut statement = conn.prepare("SELECT status, COUNT(*) FROM upgrades GROUP BY status")?;
    let rows = statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (status, count) = row?;
        counts.insert(status, count);
    }
    figures.by_status = STATUSES
        .iter()
        .map(|status| (*status, counts.get(&word(status)).copied().unwrap_or(0)))
        .collect();

    figures.running = conn
        .query_row(
            "SELECT id, progress_done, progress_total, current_step FROM upgrades WHERE status = 'running'",
            [],
            |r| {
                Ok(RunningFigures {
                    id: r.get(0)?,
                    done: r.get(1)?,
                    planned: r.get(2)?,
                    step: r.get(3)?,
                })
            },
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;

    figures.step_durations = step_durations(conn)?;

    // A record's availability is replaced as the run goes on, so summing over the records counts each call once.
    let mut statement = conn.prepare(
        "SELECT p.value ->> '$.name', p.value ->> '$.application', p.value ->> '$.kind',
                TOTAL(p.value ->> '$.calls'), TOTAL(p.value ->> '$.failures')
         FROM upgrades u, json_each(CASE WHEN json_valid(u.availability) THEN u.availability END, '$.probes') p
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )?;
    figures.probes = statement
        .query_map([], |r| {
            Ok(ProbeTotals {
                labels: probe_labels(r)?,
                calls: r.get::<_, f64>(3)? as u64,
                failures: r.get::<_, f64>(4)? as u64,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;

    let mut statement = conn.prepare(
        "SELECT p.value ->> '$.name', p.value ->> '$.application', p.value ->> '$.kind',
                p.value ->> '$.p50_ms', p.value ->> '$.p99_ms', p.value ->> '$.max_ms'
         FROM json_each((SELECT availability FROM upgrades
                         WHERE json_valid(availability) AND json_array_length(availability, '$.probes') > 0
                         ORDER BY id DESC LIMIT 1), '$.probes') p",
    )?;
    figures.latency = statement
        .query_map([], |r| {
            let seconds = |i| {
                r.get::<_, Option<f64>>(i)
                    .map(|ms| ms.unwrap_or(0.0) / 1000.0)
            };
            Ok(ProbeLatency {
                labels: probe_labels(r)?,
                p50: seconds(3)?,
                p99: seconds(4)?,
                max: seconds(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(figures)
}

fn probe_labels(r: &rusqlite::Row) -> rusqlite::Result<[(String, String); 3]> {
    let text = |i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default);
    Ok([
        ("probe".into(), text(0)?),
        ("application".into(), text(1)?),
        ("kind".into(), text(2)?),
    ])
}

/// Steps that ran (done or failed) by action and bucket: the bucket is the index of the first bound at or above
/// the duration, [`STEP_BUCKETS`]`.len()` beyond the last.
fn step_durations(conn: &Connection) -> Result<Vec<ActionDurations>> {
    // One CASE over the constant bounds, on durations computed once (materialized): a lookup per step in a table
    // of bounds, or the durations recomputed in each WHEN, made scrapes several times slower.
    let bucket = STEP_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, le)| format!("WHEN s <= {le:?} THEN {i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let sql = format!(
        "WITH took AS MATERIALIZED (SELECT action,
                              unixepoch(finished_at, 'subsec') - unixepoch(started_at, 'subsec') AS s
                       FROM steps
                       WHERE status IN ('done', 'failed'))
         SELECT action, CASE {bucket} ELSE {beyond} END, COUNT(*), TOTAL(MAX(0, s))
         FROM took WHERE s IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        beyond = STEP_BUCKETS.len()
    );
    let mut statement = conn.prepare(&sql)?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, f64>(3)?,
        ))
    })?;
    let mut by_action: Vec<ActionDurations> = Vec::new();
    for row in rows {
        let (action, bucket, count, sum) = row?;
        if by_action.last().is_none_or(|last| last.action != action) {
            by_action.push(ActionDurations {
                action: action.clone(),
                buckets: vec![0; STEP_BUCKETS.len() + 1],
                sum: 0.0,
                count: 0,
            });
        }
        let Some(durations) = by_action.last_mut() else {
            continue;
        };
        let count = u64::try_from(count).unwrap_or(0);
        if let Some(slot) = usize::try_from(bucket)
            .ok()
            .and_then(|b| durations.buckets.get_mut(b))
        {
            *slot += count;
        }
        durations.count += count;
        durations.sum += sum;
    }
    Ok(by_action)
}

/// The step-duration histograms, one per action, encoded from the figures the records gave.
#[derive(Debug)]
struct StepDurations(Vec<ActionDurations>);

impl EncodeMetric for StepDurations {
    fn encode(&self, mut encoder: MetricEncoder) -> std::result::Result<(), fmt::Error> {
        for durations in &self.0 {
            let labels = vec![("action".to_string(), durations.action.clone())];
            // Bucket counts per bucket; the encoder makes them cumulative and adds `+Inf` from the count.
            let buckets: Vec<(f64, u64)> = STEP_BUCKETS
                .iter()
                .copied()
                .zip(durations.buckets.iter().copied())
                .collect();
            encoder
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(durations.sum, durations.count, &buckets, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
