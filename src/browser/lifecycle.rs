//! The session's life after sign-in: refresh before expiry on a timer,
//! end it (with the reason) when it cannot go on, and sign out.

use std::cell::Cell;

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::Error;

use super::http::post_form;
use super::now;
use super::refresh::refresh;
use super::timer::sleep_ms;
use crate::app::{EndReason, Ended, EndedSlot, SessionSlot};

thread_local! {
    /// Bumped whenever a session starts or ends, so a timer loop of an
    /// earlier session stops instead of acting on a later one.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

fn bump() -> u64 {
    GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    })
}

fn current() -> u64 {
    GENERATION.with(Cell::get)
}

/// The longest single wait: timers in background tabs are throttled, so
/// the loop wakes regularly and re-reads the clock.
const MAX_WAIT_SECONDS: u64 = 30;

/// Ends the session: tokens dropped from memory, the reason kept to show.
pub fn end(session: SessionSlot, ended: EndedSlot, reason: EndReason) {
    let kind = session.with_untracked(|s| s.as_ref().map(|s| s.kind));
    if let Some(kind) = kind {
        bump();
        session.set(None);
        ended.set(Some(Ended { reason, kind }));
    }
}

/// Starts the refresh timer for a session that has just begun.
pub fn start(session: SessionSlot, ended: EndedSlot) {
    let generation = bump();
    spawn_local(async move {
        loop {
            let Some((wait, has_refresh, expires_in)) = session.with_untracked(|s| {
                s.as_ref().map(|s| {
                    let now = now();
                    (s.seconds_until_refresh(now), s.has_refresh_token(), s.expires_at.saturating_sub(now))
                })
            }) else {
                return;
            };
            if generation != current() {
                return;
            }
            let due_in = if has_refresh { wait } else { expires_in };
            if due_in > 0 {
                sleep_ms((due_in.min(MAX_WAIT_SECONDS) * 1000) as u32).await;
                continue;
            }
            if !has_refresh {
                end(session, ended, EndReason::Failed(Error::SessionExpired));
                return;
            }
            if refresh(session, ended).await.is_err() {
                return; // refresh ended the session, with its reason
            }
        }
    });
}

/// Revokes the refresh token (RFC 7009) when the server can, then ends the
/// session.
pub async fn sign_out(session: SessionSlot, ended: EndedSlot) {
    let request = session.with_untracked(|s| s.as_ref().and_then(|s| s.revocation_request()));
    let revoked = match request {
        Some(request) => Some(post_form(&request).await.is_ok_and(|r| (200..300).contains(&r.status))),
        None => None,
    };
    end(session, ended, EndReason::SignedOut { revoked });
}
