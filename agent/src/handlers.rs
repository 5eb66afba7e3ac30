//! One handler per route; `filters` says which.

use std::time::Duration;

use bytes::Buf;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use shared::api::{
    ClusterView, ConfigKind, LoginRequest, Me, StreamMessage, UpgradeCheck, UpgradeMode,
    UpgradeStarted, UpgradeStatus, VersionImported, ZeroDowntimeDecision,
};
use shared::report::{Finding, Report, Severity};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use warp::filters::multipart::FormData;
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::http::{Response, StatusCode, header};
use warp::{Rejection, Reply};

use crate::accounts::{Logon, SESSION_COOKIE};
use crate::checks::{self, CheckedPackage};
use crate::filters::{LogQuery, State, StreamQuery};
use crate::live::LiveMessage;
use crate::problem::Problem;
use crate::records::{self, NewRecord};
use crate::versions;

/// Longest wait for one websocket send: a viewer slower than this is dropped (it can reconnect).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Log entries read from the database at once when replaying.
const REPLAY_PAGE: u32 = 1000;
/// Most live messages sent with one flush.
const SEND_BATCH: usize = 256;
/// Largest small form field (target version, mode...).
const FIELD_LIMIT: usize = 1024;

fn not_found(what: impl Into<String>) -> Rejection {
    Problem::new(StatusCode::NOT_FOUND, "not-found", what).into()
}

fn bad_request(message: impl Into<String>) -> Rejection {
    Problem::new(StatusCode::BAD_REQUEST, "bad-request", message).into()
}

fn internal(e: crate::Error) -> Rejection {
    Problem::from(e).into()
}

/// A file download with its name.
fn attachment(file_name: &str, bytes: Vec<u8>) -> Result<Response<Vec<u8>>, Rejection> {
    let content_type = if file_name.ends_with(".zip") {
        "application/zip"
    } else if file_name.ends_with(".yaml") || file_name.ends_with(".yml") {
        "application/yaml"
    } else {
        "application/octet-stream"
    };
    // Only safe characters in the header; the name was the client's.
    let safe: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        )
        .body(bytes)
        .map_err(|e| Problem::internal(e).into())
}

/// POST /api/v1/login
pub async fn login(request: LoginRequest, state: State) -> Result<Response<String>, Rejection> {
    match state
        .accounts
        .logon(&request.username, &request.password)
        .await
        .map_err(internal)?
    {
        Logon::Accepted(me, token) => {
            let secure = if state.secure_cookie { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                state.session_idle_secs
            );
            tracing::info!(user = %me.username, "logged on");
            json_response(StatusCode::OK, &me, Some(cookie))
        }
        Logon::Refused { delay } => {
            tracing::warn!(user = %request.username, "failed logon");
            tokio::time::sleep(delay).await;
            Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "wrong username or password",
            )
            .into())
        }
        Logon::Throttled { retry_after } => Err(Problem::Api {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: shared::api::ApiError {
                error: "too-many-attempts".into(),
                message: format!(
                    "too many failed logons for this account; try again in {retry_after} s"
                ),
                running: None,
            },
            retry_after: Some(retry_after),
        }
        .into()),
    }
}

fn json_response<T: serde::Serialize>(
    status: StatusCode,
    body: &T,
    cookie: Option<String>,
) -> Result<Response<String>, Rejection> {
    let text = serde_json::to_string(body).map_err(Problem::internal)?;
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        builder = builder.header(header::SET_COOKIE, cookie);
    }
    builder.body(text).map_err(|e| Problem::internal(e).into())
}

/// POST /api/v1/logout
pub async fn logout(token: Option<String>, state: State) -> Result<Response<String>, Rejection> {
    if let Some(token) = token {
        state.accounts.logout(token).await.map_err(internal)?;
    }
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    json_response(
        StatusCode::OK,
        &serde_json::json!({"logged_out": true}),
        Some(expired),
    )
}

