//! The availability probe: during an upgrade the agent itself uses the product as its users do — a DataService
//! query, an asynchronous job submitted then polled, a web logon — at a steady rate, through the stable addresses,
//! and reports the success ratio and latency percentiles into the record.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::api::Availability;
use tokio::sync::watch;

use super::UpgradeEvents;

/// One call every this often (20 calls a second), rotating through query, job submit, job poll and logon.
const PERIOD: Duration = Duration::from_millis(50);
/// How often the measurement so far is reported into the record.
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// Latencies kept for the percentiles; beyond, calls are still counted.
const MAX_SAMPLES: usize = 500_000;

/// Where the probe calls, and as whom.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Stable address of the DataService application.
    pub dataservice: Option<String>,
    /// Stable address of the web application.
    pub web: Option<String>,
    /// The logon the probe uses (`web.demoUser` in the values).
    pub login: Option<(String, String)>,
}

impl Targets {
    /// Reads the probe's logon from the values (`web.demoUser.username` / `.password`).
    pub fn login_from_values(values: &str) -> Option<(String, String)> {
        let root: serde_json::Value = serde_norway::from_str(values).ok()?;
        let user = root.get("web")?.get("demoUser")?;
        Some((
            user.get("username")?.as_str()?.to_string(),
            user.get("password")?.as_str()?.to_string(),
        ))
    }
}

#[derive(Default)]
struct Tally {
    calls: u64,
    failures: u64,
    latencies_ms: Vec<f64>,
    first_failure: Option<String>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<(), String>) {
        self.calls += 1;
        if self.latencies_ms.len() < MAX_SAMPLES {
            self.latencies_ms
                .push(started.elapsed().as_secs_f64() * 1000.0);
        }
        if let Err(reason) = outcome {
            self.failures += 1;
            self.first_failure.get_or_insert(reason);
        }
    }

    fn availability(&self) -> Availability {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        Availability {
            calls: self.calls,
            failures: self.failures,
            success_ratio: if self.calls == 0 {
                1.0
            } else {
                (self.calls - self.failures) as f64 / self.calls as f64
            },
            p50_ms: percentile(&sorted, 0.50),
            p99_ms: percentile(&sorted, 0.99),
            max_ms: sorted.last().copied().unwrap_or(0.0),
            downtime_seconds: None,
        }
    }
}

/// The value at fraction `q` of sorted samples (nearest rank), 0 when there are none.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A probe running in the background until [`Probe::finish`].
pub struct Probe {
    tally: Arc<Mutex<Tally>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Probe {
    /// Starts probing `targets`, reporting into `events` every few seconds.
    pub fn start(targets: Targets, events: Arc<dyn UpgradeEvents>) -> Probe {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn({
            let tally = tally.clone();
            async move {
                let http = match reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                {
                    Ok(http) => http,
                    Err(e) => {
                        events.log(
                            super::Level::Warn,
                            None,
                            &format!("availability probe not started: {e}"),
                        );
                        return;
                    }
                };
                let mut ticker = tokio::time::interval(PERIOD);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut last_report = Instant::now();
                let mut jobs: Vec<String> = Vec::new();
                let mut turn = 0u64;
                loop {
                    tokio::select! {
                        _ = ticker.tick() => {}
                        _ = stopped.changed() => break,
                    }
                    turn += 1;
                    let started = Instant::now();
                    let outcome = match turn % 4 {
                        0 => query(&http, &targets).await,
                        1 => submit(&http, &targets, &mut jobs).await,
                        2 => poll(&http, &targets, &jobs, turn).await,
                        _ => logon(&http, &targets).await,
                    };
                    if let Some(outcome) = outcome {
                        tally
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .record(started, outcome);
                    }
                    if last_report.elapsed() >= REPORT_EVERY {
                        last_report = Instant::now();
                        let measured = tally
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .availability();
                        events.availability(&measured);
                    }
                }
            }
        });
        Probe { tally, stop, task }
    }

    /// Stops probing and returns the whole measurement (the caller reports it, with the downtime if any).
    pub async fn finish(self) -> (Availability, Option<String>) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        (tally.availability(), tally.first_failure.clone())
    }
}

fn ok_status(what: &str, response: reqwest::Response, expected: u16) -> Result<(), String> {
    if response.status().as_u16() == expected {
        Ok(())
    } else {
        Err(format!("{what} answered {}", response.status()))
    }
}

async fn query(http: &reqwest::Client, targets: &Targets) -> Option<Result<(), String>> {
    let base = targets.dataservice.as_ref()?;
    Some(
        match http.get(format!("{base}/api/query?q=probe")).send().await {
            Ok(response) => ok_status("DataService query", response, 200),
            Err(e) => Err(format!("DataService query: {e}")),
        },
    )
}

async fn submit(
    http: &reqwest::Client,
    targets: &Targets,
    jobs: &mut Vec<String>,
) -> Option<Result<(), String>> {
    let base = targets.dataservice.as_ref()?;
    let response = http
        .post(format!("{base}/api/jobs"))
        .json(&serde_json::json!({"input": "availability probe"}))
        .send()
        .await;
    Some(match response {
        Ok(response) if response.status().as_u16() == 202 => {
            match response.json::<serde_json::Value>().await {
                Ok(body) => match body.get("id").and_then(|id| id.as_str()) {
                    Some(id) => {
                        // A bounded window of recent jobs to poll.
                        if jobs.len() >= 64 {
                            jobs.remove(0);
                        }
                        jobs.push(id.to_string());
                        Ok(())
                    }
                    None => Err("DataService job submit answered without an id".into()),
                },
                Err(e) => Err(format!("DataService job submit: {e}")),
            }
        }
        Ok(response) => ok_status("DataService job submit", response, 202),
        Err(e) => Err(format!("DataService job submit: {e}")),
    })
}

async fn poll(
    http: &reqwest::Client,
    targets: &Targets,
    jobs: &[String],
    turn: u64,
) -> Option<Result<(), String>> {
    let base = targets.dataservice.as_ref()?;
    let id = jobs.get((turn as usize / 4) % jobs.len().max(1))?;
    Some(
        match http.get(format!("{base}/api/jobs/{id}")).send().await {
            Ok(response) => ok_status(&format!("DataService job {id} poll"), response, 200),
            Err(e) => Err(format!("DataService job {id} poll: {e}")),
        },
    )
}

async fn logon(http: &reqwest::Client, targets: &Targets) -> Option<Result<(), String>> {
    let (base, (username, password)) = (targets.web.as_ref()?, targets.login.as_ref()?);
    let body = serde_json::json!({"username": username, "password": password});
    Some(
        match http.post(format!("{base}/login")).json(&body).send().await {
            Ok(response) => ok_status("web logon", response, 200),
            Err(e) => Err(format!("web logon: {e}")),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), 50.0);
        assert_eq!(percentile(&samples, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }

    #[test]
    fn the_probe_logon_comes_from_the_values() {
        let values = "web:\n  demoUser: {username: analyst, password: s3cret}\n";
        assert_eq!(
            Targets::login_from_values(values),
            Some(("analyst".into(), "s3cret".into()))
        );
        assert_eq!(Targets::login_from_values("web: {}\n"), None);
    }
}
