//! Roles on every route: a viewer reads, an operator also changes, an admin also manages accounts; without a session 401,
//! with too small a role 403 naming the role needed.

use std::collections::BTreeSet;

use reqwest::multipart::Form;
use shared::api::{Role, UpgradeStatus};

use crate::openapi::documented;
use crate::support::{Agent, UpgradeForm, root};

/// What a route is sent in the matrix.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// Nothing.
    Empty,
    /// Bytes that are no version package.
    NotAPackage,
    /// A multipart form without fields.
    EmptyForm,
    /// A JSON object without fields.
    EmptyJson,
}

/// One row of the matrix: a route, the role it needs, and what it answers a role that may call it.
#[derive(Debug)]
struct Row {
    /// HTTP method.
    method: &'static str,
    /// Path template, as in openapi.yaml.
    template: &'static str,
    /// The least role that may call it.
    needs: Role,
    /// What is sent.
    body: Body,
    /// The status a role that may call it gets.
    allowed: u16,
}

const fn row(
    method: &'static str,
    template: &'static str,
    needs: Role,
    body: Body,
    allowed: u16,
) -> Row {
    Row {
        method,
        template,
        needs,
        body,
        allowed,
    }
}

/// Every route that needs a session, except the websocket (checked with a real handshake below).
const MATRIX: [Row; 22] = [
    row("GET", "/metrics", Role::Viewer, Body::Empty, 200),
    row("GET", "/api/v1/me", Role::Viewer, Body::Empty, 200),
    row("GET", "/api/v1/limits", Role::Viewer, Body::Empty, 200),
    row("GET", "/api/v1/cluster", Role::Viewer, Body::Empty, 200),
    row(
        "GET",
        "/api/v1/cluster/values",
        Role::Viewer,
        Body::Empty,
        200,
    ),
    row("GET", "/api/v1/versions", Role::Viewer, Body::Empty, 200),
    row(
        "GET",
        "/api/v1/versions/{version}",
        Role::Viewer,
        Body::Empty,
        200,
    ),
    row(
        "GET",
        "/api/v1/versions/{version}/package",
        Role::Viewer,
        Body::Empty,
        200,
    ),
    // A package that fails its checks: the role passed, nothing is imported.
    row(
        "POST",
        "/api/v1/versions",
        Role::Operator,
        Body::NotAPackage,
        422,
    ),
    // A form without fields: the role passed, nothing is checked or started.
    row(
        "POST",
        "/api/v1/upgrades/check",
        Role::Operator,
        Body::EmptyForm,
        400,
    ),
    row(
        "POST",
        "/api/v1/upgrades",
        Role::Operator,
        Body::EmptyForm,
        400,
    ),
    row("GET", "/api/v1/upgrades", Role::Viewer, Body::Empty, 200),
    row(
        "GET",
        "/api/v1/upgrades/{id}",
        Role::Viewer,
        Body::Empty,
        200,
    ),
    // The upgrade has succeeded: the role passed, and it can be neither stopped nor retried.
    row(
        "POST",
        "/api/v1/upgrades/{id}/stop",
        Role::Operator,
        Body::Empty,
        409,
    ),
    row(
        "POST",
        "/api/v1/upgrades/{id}/retry",
        Role::Operator,
        Body::Empty,
        409,
    ),
    row(
        "GET",
        "/api/v1/upgrades/{id}/config",
        Role::Viewer,
        Body::Empty,
        200,
    ),
    row(
        "GET",
        "/api/v1/upgrades/{id}/logs",
        Role::Viewer,
        Body::Empty,
        200,
    ),
    row("GET", "/api/v1/accounts", Role::Admin, Body::Empty, 200),
    // Bodies without fields, and an account that does not exist: the role passed, no account changes.
    row(
        "POST",
        "/api/v1/accounts",
        Role::Admin,
        Body::EmptyJson,
        400,
    ),
    row(
        "DELETE",
        "/api/v1/accounts/{name}",
        Role::Admin,
        Body::Empty,
        404,
    ),
    row(
        "PUT",
        "/api/v1/accounts/{name}/role",
        Role::Admin,
        Body::EmptyJson,
        400,
    ),
    row(
        "PUT",
        "/api/v1/accounts/{name}/password",
        Role::Admin,
        Body::EmptyJson,
        400,
    ),
];

/// Routes that answer without a session.
const PUBLIC: [&str; 5] = [
    "/",
    "/healthz",
    "/opsconsole/v2/{path}",
    "/api/v1/login",
    "/api/v1/logout",
];

const STREAM: &str = "/api/v1/upgrades/{id}/logs/stream";

