//! The product on a Kubernetes cluster, through kube-rs (docs/kubernetes.md, "The Kubernetes platform").
//!
//! Per application a NodePort Service is the stable address (its NodePort on a node address the agent is given, else
//! its cluster DNS name); per release (version + values fingerprint) a ReplicaSet owns the pods and a Secret holds
//! the values they mount. The engine sets the pace through a readiness gate (`upgrade-manager.io/in-traffic`) the agent
//! sets on each pod: a started pod stays out of the Service's endpoints until the engine routes it in; before a pod is
//! stopped the gate is cleared and the agent waits until the endpoints no longer list it, then scales its ReplicaSet
//! down by one, which removes exactly that pod (a ReplicaSet scales down not-ready pods first). Everything the agent
//! knows is read from watches (reflectors), so the cluster is the journal: after a restart `adopt` reads where each
//! ReplicaSet stands. The pods' Warning events are watched too, to say in a failed or not-ready pod's reason what
//! Kubernetes reported about it.

mod objects;
mod permissions;
mod pods;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Pod, Secret, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use shared::manifest::Application;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Adoption, Health, Platform, PlatformError, Release, RepairHold, Replica, Result};
use objects::MANAGED_SELECTOR;

/// How long a pod may take to appear after a scale-up, or to leave the endpoints after its gate changed.
const REACT_WITHIN: Duration = Duration::from_secs(60);
/// How long a failed pod's reason waits for its first Warning event: the kubelet sends the pod's status and its
/// events separately, so the status can arrive first.
const EVENTS_WITHIN: Duration = Duration::from_secs(2);
/// Only these events are watched: the pods' warnings (fields the API server selects events by, 1.20 included).
const POD_WARNINGS: &str = "involvedObject.kind=Pod,type=Warning";

/// Where the shared directory of the product (`container.sharedDir`) lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedVolume {
    /// A directory on the node (one-node clusters such as the test cluster).
    HostPath(String),
    /// A `ReadWriteMany` PersistentVolumeClaim, by name.
    Claim(String),
}

impl std::str::FromStr for SharedVolume {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.split_once(':') {
            Some(("hostPath", path)) if path.starts_with('/') => {
                Ok(SharedVolume::HostPath(path.into()))
            }
            Some(("pvc", claim)) if !claim.is_empty() => Ok(SharedVolume::Claim(claim.into())),
            _ => Err(format!(
                "`{text}` is not a shared volume: write `hostPath:/absolute/dir` or `pvc:<claim name>`"
            )),
        }
    }
}

/// What the Kubernetes platform needs (`agent serve --platform kubernetes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesConfig {
    /// The kubeconfig to use; without it as every tool does: in-cluster, `KUBECONFIG`, `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// The namespace the product runs in (it must exist).
    pub namespace: String,
    /// The node address the agent reaches the Services' NodePorts on when it runs outside the cluster; without it
    /// (inside the cluster) a Service is reached by its cluster DNS name.
    pub node_address: Option<String>,
    /// The volume mounted at `container.sharedDir`, when an application has one.
    pub shared_volume: Option<SharedVolume>,
}

/// The platform: a client, the watched pods and endpoints, the stable addresses given out.
pub struct KubernetesPlatform {
    /// The API client, connected as the kubeconfig says.
    client: Client,
    /// What it was started with.
    config: KubernetesConfig,
    /// The product's pods in the namespace, as the watch last saw them.
    pods: Store<Pod>,
    /// The product's Services' endpoints, as the watch last saw them.
    endpoints: Store<Endpoints>,
    /// The namespace's pods' Warning events, as the watch last saw them (empty while it cannot watch them).
    events: Store<Event>,
    /// Bumped at every watch event (pods, endpoints, events), so that a wait re-checks the stores only when something
    /// changed.
    changed: watch::Sender<u64>,
    /// Application → stable address, once exposed.
    addresses: Mutex<HashMap<String, String>>,
    /// Held from counting a ReplicaSet's pods to naming the new one: replicas started together (downtime mode) each
    /// get their own pod, not the first one that appeared.
    starting: tokio::sync::Mutex<()>,
    /// The tasks driving the watches, stopped with the platform.
    watches: Vec<JoinHandle<()>>,
}

impl Drop for KubernetesPlatform {
    fn drop(&mut self) {
        for watch in &self.watches {
            watch.abort();
        }
    }
}

