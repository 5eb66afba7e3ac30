//! Upgrade Records: every past and current upgrade, the in-progress banner, the Upgrade button, and the cluster
//! as it runs now (platform, and per application its replicas).

use leptos::prelude::*;
use shared::api::{UpgradeStatus, UpgradeSummary};

use crate::answer;
use crate::components::banner::InProgressBanner;
use crate::components::replica_map::ReplicaMap;
use crate::format;

/// The records table.
#[component]
pub fn RecordsPage() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    // The cluster is asked again on every tick, so a replica that ends or comes back shows without a reload.
    let tick = RwSignal::new(0u32);
    let records = answer::ask(move || {
        refresh.track();
        crate::api::upgrades()
    });
    // While something runs, keep the table current.
    let handle = set_interval_with_handle(
        move || {
            let running = records.with_untracked(|r| {
                r.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .is_some_and(|list| list.iter().any(is_running))
            });
            if running {
                refresh.update(|n| *n += 1);
            }
            tick.update(|n| *n += 1);
        },
        std::time::Duration::from_secs(2),
    );
    on_cleanup(move || {
        if let Ok(h) = handle {
            h.clear();
        }
    });
    let nav = crate::nav::navigator();
    let cluster = answer::ask(move || {
        tick.track();
        crate::api::cluster()
    });
    view! {
        <div class="page-head">
            <h1>"Upgrade Records"</h1>
            <span class="muted head-note" id="running-now">
                {move || answer::ok(cluster).map(|c| format!("{} runs {}", c.product, c.version))}
            </span>
            <button class="btn btn-primary" id="upgrade-button" on:click=move |_| nav.go("/upgrade")>
                "Upgrade"
            </button>
        </div>
        {answer::shown(records, "Loading records…", move |list| {
            let running = list.iter().find(|u| is_running(u)).cloned();
            view! {
                {running.map(|u| view! {
                    <InProgressBanner running=u on_stopped=Callback::new(move |_| refresh.update(|n| *n += 1)) />
                })}
                <RecordsTable records=list />
            }
        })}
        <section class="card" id="cluster">
            <h2>"Cluster"</h2>
            {answer::shown(cluster, "Loading the cluster…", |c| {
                // Mid-upgrade the replicas on its target are the new ones; otherwise all run the running version.
                let target = c.operation.map_or(c.version.clone(), |o| o.to_version);
                view! {
                    <p class="muted" id="cluster-platform">
                        {format!("{} {} on the {} platform", c.product, c.version, c.platform)}
                    </p>
                    <ReplicaMap applications=c.applications target />
                }
            })}
        </section>
    }
}

fn is_running(u: &UpgradeSummary) -> bool {
    u.status == UpgradeStatus::Running
}

/// The word and colour of a status.
pub fn status_label(s: UpgradeStatus) -> (&'static str, &'static str) {
    match s {
        UpgradeStatus::Running => ("Running", "status status-running"),
        UpgradeStatus::Succeeded => ("Succeeded", "status status-succeeded"),
        UpgradeStatus::Failed => ("Failed", "status status-failed"),
        UpgradeStatus::RolledBack => ("Rolled back", "status status-rolled_back"),
        UpgradeStatus::Stopped => ("Stopped", "status status-stopped"),
    }
}

#[component]
fn RecordsTable(records: Vec<UpgradeSummary>) -> impl IntoView {
    if records.is_empty() {
        return view! { <p class="empty" id="no-records">"No upgrades yet. Press Upgrade to start one."</p> }.into_any();
    }
    view! {
        <table class="table records" id="records">
            <thead>
                <tr>
                    <th>"#"</th><th>"From → To"</th><th>"Mode"</th><th>"Configuration"</th><th>"Status"</th>
                    <th>"Started by"</th><th>"Started"</th><th>"Ended"</th><th>"Progress"</th>
                </tr>
            </thead>
            <tbody>
                {records.into_iter().map(|u| {
                    let (word, class) = status_label(u.status);
                    let href = crate::session::page(&format!("/upgrades/{}", u.id));
                    let pct = format::percent(u.progress.done, u.progress.total);
                    view! {
                        <tr data-id=u.id.to_string()>
                            <td><a href=href.clone() class="record-link">{format!("#{}", u.id)}</a></td>
                            <td class="mono"><a href=href>{u.from_version.clone()} " → " {u.to_version.clone()}</a></td>
                            <td>{mode_label(u.mode)}</td>
                            <td>{kind_label(u.config_kind)}</td>
                            <td><span class=class title=u.reason.clone().unwrap_or_default()>{word}</span></td>
                            <td>{u.started_by.clone()}</td>
                            <td class="mono">{format::timestamp(&u.started_at)}</td>
                            <td class="mono">{u.finished_at.as_deref().map(format::timestamp).unwrap_or_else(|| "—".into())}</td>
                            <td>
                                <div class="mini-track" title=format!("{pct}%")><div class="mini-fill" style=format!("width: {pct}%")></div></div>
                                <span class="muted">{format!("{}/{}", u.progress.done, u.progress.total)}</span>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// `Zero-downtime` or `Downtime`.
pub fn mode_label(m: shared::api::UpgradeMode) -> &'static str {
    match m {
        shared::api::UpgradeMode::ZeroDowntime => "Zero-downtime",
        shared::api::UpgradeMode::Downtime => "Downtime",
    }
}

/// `Standard` or `Non-standard`.
pub fn kind_label(k: shared::api::ConfigKind) -> &'static str {
    match k {
        shared::api::ConfigKind::Standard => "Standard",
        shared::api::ConfigKind::NonStandard => "Non-standard",
    }
}
