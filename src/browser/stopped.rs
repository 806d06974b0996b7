//! What a panic leaves behind. None should happen (bad input is an error
//! value), but a panic aborts the WebAssembly instance, so the page would
//! freeze showing data that no longer updates. The hook says so on the page,
//! in words a clinician can act on, and gives the console the location.

use wasm_bindgen::prelude::wasm_bindgen;

const STOPPED: &str = "The app stopped because of an internal error. Reload the page, or open the app again \
                       from your EHR. The browser console has the details for your IT team.";

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    /// Logs `detail` and puts `notice` in place of the page's content.
    fn stopped(detail: &str, notice: &str);
}

/// Installs the panic hook; call first thing in `main`.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| stopped(&info.to_string(), STOPPED)));
}

/// Replaces the page's content with the notice.
pub fn show_stopped() {
    stopped("", STOPPED);
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn the_notice_replaces_what_the_page_showed() {
        // As the app's `main` does first: calls.js drew its placeholder,
        // which has a `main` of its own, as this page loaded.
        crate::browser::drop_placeholder();
        let document = web_sys::window().unwrap().document().unwrap();
        let main = document.create_element("main").unwrap();
        main.set_id("main");
        main.set_inner_html("<h1>Zoë Ōtani</h1><p>Hemoglobin 13.2 g/dL</p>");
        document.body().unwrap().append_child(&main).unwrap();
        show_stopped();
        assert_eq!(main.get_attribute("role").as_deref(), Some("alert"));
        assert_eq!(main.text_content().as_deref(), Some(STOPPED));
        assert!(main.first_element_child().is_none(), "the stale record is gone");
    }
}
