//! Accounts through the API, as an admin's console uses it: judged by what the agent answers the changed accounts'
//! sessions and by the account audit it lists.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use shared::api::{AccountChange, AccountList};

use crate::support::{Agent, Client};

/// Sends `method path` with a JSON `body` (or none); returns status and body.
async fn call(client: &Client, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client.http.request(method, client.at(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The accounts and the audit, as an admin sees them.
async fn accounts(admin: &Client) -> AccountList {
    serde_json::from_value(admin.get_json("/api/v1/accounts").await).expect("the account list")
}

/// The account audit's entries as (account, what, by), oldest first.
fn entries(changes: &[AccountChange]) -> Vec<(String, String, String)> {
    changes
        .iter()
        .rev()
        .map(|c| (c.account.clone(), c.what.clone(), c.by.clone()))
        .collect()
}

/// The status of `GET /api/v1/me` and the role it names.
async fn me(client: &Client) -> (u16, Value) {
    let (status, body) = call(client, "GET", "/api/v1/me", None).await;
    (status, body["role"].clone())
}

#[tokio::test]
async fn an_account_is_added_changed_and_removed_through_the_api_while_logged_on() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    let listed = accounts(&admin).await;
    assert_eq!(listed.accounts.len(), 1);
    assert_eq!(
        (
            listed.accounts[0].username.as_str(),
            listed.accounts[0].role.as_str()
        ),
        ("admin", "admin")
    );
    let text = admin.get_json("/api/v1/accounts").await.to_string();
    assert!(
        !text.contains("argon2"),
        "no password hash is listed: {text}"
    );

    // Added as an operator: it logs on with its password and gets the operator's role, not the admin's.
    let (status, added) = call(
        &admin,
        "POST",
        "/api/v1/accounts",
        Some(json!({"username": "olga", "role": "operator", "password": "olga-first-password"})),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["username"], "olga");
    assert_eq!(added["role"], "operator");
    let olga = agent.log_on("olga", "olga-first-password").await;
    assert_eq!(me(&olga).await, (200, json!("operator")));
    let (status, refused) = call(&olga, "GET", "/api/v1/accounts", None).await;
    assert_eq!(status, 403);
    assert_eq!(
        refused["message"],
        "GET /api/v1/accounts needs the admin role; you have the operator role."
    );

    // A role change holds from the session's next request.
    let (status, changed) = call(
        &admin,
        "PUT",
        "/api/v1/accounts/olga/role",
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!((status, &changed["role"]), (200, &json!("viewer")));
    assert_eq!(me(&olga).await, (200, json!("viewer")));
    let (status, _) = call(&olga, "POST", "/api/v1/upgrades/1/stop", None).await;
    assert_eq!(status, 403, "a viewer stops nothing");

    // A new password ends the account's sessions; the old password no longer logs on, the new one does.
    let (status, body) = call(
        &admin,
        "PUT",
        "/api/v1/accounts/olga/password",
        Some(json!({"password": "olga-second-password"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(me(&olga).await.0, 401);
    let wrong = agent
        .anonymous()
        .post(agent.at("/api/v1/login"))
        .json(&json!({"username": "olga", "password": "olga-first-password"}))
        .send()
        .await
        .expect("log on");
    assert_eq!(wrong.status(), 401);
    let olga = agent.log_on("olga", "olga-second-password").await;
    assert_eq!(me(&olga).await, (200, json!("viewer")));
    let rows = accounts(&admin).await.accounts;
    assert!(
        rows.iter()
            .any(|a| a.username == "olga" && a.last_logon.is_some()),
        "its logon is listed: {rows:?}"
    );

    // A second admin makes a change: the audit names whoever made each change.
    let (status, _) = call(
        &admin,
        "POST",
        "/api/v1/accounts",
        Some(json!({"username": "ada", "role": "admin", "password": "ada-long-password"})),
    )
    .await;
    assert_eq!(status, 201);
    let ada = agent.log_on("ada", "ada-long-password").await;

    // Removed while logged on: its very next request is 401, and it can no longer log on.
    let (status, body) = call(&ada, "DELETE", "/api/v1/accounts/olga", None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(me(&olga).await.0, 401);
    let gone = agent
        .anonymous()
        .post(agent.at("/api/v1/login"))
        .json(&json!({"username": "olga", "password": "olga-second-password"}))
        .send()
        .await
        .expect("log on");
    assert_eq!(gone.status(), 401);

    let listed = accounts(&ada).await;
    let names: Vec<&str> = listed
        .accounts
        .iter()
        .map(|a| a.username.as_str())
        .collect();
    assert_eq!(names, ["ada", "admin"]);
    let by = |account: &str, what: &str, who: &str| (account.into(), what.into(), who.into());
    assert_eq!(
        entries(&listed.changes),
        [
            by("olga", "added with the operator role", "admin"),
            by("olga", "role operator -> viewer", "admin"),
            by("olga", "password set; its sessions ended", "admin"),
            by("ada", "added with the admin role", "admin"),
            by("olga", "removed; its sessions ended", "ada"),
        ]
    );
}

#[tokio::test]
async fn the_last_admin_is_kept_and_each_refusal_says_why() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;

    let (status, body) = call(&admin, "DELETE", "/api/v1/accounts/admin", None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "last-admin");
    assert_eq!(
        body["message"],
        "account `admin`: it is the last admin and cannot be removed: make another account admin first"
    );
    let (status, body) = call(
        &admin,
        "PUT",
        "/api/v1/accounts/admin/role",
        Some(json!({"role": "operator"})),
    )
    .await;
    assert_eq!((status, &body["error"]), (409, &json!("last-admin")));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be demoted")),
        "{body}"
    );
    assert_eq!(me(&admin).await, (200, json!("admin")), "still an admin");

    // Unknown accounts, roles that name no role, bad names, short passwords, taken names.
    for (method, path, body) in [
        ("DELETE", "/api/v1/accounts/nobody", None),
        (
            "PUT",
            "/api/v1/accounts/nobody/role",
            Some(json!({"role": "viewer"})),
        ),
        (
            "PUT",
            "/api/v1/accounts/nobody/password",
            Some(json!({"password": "long-enough-password"})),
        ),
    ] {
        let (status, answer) = call(&admin, method, path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["message"], "account `nobody`: no such account");
    }
    let (status, body) = call(
        &admin,
        "PUT",
        "/api/v1/accounts/admin/role",
        Some(json!({"role": "root"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("`root` is not a role (viewer, operator or admin)")),
        "the 400 names the word: {body}"
    );
    for (new, status, message) in [
        (
            json!({"username": "oscar", "role": "superuser", "password": "long-enough-password"}),
            400,
            "`superuser` is not a role",
        ),
        (
            json!({"username": "no spaces", "role": "viewer", "password": "long-enough-password"}),
            400,
            "account `no spaces`: a name is 1 to 64 letters, digits, dots, dashes or underscores",
        ),
        (
            json!({"username": "oscar", "role": "viewer", "password": "elevenchars"}),
            400,
            "account `oscar`: the password has 11 characters; it needs at least 12",
        ),
        (
            json!({"username": "admin", "role": "viewer", "password": "long-enough-password"}),
            409,
            "account `admin`: the name is taken",
        ),
    ] {
        let (got, answer) = call(&admin, "POST", "/api/v1/accounts", Some(new.clone())).await;
        assert_eq!(got, status, "{new}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains(message)),
            "{new}: {answer}"
        );
    }
    let listed = accounts(&admin).await;
    assert_eq!(listed.accounts.len(), 1, "nothing was added");
    assert!(
        listed.changes.is_empty(),
        "nothing changed: {:?}",
        listed.changes
    );

    // A change from the command line is in the same audit, naming the operating system's user.
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["users", "role", "admin", "viewer", "--data-dir"])
        .arg(&agent.data_dir)
        .env("USER", "ops-alice")
        .stdin(Stdio::null())
        .output()
        .expect("agent users role");
    assert_eq!(
        output.status.code(),
        Some(1),
        "the last admin stays: {output:?}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args(["users", "add", "ada", "--role", "admin", "--data-dir"])
        .arg(&agent.data_dir)
        .env("USER", "ops-alice")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"ada-long-password\n")?;
            child.wait_with_output()
        })
        .expect("agent users add");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        entries(&accounts(&admin).await.changes),
        [(
            "ada".to_string(),
            "added with the admin role".to_string(),
            "agent users (OS user ops-alice)".to_string()
        )]
    );

    // With a second admin, the first may be demoted: it then loses the accounts at its next request.
    let (status, _) = call(
        &admin,
        "PUT",
        "/api/v1/accounts/admin/role",
        Some(json!({"role": "operator"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(&admin, "GET", "/api/v1/accounts", None).await;
    assert_eq!(status, 403, "{body}");
}
