//! Log on; afterwards back to the page the operator came from (`?next=`).

use leptos::prelude::*;

use crate::answer::Request;
use crate::api;

/// The logon form; `next` is the page to return to (already checked to stay inside the console).
#[component]
pub fn LoginPage(next: Option<String>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let expired = next.is_some();
    let nav = crate::nav::navigator();
    let log_on = Request::new();
    let result = log_on.answer;
    Effect::new(move |_| {
        if let Some(Ok(_)) = result.get() {
            nav.go(next.as_deref().unwrap_or("/"));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        log_on.send(async move { api::login(&user, &pass).await });
    };
    view! {
        <main class="login-page">
            <form class="card login-card" on:submit=submit>
                <h1>"Upgrade Manager"</h1>
                <p class="muted">"Zero-downtime upgrades of the data platform"</p>
                {expired.then(|| view! {
                    <p class="note" id="session-note">"Please log on to continue where you were."</p>
                })}
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required autofocus
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                {move || result.get().and_then(|r| r.err()).map(|e| view! {
                    <p class="sev-error" role="alert" id="login-error">{e.to_string()}</p>
                })}
                <button class="btn btn-primary" type="submit" id="log-on" disabled=move || log_on.pending.get()>
                    {move || if log_on.pending.get() { "Logging on…" } else { "Log on" }}
                </button>
            </form>
        </main>
    }
}
