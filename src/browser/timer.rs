//! Waiting without blocking: a `setTimeout` as a future (`sleep` in calls.js).

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_js(ms: u32) -> js_sys::Promise;
}

pub async fn sleep_ms(ms: u32) {
    let _ = JsFuture::from(sleep_js(ms)).await;
}
