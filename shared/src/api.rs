//! Request and response bodies of the agent's HTTP and websocket API (api.md), shared so that the console and the
//! agent cannot disagree.

use serde::{Deserialize, Serialize};

use crate::report::{Finding, Report};

/// Every error body that is not a report: `{"error": "<code>", "message": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Stable code, e.g. `unauthorized`, `upgrade-running`.
    pub error: String,
    /// A sentence an operator understands.
    pub message: String,
    /// On 409 while an upgrade runs: its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<i64>,
}

/// `POST /api/v1/login` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Account name.
    pub username: String,
    /// Password in clear, sent over the session's transport.
    pub password: String,
}

/// `POST /api/v1/login` and `GET /api/v1/me` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// Account name.
    pub username: String,
    /// `admin` or `operator`.
    pub role: String,
}

/// The agent's limits for uploads, which the console applies before sending (`GET /api/v1/limits`).
pub use crate::limits::Limits;

/// One replica of an application, as the platform sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaView {
    /// Stable id, e.g. `dataservice-3`.
    pub id: String,
    /// The version it runs.
    pub version: String,
    /// `starting`, `ready`, `draining`, `stopped`, `failed`.
    pub state: String,
    /// Whether it answers its readiness check and receives traffic.
    pub ready: bool,
}

/// One application in `GET /api/v1/cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationView {
    /// Application name from the manifest.
    pub name: String,
    /// Where its traffic goes, e.g. `http://127.0.0.1:18081`.
    pub address: String,
    /// How many ready replicas it should have.
    pub desired_replicas: u32,
    /// Its replicas now.
    pub replicas: Vec<ReplicaView>,
}

/// `GET /api/v1/cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    /// Product name.
    pub product: String,
    /// The version running now.
    pub version: String,
    /// The platform, e.g. `local`.
    pub platform: String,
    /// Its applications in dependency order.
    pub applications: Vec<ApplicationView>,
    /// The upgrade in progress, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<UpgradeSummary>,
}

/// One entry of `GET /api/v1/versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version as written.
    pub version: String,
    /// Product name.
    pub product: String,
    /// When it was imported (RFC 3339).
    pub imported_at: String,
    /// Whether its package carries the template files.
    pub has_template: bool,
    /// The template digest, when it has a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_digest: Option<String>,
    /// Whether it is newer than the running version.
    pub newer_than_running: bool,
}

/// `POST /api/v1/versions` success answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionImported {
    /// The version imported.
    pub version: String,
    /// True when new, false when it replaced a stored package.
    pub created: bool,
}

/// `mode` of an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeMode {
    /// Rolling, replica by replica.
    ZeroDowntime,
    /// Stop everything, then start the new version.
    Downtime,
}

/// `config_kind` of an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigKind {
    /// A values.yaml (or a ZIP with one) checked against the version's configuration items.
    Standard,
    /// A ZIP from O&M with template, overlays and values.yaml.
    NonStandard,
}

/// `status` of an upgrade record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpgradeStatus {
    /// In progress: holds the lock.
    Running,
    /// Every application runs the target version.
    Succeeded,
    /// Failed, and could not be rolled back (or could not be resumed).
    Failed,
    /// Failed and returned to the old version.
    RolledBack,
    /// Force-stopped by an operator; can be retried.
    Stopped,
}

/// `{done, total}` of an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Steps finished.
    pub done: u32,
    /// Steps planned.
    pub total: u32,
}

/// One line of `GET /api/v1/upgrades`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeSummary {
    /// Record id.
    pub id: i64,
    /// Version running when it started.
    pub from_version: String,
    /// Target version.
    pub to_version: String,
    /// Rolling or downtime.
    pub mode: UpgradeMode,
    /// Standard or non-standard configuration.
    pub config_kind: ConfigKind,
    /// Where it stands.
    pub status: UpgradeStatus,
    /// Who started it.
    pub started_by: String,
    /// RFC 3339.
    pub started_at: String,
    /// RFC 3339, when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Steps done of total.
    pub progress: Progress,
    /// Why it failed, rolled back or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a retry: the record it continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<i64>,
}

/// One step of an upgrade (start a replica, wait for it, drain one, stop one...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    /// 1-based order within the upgrade.
    pub seq: u32,
    /// Application name.
    pub application: String,
    /// Replica id, when the step is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// What the step does, in words (`start`, `ready`, `drain`, `stop`...).
    pub action: String,
    /// `pending`, `running`, `done`, `failed`, `skipped`.
    pub status: String,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An acknowledgement or audit event: who did what, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Account name.
    pub who: String,
    /// `started`, `risk-accepted`, `template-mismatch-confirmed`, `stopped`, `retried`.
    pub what: String,
    /// RFC 3339.
    pub when: String,
}

/// What the availability probe measured during an upgrade.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Availability {
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Successful calls over all calls, 1.0 when none failed.
    pub success_ratio: f64,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
    /// Worst call in milliseconds.
    pub max_ms: f64,
    /// Downtime measured in downtime mode (seconds), when it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_seconds: Option<f64>,
}

/// `GET /api/v1/upgrades/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeDetail {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: UpgradeSummary,
    /// Its steps in order.
    pub steps: Vec<StepView>,
    /// Who accepted, confirmed, stopped, retried.
    pub acknowledgements: Vec<AuditEvent>,
    /// What the probe measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
    /// Which replicas run which version now.
    pub replicas: Vec<ApplicationView>,
    /// File name of the configuration used.
    pub config_file_name: String,
}

/// `POST /api/v1/upgrades` answer (and retry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeStarted {
    /// The new record's id.
    pub id: i64,
}

/// The zero-downtime decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZeroDowntimeDecision {
    /// Whether a rolling upgrade is possible.
    pub allowed: bool,
    /// One finding per rule that failed (`zero-downtime-segments-differ`...).
    pub reasons: Vec<Finding>,
}

/// `POST /api/v1/upgrades/check` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpgradeCheck {
    /// The configuration's report.
    pub report: Report,
    /// Whether zero-downtime is possible, and why not.
    pub zero_downtime: ZeroDowntimeDecision,
}

/// One log entry of an upgrade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Per upgrade, from 1, no gaps.
    pub seq: u64,
    /// RFC 3339 with milliseconds.
    pub ts: String,
    /// `info`, `warn`, `error`.
    pub level: String,
    /// The application it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The line.
    pub message: String,
}

/// A message on `GET /api/v1/upgrades/{id}/logs/stream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StreamMessage {
    /// A log line.
    Log(LogEntry),
    /// The progress changed.
    Progress {
        /// Steps finished.
        done: u32,
        /// Steps planned.
        total: u32,
        /// Status of the upgrade.
        status: UpgradeStatus,
        /// The current step in words.
        step: String,
    },
    /// The upgrade ended; no more messages follow.
    End {
        /// Final status.
        status: UpgradeStatus,
    },
}
