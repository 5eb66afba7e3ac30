//! The upgrade form (`POST /api/v1/upgrades/check` and `POST /api/v1/upgrades`): reading it with every field
//! bounded, and running every check on it as the console does.

use bytes::Buf;
use futures_util::{StreamExt, TryStreamExt};
use shared::api::{ConfigKind, ZeroDowntimeDecision};
use shared::report::Report;
use warp::Rejection;
use warp::filters::multipart::FormData;
use warp::http::StatusCode;

use super::State;
use super::problem::Problem;
use crate::checks::{self, CheckedPackage};
use crate::versions;

/// Largest small form field (target version, mode...).
const FIELD_LIMIT: usize = 1024;

/// The fields of the upgrade form.
#[derive(Debug, Default)]
pub(super) struct UpgradeForm {
    /// `target_version`.
    pub(super) target_version: Option<String>,
    /// `mode`.
    pub(super) mode: Option<String>,
    /// `config_kind`.
    pub(super) config_kind: Option<String>,
    /// `config`: file name and bytes.
    pub(super) config: Option<(String, Vec<u8>)>,
    /// `risk_accepted`.
    pub(super) risk_accepted: bool,
    /// `template_mismatch_confirmed`.
    pub(super) template_mismatch_confirmed: bool,
}

/// Reads the multipart form, bounding every field.
pub(super) async fn read_form(mut form: FormData, max_file: u64) -> Result<UpgradeForm, Rejection> {
    let mut fields = UpgradeForm::default();
    while let Some(part) = form
        .try_next()
        .await
        .map_err(|e| Problem::bad_request(format!("unreadable form: {e}")))?
    {
        let name = part.name().to_string();
        let file_name = part.filename().map(str::to_string);
        let limit = if name == "config" {
            max_file as usize
        } else {
            FIELD_LIMIT
        };
        let mut data = Vec::new();
        let mut stream = part.stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                Problem::bad_request(format!("unreadable form field `{name}`: {e}"))
            })?;
            if data.len() + chunk.remaining() > limit {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    format!("form field `{name}` is larger than {limit} bytes"),
                )
                .into());
            }
            data.extend_from_slice(chunk.chunk());
        }
        let text = || String::from_utf8_lossy(&data).trim().to_string();
        match name.as_str() {
            "target_version" => fields.target_version = Some(text()),
            "mode" => fields.mode = Some(text()),
            "config_kind" => fields.config_kind = Some(text()),
            "risk_accepted" => fields.risk_accepted = text() == "true",
            "template_mismatch_confirmed" => fields.template_mismatch_confirmed = text() == "true",
            "config" => {
                fields.config = Some((file_name.unwrap_or_else(|| "values.yaml".into()), data))
            }
            _ => {}
        }
    }
    Ok(fields)
}

pub(super) fn parse_word<T: serde::de::DeserializeOwned>(
    field: &str,
    value: Option<&str>,
    expected: &str,
) -> Result<T, Rejection> {
    let value = value.ok_or_else(|| {
        Problem::bad_request(format!("form field `{field}` is missing ({expected})"))
    })?;
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        Problem::bad_request(format!(
            "form field `{field}` is `{value}`; expected {expected}"
        ))
        .into()
    })
}

/// What the checks say about an upgrade form.
pub(super) struct Assessment {
    /// The configuration's report (with `target-not-newer` when it applies).
    pub(super) report: Report,
    /// The zero-downtime decision.
    pub(super) decision: ZeroDowntimeDecision,
    /// The configuration kind.
    pub(super) kind: ConfigKind,
    /// The configuration file: name and bytes.
    pub(super) config: (String, Vec<u8>),
    /// The target version as stored.
    pub(super) target: String,
    /// The values.yaml the target would run with.
    pub(super) values: Option<String>,
    /// The running version and values.
    pub(super) running: (String, String),
}

/// Runs every check on an upgrade form, as the console does.
pub(super) async fn assess(form: &UpgradeForm, state: &State) -> Result<Assessment, Rejection> {
    let target = form
        .target_version
        .clone()
        .ok_or_else(|| Problem::bad_request("form field `target_version` is missing"))?;
    let kind: ConfigKind = parse_word(
        "config_kind",
        form.config_kind.as_deref(),
        "`standard` or `non-standard`",
    )?;
    let config = form.config.clone().ok_or_else(|| {
        Problem::bad_request("form field `config` (the configuration file) is missing")
    })?;
    let t = target.clone();
    let (running, current, wanted) = state
        .db
        .run(move |conn| {
            let running = versions::running(conn)?;
            let current = match &running {
                Some((version, _)) => versions::package(conn, version)?,
                None => None,
            };
            Ok((running, current, versions::package(conn, &t)?))
        })
        .await
        .map_err(Problem::from)?;
    let running = running.ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "no-deployment",
            "no version is running yet, so there is nothing to upgrade",
        )
    })?;
    let wanted = wanted.ok_or_else(|| {
        Problem::not_found(format!(
            "version {target} is not known: upload its package first"
        ))
    })?;
    let current = current.ok_or_else(|| {
        Problem::internal(format!(
            "the running version {} has no stored package",
            running.0
        ))
    })?;
    let limits = state.limits;
    let online = running.1.clone();
    let (file_name, bytes) = config.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let recheck = |stored: &versions::StoredPackage| -> Result<CheckedPackage, String> {
            let (report, package) =
                checks::version_package(&stored.file_name, &stored.bytes, &limits);
            package.filter(|_| report.ok).ok_or_else(|| {
                format!(
                    "stored package {} no longer passes the checks",
                    stored.file_name
                )
            })
        };
        let current = recheck(&current)?;
        let wanted = recheck(&wanted)?;
        let decision = checks::zero_downtime(&current, &wanted);
        let (report, values) =
            checks::configuration(kind, &wanted, &file_name, &bytes, &online, &limits);
        Ok::<_, String>((
            decision,
            report,
            values,
            checks::normalize_version(&wanted.manifest().version),
        ))
    })
    .await
    .map_err(Problem::internal)?
    .map_err(Problem::internal)?;
    let (decision, mut report, values, target) = checked;
    let decision = match decision {
        Ok(decision) => decision,
        Err(not_newer) => {
            report.findings.insert(0, (*not_newer).clone());
            report.ok = false;
            ZeroDowntimeDecision {
                allowed: false,
                reasons: vec![*not_newer],
            }
        }
    };
    Ok(Assessment {
        report,
        decision,
        kind,
        config,
        target,
        values,
        running,
    })
}
