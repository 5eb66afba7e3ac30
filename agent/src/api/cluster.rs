//! The cluster: the running version, its applications and replicas, the operation in progress, and its values.

use shared::api::{ClusterView, Me, Role};
use warp::http::{StatusCode, header};
use warp::{Filter, Rejection, Reply};

use super::problem::Problem;
use super::{State, session_with, with_state};
use crate::{records, versions};

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[
    ("/api/v1/cluster", "GET"),
    ("/api/v1/cluster/values", "GET"),
];

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    cluster(state.clone()).or(values(state))
}

/// GET /api/v1/cluster
pub fn cluster(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "cluster")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(show_cluster)
}

async fn show_cluster(_me: Me, state: State) -> Result<impl Reply, Rejection> {
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
        .map_err(Problem::from)?;
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
pub fn values(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "cluster" / "values")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(show_values)
}

async fn show_values(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let running = state
        .db
        .run(|conn| versions::running(conn))
        .await
        .map_err(Problem::from)?;
    let (_, values) = running.ok_or_else(|| Problem::not_found("no version is running yet"))?;
    Ok(warp::reply::with_header(
        values,
        header::CONTENT_TYPE,
        "application/yaml",
    ))
}
