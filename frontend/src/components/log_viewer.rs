//! The live upgrade log: follows new lines until the operator scrolls up, filters by application and level.

use leptos::html::Div;
use leptos::prelude::*;

use crate::format;
use crate::log_buffer::{LogBuffer, LogFilter, MinLevel, at_bottom};

/// Shows the lines of `log`; the page feeds it from the websocket.
#[component]
pub fn LogViewer(
    /// Lines received so far.
    log: RwSignal<LogBuffer>,
    /// Whether the stream is connected now (else: reconnecting or ended).
    #[prop(into)]
    connection: Signal<String>,
) -> impl IntoView {
    let filter = RwSignal::new(LogFilter::default());
    let follow = RwSignal::new(true);
    let view_ref = NodeRef::<Div>::new();
    let visible = Memo::new(move |_| {
        let filter = filter.get();
        log.with(|b| {
            b.lines()
                .iter()
                .filter(|l| filter.admits(l))
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let apps = Memo::new(move |_| log.with(|b| b.applications()));

    // Keep the newest line in view while following.
    Effect::new(move |_| {
        let _ = visible.with(|v| v.len());
        if follow.get_untracked() {
            request_animation_frame(move || {
                if let Some(el) = view_ref.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });

    let on_scroll = move |_| {
        if let Some(el) = view_ref.get_untracked() {
            let bottom = at_bottom(
                el.scroll_top() as f64,
                el.client_height() as f64,
                el.scroll_height() as f64,
            );
            if bottom != follow.get_untracked() {
                follow.set(bottom);
            }
        }
    };
    let resume = move |_| {
        follow.set(true);
        if let Some(el) = view_ref.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };

    view! {
        <div class="log-tools">
            <label>"Application "
                <select id="log-app" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    filter.update(|f| f.app = (!v.is_empty()).then_some(v));
                }>
                    <option value="">"All"</option>
                    <For each=move || apps.get() key=|a| a.clone() let(app)>
                        <option value=app.clone()>{app.clone()}</option>
                    </For>
                </select>
            </label>
            <label>"Level "
                <select id="log-level" on:change=move |ev| {
                    let v = event_target_value(&ev);
                    filter.update(|f| f.min_level = MinLevel::from_choice(&v));
                }>
                    <option value="info">"All levels"</option>
                    <option value="warn">"Warnings and errors"</option>
                    <option value="error">"Errors only"</option>
                </select>
            </label>
            <span class="muted" id="log-count">
                {move || {
                    let (held, dropped) = log.with(|b| (b.lines().len(), b.dropped()));
                    let older = if dropped > 0 { format!(" ({dropped} older lines not kept here)") } else { String::new() };
                    format!("{} of {held} lines{older}", visible.with(|v| v.len()))
                }}
            </span>
            <span class="muted" id="log-connection">{move || connection.get()}</span>
            <Show when=move || !follow.get()>
                <button class="btn btn-quiet" id="log-resume" on:click=resume>"Paused — jump to newest ↓"</button>
            </Show>
        </div>
        <div class="log" id="log" node_ref=view_ref on:scroll=on_scroll tabindex="0" role="log" aria-label="Upgrade log">
            <For each=move || visible.get() key=|l| l.seq let(line)>
                <div class=format!("log-line lvl-{}", line.level) data-seq=line.seq.to_string()>
                    <span class="log-ts">{format::clock(&line.ts)}</span>
                    <span class="log-lvl">{line.level.to_ascii_uppercase()}</span>
                    <span class="log-app">{line.app.clone().unwrap_or_default()}</span>
                    <span class="log-msg">{line.message.clone()}</span>
                </div>
            </For>
        </div>
    }
}
