//! End-to-end harness: the release build of the app in headless Chromium,
//! driven through chromedriver with a fresh browser profile per test.
//!
//! A failing test leaves a screenshot and the page text in
//! `tests/e2e/artifacts/`.

pub mod browser;
pub mod server;

use std::path::PathBuf;

pub use browser::Browser;
pub use server::{Request, Response, TestServer};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The built app (`trunk build --release` output), or `E2E_DIST`.
pub fn dist_dir() -> PathBuf {
    let dir = std::env::var_os("E2E_DIST").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("dist"));
    assert!(
        dir.join("index.html").is_file(),
        "{} has no index.html: build the app first (scripts/test.sh does: trunk build --release)",
        dir.display()
    );
    dir
}

/// The shipped `public/config.json`, parsed.
pub fn shipped_config() -> serde_json::Value {
    let text = std::fs::read_to_string(workspace_root().join("public/config.json")).expect("public/config.json");
    serde_json::from_str(&text).expect("config.json is JSON")
}
