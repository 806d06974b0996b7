//! Applies the EHR's `smart_style_url` document as CSS custom properties on
//! the root element, after `smart_core::style` validated every value. The
//! document is public: it is fetched without the access token.

use smart_core::style::parse_style;
use smart_core::url::HttpUrl;
use wasm_bindgen::prelude::wasm_bindgen;

use super::http::{fetch, Request};

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    /// `document.documentElement.style.setProperty(name, value)`: one
    /// property value, which cannot add other declarations.
    #[wasm_bindgen(js_name = setRootProperty)]
    fn set_root_property(name: &str, value: &str);
}

/// Fetches, validates and applies the style; returns a note for the
/// diagnostics (what was applied, what was refused, or why nothing was).
pub async fn apply(url: &str) -> String {
    let target = match HttpUrl::parse(url) {
        Ok(u) if u.is_secure() => u,
        Ok(_) => return format!("smart_style_url {url} is not https; not fetched"),
        Err(e) => return format!("smart_style_url is not a usable URL ({e}); not fetched"),
    };
    let response = match fetch(Request::json(target.to_string())).await {
        Ok(r) if r.status == 200 => r,
        Ok(r) => return format!("the style at {target} answered HTTP {}; the app's own theme is used", r.status),
        Err(e) => return format!("the style at {target} could not be fetched ({e}); the app's own theme is used"),
    };
    let style = match parse_style(&response.body) {
        Ok(style) => style,
        Err(e) => return format!("{e}; the app's own theme is used"),
    };
    for (property, value) in &style.properties {
        set_root_property(property, value);
    }
    let mut note = format!("{} style values applied from {target}", style.properties.len());
    if !style.rejected.is_empty() {
        note.push_str(&format!("; refused: {}", style.rejected.join("; ")));
    }
    note
}
