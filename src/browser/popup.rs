//! The sign-in popup's browser side: opening it from a click, handing the
//! response back from it, and waiting for that response in the opener.
//! The rules (what a hand-back looks like, when a page is one) live in
//! `smart_core::popup`.

use js_sys::Promise;
use smart_core::popup::{handback_message, is_handback, parse_handback, MAX_QUERY_LENGTH, PREFIX};
use smart_core::url::HttpUrl;
use smart_core::Error;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use web_sys::Window;

use super::{navigation, pending_store};

/// How often the opener looks whether the popup was closed, in ms.
const CLOSED_POLL_MS: i32 = 400;

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    fn framed() -> bool;
    #[wasm_bindgen(js_name = openSignInWindow)]
    fn open_sign_in_window(features: &str) -> Option<Window>;
    #[wasm_bindgen(js_name = steerSignInWindow)]
    fn steer_sign_in_window(popup: &Window, url: Option<&str>);
    #[wasm_bindgen(js_name = ownOpener)]
    fn own_opener() -> Option<Window>;
    #[wasm_bindgen(js_name = handBack)]
    fn hand_back_to(opener: &Window, message: &str);
    #[wasm_bindgen(js_name = popupMessage)]
    fn popup_message(popup: &Window, prefix: &str, max: usize, poll_ms: i32) -> Promise;
}

/// Whether the app runs inside a frame (an EHR's iframe).
pub fn is_framed() -> bool {
    framed()
}

/// Opens an empty popup; must run inside the click handler, or the browser
/// blocks it. The authorize URL is set once it is known.
pub fn open_blank() -> Result<Window, Error> {
    open_sign_in_window("popup,width=520,height=720").ok_or(Error::PopupBlocked)
}

/// Sends the popup to the authorization server.
pub fn navigate(popup: &Window, url: &HttpUrl) {
    steer_sign_in_window(popup, Some(&url.to_string()));
}

pub fn close(popup: &Window) {
    steer_sign_in_window(popup, None);
}

/// On the callback page: when this window is a sign-in popup, posts the
/// response to the opener (only to this app's own origin), clears the
/// address bar and closes. Returns whether it did.
pub fn hand_back() -> bool {
    let query = navigation::current_query();
    // Only an opener on this app's origin can be the app (`ownOpener`).
    let Some(opener) = own_opener().filter(|_| is_handback(true, &query, pending_store::is_stored)) else {
        return false;
    };
    navigation::replace_url(&navigation::current_app_path());
    hand_back_to(&opener, &handback_message(&query));
    true
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