async fn send(http: &reqwest::Client, url: String, row: &Row) -> (u16, serde_json::Value) {
    let method = reqwest::Method::from_bytes(row.method.as_bytes()).expect("method");
    let request = http.request(method, url);
    let request = match row.body {
        Body::Empty => request,
        Body::NotAPackage => request
            .header("content-type", "application/yaml")
            .body("product: [not, a, manifest"),
        Body::EmptyForm => request.multipart(Form::new()),
        Body::EmptyJson => request.json(&serde_json::json!({})),
    };
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_role_allows() {
    let in_matrix: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|row| (row.method.to_string(), row.template.to_string()))
        .chain([("GET".to_string(), STREAM.to_string())])
        .collect();
    let needing_a_session: BTreeSet<(String, String)> = documented()
        .into_iter()
        .filter(|(_, path)| !PUBLIC.contains(&path.as_str()))
        .collect();
    assert_eq!(
        in_matrix, needing_a_session,
        "the matrix covers every route that needs a session"
    );
    let description: serde_json::Value = serde_norway::from_str(
        &std::fs::read_to_string(root().join("agent/openapi.yaml")).expect("agent/openapi.yaml"),
    )
    .expect("openapi.yaml parses");
    for row in &MATRIX {
        let described = &description["paths"][row.template][row.method.to_lowercase()]["x-role"];
        assert_eq!(
            described.as_str(),
            Some(row.needs.as_str()),
            "the role openapi.yaml gives {} {}",
            row.method,
            row.template
        );
    }

    let agent = Agent::start().await;
    let admin = agent.admin().await;
    let operator = agent.add_account("olga", Role::Operator).await;
    let viewer = agent.add_account("victor", Role::Viewer).await;

    // The operator imports and upgrades; the record names the operator, not admin.
    operator.import_demo_versions().await;
    let id = operator.start_upgrade(&UpgradeForm::rolling()).await;
    let record = viewer.wait_until_ended(id).await;
    assert_eq!(record.summary.status, UpgradeStatus::Succeeded);
    assert_eq!(record.summary.started_by, "olga");

    let anonymous = agent.anonymous();
    let sessions = [
        (Some(Role::Admin), &admin.http),
        (Some(Role::Operator), &operator.http),
        (Some(Role::Viewer), &viewer.http),
        (None, &anonymous),
    ];
    for row in &MATRIX {
        let path = row
            .template
            .replace("{version}", "V5.1.2.04")
            .replace("{id}", &id.to_string())
            .replace("{name}", "nobody");
        for (role, http) in &sessions {
            let (status, body) = send(http, agent.at(&path), row).await;
            let who = role.map_or("no session".to_string(), |r| r.to_string());
            match role {
                None => assert_eq!(status, 401, "{} {path} with {who}: {body}", row.method),
                Some(role) if *role < row.needs => {
                    assert_eq!(status, 403, "{} {path} with {who}: {body}", row.method);
                    assert_eq!(body["error"], "forbidden");
                    let message = body["message"].as_str().unwrap_or_default();
                    assert!(
                        message.contains(&format!("needs the {} role", row.needs)),
                        "{} {path} with {who}: the 403 names the role needed: {message}",
                        row.method
                    );
                }
                Some(_) => assert_eq!(
                    status, row.allowed,
                    "{} {path} with {who}: {body}",
                    row.method
                ),
            }
        }
    }

    // The log stream: a viewer follows it; without a session the handshake is refused with 401.
    let mut follower = viewer
        .open_stream(id, 0, None)
        .await
        .expect("viewer's stream");
    let mut seqs = Vec::new();
    assert_eq!(
        follower.read_to_end(&mut seqs).await.as_deref(),
        Some("succeeded")
    );
    assert!(!seqs.is_empty(), "the viewer got the log");
    let mut no_session = viewer.clone();
    no_session.cookie = "agent_session=none".into();
    match no_session.open_stream(id, 0, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!(
            "a stream without a session is refused with 401: {:?}",
            other.err()
        ),
    }

    // A role stored in the database that names no role lets nothing through, and says why.
    let db = agent::db::Db::open(&agent.data_dir).expect("the agent's database");
    db.lock()
        .execute(
            "UPDATE accounts SET role = 'superuser' WHERE username = 'victor'",
            [],
        )
        .expect("change the stored role");
    let response = viewer
        .http
        .get(viewer.at("/api/v1/me"))
        .send()
        .await
        .expect("GET /api/v1/me");
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.expect("JSON");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("victor") && message.contains("`superuser` is not a role"),
        "{message}"
    );
}
