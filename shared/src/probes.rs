//! `probes:` of a version's manifest: the availability checks the agent runs during an upgrade, each a user's call
//! to one application through its stable address (docs/engine.md, "Probes").
//!
//! A probe is one of three kinds, written as the one key among `http`, `job` and `logon` it carries, so that every
//! field keeps `deny_unknown_fields` and its line and column (an internally tagged enum would lose them).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::keypath::KeyPath;
use crate::yaml::Value;
use crate::yaml::typed::{Fields, FromYaml, TypedError};

/// Fewest calls a second a probe may declare (one call every 10 s).
pub const MIN_RATE: f64 = 0.1;
/// Most calls a second a probe may declare: the probe measures, it is not a load test.
pub const MAX_RATE: f64 = 50.0;
/// The longest `timeoutSeconds` of a job and `windowSeconds` of limits: one hour.
pub const MAX_SECONDS: u32 = 3600;
/// `limits.windowSeconds` when absent.
pub const DEFAULT_WINDOW_SECONDS: u32 = 60;
/// The HTTP methods a probe may use.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One entry of `probes:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Probe {
    /// Unique name within the manifest, shown in the record and the console.
    pub name: String,
    /// Calls a second, from [`MIN_RATE`] to [`MAX_RATE`].
    pub rate: f64,
    /// A synchronous HTTP call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// An asynchronous job: submitted, then polled until done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobProbe>,
    /// A logon with credentials read from the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon: Option<LogonProbe>,
    /// Limits the probe's calls must stay within during a rolling upgrade, which rolls back when one is crossed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ProbeLimits>,
}

/// `http:` of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpProbe {
    /// The application whose stable address is called.
    pub application: String,
    /// One of [`METHODS`], uppercase.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Sent as a JSON body when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// The status that counts as success (200 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
}

impl HttpProbe {
    /// The call it makes (fields written inline rather than flattened: flatten loses line and column).
    pub fn call(&self) -> HttpCall {
        HttpCall {
            method: self.method.clone(),
            path: self.path.clone(),
            body: self.body.clone(),
            expect_status: self.expect_status,
        }
    }
}

/// A method, path, body and expected status: one HTTP call of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpCall {
    /// One of [`METHODS`], uppercase.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Sent as a JSON body when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// The status that counts as success (200 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
}

impl HttpCall {
    /// The status that counts as success.
    pub fn expected_status(&self) -> u16 {
        self.expect_status.unwrap_or(200)
    }
}

/// `job:` of a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobProbe {
    /// The application that runs the job.
    pub application: String,
    /// The call that submits a job.
    pub submit: HttpCall,
    /// JSON pointer (RFC 6901) to the job's id in the submit's answer, e.g. `/id`.
    pub id_pointer: String,
    /// Path polled with GET (200 expected), `{id}` replaced by the job's id.
    pub poll: String,
    /// JSON pointer to the field of the poll's answer that tells the job is done, e.g. `/status`.
    pub done_pointer: String,
    /// The value of that field meaning done, e.g. `done`.
    pub done_value: serde_json::Value,
    /// How long a job may take from submit to done before it counts as a failure.
    pub timeout_seconds: u32,
}

/// `logon:` of a probe: `POST {"username": …, "password": …}` as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogonProbe {
    /// The application that takes the logon.
    pub application: String,
    /// Path of the logon call, starting with `/`.
    pub path: String,
    /// Key path into the values of the user name.
    pub username_from: String,
    /// Key path into the values of the password (never logged or shown).
    pub password_from: String,
    /// The status that counts as success (200 when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
}

/// `limits:` of a probe, over a sliding window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeLimits {
    /// Highest share of failed calls in the window, from 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_ratio: Option<f64>,
    /// Highest 99th percentile latency in the window, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    /// Length of the window in seconds ([`DEFAULT_WINDOW_SECONDS`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u32>,
}

impl ProbeLimits {
    /// The window's length in seconds.
    pub fn window(&self) -> u32 {
        self.window_seconds.unwrap_or(DEFAULT_WINDOW_SECONDS)
    }
}

