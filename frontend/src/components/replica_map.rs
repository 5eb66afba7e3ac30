//! Which replicas of each application run which version, where, and why one is not ready.

use leptos::prelude::*;
use shared::api::ApplicationView;

/// One row per application, one chip per replica (id, version, phase, node), coloured by whether it runs the target
/// version, dashed with the platform's reason underneath while it is not ready.
#[component]
pub fn ReplicaMap(
    /// Applications with their replicas.
    applications: Vec<ApplicationView>,
    /// The upgrade's target version.
    target: String,
) -> impl IntoView {
    view! {
        <table class="table replica-map" id="replica-map">
            <thead>
                <tr><th>"Application"</th><th>"Ready"</th><th>"Replicas (id · version · phase · node)"</th></tr>
            </thead>
            <tbody>
                {applications
                    .into_iter()
                    .map(|app| {
                        let ready = app.replicas.iter().filter(|r| r.ready).count();
                        let short = ready < app.desired_replicas as usize;
                        let target = target.clone();
                        view! {
                            <tr>
                                <td class="mono">{app.name.clone()}</td>
                                <td class=if short { "sev-warning" } else { "" }>{format!("{ready} / {}", app.desired_replicas)}</td>
                                <td>
                                    {app
                                        .replicas
                                        .into_iter()
                                        .map(|r| {
                                            let on_target = r.version == target;
                                            let class = format!(
                                                "chip {} {}",
                                                if on_target { "chip-new" } else { "chip-old" },
                                                if r.ready { "" } else { "chip-notready" },
                                            );
                                            let node = r.node.unwrap_or_else(|| "no node yet".into());
                                            let title = format!("{} runs {} on {node} ({})", r.id, r.version, r.state);
                                            let reason = (!r.ready).then(|| {
                                                let why = r.reason.unwrap_or_else(|| "no reason given".into());
                                                view! { <span class="chip-reason">"not ready: " {why}</span> }
                                            });
                                            view! {
                                                <span class=class title=title>
                                                    <span class="mono">{r.id}</span> " · " {r.version} " · " {r.state}
                                                    " · " <span class="chip-node">{node}</span>
                                                    {reason}
                                                </span>
                                            }
                                        })
                                        .collect_view()}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
