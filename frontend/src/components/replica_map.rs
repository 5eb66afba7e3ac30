//! Which replicas of each application run which version.

use leptos::prelude::*;
use shared::api::ApplicationView;

/// One row per application, one chip per replica, coloured by whether it runs the target version.
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
                <tr><th>"Application"</th><th>"Ready"</th><th>"Replicas (id · version · state)"</th></tr>
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
                                            let title = format!("{} runs {} ({})", r.id, r.version, r.state);
                                            view! {
                                                <span class=class title=title>
                                                    <span class="mono">{r.id}</span> " · " {r.version} " · " {r.state}
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
