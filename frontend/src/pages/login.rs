//! Log on; afterwards back to the page the operator came from (`?next=`).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::{api, session};

/// The logon form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let query = use_query_map();
    let navigate = use_navigate();
    let log_on = Action::new_local(|(user, pass): &(String, String)| {
        let (user, pass) = (user.clone(), pass.clone());
        async move { api::login(&user, &pass).await }
    });
    let result = log_on.value();
    Effect::new(move |_| {
        if let Some(Ok(_)) = result.get() {
            let next = query.with_untracked(|q| q.get("next").map(|n| session::decode_query(&n)));
            let to = session::safe_next(next.as_deref()).unwrap_or_else(|| "/".into());
            navigate(&to, Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        log_on.dispatch((username.get_untracked(), password.get_untracked()));
    };
    let expired = move || query.with(|q| q.get("next").is_some());
    view! {
        <main class="login-page">
            <form class="card login-card" on:submit=submit>
                <h1>"Upgrade Manager"</h1>
                <p class="muted">"Zero-downtime upgrades of the data platform"</p>
                <Show when=expired>
                    <p class="note" id="session-note">"Please log on to continue where you were."</p>
                </Show>
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required autofocus
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                {move || result.get().and_then(|r| r.err()).map(|e| view! {
                    <p class="sev-error" role="alert" id="login-error">{e.to_string()}</p>
                })}
                <button class="btn btn-primary" type="submit" id="log-on" disabled=move || log_on.pending().get()>
                    {move || if log_on.pending().get() { "Logging on…" } else { "Log on" }}
                </button>
            </form>
        </main>
    }
}
