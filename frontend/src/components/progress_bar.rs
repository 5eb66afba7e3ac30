//! A progress bar with the current step in words.

use leptos::prelude::*;

use crate::format;

/// Steps done of total, the percentage, and what is happening now.
#[component]
pub fn ProgressBar(
    /// Steps finished.
    #[prop(into)]
    done: Signal<u32>,
    /// Steps planned.
    #[prop(into)]
    total: Signal<u32>,
    /// The current step in words.
    #[prop(into)]
    step: Signal<String>,
    /// `running`, `succeeded`, `failed`... (colours the bar).
    #[prop(into)]
    status: Signal<String>,
    /// Accessible name, e.g. "Upgrade progress" or "Checking the bundle".
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let pct = move || format::percent(done.get(), total.get());
    view! {
        <div class="progress">
            <div class="progress-head">
                <span class="progress-step" id="progress-step">{move || step.get()}</span>
                <span class="progress-count" id="progress-count">
                    {move || format!("{} of {} steps · {}%", done.get(), total.get(), pct())}
                </span>
            </div>
            <div
                class=move || format!("progress-track status-{}", status.get())
                role="progressbar"
                aria-label=label
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=move || pct().to_string()
            >
                <div class="progress-fill" style=move || format!("width: {}%", pct())></div>
            </div>
        </div>
    }
}
