//! The SMART on FHIR app: a Leptos client-side-rendered single-page app.
//!
//! - [`smart_core`] holds the protocol (no browser types).
//! - [`browser`] holds the effects: fetch, sessionStorage for the pending
//!   authorization only, navigation, the clock.
//! - [`pages`] has one component per route; [`views`] the small pieces.

pub mod app;
pub mod browser;
pub mod pages;
pub mod views;

pub use app::App;
