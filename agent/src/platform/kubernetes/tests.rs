//! The objects built from the demo's manifest, and what pods in the states Kubernetes reports mean to the engine
//! (the pods are what a 1.20 API server sends, as JSON). The platform itself runs against a real cluster in
//! `agent/tests/api/kubernetes.rs`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Event, Pod, Service};
use serde_json::json;
use shared::limits::Limits;
use shared::manifest::Application;

use super::objects::{self, IN_TRAFFIC};
use super::{SharedVolume, permissions, pods};
use crate::platform::{Health, PlatformError, Release, ReplicaState};

fn demo_app(name: &str) -> Application {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../demo/versions/V5.1.2.02.zip"
    );
    let bytes = std::fs::read(path).expect("the demo package");
    let (report, package) =
        shared::package::check_version_package("V5.1.2.02.zip", &bytes, &Limits::default());
    assert!(report.ok, "{report:?}");
    package
        .expect("package")
        .manifest
        .applications
        .into_iter()
        .find(|a| a.name == name)
        .expect("application")
}

fn release() -> Release {
    Release {
        version: "V5.1.2.02".into(),
        values: "global: {greeting: hi}\n".into(),
    }
}

#[test]
fn the_replica_set_runs_the_manifests_container_behind_the_in_traffic_gate() {
    let app = demo_app("dataservice");
    let shared = SharedVolume::HostPath("/var/lib/dataphin".into());
    let set = objects::replica_set(&app, &release(), Some(&shared)).unwrap();
    let set = serde_json::to_value(&set).unwrap();
    let name = format!("dataservice-v5-1-2-02-{}", release().config_digest());
    assert_eq!(set["metadata"]["name"], name.as_str());
    assert_eq!(
        set["spec"]["replicas"], 0,
        "the engine adds pods one by one"
    );
    let pod = &set["spec"]["template"]["spec"];
    assert_eq!(
        pod["readinessGates"],
        json!([{"conditionType": IN_TRAFFIC}])
    );
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        "registry.example.com/dataphin/dataservice:5.1.2.02"
    );
    assert_eq!(container["imagePullPolicy"], "Never");
    assert_eq!(
        container["readinessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": 8080})
    );
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "DEMO_LISTEN", "value": "0.0.0.0"}))
    );
    assert_eq!(
        container["volumeMounts"],
        json!([
            {"name": "values", "mountPath": "/etc/dataphin", "readOnly": true},
            {"name": "shared", "mountPath": "/state"},
        ])
    );
    let secret = format!("values-v5-1-2-02-{}", release().config_digest());
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "values", "secret": {"secretName": secret, "items": [{"key": "values.yaml", "path": "values.yaml"}]}},
            {"name": "shared", "hostPath": {"path": "/var/lib/dataphin", "type": "DirectoryOrCreate"}},
        ])
    );
    let values = objects::values_secret(&release());
    assert_eq!(values.metadata.name.as_deref(), Some(secret.as_str()));
    assert_eq!(
        values.data.unwrap()["values.yaml"].0,
        release().values.as_bytes()
    );
}

#[test]
fn an_application_the_cluster_cannot_run_is_named_with_what_is_missing() {
    let mut app = demo_app("web");
    let error = objects::replica_set(&app, &release(), None).unwrap_err();
    assert!(
        matches!(&error, PlatformError::NotRunnable { app, .. } if app == "web")
            && error.to_string().contains("--shared-volume"),
        "{error}"
    );
    app.container = None;
    let error = objects::service(&app).unwrap_err().to_string();
    assert!(
        error.contains("web") && error.contains("`container:`"),
        "{error}"
    );
}

#[test]
fn a_shared_volume_is_a_host_path_or_a_claim() {
    assert_eq!(
        "hostPath:/srv/x".parse(),
        Ok(SharedVolume::HostPath("/srv/x".into()))
    );
    assert_eq!("pvc:jobs".parse(), Ok(SharedVolume::Claim("jobs".into())));
    let error = "nfs:server:/x".parse::<SharedVolume>().unwrap_err();
    assert!(
        error.contains("nfs:server:/x") && error.contains("pvc:"),
        "{error}"
    );
}

/// The name of the pod [`pod`] builds.
const POD: &str = "dataservice-v5-1-2-02-abc-x7k2p";

