//! Any other path. The configured `redirect_path` may differ from
//! `/callback`; such a path is the callback too.

use leptos::prelude::*;

use crate::app::Config;
use crate::browser::navigation::current_app_path;
use crate::pages::CallbackPage;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    let config = expect_context::<Config>();
    if current_app_path() == config.redirect_path {
        return view! { <CallbackPage/> }.into_any();
    }
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
    .into_any()
}
