//! Sessions: logon, logout, the session's account, and the limits its console applies.

use shared::api::{ApiError, LoginRequest, Me, Role};
use warp::http::{Response, StatusCode, header};
use warp::{Filter, Rejection, Reply};

use super::problem::Problem;
use super::{State, session_with, with_state};
use crate::accounts::{Logon, SESSION_COOKIE};
use crate::metrics::LogonFailure;

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[
    ("/api/v1/login", "POST"),
    ("/api/v1/logout", "POST"),
    ("/api/v1/me", "GET"),
    ("/api/v1/limits", "GET"),
];

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    login(state.clone())
        .or(logout(state.clone()))
        .or(me(state.clone()))
        .or(limits(state))
}

/// POST /api/v1/login
pub fn login(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "login")
        .and(warp::post())
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::json())
        .and(with_state(state))
        .and_then(log_on)
}

async fn log_on(request: LoginRequest, state: State) -> Result<Response<String>, Rejection> {
    match state
        .accounts
        .logon(&request.username, &request.password)
        .await
        .map_err(Problem::from)?
    {
        Logon::Accepted(me, token) => {
            let secure = if state.secure_cookie { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                state.session_idle_secs
            );
            tracing::info!(user = %me.username, "logged on");
            json_response(&me, cookie)
        }
        Logon::Refused { delay } => {
            tracing::warn!(user = %request.username, "failed logon");
            state.metrics.logon_failed(LogonFailure::Refused);
            tokio::time::sleep(delay).await;
            Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "wrong username or password",
            )
            .into())
        }
        Logon::Throttled { retry_after } => {
            state.metrics.logon_failed(LogonFailure::Throttled);
            Err(Problem::Api {
                status: StatusCode::TOO_MANY_REQUESTS,
                body: ApiError {
                    error: "too-many-attempts".into(),
                    message: format!(
                        "too many failed logons for this account; try again in {retry_after} s"
                    ),
                    running: None,
                },
                retry_after: Some(retry_after),
            }
            .into())
        }
    }
}

/// 200 with a JSON body and a `Set-Cookie`.
fn json_response<T: serde::Serialize>(
    body: &T,
    cookie: String,
) -> Result<Response<String>, Rejection> {
    let text = serde_json::to_string(body).map_err(Problem::internal)?;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::SET_COOKIE, cookie)
        .body(text)
        .map_err(|e| Problem::internal(e).into())
}

/// POST /api/v1/logout
pub fn logout(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "logout")
        .and(warp::post())
        .and(warp::cookie::optional::<String>(SESSION_COOKIE))
        .and(with_state(state))
        .and_then(log_off)
}

async fn log_off(token: Option<String>, state: State) -> Result<Response<String>, Rejection> {
    if let Some(token) = token {
        state.accounts.logout(token).await.map_err(Problem::from)?;
    }
    // `Secure` as the cookie it replaces, so that a browser over TLS accepts the replacement.
    let secure = if state.secure_cookie { "; Secure" } else { "" };
    let expired =
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}");
    json_response(&serde_json::json!({"logged_out": true}), expired)
}

/// GET /api/v1/me
pub fn me(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "me")
        .and(warp::get())
        .and(session_with(state, Role::Viewer))
        .map(|me: Me| warp::reply::json(&me))
}

/// GET /api/v1/limits
pub fn limits(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "limits")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .map(|_: Me, state: State| warp::reply::json(&state.limits))
}