fn pod(status: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {
            "name": POD,
            "labels": {"upgrade-manager.io/application": "dataservice"},
            "annotations": {"upgrade-manager.io/version": "V5.1.2.02", "upgrade-manager.io/config": "abc"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "dataservice-v5-1-2-02-abc", "uid": "1"}],
        },
        "status": status,
    }))
    .unwrap()
}

#[test]
fn a_pod_that_cannot_get_its_image_is_reported_at_once_with_kubernetes_reason() {
    let stuck = never_pulled();
    match pods::health(&stuck, &[]) {
        Health::Exited(why) => assert!(
            why.starts_with("ErrImageNeverPull: Container image"),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        pods::replica(&stuck).unwrap().state,
        ReplicaState::Exited(_)
    ));
}

/// An event about `pod` as a 1.20 kubelet reports it, of type `type_` (Warning or Normal), seen `count` times, last at
/// `last` (seconds after 10:00:00).
fn event(pod: &str, type_: &str, reason: &str, message: &str, count: i32, last: u32) -> Arc<Event> {
    let at = |second: u32| format!("2026-12-03T10:{:02}:{:02}Z", second / 60, second % 60);
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{pod}.{reason}{last}"), "namespace": "dataphin",
                "creationTimestamp": at(0)},
            "involvedObject": {"kind": "Pod", "namespace": "dataphin", "name": pod, "apiVersion": "v1",
                "fieldPath": "spec.containers{dataservice}"},
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": at(0),
            "lastTimestamp": at(last),
            "count": count,
            "type": type_,
            "eventTime": null,
        }))
        .expect("an event"),
    )
}

fn never_pulled() -> Pod {
    pod(json!({
        "phase": "Pending",
        "containerStatuses": [{
            "name": "dataservice", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImageNeverPull",
                "message": "Container image \"x\" is not present with pull policy of Never"}},
        }],
    }))
}

#[test]
fn a_failed_pods_reason_carries_its_latest_warning_events_newest_first() {
    let events = [
        event(POD, "Warning", "Failed", "Error: ErrImageNeverPull", 4, 30),
        event(
            POD,
            "Normal",
            "Scheduled",
            "Successfully assigned dataphin/x to node-1",
            1,
            40,
        ),
        event(
            POD,
            "Warning",
            "BackOff",
            "Back-off restarting failed container",
            1,
            50,
        ),
        // Another pod's warning is not this pod's.
        event(
            "web-v5-1-2-02-abc-q9z8w",
            "Warning",
            "Failed",
            "Error: ImagePullBackOff",
            2,
            55,
        ),
    ];
    match pods::health(&never_pulled(), &events) {
        Health::Exited(why) => assert_eq!(
            why,
            "ErrImageNeverPull: Container image \"x\" is not present with pull policy of Never \
             [events: BackOff: Back-off restarting failed container; Failed: Error: ErrImageNeverPull (×4)]"
        ),
        other => panic!("{other:?}"),
    }
    // Without events, or with only Normal ones, the reason is the pod's status alone.
    let alone = "ErrImageNeverPull: Container image \"x\" is not present with pull policy of Never";
    assert_eq!(
        pods::health(&never_pulled(), &[]),
        Health::Exited(alone.into())
    );
    assert_eq!(
        pods::health(&never_pulled(), &events[1..2]),
        Health::Exited(alone.into())
    );
    // The cluster view's reason stays the status alone (docs/decisions.md).
    assert_eq!(
        pods::replica(&never_pulled()).unwrap().reason.as_deref(),
        Some(alone)
    );
}

#[test]
fn at_most_the_three_newest_warnings_are_told() {
    let events: Vec<_> = [
        ("Failed", 10),
        ("BackOff", 50),
        ("FailedMount", 20),
        ("Unhealthy", 40),
        ("FailedSync", 30),
    ]
    .into_iter()
    .map(|(reason, last)| event(POD, "Warning", reason, "it went wrong", 1, last))
    .collect();
    match pods::health(&never_pulled(), &events) {
        Health::Exited(why) => assert!(
            why.ends_with(
                " [events: BackOff: it went wrong; Unhealthy: it went wrong; FailedSync: it went wrong]"
            ),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_pod_not_ready_in_time_says_its_failing_probe_events() {
    let warming = pod(
        json!({"phase": "Running", "conditions": [{"type": "ContainersReady", "status": "False"}]}),
    );
    let events = [event(
        POD,
        "Warning",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503\n",
        12,
        90,
    )];
    assert_eq!(
        pods::health(&warming, &events),
        Health::NotReady(
            "pod Running, readiness probe not passing yet [events: Unhealthy: Readiness probe failed: HTTP \
             probe failed with statuscode: 503 (×12)]"
                .into()
        )
    );
}

fn applied_service(node_port: Option<i32>) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "dataservice", "namespace": "dataphin"},
        "spec": {"type": "NodePort", "ports": [
            {"name": "http", "protocol": "TCP", "port": 8080, "targetPort": 8080, "nodePort": node_port},
        ]},
    }))
    .expect("a service")
}

