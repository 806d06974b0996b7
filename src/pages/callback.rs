//! The redirect back from the authorization server (the configured
//! `redirect_path`): sign-in checks and completes it; this page shows the
//! progress, the failure, or once signed in the summary.

use leptos::prelude::*;

use crate::context::context;
use crate::session::SessionHandle;
use crate::sign_in::{self, SignIn};
use crate::views::{SignInStatus, SignedInArea};

#[component]
pub fn CallbackPage() -> impl IntoView {
    // Completed at start-up when it could be (the shell provides it).
    let sign_in = use_context::<SignIn>().unwrap_or_else(|| sign_in::complete_redirect(context::<SessionHandle>()));
    move || {
        if sign_in.is_done() {
            view! { <SignedInArea/> }.into_any()
        } else {
            view! { <SignInStatus sign_in/> }.into_any()
        }
    }
}
