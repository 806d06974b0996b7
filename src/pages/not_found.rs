//! Any path that is not a page of the app.

use leptos::prelude::*;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="error-view" role="alert" aria-labelledby="error-title">
            <h1 id="error-title">"Page not found"</h1>
            <p>"This address is not part of the app."</p>
            <p>
                "Launch the app from your EHR, or "
                <a href="./">"start here to sign in"</a>
                "."
            </p>
        </section>
    }
}
