//! Version packages: the list, a manifest, a package's bytes, and importing one.

use shared::api::{ApiError, Me, Role, VersionImported};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::problem::Problem;
use super::{State, attachment, session_with, with_state};
use crate::{checks, records, versions};

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[
    ("/api/v1/versions", "GET, POST"),
    ("/api/v1/versions/{version}", "GET"),
    ("/api/v1/versions/{version}/package", "GET"),
];

/// The routes of this module.
pub fn routes(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    list(state.clone())
        .or(manifest(state.clone()))
        .or(package(state.clone()))
        .or(import(state))
}

/// GET /api/v1/versions
pub fn list(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "versions")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(list_versions)
}

async fn list_versions(_me: Me, state: State) -> Result<impl Reply, Rejection> {
    let list = state
        .db
        .run(|conn| {
            let running = versions::running(conn)?.map(|(v, _)| v);
            versions::list(conn, running.as_deref())
        })
        .await
        .map_err(Problem::from)?;
    Ok(warp::reply::json(&list))
}

/// GET /api/v1/versions/{version}
pub fn manifest(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "versions" / String)
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(show_manifest)
}

async fn show_manifest(version: String, _me: Me, state: State) -> Result<impl Reply, Rejection> {
    let v = version.clone();
    let manifest = state
        .db
        .run(move |conn| versions::manifest(conn, &v))
        .await
        .map_err(Problem::from)?;
    let manifest =
        manifest.ok_or_else(|| Problem::not_found(format!("version {version} is not known")))?;
    Ok(warp::reply::json(&manifest))
}

/// GET /api/v1/versions/{version}/package
pub fn package(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "versions" / String / "package")
        .and(warp::get())
        .and(session_with(state.clone(), Role::Viewer))
        .and(with_state(state))
        .and_then(download_package)
}

async fn download_package(version: String, _me: Me, state: State) -> Result<impl Reply, Rejection> {
    let v = version.clone();
    let package = state
        .db
        .run(move |conn| versions::package(conn, &v))
        .await
        .map_err(Problem::from)?;
    let package =
        package.ok_or_else(|| Problem::not_found(format!("version {version} is not known")))?;
    attachment(&package.file_name, package.bytes)
}

/// POST /api/v1/versions
pub fn import(state: State) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let limit = state.limits.max_upload_bytes;
    warp::path!("api" / "v1" / "versions")
        .and(warp::post())
        .and(session_with(state.clone(), Role::Operator))
        .and(warp::header::optional::<String>("content-type"))
        .and(warp::header::optional::<String>("content-disposition"))
        .and(warp::body::content_length_limit(limit))
        .and(warp::body::bytes())
        .and(with_state(state))
        .and_then(import_package)
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

async fn import_package(
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
        .map_err(Problem::from)?;
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
            body: ApiError {
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
