//! The console and health: the built console's static files at `/opsconsole/v2/` (files by path, `index.html` for
//! every other path under it so that deep links work, a short page when the console is not built), `/` redirecting
//! to it, and `/healthz`.

use std::path::PathBuf;

use warp::filters::path::FullPath;
use warp::{Filter, Rejection, Reply};

const NOT_BUILT: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Upgrade console</title></head>\
<body><h1>The console is not built</h1><p>Build it (see the README: <code>trunk build</code> in \
<code>frontend/</code>) and start the agent with <code>--console-dir frontend/dist</code>. The API is served at \
<code>/api/v1</code>.</p></body></html>";

/// This module's paths and the methods each answers, for the `Allow` header of a 405.
pub const PATHS: &[(&str, &str)] = &[
    ("/", "GET"),
    ("/healthz", "GET"),
    ("/opsconsole/v2/{path}", "GET"),
];

/// The routes of this module.
pub fn routes(
    console_dir: Option<PathBuf>,
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    healthz().or(root()).or(console(console_dir))
}

/// GET /healthz
pub fn healthz() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "ok"})))
}

/// GET /
pub fn root() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path::end()
        .and(warp::get())
        .map(|| warp::redirect::see_other(warp::http::Uri::from_static("/opsconsole/v2/")))
}

/// GET /opsconsole/v2/...
pub fn console(console_dir: Option<PathBuf>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    let base = warp::path("opsconsole").and(warp::path("v2"));
    // `/opsconsole/v2` without its slash: relative asset paths need it.
    let slashless = base
        .and(warp::path::end())
        .and(warp::path::full())
        .and_then(|full: FullPath| async move {
            if full.as_str().ends_with('/') {
                Err(warp::reject::not_found())
            } else {
                Ok(warp::redirect::see_other(warp::http::Uri::from_static(
                    "/opsconsole/v2/",
                )))
            }
        })
        .map(|r| Box::new(r) as Box<dyn Reply>);
    match console_dir {
        Some(dir) => {
            let index = dir.join("index.html");
            let files = base
                .and(warp::get())
                .and(warp::fs::dir(dir))
                .map(|f| Box::new(f) as Box<dyn Reply>);
            let deep_links = base
                .and(warp::get())
                .and(warp::fs::file(index))
                .map(|f| Box::new(f) as Box<dyn Reply>);
            slashless.or(files).unify().or(deep_links).unify().boxed()
        }
        None => {
            let page = base
                .and(warp::get())
                .map(|| Box::new(warp::reply::html(NOT_BUILT)) as Box<dyn Reply>);
            slashless.or(page).unify().boxed()
        }
    }
}
