//! The SMART App Launch protocol core.
//!
//! Everything the SMART App Launch 2.x specification and OAuth 2 ask of a
//! browser-based public client, as plain Rust with no browser types: the app
//! performs the I/O (fetch, storage, redirects) and hands the results to the
//! functions here, so every rule is unit-tested natively with `cargo test`.
//!
//! The flow is modelled with types so that steps cannot be taken out of order:
//!
//! ```text
//! AppConfig ──(iss / provider choice)──▶ IssuerConfig
//!     + AuthorizationServer (discovery)
//!     ──PendingAuthorization::begin──▶ (authorize URL, PendingAuthorization)
//!     ──accept(callback)──▶ CodeExchange ──finish(token response)──▶ Session
//! ```
//!
//! Time is always passed in as [`UnixTime`]: `SystemTime::now()` panics on
//! `wasm32-unknown-unknown`, and tests want a fixed clock anyway.

pub mod authorize;
pub mod callback;
// The deployment check (smart-deploy check). Behind a feature so the app's
// wasm is compiled as if it were not there: its calls into the rest of the
// core changed LLVM's inlining there (+0.4 KB measured).
#[cfg(any(test, feature = "check"))]
pub mod check;
pub mod config;
pub mod context;
pub mod discovery;
pub mod dpop;
pub mod error;
pub mod fhir;
pub mod form;
pub mod id_token;
pub mod json;
pub mod jwt;
pub mod launch;
pub mod pkce;
pub mod popup;
pub mod random;
pub mod route;
pub mod scopes;
pub mod secret;
pub mod session;
pub mod style;
pub mod token;
pub mod url;

pub use error::{Diagnosis, Error};

/// Seconds since the Unix epoch, supplied by the caller.
pub type UnixTime = u64;
