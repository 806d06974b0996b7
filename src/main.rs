//! Entry point: mounts the app. Everything else lives in the library.

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    smart_app::browser::stopped::install_panic_hook();
    // When the wasm began to run: what calls.js sent before it is on the
    // timeline before this mark (the benchmark and the tests read it).
    smart_app::browser::marks::mark("smart:started");
    // The header and "Loading…" calls.js drew showed while the wasm loaded.
    smart_app::browser::drop_placeholder();
    leptos::mount::mount_to_body(smart_app::App);
}
