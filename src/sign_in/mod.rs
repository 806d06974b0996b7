//! Signing in, from the EHR's launch or the patient's choice of provider to
//! a session in place. Pages only call this part:
//!
//! - [`SignIn::start`] (`start.rs`): discovery, the pending authorization,
//!   then either leaving for the authorization server (redirect, the
//!   pending record in sessionStorage) or opening the sign-in window
//!   (popup, the record in memory);
//! - completing (`complete.rs`): the redirect back ([`complete_redirect`],
//!   or [`complete_early`] before the configuration has loaded) or the
//!   popup's hand-back, checked against the pending authorization; the code
//!   exchange with the id_token verified; the session installed.
//!
//! The protocol steps themselves are `smart_core`'s typed flow:
//! `PendingAuthorization::begin` → `accept` → `CodeExchange::finish` →
//! `TokenGrant::into_session`.

mod complete;
mod start;

use leptos::prelude::*;
use smart_core::Error;

use crate::session::SessionHandle;

pub use complete::{complete_early, complete_redirect};
pub use start::discover;

/// Where a sign-in started from this page stands.
#[derive(Debug, Default)]
pub enum Step {
    #[default]
    Idle,
    /// Leaving for the authorization server of the named provider (redirect).
    Leaving(String),
    /// The sign-in window for the named provider is open (popup).
    Waiting(String),
    /// A code came back; it is being exchanged here.
    Exchanging,
    /// The session is in place.
    Done,
    Failed(Error),
}

/// One page's sign-in: where it stands, and the session it puts in place.
#[derive(Clone, Copy)]
pub struct SignIn {
    step: RwSignal<Step>,
    session: SessionHandle,
}

impl SignIn {
    pub fn new(session: SessionHandle) -> SignIn {
        SignIn { step: RwSignal::new(Step::Idle), session }
    }

    /// Reads the step (tracked).
    pub fn with_step<R>(self, read: impl FnOnce(&Step) -> R) -> R {
        self.step.with(read)
    }

    /// Whether the session is in place (tracked).
    pub fn is_done(self) -> bool {
        self.with_step(|step| matches!(step, Step::Done))
    }

    /// Whether a sign-in is under way (tracked): the page should not start another.
    pub fn is_busy(self) -> bool {
        self.with_step(|step| matches!(step, Step::Leaving(_) | Step::Waiting(_) | Step::Exchanging))
    }

    fn fail(self, error: Error) {
        self.step.set(Step::Failed(error));
    }
}
