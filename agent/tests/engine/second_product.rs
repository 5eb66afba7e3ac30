//! A second product for the engine, not the demo: "ledger", three small applications with other names, another
//! dependency order (`payments` needs `ledger`; `frontdoor` needs nothing) and their own endpoints and probes. Its
//! replicas are this test binary run again as `second_product_replica` (an ignored test), so that the fixture stays
//! a few lines of test code; the local platform runs them as it runs any product (`DEMO_*` environment).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent::engine::Deployment;
use serde_json::{Value, json};
use shared::manifest::Manifest;
use warp::Filter;
use warp::http::StatusCode;

/// How long a replica warms up before `/ready` answers 200.
const WARM_UP: Duration = Duration::from_millis(150);
/// How long a transfer takes to settle.
const SETTLES_AFTER_MS: u128 = 300;

/// The manifest of a version of the ledger product; its replicas are this test binary.
pub fn manifest(version: &str) -> Manifest {
    let exe = std::env::current_exe().expect("own path");
    let app = |name: &str, replicas: u32, depends: &str| {
        format!(
            "  - name: {name}\n    replicas: {replicas}\n    rolling: true\n    dependsOn: [{depends}]\n    \
             readiness: {{ path: /ready, timeoutSeconds: 10 }}\n    \
             local: {{ command: '{}', args: [second_product_replica, --exact, --ignored, --nocapture] }}\n",
            exe.display()
        )
    };
    let yaml = format!(
        "version: {version}\nproduct: ledger\napplications:\n{}{}{}\
         probes:\n\
         \x20 - name: balance\n    rate: 10\n    http: {{ application: ledger, method: GET, path: /balance }}\n\
         \x20 - name: transfer\n    rate: 4\n    job:\n      application: payments\n      \
         submit: {{ method: POST, path: /transfers, body: {{ amount: 5 }}, expectStatus: 202 }}\n      \
         idPointer: /transfer/ref\n      poll: '/transfers/{{id}}'\n      donePointer: /state\n      \
         doneValue: settled\n      timeoutSeconds: 10\n\
         \x20 - name: signin\n    rate: 5\n    logon: {{ application: frontdoor, path: /signin, \
         usernameFrom: frontdoor.operator.name, passwordFrom: frontdoor.operator.secret }}\n",
        app("payments", 2, "ledger"),
        app("frontdoor", 1, ""),
        app("ledger", 2, ""),
    );
    let manifest: Manifest = serde_norway::from_str(&yaml).expect("the ledger manifest parses");
    let problems = manifest.problems("version.yaml");
    assert!(problems.is_empty(), "{problems:#?}\n{yaml}");
    manifest
}

/// A version of the ledger product with its values.
pub fn deployment(version: &str) -> Deployment {
    Deployment {
        manifest: manifest(version),
        values: format!(
            "frontdoor:\n  operator: {{ name: clerk, secret: s3cret }}\nledger:\n  release: {version}\n"
        ),
    }
}

/// One replica: reads the platform's `DEMO_*` environment, answers until SIGTERM, then finishes what is in flight.
pub async fn serve_replica(port: u16) {
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let (app, version) = (env("DEMO_APP"), env("DEMO_VERSION"));
    let values: Value = std::fs::read_to_string(env("DEMO_VALUES"))
        .ok()
        .and_then(|text| serde_norway::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let operator = (
        values["frontdoor"]["operator"]["name"].clone(),
        values["frontdoor"]["operator"]["secret"].clone(),
    );
    let started = Instant::now();
    let about = Arc::new(json!({"app": app, "version": version}));

    let ready = warp::get().and(warp::path!("ready")).map(move || {
        let status = if started.elapsed() >= WARM_UP {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        warp::reply::with_status("", status)
    });
    let about = warp::get()
        .and(warp::path!("about"))
        .map(move || warp::reply::json(&*about));
    let balance = warp::get()
        .and(warp::path!("balance"))
        .and(only_on(&app, "ledger"))
        .map(|| warp::reply::json(&json!({"balance": 42})));
    // A transfer's ref is when it was submitted: any replica can tell whether it has settled.
    let submit = warp::post()
        .and(warp::path!("transfers"))
        .and(only_on(&app, "payments"))
        .map(|| {
            warp::reply::with_status(
                warp::reply::json(&json!({"transfer": {"ref": now_ms().to_string()}})),
                StatusCode::ACCEPTED,
            )
        });
    let poll = warp::get()
        .and(warp::path!("transfers" / u128))
        .and(only_on(&app, "payments"))
        .map(|submitted: u128| {
            let settled = now_ms().saturating_sub(submitted) >= SETTLES_AFTER_MS;
            warp::reply::json(&json!({"state": if settled { "settled" } else { "pending" }}))
        });
    let signin = warp::post()
        .and(warp::path!("signin"))
        .and(only_on(&app, "frontdoor"))
        .and(warp::body::json())
        .map(move |body: Value| {
            let status = if (body["username"].clone(), body["password"].clone()) == operator {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            warp::reply::with_status("", status)
        });
    let routes = ready.or(about).or(balance).or(submit).or(poll).or(signin);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("the replica's port");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    warp::serve(routes)
        .incoming(listener)
        .graceful(async move {
            terminate.recv().await;
        })
        .run()
        .await;
}

/// Passes only on a replica of `owner`: every other application answers 404 there.
fn only_on(
    app: &str,
    owner: &str,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone + use<> {
    let mine = app == owner;
    warp::any()
        .and_then(move || async move {
            if mine {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}
