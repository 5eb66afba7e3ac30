//! The objects the platform creates, built from the manifest: a NodePort Service per application (and the stable
//! address it gives), a Secret per release holding its values, a ReplicaSet per application and release.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};
use shared::manifest::Application;

use super::SharedVolume;
use crate::platform::{PlatformError, Release, Result};

/// Field manager and `managed-by` label value.
pub const MANAGER: &str = "upgrade-manager";
/// The label every object of the product carries.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Selects every object of the product.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=upgrade-manager";
/// The application a pod, set or Service belongs to.
pub const APPLICATION: &str = "upgrade-manager.io/application";
/// The release (version and values fingerprint) a pod or set runs, as a name part.
pub const RELEASE: &str = "upgrade-manager.io/release";
/// The version a pod runs, as written in the manifest.
pub const VERSION: &str = "upgrade-manager.io/version";
/// The values fingerprint a pod runs with ([`Release::config_digest`]).
pub const CONFIG: &str = "upgrade-manager.io/config";
/// The readiness gate the agent sets when it routes a pod in, and clears before it stops it.
pub const IN_TRAFFIC: &str = "upgrade-manager.io/in-traffic";
/// The key of the values file in a release's Secret.
const VALUES_KEY: &str = "values.yaml";
/// How long a stopping pod may finish its requests and jobs (the demo waits up to 60 s for its jobs).
const TERMINATION_GRACE_SECONDS: i64 = 90;

/// `v5-1-2-02-1a2b3c4d5e6f`: the release as a part of an object name (lowercase letters, digits and `-`).
pub fn release_name(release: &Release) -> String {
    let version: String = release
        .version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{}-{}", version.trim_matches('-'), release.config_digest())
}

fn not_runnable(app: &Application, missing: &'static str) -> PlatformError {
    PlatformError::NotRunnable {
        app: app.name.clone(),
        platform: "kubernetes",
        missing,
    }
}

/// The Service that is `app`'s stable address: a NodePort to the container port of its ready pods.
pub fn service(app: &Application) -> Result<Value> {
    let container = app
        .container
        .as_ref()
        .ok_or_else(|| not_runnable(app, "`container:` (port, valuesFile)"))?;
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app.name, "labels": {MANAGED_BY: MANAGER, APPLICATION: app.name}},
        "spec": {
            "type": "NodePort",
            "selector": {MANAGED_BY: MANAGER, APPLICATION: app.name},
            // `protocol` is a key of the list for server-side apply: a 1.20 server does not default it there.
            "ports": [{"name": "http", "protocol": "TCP", "port": container.port, "targetPort": container.port}],
        },
    }))
}

/// The stable address of an application's applied Service: its NodePort on `node_address` when the agent is given
/// one (it runs outside the cluster), else the Service's cluster DNS name and port (the agent runs inside it).
pub fn address(service: &Service, namespace: &str, node_address: Option<&str>) -> Result<String> {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let port = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|ports| ports.first());
    let missing = |what: &str| PlatformError::Kubernetes {
        action: format!("reading the {what} of"),
        object: format!("service {name}"),
        answer: "Kubernetes gave it none".into(),
    };
    match node_address {
        Some(node) => {
            let node_port = port
                .and_then(|p| p.node_port)
                .ok_or_else(|| missing("node port"))?;
            Ok(format!("http://{node}:{node_port}"))
        }
        None => {
            let port = port.map(|p| p.port).ok_or_else(|| missing("port"))?;
            Ok(format!("http://{name}.{namespace}.svc:{port}"))
        }
    }
}

/// The Secret holding the values of a release (values hold passwords: never a ConfigMap).
pub fn values_secret(release: &Release) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("values-{}", release_name(release))),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.to_string(), MANAGER.to_string()),
                (RELEASE.to_string(), release_name(release)),
            ])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            VALUES_KEY.to_string(),
            ByteString(release.values.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The name of the values Secret a ReplicaSet's pods mount.
pub fn secret_of(set: &ReplicaSet) -> Option<String> {
    set.spec
        .template
        .as_ref()?
        .spec
        .as_ref()?
        .volumes
        .as_ref()?
        .iter()
        .find_map(|v| v.secret.as_ref()?.secret_name.clone())
}

/// The ReplicaSet running `app` on `release`, created with no pods (the engine scales it one pod at a time).
pub fn replica_set(
    app: &Application,
    release: &Release,
    shared: Option<&SharedVolume>,
) -> Result<ReplicaSet> {
    let image = app
        .image
        .as_ref()
        .ok_or_else(|| not_runnable(app, "`image:`"))?;
    let container = app
        .container
        .as_ref()
        .ok_or_else(|| not_runnable(app, "`container:` (port, valuesFile)"))?;
    let release_name = release_name(release);
    let labels = json!({MANAGED_BY: MANAGER, APPLICATION: app.name, RELEASE: release_name});
    // `valuesFile` is checked absolute with at least one segment: split it into its directory and file name.
    let (dir, file) = container
        .values_file
        .rsplit_once('/')
        .map(|(dir, file)| (if dir.is_empty() { "/" } else { dir }, file))
        .unwrap_or(("/", container.values_file.as_str()));
    let mut mounts = vec![json!({"name": "values", "mountPath": dir, "readOnly": true})];
    let mut volumes = vec![json!({
        "name": "values",
        "secret": {"secretName": format!("values-{release_name}"), "items": [{"key": VALUES_KEY, "path": file}]},
    })];
    if let Some(path) = &container.shared_dir {
        let volume = match shared {
            Some(SharedVolume::HostPath(dir)) => {
                json!({"name": "shared", "hostPath": {"path": dir, "type": "DirectoryOrCreate"}})
            }
            Some(SharedVolume::Claim(claim)) => {
                json!({"name": "shared", "persistentVolumeClaim": {"claimName": claim}})
            }
            None => {
                return Err(not_runnable(
                    app,
                    "shared volume (`container.sharedDir` is set: start the agent with --shared-volume)",
                ));
            }
        };
        mounts.push(json!({"name": "shared", "mountPath": path}));
        volumes.push(volume);
    }
    let env: Vec<Value> = container
        .env
        .iter()
        .map(|e| json!({"name": e.name, "value": e.value}))
        .collect();
    let set = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": format!("{}-{release_name}", app.name), "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {VERSION: release.version, CONFIG: release.config_digest()},
                },
                "spec": {
                    "readinessGates": [{"conditionType": IN_TRAFFIC}],
                    "automountServiceAccountToken": false,
                    "enableServiceLinks": false,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "containers": [{
                        "name": app.name,
                        "image": image,
                        // Images come with the cluster (the test cluster cannot pull: no registry is ever tried).
                        "imagePullPolicy": "Never",
                        "ports": [{"name": "http", "containerPort": container.port}],
                        "env": env,
                        "volumeMounts": mounts,
                        "readinessProbe": {
                            "httpGet": {"path": app.readiness.path, "port": container.port},
                            "periodSeconds": 1,
                            "failureThreshold": 1,
                        },
                    }],
                    "volumes": volumes,
                },
            },
        },
    });
    serde_json::from_value(set).map_err(|e| PlatformError::Kubernetes {
        action: "building".into(),
        object: format!("the replicaset of {}", app.name),
        answer: e.to_string(),
    })
}

/// The status patch that sets the pod's in-traffic condition.
pub fn gate_patch(in_traffic: bool) -> Value {
    json!({"status": {"conditions": [{
        "type": IN_TRAFFIC,
        "status": if in_traffic { "True" } else { "False" },
        "reason": if in_traffic { "RoutedIn" } else { "Draining" },
    }]}})
}
