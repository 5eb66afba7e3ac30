//! What `agent serve` is told: where its data and console live, who may call it, and its limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use shared::limits::Limits;

/// The agent's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the database (created when missing).
    pub data_dir: PathBuf,
    /// The built console (`index.html` and its assets); `None` serves a page saying it is not built.
    pub console_dir: Option<PathBuf>,
    /// The platform's name, reported in `GET /api/v1/cluster`.
    pub platform: String,
    /// Origins allowed on state-changing requests besides the agent's own, e.g. `http://localhost:5173`.
    pub allowed_origins: Vec<String>,
    /// Upload, ZIP and YAML limits.
    pub limits: Limits,
    /// The admin password for a first start; generated and printed when `None`.
    pub admin_password: Option<String>,
    /// The version to record as running on a first start.
    pub bootstrap: Option<Bootstrap>,
    /// A session unused for this long expires.
    pub session_idle: Duration,
    /// Whether the agent is reached over TLS (a proxy in front): the session cookie is then `Secure`.
    pub secure_cookie: bool,
    /// The certificate and key when the agent serves HTTPS itself (`--tls-cert`, `--tls-key`).
    pub tls: Option<crate::tls::ServerTls>,
    /// The bearer token a Prometheus scraper presents on `GET /metrics` (`--metrics-token-file`).
    pub metrics_token: Option<crate::metrics::MetricsToken>,
}

/// The first deployment: a version package and the values it runs with.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The version package file (YAML or ZIP).
    pub package: PathBuf,
    /// Its values.yaml.
    pub values: PathBuf,
}

impl Config {
    /// Defaults for a data directory: no console, platform `local`, own origin only, default limits.
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            console_dir: None,
            platform: "local".into(),
            allowed_origins: Vec::new(),
            limits: Limits::default(),
            admin_password: None,
            bootstrap: None,
            session_idle: Duration::from_secs(8 * 3600),
            secure_cookie: false,
            tls: None,
            metrics_token: None,
        }
    }
}

/// Refuses to serve plain HTTP on `listen` when other machines can reach it (anything but loopback) and the
/// operator did not say `--insecure-http`: passwords and session cookies would cross the network in clear.
pub fn check_plain_http(listen: SocketAddr, insecure_http: bool) -> crate::Result<()> {
    if insecure_http || listen.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    Err(crate::Error::Config(format!(
        "refusing to serve plain HTTP on {listen}: it is not a loopback address, so passwords and session \
         cookies would cross the network unencrypted. Pass --tls-cert and --tls-key to serve HTTPS, or \
         --insecure-http when a TLS-terminating proxy in front of the agent is what reaches this address"
    )))
}

#[cfg(test)]
mod tests {
    use super::check_plain_http;

    #[test]
    fn plain_http_is_served_on_loopback_only_unless_told_otherwise() {
        for loopback in [
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:8080",
        ] {
            assert!(
                check_plain_http(loopback.parse().unwrap(), false).is_ok(),
                "{loopback}"
            );
        }
        for reachable in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.0.2.7:8080",
            "[::ffff:192.0.2.7]:8080",
        ] {
            let refused = check_plain_http(reachable.parse().unwrap(), false)
                .expect_err(reachable)
                .to_string();
            assert!(
                refused.contains(reachable) && refused.contains("--insecure-http"),
                "{refused}"
            );
            assert!(check_plain_http(reachable.parse().unwrap(), true).is_ok());
        }
    }
}
