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
    /// What the account may do.
    pub role: Role,
}

/// What an account may do; each role may do everything the roles before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
// Read through `FromStr`, so that a request naming no role is told the word and the roles there are.
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Role {
    /// Reads records, logs, the cluster and versions.
    Viewer,
    /// Also uploads versions, checks, starts, stops and retries upgrades.
    Operator,
    /// Also manages accounts.
    Admin,
}

impl Role {
    /// Every role, from the least to the most allowed.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The role's word, as stored and sent: `viewer`, `operator`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// `Ok` when this role may do what needs `needed` (each role may do what the roles below it may), else the
    /// refusal naming both.
    pub fn may(self, needed: Role) -> Result<(), RoleRefusal> {
        if self >= needed {
            Ok(())
        } else {
            Err(RoleRefusal { needed, have: self })
        }
    }
}

/// Why an account may not do something: its role is below the one needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleRefusal {
    /// The role needed.
    pub needed: Role,
    /// The account's role.
    pub have: Role,
}

impl RoleRefusal {
    /// The one sentence for it, in the agent's 403 and beside every control the console disables:
    /// `Starting an upgrade needs the operator role; you have the viewer role.`
    pub fn sentence(&self, what: &str) -> String {
        format!(
            "{what} needs the {} role; you have the {} role.",
            self.needed, self.have
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role (viewer, operator or admin)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(word: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == word)
            .ok_or_else(|| UnknownRole(word.to_string()))
    }
}

impl TryFrom<String> for Role {
    type Error = UnknownRole;

    fn try_from(word: String) -> Result<Role, UnknownRole> {
        word.parse()
    }
}

/// One account in `GET /api/v1/accounts` (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The account's name.
    pub username: String,
    /// Its role as stored: `viewer`, `operator` or `admin` (a word that names no role is shown as it is).
    pub role: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When its latest open session began (RFC 3339); none once all its sessions have ended.
    pub last_logon: Option<String>,
}

/// One entry of the account audit: who changed which account, how and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChange {
    /// The account changed.
    pub account: String,
    /// What was done, e.g. `added with the operator role`, `role operator -> admin`, `removed; its sessions ended`.
    pub what: String,
    /// Who did it: the account of the session, or `agent users (OS user <name>)` for the command line.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
}

/// `GET /api/v1/accounts`: every account by name, and the newest changes to accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountList {
    /// Every account, by name.
    pub accounts: Vec<AccountView>,
    /// The newest entries of the account audit, newest first (at most 50).
    pub changes: Vec<AccountChange>,
}

/// `POST /api/v1/accounts` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// The account's name: 1 to 64 letters, digits, dots, dashes or underscores.
    pub username: String,
    /// What it may do.
    pub role: Role,
    /// Its password (at least 12 characters).
    pub password: String,
}

/// `PUT /api/v1/accounts/{name}/role` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    /// The new role.
    pub role: Role,
}

/// `PUT /api/v1/accounts/{name}/password` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    /// The new password (at least 12 characters).
    pub password: String,
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
    /// Its phase: `starting`, `ready`, `draining`, `stopped`, `failed`.
    pub state: String,
    /// Whether it answers its readiness check and receives traffic.
    pub ready: bool,
    /// Where it runs: the Kubernetes node, or the host name of the machine on the local platform; `None` while the
    /// platform has not placed it (a pod not scheduled yet).
    #[serde(default)]
    pub node: Option<String>,
    /// Why it is not ready, in the platform's words (`CrashLoopBackOff: ...`, `killed by signal 9`,
    /// `readiness check failing: ...`); `None` when ready.
    #[serde(default)]
    pub reason: Option<String>,
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

/// What the availability probes measured during an upgrade: all declared probes together, then each.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Availability {
    /// Calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Successful calls over all calls; absent when no call was made, so that zero calls never read as success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_ratio: Option<f64>,
    /// Latency percentiles in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
    /// Worst call in milliseconds.
    pub max_ms: f64,
    /// Downtime measured in downtime mode (seconds), when it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downtime_seconds: Option<f64>,
    /// Each probe the version declares, in manifest order; empty when it declares none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeMeasurement>,
}

