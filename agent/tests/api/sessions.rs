//! Sessions and access: what answers without a session, the cookie, the generic 401, throttling, Origin.

use std::time::{Duration, Instant};

use crate::support::{Agent, Options, PASSWORD};

/// Every /api/v1 route that needs a session, with a method it answers to.
const PRIVATE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/limits"),
    ("GET", "/api/v1/cluster"),
    ("GET", "/api/v1/cluster/values"),
    ("GET", "/api/v1/versions"),
    ("POST", "/api/v1/versions"),
    ("GET", "/api/v1/versions/V5.1.2.02"),
    ("GET", "/api/v1/versions/V5.1.2.02/package"),
    ("POST", "/api/v1/upgrades/check"),
    ("POST", "/api/v1/upgrades"),
    ("GET", "/api/v1/upgrades"),
    ("GET", "/api/v1/upgrades/1"),
    ("POST", "/api/v1/upgrades/1/stop"),
    ("POST", "/api/v1/upgrades/1/retry"),
    ("GET", "/api/v1/upgrades/1/config"),
    ("GET", "/api/v1/upgrades/1/logs"),
    ("GET", "/api/v1/upgrades/1/logs/stream"),
];

#[tokio::test]
async fn only_health_and_the_console_answer_without_a_session() {
    let agent = Agent::start().await;
    let http = agent.anonymous();

    let health = http
        .get(agent.at("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    let root = http.get(agent.at("/")).send().await.expect("/");
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()["location"], "/opsconsole/v2/");
    let slashless = http
        .get(agent.at("/opsconsole/v2"))
        .send()
        .await
        .expect("console");
    assert_eq!(slashless.headers()["location"], "/opsconsole/v2/");

    for deep_link in [
        "/opsconsole/v2/",
        "/opsconsole/v2/upgrades/7",
        "/opsconsole/v2/records",
    ] {
        let page = http.get(agent.at(deep_link)).send().await.expect("page");
        assert_eq!(page.status(), 200, "{deep_link}");
        assert!(
            page.text()
                .await
                .expect("text")
                .contains("test console index"),
            "{deep_link}"
        );
    }
    let asset = http
        .get(agent.at("/opsconsole/v2/app.js"))
        .send()
        .await
        .expect("asset");
    assert!(
        asset
            .text()
            .await
            .expect("text")
            .contains("test console asset")
    );

    for (method, path) in PRIVATE_ROUTES {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = http
            .request(method.clone(), agent.at(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401, "{method} {path} without a session");
        let body: serde_json::Value = response.json().await.expect("error body");
        assert_eq!(body["error"], "unauthorized", "{method} {path}");
    }
}

#[tokio::test]
async fn logon_sets_a_strict_cookie_and_logout_ends_the_session() {
    let agent = Agent::start().await;
    let http = agent.anonymous();
    let login = |user: &str, password: &str| {
        http.post(agent.at("/api/v1/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
    };

    let wrong_password = login("admin", "nope").await.expect("login");
    assert_eq!(wrong_password.status(), 401);
    let wrong_password: serde_json::Value = wrong_password.json().await.expect("body");
    let no_such_user: serde_json::Value = login("nobody", PASSWORD)
        .await
        .expect("login")
        .json()
        .await
        .expect("body");
    assert_eq!(
        wrong_password, no_such_user,
        "one generic message whatever was wrong"
    );

    let ok = login("admin", PASSWORD).await.expect("login");
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "the session expires: {cookie}");
    let token = cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v)
        .expect("token");
    assert!(
        token.len() >= 32 && token.chars().all(|c| c.is_ascii_hexdigit()),
        "at least 128 random bits: {token}"
    );
    let me: shared::api::Me = ok.json().await.expect("me");
    assert_eq!((me.username.as_str(), me.role.as_str()), ("admin", "admin"));

    let me = http.get(agent.at("/api/v1/me")).send().await.expect("me");
    assert_eq!(me.status(), 200);

    let logout = http
        .post(agent.at("/api/v1/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 200);
    // The old token no longer works, even when a client keeps sending it.
    let replayed = agent
        .anonymous()
        .get(agent.at("/api/v1/me"))
        .header("cookie", format!("agent_session={token}"))
        .send()
        .await
        .expect("me");
    assert_eq!(replayed.status(), 401);
}

#[tokio::test]
async fn repeated_failures_slow_down_then_get_429_with_retry_after() {
    let agent = Agent::start().await;
    let http = agent.anonymous();
    let attempt = |user: &'static str, password: &'static str| {
        let request = http
            .post(agent.at("/api/v1/login"))
            .json(&serde_json::json!({"username": user, "password": password}));
        async move {
            let started = Instant::now();
            let response = request.send().await.expect("login");
            (response, started.elapsed())
        }
    };
    let mut statuses = Vec::new();
    let mut slowest = Duration::ZERO;
    for _ in 0..6 {
        let (response, took) = attempt("admin", "wrong").await;
        statuses.push(response.status().as_u16());
        slowest = slowest.max(took);
    }
    assert_eq!(statuses, [401; 6]);
    assert!(
        slowest >= Duration::from_secs(2),
        "later failures wait longer (slowest took {slowest:?})"
    );

    let (throttled, _) = attempt("admin", PASSWORD).await;
    assert_eq!(
        throttled.status(),
        429,
        "even the right password waits once the account is throttled"
    );
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .expect("header")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);

    // Throttling is per account: another account name is not affected.
    let (other, _) = attempt("someone-else", "wrong").await;
    assert_eq!(other.status(), 401);
}

#[tokio::test]
async fn foreign_origins_are_refused_on_state_changes_and_websocket_handshakes() {
    let agent = Agent::start_with(Options {
        args: vec![
            "--allowed-origin".into(),
            "http://console.example:5173".into(),
        ],
        ..Options::default()
    })
    .await;
    let admin = agent.admin().await;
    let post_versions = |origin: &str| {
        admin
            .http
            .post(admin.at("/api/v1/versions"))
            .header("origin", origin)
            .header("content-type", "application/zip")
            .body(crate::support::demo_bytes("versions/V5.1.2.04.zip"))
            .send()
    };
    let refused = post_versions("http://evil.example").await.expect("post");
    assert_eq!(refused.status(), 403);
    let body: serde_json::Value = refused.json().await.expect("body");
    assert_eq!(body["error"], "origin-not-allowed");
    assert_eq!(
        post_versions(&agent.url).await.expect("post").status(),
        201,
        "own origin"
    );
    assert_eq!(
        post_versions("http://console.example:5173")
            .await
            .expect("post")
            .status(),
        200,
        "allowed origin"
    );

    // Logon is state-changing too.
    let login = agent
        .anonymous()
        .post(agent.at("/api/v1/login"))
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 403);

    let id = admin
        .start_upgrade(&crate::support::UpgradeForm::rolling())
        .await;
    match admin.open_stream(id, 0, Some("http://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        Err(other) => panic!("expected 403, got {other}"),
        Ok(_) => panic!("a websocket handshake from a foreign origin was accepted"),
    }
    let mut viewer = admin
        .open_stream(id, 0, Some(&agent.url))
        .await
        .expect("own origin");
    assert!(viewer.next().await.is_some());
    admin.wait_until_ended(id).await;
}

#[tokio::test]
async fn first_start_prints_a_generated_admin_password_once() {
    let mut agent = Agent::start_with(Options {
        admin_password: false,
        ..Options::default()
    })
    .await;
    let line = agent
        .stdout
        .iter()
        .find(|l| l.contains("Created account `admin` with password: "))
        .unwrap_or_else(|| {
            panic!(
                "password printed on first start; stdout: {:?}",
                agent.stdout
            )
        })
        .clone();
    let password = line
        .rsplit(": ")
        .next()
        .expect("password")
        .trim()
        .to_string();
    let response = agent
        .anonymous()
        .post(agent.at("/api/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200, "the printed password logs on");

    agent.kill();
    agent.restart();
    assert!(
        !agent.stdout.iter().any(|l| l.contains("Created account")),
        "printed once only: {:?}",
        agent.stdout
    );
}
