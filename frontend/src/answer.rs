//! What a page asked the agent and the answer it got, shown as "loading…", the answer, or the error.
//!
//! A plain signal filled by a spawned task: Leptos's `LocalResource`, `<Transition>`, `<ErrorBoundary>` and
//! `Action` did the same with much more generic code per answer type (7 % of the wasm, docs/console.md).

use std::future::Future;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;

/// The agent's answer to one question: `None` until the first answer arrives.
pub type Answer<T> = RwSignal<Option<api::Result<T>>>;

/// Asks the agent now, and again whenever a signal that `question` reads changes (e.g. a refresh counter). The last
/// answer stays shown until the next one arrives; an answer to an older question never replaces a newer one.
pub fn ask<T, Fut>(question: impl Fn() -> Fut + 'static) -> Answer<T>
where
    T: Send + Sync + 'static,
    Fut: Future<Output = api::Result<T>> + 'static,
{
    let answer = RwSignal::new(None);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let pending = question();
        let this = asked.try_update_value(|n| {
            *n += 1;
            *n
        });
        spawn_local(async move {
            let reply = pending.await;
            if this.is_some() && asked.try_get_value() == this {
                answer.try_set(Some(reply));
            }
        });
    });
    answer
}

/// The successful answer, if there is one yet.
pub fn ok<T: Clone + Send + Sync + 'static>(answer: Answer<T>) -> Option<T> {
    answer.with(|a| a.as_ref().and_then(|r| r.as_ref().ok()).cloned())
}

/// `waiting` in grey until the first answer, then `show(answer)`, or the error in a red panel.
pub fn shown<T, V>(
    answer: Answer<T>,
    waiting: &'static str,
    show: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    move || match answer.get() {
        None => view! { <p class="muted">{waiting}</p> }.into_any(),
        Some(Ok(value)) => show(value).into_any(),
        Some(Err(error)) => view! {
            <div class="panel panel-error" role="alert"><p>{error.to_string()}</p></div>
        }
        .into_any(),
    }
}

/// Something the operator asked the agent to do (log on, Force stop, Retry, Start Upgrade): whether it is on its
/// way, and the answer once it came.
#[derive(Debug)]
pub struct Request<T: Send + Sync + 'static> {
    /// Sent and not answered yet (the button says so and cannot be pressed twice).
    pub pending: RwSignal<bool>,
    /// The last answer.
    pub answer: Answer<T>,
}

impl<T: Send + Sync + 'static> Clone for Request<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Request<T> {}

impl<T: Send + Sync + 'static> Request<T> {
    /// Nothing sent yet.
    pub fn new() -> Self {
        Request {
            pending: RwSignal::new(false),
            answer: RwSignal::new(None),
        }
    }

    /// Sends it, unless the last one is still on its way.
    pub fn send(&self, request: impl Future<Output = api::Result<T>> + 'static) {
        if self.pending.get_untracked() {
            return;
        }
        self.pending.set(true);
        let Request { pending, answer } = *self;
        spawn_local(async move {
            let reply = request.await;
            pending.try_set(false);
            answer.try_set(Some(reply));
        });
    }
}

impl<T: Send + Sync + 'static> Default for Request<T> {
    fn default() -> Self {
        Self::new()
    }
}
