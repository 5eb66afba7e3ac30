//! What the logged-on account's role allows. The frame shares the session's account with every page; a control
//! the role cannot use is shown disabled with the agent's own sentence for the refusal.

use leptos::prelude::*;
use shared::api::{Me, Role};

use crate::answer::{self, Answer};

/// The session's account as the frame asked it (`GET /api/v1/me`), shared with every page.
#[derive(Debug, Clone, Copy)]
struct Session(Answer<Me>);

/// Shares the session's account with the pages below.
pub fn provide(me: Answer<Me>) {
    provide_context(Session(me));
}

/// The session's role, once the agent has said it.
pub fn mine() -> Signal<Option<Role>> {
    let session = use_context::<Session>();
    Signal::derive(move || session.and_then(|s| answer::ok(s.0)).map(|me| me.role))
}

/// Why this session may not do `what`, which needs `needed` (the sentence of the agent's 403); `None` when it may,
/// and while its role is not known yet (the agent decides anyway).
pub fn refusal(needed: Role, what: &'static str) -> Signal<Option<String>> {
    let role = mine();
    Signal::derive(move || {
        role.get()
            .and_then(|role| role.may(needed).err())
            .map(|refusal| refusal.sentence(what))
    })
}

/// The reason beside a control the role cannot use, when there is one.
#[component]
pub fn Refusal(
    /// The reason, from [`refusal`].
    reason: Signal<Option<String>>,
    /// The element's id, for tests and `aria-describedby`.
    id: &'static str,
) -> impl IntoView {
    move || {
        reason
            .get()
            .map(|r| view! { <p class="muted refusal" id=id>{r}</p> })
    }
}
