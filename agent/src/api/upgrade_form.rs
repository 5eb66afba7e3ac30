//! The upgrade form (`POST /api/v1/upgrades/check` and `POST /api/v1/upgrades`): reading it with every field
//! bounded, and running every check on it as the console does.

use bytes::Buf;
use futures_util::{StreamExt, TryStreamExt};
use shared::api::{ConfigKind, UpgradeMode, ZeroDowntimeDecision};
use shared::manifest::Manifest;
use shared::report::Report;
use warp::Rejection;
use warp::filters::multipart::FormData;
use warp::http::StatusCode;

use super::State;
use super::problem::Problem;
use crate::checks;
use crate::engine::Deployment;
use crate::versions;

/// The words `mode` takes, for messages.
pub(super) const MODES: &str = "`zero-downtime` or `downtime`";
/// The fields of the form by name; any other is refused, as `openapi.yaml` describes the form (no additional
/// properties).
const FIELDS: [(&str, Field); 6] = [
    ("target_version", Field::TargetVersion),
    ("mode", Field::Mode),
    ("config_kind", Field::ConfigKind),
    ("config", Field::Config),
    ("risk_accepted", Field::RiskAccepted),
    (
        "template_mismatch_confirmed",
        Field::TemplateMismatchConfirmed,
    ),
];

/// A field of the upgrade form.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// `target_version`.
    TargetVersion,
    /// `mode`.
    Mode,
    /// `config_kind`.
    ConfigKind,
    /// `config`, the file.
    Config,
    /// `risk_accepted`.
    RiskAccepted,
    /// `template_mismatch_confirmed`.
    TemplateMismatchConfirmed,
}

/// Largest small form field (target version, mode...).
const FIELD_LIMIT: usize = 1024;

/// The fields of the upgrade form.
#[derive(Debug, Default)]
pub(super) struct UpgradeForm {
    /// `target_version`.
    pub(super) target_version: Option<String>,
    /// `mode`, checked when given: the check reads no mode, but a mode it cannot be is refused on both routes.
    pub(super) mode: Option<UpgradeMode>,
    /// `config_kind`.
    pub(super) config_kind: Option<String>,
    /// `config`: file name and bytes.
    pub(super) config: Option<(String, Vec<u8>)>,
    /// `risk_accepted`.
    pub(super) risk_accepted: bool,
    /// `template_mismatch_confirmed`.
    pub(super) template_mismatch_confirmed: bool,
}

/// Reads the multipart form, bounding every field. A refused form is still read to its end (the body is bounded by
/// the route's limit), so that the client, still sending, gets the refusal rather than a closed connection.
pub(super) async fn read_form(mut form: FormData, max_file: u64) -> Result<UpgradeForm, Rejection> {
    let read = read_fields(&mut form, max_file).await;
    if read.is_err() {
        while let Ok(Some(part)) = form.try_next().await {
            let mut rest = part.stream();
            while let Some(Ok(_)) = rest.next().await {}
        }
    }
    read
}

async fn read_fields(form: &mut FormData, max_file: u64) -> Result<UpgradeForm, Rejection> {
    let mut fields = UpgradeForm::default();
    while let Some(part) = form
        .try_next()
        .await
        .map_err(|e| Problem::bad_request(format!("unreadable form: {e}")))?
    {
        let name = part.name().to_string();
        // Refused before its content is read.
        let Some(field) = FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f) else {
            let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
            return Err(Problem::bad_request(format!(
                "form field `{name}` is not one of the upgrade form's: {}",
                names.join(", ")
            ))
            .into());
        };
        let file_name = part.filename().map(str::to_string);
        let limit = match field {
            Field::Config => max_file as usize,
            _ => FIELD_LIMIT,
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
        match field {
            Field::TargetVersion => fields.target_version = Some(text()),
            Field::Mode => fields.mode = Some(parse_word("mode", Some(&text()), MODES)?),
            Field::ConfigKind => fields.config_kind = Some(text()),
            Field::RiskAccepted => fields.risk_accepted = acknowledged(&name, &text())?,
            Field::TemplateMismatchConfirmed => {
                fields.template_mismatch_confirmed = acknowledged(&name, &text())?
            }
            Field::Config => {
                fields.config = Some((file_name.unwrap_or_else(|| "values.yaml".into()), data))
            }
        }
    }
    Ok(fields)
}

