//! The Kubernetes platform on a real cluster (ignored by default: it needs `scripts/k8s-cluster.sh up`, see
//! docs/kubernetes.md). The agent runs outside the cluster with the kubeconfig `up` printed and deploys the demo
//! product V5.1.2.02 into a namespace of its own; then each test upgrades it to V5.1.2.04: without downtime while a
//! light load goes through the DataService's NodePort on 127.0.0.1 (no call may fail, and every job stays
//! retrievable), to a release whose image is missing (rolled back, still no failed call), stopped and retried, and
//! in downtime mode.
//!
//! Run: `source /var/cache/upgrade-manager/k8s/run/env && cargo nextest run -p agent --test api kubernetes
//! --run-ignored only` (`KUBECONFIG` must name the cluster; `kubectl` must be in PATH).

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use shared::api::UpgradeStatus;

use shared::api::UpgradeDetail;

use crate::load::{Load, LoadReport, unfinished_jobs};
use crate::support::{Agent, Client, Options, UpgradeForm, assert_log_kept_across_a_restart};

/// A namespace (and the node directory of the product's shared volume) for one test, removed however it ends.
struct Namespace {
    name: String,
    shared_dir: String,
}

impl Namespace {
    fn create() -> Namespace {
        // Several per process when a test deploys more than once (the benchmark).
        static CREATED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("upgrade-test-{}-{n}", std::process::id());
        kubectl(&["create", "namespace", &name]);
        Namespace {
            shared_dir: format!("/tmp/{name}-shared"),
            name,
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .status();
        let _ = std::fs::remove_dir_all(&self.shared_dir);
    }
}

fn kubectl(args: &[&str]) -> String {
    let output = Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl in PATH (source the cluster's run/env)");
    assert!(
        output.status.success(),
        "kubectl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Waits (at most `within`) until every application of the cluster view has its desired replicas, all ready, on
/// `version` (on any when `None`); returns the view.
async fn wait_all_ready(admin: &Client, version: Option<&str>, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let cluster = admin.get_json("/api/v1/cluster").await;
        let apps = cluster["applications"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let settled = !apps.is_empty()
            && apps.iter().all(|app| {
                let replicas = app["replicas"].as_array().cloned().unwrap_or_default();
                replicas.len() as u64 == app["desired_replicas"].as_u64().unwrap_or(0)
                    && replicas
                        .iter()
                        .all(|r| r["ready"] == true && version.is_none_or(|v| r["version"] == v))
            });
        if settled {
            return cluster;
        }
        assert!(
            Instant::now() < deadline,
            "not all applications ready on {version:?} within {within:?}: {cluster:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The fewest ready addresses each Service's endpoints listed while it watched: polled twice a second with kubectl
/// from [`ReadyFloor::watch`] until [`ReadyFloor::finish`] (at most 10 minutes).
struct ReadyFloor {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: std::thread::JoinHandle<std::collections::BTreeMap<String, usize>>,
}

impl ReadyFloor {
    fn watch(namespace: &str) -> ReadyFloor {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stopped, namespace) = (stop.clone(), namespace.to_string());
        let task = std::thread::spawn(move || {
            let mut floor = std::collections::BTreeMap::<String, usize>::new();
            let deadline = Instant::now() + Duration::from_secs(600);
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                let listed = kubectl(&[
                    "get",
                    "endpoints",
                    "-n",
                    &namespace,
                    "-o",
                    r#"jsonpath={range .items[*]}{.metadata.name}={range .subsets[*]}{range .addresses[*]}x{end}{end}{"\n"}{end}"#,
                ]);
                for line in listed.lines() {
                    if let Some((service, ready)) = line.split_once('=') {
                        let low = floor.entry(service.to_string()).or_insert(usize::MAX);
                        *low = (*low).min(ready.len());
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            floor
        });
        ReadyFloor { stop, task }
    }

    fn finish(self) -> std::collections::BTreeMap<String, usize> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.join().expect("the endpoints watch")
    }
}

/// The steady mixed load of the cluster tests, in requests a second (a quarter each: queries, job submissions, job
/// polls, logons); three control-plane processes share the machine's two cores with it.
const RATE: u32 = 100;

/// The agent on the test cluster with the demo product V5.1.2.02 deployed and ready in a namespace of its own,
/// V5.1.2.04 and V5.2.0.01 imported. The agent stops before the namespace goes.
pub struct OnCluster {
    pub admin: Client,
    /// The DataService's stable address (a NodePort on 127.0.0.1).
    pub dataservice: String,
    /// The web application's stable address, where users log on.
    web: String,
    agent: Agent,
    namespace: Namespace,
}

impl OnCluster {
    /// The steady mixed load through the stable addresses, a new connection per call (so that the calls spread over
    /// the pods behind the NodePort, as many clients' would).
    fn load(&self) -> Load {
        self.load_at(RATE)
    }

    /// The same load at `rate` calls a second.
    pub fn load_at(&self, rate: u32) -> Load {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Load::start_with(http, self.dataservice.clone(), self.web.clone(), rate)
    }

    /// What an upgrade under the load must end with: `status`, not one failed call, every job's result
    /// retrievable through the stable address, every application ready on `version`, and only that release's
    /// ReplicaSets and Secret left.
    async fn assert_ended_without_a_failed_call(
        &self,
        record: &UpgradeDetail,
        status: UpgradeStatus,
        load: &LoadReport,
        version: &str,
    ) {
        assert_eq!(record.summary.status, status, "{record:?}");
        assert!(load.requests > 100, "the load ran: {} calls", load.requests);
        assert!(
            load.failures.is_empty(),
            "{} failed calls of {}: {:?}",
            load.failures.len(),
            load.requests,
            load.failures
        );
        wait_all_ready(&self.admin, Some(version), Duration::from_secs(30)).await;
        let unfinished = unfinished_jobs(&self.dataservice, &load.jobs).await;
        assert!(unfinished.is_empty(), "jobs not done: {unfinished:?}");
        assert_one_release_left(&self.namespace, &version.to_lowercase().replace('.', "-"));
        println!(
            "{} calls at {RATE}/s, {} jobs done, no failure; {status:?} at {:?}",
            load.requests,
            load.jobs.len(),
            record.summary.finished_at
        );
    }
}

pub async fn deploy() -> OnCluster {
    let kubeconfig = std::env::var("KUBECONFIG")
        .expect("KUBECONFIG names the test cluster (source the cluster's run/env)");
    let namespace = Namespace::create();
    let agent = Agent::start_with(Options {
        args: [
            "--platform",
            "kubernetes",
            "--kubeconfig",
            &kubeconfig,
            "--namespace",
            &namespace.name,
            "--node-address",
            "127.0.0.1",
            "--shared-volume",
            &format!("hostPath:{}", namespace.shared_dir),
        ]
        .map(String::from)
        .to_vec(),
        ..Options::default()
    })
    .await;
    let admin = agent.admin().await;
    let cluster = wait_all_ready(&admin, Some("V5.1.2.02"), Duration::from_secs(180)).await;
    let address = |name: &str| {
        cluster["applications"]
            .as_array()
            .and_then(|apps| apps.iter().find(|a| a["name"] == name))
            .and_then(|a| a["address"].as_str())
            .unwrap_or_else(|| panic!("the {name}'s stable address: {cluster:#}"))
            .to_string()
    };
    let (dataservice, web) = (address("dataservice"), address("web"));
    for at in [&dataservice, &web] {
        assert!(
            at.starts_with("http://127.0.0.1:3"),
            "a NodePort on 127.0.0.1: {at}"
        );
    }
    let pods = kubectl(&["get", "pods", "-n", &namespace.name, "-o", "name"]);
    assert_eq!(pods.lines().count(), 7, "{pods}");
    admin.import_demo_versions().await;
    OnCluster {
        admin,
        dataservice,
        web,
        agent,
        namespace,
    }
}

/// Waits (at most `within`) until upgrade `id` no longer runs; returns its record.
pub async fn wait_ended(admin: &Client, id: i64, within: Duration) -> UpgradeDetail {
    let deadline = Instant::now() + within;
    loop {
        let record = admin.upgrade(id).await;
        if record.summary.status != UpgradeStatus::Running {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "upgrade {id} still running after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
async fn kubernetes_rolling_upgrade_under_load_has_no_failed_call() {
    let on = deploy().await;
    let load = on.load();
    let floor = ReadyFloor::watch(&on.namespace.name);
    let id = on.admin.start_upgrade(&UpgradeForm::rolling()).await;
    // Seven replica steps, each a pod started, routed in, and an old one drained (3 s linger, then its jobs).
    let record = wait_ended(&on.admin, id, Duration::from_secs(480)).await;
    let load = load.finish().await;
    let floor = floor.finish();
    for step in &record.steps {
        println!("step {step:?}");
    }
    // Never fewer ready pods in a Service's endpoints than the application's replicas (2, 3, 2).
    let desired = [("dataservice", 3), ("metadata", 2), ("web", 2)];
    assert_eq!(
        floor,
        desired.map(|(app, n)| (app.to_string(), n)).into(),
        "the fewest ready endpoints per Service during the upgrade"
    );
    on.assert_ended_without_a_failed_call(&record, UpgradeStatus::Succeeded, &load, "V5.1.2.04")
        .await;
}

/// One ReplicaSet per application remains, on `release` (`v5-1-2-04`); the others and their Secrets are gone.
fn assert_one_release_left(namespace: &Namespace, release: &str) {
    let sets = kubectl(&["get", "replicasets", "-n", &namespace.name, "-o", "name"]);
    assert_eq!(sets.lines().count(), 3, "{sets}");
    assert!(sets.lines().all(|s| s.contains(release)), "{sets}");
    let secrets = kubectl(&[
        "get",
        "secrets",
        "-n",
        &namespace.name,
        "-o",
        "name",
        "-l",
        "app.kubernetes.io/managed-by=upgrade-manager",
    ]);
    assert_eq!(secrets.lines().count(), 1, "{secrets}");
}

/// The demo's V5.1.2.04 package with its DataService image renamed to one no node has: with `imagePullPolicy:
/// Never`, its pods wait in `ErrImageNeverPull`.
fn package_with_missing_dataservice_image() -> Vec<u8> {
    let source = crate::support::demo("versions/src/V5.1.2.04");
    let template = demo::pack::files_under(&source.join("product").join(demo::pack::PRODUCT))
        .expect("the demo's chart");
    let manifest = std::fs::read_to_string(source.join("version.yaml")).expect("version.yaml");
    let image = "registry.example.com/dataphin/dataservice:5.1.2.04";
    assert!(manifest.contains(image), "the DataService's image");
    let manifest = manifest.replace(image, &format!("{image}-not-built"));
    let mut entries: std::collections::BTreeMap<String, Vec<u8>> = template
        .iter()
        .map(|(path, bytes)| {
            (
                format!("product/{}/{path}", demo::pack::PRODUCT),
                bytes.clone(),
            )
        })
        .collect();
    entries.insert(
        "version.yaml".into(),
        demo::pack::with_template_section(&manifest, &template).into_bytes(),
    );
    demo::pack::stored_zip(&entries)
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
async fn kubernetes_a_release_whose_image_is_missing_is_rolled_back_without_a_failed_call() {
    let on = deploy().await;
    let (status, body) = on
        .admin
        .import_zip(package_with_missing_dataservice_image())
        .await;
    assert_eq!(status, 200, "the package replaced: {body}");
    let load = on.load();
    let id = on.admin.start_upgrade(&UpgradeForm::rolling()).await;
    // Metadata's two steps, the DataService's first pod reported at once, then metadata rolled back.
    let record = wait_ended(&on.admin, id, Duration::from_secs(300)).await;
    let load = load.finish().await;
    let reason = record.summary.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("ErrImageNeverPull") && reason.contains("dataservice-v5-1-2-04-"),
        "the reason names the pod and Kubernetes' reason: {reason}"
    );
    // The kubelet's Warning events about the pod (image manager, then container start) follow its reason.
    assert!(
        reason.contains(" [events: ") && reason.contains("Failed: Error: ErrImageNeverPull"),
        "the reason carries the pod's Warning events: {reason}"
    );
    let log = on.admin.all_logs(id).await;
    assert!(
        log.iter()
            .any(|line| line.message.contains("Failed: Error: ErrImageNeverPull")),
        "the upgrade's log carries them too: {log:?}"
    );
    on.assert_ended_without_a_failed_call(&record, UpgradeStatus::RolledBack, &load, "V5.1.2.02")
        .await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
async fn kubernetes_a_release_that_crashes_is_rolled_back_without_a_failed_call() {
    let on = deploy().await;
    let load = on.load();
    // Every new web pod exits with status 3 0.45 s after it starts.
    let crashing = UpgradeForm {
        config: "config/standard-V5.1.2.04-crash.yaml",
        ..UpgradeForm::rolling()
    };
    let id = on.admin.start_upgrade(&crashing).await;
    // Metadata's and the DataService's five steps, web's first pod crashing, then all five undone.
    let record = wait_ended(&on.admin, id, Duration::from_secs(600)).await;
    let load = load.finish().await;
    let reason = record.summary.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("web-v5-1-2-04-") && reason.contains("exited with status 3"),
        "the reason names the pod and how its container ended: {reason}"
    );
    on.assert_ended_without_a_failed_call(&record, UpgradeStatus::RolledBack, &load, "V5.1.2.02")
        .await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
async fn kubernetes_the_agent_killed_mid_upgrade_finishes_the_run_after_its_restart() {
    let mut on = deploy().await;
    let load = on.load();
    let id = on.admin.start_upgrade(&UpgradeForm::rolling()).await;
    on.admin
        .wait_for_steps_done(id, 3, Duration::from_secs(240))
        .await;
    let before = on.admin.all_logs(id).await;
    on.agent.kill();
    // The product answers while the agent is down: the load goes on, and its calls are checked at the end.
    let pods = kubectl(&["get", "pods", "-n", &on.namespace.name, "-o", "wide"]);
    tokio::time::sleep(Duration::from_secs(10)).await;
    on.agent.restart();
    on.admin = on.agent.admin().await;
    let record = wait_ended(&on.admin, id, Duration::from_secs(480)).await;
    let load = load.finish().await;
    assert_log_kept_across_a_restart(&before, &on.admin.all_logs(id).await);
    println!("pods when the agent was killed:\n{pods}");
    on.assert_ended_without_a_failed_call(&record, UpgradeStatus::Succeeded, &load, "V5.1.2.04")
        .await;
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
async fn kubernetes_force_stop_then_retry_finishes_skipping_what_is_on_target() {
    let on = deploy().await;
    let (admin, namespace) = (&on.admin, &on.namespace);
    let id = admin.start_upgrade(&UpgradeForm::rolling()).await;
    // Stop once metadata's first replica step is done: the step running then finishes, nothing after it starts.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let record = admin.upgrade(id).await;
        let done = record
            .steps
            .iter()
            .filter(|s| s.application == "metadata" && s.status == "done")
            .count();
        if done > 0 {
            break;
        }
        assert!(
            record.summary.status == UpgradeStatus::Running && Instant::now() < deadline,
            "no metadata step done within 120 s: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stop = admin
        .http
        .post(admin.at(&format!("/api/v1/upgrades/{id}/stop")))
        .send()
        .await
        .expect("stop");
    assert_eq!(stop.status(), 202);
    let stopped = wait_ended(admin, id, Duration::from_secs(120)).await;
    assert_eq!(
        stopped.summary.status,
        UpgradeStatus::Stopped,
        "{stopped:?}"
    );
    let cluster = wait_all_ready(admin, None, Duration::from_secs(30)).await;
    let versions = |app: &str| -> Vec<String> {
        cluster["applications"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["name"] == app)
            .flat_map(|a| a["replicas"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r["version"].as_str().map(String::from))
            .collect()
    };
    assert!(
        versions("metadata").iter().any(|v| v == "V5.1.2.04"),
        "metadata began its upgrade: {cluster:#}"
    );
    assert!(
        versions("web").iter().all(|v| v == "V5.1.2.02"),
        "web not touched: {cluster:#}"
    );

    let retry_id = admin.retry(id).await;
    let finished = wait_ended(admin, retry_id, Duration::from_secs(480)).await;
    assert_eq!(
        finished.summary.status,
        UpgradeStatus::Succeeded,
        "{finished:?}"
    );
    assert_eq!(finished.summary.retry_of, Some(id));
    // The replica already on V5.1.2.04 is not started again: metadata needs one new pod, not two.
    let metadata_starts = finished
        .steps
        .iter()
        .filter(|s| s.application == "metadata" && s.action == "start")
        .count();
    assert!(metadata_starts <= 1, "{:?}", finished.steps);
    wait_all_ready(admin, Some("V5.1.2.04"), Duration::from_secs(30)).await;
    assert_one_release_left(namespace, "v5-1-2-04");
    println!(
        "stopped at {:?}, retry finished at {:?}",
        stopped.summary.finished_at, finished.summary.finished_at
    );
}

#[tokio::test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
async fn kubernetes_downtime_upgrade_finishes_and_measures_the_downtime() {
    let on = deploy().await;
    let (admin, namespace) = (&on.admin, &on.namespace);
    let id = admin
        .start_upgrade(&UpgradeForm {
            mode: "downtime",
            ..UpgradeForm::rolling()
        })
        .await;
    let record = wait_ended(admin, id, Duration::from_secs(300)).await;
    assert_eq!(
        record.summary.status,
        UpgradeStatus::Succeeded,
        "{record:?}"
    );
    wait_all_ready(admin, Some("V5.1.2.04"), Duration::from_secs(30)).await;
    assert_one_release_left(namespace, "v5-1-2-04");
    let downtime = record
        .availability
        .as_ref()
        .and_then(|a| a.downtime_seconds)
        .unwrap_or_else(|| panic!("the downtime measured: {:?}", record.availability));
    assert!(downtime > 0.0, "{downtime}");
    println!(
        "downtime {downtime:.1} s; finished at {:?}",
        record.summary.finished_at
    );
}

/// The agent's answer when the namespace is missing or the credentials are wrong: one line naming the object and
/// what Kubernetes said, and the agent exits.
#[test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
fn kubernetes_a_missing_namespace_and_wrong_credentials_are_named() {
    let kubeconfig = std::env::var("KUBECONFIG")
        .expect("KUBECONFIG names the test cluster (source the cluster's run/env)");
    let scratch = tempfile::tempdir().unwrap();
    let serve = |kubeconfig: &std::path::Path, namespace: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_agent"))
            .args([
                "serve",
                "--platform",
                "kubernetes",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(["--namespace", namespace])
            .arg("--data-dir")
            .arg(scratch.path().join("data"))
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = serve(std::path::Path::new(&kubeconfig), "no-such-namespace");
    assert!(
        stderr.contains("reading namespace no-such-namespace")
            && stderr.contains("Kubernetes answered 404 NotFound"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let at = text.find("token: ").expect("a token in the kubeconfig") + "token: ".len();
    let end = at + text[at..].find(['}', '\n']).unwrap();
    let wrong = scratch.path().join("wrong-token.kubeconfig");
    std::fs::write(
        &wrong,
        format!("{}not-the-token{}", &text[..at], &text[end..]),
    )
    .unwrap();
    let stderr = serve(&wrong, "default");
    assert!(
        stderr.contains("reading namespace default")
            && stderr.contains(
                "Kubernetes answered 401 Unauthorized (the credentials are wrong or expired)"
            ),
        "{stderr}"
    );
}

/// The agent connecting with deploy/kubernetes/rbac.yaml's ServiceAccount, its Role missing one verb: it stops at
/// once naming that verb and the namespace, and creates nothing.
#[test]
#[ignore = "needs a cluster: scripts/k8s-cluster.sh up (docs/kubernetes.md)"]
fn kubernetes_a_verb_rbac_refuses_is_named_before_anything_changes() {
    let kubeconfig = std::env::var("KUBECONFIG")
        .expect("KUBECONFIG names the test cluster (source the cluster's run/env)");
    let namespace = Namespace::create();
    let ns = namespace.name.as_str();
    let scratch = tempfile::tempdir().unwrap();
    let rbac = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/kubernetes/rbac.yaml"
    ))
    .unwrap();
    let full = "verbs: [create, get, list, patch, delete]";
    assert!(rbac.contains(full), "the replicasets rule of rbac.yaml");
    let limited = rbac
        .replace("namespace: upgrade-manager", &format!("namespace: {ns}"))
        .replace(full, "verbs: [create, get, list, patch]");
    let file = scratch.path().join("rbac.yaml");
    std::fs::write(&file, limited).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    // Kubernetes 1.20 gives a ServiceAccount a token Secret by itself, shortly after it is created.
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        let secret = kubectl(&[
            "-n",
            ns,
            "get",
            "serviceaccount",
            "upgrade-manager-agent",
            "-o",
            "jsonpath={.secrets[0].name}",
        ]);
        if !secret.is_empty() {
            break kubectl(&[
                "-n",
                ns,
                "get",
                "secret",
                &secret,
                "-o",
                "go-template={{.data.token | base64decode}}",
            ]);
        }
        assert!(Instant::now() < deadline, "no token for the ServiceAccount");
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let at = text.find("token: ").expect("a token in the kubeconfig") + "token: ".len();
    let end = at + text[at..].find(['}', '\n']).unwrap();
    let as_agent = scratch.path().join("agent.kubeconfig");
    std::fs::write(&as_agent, format!("{}{token}{}", &text[..at], &text[end..])).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_agent"))
        .args([
            "serve",
            "--platform",
            "kubernetes",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--kubeconfig")
        .arg(&as_agent)
        .args(["--namespace", ns])
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "in namespace {ns}: RBAC does not allow: delete replicasets.apps;"
        )) && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    let created = kubectl(&["-n", ns, "get", "services,replicasets", "-o", "name"]);
    assert_eq!(created.trim(), "", "nothing created");
}
