//! The routes of the API (api.md), one function per route, and the filters they share: state, session, Origin.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use shared::api::Me;
use shared::limits::Limits;
use warp::http::{Method, StatusCode};
use warp::{Filter, Rejection, Reply};

use crate::accounts::{Accounts, SESSION_COOKIE};
use crate::config::Config;
use crate::db::Db;
use crate::handlers;
use crate::operations::Operations;
use crate::problem::{Problem, recover};

/// Room for the multipart framing and the form's small fields around the configuration file.
const FORM_OVERHEAD: u64 = 64 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct State(Arc<Inner>);

/// The shared parts of [`State`].
pub struct Inner {
    /// The database.
    pub db: Db,
    /// Upgrades in progress.
    pub ops: Arc<Operations>,
    /// Accounts and sessions.
    pub accounts: Accounts,
    /// Upload limits.
    pub limits: Limits,
    /// The platform's name.
    pub platform: String,
    /// The built console, if any.
    pub console_dir: Option<PathBuf>,
    /// Origins allowed besides the agent's own.
    pub allowed_origins: Vec<String>,
    /// The address the agent listens on (its own origin when reached directly).
    pub local: SocketAddr,
    /// Whether the session cookie is `Secure`.
    pub secure_cookie: bool,
    /// Session idle expiry, for the cookie's Max-Age.
    pub session_idle_secs: u64,
    /// Turns true when the agent shuts down: live log viewers are closed so that shutdown does not wait on them.
    pub closing: tokio::sync::watch::Sender<bool>,
}

impl std::ops::Deref for State {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl State {
    /// The state of an agent serving on `local`.
    pub fn new(db: Db, ops: Arc<Operations>, config: &Config, local: SocketAddr) -> State {
        State(Arc::new(Inner {
            accounts: Accounts::new(db.clone(), config.session_idle),
            db,
            ops,
            limits: config.limits,
            platform: config.platform.clone(),
            console_dir: config.console_dir.clone(),
            allowed_origins: config
                .allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_string())
                .collect(),
            local,
            secure_cookie: config.secure_cookie,
            session_idle_secs: config.session_idle.as_secs(),
            closing: tokio::sync::watch::channel(false).0,
        }))
    }

    /// Closes every live log viewer (at shutdown; they reconnect to the next agent with their last seq).
    pub fn close_viewers(&self) {
        self.closing.send_replace(true);
    }
}

/// Every route, behind the Origin check, with the one `recover`.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let sessions = login(state.clone())
        .or(logout(state.clone()))
        .or(me(state.clone()))
        .or(limits(state.clone()));
    let cluster = cluster(state.clone()).or(cluster_values(state.clone()));
    let versions = versions_list(state.clone())
        .or(version_manifest(state.clone()))
        .or(version_package(state.clone()))
        .or(version_import(state.clone()));
    let upgrades = upgrades_check(state.clone())
        .or(upgrade_start(state.clone()))
        .or(upgrades_list(state.clone()))
        .or(upgrade_detail(state.clone()))
        .or(upgrade_stop(state.clone()))
        .or(upgrade_retry(state.clone()))
        .or(upgrade_config(state.clone()))
        .or(upgrade_logs(state.clone()))
        .or(upgrade_log_stream(state.clone()));
    let api = sessions
        .boxed()
        .or(cluster.boxed())
        .or(versions.boxed())
        .or(upgrades.boxed());
    let site = healthz()
        .or(root())
        .or(crate::console::routes(state.console_dir.clone()));
    origin_check(state).and(api.or(site)).recover(recover)
}

/// Passes the state to a handler.
fn with_state(state: State) -> impl Filter<Extract = (State,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The account of the request's session; 401 without a valid one.
fn with_session(state: State) -> impl Filter<Extract = (Me,), Error = Rejection> + Clone {
    warp::cookie::optional::<String>(SESSION_COOKIE)
        .and(with_state(state))
        .and_then(|token: Option<String>, state: State| async move {
            let token = token.ok_or_else(Problem::unauthorized)?;
            match state.accounts.session(token).await {
                Ok(Some(me)) => Ok(me),
                Ok(None) => Err(Rejection::from(Problem::unauthorized())),
                Err(e) => Err(Problem::from(e).into()),
            }
        })
}

/// Refuses (403) a state-changing request or a websocket handshake whose `Origin` is neither the agent's own nor
/// an allowed one. Requests without `Origin` (command-line clients) pass: browsers always send it on these.
fn origin_check(state: State) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and(warp::header::optional::<String>("origin"))
        .and(warp::header::optional::<String>("host"))
        .and(warp::header::optional::<String>("upgrade"))
        .and(with_state(state))
        .and_then(
            |method: Method,
             origin: Option<String>,
             host: Option<String>,
             upgrade: Option<String>,
             state: State| async move {
                let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
                let websocket = upgrade.is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
                match origin {
                    Some(origin)
                        if (changes_state || websocket)
                            && !origin_allowed(&state, &origin, host.as_deref()) =>
                    {
                        Err(Rejection::from(Problem::new(
                            StatusCode::FORBIDDEN,
                            "origin-not-allowed",
                            format!("requests from {origin} are not allowed; see --allowed-origin"),
                        )))
                    }
                    _ => Ok(()),
                }
            },
        )
        .untuple_one()
}

