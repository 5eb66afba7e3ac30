//! Upgrade progress: the bar with the current step, replicas per application, the live log, Force stop and
//! Retry, the configuration used and the availability measured, with a chart per probe.

use futures_util::StreamExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::{Role, StreamMessage, UpgradeDetail, UpgradeStatus};

use crate::answer::{self, Request};
use crate::api;
use crate::components::log_viewer::LogViewer;
use crate::components::probe_chart::ProbeChart;
use crate::components::progress_bar::ProgressBar;
use crate::components::replica_map::ReplicaMap;
use crate::format;
use crate::log_buffer::LogBuffer;
use crate::pages::records::{kind_label, mode_label, status_label};
use crate::role::{self, Refusal};

/// What the stream said last about progress.
#[derive(Debug, Clone, PartialEq)]
struct Live {
    done: u32,
    total: u32,
    status: UpgradeStatus,
    step: String,
}

/// `/upgrades/{id}`; a new id (after Retry) builds a fresh page.
#[component]
pub fn ProgressPage(id: i64) -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let detail = answer::ask(move || {
        refresh.track();
        api::upgrade(id)
    });
    let log = RwSignal::new(LogBuffer::default());
    let live = RwSignal::new(None::<Live>);
    let connection = RwSignal::new("Connecting…".to_string());
    follow_stream(id, log, live, connection, refresh);

    let nav = crate::nav::navigator();
    let stop = Request::new();
    let retry = Request::<shared::api::UpgradeStarted>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = stop.answer.get() {
            refresh.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(started)) = retry.answer.get() {
            nav.go(&format!("/upgrades/{}", started.id));
        }
    });
    let action_error = move || {
        stop.answer
            .get()
            .and_then(|r| r.err())
            .or_else(|| retry.answer.get().and_then(|r| r.err()))
            .map(|e| view! { <p class="sev-error" role="alert">{e.to_string()}</p> })
    };

    view! {
        {answer::shown(detail, "Loading the upgrade…", move |d| view! { <Overview detail=d live stop retry /> })}
        {action_error}
        <section class="card">
            <h2>"View Log"</h2>
            <LogViewer log connection=Signal::derive(move || connection.get()) />
        </section>
    }
}

