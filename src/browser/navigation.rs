//! The page's own URL: where the app is deployed, leaving for the
//! authorization server, and cleaning the callback URL.

use smart_core::url::HttpUrl;
use smart_core::Error;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    fn here(part: &str) -> String;
    fn go(url: &str, replace: bool);
}

/// The app's base URL (the document's `<base href>`, set by Trunk's
/// public URL), always ending in `/`.
pub fn app_base_url() -> String {
    let base = here("base");
    // Drop any query or fragment the base might carry.
    let base = base.split(['?', '#']).next().unwrap_or("/");
    if base.ends_with('/') {
        return base.to_string();
    }
    match base.rsplit_once('/') {
        Some((directory, _)) => format!("{directory}/"),
        None => format!("{base}/"),
    }
}

/// The redirect URI registered for this deployment: base + redirect path.
pub fn redirect_uri(redirect_path: &str) -> Result<HttpUrl, Error> {
    let text = format!("{}{}", app_base_url(), redirect_path.trim_start_matches('/'));
    HttpUrl::parse(&text).map_err(|e| Error::ConfigInvalid {
        path: "redirect_path".into(),
        problem: format!("the redirect URI \"{text}\" is not usable: {e}"),
    })
}

/// The current URL's query string, with its leading `?`.
pub fn current_query() -> String {
    here("search")
}

/// The current path as the address bar shows it (from the host's root).
pub fn current_path() -> String {
    here("pathname")
}

/// The current path, relative to the app's base (always starting with `/`).
pub fn current_app_path() -> String {
    let path = here("pathname");
    let full = format!("{}{path}", here("origin"));
    let base = app_base_url();
    match full.strip_prefix(base.trim_end_matches('/')) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => path,
    }
}

/// Leaves the app for the authorization server.
pub fn go_to(url: &HttpUrl) {
    go(&url.to_string(), false);
}

/// Replaces the current history entry with `path` (relative to the app
/// base), so the authorization code does not stay in the address bar or
/// in history.
pub fn replace_url(path: &str) {
    go(&format!("{}{}", app_base_url(), path.trim_start_matches('/')), true);
}
