//! Shows an [`Error`] as its diagnosis: what happened, the likely cause,
//! and what to do. Every value is rendered as text (Leptos escapes text
//! nodes), so markup in a server's error description stays inert.

use leptos::prelude::*;
use smart_core::Error;

#[component]
pub fn ErrorView(error: Error) -> impl IntoView {
    let diagnosis = error.diagnosis();
    view! {
        <section class="error-view" role="alert" aria-labelledby="error-title">
            <h1 id="error-title">{diagnosis.title}</h1>
            <p class="error-detail">{diagnosis.detail}</p>
            <dl class="error-help">
                <dt>"Likely cause"</dt>
                <dd>{diagnosis.cause}</dd>
                <dt>"What to do"</dt>
                <dd>{diagnosis.fix}</dd>
            </dl>
        </section>
    }
}
