//! The deployment check as a page, at `/check/` beside the app: the
//! checks of `smart-deploy check` (smart-core's `check`), run from the
//! deployed origin, so the browser's own CORS and Content-Security-Policy
//! decide what it may read. Not linked from the clinical screens, and not
//! part of the app's bundle: a page of its own, without Leptos, built by
//! `scripts/build-check-page.sh` (Trunk's post-build hook runs it).

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod page;
// Natively only the request logic is built (for its tests); what only the
// browser side reads would be reported unused.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod run;

#[cfg(target_arch = "wasm32")]
fn main() {
    wasm_bindgen_futures::spawn_local(page::run());
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the check page runs in a browser: build it with scripts/build-check-page.sh");
    std::process::exit(2);
}
