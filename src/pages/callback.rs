//! `/callback`: the redirect target. Checks the response against the
//! pending authorization (single use, keyed by `state`), removes the code
//! from the address bar, exchanges it, and holds the session in memory.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::callback::{parse_callback, Callback};
use smart_core::Error;

use crate::app::{Config, EndedSlot, SessionSlot, StyleNote};
use crate::browser::{flow, lifecycle, navigation, now, pending_store};
use crate::pages::{summary_path, SignedInArea};
use crate::views::{ErrorView, Progress};

#[component]
pub fn CallbackPage() -> impl IntoView {
    let config = expect_context::<Config>();
    let session = expect_context::<SessionSlot>();
    let ended = expect_context::<EndedSlot>();
    let style_note = expect_context::<StyleNote>().0;
    let query = navigation::current_query();
    // Whatever happens next, the code and state leave the address bar and
    // the history entry now.
    navigation::replace_url(&config.redirect_path);

    let exchange = match parse_callback(&query) {
        Err(error) => Err(error),
        Ok(Callback::Refused { error, state }) => {
            if let Some(state) = state {
                pending_store::discard(&state);
            }
            Err(Error::AuthorizationRefused { error })
        }
        Ok(Callback::Authorized(response)) => match pending_store::take(&response.state) {
            Ok(Some(pending)) => pending.accept(response, now()),
            Ok(None) => Err(Error::StateMismatch),
            Err(error) => Err(error),
        },
    };
    let exchange = match exchange {
        Ok(exchange) => exchange,
        Err(error) => return view! { <ErrorView error/> }.into_any(),
    };

    let failure = RwSignal::new(None::<Error>);
    let done = RwSignal::new(false);
    spawn_local(async move {
        match flow::complete(exchange).await {
            Ok(signed_in) => {
                // The address bar now says how to come back after a reload.
                navigation::replace_url(&summary_path(signed_in.kind, &signed_in.issuer_id));
                if let Some(url) = signed_in.context.smart_style_url.as_ref().map(|s| s.value.clone()) {
                    spawn_local(async move { style_note.set(Some(crate::browser::style::apply(&url).await)) });
                }
                ended.set(None);
                session.set(Some(signed_in));
                lifecycle::start(session, ended);
                done.set(true);
            }
            Err(error) => failure.set(Some(error)),
        }
    });
    view! {
        {move || {
            if let Some(error) = failure.get() {
                view! { <ErrorView error/> }.into_any()
            } else if done.get() {
                view! { <SignedInArea/> }.into_any()
            } else {
                view! { <Progress label="Completing sign-in…"/> }.into_any()
            }
        }}
    }
    .into_any()
}
