//! Refreshing the access token: one refresh in flight at a time; the
//! session in memory is updated in place (rotated refresh token included).

use std::cell::Cell;

use leptos::prelude::*;
use smart_core::Error;

use super::http::post_form;
use super::lifecycle::end;
use super::now;
use super::timer::sleep_ms;
use crate::app::{EndReason, EndedSlot, SessionSlot};

thread_local! {
    static IN_FLIGHT: Cell<bool> = const { Cell::new(false) };
}

/// Refreshes the session's access token. A caller arriving while another
/// refresh runs waits for that one instead of starting a second (a second
/// would present a rotated-out refresh token and revoke the session).
/// A failed refresh ends the session with its reason (the user is asked to
/// relaunch); the caller gets `SessionExpired`.
pub async fn refresh(session: SessionSlot, ended: EndedSlot) -> Result<(), Error> {
    refresh_once(session).await.map_err(|error| {
        end(session, ended, EndReason::Failed(error));
        Error::SessionExpired
    })
}

async fn refresh_once(session: SessionSlot) -> Result<(), Error> {
    if IN_FLIGHT.with(Cell::get) {
        for _ in 0..150 {
            sleep_ms(100).await;
            if !IN_FLIGHT.with(Cell::get) {
                return Ok(());
            }
        }
        return Err(Error::RefreshFailed { detail: "a refresh did not finish in time".into() });
    }
    let request = session
        .with_untracked(|s| s.as_ref().map(|s| s.refresh_request()))
        .ok_or(Error::SessionExpired)?
        .ok_or(Error::SessionExpired)?;
    IN_FLIGHT.with(|f| f.set(true));
    let response = post_form(&request).await;
    IN_FLIGHT.with(|f| f.set(false));
    let response = response.map_err(|detail| Error::RefreshFailed { detail })?;
    let mut outcome = Err(Error::SessionExpired);
    session.update(|current| {
        if let Some(s) = current.as_mut() {
            outcome = s.apply_refresh(response.status, &response.body, now());
        }
    });
    outcome
}
