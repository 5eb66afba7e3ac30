//! `agent/openapi.yaml` describes exactly the routes the agent answers.

use std::collections::BTreeSet;

use crate::support::{Agent, root};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// (method, path template) of every operation in the OpenAPI file.
pub fn documented() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(root().join("agent/openapi.yaml")).expect("agent/openapi.yaml");
    let doc: serde_json::Value = serde_norway::from_str(&text).expect("openapi.yaml parses");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method.to_lowercase()).is_some() {
                routes.insert((method.to_string(), path.clone()));
            }
        }
    }
    routes
}

/// (method, path template) of every route function in `agent/src/api/`, from their `/// METHOD /path` doc lines.
fn in_the_code() -> BTreeSet<(String, String)> {
    let dir = root().join("agent/src/api");
    let mut text = String::new();
    for entry in std::fs::read_dir(&dir).expect("agent/src/api") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            text += &std::fs::read_to_string(&path).expect("a module of the API");
        }
    }
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("/// "))
        .filter_map(|doc| doc.split_once(' '))
        .filter(|(method, path)| METHODS.contains(method) && path.starts_with('/'))
        .map(|(method, path)| {
            let path = path
                .split_whitespace()
                .next()
                .unwrap_or(path)
                .replace("/...", "/{path}");
            (method.to_string(), path)
        })
        .collect()
}

/// A concrete path for a template.
fn concrete(template: &str) -> String {
    template
        .replace("{version}", "V5.1.2.02")
        .replace("{id}", "1")
        .replace("{name}", "nobody")
        .replace("{path}", "index.html")
}

#[tokio::test]
async fn openapi_lists_exactly_the_routes_the_agent_answers() {
    let documented = documented();
    assert_eq!(
        documented,
        in_the_code(),
        "openapi.yaml and the route functions in agent/src/api/ disagree"
    );

    // Without a session, a route that exists answers anything but 404 and 405.
    let agent = Agent::start().await;
    let http = agent.anonymous();
    let mut answered = BTreeSet::new();
    for (_, template) in &documented {
        for method in METHODS {
            let request = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let response = http
                .request(request, agent.at(&concrete(template)))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            if status != 404 && status != 405 {
                answered.insert((method.to_string(), template.clone()));
            }
        }
    }
    assert_eq!(answered, documented, "routes answered vs documented");
    let unknown = http
        .get(agent.at("/api/v1/nothing-here"))
        .send()
        .await
        .expect("request");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_method_a_path_does_not_answer_gets_405_with_allow_naming_those_it_does() {
    let agent = Agent::start().await;
    let admin = agent.admin().await;
    let mut methods_of: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (method, template) in documented() {
        methods_of.entry(template).or_default().insert(method);
    }
    for (template, methods) in &methods_of {
        for method in METHODS.iter().chain(&["OPTIONS"]) {
            if methods.contains(*method) {
                continue;
            }
            let request = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            // Logged on, so that nothing but the method can be wrong.
            let response = admin
                .http
                .request(request, admin.at(&concrete(template)))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 405, "{method} {template}");
            let allow: BTreeSet<String> = response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{method} {template}: a 405 without Allow"))
                .split(',')
                .map(|m| m.trim().to_string())
                .collect();
            assert_eq!(&allow, methods, "Allow of {template}");
            let body: serde_json::Value = response.json().await.expect("JSON body");
            assert_eq!(body["error"], "method-not-allowed");
        }
    }
}