/// GET /api/v1/cluster
pub async fn cluster(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let (running, operation) = state
        .db
        .run(|conn| {
            let running = versions::running_deployment(conn)?;
            let operation = match records::running_id(conn)? {
                Some(id) => records::summary(conn, id)?,
                None => None,
            };
            Ok((running, operation))
        })
        .await
        .map_err(internal)?;
    let running = running.ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "no-deployment",
            "no version is running yet: start the agent with --bootstrap-package",
        )
    })?;
    Ok(warp::reply::json(&ClusterView {
        product: running.manifest.product,
        version: running.manifest.version,
        platform: state.platform.clone(),
        applications: state.ops.engine().applications(),
        operation,
    }))
}

/// GET /api/v1/cluster/values
pub async fn cluster_values(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let running = state
        .db
        .run(|conn| versions::running(conn))
        .await
        .map_err(internal)?;
    let (_, values) = running.ok_or_else(|| not_found("no version is running yet"))?;
    Ok(warp::reply::with_header(
        values,
        header::CONTENT_TYPE,
        "application/yaml",
    ))
}

/// GET /api/v1/versions
pub async fn versions_list(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let list = state
        .db
        .run(|conn| {
            let running = versions::running(conn)?.map(|(v, _)| v);
            versions::list(conn, running.as_deref())
        })
        .await
        .map_err(internal)?;
    Ok(warp::reply::json(&list))
}

/// GET /api/v1/versions/{version}
pub async fn version_manifest(
    version: String,
    _me: Me,
    state: State,
) -> Result<impl Reply, Rejection> {
    let v = version.clone();
    let manifest = state
        .db
        .run(move |conn| versions::manifest(conn, &v))
        .await
        .map_err(internal)?;
    let manifest = manifest.ok_or_else(|| not_found(format!("version {version} is not known")))?;
    Ok(warp::reply::json(&manifest))
}

/// GET /api/v1/versions/{version}/package
pub async fn version_package(
    version: String,
    _me: Me,
    state: State,
) -> Result<impl Reply, Rejection> {
    let v = version.clone();
    let package = state
        .db
        .run(move |conn| versions::package(conn, &v))
        .await
        .map_err(internal)?;
    let package = package.ok_or_else(|| not_found(format!("version {version} is not known")))?;
    attachment(&package.file_name, package.bytes)
}

/// The file name of an upload: from `Content-Disposition` when given, else from its content type.
fn upload_file_name(content_type: Option<&str>, disposition: Option<&str>) -> String {
    let from_disposition = disposition.and_then(|d| {
        d.split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("filename="))
            .map(|n| n.trim_matches('"').to_string())
    });
    from_disposition
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            if content_type.is_some_and(|t| t.starts_with("application/zip")) {
                "package.zip".into()
            } else {
                "version.yaml".into()
            }
        })
}

/// POST /api/v1/versions
pub async fn version_import(
    me: Me,
    content_type: Option<String>,
    disposition: Option<String>,
    body: bytes::Bytes,
    state: State,
) -> Result<impl Reply, Rejection> {
    let file_name = upload_file_name(content_type.as_deref(), disposition.as_deref());
    let limits = state.limits;
    let name = file_name.clone();
    let bytes = body.clone();
    let (report, package) =
        tokio::task::spawn_blocking(move || checks::version_package(&name, &bytes, &limits))
            .await
            .map_err(Problem::internal)?;
    let package = match package {
        Some(package) if report.ok => package,
        _ => return Err(Problem::Invalid(report).into()),
    };
    let version = checks::normalize_version(&package.manifest().version);
    let v = version.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let tx = conn.transaction()?;
            if let Some(id) = records::running_id(&tx)?
                && let Some(plan) = records::plan(&tx, id)?
                && (plan.to_version == v || plan.from_version == v)
            {
                return Ok(Err(id));
            }
            let created = versions::import(&tx, &package, &file_name, &body)?;
            tx.commit()?;
            Ok(Ok(created))
        })
        .await
        .map_err(internal)?;
    match outcome {
        Ok(created) => {
            tracing::info!(user = %me.username, %version, created, "version package imported");
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(warp::reply::with_status(
                warp::reply::json(&VersionImported { version, created }),
                status,
            ))
        }
        Err(running) => Err(Problem::Api {
            status: StatusCode::CONFLICT,
            body: shared::api::ApiError {
                error: "upgrade-running".into(),
                message: format!(
                    "upgrade {running} to or from {version} is running; import it again afterwards"
                ),
                running: Some(running),
            },
            retry_after: None,
        }
        .into()),
    }
}

