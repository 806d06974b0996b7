//! sessionStorage for the pending authorization, and nothing else.
//!
//! Records are keyed by their `state`, so two launches in two frames or
//! tabs do not overwrite each other. A record holds the PKCE verifier and
//! never a token; it is removed when its callback arrives, and expired
//! records are swept whenever a new one is written.

use smart_core::authorize::PendingAuthorization;
use smart_core::{Error, UnixTime};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

const PREFIX: &str = "smart-pending:";

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    /// Reads (`value` None), writes, or (`remove`) removes `key`.
    fn storage(key: &str, value: Option<&str>, remove: bool) -> JsValue;
    #[wasm_bindgen(js_name = storageKeys)]
    fn storage_keys(prefix: &str) -> String;
}

fn key(state: &str) -> String {
    format!("{PREFIX}{state}")
}

/// The stored record for `state`, as written, left in place.
fn stored(state: &str) -> Option<String> {
    storage(&key(state), None, false).as_string()
}

/// Saves a pending authorization under its state.
pub fn save(pending: &PendingAuthorization, now: UnixTime) -> Result<(), Error> {
    sweep_expired(now);
    let saved = storage(&key(pending.state().as_str()), Some(&pending.to_storage()), false);
    if saved.as_bool() == Some(true) {
        Ok(())
    } else {
        Err(unavailable())
    }
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
    storage(&key(state), None, true);
}

fn sweep_expired(now: UnixTime) {
    for key in storage_keys(PREFIX).split('\n').filter(|k| !k.is_empty()) {
        let stale = match storage(key, None, false).as_string() {
            Some(json) => PendingAuthorization::from_storage(&json).map(|p| p.is_expired(now)).unwrap_or(true),
            None => true,
        };
        if stale {
            storage(key, None, true);
        }
    }
}

fn unavailable() -> Error {
    Error::PendingCorrupt {
        detail: "this browser tab does not allow session storage, which the sign-in needs to survive the redirect"
            .into(),
    }
}
