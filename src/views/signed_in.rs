//! The signed-in part of a page: the summary while the session lives; why
//! it ended once it has; and after a reload (memory is gone by design) the
//! right way back.

use leptos::prelude::*;
use smart_core::authorize::LaunchKind;
use smart_core::route::reloaded_kind;

use super::{ErrorView, Summary};
use crate::browser::navigation;
use crate::context::context;
use crate::session::{EndReason, Ended, SessionHandle};

#[component]
fn WayBack(kind: LaunchKind) -> impl IntoView {
    match kind {
        LaunchKind::Ehr => view! {
            <p class="way-back">"To continue, open the app again from the patient's chart in your EHR."</p>
        }
        .into_any(),
        LaunchKind::Standalone => view! {
            <p class="way-back"><a href="./" class="sign-in-again">"Sign in again"</a></p>
        }
        .into_any(),
    }
}

/// Why the session ended, read in place from its signal.
fn ended_view(ended: &Ended) -> AnyView {
    let kind = ended.kind;
    match &ended.reason {
        EndReason::SignedOut { revoked } => {
            let detail = match revoked {
                Some(true) => "The sign-in was revoked at the server, and nothing of it is kept in this page.",
                Some(false) => {
                    "The server did not confirm the revocation; nothing of the sign-in is kept in this page."
                }
                None => "The server offers no revocation; nothing of the sign-in is kept in this page.",
            };
            view! {
                <section class="notice" role="status" data-testid="signed-out">
                    <h1>"You have signed out"</h1>
                    <p>{detail}</p>
                    <WayBack kind/>
                </section>
            }
            .into_any()
        }
        EndReason::Failed(error) => view! { <ErrorView error/> <WayBack kind/> }.into_any(),
    }
}

#[component]
pub fn SignedInArea() -> impl IntoView {
    let session = context::<SessionHandle>();
    // Mounted once the session is in place, or on a reloaded page, where
    // none can be: so whether one exists is read once. A session only
    // leaves through `SessionHandle::end`, which sets why it ended, the one
    // thing tracked here: a refresh updates the session in place and must
    // not remount (and refetch) the summary.
    let signed_in = session.with_untracked(|_| ()).is_some();
    let reload_kind = reloaded_kind(&navigation::current_query());
    move || {
        session.with_ended(|ended| match ended {
            Some(ended) => ended_view(ended),
            None if signed_in => view! { <Summary/> }.into_any(),
            None => view! {
                <section class="notice" role="status" data-testid="reloaded">
                    <h1>"Your session has ended"</h1>
                    <p>"The page was reloaded. This app keeps your sign-in only in the page's memory, never in the browser's storage, so a reload ends it."</p>
                    <WayBack kind=reload_kind/>
                </section>
            }
            .into_any(),
        })
    }
}
