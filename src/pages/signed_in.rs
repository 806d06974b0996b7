//! `/summary`, and the callback once signed in: the summary while the
//! session lives; why it ended once it has; and after a reload (memory is
//! gone by design) the right way back.

use leptos::prelude::*;
use smart_core::authorize::LaunchKind;
use smart_core::route::query_value;

use crate::app::{context, EndReason, Ended, EndedSlot, SessionSlot};
use crate::browser::navigation;
use crate::pages::SummaryPage;
use crate::views::ErrorView;

/// The query the address bar carries while signed in, so a reload can say
/// how to come back. It holds no token and no patient.
pub fn summary_path(kind: LaunchKind, issuer_id: &str) -> String {
    match kind {
        LaunchKind::Ehr => "summary?launch=ehr".to_string(),
        LaunchKind::Standalone => format!("summary?provider={}", smart_core::url::encode_query_component(issuer_id)),
    }
}

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
    let session = context::<SessionSlot>();
    let ended = context::<EndedSlot>();
    // Mounted once the session is set, or on a reloaded page, where none
    // can be: so whether one exists is read once. A session only leaves
    // through `lifecycle::end`, which sets `ended`, the one signal tracked
    // here: a refresh updates the session in place and must not remount
    // (and refetch) the summary.
    let signed_in = session.with_untracked(Option::is_some);
    let reload_kind = if query_value(&navigation::current_query(), "launch").as_deref() == Some("ehr") {
        LaunchKind::Ehr
    } else {
        LaunchKind::Standalone
    };
    move || {
        if let Some(view) = ended.with(|ended| ended.as_ref().map(ended_view)) {
            view
        } else if signed_in {
            view! { <SummaryPage/> }.into_any()
        } else {
            view! {
                <section class="notice" role="status" data-testid="reloaded">
                    <h1>"Your session has ended"</h1>
                    <p>"The page was reloaded. This app keeps your sign-in only in the page's memory, never in the browser's storage, so a reload ends it."</p>
                    <WayBack kind=reload_kind/>
                </section>
            }
            .into_any()
        }
    }
}
