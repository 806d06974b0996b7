//! Browser effects, kept thin: every decision is made in `smart_core`.

pub mod config;
pub mod fhir_client;
pub mod flow;
pub mod http;
pub mod lifecycle;
pub mod marks;
pub mod navigation;
pub mod pending_store;
pub mod popup;
pub mod refresh;
pub mod stopped;
pub mod style;
pub mod timer;
pub mod webcrypto;

use smart_core::UnixTime;

/// The current time in whole seconds since the epoch.
pub fn now() -> UnixTime {
    (js_sys::Date::now() / 1000.0) as UnixTime
}