/// A Kubernetes error as an operator reads it: what was being done, to which object, and what came back.
fn refused(action: &str, object: impl Into<String>, error: kube::Error) -> PlatformError {
    let answer = match &error {
        kube::Error::Api(status) => {
            let meaning = match status.code {
                401 => " (the credentials are wrong or expired)",
                403 => " (RBAC forbids this verb)",
                404 => " (it does not exist)",
                _ => "",
            };
            format!(
                "Kubernetes answered {} {}{meaning}: {}",
                status.code, status.reason, status.message
            )
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            format!("the API server cannot be reached: {}", chain(&error))
        }
        _ => chain(&error),
    };
    PlatformError::Kubernetes {
        action: action.into(),
        object: object.into(),
        answer,
    }
}

/// An error with its sources, `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// A watched kind's store, the objects `config` selects, kept current by a task that logs each error and tells `seen`
/// of each watch event and error.
fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    mut seen: impl FnMut(std::result::Result<(), String>) + Send + 'static,
) -> (Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config)).default_backoff();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => seen(Ok(())),
                Err(error) => {
                    let text = chain(&error);
                    tracing::warn!("watching {}: {text}", K::plural(&()));
                    seen(Err(text));
                }
            }
        }
    });
    (store, task)
}

impl KubernetesPlatform {
    /// Connects as every Kubernetes tool does, checks that the namespace exists and that RBAC allows every call the
    /// platform makes ([`permissions::NEEDED`]) before changing anything, and starts the watches of the product's
    /// pods and endpoints (waiting for their first list) and of the pods' Warning events (not waiting: without
    /// them a reason is the pod's status alone).
    pub async fn connect(config: &KubernetesConfig) -> Result<KubernetesPlatform> {
        // Which account the agent acts as, for the permission check's error when the server cannot say.
        let (kube_config, credentials) = match &config.kubeconfig {
            Some(path) => {
                let file = Kubeconfig::read_from(path).map_err(|e| PlatformError::Kubernetes {
                    action: "reading the kubeconfig".into(),
                    object: path.display().to_string(),
                    answer: chain(&e),
                })?;
                let user = file
                    .current_context
                    .as_ref()
                    .and_then(|current| file.contexts.iter().find(|c| &c.name == current))
                    .and_then(|c| c.context.as_ref()?.user.clone())
                    .unwrap_or_else(|| "of the current context".into());
                let credentials = format!("user {user} of {}", path.display());
                let kube_config =
                    kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                        .await
                        .map_err(|e| PlatformError::Kubernetes {
                            action: "using the kubeconfig".into(),
                            object: path.display().to_string(),
                            answer: chain(&e),
                        })?;
                (kube_config, credentials)
            }
            None => {
                let kube_config =
                    kube::Config::infer()
                        .await
                        .map_err(|e| PlatformError::Kubernetes {
                            action: "finding the cluster (in-cluster, KUBECONFIG, ~/.kube/config)"
                                .into(),
                            object: "the kubeconfig".into(),
                            answer: chain(&e),
                        })?;
                let credentials = "the account kube found (in-cluster service account, KUBECONFIG or ~/.kube/config)";
                (kube_config, credentials.to_string())
            }
        };
        let server = kube_config.cluster_url.to_string();
        // rustls is built with both ring (kube's choice) and aws-lc-rs (the agent's TLS), so it cannot pick a
        // provider by itself: the process uses aws-lc-rs, as `agent serve --tls-cert` does (an Err means one is
        // already installed).
        let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client =
            Client::try_from(kube_config).map_err(|e| refused("connecting to", &server, e))?;
        let namespace = &config.namespace;
        // Reading the namespace first tells a missing namespace, wrong credentials and an unreachable server apart;
        // a refusal is named by the permission check with every other verb RBAC refuses.
        let object = format!("namespace {namespace} at {server}");
        match Api::<Namespace>::all(client.clone()).get(namespace).await {
            Ok(_) => permissions::preflight(&client, namespace, &credentials).await?,
            Err(kube::Error::Api(status)) if status.code == 403 => {
                permissions::preflight(&client, namespace, &credentials).await?;
                // The reviews allowed what the request was refused (another authorizer): its own answer then.
                return Err(refused("reading", object, kube::Error::Api(status)));
            }
            Err(e) => return Err(refused("reading", object, e)),
        }
        let changed = watch::channel(0_u64).0;
        let last_error = Arc::new(Mutex::new(None));
        // Each pod or endpoints event wakes the waits; the last error says why the first list did not come.
        let seen = || {
            let (changed, last_error) = (changed.clone(), last_error.clone());
            move |event: std::result::Result<(), String>| match event {
                Ok(()) => changed.send_modify(|n| *n = n.wrapping_add(1)),
                Err(text) => *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(text),
            }
        };
        let product = || watcher::Config::default().labels(MANAGED_SELECTOR);
        let (pods, pod_watch) = reflect(
            Api::<Pod>::namespaced(client.clone(), namespace),
            product(),
            seen(),
        );
        let (endpoints, endpoint_watch) = reflect(
            Api::<Endpoints>::namespaced(client.clone(), namespace),
            product(),
            seen(),
        );
        // Events carry no labels of the product: they are selected by field. Each one wakes the waits too (a failed
        // pod's reason waits for its first warning); their first list is not waited for and their errors are only
        // logged (by `reflect`): an upgrade never depends on them.
        let changed_by_events = changed.clone();
        let (events, event_watch) = reflect(
            Api::<Event>::namespaced(client.clone(), namespace),
            watcher::Config::default().fields(POD_WARNINGS),
            move |event| {
                if event.is_ok() {
                    changed_by_events.send_modify(|n| *n = n.wrapping_add(1));
                }
            },
        );
        let platform = KubernetesPlatform {
            client,
            config: config.clone(),
            pods: pods.clone(),
            endpoints: endpoints.clone(),
            events,
            changed,
            addresses: Mutex::new(HashMap::new()),
            starting: tokio::sync::Mutex::new(()),
            watches: vec![pod_watch, endpoint_watch, event_watch],
        };
        let listed = async {
            let _ = pods.wait_until_ready().await;
            let _ = endpoints.wait_until_ready().await;
        };
        if tokio::time::timeout(REACT_WITHIN, listed).await.is_err() {
            let last = last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            return Err(PlatformError::Kubernetes {
                action: "watching".into(),
                object: format!("pods and endpoints in namespace {namespace}"),
                answer: last.unwrap_or_else(|| "no answer within 60 s".into()),
            });
        }
        Ok(platform)
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.config.namespace)
    }

    /// Waits until `done` holds over the watched objects, re-checking at each watch event, at most `within`.
    async fn wait_for(
        &self,
        what: &str,
        within: Duration,
        done: impl Fn(&Self) -> bool,
    ) -> Result<()> {
        let mut changes = self.changed.subscribe();
        let waited = tokio::time::timeout(within, async {
            loop {
                if done(self) {
                    return;
                }
                if changes.changed().await.is_err() {
                    // The watches ended (agent shutdown): nothing will change any more.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        waited.map_err(|_| PlatformError::Timeout {
            what: what.into(),
            seconds: within.as_secs(),
        })
    }

    fn pod(&self, name: &str) -> Option<Arc<Pod>> {
        self.pods
            .get(&reflector::ObjectRef::new(name).within(&self.config.namespace))
    }

    /// Whether the endpoints of `app`'s Service list the pod as ready.
    fn in_endpoints(&self, app: &str, pod: &str) -> bool {
        self.endpoints
            .get(&reflector::ObjectRef::new(app).within(&self.config.namespace))
            .is_some_and(|e| pods::endpoints_list(&e, pod))
    }

    /// Sets the pod's in-traffic condition (its readiness gate).
    async fn set_gate(&self, pod: &str, in_traffic: bool) -> Result<()> {
        let patch = objects::gate_patch(in_traffic);
        match self
            .api::<Pod>()
            .patch_status(pod, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 && !in_traffic => Ok(()),
            Err(e) => Err(refused(
                "setting the in-traffic gate of",
                format!("pod {pod}"),
                e,
            )),
        }
    }

    /// Sets the ReplicaSet's `spec.replicas` to `to(current)` and returns it. The patch names the resourceVersion
    /// it read, so a concurrent change is never overwritten: on a conflict (typically the controller updating the
    /// set's status) it reads again, at most five times.
    async fn scale(&self, name: &str, to: impl Fn(i32) -> i32) -> Result<i32> {
        let mut conflict = None;
        for _ in 0..5 {
            let set = self
                .replica_set(name)
                .await?
                .ok_or_else(|| PlatformError::Kubernetes {
                    action: "scaling".into(),
                    object: format!("replicaset {name}"),
                    answer: "it does not exist any more".into(),
                })?;
            let replicas = to(set.spec.replicas.unwrap_or(0)).max(0);
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": set.metadata.resource_version},
                "spec": {"replicas": replicas},
            });
            match self
                .api::<ReplicaSet>()
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(replicas),
                Err(kube::Error::Api(status)) if status.code == 409 => conflict = Some(status),
                Err(e) => {
                    return Err(refused(
                        &format!("scaling to {replicas}"),
                        format!("replicaset {name}"),
                        e,
                    ));
                }
            }
        }
        Err(refused(
            "scaling",
            format!("replicaset {name}"),
            kube::Error::Api(conflict.unwrap_or_default()),
        ))
    }

    async fn replica_set(&self, name: &str) -> Result<Option<ReplicaSet>> {
        self.api::<ReplicaSet>()
            .get_opt(name)
            .await
            .map_err(|e| refused("reading", format!("replicaset {name}"), e))
    }

    /// Deletes a ReplicaSet that runs nothing any more (and its release's Secret when no other set mounts it).
    async fn remove_if_empty(&self, name: &str) -> Result<()> {
        let Some(set) = self.replica_set(name).await? else {
            return Ok(());
        };
        if set.spec.replicas.unwrap_or(0) > 0 {
            return Ok(());
        }
        if let Err(e) = self
            .api::<ReplicaSet>()
            .delete(name, &DeleteParams::default())
            .await
        {
            return Err(refused("deleting", format!("replicaset {name}"), e));
        }
        let Some(secret) = objects::secret_of(&set) else {
            return Ok(());
        };
        let sets = self
            .api::<ReplicaSet>()
            .list(&kube::api::ListParams::default().labels(MANAGED_SELECTOR))
            .await
            .map_err(|e| refused("listing", "replicasets", e))?;
        let used = sets.items.iter().any(|other| {
            other.metadata.name.as_deref() != Some(name)
                && objects::secret_of(other).as_deref() == Some(secret.as_str())
        });
        if !used {
            match self
                .api::<Secret>()
                .delete(&secret, &DeleteParams::default())
                .await
            {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(refused("deleting", format!("secret {secret}"), e)),
            }
        }
        Ok(())
    }

    /// Brings the ReplicaSet `name` down to `keep` pods, removing the pods that are out of traffic (they are not
    /// ready, so the ReplicaSet removes them first), and waits until they are gone.
    async fn shrink_to(
        &self,
        name: &str,
        to: impl Fn(i32) -> i32,
        leaving: &[String],
        grace: Duration,
    ) -> Result<()> {
        let keep = self.scale(name, to).await?;
        let what = format!("pods {} of replicaset {name} to stop", leaving.join(", "));
        self.wait_for(&what, grace + REACT_WITHIN, |p| {
            leaving.iter().all(|pod| p.pod(pod).is_none())
        })
        .await?;
        if keep == 0 {
            self.remove_if_empty(name).await?;
        }
        Ok(())
    }
}

