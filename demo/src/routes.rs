//! The HTTP interface of each role (product.md, "The demo product").

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::{Replica, Role};

/// Largest request body a replica reads.
const MAX_BODY: usize = 1024 * 1024;

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"error": message}))
}

async fn json_body(req: Request<Incoming>) -> Result<Value, Response<Full<Bytes>>> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("request body: {e}")))?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("request body is not JSON: {e}"),
        )
    })
}

/// Answers one request.
pub async fn handle(
    replica: Arc<Replica>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let s = &replica.settings;
    let path = req.uri().path().to_string();
    // The faults for trying probe-gated rollouts touch the API only: readiness and version still answer.
    if !matches!(path.as_str(), "/healthz" | "/version") {
        if !s.slow.is_zero() {
            tokio::time::sleep(s.slow).await;
        }
        if replica.injects_error() {
            return Ok(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "fault injected by faults.errorRatio",
            ));
        }
    }
    let response = match (req.method().clone(), path.as_str(), s.role) {
        (Method::GET, "/healthz", _) => {
            if replica.ready.load(Ordering::SeqCst) {
                reply(StatusCode::OK, json!({"status": "ready"}))
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "not ready"}),
                )
            }
        }
        (Method::GET, "/version", _) => reply(
            StatusCode::OK,
            json!({"app": s.app, "version": s.version, "replica": s.replica, "greeting": s.greeting}),
        ),
        (Method::GET, "/api/query", Role::Dataservice) => {
            let param = |name: &str| {
                req.uri()
                    .query()
                    .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix(name)))
                    .map(str::to_string)
            };
            let q = param("q=").unwrap_or_default();
            // A slow query, for watching a drain wait for it: `delayMillis`, at most 10 s.
            let delay = param("delayMillis=")
                .and_then(|d| d.parse::<u64>().ok())
                .unwrap_or(0);
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay.min(10_000))).await;
            }
            reply(
                StatusCode::OK,
                json!({"result": format!("{} rows match '{q}'", q.len()), "version": s.version, "replica": s.replica}),
            )
        }
        (Method::POST, "/api/jobs", Role::Dataservice) => match json_body(req).await {
            Err(response) => response,
            Ok(body) => match body.get("input").and_then(Value::as_str) {
                None => error(StatusCode::BAD_REQUEST, "a job needs {\"input\": <text>}"),
                Some(input) => match replica.jobs.submit(input.to_string(), &s.replica) {
                    Ok(job) => reply(StatusCode::ACCEPTED, json!({"id": job.id})),
                    Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
                },
            },
        },
        (Method::GET, p, Role::Dataservice) if p.starts_with("/api/jobs/") => {
            match replica.jobs.get(&p["/api/jobs/".len()..]) {
                Some(job) => reply(
                    StatusCode::OK,
                    json!({"id": job.id, "status": job.status, "result": job.result}),
                ),
                None => error(StatusCode::NOT_FOUND, "no such job"),
            }
        }
        (Method::POST, "/login", Role::Web) => match json_body(req).await {
            Err(response) => response,
            Ok(body) => {
                let given = (
                    body.get("username").and_then(Value::as_str),
                    body.get("password").and_then(Value::as_str),
                );
                match &s.demo_user {
                    Some((user, password))
                        if given == (Some(user.as_str()), Some(password.as_str())) =>
                    {
                        reply(
                            StatusCode::OK,
                            json!({"username": user, "version": s.version}),
                        )
                    }
                    _ => error(StatusCode::UNAUTHORIZED, "wrong username or password"),
                }
            }
        },
        _ => error(StatusCode::NOT_FOUND, "not found"),
    };
    Ok(response)
}