/// What a version without probes records, logs and shows.
pub const NO_PROBE: &str = "no availability probe declared";

impl Availability {
    /// What the operator reads instead of a percentage when no call was made, `None` when calls were made.
    pub fn no_call_reason(&self) -> Option<&'static str> {
        match (self.calls, self.probes.is_empty()) {
            (0, true) => Some(NO_PROBE),
            (0, false) => Some("no call made"),
            _ => None,
        }
    }
}

/// What one declared probe measured.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProbeMeasurement {
    /// The probe's name in the manifest.
    pub name: String,
    /// `http`, `job` or `logon`.
    pub kind: String,
    /// The application it calls.
    pub application: String,
    /// Calls made (a job counts once, from submit to done).
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Successful calls over all calls; absent when no call was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_ratio: Option<f64>,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile in milliseconds.
    pub p99_ms: f64,
    /// Worst call in milliseconds.
    pub max_ms: f64,
    /// The first few failure reasons, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_failures: Vec<String>,
    /// Its calls over time, for the console's chart.
    #[serde(default, skip_serializing_if = "ProbeSeries::is_empty")]
    pub series: ProbeSeries,
}

/// Most buckets a [`ProbeSeries`] keeps before it halves its resolution (plus the one still filling), so that a
/// long upgrade's record stays small: 2 minutes at 1 s a bucket, then 4 at 2 s, 8 at 4 s, and so on.
pub const MAX_SERIES_POINTS: usize = 120;

/// A probe's calls over time: consecutive buckets of equal length from the moment the probes started.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProbeSeries {
    /// Seconds each bucket covers: 1, doubled each time the buckets would exceed [`MAX_SERIES_POINTS`].
    pub bucket_seconds: u32,
    /// The buckets in time order; the last one may still be filling.
    pub points: Vec<SeriesPoint>,
}

impl ProbeSeries {
    /// True when there is no bucket (no call was made).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// The calls that ended within one bucket of a [`ProbeSeries`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Calls that ended in the bucket.
    pub calls: u32,
    /// Of which failed.
    pub failures: u32,
    /// 99th percentile latency in milliseconds (for merged buckets, the higher of the two: an upper bound).
    pub p99_ms: f64,
    /// Slowest call in milliseconds.
    pub max_ms: f64,
}

/// `GET /api/v1/upgrades/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "UpgradeDetailFields")]
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

/// [`UpgradeDetail`] as it is read: the summary's fields beside the detail's, regrouped afterwards. This is what
/// `#[serde(flatten)]` does, without the buffering code flatten generates for reading (16 KB of the console's
/// wasm, docs/console.md); writing keeps `flatten`. A field added to [`UpgradeSummary`] is added here too, or the
/// compiler says so in the `From` below.
#[derive(Deserialize)]
struct UpgradeDetailFields {
    id: i64,
    from_version: String,
    to_version: String,
    mode: UpgradeMode,
    config_kind: ConfigKind,
    status: UpgradeStatus,
    started_by: String,
    started_at: String,
    #[serde(default)]
    finished_at: Option<String>,
    progress: Progress,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    retry_of: Option<i64>,
    steps: Vec<StepView>,
    acknowledgements: Vec<AuditEvent>,
    #[serde(default)]
    availability: Option<Availability>,
    replicas: Vec<ApplicationView>,
    config_file_name: String,
}

impl From<UpgradeDetailFields> for UpgradeDetail {
    fn from(f: UpgradeDetailFields) -> UpgradeDetail {
        UpgradeDetail {
            summary: UpgradeSummary {
                id: f.id,
                from_version: f.from_version,
                to_version: f.to_version,
                mode: f.mode,
                config_kind: f.config_kind,
                status: f.status,
                started_by: f.started_by,
                started_at: f.started_at,
                finished_at: f.finished_at,
                progress: f.progress,
                reason: f.reason,
                retry_of: f.retry_of,
            },
            steps: f.steps,
            acknowledgements: f.acknowledgements,
            availability: f.availability,
            replicas: f.replicas,
            config_file_name: f.config_file_name,
        }
    }
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
#[serde(tag = "type", rename_all = "lowercase", try_from = "StreamFields")]
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

/// [`StreamMessage`] as it is read: one object with a `type` and the fields of every kind, then checked. The same
/// as serde's internally tagged enum, without the buffering code it generates for reading (docs/console.md);
/// writing keeps the tag.
#[derive(Deserialize)]
struct StreamFields {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<u64>,
    ts: Option<String>,
    level: Option<String>,
    app: Option<String>,
    message: Option<String>,
    done: Option<u32>,
    total: Option<u32>,
    status: Option<UpgradeStatus>,
    step: Option<String>,
}

impl TryFrom<StreamFields> for StreamMessage {
    type Error = String;

