//! The stable address of an application: an HTTP reverse proxy on `127.0.0.1:<port>` that sends each request to one
//! of the application's ready replicas (round robin).
//!
//! Taking a replica out of the set means no new request reaches it; the requests it is serving are counted, so a
//! drain waits for them. Bodies are buffered (bounded), which lets a request that could not reach a replica (the
//! connection was refused, so nothing was sent) go to another one, whatever its method; a GET is also retried on any
//! error, being idempotent.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Largest request or response body the proxy forwards.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Headers that belong to one connection, not to the request.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// One replica in traffic.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Replica id.
    pub replica: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests it is serving now.
    pub in_flight: Arc<AtomicUsize>,
}

/// The replicas an application's traffic goes to.
#[derive(Debug, Default)]
pub struct Backends {
    list: RwLock<Vec<Backend>>,
    next: AtomicUsize,
}

impl Backends {
    /// Adds a replica to the traffic (idempotent).
    pub fn add(&self, backend: Backend) {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        if !list.iter().any(|b| b.replica == backend.replica) {
            list.push(backend);
        }
    }

    /// Takes a replica out of the traffic; returns its in-flight counter so a drain can wait for it.
    pub fn remove(&self, replica: &str) -> Option<Arc<AtomicUsize>> {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        let index = list.iter().position(|b| b.replica == replica)?;
        Some(list.remove(index).in_flight)
    }

    /// Picks the next replica not yet tried and counts the request on it (under the lock, so that a replica taken
    /// out afterwards still sees this request in its count).
    fn pick(&self, tried: &[String]) -> Option<InFlight> {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        let candidates: Vec<&Backend> = list
            .iter()
            .filter(|b| !tried.contains(&b.replica))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let backend = candidates[self.next.fetch_add(1, Ordering::Relaxed) % candidates.len()];
        backend.in_flight.fetch_add(1, Ordering::SeqCst);
        Some(InFlight {
            replica: backend.replica.clone(),
            addr: backend.addr,
            counter: backend.in_flight.clone(),
        })
    }
}

/// A request counted on a replica until it is dropped.
struct InFlight {
    replica: String,
    addr: SocketAddr,
    counter: Arc<AtomicUsize>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The HTTP client the proxies share. Idle connections are dropped well before a replica's server would close them,
/// so a request never races a server closing its connection.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(5))
        .pool_timer(TokioTimer::new())
        .build_http()
}

/// Serves `listener` until the returned task is aborted (which also ends its connections).
pub fn serve(
    app: String,
    listener: TcpListener,
    backends: Arc<Backends>,
    client: Client<HttpConnector, Full<Bytes>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(app, "stable address accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let _ = stream.set_nodelay(true);
            let (app, backends, client) = (app.clone(), backends.clone(), client.clone());
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    forward(app.clone(), req, backends.clone(), client.clone())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn plain(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
}

async fn forward(
    app: String,
    req: Request<Incoming>,
    backends: Arc<Backends>,
    client: Client<HttpConnector, Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                format!("request body: {e}\n"),
            ));
        }
    };
    let idempotent = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut tried = Vec::new();
    let mut last_error = String::new();
    while let Some(target) = backends.pick(&tried) {
        tried.push(target.replica.clone());
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.headers_mut() = parts.headers.clone();
        strip_hop_by_hop(request.headers_mut());
        let Ok(uri) = format!("http://{}{}", target.addr, path).parse() else {
            return Ok(plain(StatusCode::BAD_REQUEST, format!("bad path {path}\n")));
        };
        *request.uri_mut() = uri;
        match client.request(request).await {
            Ok(response) => {
                let (mut head, body) = response.into_parts();
                match Limited::new(body, MAX_BODY).collect().await {
                    Ok(collected) => {
                        strip_hop_by_hop(&mut head.headers);
                        drop(target);
                        return Ok(Response::from_parts(head, Full::new(collected.to_bytes())));
                    }
                    Err(e) if idempotent => last_error = format!("{}: {e}", target.replica),
                    Err(e) => {
                        return Ok(plain(
                            StatusCode::BAD_GATEWAY,
                            format!(
                                "{app}: replica {} broke off its answer: {e}\n",
                                target.replica
                            ),
                        ));
                    }
                }
            }
            Err(e) if e.is_connect() || idempotent => {
                last_error = format!("{}: {e}", target.replica)
            }
            Err(e) => {
                return Ok(plain(
                    StatusCode::BAD_GATEWAY,
                    format!("{app}: replica {} failed: {e}\n", target.replica),
                ));
            }
        }
    }
    let message = if tried.is_empty() {
        format!("{app} has no ready replica\n")
    } else {
        format!("{app}: no replica answered ({last_error})\n")
    };
    Ok(plain(StatusCode::SERVICE_UNAVAILABLE, message))
}

fn strip_hop_by_hop(headers: &mut hyper::HeaderMap<HeaderValue>) {
    for name in HOP_BY_HOP {
        headers.remove(HeaderName::from_static(name));
    }
}
