//! The availability probes: during an upgrade the agent uses the product as its users do, through the stable
//! addresses, with the probes the target version declares in its manifest (`probes:`, shared::probes), each at its
//! own rate, and reports the calls, failures and latency percentiles of each and of all together into the record,
//! with each probe's calls over time (`series.rs`) and, for probes with limits, their window (`window.rs`).
//!
//! A version that declares no probe makes no call, and the record says so: zero calls never read as success.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::api::{Availability, NO_PROBE, ProbeMeasurement};
use shared::keypath::KeyPath;
use shared::limits::Limits;
use shared::probes::{HttpCall, JobProbe, LogonProbe, ProbeKind};
use shared::yaml::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::series::Timeline;
use super::window::{LimitBreach, ProbeWindow};
use super::{Level, UpgradeEvents};

/// How often the measurement so far is reported into the record.
const REPORT_EVERY: Duration = Duration::from_secs(2);
/// Latencies kept per probe for the percentiles; beyond, calls are still counted.
const MAX_SAMPLES: usize = 200_000;
/// Distinct failure reasons kept per probe.
const MAX_REASONS: usize = 5;
/// Jobs one probe follows at once; a job submitted beyond this counts as a failure (the product is too slow).
const MAX_JOBS_IN_FLIGHT: usize = 256;
/// How often a submitted job is polled.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// The longest one HTTP call of a probe may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the probes' limits are checked against their windows.
const GATE_EVERY: Duration = Duration::from_millis(250);

/// The calls of one probe so far.
#[derive(Default)]
struct Tally {
    calls: u64,
    failures: u64,
    latencies_ms: Vec<f64>,
    reasons: Vec<String>,
    /// The calls within the window of the probe's limits, when it declares any.
    window: Option<ProbeWindow>,
    /// The calls over time.
    timeline: Timeline,
}

