//! Entry point: mounts the app. Everything else lives in the library.

fn main() {
    smart_app::browser::stopped::install_panic_hook();
    leptos::mount::mount_to_body(smart_app::App);
}
