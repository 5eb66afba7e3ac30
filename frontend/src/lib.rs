//! The operator console: log on, Upgrade Records, the Upgrade page with every check run in the browser, the
//! live progress of an upgrade, and the accounts for admins.
//!
//! # Layout
//! - `answer`: a question to the agent and its answer, as a signal the pages show.
//! - `api`: the only code that talks to the agent (HTTP and the log websocket), with a typed error.
//! - `checks`: the `shared` crate's checks run in slices so that a large bundle does not freeze the page.
//! - `nav`: which page the address bar names, and moving between pages.
//! - `session`, `log_buffer`, `findings`, `format`: plain logic the components call.
//! - `role`: what the session's role allows, and the reason beside what it disables.
//! - `components`: report view, progress bar, log viewer, replica map, in-progress banner.
//! - `pages`: logon, records, upgrade, progress, accounts.

pub mod answer;
pub mod api;
pub mod checks;
pub mod components;
pub mod findings;
pub mod format;
pub mod log_buffer;
pub mod nav;
pub mod pages;
pub mod role;
pub mod session;

use leptos::prelude::*;

use nav::Page;
use shared::api::Role;

/// Mounts the console on the page's body.
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The whole console, under `/opsconsole/v2`: the logon page alone, every other page inside the [`Shell`].
#[component]
pub fn App() -> impl IntoView {
    let page = nav::follow_address_bar();
    let logging_on = Memo::new(move |_| page.with(|p| matches!(p, Page::Login { .. })));
    move || {
        if logging_on.get() {
            let next = page.with_untracked(|p| match p {
                Page::Login { next } => next.clone(),
                _ => None,
            });
            view! { <pages::login::LoginPage next /> }.into_any()
        } else {
            view! { <Shell page /> }.into_any()
        }
    }
}

/// The frame around every page after logon: product name, who is logged on, Log off.
#[component]
fn Shell(page: Memo<Page>) -> impl IntoView {
    let me = answer::ask(api::me);
    role::provide(me);
    let log_off = move |_| {
        leptos::task::spawn_local(async {
            // Whatever the answer, the operator wants to be on the logon page.
            let _ = api::logout().await;
            if let Some(window) = web_sys::window() {
                let _ = window
                    .location()
                    .set_href(&format!("{}/login", session::BASE));
            }
        })
    };
    let home = session::page("/");
    // The link to the page shown now is marked for the eye and for screen readers.
    let current = move |of: Page| move || (page.get() == of).then_some("page");
    view! {
        <header class="topbar">
            <a href=home.clone() class="brand">"Upgrade Manager"</a>
            <nav>
                <a href=home id="nav-records" aria-current=current(Page::Records)>"Upgrade Records"</a>
                <a href=session::page("/upgrade") id="nav-upgrade" aria-current=current(Page::Upgrade)>"Upgrade"</a>
                // Only admins manage accounts: the others are not shown a page they cannot use.
                {move || answer::ok(me).is_some_and(|m| m.role == Role::Admin).then(|| view! {
                    <a href=session::page("/accounts") id="nav-accounts" aria-current=current(Page::Accounts)>"Accounts"</a>
                })}
            </nav>
            <div class="who">
                <span id="current-user">
                    {move || answer::ok(me).map(|m| format!("{} ({})", m.username, m.role))}
                </span>
                <button class="btn btn-quiet" id="log-off" on:click=log_off>"Log off"</button>
            </div>
        </header>
        <main class="page">
            {move || match page.get() {
                Page::Records => view! { <pages::records::RecordsPage /> }.into_any(),
                Page::Upgrade => view! { <pages::upgrade::UpgradePage /> }.into_any(),
                Page::Progress(id) => view! { <pages::progress::ProgressPage id /> }.into_any(),
                Page::Accounts => view! { <pages::accounts::AccountsPage me /> }.into_any(),
                Page::Login { .. } | Page::NotFound => view! {
                    <h1>"Page not found"</h1>
                    <a href=session::page("/")>"Upgrade Records"</a>
                }.into_any(),
            }}
        </main>
    }
}
