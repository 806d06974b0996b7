//! sessionStorage for the pending authorization, and nothing else.
//!
//! Records are keyed by their `state`, so two launches in two frames or
//! tabs do not overwrite each other. A record holds the PKCE verifier and
//! never a token; it is removed when its callback arrives, and expired
//! records are swept whenever a new one is written.

use smart_core::authorize::PendingAuthorization;
use smart_core::{Error, UnixTime};

const PREFIX: &str = "smart-pending:";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn key(state: &str) -> String {
    format!("{PREFIX}{state}")
}

/// The stored record for `state`, as written, left in place.
fn stored(state: &str) -> Option<String> {
    storage()?.get_item(&key(state)).ok()?
}

/// Saves a pending authorization under its state.
pub fn save(pending: &PendingAuthorization, now: UnixTime) -> Result<(), Error> {
    let storage = storage().ok_or_else(unavailable)?;
    sweep_expired(&storage, now);
    storage.set_item(&key(pending.state().as_str()), &pending.to_storage()).map_err(|_| unavailable())
}

/// The record for `state`, read and checked, left in place (`None`: this
/// tab stored none). Whoever goes on to use it removes it ([`remove`]).
pub fn find(state: &str) -> Option<Result<PendingAuthorization, Error>> {
    stored(state).map(|json| PendingAuthorization::from_storage(&json))
}

/// Removes and returns the record for `state`: a state can be used once.
pub fn take(state: &str) -> Result<Option<PendingAuthorization>, Error> {
    let found = find(state).transpose();
    remove(state);
    found
}

/// Whether a record for `state` is stored in this window.
pub fn is_stored(state: &str) -> bool {
    stored(state).is_some()
}

/// Drops the record for `state`, if any (used, or ended by an error callback).
pub fn remove(state: &str) {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(&key(state));
    }
}

fn sweep_expired(storage: &web_sys::Storage, now: UnixTime) {
    let count = storage.length().unwrap_or(0);
    let keys: Vec<String> = (0..count).filter_map(|i| storage.key(i).ok().flatten()).collect();
    for key in keys.into_iter().filter(|k| k.starts_with(PREFIX)) {
        let stale = match storage.get_item(&key) {
            Ok(Some(json)) => PendingAuthorization::from_storage(&json).map(|p| p.is_expired(now)).unwrap_or(true),
            _ => true,
        };
        if stale {
            let _ = storage.remove_item(&key);
        }
    }
}

fn unavailable() -> Error {
    Error::PendingCorrupt {
        detail: "this browser tab does not allow session storage, which the sign-in needs to survive the redirect"
            .into(),
    }
}
