//! Completing a sign-in: the response is checked against the pending
//! authorization (single use, keyed by `state`), the code leaves the
//! address bar, the code is exchanged, the id_token's signature is checked,
//! and the session is installed.
//!
//! A redirect that carries the `state` of a pending authorization made for
//! this very address is completed as soon as the page starts, before
//! `config.json` has arrived (the pending record holds all the exchange
//! needs), so the token request does not wait for the configuration.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::{CodeExchange, PendingAuthorization};
use smart_core::callback::{parse_callback, Callback};
use smart_core::route::{query_value, signed_in_address};
use smart_core::session::{Session, SignatureVerdict};
use smart_core::Error;

use super::start::new_dpop_key;
use super::{SignIn, Step};
use crate::browser::{http, marks, navigation, now, pending_store, style, webcrypto};
use crate::session::SessionHandle;

/// Exchanges the checked code for tokens, verifies the id_token's
/// signature, and returns the session. The key set is fetched alongside
/// the token request, so verification adds no round trip. With DPoP the
/// request carries a proof of the page's key: made before authorize for a
/// popup, made here for a redirect (a key cannot survive leaving the page).
async fn exchange_code(exchange: CodeExchange, session: SessionHandle) -> Result<Session, Error> {
    match (exchange.dpop().is_on(), session.holds_dpop_key()) {
        (true, false) => session.use_dpop_key(Some(new_dpop_key().await?)),
        (false, _) => session.use_dpop_key(None),
        (true, true) => {}
    }
    let post = exchange.token_request();
    let key_set = async {
        match exchange.key_set_to_fetch() {
            Some(uri) => Some(webcrypto::fetch_key_set(uri).await),
            None => None,
        }
    };
    let (response, key_set) = futures::future::join(session.post_form(&post), key_set).await;
    let response = response.map_err(|failure| match failure {
        Ok(detail) => Error::TokenEndpointUnreachable { url: post.url.to_string(), detail },
        Err(error) => error,
    })?;
    let grant = exchange.finish(response.token_answer(), now())?;
    let verdict = match grant.id_token() {
        Some(token) => webcrypto::verify_id_token(token, key_set).await,
        None => SignatureVerdict::NoIdToken,
    };
    grant.into_session(verdict)
}

impl SignIn {
    /// Exchanges a checked code in this window and installs the session
    /// (redirect and popup sign-ins alike).
    pub(super) fn finish(self, exchange: CodeExchange) {
        self.step.set(Step::Exchanging);
        spawn_local(async move {
            match exchange_code(exchange, self.session).await {
                Ok(session) => self.install(session),
                Err(error) => self.fail(error),
            }
        });
    }

    fn install(self, signed_in: Session) {
        // The address bar now says how to come back after a reload.
        navigation::replace_url(&signed_in_address(signed_in.kind, &signed_in.issuer_id));
        if let Some(url) = signed_in.context.smart_style_url.as_ref().map(|s| s.value.clone()) {
            let session = self.session;
            spawn_local(async move { session.set_style_note(style::apply(&url).await) });
        }
        self.session.install(signed_in);
        marks::mark("smart:signed-in");
        self.step.set(Step::Done);
    }
}

/// Checks this page load's `query` as a callback and, when it is one,
/// starts the exchange; `pending` gives (and removes) the record for a
/// state. The code and state leave the address bar in every case.
fn arrive(
    query: &str,
    session: SessionHandle,
    pending: impl FnOnce(&str) -> Result<Option<PendingAuthorization>, Error>,
) -> SignIn {
    navigation::replace_url(&navigation::current_app_path());
    let sign_in = SignIn::new(session);
    let exchange = match parse_callback(query) {
        Err(error) => Err(error),
        // The server's text (and its link) is shown only for a sign-in this
        // tab started: anyone can send a browser to /callback?error=….
        Ok(Callback::Refused { error, state }) => match state.as_deref().map(pending) {
            Some(Ok(Some(_))) => Err(Error::AuthorizationRefused { error }),
            _ => Err(Error::StateMismatch),
        },
        Ok(Callback::Authorized(response)) => match pending(&response.state) {
            Ok(Some(pending)) => pending.accept(response, now()),
            Ok(None) => Err(Error::StateMismatch),
            Err(error) => Err(error),
        },
    };
    match exchange {
        Ok(exchange) => sign_in.finish(exchange),
        Err(error) => sign_in.fail(error),
    }
    sign_in
}

/// The callback page: completes the redirect back to this page.
pub fn complete_redirect(session: SessionHandle) -> SignIn {
    arrive(&navigation::current_query(), session, pending_store::take)
}

/// Called at start-up, before the configuration loads: completes the
/// sign-in right away when this page is the redirect for a pending
/// authorization (its `state` is known here and its redirect URI is this
/// page). The record is read once, and used for the exchange.
pub fn complete_early(session: SessionHandle) -> Option<SignIn> {
    let query = navigation::current_query();
    let state = query_value(&query, "state")?;
    let pending = pending_store::find(&state)?.ok()?;
    if pending.redirect_uri.path() != navigation::current_path() {
        return None;
    }
    // The deployment's timeout, which config.json (not yet read) would set.
    http::set_timeout_seconds(pending.request_timeout_seconds);
    Some(arrive(&query, session, move |_| {
        pending_store::remove(&state);
        Ok(Some(pending))
    }))
}