#[test]
fn the_stable_address_is_the_node_port_outside_the_cluster_and_the_dns_name_inside() {
    let service = applied_service(Some(31234));
    assert_eq!(
        objects::address(&service, "dataphin", Some("127.0.0.1")).unwrap(),
        "http://127.0.0.1:31234"
    );
    assert_eq!(
        objects::address(&service, "dataphin", None).unwrap(),
        "http://dataservice.dataphin.svc:8080"
    );
    let error = objects::address(&applied_service(None), "dataphin", Some("10.0.0.5"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "reading the node port of service dataservice: Kubernetes gave it none"
    );
}

#[test]
fn a_crashed_container_is_an_exit_even_while_the_kubelet_restarts_it() {
    let crashed = pod(json!({
        "phase": "Running",
        "containerStatuses": [{
            "name": "dataservice", "image": "x", "imageID": "", "ready": false, "restartCount": 1,
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}},
        }],
    }));
    match pods::health(&crashed, &[]) {
        Health::Exited(why) => assert_eq!(
            why,
            "its container exited with status 3 (Error), restarted 1 times"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ready_means_probe_passing_and_in_traffic_means_the_gate_too() {
    let conditions = |containers: &str, gate: Option<&str>, ready: &str| {
        let mut list = vec![
            json!({"type": "ContainersReady", "status": containers}),
            json!({"type": "Ready", "status": ready}),
        ];
        if let Some(gate) = gate {
            list.push(json!({"type": IN_TRAFFIC, "status": gate}));
        }
        pod(json!({"phase": "Running", "conditions": list}))
    };
    let started = conditions("True", None, "False");
    assert_eq!(pods::health(&started, &[]), Health::Ready);
    assert_eq!(
        pods::replica(&started).unwrap().state,
        ReplicaState::Starting
    );
    let routed = conditions("True", Some("True"), "True");
    assert_eq!(pods::replica(&routed).unwrap().state, ReplicaState::Ready);
    let draining = conditions("True", Some("False"), "False");
    assert_eq!(
        pods::replica(&draining).unwrap().state,
        ReplicaState::Draining
    );
    let warming = conditions("False", None, "False");
    assert!(matches!(pods::health(&warming, &[]), Health::NotReady(_)));
    assert_eq!(
        pods::owner_set(&warming).as_deref(),
        Some("dataservice-v5-1-2-02-abc")
    );
}

/// `pod` placed on `node` by the scheduler.
fn on_node(node: &str, status: serde_json::Value) -> Pod {
    let mut placed = pod(status);
    placed.spec = Some(
        serde_json::from_value(json!({"nodeName": node, "containers": []})).expect("a pod spec"),
    );
    placed
}

#[test]
fn a_pod_says_its_node_and_why_it_is_not_ready_in_kubernetes_words() {
    let waiting = |reason: &str, message: &str| {
        json!({
            "phase": "Pending",
            "containerStatuses": [{
                "name": "dataservice", "image": "x", "imageID": "", "ready": false, "restartCount": 4,
                "state": {"waiting": {"reason": reason, "message": message}},
            }],
        })
    };
    let never_pulled = pods::replica(&on_node(
        "worker-2",
        waiting(
            "ErrImageNeverPull",
            "Container image \"x\" is not present with pull policy of Never",
        ),
    ))
    .unwrap();
    assert_eq!(never_pulled.node.as_deref(), Some("worker-2"));
    assert_eq!(never_pulled.state.as_str(), "failed");
    assert_eq!(
        never_pulled.reason.as_deref(),
        Some("ErrImageNeverPull: Container image \"x\" is not present with pull policy of Never")
    );

    let crash_loop = pods::replica(&on_node(
        "worker-2",
        waiting(
            "CrashLoopBackOff",
            "back-off 40s restarting failed container=dataservice",
        ),
    ))
    .unwrap();
    assert_eq!(
        crash_loop.reason.as_deref(),
        Some("CrashLoopBackOff: back-off 40s restarting failed container=dataservice")
    );

    let creating = pods::replica(&on_node("worker-3", waiting("ContainerCreating", ""))).unwrap();
    assert_eq!(creating.state, ReplicaState::Starting);
    assert_eq!(
        creating.reason.as_deref(),
        Some("pod Pending, container ContainerCreating")
    );

    let unschedulable = pods::replica(&pod(json!({
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient cpu."}],
    })))
    .unwrap();
    assert_eq!(unschedulable.node, None, "not placed on a node yet");
    assert_eq!(unschedulable.state, ReplicaState::Starting);
    assert_eq!(
        unschedulable.reason.as_deref(),
        Some("pod not scheduled, Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.")
    );

    let in_traffic = pods::replica(&on_node(
        "worker-1",
        json!({"phase": "Running", "conditions": [
            {"type": "ContainersReady", "status": "True"},
            {"type": "Ready", "status": "True"},
            {"type": IN_TRAFFIC, "status": "True"},
        ]}),
    ))
    .unwrap();
    assert_eq!(
        (
            in_traffic.state,
            in_traffic.node.as_deref(),
            in_traffic.reason
        ),
        (ReplicaState::Ready, Some("worker-1"), None)
    );

    let probe_passes = pods::replica(&on_node(
        "worker-1",
        json!({"phase": "Running", "conditions": [{"type": "ContainersReady", "status": "True"}]}),
    ))
    .unwrap();
    assert_eq!(
        probe_passes.reason.as_deref(),
        Some("its readiness check passes, not in traffic yet")
    );
}

/// The documents of a file in deploy/kubernetes/, by kind.
fn deploy_objects(file: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let path = format!("{}/../deploy/kubernetes/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the deploy manifest");
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| {
            let value = serde_norway::Value::deserialize(doc).expect("YAML");
            serde_json::to_value(value).expect("JSON-shaped YAML")
        })
        .collect()
}

/// Each object read as the Kubernetes type of its kind (a wrong shape fails here, not at `kubectl apply`).
fn typed(objects: &[serde_json::Value]) {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core, rbac::v1 as rbac};
    fn read<K: serde::de::DeserializeOwned>(object: &serde_json::Value) {
        if let Err(e) = serde_json::from_value::<K>(object.clone()) {
            panic!("{} {}: {e}", object["kind"], object["metadata"]["name"]);
        }
    }
    for object in objects {
        match object["kind"].as_str() {
            Some("ServiceAccount") => read::<core::ServiceAccount>(object),
            Some("Role") => read::<rbac::Role>(object),
            Some("RoleBinding") => read::<rbac::RoleBinding>(object),
            Some("PersistentVolumeClaim") => read::<core::PersistentVolumeClaim>(object),
            Some("Deployment") => read::<apps::Deployment>(object),
            Some("Service") => read::<core::Service>(object),
            other => panic!("an object of kind {other:?} in deploy/kubernetes/"),
        }
    }
}

