//! Which page the operator is on, read from the address bar, and moving between pages without reloading.
//!
//! The console has five pages under [`session::BASE`]; this small router replaces `leptos_router`, whose
//! nesting and parameter machinery the console did not use: the wasm lost 11 % with it (docs/console.md). Links stay plain `<a href>`: a click on one that points inside the console is taken over
//! here, the rest (downloads, the API, other sites, a click with a modifier key) is left to the browser.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::session;

/// A page of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// `/login`, with the page to return to afterwards (`?next=`, already checked to stay inside the console).
    Login { next: Option<String> },
    /// `/`: Upgrade Records.
    Records,
    /// `/upgrade`: the Upgrade page.
    Upgrade,
    /// `/upgrades/{id}`: an upgrade's progress.
    Progress(i64),
    /// `/accounts`: the accounts, for admins.
    Accounts,
    /// Anything else.
    NotFound,
}

impl Page {
    /// The page at a browser path (with the console's base or without it) and its query (`?next=…` or empty).
    pub fn at(path: &str, query: &str) -> Page {
        let inside = path.strip_prefix(session::BASE).unwrap_or(path);
        let inside = inside.trim_end_matches('/');
        match inside {
            "" => Page::Records,
            "/upgrade" => Page::Upgrade,
            "/accounts" => Page::Accounts,
            "/login" => Page::Login {
                next: session::safe_next(query_value(query, "next").as_deref()),
            },
            _ => inside
                .strip_prefix("/upgrades/")
                .and_then(|id| id.parse().ok())
                .map_or(Page::NotFound, Page::Progress),
        }
    }

    fn here() -> Page {
        let Some(location) = web_sys::window().map(|w| w.location()) else {
            return Page::NotFound;
        };
        Page::at(
            &location.pathname().unwrap_or_default(),
            &location.search().unwrap_or_default(),
        )
    }
}

/// A query parameter's decoded value.
fn query_value(query: &str, name: &str) -> Option<String> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| session::decode_query(value))
}

/// Moves the console to another page; every page gets one from [`navigator`].
#[derive(Debug, Clone, Copy)]
pub struct Navigator(RwSignal<Page>);

impl Navigator {
    /// Goes to `path` inside the console (`/upgrade`, `/upgrades/7`), adding it to the browser's history.
    pub fn go(&self, path: &str) {
        let url = session::page(path);
        if let Some(window) = web_sys::window() {
            if let Ok(history) = window.history() {
                let _ = history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
            }
            window.scroll_to_with_x_and_y(0.0, 0.0);
        }
        self.0.set(Self::page_of(&url));
    }

    fn page_of(url: &str) -> Page {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Page::at(path, query)
    }
}

/// The page shown now, followed as the operator clicks links or uses Back and Forward. Called once, by the
/// console's root.
pub fn follow_address_bar() -> Memo<Page> {
    let here = RwSignal::new(Page::here());
    provide_context(Navigator(here));
    let back_or_forward =
        window_event_listener(leptos::ev::popstate, move |_| here.set(Page::here()));
    let link_clicks = window_event_listener(leptos::ev::click, move |ev| {
        if let Some(path) = link_inside_console(&ev) {
            ev.prevent_default();
            Navigator(here).go(&path);
        }
    });
    on_cleanup(move || {
        back_or_forward.remove();
        link_clicks.remove();
    });
    Memo::new(move |_| here.get())
}

/// The [`Navigator`] of the console's root.
pub fn navigator() -> Navigator {
    expect_context::<Navigator>()
}

/// The path inside the console a plain left click on a link goes to, if the console should handle it.
fn link_inside_console(ev: &web_sys::MouseEvent) -> Option<String> {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.ctrl_key()
        || ev.shift_key()
        || ev.alt_key()
    {
        return None;
    }
    let target: web_sys::Element = ev.target()?.dyn_into().ok()?;
    let anchor: web_sys::HtmlAnchorElement = target.closest("a[href]").ok()??.dyn_into().ok()?;
    let own_window = anchor.target().is_empty() || anchor.target() == "_self";
    let origin = web_sys::window()?.location().origin().ok()?;
    if !own_window || anchor.has_attribute("download") || anchor.origin() != origin {
        return None;
    }
    let path = anchor.pathname();
    let inside = path.strip_prefix(session::BASE)?;
    (inside.is_empty() || inside.starts_with('/')).then(|| format!("{inside}{}", anchor.search()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_names_its_page() {
        assert_eq!(Page::at("/opsconsole/v2/", ""), Page::Records);
        assert_eq!(Page::at("/opsconsole/v2", ""), Page::Records);
        assert_eq!(Page::at("/opsconsole/v2/upgrade", ""), Page::Upgrade);
        assert_eq!(Page::at("/opsconsole/v2/upgrades/7", ""), Page::Progress(7));
        assert_eq!(
            Page::at("/opsconsole/v2/upgrades/7/", ""),
            Page::Progress(7)
        );
        assert_eq!(
            Page::at("/opsconsole/v2/upgrades/seven", ""),
            Page::NotFound
        );
        assert_eq!(Page::at("/opsconsole/v2/upgradex", ""), Page::NotFound);
        assert_eq!(Page::at("/upgrade", ""), Page::Upgrade);
        assert_eq!(Page::at("/opsconsole/v2/accounts", ""), Page::Accounts);
    }

    #[test]
    fn the_logon_page_keeps_where_to_go_next_but_never_outside() {
        assert_eq!(
            Page::at("/opsconsole/v2/login", "?next=/upgrades/7%3Fx%3D1"),
            Page::Login {
                next: Some("/upgrades/7?x=1".into())
            }
        );
        assert_eq!(
            Page::at("/opsconsole/v2/login", "?other=1&next=//evil.example"),
            Page::Login { next: None }
        );
        assert_eq!(
            Page::at("/opsconsole/v2/login", ""),
            Page::Login { next: None }
        );
    }
}
