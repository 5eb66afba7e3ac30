//! Accounts, for admins: the list, adding one with its role, changing a role, resetting a password, removing an
//! account (after a confirmation), and the newest changes with who made them. The agent's answer to each control is
//! shown next to it. Anyone else who opens the page is told why they cannot use it.

use leptos::prelude::*;
use shared::api::{AccountChange, AccountList, AccountView, Me, NewAccount, Role};

use crate::answer::{self, Answer, Request};
use crate::{api, format};

/// Why `me` cannot manage accounts; `None` for an admin.
pub fn not_allowed(me: &Me) -> Option<String> {
    (me.role < Role::Admin).then(|| {
        format!(
            "Accounts are managed by admins. You are logged on as {} with the {} role: ask an admin to add, \
             change or remove an account.",
            me.username, me.role
        )
    })
}

/// The Accounts page: the admin's tools, or why the session's account cannot use them.
#[component]
pub fn AccountsPage(
    /// The session's account, as the frame asked it.
    me: Answer<Me>,
) -> impl IntoView {
    view! {
        <div class="page-head"><h1>"Accounts"</h1></div>
        {move || match me.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(Err(error)) => view! {
                <div class="panel panel-error" role="alert"><p>{error.to_string()}</p></div>
            }
            .into_any(),
            Some(Ok(me)) => match not_allowed(&me) {
                Some(why) => view! {
                    <div class="panel panel-warning" role="alert" id="accounts-not-allowed"><p>{why}</p></div>
                }
                .into_any(),
                None => view! { <AccountsAdmin me=me.username /> }.into_any(),
            },
        }}
    }
}

/// What an admin sees: the add form, the accounts, the newest changes.
#[component]
fn AccountsAdmin(me: String) -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = answer::ask(move || {
        refresh.track();
        api::accounts()
    });
    let changed = Callback::new(move |_| refresh.update(|n| *n += 1));
    view! {
        <AddAccount on_added=changed />
        {answer::shown(list, "Loading accounts…", move |list: AccountList| view! {
            <AccountsTable accounts=list.accounts me=me.clone() changed />
            <Changes changes=list.changes />
        })}
    }
}

/// The `<option>`s of a role `<select>`, `selected` marked.
fn role_options(selected: RwSignal<Role>) -> impl IntoView {
    Role::ALL
        .into_iter()
        .map(|role| {
            view! {
                <option value=role.as_str() selected=move || selected.get() == role>{role.as_str()}</option>
            }
        })
        .collect_view()
}

/// Sets `role` from a `<select>`'s change event.
fn pick_role(role: RwSignal<Role>) -> impl Fn(leptos::ev::Event) + 'static {
    move |ev| {
        if let Ok(picked) = event_target_value(&ev).parse() {
            role.set(picked);
        }
    }
}

/// The error of a request's last answer, shown next to its control.
fn error_of<T: Clone + Send + Sync + 'static>(request: Request<T>) -> impl IntoView {
    move || {
        request.answer.get().and_then(|r| r.err()).map(
            |e| view! { <span class="sev-error control-error" role="alert">{e.to_string()}</span> },
        )
    }
}

/// Add an account: name, role, password.
#[component]
fn AddAccount(on_added: Callback<()>) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let password = RwSignal::new(String::new());
    let add = Request::<AccountView>::new();
    let result = add.answer;
    Effect::new(move |_| {
        if let Some(Ok(_)) = result.get() {
            username.set(String::new());
            password.set(String::new());
            on_added.run(());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let new = NewAccount {
            username: username.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        add.send(async move { api::add_account(&new).await });
    };
    view! {
        <form class="card" id="add-account-form" on:submit=submit>
            <h2>"Add an account"</h2>
            <div class="file-row">
                <label>"Name " <input id="new-username" autocomplete="off" required
                    prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev)) /></label>
                <label>"Role " <select id="new-role" on:change=pick_role(role)>{role_options(role)}</select></label>
                <label>"Password " <input id="new-password" type="password" autocomplete="new-password" required
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) /></label>
                <button class="btn btn-primary" type="submit" id="add-account" disabled=move || add.pending.get()>
                    {move || if add.pending.get() { "Adding…" } else { "Add" }}
                </button>
            </div>
            <p class="muted">
                "A name is letters, digits, dots, dashes or underscores; a password has at least 12 characters. "
                "Viewers read, operators also upload, check, start and stop upgrades, admins also manage accounts."
            </p>
            <div id="add-result">
                {error_of(add)}
                {move || result.get().and_then(|r| r.ok()).map(|a| view! {
                    <span class="sev-success">{format!("Account {} added with the {} role.", a.username, a.role)}</span>
                })}
            </div>
        </form>
    }
}