/// The fields of the upgrade form.
#[derive(Debug, Default)]
struct UpgradeForm {
    /// `target_version`.
    target_version: Option<String>,
    /// `mode`.
    mode: Option<String>,
    /// `config_kind`.
    config_kind: Option<String>,
    /// `config`: file name and bytes.
    config: Option<(String, Vec<u8>)>,
    /// `risk_accepted`.
    risk_accepted: bool,
    /// `template_mismatch_confirmed`.
    template_mismatch_confirmed: bool,
}

/// Reads the multipart form, bounding every field.
async fn read_form(mut form: FormData, max_file: u64) -> Result<UpgradeForm, Rejection> {
    let mut fields = UpgradeForm::default();
    while let Some(part) = form
        .try_next()
        .await
        .map_err(|e| bad_request(format!("unreadable form: {e}")))?
    {
        let name = part.name().to_string();
        let file_name = part.filename().map(str::to_string);
        let limit = if name == "config" {
            max_file as usize
        } else {
            FIELD_LIMIT
        };
        let mut data = Vec::new();
        let mut stream = part.stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| bad_request(format!("unreadable form field `{name}`: {e}")))?;
            if data.len() + chunk.remaining() > limit {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    format!("form field `{name}` is larger than {limit} bytes"),
                )
                .into());
            }
            data.extend_from_slice(chunk.chunk());
        }
        let text = || String::from_utf8_lossy(&data).trim().to_string();
        match name.as_str() {
            "target_version" => fields.target_version = Some(text()),
            "mode" => fields.mode = Some(text()),
            "config_kind" => fields.config_kind = Some(text()),
            "risk_accepted" => fields.risk_accepted = text() == "true",
            "template_mismatch_confirmed" => fields.template_mismatch_confirmed = text() == "true",
            "config" => {
                fields.config = Some((file_name.unwrap_or_else(|| "values.yaml".into()), data))
            }
            _ => {}
        }
    }
    Ok(fields)
}

fn parse_word<T: serde::de::DeserializeOwned>(
    field: &str,
    value: Option<&str>,
    expected: &str,
) -> Result<T, Rejection> {
    let value = value
        .ok_or_else(|| bad_request(format!("form field `{field}` is missing ({expected})")))?;
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        bad_request(format!(
            "form field `{field}` is `{value}`; expected {expected}"
        ))
    })
}

/// What the checks say about an upgrade form.
struct Assessment {
    /// The configuration's report (with `target-not-newer` when it applies).
    report: Report,
    /// The zero-downtime decision.
    decision: ZeroDowntimeDecision,
    /// The configuration kind.
    kind: ConfigKind,
    /// The configuration file: name and bytes.
    config: (String, Vec<u8>),
    /// The target version as stored.
    target: String,
    /// The values.yaml the target would run with.
    values: Option<String>,
    /// The running version and values.
    running: (String, String),
}

