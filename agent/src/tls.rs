//! HTTPS for `agent serve --tls-cert/--tls-key`: the certificate chain and key read from PEM files, and the accept
//! loop that serves the API over rustls. warp 0.4 has no TLS of its own, so each connection is a rustls handshake
//! followed by hyper serving the same warp routes as on plain HTTP (websocket upgrades included).

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use warp::{Filter, Reply};

/// `Strict-Transport-Security` sent on every answer over TLS: one year, the usual choice (docs/decisions.md).
pub const HSTS: &str = "max-age=31536000";
/// The largest PEM file read: a certificate chain or key is a few kilobytes.
const MAX_PEM_BYTES: u64 = 1024 * 1024;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS certificate or key cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{path}: cannot read it: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than any certificate chain or key.
    #[error(
        "{path}: {size} bytes is too large for a PEM certificate or key (at most {MAX_PEM_BYTES})"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The file is not valid PEM.
    #[error("{path}: not a valid PEM file: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What the PEM reader said.
        message: String,
    },
    /// The certificate file holds no `CERTIFICATE` block.
    #[error("{path}: no certificate (a `-----BEGIN CERTIFICATE-----` block) in it")]
    NoCertificate {
        /// The file.
        path: String,
    },
    /// The key file holds no private key.
    #[error("{path}: no private key (a `-----BEGIN PRIVATE KEY-----`, RSA or EC key block) in it")]
    NoKey {
        /// The file.
        path: String,
    },
    /// rustls refused the pair, e.g. the key does not belong to the certificate.
    #[error("{cert} with {key}: {message}")]
    Refused {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// What rustls said.
        message: String,
    },
}

/// The server side of TLS: the certificate chain and key, ready for handshakes.
#[derive(Debug, Clone)]
pub struct ServerTls(Arc<ServerConfig>);

impl ServerTls {
    /// Reads the certificate chain (leaf first) from `cert` and the private key from `key`, both PEM.
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        let cert_name = cert.display().to_string();
        let key_name = key.display().to_string();
        let chain = CertificateDer::pem_slice_iter(&read_pem(cert)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_error(&cert_name, e))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate { path: cert_name });
        }
        let private_key = match PrivateKeyDer::from_pem_slice(&read_pem(key)?) {
            Ok(private_key) => private_key,
            Err(pem::Error::NoItemsFound) => return Err(TlsError::NoKey { path: key_name }),
            Err(e) => return Err(pem_error(&key_name, e)),
        };
        let refused = |e: tokio_rustls::rustls::Error| TlsError::Refused {
            cert: cert_name.clone(),
            key: key_name.clone(),
            message: e.to_string(),
        };
        // The provider is named rather than taken from the process default, which is ambiguous when another crate
        // in the build enables a second one.
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(refused)?
                .with_no_client_auth()
                .with_single_cert(chain, private_key)
                .map_err(refused)?;
        // HTTP/1.1 only: browsers open websockets (the live log) over HTTP/1.1, which hyper upgrades.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls(Arc::new(config)))
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let name = || path.display().to_string();
    let size = std::fs::metadata(path)
        .map_err(|source| TlsError::Read {
            path: name(),
            source,
        })?
        .len();
    if size > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge { path: name(), size });
    }
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: name(),
        source,
    })
}

fn pem_error(path: &str, e: pem::Error) -> TlsError {
    TlsError::Pem {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Serves `routes` over TLS on `listener` until `shutdown` completes, then waits for open connections to end (as
/// warp's graceful shutdown does on plain HTTP). Every answer carries [`HSTS`].
pub async fn serve<R, T>(
    listener: TcpListener,
    tls: ServerTls,
    routes: R,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    R: Filter<Extract = (T,), Error = Infallible> + Clone + Send + Sync + 'static,
    T: Reply + Send,
{
    let routes =
        routes.map(|reply| warp::reply::with_header(reply, "strict-transport-security", HSTS));
    let acceptor = TlsAcceptor::from(tls.0);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // E.g. out of file descriptors: wait for some to close rather than spin.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(warp::service(routes.clone()));
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!("TLS handshake with {remote} failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake with {remote} timed out");
                    return;
                }
            };
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!("connection from {remote} ended: {e}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
