//! What the shell provides to every page and view, and how they read it:
//! the configuration ([`Config`]), the page's [`SessionHandle`], and, on a
//! callback page completed at start-up, its [`SignIn`].
//!
//! [`SessionHandle`]: crate::session::SessionHandle
//! [`SignIn`]: crate::sign_in::SignIn

use std::sync::Arc;

use leptos::prelude::*;
use smart_core::config::AppConfig;

/// The validated configuration, provided once loaded.
pub type Config = Arc<AppConfig>;

/// A context the shell provides before any page or view is created. Not
/// Leptos's `expect_context`: its panic message formats the type name with
/// `Debug`, which would bring the string-escaping tables into the wasm.
pub fn context<T: Clone + 'static>() -> T {
    use_context::<T>().expect("a context that App provides")
}
