//! A progress message for the steps between the click and the banner.

use leptos::prelude::*;

#[component]
pub fn Progress(#[prop(into)] label: String) -> impl IntoView {
    view! {
        <p class="progress" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {label}
        </p>
    }
}
