//! Browser effects, kept thin: every decision is made in `smart_core`, or
//! in the session and sign-in parts that call these. Nothing here imports
//! from a layer above it.
//!
//! What the session's logic needs from the outside world (HTTP, the clock,
//! a place to run a task, the DPoP key's signature) is the [`Effects`] trait, passed in the way
//! `oauth2` takes its HTTP client: the app supplies [`Browser`], and the
//! session's native tests a scripted fake. The other modules (storage of
//! the pending record, navigation, the popup, WebCrypto, style) are called
//! directly by sign-in, the pages and the shell, and are exercised end to
//! end.

pub mod config;
pub mod http;
pub mod marks;
pub mod navigation;
pub mod pending_store;
pub mod popup;
pub mod stopped;
pub mod style;
pub mod timer;
pub mod webcrypto;

use std::future::Future;

use smart_core::UnixTime;

use http::{Request, Response};

/// HTTP, time and tasks, as the session uses them.
pub trait Effects: Copy + 'static {
    /// Sends `request`, with a DPoP proof when `proof` gives the key and
    /// the proof's signing input (signed on the way); `Err` is a failure to
    /// get any answer (network, CORS, timeout, signing), described for the
    /// user.
    fn send(
        self,
        request: Request<'_>,
        proof: Option<(&Self::Key, &str)>,
    ) -> impl Future<Output = Result<Response, String>>;

    /// The current time in whole seconds since the epoch.
    fn now(self) -> UnixTime;

    /// Waits `ms` milliseconds without blocking.
    fn sleep(self, ms: u32) -> impl Future<Output = ()>;

    /// Runs `task` to completion in the background.
    fn spawn(self, task: impl Future<Output = ()> + 'static);

    /// The page's DPoP signing key (in the browser, a non-extractable
    /// WebCrypto key, signing with ES256).
    type Key: Clone + 'static;
}

/// The browser: `fetch`, `Date.now`, `setTimeout` and the page's task queue.
#[derive(Clone, Copy, Debug, Default)]
pub struct Browser;

impl Effects for Browser {
    fn send(
        self,
        request: Request<'_>,
        proof: Option<(&Self::Key, &str)>,
    ) -> impl Future<Output = Result<Response, String>> {
        http::send(request, proof)
    }

    fn now(self) -> UnixTime {
        now()
    }

    fn sleep(self, ms: u32) -> impl Future<Output = ()> {
        timer::sleep_ms(ms)
    }

    fn spawn(self, task: impl Future<Output = ()> + 'static) {
        leptos::task::spawn_local(task);
    }

    type Key = web_sys::CryptoKey;
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    #[wasm_bindgen(js_name = today)]
    fn today_js() -> u32;
    /// The value of field `name` of the form `event` was sent from.
    #[wasm_bindgen(js_name = formField)]
    pub fn form_field(event: &web_sys::Event, name: &str) -> String;
    /// Takes away the header and "Loading…" that `calls.js` drew while the
    /// wasm loaded, as the app draws its page.
    #[wasm_bindgen(js_name = dropPlaceholder)]
    pub fn drop_placeholder();
}

/// Today's date on this computer's calendar: (year, month 1–12, day).
pub fn today() -> (i32, u32, u32) {
    let date = today_js();
    ((date / 10_000) as i32, date / 100 % 100, date % 100)
}

/// The current time in whole seconds since the epoch.
pub fn now() -> UnixTime {
    (js_sys::Date::now() / 1000.0) as UnixTime
}
