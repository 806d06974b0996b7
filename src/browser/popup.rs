//! The sign-in popup's browser side: opening it from a click, handing the
//! response back from it, and waiting for that response in the opener.
//! The rules (what a hand-back looks like, when a page is one) live in
//! `smart_core::popup`.

use js_sys::{Object, Promise};
use smart_core::popup::{handback_message, is_handback, parse_handback, MAX_QUERY_LENGTH, PREFIX};
use smart_core::url::HttpUrl;
use smart_core::Error;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use super::{navigation, pending_store};

/// How often the opener looks whether the popup was closed, in ms.
const CLOSED_POLL_MS: i32 = 400;

fn window() -> Option<Window> {
    web_sys::window()
}

/// Whether the app runs inside a frame (an EHR's iframe).
pub fn is_framed() -> bool {
    let Some(window) = window() else { return false };
    match window.top() {
        Ok(Some(top)) => !Object::is(&top, &window),
        // A top we may not even look at is another page: framed.
        _ => true,
    }
}

/// Opens an empty popup; must run inside the click handler, or the browser
/// blocks it. The authorize URL is set once it is known.
pub fn open_blank() -> Result<Window, Error> {
    let features = "popup,width=520,height=720";
    match window().map(|w| w.open_with_url_and_target_and_features("about:blank", "smart-sign-in", features)) {
        Some(Ok(Some(popup))) => Ok(popup),
        _ => Err(Error::PopupBlocked),
    }
}

/// Sends the popup to the authorization server.
pub fn navigate(popup: &Window, url: &HttpUrl) {
    let _ = popup.location().set_href(&url.to_string());
}

pub fn close(popup: &Window) {
    let _ = popup.close();
}

/// On the callback page: when this window is a sign-in popup, posts the
/// response to the opener (only to this app's own origin), clears the
/// address bar and closes. Returns whether it did.
pub fn hand_back() -> bool {
    let Some(window) = window() else { return false };
    let origin = window.location().origin().unwrap_or_default();
    // The opener is another window's global: `instanceof Window` is false
    // across windows, so it is not checked with `dyn_into`. Only an opener
    // on this app's origin can be the app (reading a cross-origin
    // window's location fails), so an EHR that opened the app in a new
    // window is never mistaken for it.
    let opener = window
        .opener()
        .ok()
        .filter(|o| !o.is_null() && !o.is_undefined())
        .map(|o| o.unchecked_into::<Window>())
        .filter(|o| o.location().origin().ok().as_deref() == Some(origin.as_str()));
    let query = navigation::current_query();
    let Some(opener) = opener.filter(|_| is_handback(true, &query, pending_store::is_stored)) else { return false };
    navigation::replace_url(&navigation::current_app_path());
    let _ = opener.post_message(&JsValue::from_str(&handback_message(&query)), &origin);
    let _ = window.close();
    true
}

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    #[wasm_bindgen(js_name = popupMessage)]
    fn popup_message(popup: &Window, prefix: &str, max: usize, poll_ms: i32) -> Promise;
}

/// In the opener: waits for the popup's hand-back and returns the callback
/// query. Messages from other origins or other windows are ignored (the
/// listener is `popupMessage` in calls.js). A popup seen closed on two
/// polls in a row (a hand-back posted just before closing still gets
/// through) ends the wait with [`Error::PopupClosed`].
pub async fn wait_for_callback(popup: Window) -> Result<String, Error> {
    let longest = PREFIX.len() + MAX_QUERY_LENGTH;
    let message = JsFuture::from(popup_message(&popup, PREFIX, longest, CLOSED_POLL_MS)).await;
    let data = message.ok().and_then(|data| data.as_string()).ok_or(Error::PopupClosed)?;
    parse_handback(&data).map(str::to_string).ok_or(Error::PopupClosed)
}