/// What a probe does, once its declaration is known to carry exactly one kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProbeKind<'a> {
    /// A synchronous call.
    Http(&'a HttpProbe),
    /// A job submitted then polled.
    Job(&'a JobProbe),
    /// A logon.
    Logon(&'a LogonProbe),
}

impl Probe {
    /// The probe's kind, `None` unless exactly one of `http`, `job`, `logon` is set (which [`Probe::problems`]
    /// reports).
    pub fn kind(&self) -> Option<ProbeKind<'_>> {
        match (&self.http, &self.job, &self.logon) {
            (Some(http), None, None) => Some(ProbeKind::Http(http)),
            (None, Some(job), None) => Some(ProbeKind::Job(job)),
            (None, None, Some(logon)) => Some(ProbeKind::Logon(logon)),
            _ => None,
        }
    }

    /// The application the probe calls.
    pub fn application(&self) -> Option<&str> {
        Some(match self.kind()? {
            ProbeKind::Http(http) => &http.application,
            ProbeKind::Job(job) => &job.application,
            ProbeKind::Logon(logon) => &logon.application,
        })
    }

    /// What is wrong with the declaration, as (field under the probe, e.g. `.http.method`, message naming the
    /// probe); `applications` are the manifest's application names.
    pub fn problems(&self, applications: &BTreeSet<&str>) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let name = &self.name;
        let mut problem = |field: &str, message: String| {
            problems.push((field.to_string(), format!("probe `{name}`: {message}")));
        };
        if name.is_empty() {
            problem(".name", "a probe has an empty name".into());
        }
        if !(MIN_RATE..=MAX_RATE).contains(&self.rate) {
            problem(
                ".rate",
                format!(
                    "`rate: {}` calls a second is outside {MIN_RATE} to {MAX_RATE}",
                    self.rate
                ),
            );
        }
        let known = || applications.iter().copied().collect::<Vec<_>>().join(", ");
        let application = |field: &str, app: &str, problem: &mut dyn FnMut(&str, String)| {
            if !applications.contains(app) {
                problem(
                    field,
                    format!(
                        "`{}: {app}` is not an application of this version (known: {})",
                        field.rsplit('.').next().unwrap_or(field),
                        known()
                    ),
                );
            }
        };
        match self.kind() {
            None => problem(
                "",
                "a probe declares exactly one of `http`, `job` or `logon`".into(),
            ),
            Some(ProbeKind::Http(http)) => {
                application(".http.application", &http.application, &mut problem);
                call_problems(".http", &http.call(), &mut problem);
            }
            Some(ProbeKind::Job(job)) => {
                application(".job.application", &job.application, &mut problem);
                call_problems(".job.submit", &job.submit, &mut problem);
                for (field, pointer) in [
                    (".job.idPointer", &job.id_pointer),
                    (".job.donePointer", &job.done_pointer),
                ] {
                    if !pointer.is_empty() && !pointer.starts_with('/') {
                        problem(
                            field,
                            format!(
                                "`{pointer}` is not a JSON pointer; write it as `/{pointer}` (RFC 6901)"
                            ),
                        );
                    }
                }
                if !job.poll.starts_with('/') || !job.poll.contains("{id}") {
                    problem(
                        ".job.poll",
                        format!(
                            "`poll: {}` must be a path starting with `/` that contains `{{id}}`",
                            job.poll
                        ),
                    );
                }
                if !(1..=MAX_SECONDS).contains(&job.timeout_seconds) {
                    problem(
                        ".job.timeoutSeconds",
                        format!(
                            "`timeoutSeconds: {}` is outside 1 to {MAX_SECONDS}",
                            job.timeout_seconds
                        ),
                    );
                }
            }
            Some(ProbeKind::Logon(logon)) => {
                application(".logon.application", &logon.application, &mut problem);
                path_problem(".logon.path", &logon.path, &mut problem);
                status_problem(".logon.expectStatus", logon.expect_status, &mut problem);
                for (field, path) in [
                    (".logon.usernameFrom", &logon.username_from),
                    (".logon.passwordFrom", &logon.password_from),
                ] {
                    if let Err(error) = KeyPath::parse(path) {
                        problem(field, format!("`{}`: {error}", &field[".logon.".len()..]));
                    }
                }
            }
        }
        if let Some(limits) = &self.limits {
            if let Some(ratio) = limits.error_ratio
                && !(0.0..=1.0).contains(&ratio)
            {
                problem(
                    ".limits.errorRatio",
                    format!("`errorRatio: {ratio}` is outside 0 to 1"),
                );
            }
            if let Some(p99) = limits.p99_ms
                && !(p99 > 0.0 && p99.is_finite())
            {
                problem(
                    ".limits.p99Ms",
                    format!("`p99Ms: {p99}` must be a positive number of milliseconds"),
                );
            }
            if !(1..=MAX_SECONDS).contains(&limits.window()) {
                problem(
                    ".limits.windowSeconds",
                    format!(
                        "`windowSeconds: {}` is outside 1 to {MAX_SECONDS}",
                        limits.window()
                    ),
                );
            }
        }
        problems
    }
}

