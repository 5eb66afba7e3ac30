//! The only file that talks to the agent (HTTP with gloo-net and the log websocket) and reads or offers files. Every call answers a
//! typed [`Error`]; a 401 sends the operator to the logon page, remembering where they were.

use futures_util::{Stream, StreamExt};
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use serde::de::DeserializeOwned;
use shared::api::{
    AccountList, AccountView, ApiError, ClusterView, Limits, LoginRequest, Me, NewAccount,
    PasswordChange, Role, RoleChange, StreamMessage, UpgradeDetail, UpgradeMode, UpgradeStarted,
    UpgradeSummary, VersionImported, VersionInfo,
};
use shared::report::Report;
use wasm_bindgen::JsValue;

use crate::session;

const API: &str = "/api/v1";

/// Why a call to the agent did not give the expected answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// 401: the session ended; the console is on its way to the logon page.
    #[error("Your session has ended. Please log on again.")]
    SessionEnded,
    /// 401 on logon: wrong username or password.
    #[error("{0}")]
    BadCredentials(String),
    /// 422 with a report: the agent's own checks refused the input.
    #[error("The agent refused the file: {} error(s).", crate::findings::counts(.0).errors)]
    Rejected(Report),
    /// Any other error body, e.g. 409 while another upgrade runs, 429 after too many attempts.
    #[error("{}", .1.message)]
    Refused(u16, ApiError),
    /// A status without the usual error body.
    #[error("The agent answered {0}: {1}")]
    Unexpected(u16, String),
    /// The agent could not be reached.
    #[error("Cannot reach the agent: {0}")]
    Network(String),
    /// The answer was not what the console expects.
    #[error("The agent's answer could not be read: {0}")]
    Decode(String),
}

