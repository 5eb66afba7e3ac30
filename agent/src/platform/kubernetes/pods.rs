//! What the watched pods, events and endpoints say, in the platform's words: a pod's state and health with
//! Kubernetes' own reason and its latest Warning events, which ReplicaSet owns it, whether a Service's endpoints list
//! it.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Event, Pod};
use k8s_openapi::jiff::Timestamp;

use super::objects::{APPLICATION, CONFIG, IN_TRAFFIC, VERSION};
use crate::platform::{Health, Replica, ReplicaState};

/// Waiting reasons that mean the pod will not start by itself: reported at once instead of after the timeout.
const STUCK: [&str; 7] = [
    "ErrImageNeverPull",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// The names of the pods a ReplicaSet owns, not being deleted.
pub fn of_set(pods: &[Arc<Pod>], set: &str) -> Vec<String> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| owner_set(p).as_deref() == Some(set))
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// The ReplicaSet that owns the pod.
pub fn owner_set(pod: &Pod) -> Option<String> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == "ReplicaSet")
        .map(|o| o.name.clone())
}

/// The application the pod belongs to.
pub fn app_of(pod: &Pod) -> Option<String> {
    pod.metadata.labels.as_ref()?.get(APPLICATION).cloned()
}

fn condition(pod: &Pod, kind: &str) -> Option<bool> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status == "True")
}

/// The in-traffic gate: `None` before the agent routed the pod in, then whether it is in traffic.
pub fn gate(pod: &Pod) -> Option<bool> {
    condition(pod, IN_TRAFFIC)
}

/// Why the pod's container ended or cannot start, with Kubernetes' reason and message; `None` while it may still
/// become ready.
fn failed(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() == Some("Failed") {
        return Some(format!(
            "the pod failed ({})",
            status.reason.as_deref().unwrap_or("no reason given")
        ));
    }
    for container in status.container_statuses.iter().flatten() {
        let state = container.state.as_ref();
        if let Some(waiting) = state.and_then(|s| s.waiting.as_ref())
            && let Some(reason) = waiting.reason.as_deref()
            && STUCK.contains(&reason)
        {
            return Some(format!(
                "{reason}: {}",
                waiting.message.as_deref().unwrap_or("no message")
            ));
        }
        // A container that ended and was restarted has crashed, even while the kubelet restarts it again.
        if let Some(ended) = container
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .or_else(|| state.and_then(|s| s.terminated.as_ref()))
        {
            return Some(format!(
                "its container exited with status {} ({}), restarted {} times",
                ended.exit_code,
                ended.reason.as_deref().unwrap_or("no reason given"),
                container.restart_count
            ));
        }
    }
    None
}

/// At most this many of a pod's Warning events go into its reason.
const EVENTS_IN_REASON: usize = 3;

/// The event's type for what went wrong (the other is `Normal`).
const WARNING: &str = "Warning";