impl Platform for KubernetesPlatform {
    async fn expose(&self, app: &Application) -> Result<String> {
        let service = objects::service(app)?;
        let applied = self
            .api::<Service>()
            .patch(
                &app.name,
                &PatchParams::apply(objects::MANAGER).force(),
                &Patch::Apply(&service),
            )
            .await
            .map_err(|e| refused("applying", format!("service {}", app.name), e))?;
        let address = objects::address(
            &applied,
            &self.config.namespace,
            self.config.node_address.as_deref(),
        )?;
        self.addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(app.name.clone(), address.clone());
        Ok(address)
    }

    fn address(&self, app: &str) -> Option<String> {
        self.addresses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(app)
            .cloned()
    }

    async fn start_replica(&self, app: &Application, release: &Release) -> Result<String> {
        let secret = objects::values_secret(release);
        let secret_name = secret.metadata.name.clone().unwrap_or_default();
        self.api::<Secret>()
            .patch(
                &secret_name,
                &PatchParams::apply(objects::MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await
            .map_err(|e| refused("applying", format!("secret {secret_name}"), e))?;
        let set = objects::replica_set(app, release, self.config.shared_volume.as_ref())?;
        let name = set.metadata.name.clone().unwrap_or_default();
        match self
            .api::<ReplicaSet>()
            .create(&PostParams::default(), &set)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => return Err(refused("creating", format!("replicaset {name}"), e)),
        }
        let _one_at_a_time = self.starting.lock().await;
        let before: Vec<String> = pods::of_set(&self.pods.state(), &name);
        self.scale(&name, |n| n + 1).await?;
        let mut started = None;
        self.wait_for(
            &format!("a new pod of replicaset {name}"),
            REACT_WITHIN,
            |p| {
                let now = pods::of_set(&p.pods.state(), &name);
                now.iter().any(|pod| !before.contains(pod))
            },
        )
        .await?;
        for pod in pods::of_set(&self.pods.state(), &name) {
            if !before.contains(&pod) {
                started = Some(pod);
            }
        }
        started.ok_or(PlatformError::UnknownReplica(name))
    }

    async fn health(&self, replica: &str, _path: &str) -> Health {
        // The kubelet runs the manifest's readiness check (the pod's readiness probe); its answer is read here.
        let Some(pod) = self.pod(replica) else {
            return Health::Exited("the pod was deleted".into());
        };
        if matches!(pods::health(&pod, &[]), Health::Exited(_)) {
            // The engine gives up on a failed pod at once: its events, reported apart from its status, get a moment
            // (without any by then, the reason is the status alone).
            let _ = self
                .wait_for(
                    &format!("a Warning event of pod {replica}"),
                    EVENTS_WITHIN,
                    |p| pods::warnings(&pod, &p.events.state()).is_some(),
                )
                .await;
        }
        pods::health(&pod, &self.events.state())
    }

    async fn route_in(&self, replica: &str) -> Result<()> {
        let app = self
            .pod(replica)
            .and_then(|p| pods::app_of(&p))
            .ok_or_else(|| PlatformError::UnknownReplica(replica.into()))?;
        self.set_gate(replica, true).await?;
        self.wait_for(
            &format!("pod {replica} in the endpoints of service {app}"),
            REACT_WITHIN,
            |p| p.in_endpoints(&app, replica),
        )
        .await
    }

    async fn drain_and_stop(&self, replica: &str, grace: Duration) -> Result<()> {
        let Some(pod) = self.pod(replica) else {
            return Ok(());
        };
        let app = pods::app_of(&pod).unwrap_or_default();
        self.set_gate(replica, false).await?;
        self.wait_for(
            &format!("pod {replica} out of the endpoints of service {app}"),
            REACT_WITHIN,
            |p| !p.in_endpoints(&app, replica),
        )
        .await?;
        let Some(set_name) = pods::owner_set(&pod) else {
            self.api::<Pod>()
                .delete(replica, &DeleteParams::default())
                .await
                .map_err(|e| refused("deleting", format!("pod {replica}"), e))?;
            return Ok(());
        };
        self.shrink_to(&set_name, |n| n - 1, &[replica.to_string()], grace)
            .await
    }

    fn replicas(&self) -> Vec<Replica> {
        let mut all: Vec<Replica> = self
            .pods
            .state()
            .iter()
            .filter_map(|p| pods::replica(p))
            .collect();
        all.sort_by(|a, b| (&a.app, &a.id).cmp(&(&b.app, &b.id)));
        all
    }

    async fn adopt(&self) -> Result<Adoption> {
        // Each ReplicaSet keeps exactly the pods that are in traffic: a scale-up or a drain the agent was in the
        // middle of is undone (its pod is not in traffic), and the engine then redoes the step.
        let mut adoption = Adoption::default();
        let sets = self
            .api::<ReplicaSet>()
            .list(&kube::api::ListParams::default().labels(MANAGED_SELECTOR))
            .await
            .map_err(|e| refused("listing", "replicasets", e))?;
        let state = self.pods.state();
        for set in &sets.items {
            let name = set.metadata.name.clone().unwrap_or_default();
            let mut keep = Vec::new();
            let mut leaving = Vec::new();
            for pod in state
                .iter()
                .filter(|p| pods::owner_set(p).as_deref() == Some(name.as_str()))
            {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                match pods::replica(pod).map(|r| r.state) {
                    Some(super::ReplicaState::Ready) if pods::gate(pod) == Some(true) => {
                        keep.push(pod_name)
                    }
                    Some(super::ReplicaState::Exited(_)) => {
                        adoption.vanished.push(pod_name.clone());
                        leaving.push(pod_name);
                    }
                    _ => {
                        adoption.replaced.push(pod_name.clone());
                        leaving.push(pod_name);
                    }
                }
            }
            let desired = set.spec.replicas.unwrap_or(0);
            if desired as usize != keep.len() || !leaving.is_empty() {
                for pod in &leaving {
                    self.set_gate(pod, false).await?;
                }
                let keep = keep.len() as i32;
                self.shrink_to(&name, |_| keep, &leaving, Duration::from_secs(30))
                    .await?;
            }
            adoption.adopted.extend(keep);
        }
        Ok(adoption)
    }

    async fn hold_repairs(&self) -> Result<RepairHold> {
        // Repairs are the ReplicaSets' own (Kubernetes replaces a lost pod); the engine sees a crash during an
        // upgrade in the pod's status and restarts, so there is nothing to pause.
        Ok(RepairHold::nothing())
    }

    fn shutdown(&self, _grace: Duration) -> impl Future<Output = ()> + Send {
        // The cluster keeps the product running while the agent is away: nothing is stopped.
        tracing::info!(
            "the product keeps running in namespace {}; its ReplicaSets own the pods",
            self.config.namespace
        );
        async {}
    }
}