fn of_kind<'a>(objects: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    let found: Vec<_> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn the_role_in_deploy_grants_exactly_the_verbs_the_platform_uses() {
    use std::collections::BTreeSet;
    let objects = deploy_objects("rbac.yaml");
    typed(&objects);
    let role = of_kind(&objects, "Role");
    let mut granted = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert!(rule.get("resourceNames").is_none(), "{rule}");
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                for verb in strings(&rule["verbs"]) {
                    assert!(
                        granted.insert((group.clone(), resource.clone(), verb)),
                        "granted twice: {rule}"
                    );
                }
            }
        }
    }
    let needed: BTreeSet<_> = permissions::NEEDED
        .iter()
        .flat_map(|p| {
            p.verbs
                .iter()
                .map(|v| (p.group.to_string(), p.resource.to_string(), v.to_string()))
        })
        .collect();
    assert_eq!(granted, needed);
    let account = of_kind(&objects, "ServiceAccount");
    let binding = of_kind(&objects, "RoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"]}])
    );
    for object in [role, binding] {
        assert_eq!(
            object["metadata"]["namespace"],
            account["metadata"]["namespace"]
        );
    }
}

#[test]
fn the_agents_deployment_runs_as_its_account_with_its_data_on_the_claim_and_tls() {
    let account = of_kind(&deploy_objects("rbac.yaml"), "ServiceAccount").clone();
    let objects = deploy_objects("agent.yaml");
    typed(&objects);
    typed(&deploy_objects("shared-volume.yaml"));
    let claim = of_kind(&objects, "PersistentVolumeClaim");
    let deployment = of_kind(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    // The data directory the image names (scripts/k8s-cluster.sh builds it).
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/k8s-cluster.sh"
    ))
    .expect("scripts/k8s-cluster.sh");
    let data_dir = script
        .split_whitespace()
        .find_map(|word| word.strip_prefix("AGENT_DATA_DIR="))
        .map(|dir| dir.trim_end_matches('\''))
        .expect("the agent image's AGENT_DATA_DIR");
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume_of = |mount: &serde_json::Value| {
        volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume for {mount}"))
    };
    let container = &pod["containers"][0];
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    let data = mounts
        .iter()
        .find(|m| m["mountPath"] == data_dir)
        .unwrap_or_else(|| panic!("nothing mounted at {data_dir}"));
    assert_eq!(
        volume_of(data)["persistentVolumeClaim"]["claimName"],
        claim["metadata"]["name"]
    );
    // Each TLS file is in a Secret mounted read-only.
    let args = strings(&container["args"]);
    for flag in ["--tls-cert", "--tls-key"] {
        let file = args
            .iter()
            .skip_while(|a| *a != flag)
            .nth(1)
            .unwrap_or_else(|| panic!("{flag} in {args:?}"));
        let mount = mounts
            .iter()
            .find(|m| file.starts_with(&format!("{}/", m["mountPath"].as_str().unwrap())))
            .unwrap_or_else(|| panic!("{file} is not mounted"));
        assert_eq!(mount["readOnly"], true, "{mount}");
        assert!(volume_of(mount)["secret"]["secretName"].is_string());
    }
    assert!(!args.iter().any(|a| a == "--insecure-http"));
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["scheme"], "HTTPS", "{probe}");
    }
    let service = of_kind(&objects, "Service");
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    // The agent's own pod is not one of the product's (the platform watches those by this label).
    assert!(
        deployment["spec"]["template"]["metadata"]["labels"]
            .get(objects::MANAGED_BY)
            .is_none()
    );
}