/// When the event was last seen: its series' last observation, `lastTimestamp`, `eventTime` (events written by the
/// newer API), `firstTimestamp`, else when it was created.
fn last_seen(event: &Event) -> Option<Timestamp> {
    let series = event
        .series
        .as_ref()
        .and_then(|s| s.last_observed_time.as_ref());
    series
        .map(|t| t.0)
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// `events: Failed: Error: ErrImageNeverPull (×4); BackOff: Back-off restarting failed container`: the pod's own
/// Warning events among `events`, newest first, at most [`EVENTS_IN_REASON`]; `None` when it has none.
pub fn warnings(pod: &Pod, events: &[Arc<Event>]) -> Option<String> {
    let name = pod.metadata.name.as_deref()?;
    let mut own: Vec<&Event> = events
        .iter()
        .map(|e| e.as_ref())
        .filter(|e| e.type_.as_deref() == Some(WARNING))
        .filter(|e| {
            let object = &e.involved_object;
            object.kind.as_deref() == Some("Pod") && object.name.as_deref() == Some(name)
        })
        .collect();
    // Timestamps have whole seconds; within one second the name decides: the kubelet names an event
    // `<pod>.<first occurrence in hexadecimal nanoseconds>`.
    own.sort_by(|a, b| (last_seen(b), &b.metadata.name).cmp(&(last_seen(a), &a.metadata.name)));
    let said: Vec<String> = own
        .iter()
        .take(EVENTS_IN_REASON)
        .map(|e| {
            let reason = e.reason.as_deref().unwrap_or("no reason given");
            let message = e.message.as_deref().unwrap_or("").trim().replace('\n', " ");
            let count = e
                .series
                .as_ref()
                .and_then(|s| s.count)
                .or(e.count)
                .unwrap_or(1);
            let mut said = if message.is_empty() {
                reason.to_string()
            } else {
                format!("{reason}: {message}")
            };
            if count > 1 {
                said.push_str(&format!(" (×{count})"));
            }
            said
        })
        .collect();
    (!said.is_empty()).then(|| format!("events: {}", said.join("; ")))
}

/// What the pod's readiness says now (the kubelet runs the manifest's readiness check as its probe), with the pod's
/// latest Warning events among `events` (the namespace's) after the reason of a failed or not-ready pod.
pub fn health(pod: &Pod, events: &[Arc<Event>]) -> Health {
    let with_events = |reason: String| match warnings(pod, events) {
        Some(warnings) => format!("{reason} [{warnings}]"),
        None => reason,
    };
    match from_status(pod) {
        Health::Ready => Health::Ready,
        Health::NotReady(seen) => Health::NotReady(with_events(seen)),
        Health::Exited(how) => Health::Exited(with_events(how)),
    }
}

/// What the pod's status alone says of its readiness.
fn from_status(pod: &Pod) -> Health {
    if let Some(why) = failed(pod) {
        return Health::Exited(why);
    }
    if condition(pod, "ContainersReady") == Some(true) {
        return Health::Ready;
    }
    let status = pod.status.as_ref();
    let unscheduled = status.and_then(|s| s.conditions.as_ref()).and_then(|c| {
        c.iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    });
    if let Some(c) = unscheduled {
        return Health::NotReady(format!(
            "pod not scheduled, {}: {}",
            c.reason.as_deref().unwrap_or("no reason given"),
            c.message.as_deref().unwrap_or("no message")
        ));
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    // A container not started yet says why (`ContainerCreating`, `PodInitializing`), with a message when it has one.
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find_map(|w| {
            let message = w.message.as_deref().filter(|m| !m.is_empty());
            Some((w.reason.as_deref()?, message))
        });
    Health::NotReady(match waiting {
        Some((reason, Some(message))) => format!("pod {phase}, container {reason}: {message}"),
        Some((reason, None)) => format!("pod {phase}, container {reason}"),
        None => format!("pod {phase}, readiness probe not passing yet"),
    })
}

/// The pod as a replica of the product, when it carries the product's labels: its state, its node, and while it
/// is not ready why, in Kubernetes' words (container waiting or terminated reason and message, `Unschedulable`).
pub fn replica(pod: &Pod) -> Option<Replica> {
    let annotations = pod.metadata.annotations.as_ref()?;
    // The status alone: the cluster view's reason stays one short line (docs/decisions.md).
    let health = from_status(pod);
    let state = if pod.metadata.deletion_timestamp.is_some() || gate(pod) == Some(false) {
        ReplicaState::Draining
    } else if let Health::Exited(why) = &health {
        ReplicaState::Exited(why.clone())
    } else if gate(pod) == Some(true) && condition(pod, "Ready") == Some(true) {
        ReplicaState::Ready
    } else {
        ReplicaState::Starting
    };
    // Kubernetes' own words while it starts: a failing probe is not all it says (`pod not scheduled, ...`).
    let starting = match health {
        Health::NotReady(seen) => seen,
        other => other.as_reason(),
    };
    Some(Replica {
        id: pod.metadata.name.clone()?,
        app: app_of(pod)?,
        version: annotations.get(VERSION)?.clone(),
        config: annotations.get(CONFIG)?.clone(),
        reason: state.reason(Some(starting)),
        state,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
    })
}

/// Whether the endpoints list the pod among their ready addresses.
pub fn endpoints_list(endpoints: &Endpoints, pod: &str) -> bool {
    endpoints.subsets.iter().flatten().any(|subset| {
        subset
            .addresses
            .iter()
            .flatten()
            .any(|a| a.target_ref.as_ref().and_then(|t| t.name.as_deref()) == Some(pod))
    })
}
