//! The operator console: log on, Upgrade Records, the Upgrade page with every check run in the browser, and the
//! live progress of an upgrade.
//!
//! # Layout
//! - `api`: the only code that talks to the agent (HTTP and the log websocket), with a typed error.
//! - `checks`: the `shared` crate's checks run in slices so that a large bundle does not freeze the page.
//! - `session`, `log_buffer`, `findings`, `upgrade_form`, `format`: plain logic the components call.
//! - `components`: report view, progress bar, log viewer, replica map, in-progress banner.
//! - `pages`: logon, records, upgrade, progress.

pub mod api;
pub mod checks;
pub mod components;
pub mod findings;
pub mod format;
pub mod log_buffer;
pub mod pages;
pub mod session;
pub mod upgrade_form;

use leptos::prelude::*;
use leptos_router::components::{A, Outlet, ParentRoute, Route, Router, Routes};
use leptos_router::path;

/// Mounts the console on the page's body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The whole console, routed under `/opsconsole/v2`.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router base=session::BASE>
            <Routes fallback=|| view! { <main class="page"><h1>"Page not found"</h1><A href=session::page("/")>"Upgrade Records"</A></main> }>
                <Route path=path!("/login") view=pages::login::LoginPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=pages::records::RecordsPage />
                    <Route path=path!("/upgrade") view=pages::upgrade::UpgradePage />
                    <Route path=path!("/upgrades/:id") view=pages::progress::ProgressPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The frame around every page after logon: product name, who is logged on, Log off.
#[component]
fn Shell() -> impl IntoView {
    let me = LocalResource::new(api::me);
    let log_off = Action::new_local(|_: &()| async {
        // Whatever the answer, the operator wants to be on the logon page.
        let _ = api::logout().await;
        if let Some(window) = web_sys::window() {
            let _ = window
                .location()
                .set_href(&format!("{}/login", session::BASE));
        }
    });
    view! {
        <header class="topbar">
            <A href=session::page("/") attr:class="brand">"Upgrade Manager"</A>
            <nav>
                <A href=session::page("/") attr:id="nav-records">"Upgrade Records"</A>
                <A href=session::page("/upgrade") attr:id="nav-upgrade">"Upgrade"</A>
            </nav>
            <div class="who">
                <span id="current-user">
                    {move || me.get().and_then(|r| r.ok()).map(|m| format!("{} ({})", m.username, m.role))}
                </span>
                <button class="btn btn-quiet" id="log-off" on:click=move |_| { log_off.dispatch(()); }>"Log off"</button>
            </div>
        </header>
        <main class="page">
            <Outlet />
        </main>
    }
}
