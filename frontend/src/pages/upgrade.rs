//! The Upgrade page: target version (and Upload Version Configuration), the configuration file checked in the
//! browser, the mode, the risk disclaimer and Start Upgrade.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::{ConfigKind, Limits, Role, UpgradeMode, VersionInfo, ZeroDowntimeDecision};
use shared::nonstandard::{Online, RunningChart};
use shared::report::{Finding, Report};
use shared::start::{self, Configuration, StartRequest};

use crate::answer::{self, Request};
use crate::api;
use crate::checks;
use crate::components::report_view::ReportView;
use crate::format;
use crate::role::{self, Refusal};

/// Where a browser check stands.
#[derive(Debug, Clone, PartialEq)]
enum Check {
    /// Nothing picked yet.
    Idle,
    /// Reading or checking: bytes done of total.
    Running { what: String, done: u64, total: u64 },
    /// Checked (and for a package: sent); `note` says what happened.
    Done {
        report: Report,
        note: Option<String>,
    },
    /// The agent refused or could not be reached.
    Failed(String),
}

/// A file the operator picked, held in the browser.
#[derive(Debug, Clone, PartialEq)]
struct Picked {
    name: String,
    bytes: Arc<Vec<u8>>,
}

/// The Upgrade page.
#[component]
pub fn UpgradePage() -> impl IntoView {
    let cluster = answer::ask(api::cluster);
    let versions_refresh = RwSignal::new(0u32);
    let versions = answer::ask(move || {
        versions_refresh.track();
        api::versions()
    });
    let limits = answer::ask(api::limits);

    let target = RwSignal::new(None::<String>);
    let package_check = RwSignal::new(Check::Idle);
    let kind = RwSignal::new(ConfigKind::Standard);
    let config = RwSignal::new(None::<Picked>);
    let config_check = RwSignal::new(Check::Idle);
    let mismatch_confirmed = RwSignal::new(false);
    let decision = RwSignal::new(None::<ZeroDowntimeDecision>);
    let mode = RwSignal::new(None::<UpgradeMode>);
    let risk = RwSignal::new(false);
    let generation = StoredValue::new(0u64);

    let running_version = move || answer::ok(cluster).map(|c| c.version);
    let running_version_untracked = move || {
        cluster.with_untracked(|a| {
            a.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|c| c.version.clone())
        })
    };
    // The running version's chart, fetched once per running version and kept until a package is uploaded here
    // (which may replace the running version's own): the key is the version and `versions_refresh`.
    let running_charts: RunningCharts = StoredValue::new(None);
    let another_running = move || answer::ok(cluster).and_then(|c| c.operation);
    let current_limits = move || answer::ok(limits).unwrap_or_default();

    // The zero-downtime decision for the chosen target; the mode follows it.
    Effect::new(move |_| {
        let (Some(current), Some(to)) = (running_version(), target.get()) else {
            decision.set(None);
            return;
        };
        spawn_local(async move {
            let answer = async {
                Ok::<_, api::Error>((api::manifest(&current).await?, api::manifest(&to).await?))
            }
            .await;
            if target.get_untracked().as_deref() != Some(to.as_str()) {
                return;
            }
            match answer {
                Ok((c, t)) => {
                    let d = checks::zero_downtime(&c, &t);
                    mode.set(Some(start::default_mode(&d)));
                    decision.set(Some(d));
                }
                Err(e) => config_check.set(Check::Failed(e.to_string())),
            }
        });
    });

    // Re-check the configuration whenever the target, the kind or the file changes.
    Effect::new(move |_| {
        let (Some(to), Some(file), kind) = (target.get(), config.get(), kind.get()) else {
            config_check.set(Check::Idle);
            return;
        };
        let lim = current_limits();
        mismatch_confirmed.set(false);
        let run = generation.with_value(|g| g + 1);
        generation.set_value(run);
        let current = move || generation.with_value(|g| *g == run);
        spawn_local(async move {
            let progress = move |what: &str, done: u64, total: u64| {
                if current() {
                    config_check.set(Check::Running {
                        what: what.to_string(),
                        done,
                        total,
                    });
                }
            };
            progress(
                "Fetching the version's package and the running values",
                0,
                1,
            );
            let inputs = async {
                Ok::<_, api::Error>((
                    api::version_package(&to).await?,
                    api::cluster_values().await?,
                ))
            }
            .await;
            let (package_bytes, online) = match inputs {
                Ok(x) => x,
                Err(e) => {
                    if current() {
                        config_check.set(Check::Failed(e.to_string()));
                    }
                    return;
                }
            };
            let (package_report, package) =
                checks::version_package(&format!("{to} package"), &package_bytes, &lim, &|_, _| {})
                    .await;
            let Some(package) = package else {
                if current() {
                    config_check.set(Check::Done {
                        report: package_report,
                        note: Some(format!("The stored package of {to} is not valid.")),
                    });
                }
                return;
            };
            let chart = match (kind, running_version_untracked()) {
                (ConfigKind::NonStandard, Some(running)) => {
                    let uploads = versions_refresh.get_untracked();
                    Some(running_chart(running_charts, (running, uploads), &lim).await)
                }
                (ConfigKind::NonStandard, None) => Some(Arc::new(RunningChart::Unknown(
                    "the running version is not known yet".into(),
                ))),
                (ConfigKind::Standard, _) => None,
            };
            let online = chart
                .as_deref()
                .filter(|_| !online.trim().is_empty())
                .map(|chart| Online {
                    values: &online,
                    chart,
                });
            let report = checks::configuration(
                kind,
                &package,
                &file.name,
                &file.bytes,
                online,
                &lim,
                &move |d, t| progress("Checking the configuration", d, t),
            )
            .await;
            if current() {
                config_check.set(Check::Done { report, note: None });
            }
        });
    });

    // What still stops the start, by the rules the agent applies; `None` until the session's role is known.
    let my_role = role::mine();
    let blockers = Memo::new(move |_| {
        let role = my_role.get()?;
        let (target, check, decision) = (target.get(), config_check.get(), decision.get());
        let configuration = match &check {
            Check::Done { report, .. } => Configuration::Checked(report),
            Check::Running { .. } => Configuration::Checking,
            Check::Idle | Check::Failed(_) => Configuration::Missing,
        };
        Some(start::blockers(&StartRequest {
            role,
            running: another_running().map(|op| op.id),
            target: target.as_deref(),
            configuration,
            mismatch_confirmed: mismatch_confirmed.get(),
            decision: decision.as_ref(),
            mode: mode.get(),
            risk_accepted: risk.get(),
        }))
    });
    let can_start = move || blockers.with(|b| b.as_ref().is_some_and(Vec::is_empty));
    let version_refusal = role::refusal(Role::Operator, "Uploading a version");
    let config_refusal = role::refusal(
        start::ROLE_NEEDED,
        "Checking a configuration for an upgrade",
    );

    let nav = crate::nav::navigator();
    let starting = Request::new();
    let send_start = move |_| {
        let request = config
            .get_untracked()
            .zip(target.get_untracked())
            .zip(mode.get_untracked())
            .map(|((file, to), mode)| api::StartUpgrade {
                target_version: to,
                mode,
                config_kind: kind.get_untracked(),
                file_name: file.name.clone(),
                bytes: file.bytes.to_vec(),
                template_mismatch_confirmed: mismatch_confirmed.get_untracked(),
            });
        starting.send(async move {
            match request {
                Some(r) => api::start_upgrade(&r).await,
                None => Err(api::Error::Decode("nothing to start".into())),
            }
        });
    };
    Effect::new(move |_| {
        if let Some(Ok(started)) = starting.answer.get() {
            nav.go(&format!("/upgrades/{}", started.id));
        }
    });

    view! {
        <div class="page-head">
            <h1>"Upgrade"</h1>
            <span class="muted" id="running-version">
                {move || answer::ok(cluster).map(|c| format!("{} runs {} on the {} platform", c.product, c.version, c.platform))}
            </span>
        </div>
        {move || another_running().map(|op| view! {
            <div class="banner banner-running" role="status">
                "Upgrade #" {op.id} " (" {op.from_version.clone()} " → " {op.to_version.clone()} ") is in progress. "
                <a href=crate::session::page(&format!("/upgrades/{}", op.id))>"View progress"</a>
            </div>
        })}

        <section class="card">
            <h2><span class="step-no">"1"</span>"Target version"</h2>
            {answer::shown(versions, "Loading versions…", move |list| view! { <TargetPicker list target /> })}
            <details class="sub" id="upload-version">
                <summary>"Upload Version Configuration"</summary>
                <p class="muted">"A version package: version.yaml, or a ZIP with version.yaml and the template under product/<product>/. It is checked here first, then by the agent."</p>
                <input type="file" id="version-file" accept=".zip,.yaml,.yml"
                    disabled=move || version_refusal.get().is_some() aria-describedby="version-file-refusal"
                    on:change=move |ev| {
                        let Some(file) = picked_file(&ev) else { return };
                        let lim = current_limits();
                        spawn_local(upload_version(file, lim, package_check, versions_refresh, target));
                    } />
                <Refusal reason=version_refusal id="version-file-refusal" />
                <div id="version-check"><CheckStatus check=package_check /></div>
            </details>
        </section>

        <section class="card">
            <h2><span class="step-no">"2"</span>"Configuration file"</h2>
            <fieldset class="choice" role="radiogroup">
                <legend class="sr-only">"Kind of configuration"</legend>
                <label><input type="radio" name="kind" id="kind-standard" prop:checked=move || kind.get() == ConfigKind::Standard
                    on:change=move |_| kind.set(ConfigKind::Standard) />
                    " Standard " <span class="tag">"recommended"</span>
                    <span class="hint">"values.yaml, or a ZIP holding it, checked against the version's configuration items"</span></label>
                <label><input type="radio" name="kind" id="kind-non-standard" prop:checked=move || kind.get() == ConfigKind::NonStandard
                    on:change=move |_| kind.set(ConfigKind::NonStandard) />
                    " Non-standard "
                    <span class="hint">"a ZIP from O&M with the template under product/<product>/, overlay/ and values.yaml"</span></label>
            </fieldset>
            <div class="file-row">
                <input type="file" id="config-file" accept=".yaml,.yml,.zip"
                    disabled=move || config_refusal.get().is_some() aria-describedby="config-file-refusal"
                    on:change=move |ev| {
                        let Some(file) = picked_file(&ev) else { return };
                        let lim = current_limits();
                        spawn_local(async move {
                            if let Some(picked) = read_within_limits(&file, &lim, config_check).await {
                                config.set(Some(picked));
                            }
                        });
                    } />
                {move || config.get().map(|f| {
                    let (name, bytes) = (f.name.clone(), f.bytes.clone());
                    view! {
                        <span class="muted">{format!("{} · {}", f.name, format::bytes(f.bytes.len() as u64))}</span>
                        <button class="btn btn-quiet" id="download-uploaded" on:click=move |_| { let _ = api::download(&name, &bytes); }>
                            "Download uploaded file"
                        </button>
                    }
                })}
            </div>
            <Refusal reason=config_refusal id="config-file-refusal" />
            <Show when=move || target.get().is_none() && config.get().is_some()>
                <p class="muted">"Choose a target version to check the file against."</p>
            </Show>
            {move || {
                let digest = target.get().and_then(|t| {
                    answer::ok(versions).and_then(|list| list.into_iter().find(|v| v.version == t)).and_then(|v| v.template_digest)
                });
                view! { <div id="config-check"><CheckStatus check=config_check version_digest=digest mismatch_confirmed=Some(mismatch_confirmed) /></div> }
            }}
        </section>

        <section class="card">
            <h2><span class="step-no">"3"</span>"Upgrade mode"</h2>
            <fieldset class="choice" role="radiogroup">
                <legend class="sr-only">"Upgrade mode"</legend>
                <label class:disabled=move || decision.get().is_some_and(|d| !d.allowed)>
                    <input type="radio" name="mode" id="mode-zero-downtime"
                        disabled=move || decision.get().is_some_and(|d| !d.allowed)
                        prop:checked=move || mode.get() == Some(UpgradeMode::ZeroDowntime)
                        on:change=move |_| mode.set(Some(UpgradeMode::ZeroDowntime)) />
                    " Zero-downtime " <span class="hint">"rolling, replica by replica; the API keeps answering"</span>
                </label>
                <label>
                    <input type="radio" name="mode" id="mode-downtime"
                        prop:checked=move || mode.get() == Some(UpgradeMode::Downtime)
                        on:change=move |_| mode.set(Some(UpgradeMode::Downtime)) />
                    " Downtime " <span class="hint">"stop everything, then start the new version"</span>
                </label>
            </fieldset>
            {move || decision.get().filter(|d| !d.allowed).map(|d| view! {
                <div class="panel panel-warning" id="mode-reasons">
                    <strong>"Zero-downtime is not possible for this upgrade:"</strong>
                    <ul>{d.reasons.into_iter().map(|f| view! { <li data-code=f.code.clone()>{f.message}</li> }).collect_view()}</ul>
                </div>
            })}
            <Show when=move || target.get().is_none()>
                <p class="muted">"Choose a target version first."</p>
            </Show>
        </section>

        <section class="card">
            <h2><span class="step-no">"4"</span>"Confirm and start"</h2>
            <label class="check disclaimer">
                <input type="checkbox" id="risk" prop:checked=move || risk.get() on:change=move |ev| risk.set(event_target_checked(&ev)) />
                " I understand the risks of upgrading a production platform: I have a backup, the maintenance window is agreed, and I am responsible for starting this upgrade."
            </label>
            {move || blockers.get().filter(|b| !b.is_empty()).map(|b| view! {
                <ul class="blockers" id="blockers">
                    {b.into_iter().map(|b| view! { <li data-code=b.code()>{b.to_string()}</li> }).collect_view()}
                </ul>
            })}
            <button class="btn btn-primary btn-large" id="start-upgrade"
                disabled=move || !can_start() || starting.pending.get()
                on:click=send_start>
                {move || if starting.pending.get() { "Starting…" } else { "Start Upgrade" }}
            </button>
            {move || starting.answer.get().and_then(|r| r.err()).map(|e| match e {
                api::Error::Rejected(report) => view! {
                    <div class="panel panel-error" role="alert"><p>"The agent refused to start:"</p><ReportView report /></div>
                }.into_any(),
                api::Error::Refused(409, body) => view! {
                    <p class="sev-error" role="alert">{body.message.clone()} " "
                        {body.running.map(|id| view! { <a href=crate::session::page(&format!("/upgrades/{id}"))>"View the running upgrade"</a> })}</p>
                }.into_any(),
                other => view! { <p class="sev-error" role="alert">{other.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

/// The running chart kept by the page: (running version, packages uploaded on the page) → its chart.
type RunningCharts = StoredValue<Option<((String, u32), Arc<RunningChart>)>>;

/// The chart the running version `key.0` runs with: its package fetched and checked once, then kept in `cache`
/// under `key` (the version and the count of packages uploaded on the page). A fetch that fails is not kept (the
/// next check asks again); the difference then says that the running chart is not known.
async fn running_chart(
    cache: RunningCharts,
    key: (String, u32),
    limits: &Limits,
) -> Arc<RunningChart> {
    let cached = cache.with_value(|c| {
        c.as_ref()
            .filter(|(cached, _)| *cached == key)
            .map(|(_, chart)| chart.clone())
    });
    if let Some(chart) = cached {
        return chart;
    }
    let running = &key.0;
    match api::version_package(running).await {
        Ok(bytes) => {
            let chart = Arc::new(checks::running_chart(running, &bytes, limits).await);
            cache.set_value(Some((key, chart.clone())));
            chart
        }
        Err(e) => Arc::new(RunningChart::unknown(
            running,
            &format!("could not be fetched ({e})"),
        )),
    }
}

/// The target version list: only versions newer than the running one.
#[component]
fn TargetPicker(list: Vec<VersionInfo>, target: RwSignal<Option<String>>) -> impl IntoView {
    let newer: Vec<VersionInfo> = list.into_iter().filter(|v| v.newer_than_running).collect();
    if newer.is_empty() {
        return view! {
            <p class="muted" id="no-target">"No version newer than the running one is known. Upload its version configuration below."</p>
        }
        .into_any();
    }
    view! {
        <label for="target-version" class="field-label">"Upgrade to"</label>
        <select id="target-version" on:change=move |ev| {
            let v = event_target_value(&ev);
            target.set((!v.is_empty()).then_some(v));
        }>
            <option value="" selected=move || target.get().is_none()>"Choose a version…"</option>
            {newer.into_iter().map(|v| {
                let value = v.version.clone();
                let selected = v.version.clone();
                view! {
                    <option value=value selected=move || target.get().as_deref() == Some(selected.as_str())>
                        {format!("{} · imported {}{}", v.version, format::timestamp(&v.imported_at), if v.has_template { "" } else { " · no template" })}
                    </option>
                }
            }).collect_view()}
        </select>
    }
    .into_any()
}

/// A check's progress, its report, or why it failed.
#[component]
fn CheckStatus(
    check: RwSignal<Check>,
    #[prop(default = None)] version_digest: Option<String>,
    #[prop(default = None)] mismatch_confirmed: Option<RwSignal<bool>>,
) -> impl IntoView {
    move || {
        match check.get() {
        Check::Idle => ().into_any(),
        Check::Running { what, done, total } => view! {
            <div class="checking" role="status">
                <span>{what} "… " {format::percent(done.min(u64::from(u32::MAX)) as u32, total.min(u64::from(u32::MAX)) as u32)} "%"</span>
                <progress max=total.to_string() value=done.to_string()></progress>
            </div>
        }
        .into_any(),
        Check::Done { report, note } => view! {
            {note.map(|n| view! { <p class=if report.ok { "check-note sev-success" } else { "check-note sev-error" }>{n}</p> })}
            <ReportView report version_digest=version_digest.clone() mismatch_confirmed />
        }
        .into_any(),
        Check::Failed(message) => view! { <p class="sev-error" role="alert">{message}</p> }.into_any(),
    }
    }
}

fn picked_file(ev: &leptos::ev::Event) -> Option<web_sys::File> {
    let input: web_sys::HtmlInputElement = event_target(ev);
    input.files().and_then(|files| files.get(0))
}

/// Reads a picked file unless it is larger than the agent accepts (then the check says so).
async fn read_within_limits(
    file: &web_sys::File,
    limits: &Limits,
    check: RwSignal<Check>,
) -> Option<Picked> {
    let name = file.name();
    let size = file.size() as u64;
    if size > limits.max_upload_bytes {
        let finding = Finding::error(
            "zip-too-large",
            format!(
                "{name} is {}; the agent accepts at most {}.",
                format::bytes(size),
                format::bytes(limits.max_upload_bytes)
            ),
        )
        .in_file(name.clone());
        check.set(Check::Done {
            report: Report {
                ok: false,
                template_digest: None,
                findings: vec![finding],
            },
            note: None,
        });
        return None;
    }
    check.set(Check::Running {
        what: format!("Reading {name}"),
        done: 0,
        total: size,
    });
    match api::read_file(file).await {
        Ok(bytes) => Some(Picked {
            name,
            bytes: Arc::new(bytes),
        }),
        Err(e) => {
            check.set(Check::Failed(e.to_string()));
            None
        }
    }
}

/// Upload Version Configuration: check in the browser, then send; say whether it was imported or overwrote.
async fn upload_version(
    file: web_sys::File,
    limits: Limits,
    check: RwSignal<Check>,
    versions_refresh: RwSignal<u32>,
    target: RwSignal<Option<String>>,
) {
    let Some(picked) = read_within_limits(&file, &limits, check).await else {
        return;
    };
    let (report, package) =
        checks::version_package(&picked.name, &picked.bytes, &limits, &move |done, total| {
            check.set(Check::Running {
                what: format!("Checking {}", file.name()),
                done,
                total,
            })
        })
        .await;
    let Some(package) = package.filter(|_| report.ok) else {
        check.set(Check::Done {
            report,
            note: Some(format!("{} is not a valid version package.", picked.name)),
        });
        return;
    };
    let version = package.version.to_string();
    check.set(Check::Running {
        what: format!("Sending {version} to the agent"),
        done: 0,
        total: 1,
    });
    match api::upload_version(&picked.name, &picked.bytes).await {
        Ok(imported) => {
            let note = if imported.created {
                format!("{} imported.", imported.version)
            } else {
                format!(
                    "{} was already known: the stored package was overwritten.",
                    imported.version
                )
            };
            check.set(Check::Done {
                report,
                note: Some(note),
            });
            versions_refresh.update(|n| *n += 1);
            target.set(Some(imported.version));
        }
        Err(api::Error::Rejected(report)) => check.set(Check::Done {
            report,
            note: Some("The agent refused the package.".into()),
        }),
        Err(e) => check.set(Check::Failed(e.to_string())),
    }
}
