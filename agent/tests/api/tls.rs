//! HTTPS with `--tls-cert/--tls-key`: a certificate made for the test, a client that trusts only it; the session
//! cookie is `Secure`, every answer has HSTS, and the console's flow (import, start, live log) works over it. On
//! plain HTTP neither, and off loopback only when told so.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{Agent, Options, PASSWORD, UpgradeForm, demo_bytes};

/// A certificate for 127.0.0.1 and localhost, written as PEM files in `dir`; returns it (DER) and the two paths.
fn certificate(dir: &std::path::Path) -> (CertificateDer<'static>, String, String) {
    let pair =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a test certificate");
    let cert = dir.join("agent.crt");
    let key = dir.join("agent.key");
    std::fs::write(&cert, pair.cert.pem()).expect("write the certificate");
    std::fs::write(&key, pair.signing_key.serialize_pem()).expect("write the key");
    (
        pair.cert.der().clone(),
        cert.display().to_string(),
        key.display().to_string(),
    )
}

/// A TLS connection to the agent at `url` (`https://127.0.0.1:<port>`), trusting `trusted` only.
async fn connect(
    url: &str,
    trusted: &CertificateDer<'static>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let authority = url.strip_prefix("https://").expect("an https URL");
    let mut roots = RootCertStore::empty();
    roots
        .add(trusted.clone())
        .expect("trust the test certificate");
    let config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))
}

