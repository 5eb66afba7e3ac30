//! What a replica reads from the platform: its identity from environment variables, and its configuration from
//! the values file (`DEMO_VALUES`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::{Error, Result};

/// The role a replica plays in the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// What the others depend on: answers health and version only.
    Metadata,
    /// Synchronous queries and asynchronous jobs.
    Dataservice,
    /// The logon users use.
    Web,
}

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Metadata => "metadata",
            Role::Dataservice => "dataservice",
            Role::Web => "web",
        }
    }
}

/// Command line and environment of one replica.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "demo-app", about = "One replica of the demo product")]
pub struct Args {
    /// Which application this replica is.
    #[arg(long, value_enum)]
    pub role: Role,
    /// Address to listen on: loopback on one machine, `0.0.0.0` in a container (where probes and traffic come
    /// from outside the container's own loopback).
    #[arg(long, env = "DEMO_LISTEN", default_value = "127.0.0.1")]
    pub listen: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "DEMO_PORT")]
    pub port: u16,
    /// Application name (defaults to the role).
    #[arg(long, env = "DEMO_APP")]
    pub app: Option<String>,
    /// Replica id; without it the host name (a pod's name on Kubernetes), else `replica-1`.
    #[arg(long, env = "DEMO_REPLICA")]
    pub replica: Option<String>,
    /// Version this replica runs.
    #[arg(long, env = "DEMO_VERSION", default_value = "V0.0.0.0")]
    pub version: String,
    /// The values.yaml to run with.
    #[arg(long, env = "DEMO_VALUES")]
    pub values: PathBuf,
    /// How long, after SIGTERM, it keeps accepting connections while reporting not ready (milliseconds).
    #[arg(long, env = "DEMO_LINGER_MILLIS", default_value_t = 0)]
    pub linger_millis: u64,
    /// Directory shared by every replica of the product (jobs live there).
    #[arg(long, env = "DEMO_STATE_DIR")]
    pub state_dir: PathBuf,
}

/// Everything a replica runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its role.
    pub role: Role,
    /// Application name.
    pub app: String,
    /// Replica id.
    pub replica: String,
    /// Version.
    pub version: String,
    /// Address it listens on.
    pub listen: IpAddr,
    /// Port.
    pub port: u16,
    /// Shared state dir.
    pub state_dir: PathBuf,
    /// `global.greeting`: the configuration value `/version` reports.
    pub greeting: String,
    /// After SIGTERM, how long it keeps accepting connections (`DEMO_LINGER_MILLIS`).
    pub linger: Duration,
    /// `demo.startupMillis`: how long it warms up before it is ready (default 300 ms).
    pub startup: Duration,
    /// `dataservice.jobMillis`: how long a job runs (default 400 ms).
    pub job_duration: Duration,
    /// `web.demoUser`: the account that can log on.
    pub demo_user: Option<(String, String)>,
    /// `faults.neverReady` lists this application: it never becomes ready.
    pub never_ready: bool,
    /// `faults.crashAfterMillis.<app>`: it exits with status 3 this long after start.
    pub crash_after: Option<Duration>,
    /// `faults.errorRatio.<app>`: this share of its API calls (not `/healthz`, not `/version`) answer 500.
    pub error_ratio: f64,
    /// `faults.slowMillis.<app>`: its API calls (not `/healthz`, not `/version`) answer this much later.
    pub slow: Duration,
}

fn at<'v>(root: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(root, |v, key| v.get(key))
}

fn millis(root: &Value, path: &[&str], default: u64, file: &str) -> Result<Duration> {
    match at(root, path) {
        None | Some(Value::Null) => Ok(Duration::from_millis(default)),
        Some(v) => v
            .as_u64()
            .map(Duration::from_millis)
            .ok_or_else(|| Error::Values {
                path: file.into(),
                message: format!(
                    "{} must be a whole number of milliseconds, not {v}",
                    path.join(".")
                ),
            }),
    }
}

