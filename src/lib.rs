//! The SMART on FHIR app: a Leptos client-side-rendered single-page app.
//!
//! Layered one way; nothing imports from a layer above it (checked by the
//! `layering` test):
//!
//! ```text
//! app (shell, routing) → pages → views → sign_in → session → browser → smart_core
//! ```
//!
//! - [`smart_core`] holds the protocol, with no browser types.
//! - [`browser`] holds the effects: fetch, sessionStorage for the pending
//!   authorization only, navigation, the popup, WebCrypto, timers.
//! - [`session`]: the signed-in session's handle; refresh, end, sign-out and
//!   FHIR reads, over effects passed in (natively tested with a fake).
//! - [`sign_in`]: starting a sign-in and completing it into a session.
//! - [`views`]: small components; [`pages`]: one per route.
//! - [`context`]: what the shell provides to pages and views.

pub mod app;
pub mod browser;
pub mod context;
pub mod pages;
pub mod session;
pub mod sign_in;
pub mod views;

pub use app::App;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod layering;
