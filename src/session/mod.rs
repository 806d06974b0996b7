//! The signed-in session, after sign-in has put it in place: held in the
//! page's memory only (a reload ends it, by design), kept fresh on a timer,
//! refreshed once on a 401, ended with its reason, signed out.
//!
//! [`SessionHandle`] is `Copy`: views, sign-in and the timer hold the same
//! session. Its logic is generic over [`Effects`] (HTTP, clock, tasks), so
//! the rules here (one refresh in flight, retries, paging bounds, the
//! bearer token only for the FHIR origin) are unit-tested natively with a
//! scripted fake (`tests.rs`); the browser passes [`Browser`].

mod dpop;
mod fhir;
mod refresh;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use leptos::prelude::*;
use smart_core::authorize::LaunchKind;
use smart_core::dpop::TokenType;
use smart_core::form::FormPost;
use smart_core::session::Session;
use smart_core::Error;

use crate::browser::http::{Request, Response};
use crate::browser::{Browser, Effects};

pub use dpop::DpopKey;
pub use fhir::Gathered;

/// Why a session ended, while the page still shows it.
#[derive(Debug)]
pub enum EndReason {
    /// The user signed out; `revoked` says whether the server confirmed the
    /// revocation (`None`: the server has no revocation endpoint).
    SignedOut { revoked: Option<bool> },
    /// The token expired, or could not be refreshed.
    Failed(Error),
}

/// A session that has ended: why, and how it had started (which says how
/// to come back).
#[derive(Debug)]
pub struct Ended {
    pub reason: EndReason,
    pub kind: LaunchKind,
}

/// What the handle keeps that views never read.
struct Local<K> {
    /// Bumped when a session starts or ends, so the timer of an earlier
    /// session stops instead of acting on a later one.
    generation: u64,
    refreshes: refresh::Refreshes,
    /// Set by sign-out: no refresh starts while the tokens are revoked.
    signing_out: bool,
    /// The DPoP key of the sign-in under way or of the session.
    dpop: Option<DpopKey<K>>,
}

/// The page's session, or why it ended.
pub struct SessionHandle<E: Effects = Browser> {
    effects: E,
    current: RwSignal<Option<Session>>,
    ended: RwSignal<Option<Ended>>,
    /// What became of the EHR's `smart_style_url`, for the diagnostics.
    style_note: RwSignal<Option<String>>,
    /// In the page's thread only: a WebCrypto key cannot be sent elsewhere.
    local: StoredValue<Local<E::Key>, LocalStorage>,
}

impl<E: Effects> Clone for SessionHandle<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: Effects> Copy for SessionHandle<E> {}

impl<E: Effects> SessionHandle<E> {
    /// A handle holding no session yet.
    pub fn new(effects: E) -> Self {
        SessionHandle {
            effects,
            current: RwSignal::new(None),
            ended: RwSignal::new(None),
            style_note: RwSignal::new(None),
            local: StoredValue::new_local(Local {
                generation: 0,
                refreshes: Default::default(),
                signing_out: false,
                dpop: None,
            }),
        }
    }

    /// Puts a new session in place and starts its refresh timer.
    pub fn install(self, session: Session) {
        let generation = self.bump();
        self.local.try_update_value(|local| local.signing_out = false);
        self.ended.set(None);
        self.current.set(Some(session));
        self.effects.spawn(self.keep_fresh(generation));
    }

    /// Reads the session (tracked: a view reading it updates after a refresh).
    pub fn with<R>(self, read: impl FnOnce(&Session) -> R) -> Option<R> {
        self.current.with(|current| current.as_ref().map(read))
    }

    /// Reads the session without tracking it.
    pub fn with_untracked<R>(self, read: impl FnOnce(&Session) -> R) -> Option<R> {
        self.current.with_untracked(|current| current.as_ref().map(read))
    }

    /// Changes the session in place (the patient chosen in the picker).
    pub fn update(self, change: impl FnOnce(&mut Session)) {
        self.current.update(|current| {
            if let Some(session) = current.as_mut() {
                change(session);
            }
        });
    }

    /// Reads why the session ended, if it has (tracked).
    pub fn with_ended<R>(self, read: impl FnOnce(Option<&Ended>) -> R) -> R {
        self.ended.with(|ended| read(ended.as_ref()))
    }

    pub fn style_note(self) -> Option<String> {
        self.style_note.get()
    }

    pub fn set_style_note(self, note: String) {
        self.style_note.set(Some(note));
    }

    /// Ends the session: tokens and DPoP key dropped from memory, the reason
    /// kept to show. Ending a session that has already ended changes nothing.
    pub fn end(self, reason: EndReason) {
        let Some(kind) = self.current.with_untracked(|s| s.as_ref().map(|s| s.kind)) else { return };
        self.bump();
        self.use_dpop_key(None);
        self.current.set(None);
        self.ended.set(Some(Ended { reason, kind }));
    }

    /// Revokes the refresh and access tokens (RFC 7009) when the server
    /// can, then ends the session. From the start no refresh begins and
    /// the timer stops; a refresh already in flight is waited for, so the
    /// tokens it brings are the ones revoked, not left working. `revoked`
    /// is the first revocation's answer: the refresh token's, when there
    /// is one, since revoking it may end the whole grant.
    pub async fn sign_out(self) {
        self.local.try_update_value(|local| local.signing_out = true);
        self.bump();
        if let Some(round) = self.refresh_in_flight() {
            _ = self.refresh_round(round).await;
        }
        let mut revoked = None;
        for post in self.with_untracked(Session::revocation_requests).unwrap_or_default() {
            let answered = self.post_form(&post).await.is_ok_and(|r| r.is_success());
            revoked.get_or_insert(answered);
        }
        self.end(EndReason::SignedOut { revoked });
    }

    fn bump(self) -> u64 {
        self.local
            .try_update_value(|local| {
                local.generation += 1;
                local.generation
            })
            .unwrap_or_default()
    }

    fn generation(self) -> u64 {
        self.local.try_with_value(|local| local.generation).unwrap_or_default()
    }

    /// Posts a form to the authorization server (token, refresh,
    /// revocation), with a DPoP proof when the page holds a key.
    /// `Err(Ok(detail))`: no answer at all.
    pub async fn post_form(self, post: &FormPost) -> Result<Response, Result<String, Error>> {
        let what = dpop::Proven { method: "POST", target: &post.url, access_token: None };
        self.send_proven(Request::form(post), Some(what)).await
    }

    /// The access token for `url` and its type (Bearer, or DPoP when bound),
    /// if the session still holds one: the session refuses any URL not on
    /// the FHIR base's origin.
    fn token_for(self, url: &smart_core::url::HttpUrl) -> Result<(String, TokenType), Error> {
        self.with_untracked(|s| s.bearer_for(url).map(|t| (t.to_string(), s.token_type))).ok_or(Error::NoSession)?
    }
}
