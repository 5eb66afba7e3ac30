//! The banner that says an upgrade is in progress, with a link to it and Force stop.

use leptos::prelude::*;
use shared::api::UpgradeSummary;

use crate::answer::Request;
use crate::api;

/// Shown on the records page while an operation holds the lock.
#[component]
pub fn InProgressBanner(
    /// The running upgrade.
    running: UpgradeSummary,
    /// Called after a stop was requested, to refresh the page.
    on_stopped: Callback<()>,
) -> impl IntoView {
    let id = running.id;
    let stop = Request::new();
    let stop_result = stop.answer;
    Effect::new(move |_| {
        if let Some(Ok(())) = stop_result.get() {
            on_stopped.run(());
        }
    });
    view! {
        <div class="banner banner-running" role="status" id="in-progress-banner">
            <span class="dot"></span>
            <span>
                "Upgrade in progress: " {running.from_version.clone()} " → " {running.to_version.clone()} " ("
                {running.progress.done} " of " {running.progress.total} " steps). "
            </span>
            <a href=crate::session::page(&format!("/upgrades/{id}"))>"View progress"</a>
            <button
                class="btn btn-danger"
                id="banner-force-stop"
                disabled=move || stop.pending.get()
                on:click=move |_| {
                    let ok = web_sys::window()
                        .and_then(|w| w.confirm_with_message("Force stop the upgrade after the current replica step?").ok())
                        .unwrap_or(false);
                    if ok {
                        stop.send(api::force_stop(id));
                    }
                }
            >
                {move || if stop.pending.get() { "Stopping…" } else { "Force stop" }}
            </button>
            {move || stop_result.get().and_then(|r| r.err()).map(|e| view! { <span class="sev-error">{e.to_string()}</span> })}
        </div>
    }
}
