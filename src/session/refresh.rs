//! Refreshing the access token (RFC 6749 §6): on a timer before it
//! expires, and once when the FHIR server refuses it. One refresh is in
//! flight at a time and every caller awaits that one: a second refresh
//! would present a refresh token the first has rotated out, and a server
//! that detects reuse (RFC 9700 §4.14.2) then revokes the whole family.
//!
//! The refresh runs as a task of its own, so it finishes whoever waits;
//! each caller waits for its round to finish and reads how it ended.
//! (`futures`' `Shared` would do the same, and is larger in the wasm:
//! bench/README.md.)

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use leptos::prelude::*;
use smart_core::session::{RefreshFailure, Session, TimerStep};
use smart_core::Error;

use super::{EndReason, SessionHandle};
use crate::browser::Effects;

/// The longest single wait of the timer: timers in background tabs are
/// throttled and a laptop may sleep, so the timer wakes regularly and reads
/// the clock again rather than trusting one long wait.
pub const MAX_WAIT_SECONDS: u64 = 30;

/// The refreshes of one handle, numbered: one is in flight while
/// `finished` is behind `started`.
#[derive(Default)]
pub(super) struct Refreshes {
    started: u64,
    finished: u64,
    /// How the last finished refresh failed, if it did (the detail).
    failure: Option<String>,
    /// Callers waiting for the refresh in flight.
    waiting: Vec<Waker>,
}

/// A caller's wait for refresh number `round` to finish.
struct Finished<E: Effects> {
    session: SessionHandle<E>,
    round: u64,
}

impl<E: Effects> Future for Finished<E> {
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let round = self.round;
        let polled = self.session.local.try_update_value(|local| {
            let refreshes = &mut local.refreshes;
            if refreshes.finished >= round {
                return Poll::Ready(refreshes.failure.clone().map_or(Ok(()), Err));
            }
            refreshes.waiting.push(cx.waker().clone());
            Poll::Pending
        });
        polled.unwrap_or(Poll::Ready(Err("the page's session is gone".into())))
    }
}

impl<E: Effects> SessionHandle<E> {
    /// Refreshes the access token, or joins the refresh already in flight.
    /// A refresh that fails for good ends the session with its reason (the
    /// user is asked to sign in again); one that may pass (no answer, 429,
    /// 5xx) leaves the session to the timer's next try, backed off. Every
    /// caller of a round gets the same outcome. None starts while backing
    /// off or signing out.
    pub async fn refresh(self) -> Result<(), Error> {
        let now = self.effects.now();
        let backing_off = self.with_untracked(|session| session.is_backing_off(now)).ok_or(Error::NoSession)?;
        // Not starting, the caller gets the last round's outcome (the
        // failure being backed off from).
        let (round, start) = self
            .local
            .try_update_value(|local| {
                let refreshes = &mut local.refreshes;
                let start = refreshes.finished == refreshes.started && !local.signing_out && !backing_off;
                if start {
                    refreshes.started += 1;
                }
                (refreshes.started, start)
            })
            .ok_or(Error::NoSession)?;
        if start {
            self.effects.spawn(self.run_refresh(round));
        }
        self.refresh_round(round).await
    }

    /// Waits for refresh number `round` to finish, and reads how it ended.
    pub(super) async fn refresh_round(self, round: u64) -> Result<(), Error> {
        Finished { session: self, round }.await.map_err(|detail| Error::RefreshFailed { detail })
    }

    /// The refresh in flight, if one is.
    pub(super) fn refresh_in_flight(self) -> Option<u64> {
        let rounds = self.local.try_with_value(|local| (local.refreshes.started, local.refreshes.finished))?;
        (rounds.0 > rounds.1).then_some(rounds.0)
    }

    /// Refresh number `round`: a failure that will not pass, or comes when
    /// the token has expired, ends the session; then whoever waits is told.
    async fn run_refresh(self, round: u64) {
        let outcome = self.refresh_now().await;
        if let Err((detail, failure)) = &outcome {
            let now = self.effects.now();
            // Bookkeeping only: nothing on the page shows it.
            let lives =
                self.current.try_update_untracked(|s| s.as_mut().is_some_and(|s| s.refresh_failed(*failure, now)));
            if !lives.unwrap_or(false) {
                self.end(EndReason::Failed(Error::RefreshFailed { detail: detail.clone() }));
            }
        }
        let waiting = self.local.try_update_value(|local| {
            let refreshes = &mut local.refreshes;
            refreshes.finished = round;
            refreshes.failure = outcome.err().map(|(detail, _)| detail);
            std::mem::take(&mut refreshes.waiting)
        });
        waiting.into_iter().flatten().for_each(Waker::wake);
    }

    /// One refresh request, applied to the session in place (the rotated
    /// refresh token included). A failure comes with what kind it was.
    async fn refresh_now(self) -> Result<(), (String, RefreshFailure)> {
        let post = self.with_untracked(Session::refresh_request).flatten().ok_or((
            "the server issued no refresh token, so the session cannot be extended".to_string(),
            RefreshFailure::Final,
        ))?;
        let response = self.post_form(&post).await.map_err(|failure| match failure {
            Ok(detail) => (detail, RefreshFailure::NoAnswer),
            Err(error) => (error.diagnosis().detail, RefreshFailure::Final),
        })?;
        let now = self.effects.now();
        let mut outcome = Err("the session ended while it was being refreshed".to_string());
        self.update(|session| {
            outcome = session.apply_refresh(response.token_answer(), now).map_err(|error| match error {
                Error::RefreshFailed { detail } => detail,
                other => other.diagnosis().detail,
            });
        });
        outcome.map_err(|detail| (detail, RefreshFailure::Status(response.status)))
    }

    /// The refresh timer of the session started as `generation`: refreshes
    /// when the token is near its end (again, backed off, after a failure
    /// that may pass), ends the session when it expires without a refresh
    /// token, and stops once that session is gone or signing out.
    pub(super) async fn keep_fresh(self, generation: u64) {
        loop {
            if self.generation() != generation {
                return;
            }
            let now = self.effects.now();
            match self.with_untracked(|session| session.timer_step(now)) {
                None => return,
                Some(TimerStep::Wait(seconds)) => {
                    self.effects.sleep((seconds.min(MAX_WAIT_SECONDS) * 1000) as u32).await;
                }
                // A failure either ended the session or set a backoff the
                // next step waits for.
                Some(TimerStep::Refresh) => _ = self.refresh().await,
                Some(TimerStep::Expire) => return self.end(EndReason::Failed(Error::SessionExpired)),
            }
        }
    }
}