/// An acknowledgement field: present means `true`, the one value it takes; anything else is a 400 naming it, so
/// that a client sending `false` or `yes` learns the form's rule instead of having it read one way or the other.
fn acknowledged(field: &str, value: &str) -> Result<bool, Problem> {
    if value == "true" {
        Ok(true)
    } else {
        Err(Problem::bad_request(format!(
            "form field `{field}` is `{value}`; it is `true` when given (leave it out otherwise)"
        )))
    }
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

/// What the checks say about an upgrade form, and everything a start needs from them.
pub(super) struct Assessment {
    /// The configuration's report (with `target-not-newer` when it applies).
    pub(super) report: Report,
    /// The zero-downtime decision.
    pub(super) decision: ZeroDowntimeDecision,
    /// The configuration kind.
    pub(super) kind: ConfigKind,
    /// The configuration file: name and bytes.
    pub(super) config: (String, Vec<u8>),
    /// The running version as stored.
    pub(super) from_version: String,
    /// What runs now: its manifest as stored and its values.
    pub(super) from: Deployment,
    /// The target version as stored.
    pub(super) to_version: String,
    /// The target's manifest, from its package as checked here.
    pub(super) to_manifest: Manifest,
    /// The values.yaml the target would run with.
    pub(super) values: Option<String>,
}

/// Runs every check on an upgrade form, as the console does. The running version is known by its stored manifest
/// (its package was checked when imported); the target's package is read and checked once, here, since the
/// configuration is checked against its template.
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
    let (running, wanted) = state
        .db
        .run(move |conn| {
            let running = match versions::running(conn)? {
                Some((version, values)) => {
                    let manifest = versions::manifest(conn, &version)?;
                    // Its chart is needed by the non-standard difference only.
                    let package = match kind {
                        ConfigKind::NonStandard => versions::package(conn, &version)?,
                        ConfigKind::Standard => None,
                    };
                    Some((version, values, manifest, package))
                }
                None => None,
            };
            Ok((running, versions::package(conn, &t)?))
        })
        .await
        .map_err(Problem::from)?;
    let (from_version, from_values, from_manifest, from_package) = running.ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "no-deployment",
            "no version is running yet, so there is nothing to upgrade",
        )
    })?;
    let from_manifest = from_manifest.ok_or_else(|| {
        Problem::internal(format!(
            "the running version {from_version} has no stored package"
        ))
    })?;
    let wanted = wanted.ok_or_else(|| {
        Problem::not_found(format!(
            "version {target} is not known: upload its package first"
        ))
    })?;
    let limits = state.limits;
    let from = Deployment {
        manifest: from_manifest,
        values: from_values,
    };
    let (file_name, bytes) = config.clone();
    let running_version = from_version.clone();
    let (from, checked) = tokio::task::spawn_blocking(move || {
        let (report, package) = checks::version_package(&wanted.file_name, &wanted.bytes, &limits);
        let Some(wanted) = package.filter(|_| report.ok) else {
            return (
                from,
                Err(format!(
                    "stored package {} no longer passes the checks",
                    wanted.file_name
                )),
            );
        };
        let decision = checks::zero_downtime(&from.manifest, &wanted);
        let running = checks::RunningNow {
            version: &running_version,
            values: &from.values,
            package: from_package
                .as_ref()
                .map(|p| (p.file_name.as_str(), p.bytes.as_slice())),
        };
        let (report, values) =
            checks::configuration(kind, &wanted, &file_name, &bytes, Some(running), &limits);
        let checked = (decision, report, values, wanted.manifest().clone());
        (from, Ok(checked))
    })
    .await
    .map_err(Problem::internal)?;
    let (decision, mut report, values, to_manifest) = checked.map_err(Problem::internal)?;
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
        from_version,
        from,
        to_version: checks::normalize_version(&to_manifest.version),
        to_manifest,
        values,
    })
}