impl Settings {
    /// Reads the values file named in `args`.
    pub fn load(args: &Args) -> Result<Settings> {
        let file = args.values.display().to_string();
        let text = std::fs::read_to_string(&args.values).map_err(|e| Error::Values {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let values: Value = serde_norway::from_str(&text).map_err(|e| Error::Values {
            path: file.clone(),
            message: e.to_string(),
        })?;
        Settings::from_values(args, &values, &file)
    }

    /// Builds the settings from parsed values (`file` names them in errors).
    pub fn from_values(args: &Args, values: &Value, file: &str) -> Result<Settings> {
        let app = args
            .app
            .clone()
            .unwrap_or_else(|| args.role.as_str().to_string());
        let never_ready = at(values, &["faults", "neverReady"])
            .and_then(Value::as_array)
            .is_some_and(|apps| apps.iter().any(|a| a.as_str() == Some(app.as_str())));
        let crash_after = match at(values, &["faults", "crashAfterMillis", app.as_str()]) {
            None | Some(Value::Null) => None,
            Some(_) => Some(millis(
                values,
                &["faults", "crashAfterMillis", app.as_str()],
                0,
                file,
            )?),
        };
        let error_ratio = match at(values, &["faults", "errorRatio", app.as_str()]) {
            None | Some(Value::Null) => 0.0,
            Some(v) => v
                .as_f64()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| Error::Values {
                    path: file.into(),
                    message: format!(
                        "faults.errorRatio.{app} must be a number from 0 to 1, not {v}"
                    ),
                })?,
        };
        let slow = millis(values, &["faults", "slowMillis", app.as_str()], 0, file)?;
        let demo_user = at(values, &["web", "demoUser"]).and_then(|u| {
            Some((
                u.get("username")?.as_str()?.to_string(),
                u.get("password")?.as_str()?.to_string(),
            ))
        });
        Ok(Settings {
            role: args.role,
            replica: args
                .replica
                .clone()
                .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
                .unwrap_or_else(|| "replica-1".into()),
            version: args.version.clone(),
            listen: args.listen,
            linger: Duration::from_millis(args.linger_millis),
            port: args.port,
            state_dir: args.state_dir.clone(),
            greeting: at(values, &["global", "greeting"])
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            startup: millis(values, &["demo", "startupMillis"], 300, file)?,
            job_duration: millis(values, &["dataservice", "jobMillis"], 400, file)?,
            demo_user,
            never_ready,
            crash_after,
            error_ratio,
            slow,
            app,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args() -> Args {
        Args::parse_from([
            "demo-app",
            "--role",
            "web",
            "--port",
            "1",
            "--values",
            "v.yaml",
            "--state-dir",
            "/tmp",
        ])
    }

    #[test]
    fn faults_and_the_demo_user_come_from_the_values() {
        let values: Value = serde_norway::from_str(
            "global: {greeting: hi}\nweb: {demoUser: {username: analyst, password: pw}}\n\
             faults: {neverReady: [web], crashAfterMillis: {web: 1500}, errorRatio: {web: 0.25}, \
             slowMillis: {web: 700, dataservice: 5}}\n",
        )
        .unwrap();
        let s = Settings::from_values(&args(), &values, "v.yaml").unwrap();
        assert_eq!(s.greeting, "hi");
        assert!(s.never_ready);
        assert_eq!(s.crash_after, Some(Duration::from_millis(1500)));
        assert_eq!((s.error_ratio, s.slow), (0.25, Duration::from_millis(700)));
        assert_eq!(s.demo_user, Some(("analyst".into(), "pw".into())));
        assert_eq!(s.startup, Duration::from_millis(300));
    }

    #[test]
    fn an_error_ratio_outside_0_to_1_names_the_key() {
        let values: Value = serde_norway::from_str("faults: {errorRatio: {web: 2}}\n").unwrap();
        let err = Settings::from_values(&args(), &values, "v.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("v.yaml")
                && err.contains("faults.errorRatio.web must be a number from 0 to 1"),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_key_and_the_file() {
        let values: Value = serde_norway::from_str("demo: {startupMillis: soon}\n").unwrap();
        let err = Settings::from_values(&args(), &values, "v.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("v.yaml") && err.contains("demo.startupMillis"),
            "{err}"
        );
    }
}