impl Tally {
    /// Records a call that ended `at` (since the probes started) after taking `took`.
    fn record(&mut self, at: Duration, took: Duration, outcome: Result<(), String>) {
        let ms = took.as_secs_f64() * 1000.0;
        self.calls += 1;
        if self.latencies_ms.len() < MAX_SAMPLES {
            self.latencies_ms.push(ms);
        }
        if let Some(window) = &mut self.window {
            window.record(at, ms, outcome.is_err());
        }
        self.timeline.record(at, ms, outcome.is_err());
        if let Err(reason) = outcome {
            self.failures += 1;
            if self.reasons.len() < MAX_REASONS && !self.reasons.contains(&reason) {
                self.reasons.push(reason);
            }
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

fn ratio(calls: u64, failures: u64) -> Option<f64> {
    (calls > 0).then(|| (calls - failures.min(calls)) as f64 / calls as f64)
}

/// One declared probe and its tally.
struct Declared {
    probe: shared::probes::Probe,
    tally: Arc<Mutex<Tally>>,
}

/// The probes running in the background until [`Probe::finish`].
pub struct Probe {
    declared: Arc<Vec<Declared>>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The first limit a probe crossed, once one did.
    breach: watch::Receiver<Option<LimitBreach>>,
}

/// The value at a key path of YAML values, as text when it is a scalar (read as the shared checks read values).
pub fn value_at(values: &str, path: &KeyPath) -> Option<String> {
    let root =
        shared::yaml::parse_mapping("values.yaml", values.as_bytes(), &Limits::default()).ok()?;
    match root.get(path)? {
        Value::String(text) => Some(text.clone()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Float(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::List(_) | Value::Map(_) => None,
    }
}

/// Where a probe calls, and with what.
enum Plan {
    Call { base: String, call: HttpCall },
    Job { base: String, job: JobProbe },
}

impl Probe {
    /// Starts every probe of `declared` against the stable addresses `address` gives, logon credentials read
    /// from `values` (the target's, else the running version's), reporting into `events` every few seconds.
    pub fn start(
        declared: &[shared::probes::Probe],
        address: impl Fn(&str) -> Option<String>,
        values: [&str; 2],
        events: Arc<dyn UpgradeEvents>,
    ) -> Probe {
        let (stop, stopped) = watch::channel(false);
        let (crossed, breach) = watch::channel(None);
        let began = Instant::now();
        let mut tasks = JoinSet::new();
        let declared: Arc<Vec<Declared>> = Arc::new(
            declared
                .iter()
                .map(|probe| Declared {
                    probe: probe.clone(),
                    tally: Arc::new(Mutex::new(Tally {
                        window: probe.limits.as_ref().map(ProbeWindow::new),
                        ..Tally::default()
                    })),
                })
                .collect(),
        );
        if declared.is_empty() {
            events.log(
                Level::Warn,
                None,
                &format!("{NO_PROBE}: availability is not measured during this upgrade"),
            );
            return Probe {
                declared,
                stop,
                tasks,
                breach,
            };
        }
        let http = match reqwest::Client::builder().timeout(CALL_TIMEOUT).build() {
            Ok(http) => http,
            Err(e) => {
                events.log(
                    Level::Warn,
                    None,
                    &format!("availability probes not started: {e}"),
                );
                return Probe {
                    declared,
                    stop,
                    tasks,
                    breach,
                };
            }
        };
        for one in declared.iter() {
            match plan(&one.probe, &address, values) {
                Err(reason) => events.log(
                    Level::Warn,
                    one.probe.application(),
                    &format!("probe `{}` makes no call: {reason}", one.probe.name),
                ),
                Ok(plan) => {
                    tasks.spawn(run(
                        plan,
                        began,
                        one.probe.rate,
                        http.clone(),
                        one.tally.clone(),
                        stopped.clone(),
                    ));
                }
            }
        }
        tasks.spawn({
            let (declared, mut stopped) = (declared.clone(), stopped.clone());
            async move {
                let mut report = tokio::time::interval(REPORT_EVERY);
                report.tick().await;
                let mut gate = tokio::time::interval(GATE_EVERY);
                loop {
                    tokio::select! {
                        _ = report.tick() => events.availability(&measure(&declared)),
                        _ = gate.tick(), if crossed.borrow().is_none() => {
                            if let Some(breach) = first_breach(&declared, began.elapsed()) {
                                crossed.send_replace(Some(breach));
                            }
                        }
                        _ = stopped.changed() => break,
                    }
                }
            }
        });
        Probe {
            declared,
            stop,
            tasks,
            breach,
        }
    }

    /// The first limit a probe crosses (over its window), seen by whoever holds it: the rolling plan.
    pub fn breaches(&self) -> watch::Receiver<Option<LimitBreach>> {
        self.breach.clone()
    }

    /// Stops probing (calls still in flight are not counted) and returns the whole measurement.
    pub async fn finish(mut self) -> Availability {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        measure(&self.declared)
    }
}

/// Where and how a probe calls, or why it cannot.
fn plan(
    probe: &shared::probes::Probe,
    address: &impl Fn(&str) -> Option<String>,
    values: [&str; 2],
) -> Result<Plan, String> {
    let kind = probe
        .kind()
        .ok_or("it declares none or several of `http`, `job`, `logon`")?;
    let application = probe.application().unwrap_or_default();
    let base = address(application)
        .ok_or_else(|| format!("application `{application}` has no stable address"))?;
    Ok(match kind {
        ProbeKind::Http(http) => Plan::Call {
            base,
            call: http.call(),
        },
        ProbeKind::Job(job) => Plan::Job {
            base,
            job: job.clone(),
        },
        ProbeKind::Logon(logon) => Plan::Call {
            base,
            call: logon_call(logon, values)?,
        },
    })
}

/// The logon as an HTTP call, its credentials read from the values (the reasons name key paths, never values).
fn logon_call(logon: &LogonProbe, values: [&str; 2]) -> Result<HttpCall, String> {
    let read = |from: &str| {
        let path = KeyPath::parse(from).map_err(|e| e.to_string())?;
        values
            .iter()
            .find_map(|values| value_at(values, &path))
            .ok_or_else(|| format!("no text at `{from}` in the target or the running values"))
    };
    let (username, password) = (read(&logon.username_from)?, read(&logon.password_from)?);
    Ok(HttpCall {
        method: "POST".into(),
        path: logon.path.clone(),
        body: Some(serde_json::json!({"username": username, "password": password})),
        expect_status: logon.expect_status,
    })
}

/// Calls at `rate` a second until stopped; a job is followed in its own task so that the rate holds.
async fn run(
    plan: Plan,
    began: Instant,
    rate: f64,
    http: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
    mut stopped: watch::Receiver<bool>,
) {
    let record = move |tally: &Mutex<Tally>, took, outcome| {
        tally
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(began.elapsed(), took, outcome)
    };
    // The manifest check bounds the rate; the clamp keeps a bad value from a hand-edited record harmless.
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        1.0 / rate.clamp(shared::probes::MIN_RATE, shared::probes::MAX_RATE),
    ));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut jobs = JoinSet::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stopped.changed() => break,
        }
        while jobs.try_join_next().is_some() {}
        let started = Instant::now();
        match &plan {
            Plan::Call { base, call } => {
                tokio::select! {
                    outcome = send(&http, base, call) => record(&tally, started.elapsed(), outcome),
                    _ = stopped.changed() => break,
                }
            }
            Plan::Job { .. } if jobs.len() >= MAX_JOBS_IN_FLIGHT => record(
                &tally,
                Duration::ZERO,
                Err(format!(
                    "{MAX_JOBS_IN_FLIGHT} jobs already submitted and not done"
                )),
            ),
            Plan::Job { base, job } => {
                let (http, base, job, tally) =
                    (http.clone(), base.clone(), job.clone(), tally.clone());
                jobs.spawn(async move {
                    let outcome = follow(&http, &base, &job).await;
                    record(&tally, started.elapsed(), outcome);
                });
            }
        }
    }
    // Jobs still running when the upgrade ends are neither successes nor failures.
    jobs.abort_all();
    while jobs.join_next().await.is_some() {}
}

/// One call; the reason of a failure names the method, the path and the status or error.
async fn send(http: &reqwest::Client, base: &str, call: &HttpCall) -> Result<(), String> {
    answer(http, base, call).await.map(|_| ())
}

/// One call and its answer's body as JSON (`null` when it is not JSON).
async fn answer(
    http: &reqwest::Client,
    base: &str,
    call: &HttpCall,
) -> Result<serde_json::Value, String> {
    let what = format!("{} {}", call.method, call.path);
    let method = reqwest::Method::from_bytes(call.method.as_bytes())
        .map_err(|_| format!("{what}: not an HTTP method"))?;
    let mut request = http.request(method, format!("{base}{}", call.path));
    if let Some(body) = &call.body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status().as_u16();
    if status != call.expected_status() {
        return Err(format!(
            "{what} answered {status}, expected {}",
            call.expected_status()
        ));
    }
    let bytes = response.bytes().await.map_err(|e| format!("{what}: {e}"))?;
    Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// Submits a job and polls it until done, within its time limit.
async fn follow(http: &reqwest::Client, base: &str, job: &JobProbe) -> Result<(), String> {
    let limit = Duration::from_secs(u64::from(job.timeout_seconds));
    let mut last_seen = None;
    let outcome = tokio::time::timeout(limit, async {
        let submitted = answer(http, base, &job.submit).await?;
        let id = match submitted.pointer(&job.id_pointer) {
            Some(serde_json::Value::String(id)) => id.clone(),
            Some(serde_json::Value::Number(id)) => id.to_string(),
            _ => {
                return Err(format!(
                    "{} {} answered without an id at `{}`",
                    job.submit.method, job.submit.path, job.id_pointer
                ));
            }
        };
        // The id goes into a path: anything that would change which path is called is refused.
        if id.is_empty() || id.contains(['/', '?', '#', '%', ' ']) {
            return Err(format!("job id `{id}` cannot be put in a path"));
        }
        let poll = HttpCall {
            method: "GET".into(),
            path: job.poll.replace("{id}", &id),
            body: None,
            expect_status: None,
        };
        loop {
            let answer = answer(http, base, &poll).await?;
            let state = answer.pointer(&job.done_pointer).cloned();
            if state.as_ref() == Some(&job.done_value) {
                return Ok(());
            }
            last_seen = Some((id.clone(), state));
            tokio::time::sleep(POLL_EVERY).await;
        }
    })
    .await;
    outcome.unwrap_or_else(|_| {
        Err(match last_seen {
            Some((id, state)) => format!(
                "job {id} not done within {} s (`{}` was {})",
                job.timeout_seconds,
                job.done_pointer,
                state.map_or("absent".to_string(), |s| s.to_string())
            ),
            None => format!("job not submitted within {} s", job.timeout_seconds),
        })
    })
}

/// The first probe, in manifest order, whose calls over its window cross one of its limits `now`.
fn first_breach(declared: &[Declared], now: Duration) -> Option<LimitBreach> {
    declared.iter().find_map(|one| {
        let limits = one.probe.limits.as_ref()?;
        let mut tally = one.tally.lock().unwrap_or_else(|p| p.into_inner());
        tally.window.as_mut()?.crossed(now, &one.probe.name, limits)
    })
}

/// Every probe's figures, and all of them together.
fn measure(declared: &[Declared]) -> Availability {
    let mut all = Vec::new();
    let mut total = Availability::default();
    for one in declared {
        let tally = one.tally.lock().unwrap_or_else(|p| p.into_inner());
        let mut sorted = tally.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let kind = match one.probe.kind() {
            Some(ProbeKind::Http(_)) => "http",
            Some(ProbeKind::Job(_)) => "job",
            Some(ProbeKind::Logon(_)) => "logon",
            None => "",
        };
        total.calls += tally.calls;
        total.failures += tally.failures;
        total.probes.push(ProbeMeasurement {
            name: one.probe.name.clone(),
            kind: kind.into(),
            application: one.probe.application().unwrap_or_default().into(),
            calls: tally.calls,
            failures: tally.failures,
            success_ratio: ratio(tally.calls, tally.failures),
            p50_ms: percentile(&sorted, 0.50),
            p99_ms: percentile(&sorted, 0.99),
            max_ms: sorted.last().copied().unwrap_or(0.0),
            first_failures: tally.reasons.clone(),
            series: tally.timeline.series(),
        });
        all.extend(sorted);
    }
    all.sort_by(f64::total_cmp);
    total.success_ratio = ratio(total.calls, total.failures);
    total.p50_ms = percentile(&all, 0.50);
    total.p99_ms = percentile(&all, 0.99);
    total.max_ms = all.last().copied().unwrap_or(0.0);
    total
}

/// The log line for the whole measurement: the figures, or why there are none, then each probe that failed.
pub fn summary(measured: &Availability) -> String {
    let mut text = match (measured.no_call_reason(), measured.success_ratio) {
        (None, Some(ratio)) => format!(
            "availability during the upgrade: {} calls, {} failed ({:.3} % success), p50 {:.1} ms, p99 {:.1} ms, \
             worst {:.1} ms",
            measured.calls,
            measured.failures,
            ratio * 100.0,
            measured.p50_ms,
            measured.p99_ms,
            measured.max_ms,
        ),
        (reason, _) => format!(
            "availability during the upgrade: {}",
            reason.unwrap_or("no call made")
        ),
    };
    for probe in measured.probes.iter().filter(|p| p.failures > 0) {
        text.push_str(&format!(
            "; probe `{}`: {} of {} calls failed, first: {}",
            probe.name,
            probe.failures,
            probe.calls,
            probe.first_failures.join(" | ")
        ));
    }
    text
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
    fn logon_credentials_come_from_the_target_else_the_running_values() {
        let logon = LogonProbe {
            application: "web".into(),
            path: "/login".into(),
            username_from: "web.demoUser.username".into(),
            password_from: "web.users[0].password".into(),
            expect_status: None,
        };
        let target = "web:\n  demoUser: {username: analyst}\n";
        let running = "web:\n  users: [{password: 1234}]\n  demoUser: {username: other}\n";
        let call = logon_call(&logon, [target, running]).unwrap();
        assert_eq!(
            call.body,
            Some(serde_json::json!({"username": "analyst", "password": "1234"}))
        );
        let missing = logon_call(&logon, [target, "web: {}\n"]).unwrap_err();
        assert!(missing.contains("`web.users[0].password`"), "{missing}");
        assert!(!missing.contains("analyst"), "{missing}");
    }
}