#[component]
fn Overview(
    detail: UpgradeDetail,
    live: RwSignal<Option<Live>>,
    stop: Request<()>,
    retry: Request<shared::api::UpgradeStarted>,
) -> impl IntoView {
    let s = detail.summary.clone();
    let id = s.id;
    let base = Live {
        done: s.progress.done,
        total: s.progress.total,
        status: s.status,
        step: current_step(&detail),
    };
    // The stream's word wins once it has spoken; the record fills in before.
    let now = Memo::new(move |_| live.get().unwrap_or_else(|| base.clone()));
    let status = move || now.with(|l| l.status);
    let can_retry = move || {
        matches!(
            status(),
            UpgradeStatus::Stopped | UpgradeStatus::Failed | UpgradeStatus::RolledBack
        )
    };
    let target = s.to_version.clone();
    let stop_refusal = role::refusal(Role::Operator, "Stopping an upgrade");
    let retry_refusal = role::refusal(Role::Operator, "Retrying an upgrade");
    view! {
        <div class="page-head">
            <h1>"Upgrade #" {id} ": " <span class="mono">{s.from_version.clone()} " → " {s.to_version.clone()}</span></h1>
            <span class=move || status_label(status()).1 id="upgrade-status">{move || status_label(status()).0}</span>
        </div>
        <section class="card">
            <ProgressBar
                label="Upgrade progress"
                done=Signal::derive(move || now.with(|l| l.done))
                total=Signal::derive(move || now.with(|l| l.total))
                step=Signal::derive(move || now.with(|l| l.step.clone()))
                status=Signal::derive(move || status_class(now.with(|l| l.status)).to_string())
            />
            <dl class="facts">
                <dt>"Mode"</dt><dd>{mode_label(s.mode)}</dd>
                <dt>"Configuration"</dt>
                <dd>
                    {kind_label(s.config_kind)} " · "
                    <a href=api::config_url(id) id="download-config" download=detail.config_file_name.clone()>
                        "Download " {detail.config_file_name.clone()}
                    </a>
                </dd>
                <dt>"Started"</dt><dd>{format::timestamp(&s.started_at)} " by " {s.started_by.clone()}</dd>
                <dt>"Ended"</dt>
                <dd>{s.finished_at.as_deref().map(format::timestamp).unwrap_or_else(|| "—".into())}
                    {s.finished_at.as_deref().map(|end| format!(" ({})", format::duration(&s.started_at, Some(end))))}</dd>
                {s.reason.clone().map(|r| view! { <dt>"Reason"</dt><dd class="sev-error">{r}</dd> })}
                {s.retry_of.map(|r| view! { <dt>"Retry of"</dt><dd><a href=crate::session::page(&format!("/upgrades/{r}"))>"#" {r}</a></dd> })}
            </dl>
            <div class="actions">
                <Show when=move || status() == UpgradeStatus::Running>
                    <button class="btn btn-danger" id="force-stop"
                        disabled=move || stop.pending.get() || stop_refusal.get().is_some()
                        aria-describedby="force-stop-refusal"
                        on:click=move |_| stop.send(api::force_stop(id))>
                        {move || if stop.pending.get() { "Stopping after this step…" } else { "Force stop" }}
                    </button>
                    <Refusal reason=stop_refusal id="force-stop-refusal" />
                </Show>
                <Show when=can_retry>
                    <button class="btn btn-primary" id="retry"
                        disabled=move || retry.pending.get() || retry_refusal.get().is_some()
                        aria-describedby="retry-refusal"
                        on:click=move |_| retry.send(api::retry(id))>"Retry"</button>
                    <Refusal reason=retry_refusal id="retry-refusal" />
                </Show>
            </div>
        </section>
        <section class="card">
            <h2>"Replicas"</h2>
            <ReplicaMap applications=detail.replicas.clone() target />
        </section>
        <section class="card">
            <h2>"Availability during the upgrade"</h2>
            {match detail.availability.clone() {
                Some(a) => view! {
                    <dl class="facts" id="availability">
                        <dt>"Success"</dt>
                        // Zero calls never read as a percentage: the record says why there were none.
                        <dd class=match (a.success_ratio, a.failures) { (None, _) => "sev-warning", (_, 0) => "sev-success", _ => "sev-error" }>
                            {match (a.no_call_reason(), a.success_ratio) {
                                (None, Some(ratio)) => format!("{:.2}% ({} of {} calls, {} failed)", ratio * 100.0, a.calls - a.failures.min(a.calls), a.calls, a.failures),
                                (reason, _) => reason.unwrap_or("no call made").to_string(),
                            }}
                        </dd>
                        <dt>"Latency"</dt><dd>{format!("p50 {:.0} ms · p99 {:.0} ms · max {:.0} ms", a.p50_ms, a.p99_ms, a.max_ms)}</dd>
                        {a.probes.iter().map(|p| view! {
                            <dt class="mono">{p.name.clone()}</dt>
                            <dd class=if p.failures == 0 { "" } else { "sev-error" }>
                                {format!("{} calls, {} failed · p50 {:.0} ms · p99 {:.0} ms · max {:.0} ms", p.calls, p.failures, p.p50_ms, p.p99_ms, p.max_ms)}
                                {p.first_failures.first().map(|f| format!(" · first: {f}"))}
                                <ProbeChart name=p.name.clone() series=p.series.clone() />
                            </dd>
                        }).collect_view()}
                        {a.downtime_seconds.map(|d| view! { <dt>"Downtime"</dt><dd>{format!("{d:.1} s")}</dd> })}
                    </dl>
                }.into_any(),
                None => view! { <p class="muted">"Not measured yet."</p> }.into_any(),
            }}
        </section>
        <section class="card">
            <h2>"Steps"</h2>
            <table class="table steps" id="steps">
                <thead><tr><th>"#"</th><th>"Application"</th><th>"Replica"</th><th>"Action"</th><th>"Status"</th><th>"Time"</th><th>"Message"</th></tr></thead>
                <tbody>
                    {detail.steps.iter().map(|st| view! {
                        <tr class=format!("step-{}", st.status)>
                            <td>{st.seq}</td><td class="mono">{st.application.clone()}</td>
                            <td class="mono">{st.replica.clone().unwrap_or_default()}</td>
                            <td>{st.action.clone()}</td><td>{st.status.clone()}</td>
                            <td class="mono">{st.started_at.as_deref().map(|a| format::duration(a, st.finished_at.as_deref())).unwrap_or_default()}</td>
                            <td>{st.message.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(!detail.acknowledgements.is_empty()).then(|| view! {
                <h3>"Audit"</h3>
                <ul class="audit">
                    {detail.acknowledgements.iter().map(|a| view! {
                        <li><span class="mono">{format::timestamp(&a.when)}</span> " " {a.who.clone()} ": " {a.what.clone()}</li>
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

/// The status as the CSS classes name it (`status-rolled_back`...), as the API writes it.
fn status_class(status: UpgradeStatus) -> &'static str {
    match status {
        UpgradeStatus::Running => "running",
        UpgradeStatus::Succeeded => "succeeded",
        UpgradeStatus::Failed => "failed",
        UpgradeStatus::RolledBack => "rolled_back",
        UpgradeStatus::Stopped => "stopped",
    }
}

/// The step running now, in words, from the record.
fn current_step(detail: &UpgradeDetail) -> String {
    let describe = |st: &shared::api::StepView| {
        format!(
            "{} {}{}",
            st.action,
            st.application,
            st.replica
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )
    };
    match detail.summary.status {
        UpgradeStatus::Running => detail
            .steps
            .iter()
            .find(|s| s.status == "running")
            .or_else(|| detail.steps.iter().find(|s| s.status == "pending"))
            .map(describe)
            .unwrap_or_else(|| "Starting…".into()),
        other => status_label(other).0.to_string(),
    }
}

/// Feeds the log and the live progress from the websocket; on a break, reconnects with the last line received
/// so that nothing is lost and nothing repeats. Stops when the upgrade ends or the page goes away.
fn follow_stream(
    id: i64,
    log: RwSignal<LogBuffer>,
    live: RwSignal<Option<Live>>,
    connection: RwSignal<String>,
    refresh: RwSignal<u32>,
) {
    spawn_local(async move {
        let mut delay = 500;
        loop {
            let Some(after) = log.try_with_untracked(|b| b.last_seq()) else {
                return;
            };
            let mut ended = false;
            if let Ok(mut stream) = api::log_stream(id, after) {
                while let Some(message) = stream.next().await {
                    let alive = match message {
                        Ok(StreamMessage::Log(entry)) => log.try_update(|b| {
                            b.push(entry);
                        }),
                        Ok(StreamMessage::Progress {
                            done,
                            total,
                            status,
                            step,
                        }) => {
                            let prev = live.try_get_untracked().flatten();
                            let changed =
                                prev.as_ref().map(|p| (p.done, p.status)) != Some((done, status));
                            let alive = live
                                .try_set(Some(Live {
                                    done,
                                    total,
                                    status,
                                    step,
                                }))
                                .is_none();
                            if changed {
                                refresh.try_update(|n| *n += 1);
                            }
                            alive.then_some(())
                        }
                        Ok(StreamMessage::End { status }) => {
                            ended = true;
                            live.try_update(|l| {
                                if let Some(l) = l {
                                    l.status = status;
                                    l.step = status_label(status).0.into();
                                }
                            });
                            refresh.try_update(|n| *n += 1);
                            break;
                        }
                        Err(_) => break,
                    };
                    if alive.is_none() {
                        return;
                    }
                    if connection
                        .try_with_untracked(|c| c != "Live")
                        .unwrap_or(false)
                    {
                        connection.try_set("Live".into());
                    }
                    delay = 500;
                }
            }
            if ended {
                connection.try_set("Ended".into());
                return;
            }
            if connection
                .try_set("Connection lost — reconnecting…".into())
                .is_some()
            {
                return;
            }
            // A closed socket may mean the session ended: `me` then takes the operator to the logon page.
            if let Err(api::Error::SessionEnded) = api::me().await {
                return;
            }
            TimeoutFuture::new(delay).await;
            delay = (delay * 2).min(5_000);
        }
    });
}