fn call_problems(at: &str, call: &HttpCall, problem: &mut dyn FnMut(&str, String)) {
    if !METHODS.contains(&call.method.as_str()) {
        problem(
            &format!("{at}.method"),
            format!(
                "`method: {}` is not one of {}",
                call.method,
                METHODS.join(", ")
            ),
        );
    }
    path_problem(&format!("{at}.path"), &call.path, problem);
    status_problem(&format!("{at}.expectStatus"), call.expect_status, problem);
}

fn path_problem(field: &str, path: &str, problem: &mut dyn FnMut(&str, String)) {
    // The path is appended to the stable address: a scheme or host here would call elsewhere.
    if !path.starts_with('/') || path.starts_with("//") || path.chars().any(char::is_whitespace) {
        problem(
            field,
            format!("`path: {path}` must start with a single `/` and contain no spaces"),
        );
    }
}

fn status_problem(field: &str, status: Option<u16>, problem: &mut dyn FnMut(&str, String)) {
    if let Some(status) = status
        && !(100..=599).contains(&status)
    {
        problem(
            field,
            format!("`expectStatus: {status}` is not an HTTP status (100 to 599)"),
        );
    }
}

// Reading `probes:` from the parsed value of version.yaml: each struct its fields, by their names in the YAML.

impl FromYaml for Probe {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<Probe, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct Probe",
            &["name", "rate", "http", "job", "logon", "limits"],
        )?;
        Ok(Probe {
            name: fields.required("name")?,
            rate: fields.required("rate")?,
            http: fields.optional("http")?,
            job: fields.optional("job")?,
            logon: fields.optional("logon")?,
            limits: fields.optional("limits")?,
        })
    }
}

impl FromYaml for HttpProbe {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<HttpProbe, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct HttpProbe",
            &["application", "method", "path", "body", "expectStatus"],
        )?;
        Ok(HttpProbe {
            application: fields.required("application")?,
            method: fields.required("method")?,
            path: fields.required("path")?,
            body: fields.optional("body")?,
            expect_status: fields.optional("expectStatus")?,
        })
    }
}

impl FromYaml for HttpCall {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<HttpCall, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct HttpCall",
            &["method", "path", "body", "expectStatus"],
        )?;
        Ok(HttpCall {
            method: fields.required("method")?,
            path: fields.required("path")?,
            body: fields.optional("body")?,
            expect_status: fields.optional("expectStatus")?,
        })
    }
}

impl FromYaml for JobProbe {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<JobProbe, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct JobProbe",
            &[
                "application",
                "submit",
                "idPointer",
                "poll",
                "donePointer",
                "doneValue",
                "timeoutSeconds",
            ],
        )?;
        Ok(JobProbe {
            application: fields.required("application")?,
            submit: fields.required("submit")?,
            id_pointer: fields.required("idPointer")?,
            poll: fields.required("poll")?,
            done_pointer: fields.required("donePointer")?,
            done_value: fields.required("doneValue")?,
            timeout_seconds: fields.required("timeoutSeconds")?,
        })
    }
}

impl FromYaml for LogonProbe {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<LogonProbe, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct LogonProbe",
            &[
                "application",
                "path",
                "usernameFrom",
                "passwordFrom",
                "expectStatus",
            ],
        )?;
        Ok(LogonProbe {
            application: fields.required("application")?,
            path: fields.required("path")?,
            username_from: fields.required("usernameFrom")?,
            password_from: fields.required("passwordFrom")?,
            expect_status: fields.optional("expectStatus")?,
        })
    }
}

impl FromYaml for ProbeLimits {
    fn from_yaml(value: &Value, path: &KeyPath) -> Result<ProbeLimits, TypedError> {
        let fields = Fields::of(
            value,
            path,
            "struct ProbeLimits",
            &["errorRatio", "p99Ms", "windowSeconds"],
        )?;
        Ok(ProbeLimits {
            error_ratio: fields.optional("errorRatio")?,
            p99_ms: fields.optional("p99Ms")?,
            window_seconds: fields.optional("windowSeconds")?,
        })
    }
}