fn origin_allowed(state: &State, origin: &str, host: Option<&str>) -> bool {
    let origin = origin.trim_end_matches('/');
    let own = |authority: &str| {
        origin == format!("http://{authority}") || origin == format!("https://{authority}")
    };
    host.is_some_and(own)
        || own(&state.local.to_string())
        || state.allowed_origins.iter().any(|o| o == origin)
}

/// Query of `GET .../logs`.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    /// Entries with seq greater than this.
    #[serde(default)]
    pub after: u64,
    /// At most this many (default 1000, at most 10000).
    pub limit: Option<u32>,
}

/// Query of the log stream.
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    /// Replay entries with seq greater than this, then follow.
    #[serde(default)]
    pub after: u64,
}

/// GET /healthz
pub fn healthz() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "ok"})))
}

/// GET /
pub fn root() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path::end()
        .and(warp::get())
        .map(|| warp::redirect::see_other(warp::http::Uri::from_static("/opsconsole/v2/")))
}

/// POST /api/v1/login
pub fn login(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "login")
        .and(warp::post())
        .and(warp::body::content_length_limit(16 * 1024))
        .and(warp::body::json())
        .and(with_state(state))
        .and_then(handlers::login)
}

/// POST /api/v1/logout
pub fn logout(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "logout")
        .and(warp::post())
        .and(warp::cookie::optional::<String>(SESSION_COOKIE))
        .and(with_state(state))
        .and_then(handlers::logout)
}

/// GET /api/v1/me
pub fn me(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "me")
        .and(warp::get())
        .and(with_session(state))
        .map(|me: Me| warp::reply::json(&me))
}

/// GET /api/v1/limits
pub fn limits(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "limits")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .map(|_: Me, state: State| warp::reply::json(&state.limits))
}

/// GET /api/v1/cluster
pub fn cluster(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "cluster")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::cluster)
}

/// GET /api/v1/cluster/values
pub fn cluster_values(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "cluster" / "values")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::cluster_values)
}

/// GET /api/v1/versions
pub fn versions_list(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "versions")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::versions_list)
}

/// GET /api/v1/versions/{version}
pub fn version_manifest(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "versions" / String)
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::version_manifest)
}

/// GET /api/v1/versions/{version}/package
pub fn version_package(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "versions" / String / "package")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::version_package)
}

/// POST /api/v1/versions
pub fn version_import(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.limits.max_upload_bytes;
    warp::path!("api" / "v1" / "versions")
        .and(warp::post())
        .and(with_session(state.clone()))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<String>("content-disposition"))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with_state(state))
        .and_then(handlers::version_import)
}

/// POST /api/v1/upgrades/check
pub fn upgrades_check(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.limits.max_upload_bytes + FORM_OVERHEAD;
    warp::path!("api" / "v1" / "upgrades" / "check")
        .and(warp::post())
        .and(with_session(state.clone()))
        .and(warp::multipart::form().max_length(limit))
        .and(with_state(state))
        .and_then(handlers::upgrades_check)
}

/// POST /api/v1/upgrades
pub fn upgrade_start(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.limits.max_upload_bytes + FORM_OVERHEAD;
    warp::path!("api" / "v1" / "upgrades")
        .and(warp::post())
        .and(with_session(state.clone()))
        .and(warp::multipart::form().max_length(limit))
        .and(with_state(state))
        .and_then(handlers::upgrade_start)
}

/// GET /api/v1/upgrades
pub fn upgrades_list(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::upgrades_list)
}

/// GET /api/v1/upgrades/{id}
pub fn upgrade_detail(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64)
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::upgrade_detail)
}

/// POST /api/v1/upgrades/{id}/stop
pub fn upgrade_stop(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "stop")
        .and(warp::post())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::upgrade_stop)
}

/// POST /api/v1/upgrades/{id}/retry
pub fn upgrade_retry(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "retry")
        .and(warp::post())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::upgrade_retry)
}

/// GET /api/v1/upgrades/{id}/config
pub fn upgrade_config(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "config")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(with_state(state))
        .and_then(handlers::upgrade_config)
}

/// GET /api/v1/upgrades/{id}/logs
pub fn upgrade_logs(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "logs")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(warp::query::<LogQuery>())
        .and(with_state(state))
        .and_then(handlers::upgrade_logs)
}

/// GET /api/v1/upgrades/{id}/logs/stream (websocket)
pub fn upgrade_log_stream(
    state: State,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "upgrades" / i64 / "logs" / "stream")
        .and(warp::get())
        .and(with_session(state.clone()))
        .and(warp::query::<StreamQuery>())
        .and(warp::ws())
        .and(with_state(state))
        .and_then(handlers::upgrade_log_stream)
}