#[test]
fn the_agent_in_the_cluster_uses_its_service_account_and_the_services_dns_names() {
    let objects = deploy_objects("agent.yaml");
    let deployment = of_kind(&objects, "Deployment");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["name"], "agent");
    let args = strings(&container["args"]);
    for flag in ["--node-address", "--kubeconfig"] {
        assert!(
            !args
                .iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}="))),
            "agent.yaml passes {flag}: {args:?}"
        );
    }
    let env = container["env"].as_array().expect("env");
    for name in ["AGENT_NODE_ADDRESS", "KUBECONFIG"] {
        assert!(
            !env.iter().any(|e| e["name"] == name),
            "agent.yaml sets {name}"
        );
    }
}

#[test]
fn a_missing_permission_is_named_with_its_verbs_the_account_and_the_namespace() {
    let [namespaces, pods, status, ..] = permissions::NEEDED;
    let replicasets = permissions::NEEDED
        .into_iter()
        .find(|p| p.group == "apps")
        .unwrap();
    let denied = |permission, verb, answer: Option<&str>| permissions::Denied {
        permission,
        verb,
        answer: answer.map(str::to_string),
    };
    let error = permissions::missing_permissions(
        "user system:serviceaccount:shop:agent",
        "shop",
        &[
            denied(replicasets, "delete", None),
            denied(pods, "list", Some("")),
            denied(pods, "watch", None),
            denied(status, "patch", None),
            denied(namespaces, "get", Some("no RBAC policy matched")),
        ],
    );
    assert_eq!(
        error.to_string(),
        "checking the permissions of user system:serviceaccount:shop:agent in namespace shop: RBAC does not \
         allow: get namespaces (Kubernetes: no RBAC policy matched); list, watch pods; patch pods/status; delete \
         replicasets.apps; nothing was changed (deploy/kubernetes/rbac.yaml grants what the agent needs)"
    );
}
