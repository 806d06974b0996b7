//! Shows an error as its diagnosis: what happened, the likely cause, and
//! what to do. Every value is rendered as text (Leptos escapes text nodes),
//! so markup in a server's error description stays inert.

use leptos::prelude::*;
use smart_core::error::Diagnosis;

/// `error` is an `Error` or a `&Error` (errors are not cloned: a signal
/// holding one is read in place).
#[component]
pub fn ErrorView(#[prop(into)] error: Diagnosis) -> impl IntoView {
    view! {
        <section class="error-view" role="alert" aria-labelledby="error-title">
            <h1 id="error-title">{error.title}</h1>
            <p class="error-detail">{error.detail}</p>
            <dl class="error-help">
                <dt>"Likely cause"</dt>
                <dd>{error.cause}</dd>
                <dt>"What to do"</dt>
                <dd>{error.fix}</dd>
            </dl>
        </section>
    }
}