    fn try_from(f: StreamFields) -> Result<StreamMessage, String> {
        let missing = |field: &str| format!("a `{}` message without `{field}`", f.kind);
        match f.kind.as_str() {
            "log" => Ok(StreamMessage::Log(LogEntry {
                seq: f.seq.ok_or_else(|| missing("seq"))?,
                ts: f.ts.ok_or_else(|| missing("ts"))?,
                level: f.level.ok_or_else(|| missing("level"))?,
                app: f.app,
                message: f.message.ok_or_else(|| missing("message"))?,
            })),
            "progress" => Ok(StreamMessage::Progress {
                done: f.done.ok_or_else(|| missing("done"))?,
                total: f.total.ok_or_else(|| missing("total"))?,
                status: f.status.ok_or_else(|| missing("status"))?,
                step: f.step.ok_or_else(|| missing("step"))?,
            }),
            "end" => Ok(StreamMessage::End {
                status: f.status.ok_or_else(|| missing("status"))?,
            }),
            other => Err(format!(
                "unknown message type `{other}` (expected log, progress or end)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(optional: bool) -> UpgradeDetail {
        let some = |text: &str| optional.then(|| text.to_string());
        UpgradeDetail {
            summary: UpgradeSummary {
                id: 7,
                from_version: "V5.1.2.02".into(),
                to_version: "V5.1.2.04".into(),
                mode: UpgradeMode::ZeroDowntime,
                config_kind: ConfigKind::NonStandard,
                status: UpgradeStatus::RolledBack,
                started_by: "admin".into(),
                started_at: "2026-11-25T10:00:00.000Z".into(),
                finished_at: some("2026-11-25T10:05:00.000Z"),
                progress: Progress { done: 3, total: 9 },
                reason: some("web-1 never became ready"),
                retry_of: optional.then_some(6),
            },
            steps: vec![StepView {
                seq: 1,
                application: "web".into(),
                replica: some("web-1"),
                action: "start".into(),
                status: "failed".into(),
                started_at: some("2026-11-25T10:00:01.000Z"),
                finished_at: None,
                message: some("not ready within 60 s"),
            }],
            acknowledgements: vec![AuditEvent {
                who: "admin".into(),
                what: "accepted the risk".into(),
                when: "2026-11-25T10:00:00.000Z".into(),
            }],
            availability: optional.then_some(Availability {
                calls: 1200,
                failures: 0,
                success_ratio: Some(1.0),
                p50_ms: 2.0,
                p99_ms: 9.5,
                max_ms: 30.0,
                downtime_seconds: None,
                probes: vec![ProbeMeasurement {
                    name: "dataservice-query".into(),
                    kind: "http".into(),
                    application: "dataservice".into(),
                    calls: 1200,
                    failures: 0,
                    success_ratio: Some(1.0),
                    p50_ms: 2.0,
                    p99_ms: 9.5,
                    max_ms: 30.0,
                    first_failures: vec![],
                    series: ProbeSeries {
                        bucket_seconds: 1,
                        points: vec![SeriesPoint {
                            calls: 5,
                            failures: 1,
                            p99_ms: 9.5,
                            max_ms: 9.5,
                        }],
                    },
                }],
            }),
            replicas: vec![ApplicationView {
                name: "web".into(),
                address: "127.0.0.1:18081".into(),
                desired_replicas: 1,
                replicas: vec![ReplicaView {
                    id: "web-1".into(),
                    version: "V5.1.2.02".into(),
                    state: "ready".into(),
                    ready: true,
                    node: some("worker-1"),
                    reason: None,
                }],
            }],
            config_file_name: "bundle.zip".into(),
        }
    }

    #[test]
    fn roles_are_ordered_by_what_they_allow_and_read_back_from_their_word() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::json!(role.as_str())
            );
        }
        assert_eq!(
            "Admin".parse::<Role>().unwrap_err().to_string(),
            "`Admin` is not a role (viewer, operator or admin)"
        );
        let refused = serde_json::from_str::<Me>(r#"{"username":"x","role":"root"}"#)
            .expect_err("no such role");
        assert!(
            refused
                .to_string()
                .starts_with("`root` is not a role (viewer, operator or admin)"),
            "{refused}"
        );
        assert_eq!(
            serde_json::from_str::<RoleChange>(r#"{"role":"operator"}"#).expect("a role"),
            RoleChange {
                role: Role::Operator
            }
        );
    }

    #[test]
    fn zero_calls_read_as_no_probe_or_no_call_never_as_success() {
        let none = Availability::default();
        assert_eq!(
            serde_json::to_value(&none).unwrap().get("success_ratio"),
            None
        );
        assert_eq!(
            none.no_call_reason(),
            Some("no availability probe declared")
        );
        let silent = Availability {
            probes: vec![ProbeMeasurement::default()],
            ..Availability::default()
        };
        assert_eq!(silent.no_call_reason(), Some("no call made"));
        // A record written before per-probe figures still reads.
        let old: Availability = serde_json::from_str(
            r#"{"calls":3,"failures":0,"success_ratio":1.0,"p50_ms":1,"p99_ms":2,"max_ms":2}"#,
        )
        .unwrap();
        assert_eq!((old.success_ratio, old.no_call_reason()), (Some(1.0), None));
    }

    #[test]
    fn an_upgrade_detail_is_one_flat_object_and_reads_back_as_written() {
        for optional in [true, false] {
            let written = detail(optional);
            let json = serde_json::to_value(&written).unwrap();
            assert_eq!(json["id"], 7, "the summary's fields sit at the top: {json}");
            assert!(json.get("summary").is_none());
            assert_eq!(
                serde_json::from_value::<UpgradeDetail>(json).unwrap(),
                written
            );
        }
    }

    #[test]
    fn a_replica_written_before_nodes_and_reasons_reads_without_them() {
        let old: ReplicaView = serde_json::from_str(
            r#"{"id":"web-1","version":"V5.1.2.02","state":"failed","ready":false}"#,
        )
        .unwrap();
        assert_eq!((old.node, old.reason), (None, None));
    }

    #[test]
    fn stream_messages_read_back_as_written_and_a_broken_one_says_what_is_wrong() {
        let messages = [
            StreamMessage::Log(LogEntry {
                seq: 4,
                ts: "2026-11-25T10:00:01.250Z".into(),
                level: "info".into(),
                app: Some("web".into()),
                message: "web-1 is ready".into(),
            }),
            StreamMessage::Log(LogEntry {
                seq: 5,
                ts: "2026-11-25T10:00:01.300Z".into(),
                level: "warn".into(),
                app: None,
                message: "slow probe".into(),
            }),
            StreamMessage::Progress {
                done: 2,
                total: 9,
                status: UpgradeStatus::Running,
                step: "drain web-1".into(),
            },
            StreamMessage::End {
                status: UpgradeStatus::Succeeded,
            },
        ];
        for message in messages {
            let json = serde_json::to_string(&message).unwrap();
            assert!(json.starts_with(r#"{"type":"#), "{json}");
            assert_eq!(
                serde_json::from_str::<StreamMessage>(&json).unwrap(),
                message
            );
        }
        let read = |json: &str| {
            serde_json::from_str::<StreamMessage>(json)
                .unwrap_err()
                .to_string()
        };
        let error = read(r#"{"type":"progress","done":1,"total":2,"step":"x"}"#);
        assert!(
            error.contains("a `progress` message without `status`"),
            "{error}"
        );
        let error = read(r#"{"type":"hello"}"#);
        assert!(error.contains("unknown message type `hello`"), "{error}");
    }
}
