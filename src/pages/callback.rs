//! The redirect back from the authorization server. Checks the response
//! against the pending authorization (single use, keyed by `state`),
//! removes the code from the address bar, exchanges it, and holds the
//! session in memory.
//!
//! A redirect that carries the `state` of a pending authorization made for
//! this very address is completed as soon as the page starts, before
//! `config.json` has arrived (the pending record holds all the exchange
//! needs), so the token request does not wait for the configuration.
//! Anything else on the callback path is explained once the page renders.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::CodeExchange;
use smart_core::callback::{parse_callback, Callback};
use smart_core::Error;

use crate::app::{context, EndedSlot, SessionSlot, StyleNote};
use crate::browser::{flow, lifecycle, marks, navigation, now, pending_store};
use crate::pages::{summary_path, SignedInArea};
use crate::views::{ErrorView, Progress};

/// A sign-in being completed: set when the session is in place or the
/// exchange failed. Made in a component (it takes the app's session slots
/// from the context there), used from tasks that have no context.
#[derive(Clone, Copy)]
pub struct Completion {
    pub failure: RwSignal<Option<Error>>,
    pub done: RwSignal<bool>,
    session: SessionSlot,
    ended: EndedSlot,
    style_note: RwSignal<Option<String>>,
}

impl Completion {
    pub fn from_context() -> Completion {
        Completion {
            failure: RwSignal::new(None),
            done: RwSignal::new(false),
            session: context::<SessionSlot>(),
            ended: context::<EndedSlot>(),
            style_note: context::<StyleNote>().0,
        }
    }
}

/// Checks this page load's query as a callback and, when it is one,
/// starts the exchange. The code and state leave the address bar and
/// the history entry in every case.
fn arrive(query: &str) -> Completion {
    navigation::replace_url(&navigation::current_app_path());
    let exchange = match parse_callback(query) {
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
    let completion = Completion::from_context();
    match exchange {
        Ok(exchange) => finish_sign_in(exchange, completion),
        Err(error) => completion.failure.set(Some(error)),
    }
    completion
}

/// Exchanges a checked code in this window and puts the session in place
/// (redirect and popup sign-ins alike).
pub fn finish_sign_in(exchange: CodeExchange, completion: Completion) {
    let Completion { session, ended, style_note, .. } = completion;
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
                marks::mark("smart:signed-in");
                lifecycle::start(session, ended);
                completion.done.set(true);
            }
            Err(error) => completion.failure.set(Some(error)),
        }
    });
}

/// Called at start-up, before the configuration loads: completes the
/// sign-in right away when this page is the redirect for a pending
/// authorization (its `state` is known and its redirect URI is this page).
pub fn start_early() -> Option<Completion> {
    let query = navigation::current_query();
    let state = smart_core::route::query_value(&query, "state")?;
    let redirect_uri = pending_store::redirect_uri_for(&state)?;
    (redirect_uri.path() == navigation::current_path()).then(|| arrive(&query))
}

#[component]
pub fn CallbackPage() -> impl IntoView {
    let Completion { failure, done, .. } =
        use_context::<Completion>().unwrap_or_else(|| arrive(&navigation::current_query()));
    move || {
        if let Some(view) = failure.with(|f| f.as_ref().map(|error| view! { <ErrorView error/> }.into_any())) {
            view
        } else if done.get() {
            view! { <SignedInArea/> }.into_any()
        } else {
            view! { <Progress label="Completing sign-in…"/> }.into_any()
        }
    }
}
