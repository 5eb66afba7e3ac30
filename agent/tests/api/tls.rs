//! HTTPS with `--tls-cert/--tls-key`: a certificate made for the test, a client that trusts only it; the session
//! cookie is `Secure` and every answer has HSTS. On plain HTTP neither, and off loopback only when told so.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::support::{Agent, Options, PASSWORD};

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

/// One HTTPS request to the agent at `url` (`https://127.0.0.1:<port>`) over a new connection, trusting `trusted`
/// only; the answer with its body as text.
async fn https(
    url: &str,
    trusted: &CertificateDer<'static>,
    request: Request<Full<Bytes>>,
) -> Result<Response<String>, String> {
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
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
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
