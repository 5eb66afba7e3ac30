//! A check's report the way an operator needs it: errors and warnings by severity, View Details with the missing
//! configuration items, the template comparison with its confirmation, compatibility problems with the suggested
//! path, and the difference from the running values with secrets masked.

use leptos::prelude::*;
use shared::report::Report;

use crate::findings;

/// The whole report. `mismatch_confirmed` is ticked by the operator when the template differs.
#[component]
pub fn ReportView(
    /// The report to show.
    report: Report,
    /// The target version's template digest, for the comparison.
    #[prop(default = None)]
    version_digest: Option<String>,
    /// The operator's confirmation of a template mismatch (only shown when the report needs it).
    #[prop(default = None)]
    mismatch_confirmed: Option<RwSignal<bool>>,
) -> impl IntoView {
    let counts = findings::counts(&report);
    let missing = findings::missing_items(&report);
    let comparison = findings::template_comparison(&report, version_digest.as_deref());
    let problems = findings::compatibility_problems(&report);
    let diff = findings::online_difference(&report);
    let show_details = RwSignal::new(false);
    let summary_class = if counts.errors > 0 {
        "report-summary sev-error"
    } else if counts.warnings > 0 {
        "report-summary sev-warning"
    } else {
        "report-summary sev-success"
    };
    let summary = if report.findings.is_empty() {
        "No problems found.".to_string()
    } else {
        format!(
            "{} error{}, {} warning{}{}",
            counts.errors,
            if counts.errors == 1 { "" } else { "s" },
            counts.warnings,
            if counts.warnings == 1 { "" } else { "s" },
            if counts.errors > 0 {
                " — the upgrade cannot start with this file."
            } else {
                "."
            }
        )
    };
    let missing_count = missing.len();
    view! {
        <section class="report" aria-live="polite">
            <p class=summary_class>{summary}</p>
            {report.template_digest.clone().map(|d| view! {
                <p class="muted">"Template digest of this file: " <code class="file-digest">{d}</code></p>
            })}
            <ul class="findings">
                {findings::by_severity(&report)
                    .into_iter()
                    .map(|f| {
                        let (class, word) = findings::severity_label(f.severity);
                        let location = findings::location(&f);
                        let suggestion = findings::suggestion(&f);
                        let open = findings::open_reason(&f);
                        view! {
                            <li class=format!("finding {class}") data-code=f.code.clone()>
                                <span class=format!("badge {class}")>{word}</span>
                                <span class="finding-text">
                                    {f.message.clone()}
                                    {(!location.is_empty()).then(|| view! { <span class="where mono">" — " {location}</span> })}
                                    {f.path.clone().map(|p| view! { <span class="where mono">" at " {p}</span> })}
                                    {suggestion.map(|s| view! { <span class="suggest">" Did you mean " <code>{s}</code> "?"</span> })}
                                    {open.map(|why| view! { <span class="why-open">" Accepted: " {why} "."</span> })}
                                </span>
                                <code class="code">{f.code.clone()}</code>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {(missing_count > 0).then(|| view! {
                <div class="panel">
                    <button class="btn view-details" aria-expanded=move || show_details.get().to_string()
                        on:click=move |_| show_details.update(|s| *s = !*s)>
                        {move || if show_details.get() { "Hide Details" } else { "View Details" }}
                        {format!(" ({missing_count} missing configuration item{})", if missing_count == 1 { "" } else { "s" })}
                    </button>
                    <Show when=move || show_details.get()>
                        <table class="table missing-items">
                            <thead><tr><th>"Key"</th><th>"Expected type"</th><th>"Description"</th></tr></thead>
                            <tbody>
                                {missing.clone().into_iter().map(|m| view! {
                                    <tr><td class="mono">{m.key}</td><td>{m.item_type}</td><td>{m.description}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </Show>
                </div>
            })}
            {comparison.map(|c| {
                let needs = c.needs_confirmation;
                view! {
                    <div class="panel panel-warning template-comparison">
                        <h3>"Template differs from the version's template"</h3>
                        <dl class="digests">
                            <dt>"Version template MD5"</dt><dd><code class="expected-digest">{c.expected.unwrap_or_else(|| "unknown".into())}</code></dd>
                            <dt>"Bundle template MD5"</dt><dd><code class="actual-digest">{c.actual.unwrap_or_else(|| "unknown".into())}</code></dd>
                        </dl>
                        <FileList title="Changed" files=c.changed />
                        <FileList title="Added" files=c.added />
                        <FileList title="Missing" files=c.missing />
                        {(needs && mismatch_confirmed.is_some()).then(|| {
                            let confirmed = mismatch_confirmed.unwrap_or_else(|| RwSignal::new(false));
                            view! {
                                <label class="check">
                                    <input type="checkbox" class="confirm-mismatch"
                                        prop:checked=move || confirmed.get()
                                        on:change=move |ev| confirmed.set(event_target_checked(&ev)) />
                                    " I have reviewed these template differences and want to upgrade with this bundle."
                                </label>
                            }
                        })}
                    </div>
                }
            })}
            {(!problems.is_empty()).then(|| view! {
                <div class="panel panel-error compatibility-problems">
                    <h3>"Blocked: the configuration does not fit the template"</h3>
                    <ul>
                        {problems.into_iter().map(|f| view! {
                            <li>
                                <code>{f.path.clone().unwrap_or_else(|| f.file.clone().unwrap_or_default())}</code>
                                <span class="where mono">" (" {findings::location(&f)} ")"</span> ": " {f.message.clone()}
                                {findings::suggestion(&f).map(|s| view! { " Suggested path: " <code class="suggest">{s}</code> })}
                            </li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {(!diff.is_empty()).then(|| view! {
                <div class="panel online-difference">
                    <h3>"Differences from the values running now"</h3>
                    <p class="muted">"The upgrade will use the uploaded values. Secret values are masked."</p>
                    <table class="table diff">
                        <thead><tr><th>"Key"</th><th>"Change"</th><th>"Running now"</th><th>"Uploaded"</th></tr></thead>
                        <tbody>
                            {diff.into_iter().map(|row| view! {
                                <tr class=format!("diff-{}", row.change)>
                                    <td class="mono">{row.path}</td>
                                    <td>{row.change}</td>
                                    <td class="mono old">{row.running}</td>
                                    <td class="mono new">{row.uploaded}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </section>
    }
}

#[component]
fn FileList(title: &'static str, files: Vec<String>) -> impl IntoView {
    (!files.is_empty()).then(|| {
        view! {
            <div class="filelist">
                <strong>{title} " (" {files.len()} ")"</strong>
                <ul>{files.into_iter().map(|f| view! { <li class="mono">{f}</li> }).collect_view()}</ul>
            </div>
        }
    })
}