/// The result of every call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `POST /api/v1/login`: wrong credentials answer [`Error::BadCredentials`], not a redirect.
pub async fn login(username: &str, password: &str) -> Result<Me> {
    let body = LoginRequest {
        username: username.to_string(),
        password: password.to_string(),
    };
    let resp = Request::post(&format!("{API}/login"))
        .json(&body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    if resp.status() == 401 {
        let text = resp.text().await.unwrap_or_default();
        let message = from_json::<ApiError>(&text)
            .map(|e| e.message)
            .unwrap_or_else(|_| "Wrong username or password.".to_string());
        return Err(Error::BadCredentials(message));
    }
    answer(resp).await
}

/// `POST /api/v1/logout`.
pub async fn logout() -> Result<()> {
    let resp = send(Request::post(&format!("{API}/logout"))).await?;
    nothing(resp).await
}

/// `GET /api/v1/me`.
pub async fn me() -> Result<Me> {
    get_json("/me").await
}

/// `GET /api/v1/limits`: what the browser's checks apply before sending.
pub async fn limits() -> Result<Limits> {
    get_json("/limits").await
}

/// `GET /api/v1/cluster`.
pub async fn cluster() -> Result<ClusterView> {
    get_json("/cluster").await
}

/// `GET /api/v1/cluster/values`: the running values as YAML text.
pub async fn cluster_values() -> Result<String> {
    let resp = send(Request::get(&format!("{API}/cluster/values"))).await?;
    if !resp.ok() {
        return Err(failure(resp).await);
    }
    resp.text().await.map_err(decode)
}

/// `GET /api/v1/versions`.
pub async fn versions() -> Result<Vec<VersionInfo>> {
    get_json("/versions").await
}

/// `GET /api/v1/versions/{v}`: the version's manifest, read by [`crate::checks::manifest_from_json`].
pub async fn manifest(version: &str) -> Result<shared::manifest::Manifest> {
    let resp = send(Request::get(&format!(
        "{API}/versions/{}",
        session::encode_query(version)
    )))
    .await?;
    let text = body(resp).await?;
    crate::checks::manifest_from_json(version, &text).map_err(Error::Decode)
}

/// `GET /api/v1/versions/{v}/package`: the stored package's bytes.
pub async fn version_package(version: &str) -> Result<Vec<u8>> {
    let resp = send(Request::get(&format!(
        "{API}/versions/{}/package",
        session::encode_query(version)
    )))
    .await?;
    if !resp.ok() {
        return Err(failure(resp).await);
    }
    resp.binary().await.map_err(decode)
}

/// `POST /api/v1/versions`: imported (`created`) or overwrote a stored package.
pub async fn upload_version(file_name: &str, bytes: &[u8]) -> Result<VersionImported> {
    let content_type = if is_zip(file_name, bytes) {
        "application/zip"
    } else {
        "application/yaml"
    };
    let body = js_sys::Uint8Array::from(bytes);
    let req = Request::post(&format!("{API}/versions"))
        .header("Content-Type", content_type)
        .body(JsValue::from(body))
        .map_err(network)?;
    answer(req.send().await.map_err(network)?).await
}

/// What `POST /api/v1/upgrades` sends.
#[derive(Debug, Clone, PartialEq)]
pub struct StartUpgrade {
    /// Target version.
    pub target_version: String,
    /// Rolling or downtime.
    pub mode: UpgradeMode,
    /// `standard` or `non-standard`.
    pub config_kind: shared::api::ConfigKind,
    /// The configuration file's name as uploaded.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The operator confirmed a template mismatch.
    pub template_mismatch_confirmed: bool,
}

/// `POST /api/v1/upgrades` (multipart form).
pub async fn start_upgrade(start: &StartUpgrade) -> Result<UpgradeStarted> {
    let form = web_sys::FormData::new().map_err(js)?;
    let mode = match start.mode {
        UpgradeMode::ZeroDowntime => "zero-downtime",
        UpgradeMode::Downtime => "downtime",
    };
    let kind = match start.config_kind {
        shared::api::ConfigKind::Standard => "standard",
        shared::api::ConfigKind::NonStandard => "non-standard",
    };
    form.append_with_str("target_version", &start.target_version)
        .map_err(js)?;
    form.append_with_str("mode", mode).map_err(js)?;
    form.append_with_str("config_kind", kind).map_err(js)?;
    form.append_with_str("risk_accepted", "true").map_err(js)?;
    if start.template_mismatch_confirmed {
        form.append_with_str("template_mismatch_confirmed", "true")
            .map_err(js)?;
    }
    let blob = blob(&start.bytes, "application/octet-stream")?;
    form.append_with_blob_and_filename("config", &blob, &start.file_name)
        .map_err(js)?;
    let req = Request::post(&format!("{API}/upgrades"))
        .body(JsValue::from(form))
        .map_err(network)?;
    answer(req.send().await.map_err(network)?).await
}

/// `GET /api/v1/upgrades`, newest first.
pub async fn upgrades() -> Result<Vec<UpgradeSummary>> {
    get_json("/upgrades").await
}

/// `GET /api/v1/upgrades/{id}`.
pub async fn upgrade(id: i64) -> Result<UpgradeDetail> {
    get_json(&format!("/upgrades/{id}")).await
}

/// `POST /api/v1/upgrades/{id}/stop`: takes effect after the current replica step.
pub async fn force_stop(id: i64) -> Result<()> {
    let resp = send(Request::post(&format!("{API}/upgrades/{id}/stop"))).await?;
    nothing(resp).await
}

/// `POST /api/v1/upgrades/{id}/retry`: the new run's id.
pub async fn retry(id: i64) -> Result<UpgradeStarted> {
    answer(send(Request::post(&format!("{API}/upgrades/{id}/retry"))).await?).await
}

/// `GET /api/v1/accounts`: every account and the newest changes to accounts (admins only).
pub async fn accounts() -> Result<AccountList> {
    get_json("/accounts").await
}

/// `POST /api/v1/accounts`: the account as added.
pub async fn add_account(new: &NewAccount) -> Result<AccountView> {
    let req = Request::post(&format!("{API}/accounts"))
        .json(new)
        .map_err(network)?;
    answer(req.send().await.map_err(network)?).await
}

/// `PUT /api/v1/accounts/{name}/role`: the account with its new role.
pub async fn change_role(name: &str, role: Role) -> Result<AccountView> {
    let req = Request::put(&format!(
        "{API}/accounts/{}/role",
        session::encode_query(name)
    ))
    .json(&RoleChange { role })
    .map_err(network)?;
    answer(req.send().await.map_err(network)?).await
}

/// `PUT /api/v1/accounts/{name}/password`: all the account's sessions end.
pub async fn set_password(name: &str, password: &str) -> Result<()> {
    let body = PasswordChange {
        password: password.to_string(),
    };
    let req = Request::put(&format!(
        "{API}/accounts/{}/password",
        session::encode_query(name)
    ))
    .json(&body)
    .map_err(network)?;
    nothing(req.send().await.map_err(network)?).await
}

/// `DELETE /api/v1/accounts/{name}`: its sessions end at once.
pub async fn remove_account(name: &str) -> Result<()> {
    let resp = send(Request::delete(&format!(
        "{API}/accounts/{}",
        session::encode_query(name)
    )))
    .await?;
    nothing(resp).await
}

/// Where the configuration used by an upgrade is downloaded (an attachment with its file name).
pub fn config_url(id: i64) -> String {
    format!("{API}/upgrades/{id}/config")
}

/// Opens `GET /api/v1/upgrades/{id}/logs/stream?after=N`: the lines after N, then live ones, progress and end.
/// The stream ends when the socket closes; reconnect with the last `seq` received.
pub fn log_stream(id: i64, after: u64) -> Result<impl Stream<Item = Result<StreamMessage>>> {
    let location = web_sys::window()
        .ok_or_else(|| Error::Network("no window".into()))?
        .location();
    let scheme = if location.protocol().map_err(js)? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().map_err(js)?;
    let url = format!("{scheme}://{host}{API}/upgrades/{id}/logs/stream?after={after}");
    let socket = WebSocket::open(&url).map_err(|e| Error::Network(e.to_string()))?;
    Ok(socket.map(|message| match message {
        Ok(Message::Text(text)) => from_json::<StreamMessage>(&text),
        Ok(Message::Bytes(_)) => Err(Error::Decode("binary message on the log stream".into())),
        Err(e) => Err(Error::Network(e.to_string())),
    }))
}

/// Offers bytes held in the browser as a download (the uploaded configuration, unchanged).
pub fn download(file_name: &str, bytes: &[u8]) -> Result<()> {
    let blob = blob(bytes, "application/octet-stream")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| Error::Network("no document".into()))?;
    let anchor: web_sys::HtmlAnchorElement =
        wasm_bindgen::JsCast::dyn_into(document.create_element("a").map_err(js)?)
            .map_err(|_| Error::Network("cannot create a link".into()))?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    web_sys::Url::revoke_object_url(&url).map_err(js)?;
    Ok(())
}