/// Runs every check on an upgrade form, as the console does.
async fn assess(form: &UpgradeForm, state: &State) -> Result<Assessment, Rejection> {
    let target = form
        .target_version
        .clone()
        .ok_or_else(|| bad_request("form field `target_version` is missing"))?;
    let kind: ConfigKind = parse_word(
        "config_kind",
        form.config_kind.as_deref(),
        "`standard` or `non-standard`",
    )?;
    let config = form
        .config
        .clone()
        .ok_or_else(|| bad_request("form field `config` (the configuration file) is missing"))?;
    let t = target.clone();
    let (running, current, wanted) = state
        .db
        .run(move |conn| {
            let running = versions::running(conn)?;
            let current = match &running {
                Some((version, _)) => versions::package(conn, version)?,
                None => None,
            };
            Ok((running, current, versions::package(conn, &t)?))
        })
        .await
        .map_err(internal)?;
    let running = running.ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "no-deployment",
            "no version is running yet, so there is nothing to upgrade",
        )
    })?;
    let wanted = wanted.ok_or_else(|| {
        not_found(format!(
            "version {target} is not known: upload its package first"
        ))
    })?;
    let current = current.ok_or_else(|| {
        Problem::internal(format!(
            "the running version {} has no stored package",
            running.0
        ))
    })?;
    let limits = state.limits;
    let online = running.1.clone();
    let (file_name, bytes) = config.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let recheck = |stored: &versions::StoredPackage| -> Result<CheckedPackage, String> {
            let (report, package) =
                checks::version_package(&stored.file_name, &stored.bytes, &limits);
            package.filter(|_| report.ok).ok_or_else(|| {
                format!(
                    "stored package {} no longer passes the checks",
                    stored.file_name
                )
            })
        };
        let current = recheck(&current)?;
        let wanted = recheck(&wanted)?;
        let decision = checks::zero_downtime(&current, &wanted);
        let (report, values) =
            checks::configuration(kind, &wanted, &file_name, &bytes, &online, &limits);
        Ok::<_, String>((
            decision,
            report,
            values,
            checks::normalize_version(&wanted.manifest().version),
        ))
    })
    .await
    .map_err(Problem::internal)?
    .map_err(Problem::internal)?;
    let (decision, mut report, values, target) = checked;
    let decision = match decision {
        Ok(decision) => decision,
        Err(not_newer) => {
            report.findings.insert(0, (*not_newer).clone());
            report.ok = false;
            ZeroDowntimeDecision {
                allowed: false,
                reasons: vec![*not_newer],
            }
        }
    };
    Ok(Assessment {
        report,
        decision,
        kind,
        config,
        target,
        values,
        running,
    })
}

/// POST /api/v1/upgrades/check
pub async fn upgrades_check(
    _me: Me,
    form: FormData,
    state: State,
) -> Result<impl Reply, Rejection> {
    let form = read_form(form, state.limits.max_upload_bytes).await?;
    let assessment = assess(&form, &state).await?;
    Ok(warp::reply::json(&UpgradeCheck {
        report: assessment.report,
        zero_downtime: assessment.decision,
    }))
}

/// POST /api/v1/upgrades
pub async fn upgrade_start(me: Me, form: FormData, state: State) -> Result<impl Reply, Rejection> {
    let form = read_form(form, state.limits.max_upload_bytes).await?;
    let mode: UpgradeMode = parse_word(
        "mode",
        form.mode.as_deref(),
        "`zero-downtime` or `downtime`",
    )?;
    let Assessment {
        mut report,
        decision,
        kind,
        config,
        target,
        values,
        running,
    } = assess(&form, &state).await?;
    if mode == UpgradeMode::ZeroDowntime && !decision.allowed {
        report
            .findings
            .extend(decision.reasons.into_iter().map(|mut reason| {
                reason.severity = Severity::Error;
                reason.message = format!("zero-downtime is not possible: {}", reason.message);
                reason
            }));
    }
    let needs_confirmation = report.findings.iter().any(|f| f.needs_confirmation);
    if needs_confirmation && !form.template_mismatch_confirmed {
        report.findings.push(Finding::error(
            "confirmation-required",
            "the configuration's template differs from the version's: confirm it (template_mismatch_confirmed=true)",
        ));
    }
    if !form.risk_accepted {
        report.findings.push(Finding::error(
            "risk-not-accepted",
            "accept the risk disclaimer (risk_accepted=true) to start an upgrade",
        ));
    }
    report.ok = !report
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    let values = match values {
        Some(values) if report.ok => values,
        _ => {
            report.ok = false;
            return Err(Problem::Invalid(report).into());
        }
    };
    let mut acknowledgements = vec!["started", "risk-accepted"];
    if needs_confirmation {
        acknowledgements.push("template-mismatch-confirmed");
    }
    let (config_file_name, config) = config;
    let new = NewRecord {
        from_version: running.0,
        from_values: running.1,
        to_version: target,
        to_values: values,
        mode,
        config_kind: kind,
        config_file_name,
        config,
        started_by: me.username.clone(),
        retry_of: None,
        acknowledgements,
    };
    let id = state.ops.start(new).await.map_err(Problem::from)?;
    tracing::info!(user = %me.username, upgrade = id, "upgrade started");
    Ok(warp::reply::with_status(
        warp::reply::json(&UpgradeStarted { id }),
        StatusCode::ACCEPTED,
    ))
}

