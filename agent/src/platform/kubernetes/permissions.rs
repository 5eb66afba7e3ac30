//! What the platform is allowed to do, checked before it changes anything: the one list of the API calls it makes
//! (deploy/kubernetes/rbac.yaml grants exactly these), and the preflight that asks the API server, through
//! SelfSubjectAccessReviews, whether the agent's account may make each of them in the namespace.

use futures_util::future::join_all;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};

use super::refused;
use crate::platform::{PlatformError, Result};

/// What the platform does with one kind of object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// The API group, `""` for the core group.
    pub group: &'static str,
    /// The resource, with its subresource after a `/` (`pods/status`), as RBAC rules name it.
    pub resource: &'static str,
    /// The verbs, as RBAC rules name them.
    pub verbs: &'static [&'static str],
}

/// Every call the platform makes, by object kind. A watch (reflector) is a list then a watch; a server-side apply is
/// a patch, and a create when the object is new (the API server then authorizes it as a create as well).
pub const NEEDED: [Permission; 8] = [
    // `connect` reads the namespace. Namespaces are cluster-scoped, but the API server gives a request for the
    // namespace object the namespace's own name as namespace, so a Role in that namespace covers exactly it.
    Permission {
        group: "",
        resource: "namespaces",
        verbs: &["get"],
    },
    // The pods' reflector; `drain_and_stop` deletes a pod no ReplicaSet owns.
    Permission {
        group: "",
        resource: "pods",
        verbs: &["list", "watch", "delete"],
    },
    // `set_gate`: the in-traffic condition lives in the pod's status.
    Permission {
        group: "",
        resource: "pods/status",
        verbs: &["patch"],
    },
    // The endpoints' reflector (`route_in` and `drain_and_stop` wait on it).
    Permission {
        group: "",
        resource: "endpoints",
        verbs: &["list", "watch"],
    },
    // The events' reflector: a failed or not-ready pod's reason carries its latest Warning events.
    Permission {
        group: "",
        resource: "events",
        verbs: &["list", "watch"],
    },
    // `expose` applies each application's Service.
    Permission {
        group: "",
        resource: "services",
        verbs: &["create", "patch"],
    },
    // `start_replica` applies the release's values Secret; `remove_if_empty` deletes it.
    Permission {
        group: "",
        resource: "secrets",
        verbs: &["create", "patch", "delete"],
    },
    // `start_replica` creates, `scale` patches, `replica_set` gets, `adopt` and `remove_if_empty` list, and
    // `remove_if_empty` deletes the ReplicaSets.
    Permission {
        group: "apps",
        resource: "replicasets",
        verbs: &["create", "get", "list", "patch", "delete"],
    },
];

/// One verb on one resource the account may not use, with what Kubernetes said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The permission, as listed in [`NEEDED`].
    pub permission: Permission,
    /// The verb refused.
    pub verb: &'static str,
    /// The review's reason or evaluation error, when Kubernetes gave one.
    pub answer: Option<String>,
}

/// `pods`, `replicasets.apps`, `pods/status`: a resource as `kubectl auth can-i` and RBAC errors write it.
fn resource_name(permission: &Permission) -> String {
    match permission.group {
        "" => permission.resource.to_string(),
        group => match permission.resource.split_once('/') {
            Some((resource, sub)) => format!("{resource}.{group}/{sub}"),
            None => format!("{}.{group}", permission.resource),
        },
    }
}

/// The error naming every refused verb, per resource in the order of [`NEEDED`], the account and the namespace.
pub fn missing_permissions(account: &str, namespace: &str, denied: &[Denied]) -> PlatformError {
    let mut parts: Vec<String> = Vec::new();
    for permission in &NEEDED {
        let refused: Vec<&Denied> = denied
            .iter()
            .filter(|d| d.permission == *permission)
            .collect();
        if refused.is_empty() {
            continue;
        }
        let verbs: Vec<&str> = refused.iter().map(|d| d.verb).collect();
        let answers: Vec<&str> = refused
            .iter()
            .filter_map(|d| d.answer.as_deref())
            .filter(|a| !a.is_empty())
            .collect();
        let mut part = format!("{} {}", verbs.join(", "), resource_name(permission));
        if let Some(answer) = answers.first() {
            part.push_str(&format!(" (Kubernetes: {answer})"));
        }
        parts.push(part);
    }
    PlatformError::Kubernetes {
        action: "checking the permissions of".into(),
        object: format!("{account} in namespace {namespace}"),
        answer: format!(
            "RBAC does not allow: {}; nothing was changed (deploy/kubernetes/rbac.yaml grants what the agent needs)",
            parts.join("; ")
        ),
    }
}

/// Who the API server says the agent is (SelfSubjectReview, Kubernetes 1.28 and later), else `fallback`.
async fn account(client: &Client, fallback: &str) -> String {
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await;
    review
        .ok()
        .and_then(|r| r.status?.user_info?.username)
        .map(|name| format!("user {name}"))
        .unwrap_or_else(|| fallback.to_string())
}

/// Asks, for every verb of [`NEEDED`], whether the agent may use it in `namespace`; refuses with one error naming
/// every verb it may not use. `credentials` says which account it is when the server cannot tell.
pub async fn preflight(client: &Client, namespace: &str, credentials: &str) -> Result<()> {
    let api = &Api::<SelfSubjectAccessReview>::all(client.clone());
    let checks = NEEDED.iter().flat_map(move |permission| {
        permission.verbs.iter().map(move |verb| {
            let (resource, subresource) = match permission.resource.split_once('/') {
                Some((resource, sub)) => (resource, Some(sub.to_string())),
                None => (permission.resource, None),
            };
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(permission.group.into()),
                        resource: Some(resource.into()),
                        subresource,
                        verb: Some(verb.to_string()),
                        namespace: Some(namespace.into()),
                        // The only namespace the platform reads is its own.
                        name: (resource == "namespaces").then(|| namespace.to_string()),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            async move {
                let answer = api.create(&PostParams::default(), &review).await;
                (*permission, *verb, answer)
            }
        })
    });
    let mut denied = Vec::new();
    for (permission, verb, answer) in join_all(checks).await {
        let status = answer
            .map_err(|e| {
                refused(
                    "asking whether RBAC allows",
                    format!("{verb} {}", resource_name(&permission)),
                    e,
                )
            })?
            .status
            .unwrap_or_default();
        if !status.allowed {
            let answer = status.evaluation_error.or(status.reason);
            denied.push(Denied {
                permission,
                verb,
                answer,
            });
        }
    }
    if denied.is_empty() {
        return Ok(());
    }
    let account = account(client, credentials).await;
    Err(missing_permissions(&account, namespace, &denied))
}
