//! The HTTP and websocket API (api.md), one module per resource. Each route is one function returning a filter,
//! with its handler next to it; this module puts them together behind the Origin check and the one `recover`, and
//! holds the filters every resource shares: the state and the session.
//!
//! - `sessions`: logon, logout, the session's account, the limits; `accounts`: accounts, for admins.
//! - `cluster`: what runs now; `versions`: version packages.
//! - `upgrades`: upgrade records, starting, stopping and retrying (`upgrade_form`: the form and its checks).
//! - `log_stream`: an upgrade's log, replayed then followed live over a websocket.
//! - `log_query`: where a reader of the log starts and how much it takes (`after`, `limit`).
//! - `console`: the built console, `/` and `/healthz`; `metrics`: `/metrics` for Prometheus.
//! - `problem`: what a refused request answers.

mod accounts;
mod cluster;
mod console;
mod log_query;
mod log_stream;
mod metrics;
pub mod problem;
mod sessions;
mod upgrade_form;
mod upgrades;
mod versions;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use shared::api::{Me, Role};
use shared::limits::Limits;
use warp::filters::path::FullPath;
use warp::http::{Method, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::accounts::{Accounts, SESSION_COOKIE};
use crate::config::Config;
use crate::db::Db;
use crate::operations::Operations;
use problem::{Problem, recover};

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
    /// Whether the session cookie is `Secure` (behind a TLS proxy, or serving TLS itself).
    pub secure_cookie: bool,
    /// What the agent counts itself for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// The bearer token of a Prometheus scraper, when one is set.
    pub metrics_token: Option<crate::metrics::MetricsToken>,
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
            secure_cookie: config.secure_cookie || config.tls.is_some(),
            metrics: crate::metrics::Metrics::default(),
            metrics_token: config.metrics_token.clone(),
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
    // Boxed per resource: the whole chain as one type makes the compiler slow.
    let api = sessions::routes(state.clone())
        .boxed()
        .or(cluster::routes(state.clone()).boxed())
        .or(versions::routes(state.clone()).boxed())
        .or(upgrades::routes(state.clone()).boxed())
        .or(log_stream::routes(state.clone()).boxed())
        .or(accounts::routes(state.clone()).boxed())
        .or(metrics::routes(state.clone()).boxed());
    let site = console::routes(state.console_dir.clone());
    origin_check(state)
        .and(api.or(site).or(method_not_allowed()))
        .recover(recover)
}

/// Every path and the methods it answers, by resource.
const PATHS: [&[(&str, &str)]; 8] = [
    sessions::PATHS,
    accounts::PATHS,
    cluster::PATHS,
    versions::PATHS,
    upgrades::PATHS,
    log_stream::PATHS,
    metrics::PATHS,
    console::PATHS,
];

/// Tried after every route: a request to a known path with a method it does not answer gets 405 with `Allow`
/// naming those it does (RFC 9110); anything else stays rejected as the routes rejected it.
fn method_not_allowed() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and_then(|method: Method, path: FullPath| async move {
            let allow = PATHS
                .iter()
                .flat_map(|paths| paths.iter())
                .find(|(template, _)| instance_of(template, path.as_str()))
                .map(|(_, allow)| *allow);
            match allow {
                Some(allow) if !allow.split(", ").any(|m| m == method.as_str()) => {
                    Err(Rejection::from(Problem::MethodNotAllowed { allow }))
                }
                _ => Err(warp::reject::not_found()),
            }
        })
}

/// Whether `path` is one of `template`'s, as the routes match it: `{id}` is a number, `{version}` and `{name}` one
/// segment, `{path}` the rest; a trailing slash is ignored.
fn instance_of(template: &str, path: &str) -> bool {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let mut segments = path.split('/');
    for part in template.split('/') {
        if part == "{path}" {
            return true;
        }
        let Some(segment) = segments.next() else {
            return false;
        };
        let fits = match part {
            "{id}" => segment.parse::<i64>().is_ok(),
            "{version}" | "{name}" => !segment.is_empty(),
            literal => segment == literal,
        };
        if !fits {
            return false;
        }
    }
    segments.next().is_none()
}

/// Passes the state to a handler.
fn with_state(state: State) -> impl Filter<Extract = (State,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The account of the request's session when its role is `needed` or above: 401 without a valid session, 403
/// naming the role needed when the account's is below it.
fn session_with(
    state: State,
    needed: Role,
) -> impl Filter<Extract = (Me,), Error = Rejection> + Clone {
    warp::cookie::optional::<String>(SESSION_COOKIE)
        .and(warp::method())
        .and(warp::path::full())
        .and(with_state(state))
        .and_then(
            move |token: Option<String>, method: Method, path: FullPath, state: State| async move {
                let token = token.ok_or_else(Problem::unauthorized)?;
                let me = state
                    .accounts
                    .session(token)
                    .await
                    .map_err(Problem::from)?
                    .ok_or_else(Problem::unauthorized)?;
                // The console says the same sentence beside what it disables.
                me.role.may(needed).map_err(|refusal| {
                    Problem::forbidden(refusal.sentence(&format!("{method} {}", path.as_str())))
                })?;
                Ok::<_, Rejection>(me)
            },
        )
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

/// A file download with its name.
fn attachment(file_name: &str, bytes: Vec<u8>) -> Result<Response, Rejection> {
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
    warp::http::Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        )
        .body(bytes.into())
        .map_err(|e| Problem::internal(e).into())
}

#[cfg(test)]
mod tests {
    use super::instance_of;

    #[test]
    fn a_path_is_an_instance_of_its_template_only() {
        assert!(instance_of("/", "/"));
        assert!(instance_of("/api/v1/me", "/api/v1/me/"));
        assert!(instance_of("/api/v1/upgrades/{id}", "/api/v1/upgrades/12"));
        assert!(!instance_of(
            "/api/v1/upgrades/{id}",
            "/api/v1/upgrades/check"
        ));
        assert!(!instance_of(
            "/api/v1/upgrades/{id}",
            "/api/v1/upgrades/12/stop"
        ));
        assert!(instance_of(
            "/api/v1/versions/{version}",
            "/api/v1/versions/V5.1.2.04"
        ));
        assert!(!instance_of(
            "/api/v1/versions/{version}",
            "/api/v1/versions"
        ));
        assert!(instance_of(
            "/opsconsole/v2/{path}",
            "/opsconsole/v2/a/b.js"
        ));
        assert!(instance_of(
            "/api/v1/accounts/{name}/role",
            "/api/v1/accounts/olga/role"
        ));
        assert!(!instance_of("/api/v1/accounts/{name}", "/api/v1/accounts"));
        assert!(!instance_of("/healthz", "/healthz/more"));
        assert!(!instance_of("/", "/anything"));
    }
}
