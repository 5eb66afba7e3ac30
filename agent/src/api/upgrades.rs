//! Upgrades: checking and starting one, the records, stopping and retrying, a record's configuration and log.

use shared::api::{Me, Role, UpgradeCheck, UpgradeStarted};
use shared::start::{self, Blocker, Configuration, StartRequest};
use warp::filters::multipart::FormData;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::log_query::{LogQuery, log_query};
use super::problem::Problem;
use super::upgrade_form::{Assessment, MODES, assess, read_form};
use super::{State, attachment, session_with, with_state};
use crate::records::{self, NewRecord};

/// Room for the multipart framing and the form's small fields around the configuration file.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[
    ("/api/v1/upgrades/check", "POST"),
    ("/api/v1/upgrades", "GET, POST"),
    ("/api/v1/upgrades/{id}", "GET"),
    ("/api/v1/upgrades/{id}/stop", "POST"),
    ("/api/v1/upgrades/{id}/retry", "POST"),
    ("/api/v1/upgrades/{id}/config", "GET"),
    ("/api/v1/upgrades/{id}/logs", "GET"),
];

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    check(state.clone())
        .or(start(state.clone()))
        .or(list(state.clone()))
        .or(detail(state.clone()))
        .or(stop(state.clone()))
        .or(retry(state.clone()))
        .or(config(state.clone()))
        .or(logs(state))
}

/// POST /api/v1/upgrades/check
pub fn check(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.limits.max_upload_bytes + FORM_OVERHEAD;
    warp::path!("api" / "v1" / "upgrades" / "check")
        .and(warp::post())
        .and(session_with(state.clone(), Role::Operator))
        .and(warp::multipart::form().max_length(limit))
        .and(with_state(state))
        .and_then(check_form)
}

async fn check_form(_me: Me, form: FormData, state: State) -> Result<impl Reply, Rejection> {
    let form = read_form(form, state.limits.max_upload_bytes).await?;
    let assessment = assess(&form, &state).await?;
    Ok(warp::reply::json(&UpgradeCheck {
        report: assessment.report,
        zero_downtime: assessment.decision,
    }))
}

/// POST /api/v1/upgrades
pub fn start(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.limits.max_upload_bytes + FORM_OVERHEAD;
    warp::path!("api" / "v1" / "upgrades")
        .and(warp::post())
        .and(session_with(state.clone(), start::ROLE_NEEDED))
        .and(warp::multipart::form().max_length(limit))
        .and(with_state(state))
        .and_then(start_upgrade)
}

async fn start_upgrade(me: Me, form: FormData, state: State) -> Result<impl Reply, Rejection> {
    let form = read_form(form, state.limits.max_upload_bytes).await?;
    let mode = form
        .mode
        .ok_or_else(|| Problem::bad_request(format!("form field `mode` is missing ({MODES})")))?;
    let Assessment {
        mut report,
        decision,
        kind,
        config,
        from_version,
        from,
        to_version,
        to_manifest,
        values,
    } = assess(&form, &state).await?;
    let running = state
        .db
        .run(|conn| records::running_id(conn))
        .await
        .map_err(Problem::from)?;
    // The rules the console showed before Start Upgrade, decided by the same function.
    let blockers = start::blockers(&StartRequest {
        role: me.role,
        running,
        target: Some(&to_version),
        configuration: Configuration::Checked(&report),
        mismatch_confirmed: form.template_mismatch_confirmed,
        decision: Some(&decision),
        mode: Some(mode),
        risk_accepted: form.risk_accepted,
    });
    match blockers.first() {
        None => {}
        Some(Blocker::Role(refusal)) => {
            return Err(Problem::forbidden(refusal.sentence(start::ACTION)).into());
        }
        Some(Blocker::Running(id)) => return Err(Problem::upgrade_running(*id).into()),
        Some(_) => {
            report
                .findings
                .extend(blockers.iter().flat_map(Blocker::findings));
            report.ok = false;
            return Err(Problem::Invalid(report).into());
        }
    }
    // A report without errors comes with the values; should one not, nothing starts.
    let Some(values) = values else {
        report.ok = false;
        return Err(Problem::Invalid(report).into());
    };
    let mut acknowledgements = vec!["started", "risk-accepted"];
    if start::needs_confirmation(&report) {
        acknowledgements.push("template-mismatch-confirmed");
    }
    let (config_file_name, config) = config;
    let new = NewRecord {
        from_version,
        from_values: from.values,
        to_version,
        to_values: values,
        mode,
        config_kind: kind,
        config_file_name,
        config,
        started_by: me.username.clone(),
        retry_of: None,
        acknowledgements,
    };
    // The manifests read and checked above go to the engine as they are: nothing is read or checked twice.
    let id = state
        .ops
        .start(new, from.manifest, to_manifest)
        .await
        .map_err(Problem::from)?;
    tracing::info!(user = %me.username, upgrade = id, "upgrade started");
    Ok(warp::reply::with_status(
        warp::reply::json(&UpgradeStarted { id }),
        StatusCode::ACCEPTED,
    ))
}

/// GET /api/v1/upgrades
pub fn list(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(list_upgrades)
}

async fn list_upgrades(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let list = state
        .db
        .run(|conn| records::list(conn))
        .await
        .map_err(Problem::from)?;
    Ok(warp::reply::json(&list))
}

/// GET /api/v1/upgrades/{id}
pub fn detail(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64)
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(show_detail)
}

async fn show_detail(id: i64, _me: Me, state: State) -> Result<impl Reply, Rejection> {
    let replicas = state.ops.engine().applications();
    let detail = state
        .db
        .run(move |conn| records::detail(conn, id, replicas))
        .await
        .map_err(Problem::from)?;
    let detail =
        detail.ok_or_else(|| Problem::not_found(format!("upgrade {id} does not exist")))?;
    Ok(warp::reply::json(&detail))
}

/// POST /api/v1/upgrades/{id}/stop
pub fn stop(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "stop")
        .and(warp::post())
        .and(session_with(state.clone(), Role::Operator))
        .and(with_state(state))
        .and_then(stop_upgrade)
}

async fn stop_upgrade(id: i64, me: Me, state: State) -> Result<impl Reply, Rejection> {
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
pub fn retry(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "retry")
        .and(warp::post())
        .and(session_with(state.clone(), Role::Operator))
        .and(with_state(state))
        .and_then(retry_upgrade)
}

async fn retry_upgrade(id: i64, me: Me, state: State) -> Result<impl Reply, Rejection> {
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
pub fn config(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "config")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(download_config)
}

async fn download_config(id: i64, _me: Me, state: State) -> Result<impl Reply, Rejection> {
    let config = state
        .db
        .run(move |conn| records::config(conn, id))
        .await
        .map_err(Problem::from)?;
    let config =
        config.ok_or_else(|| Problem::not_found(format!("upgrade {id} does not exist")))?;
    attachment(&config.file_name, config.bytes)
}

/// GET /api/v1/upgrades/{id}/logs
pub fn logs(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "logs")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(log_query())
        .and(with_state(state))
        .and_then(read_logs)
}

async fn read_logs(
    id: i64,
    _me: Me,
    query: LogQuery,
    state: State,
) -> Result<impl Reply, Rejection> {
    let found = state
        .db
        .run(move |conn| {
            if records::summary(conn, id)?.is_none() {
                return Ok(None);
            }
            records::logs(conn, id, query.after, query.limit).map(Some)
        })
        .await
        .map_err(Problem::from)?;
    let entries =
        found.ok_or_else(|| Problem::not_found(format!("upgrade {id} does not exist")))?;
    Ok(warp::reply::json(&entries))
}