/// One HTTPS request to the agent at `url` over a new connection, trusting `trusted` only; the answer with its
/// body as text.
async fn https(
    url: &str,
    trusted: &CertificateDer<'static>,
    request: Request<Full<Bytes>>,
) -> Result<Response<String>, String> {
    let tls = connect(url, trusted).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    driver.abort();
    Ok(Response::from_parts(
        parts,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

fn request(
    method: &str,
    url: &str,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> Request<Full<Bytes>> {
    let authority = url.strip_prefix("https://").expect("an https URL");
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority)
        .header("content-type", "application/json");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request")
}

fn header<'a>(response: &'a Response<String>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn over_tls_the_session_cookie_is_secure_and_every_answer_has_hsts() {
    let files = tempfile::tempdir().expect("temporary directory");
    let (trusted, cert, key) = certificate(files.path());
    let agent = Agent::start_with(Options {
        args: vec!["--tls-cert".into(), cert, "--tls-key".into(), key],
        ..Options::default()
    })
    .await;
    assert!(agent.url.starts_with("https://"), "{}", agent.url);

    let logon = format!(r#"{{"username":"admin","password":"{PASSWORD}"}}"#);
    let answer = https(
        &agent.url,
        &trusted,
        request("POST", &agent.url, "/api/v1/login", None, &logon),
    )
    .await
    .expect("log on over TLS");
    assert_eq!(answer.status(), 200, "{}", answer.body());
    assert_eq!(
        header(&answer, "strict-transport-security"),
        Some("max-age=31536000")
    );
    let cookie = header(&answer, "set-cookie").expect("a session cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(attributes.contains(&attribute), "{attribute} in {cookie}");
    }
    let session = attributes[0];

    // The session works over TLS; answers that are errors carry HSTS too.
    let me = https(
        &agent.url,
        &trusted,
        request("GET", &agent.url, "/api/v1/me", Some(session), ""),
    )
    .await
    .expect("GET /api/v1/me");
    assert_eq!(me.status(), 200);
    assert!(me.body().contains(r#""username":"admin""#), "{}", me.body());
    assert_eq!(
        header(&me, "strict-transport-security"),
        Some("max-age=31536000")
    );
    let refused = https(
        &agent.url,
        &trusted,
        request("GET", &agent.url, "/api/v1/me", None, ""),
    )
    .await
    .expect("GET /api/v1/me without a session");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        header(&refused, "strict-transport-security"),
        Some("max-age=31536000")
    );

    // The console's flow over TLS: import the target version, start the rolling upgrade (a multipart form), and
    // follow its log on a websocket over the same TLS to its end.
    let package = demo_bytes("versions/V5.1.2.04.zip");
    let mut import = request("POST", &agent.url, "/api/v1/versions", Some(session), "");
    *import.body_mut() = Full::new(Bytes::from(package));
    import
        .headers_mut()
        .insert("content-type", "application/zip".parse().expect("header"));
    let imported = https(&agent.url, &trusted, import).await.expect("import");
    assert_eq!(imported.status(), 201, "{}", imported.body());
    let form = UpgradeForm::rolling();
    let boundary = "tls-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [
        ("target_version", form.target),
        ("mode", form.mode),
        ("config_kind", form.kind),
        ("risk_accepted", "true"),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"config\"; \
             filename=\"standard-V5.1.2.04.yaml\"\r\nContent-Type: application/yaml\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&demo_bytes(form.config));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut start = request("POST", &agent.url, "/api/v1/upgrades", Some(session), "");
    *start.body_mut() = Full::new(Bytes::from(body));
    start.headers_mut().insert(
        "content-type",
        format!("multipart/form-data; boundary={boundary}")
            .parse()
            .expect("header"),
    );
    let started = https(&agent.url, &trusted, start).await.expect("start");
    assert_eq!(started.status(), 202, "{}", started.body());
    let id = serde_json::from_str::<serde_json::Value>(started.body()).expect("JSON")["id"]
        .as_i64()
        .expect("id");
    let authority = agent.url.strip_prefix("https://").expect("an https URL");
    let mut handshake = format!("wss://{authority}/api/v1/upgrades/{id}/logs/stream?after=0")
        .into_client_request()
        .expect("websocket request");
    handshake
        .headers_mut()
        .insert("cookie", session.parse().expect("cookie header"));
    let tls = connect(&agent.url, &trusted)
        .await
        .expect("TLS for the websocket");
    let (mut socket, answer) = tokio_tungstenite::client_async(handshake, tls)
        .await
        .expect("websocket handshake over TLS");
    assert_eq!(
        answer
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    let mut end = None;
    while let Some(message) = tokio::time::timeout(Duration::from_secs(120), socket.next())
        .await
        .expect("a message within 120 s")
    {
        if let Ok(Message::Text(text)) = message {
            let message: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
            if message["type"] == "end" {
                end = message["status"].as_str().map(str::to_string);
                break;
            }
        }
    }
    assert_eq!(
        end.as_deref(),
        Some("succeeded"),
        "the live log over TLS ends"
    );

    // Logging out replaces the cookie with an expired one, `Secure` as well.
    let logout = https(
        &agent.url,
        &trusted,
        request("POST", &agent.url, "/api/v1/logout", Some(session), ""),
    )
    .await
    .expect("log out over TLS");
    assert_eq!(logout.status(), 200);
    let expired = header(&logout, "set-cookie").expect("an expired cookie");
    assert!(
        expired.contains("Max-Age=0") && expired.split(';').any(|a| a.trim() == "Secure"),
        "{expired}"
    );

    // A client that does not trust the certificate gets no answer; plain HTTP to the TLS port gets none either.
    let (stranger, _, _) = certificate(files.path());
    let untrusted = https(
        &agent.url,
        &stranger,
        request("GET", &agent.url, "/healthz", None, ""),
    )
    .await;
    assert!(
        untrusted
            .as_ref()
            .is_err_and(|e| e.contains("TLS handshake")),
        "{untrusted:?}"
    );
    let plain = agent
        .anonymous()
        .get(agent.url.replacen("https://", "http://", 1) + "/healthz")
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP answered on the TLS port: {plain:?}"
    );
}

#[tokio::test]
async fn plain_http_on_every_address_starts_with_insecure_http_without_secure_or_hsts() {
    // Bound on every address, but the test only talks to 127.0.0.1.
    let agent = Agent::start_with(Options {
        listen: "0.0.0.0:0".into(),
        args: vec!["--insecure-http".into()],
        ..Options::default()
    })
    .await;
    assert!(agent.url.starts_with("http://127.0.0.1:"), "{}", agent.url);
    let response = agent
        .anonymous()
        .post(agent.at("/api/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("log on");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie");
    assert!(
        !cookie.split(';').any(|a| a.trim() == "Secure"),
        "no Secure on plain HTTP: {cookie}"
    );
}
