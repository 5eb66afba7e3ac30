//! The metrics a Prometheus server scrapes: for any logged-on session, or for a scraper presenting the bearer token
//! of `--metrics-token-file`.

use shared::api::{Me, Role};
use warp::http::{Response, StatusCode, header};
use warp::{Filter, Rejection, Reply};

use super::problem::Problem;
use super::{State, session_with, with_state};
use crate::metrics;

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[("/metrics", "GET")];

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    scrape(state)
}

/// GET /metrics
pub fn scrape(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(
            scraper(state.clone())
                .or(no_bearer()
                    .and(session_with(state.clone(), Role::Viewer))
                    .map(|_: Me| ()))
                .unify(),
        )
        .and(with_state(state))
        .and_then(|(), state: State| answer(state))
}

/// The bearer token a request presents, if any (the scheme's name is case-insensitive, RFC 9110).
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// Passes a request without a bearer token (to be asked for its session); one with a token is decided by
/// [`scraper`] alone, so that a wrong token is told so.
fn no_bearer() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<String>(header::AUTHORIZATION.as_str())
        .and_then(|authorization: Option<String>| async move {
            match bearer(authorization.as_deref()) {
                Some(_) => Err(warp::reject::not_found()),
                None => Ok(()),
            }
        })
        .untuple_one()
}

/// Passes a request whose `Authorization: Bearer` token is the metrics token; 401 when it is another; rejected
/// as not found (so that the session is asked for) without a bearer token.
fn scraper(state: State) -> impl Filter<Extract = ((),), Error = Rejection> + Clone {
    warp::header::optional::<String>(header::AUTHORIZATION.as_str())
        .and(with_state(state))
        .and_then(|authorization: Option<String>, state: State| async move {
            let Some(presented) = bearer(authorization.as_deref()) else {
                return Err(warp::reject::not_found());
            };
            match &state.metrics_token {
                Some(token) if token.matches(presented.trim()) => Ok(()),
                Some(_) => Err(Rejection::from(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the bearer token is not the one of --metrics-token-file",
                ))),
                None => Err(Rejection::from(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "no metrics token is set (--metrics-token-file): log on, or start the agent with one",
                ))),
            }
        })
}

async fn answer(state: State) -> Result<Response<String>, Rejection> {
    let figures = state.db.run(metrics::read).await.map_err(Problem::from)?;
    let text = state
        .metrics
        .encode(&figures, state.ops.live().viewers())
        .map_err(Problem::from)?;
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, metrics::CONTENT_TYPE)
        .body(text)
        .map_err(|e| Problem::internal(e).into())
}
