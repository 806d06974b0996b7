//! The page's own URL: where the app is deployed, leaving for the
//! authorization server, and cleaning the callback URL.

use smart_core::url::HttpUrl;
use smart_core::Error;

fn window() -> web_sys::Window {
    // The app only ever runs in a window (never a worker).
    web_sys::window().expect("a browser window")
}

/// The app's base URL (the document's `<base href>`, set by Trunk's
/// public URL), always ending in `/`.
pub fn app_base_url() -> String {
    let base = window().document().and_then(|d| d.base_uri().ok().flatten()).unwrap_or_else(|| "/".to_string());
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
    window().location().search().unwrap_or_default()
}

/// The current path as the address bar shows it (from the host's root).
pub fn current_path() -> String {
    window().location().pathname().unwrap_or_default()
}

/// The current path, relative to the app's base (always starting with `/`).
pub fn current_app_path() -> String {
    let location = window().location();
    let full = format!("{}{}", location.origin().unwrap_or_default(), location.pathname().unwrap_or_default());
    let base = app_base_url();
    match full.strip_prefix(base.trim_end_matches('/')) {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => location.pathname().unwrap_or_default(),
    }
}

/// Leaves the app for the authorization server.
pub fn go_to(url: &HttpUrl) {
    let _ = window().location().assign(&url.to_string());
}

/// Replaces the current history entry with `path` (relative to the app
/// base), so the authorization code does not stay in the address bar or
/// in history.
pub fn replace_url(path: &str) {
    if let Ok(history) = window().history() {
        let url = format!("{}{}", app_base_url(), path.trim_start_matches('/'));
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}