/// GET /api/v1/upgrades
pub async fn upgrades_list(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let list = state
        .db
        .run(|conn| records::list(conn))
        .await
        .map_err(internal)?;
    Ok(warp::reply::json(&list))
}

/// GET /api/v1/upgrades/{id}
pub async fn upgrade_detail(id: i64, _me: Me, state: State) -> Result<impl Reply, Rejection> {
    let replicas = state.ops.engine().applications();
    let detail = state
        .db
        .run(move |conn| records::detail(conn, id, replicas))
        .await
        .map_err(internal)?;
    let detail = detail.ok_or_else(|| not_found(format!("upgrade {id} does not exist")))?;
    Ok(warp::reply::json(&detail))
}

/// POST /api/v1/upgrades/{id}/stop
pub async fn upgrade_stop(id: i64, me: Me, state: State) -> Result<impl Reply, Rejection> {
    state
        .ops
        .stop(id, &me.username)
        .await
        .map_err(Problem::from)?;
    tracing::info!(user = %me.username, upgrade = id, "force stop requested");
    Ok(warp::reply::with_status(
        warp::reply::json(&serde_json::json!({"id": id, "stopping": true})),
        StatusCode::ACCEPTED,
    ))
}

/// POST /api/v1/upgrades/{id}/retry
pub async fn upgrade_retry(id: i64, me: Me, state: State) -> Result<impl Reply, Rejection> {
    let new_id = state
        .ops
        .retry(id, &me.username)
        .await
        .map_err(Problem::from)?;
    tracing::info!(user = %me.username, upgrade = id, retry = new_id, "upgrade retried");
    Ok(warp::reply::with_status(
        warp::reply::json(&UpgradeStarted { id: new_id }),
        StatusCode::ACCEPTED,
    ))
}

/// GET /api/v1/upgrades/{id}/config
pub async fn upgrade_config(id: i64, _me: Me, state: State) -> Result<impl Reply, Rejection> {
    let config = state
        .db
        .run(move |conn| records::config(conn, id))
        .await
        .map_err(internal)?;
    let config = config.ok_or_else(|| not_found(format!("upgrade {id} does not exist")))?;
    attachment(&config.file_name, config.bytes)
}

/// GET /api/v1/upgrades/{id}/logs
pub async fn upgrade_logs(
    id: i64,
    _me: Me,
    query: LogQuery,
    state: State,
) -> Result<impl Reply, Rejection> {
    let limit = query.limit.unwrap_or(1000).clamp(1, 10_000);
    let found = state
        .db
        .run(move |conn| {
            if records::summary(conn, id)?.is_none() {
                return Ok(None);
            }
            records::logs(conn, id, query.after, limit).map(Some)
        })
        .await
        .map_err(internal)?;
    let entries = found.ok_or_else(|| not_found(format!("upgrade {id} does not exist")))?;
    Ok(warp::reply::json(&entries))
}

/// GET /api/v1/upgrades/{id}/logs/stream (websocket)
pub async fn upgrade_log_stream(
    id: i64,
    _me: Me,
    query: StreamQuery,
    ws: Ws,
    state: State,
) -> Result<impl Reply, Rejection> {
    let exists = state
        .db
        .run(move |conn| records::summary(conn, id))
        .await
        .map_err(internal)?
        .is_some();
    if !exists {
        return Err(not_found(format!("upgrade {id} does not exist")));
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