/// Reads a file the operator picked.
pub async fn read_file(file: &web_sys::File) -> Result<Vec<u8>> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| Error::Decode(format!("cannot read {}: {e:?}", file.name())))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Whether an upload is a ZIP (by its magic bytes, else its name).
pub fn is_zip(file_name: &str, bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x05\x06")
        || file_name.to_ascii_lowercase().ends_with(".zip")
}

/// Sends the operator to the logon page, with the page they are on as `next`.
pub fn go_to_logon() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let _ = location.set_href(&session::login_path(&here));
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T> {
    answer(send(Request::get(&format!("{API}{path}"))).await?).await
}

/// The answer's JSON as a `T`. Only the decoding is generic: the wait for the body is one function for every answer
/// type rather than a copy in each.
async fn answer<T: DeserializeOwned>(resp: Response) -> Result<T> {
    from_json(&body(resp).await?)
}

/// JSON as a `T`: one copy of each type's reader, not one inlined in every future that reads it.
#[inline(never)]
fn from_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Decode(e.to_string()))
}

/// The body of a successful answer as text; a failed answer is its error.
async fn body(resp: Response) -> Result<String> {
    if resp.ok() {
        resp.text().await.map_err(decode)
    } else {
        Err(failure(resp).await)
    }
}

async fn send(req: RequestBuilder) -> Result<Response> {
    req.send().await.map_err(network)
}

async fn nothing(resp: Response) -> Result<()> {
    if resp.ok() {
        Ok(())
    } else {
        Err(failure(resp).await)
    }
}

async fn failure(resp: Response) -> Error {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status == 401 {
        go_to_logon();
        return Error::SessionEnded;
    }
    if status == 422
        && let Ok(report) = from_json::<Report>(&text)
    {
        return Error::Rejected(report);
    }
    match from_json::<ApiError>(&text) {
        Ok(body) => Error::Refused(status, body),
        Err(_) => Error::Unexpected(status, text.chars().take(300).collect()),
    }
}

fn blob(bytes: &[u8], content_type: &str) -> Result<web_sys::Blob> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(content_type);
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js)
}

fn network(e: gloo_net::Error) -> Error {
    Error::Network(e.to_string())
}

fn decode(e: gloo_net::Error) -> Error {
    Error::Decode(e.to_string())
}

fn js(e: JsValue) -> Error {
    Error::Network(format!("{e:?}"))
}
