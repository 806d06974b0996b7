//! Entry point: mounts the app. Everything else lives in the library.

fn main() {
    // A panic should never happen (bad input is an error value), but if one
    // does, the console says where instead of "unreachable executed".
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(smart_app::App);
}
