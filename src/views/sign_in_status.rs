//! Where a sign-in started from this page stands: its progress, or its
//! failure with a way to try again.

use leptos::prelude::*;

use super::{ErrorView, Progress};
use crate::sign_in::{SignIn, Step};

/// `retry`, when given, is offered after a failure ("Try again").
#[component]
pub fn SignInStatus(sign_in: SignIn, #[prop(optional)] retry: Option<Callback<()>>) -> impl IntoView {
    move || {
        sign_in.with_step(|step| match step {
            Step::Leaving(name) => view! { <Progress label=format!("Connecting to {name}…")/> }.into_any(),
            Step::Waiting(name) => {
                view! { <Progress label=format!("Sign in to {name} in the window that opened…")/> }.into_any()
            }
            Step::Exchanging => view! { <Progress label="Completing sign-in…"/> }.into_any(),
            Step::Failed(error) => {
                let again = retry.map(|retry| {
                    view! {
                        <p>
                            <button type="button" class="try-again" on:click=move |_| retry.run(())>"Try again"</button>
                        </p>
                    }
                });
                view! { <ErrorView error/> {again} }.into_any()
            }
            Step::Idle | Step::Done => ().into_any(),
        })
    }
}
