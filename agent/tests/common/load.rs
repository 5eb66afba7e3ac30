//! The steady mixed load of the zero-downtime tests, through the product's stable addresses: DataService queries,
//! job submissions and polls, web logons, a quarter each. Shared by the engine's tests (local platform) and the
//! cluster's (agent/tests/api/kubernetes.rs): `#[path]`-included by both test binaries.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// What the load saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub requests: u64,
    pub failures: Vec<String>,
    pub jobs: Vec<String>,
    /// DataService query latencies in ms, with when they were sent.
    pub query_ms: Vec<(Instant, f64)>,
}

/// A constant load through the stable addresses: DataService queries, job submissions and polls, web logons.
pub struct Load {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<LoadReport>,
}

impl Load {
    /// `rate` requests a second, each in its own task so that a slow answer does not slow the load; connections are
    /// kept open between calls.
    pub fn start(dataservice: String, web: String, rate: u32) -> Load {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Load::start_with(http, dataservice, web, rate)
    }

    /// The same load through the given client (on the cluster: a new connection per call, as a NodePort's clients
    /// spread over pods).
    pub fn start_with(http: reqwest::Client, dataservice: String, web: String, rate: u32) -> Load {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let report = Arc::new(Mutex::new(LoadReport::default()));
            let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
            let mut calls = tokio::task::JoinSet::new();
            // Bounded: at most 10 minutes of calls whatever happens.
            for turn in 1..=u64::from(rate) * 600 {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stopped.changed() => break,
                }
                let (http, report, ds, web) = (
                    http.clone(),
                    report.clone(),
                    dataservice.clone(),
                    web.clone(),
                );
                calls.spawn(async move { one_call(turn, &http, &report, &ds, &web).await });
                while calls.try_join_next().is_some() {}
            }
            while calls.join_next().await.is_some() {}
            Arc::try_unwrap(report)
                .map(|m| m.into_inner().unwrap())
                .unwrap_or_default()
        });
        Load { stop, task }
    }

    pub async fn finish(self) -> LoadReport {
        let _ = self.stop.send(true);
        self.task.await.unwrap()
    }
}

async fn one_call(
    turn: u64,
    http: &reqwest::Client,
    report: &Mutex<LoadReport>,
    ds: &str,
    web: &str,
) {
    let started = Instant::now();
    let outcome: Result<(), String> = match turn % 4 {
        0 => match http
            .get(format!("{ds}/api/query?q=load{turn}"))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                report.lock().unwrap().query_ms.push((started, ms));
                Ok(())
            }
            Ok(r) => Err(format!(
                "query: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            )),
            Err(e) => Err(format!("query: {}", why(&e))),
        },
        1 => match http
            .post(format!("{ds}/api/jobs"))
            .json(&serde_json::json!({"input": format!("job {turn}")}))
            .send()
            .await
        {
            Ok(r) if r.status() == 202 => match r.json::<serde_json::Value>().await {
                Ok(body) => {
                    let id = body["id"].as_str().unwrap_or_default().to_string();
                    report.lock().unwrap().jobs.push(id);
                    Ok(())
                }
                Err(e) => Err(format!("submit body: {}", why(&e))),
            },
            Ok(r) => Err(format!(
                "submit: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            )),
            Err(e) => Err(format!("submit: {}", why(&e))),
        },
        2 => {
            let id = {
                let r = report.lock().unwrap();
                r.jobs
                    .get((turn as usize / 4) % r.jobs.len().max(1))
                    .cloned()
            };
            match id {
                None => Ok(()),
                Some(id) => match http.get(format!("{ds}/api/jobs/{id}")).send().await {
                    Ok(r) if r.status() == 200 => Ok(()),
                    Ok(r) => Err(format!(
                        "poll {id}: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => Err(format!("poll {id}: {}", why(&e))),
                },
            }
        }
        _ => match http
            .post(format!("{web}/login"))
            .json(&serde_json::json!({"username": "analyst", "password": "dataphin-demo"}))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => Ok(()),
            Ok(r) => Err(format!(
                "logon: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            )),
            Err(e) => Err(format!("logon: {}", why(&e))),
        },
    };
    let mut report = report.lock().unwrap();
    report.requests += 1;
    if let Err(e) = outcome {
        report.failures.push(e);
    }
}

/// An error with its causes (reqwest's own text does not say whether the connection was refused, reset or timed
/// out).
fn why(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The jobs of `jobs` that do not answer `done` with a result within 30 s (all of them together).
pub async fn unfinished_jobs(dataservice: &str, jobs: &[String]) -> Vec<String> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut missing = Vec::new();
    for id in jobs {
        loop {
            let answer = http
                .get(format!("{dataservice}/api/jobs/{id}"))
                .send()
                .await;
            let body = match answer {
                Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.ok(),
                _ => None,
            };
            if let Some(body) = &body
                && body["status"] == "done"
                && body["result"].is_string()
            {
                break;
            }
            if Instant::now() > deadline {
                missing.push(format!("{id}: {body:?}"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    missing
}

/// The median and the 99th percentile of latencies in ms, and how many there are.
pub fn percentiles(mut ms: Vec<f64>) -> (f64, f64, usize) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    (at(0.50), at(0.99), ms.len())
}
