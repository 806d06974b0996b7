//! The sign-in popup's browser side: opening it from a click, handing the
//! response back from it, and waiting for that response in the opener.
//! The rules (what a hand-back looks like, when a page is one) live in
//! `smart_core::popup`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Object, Promise};
use smart_core::popup::{handback_message, is_handback, parse_handback};
use smart_core::url::HttpUrl;
use smart_core::Error;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Window};

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

/// Listeners that must live while the opener waits, removed afterwards.
struct Waiting {
    on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_tick: Closure<dyn FnMut()>,
    interval: i32,
}

/// In the opener: waits for the popup's hand-back and returns the callback
/// query. Messages from other origins or other windows are ignored. A
/// popup seen closed on two polls in a row (a hand-back posted just before
/// closing still gets through) ends the wait with [`Error::PopupClosed`].
pub async fn wait_for_callback(popup: Window) -> Result<String, Error> {
    let window = window().ok_or(Error::PopupClosed)?;
    let origin = window.location().origin().unwrap_or_default();
    let waiting: Rc<RefCell<Option<Waiting>>> = Rc::new(RefCell::new(None));
    let promise = Promise::new(&mut |resolve, reject| {
        let from = popup.clone();
        let origin = origin.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let from_popup = event.source().is_some_and(|source| Object::is(&source, &from));
            if event.origin() != origin || !from_popup {
                return;
            }
            if let Some(query) = event.data().as_string().as_deref().and_then(parse_handback) {
                let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(query));
            }
        });
        let watched = popup.clone();
        let seen_closed = Cell::new(false);
        let on_tick = Closure::<dyn FnMut()>::new(move || {
            if watched.closed().unwrap_or(true) && seen_closed.replace(true) {
                let _ = reject.call0(&JsValue::NULL);
            }
        });
        let _ = window.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
        let interval = window
            .set_interval_with_callback_and_timeout_and_arguments_0(on_tick.as_ref().unchecked_ref(), CLOSED_POLL_MS)
            .unwrap_or_default();
        *waiting.borrow_mut() = Some(Waiting { on_message, _on_tick: on_tick, interval });
    });
    let outcome = JsFuture::from(promise).await;
    if let Some(done) = waiting.borrow_mut().take() {
        let _ = window.remove_event_listener_with_callback("message", done.on_message.as_ref().unchecked_ref());
        window.clear_interval_with_handle(done.interval);
    }
    outcome.ok().and_then(|query| query.as_string()).ok_or(Error::PopupClosed)
}