/// Every account, each with its controls.
#[component]
fn AccountsTable(accounts: Vec<AccountView>, me: String, changed: Callback<()>) -> impl IntoView {
    view! {
        <table class="table accounts" id="accounts">
            <thead>
                <tr>
                    <th>"Name"</th><th>"Role"</th><th>"Created"</th><th>"Last logon"</th>
                    <th>"Password"</th><th>"Remove"</th>
                </tr>
            </thead>
            <tbody>
                {accounts.into_iter().map(|account| {
                    let is_me = account.username == me;
                    view! { <AccountRow account is_me changed /> }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// One account: change its role, reset its password, remove it.
#[component]
fn AccountRow(account: AccountView, is_me: bool, changed: Callback<()>) -> impl IntoView {
    let name = StoredValue::new(account.username.clone());
    let stored = account.role.parse::<Role>().ok();
    let role = RwSignal::new(stored.unwrap_or(Role::Viewer));
    let change = Request::<AccountView>::new();
    let password = RwSignal::new(String::new());
    let reset = Request::<()>::new();
    let remove = Request::<()>::new();
    Effect::new(move |_| {
        let done = change.answer.with(|a| matches!(a, Some(Ok(_))))
            || remove.answer.with(|a| matches!(a, Some(Ok(_))));
        if done {
            changed.run(());
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = reset.answer.get() {
            password.set(String::new());
        }
    });
    let change_role = move |_: leptos::ev::MouseEvent| {
        let (name, role) = (name.get_value(), role.get_untracked());
        change.send(async move { api::change_role(&name, role).await });
    };
    let reset_password = move |_: leptos::ev::MouseEvent| {
        let (name, password) = (name.get_value(), password.get_untracked());
        reset.send(async move { api::set_password(&name, &password).await });
    };
    let remove_account = move |_: leptos::ev::MouseEvent| {
        let name = name.get_value();
        let question = if is_me {
            format!("Remove your own account {name}? You will be logged off at once.")
        } else {
            format!("Remove account {name}? Its sessions end at once.")
        };
        let confirmed = web_sys::window()
            .and_then(|w| w.confirm_with_message(&question).ok())
            .unwrap_or(false);
        if confirmed {
            remove.send(async move { api::remove_account(&name).await });
        }
    };
    let label = |what: &str| format!("{what} of {}", name.get_value());
    view! {
        <tr data-account=account.username.clone()>
            <td class="mono">{account.username.clone()}{is_me.then_some(" (you)")}</td>
            <td>
                {stored.is_none().then(|| view! {
                    <span class="sev-error">{format!("stored role `{}` names no role ", account.role)}</span>
                })}
                <select class="role-select" aria-label=label("Role") on:change=pick_role(role)>{role_options(role)}</select>
                " "
                <button class="btn change-role" on:click=change_role
                    disabled=move || change.pending.get() || Some(role.get()) == stored>"Change role"</button>
                " " {error_of(change)}
            </td>
            <td class="mono">{format::timestamp(&account.created_at)}</td>
            <td class="mono">{account.last_logon.as_deref().map(format::timestamp).unwrap_or_else(|| "—".into())}</td>
            <td>
                <input class="new-password" type="password" autocomplete="new-password" placeholder="New password"
                    aria-label=label("New password")
                    prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev)) />
                " "
                <button class="btn reset-password" on:click=reset_password
                    disabled=move || reset.pending.get() || password.with(String::is_empty)>"Reset password"</button>
                " " {error_of(reset)}
                {move || matches!(reset.answer.get(), Some(Ok(()))).then(|| view! {
                    <span class="sev-success">"Password set; its sessions ended."</span>
                })}
            </td>
            <td>
                <button class="btn btn-danger remove-account" disabled=move || remove.pending.get()
                    on:click=remove_account>"Remove"</button>
                " " {error_of(remove)}
            </td>
        </tr>
    }
}

/// The newest changes to accounts, with who made them.
#[component]
fn Changes(changes: Vec<AccountChange>) -> impl IntoView {
    view! {
        <div class="card" id="account-changes">
            <h2>"Recent changes"</h2>
            {if changes.is_empty() {
                view! { <p class="muted">"No account has been changed yet."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th>"When"</th><th>"Account"</th><th>"Change"</th><th>"By"</th></tr></thead>
                        <tbody>
                            {changes.into_iter().map(|c| view! {
                                <tr>
                                    <td class="mono">{format::timestamp(&c.at)}</td>
                                    <td class="mono">{c.account}</td>
                                    <td>{c.what}</td>
                                    <td>{c.by}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_admin_may_use_the_page_and_the_others_are_told_why() {
        let me = |role| Me {
            username: "olga".into(),
            role,
        };
        assert_eq!(not_allowed(&me(Role::Admin)), None);
        for role in [Role::Viewer, Role::Operator] {
            let why = not_allowed(&me(role)).expect("refused");
            assert!(
                why.contains(&format!("olga with the {role} role")) && why.contains("admins"),
                "{why}"
            );
        }
    }
}
