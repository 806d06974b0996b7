//! Serves the built app (`dist/`) the way a static host with a single-page
//! app rewrite does: files as they are, any other path as `index.html`.
//! Used by the demo command, so the app runs on its own origin beside the
//! sandbox exactly as it would on a CDN.

use std::path::{Component, Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;

use crate::http::with_type;

/// The `Content-Type` a static host sends for a built app's files.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

async fn serve(State(dir): State<PathBuf>, request: Request) -> Response {
    let relative = request.uri().path().trim_start_matches('/').to_string();
    let safe = Path::new(&relative).components().all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return with_type(StatusCode::BAD_REQUEST, "text/plain", "bad path".into());
    }
    let mut file = dir.join(&relative);
    if relative.is_empty() || !file.is_file() {
        if Path::new(&relative).extension().is_some() {
            return with_type(StatusCode::NOT_FOUND, "text/plain", "not found".into());
        }
        file = dir.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mut response = Response::new(axum::body::Body::from(bytes));
            response.headers_mut().insert(axum::http::header::CONTENT_TYPE, content_type(&file).parse().unwrap());
            response
        }
        Err(_) => with_type(StatusCode::NOT_FOUND, "text/plain", "not found".into()),
    }
}

pub fn router(dir: PathBuf) -> Router {
    Router::new().fallback(serve).with_state(dir)
}
