//! Serves the built app (`dist/`) the way a static host with a single-page
//! app rewrite does: files as they are, any other path as `index.html`,
//! with the hosting headers `smart-deploy` writes for its `config.json`
//! (CSP, caching). Used by the demo command, so the app runs on its own
//! origin beside the sandbox exactly as it would on a CDN.

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

#[derive(Clone)]
struct Served {
    dir: PathBuf,
    /// The EHR simulator's origin, which frames the app.
    embedder: String,
}

/// The headers for `path`: the policy for the configuration on disk now
/// (it may be edited while the demo runs), and the cache rule.
fn hosting_headers(served: &Served, path: &str) -> Vec<(&'static str, String)> {
    let config = std::fs::read_to_string(served.dir.join("config.json")).unwrap_or_default();
    let mut headers = match smart_deploy::Site::new(&config, "/", std::slice::from_ref(&served.embedder), &[]) {
        Ok(site) => vec![("content-security-policy", site.csp())],
        // A broken config.json is for the app to explain, not the host.
        Err(_) => Vec::new(),
    };
    let hashed = [".wasm", ".js", ".css"].iter().any(|ext| path.ends_with(ext));
    let cache = if hashed { smart_deploy::CACHE_HASHED } else { smart_deploy::CACHE_REVALIDATE };
    headers.push(("cache-control", cache.to_string()));
    headers.push(("x-content-type-options", "nosniff".to_string()));
    headers
}

async fn serve(State(served): State<Served>, request: Request) -> Response {
    let dir = &served.dir;
    let relative = request.uri().path().trim_start_matches('/').to_string();
    let safe = Path::new(&relative).components().all(|c| matches!(c, Component::Normal(_)));
    if !safe {
        return with_type(StatusCode::BAD_REQUEST, "text/plain", "bad path".into());
    }
    let mut file = dir.join(&relative);
    // A folder's own page, as static hosts serve it: the check page.
    if !relative.is_empty() && file.join("index.html").is_file() {
        file = file.join("index.html");
    }
    if relative.is_empty() || !file.is_file() {
        if Path::new(&relative).extension().is_some() {
            return with_type(StatusCode::NOT_FOUND, "text/plain", "not found".into());
        }
        file = dir.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mut response = Response::new(axum::body::Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(axum::http::header::CONTENT_TYPE, content_type(&file).parse().unwrap());
            for (name, value) in hosting_headers(&served, &relative) {
                if let Ok(value) = value.parse() {
                    headers.insert(name, value);
                }
            }
            response
        }
        Err(_) => with_type(StatusCode::NOT_FOUND, "text/plain", "not found".into()),
    }
}

pub fn router(dir: PathBuf, embedder: String) -> Router {
    Router::new().fallback(serve).with_state(Served { dir, embedder })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_folder_with_a_page_serves_it_and_other_paths_the_app() {
        let dir = std::env::temp_dir().join(format!("static-app-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("check")).unwrap();
        std::fs::write(dir.join("index.html"), "the app").unwrap();
        std::fs::write(dir.join("check/index.html"), "the check page").unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = router(dir.clone(), "http://localhost:1".into());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let get = |path: &str| {
            let url = format!("http://127.0.0.1:{port}{path}");
            tokio::task::spawn_blocking(move || smart_test_support::http("GET", &url, &[], ""))
        };
        assert_eq!(get("/check/").await.unwrap().body, "the check page");
        assert_eq!(get("/check").await.unwrap().body, "the check page");
        assert_eq!(get("/callback").await.unwrap().body, "the app");
        assert_eq!(get("/").await.unwrap().body, "the app");
        assert_eq!(get("/missing.js").await.unwrap().status, 404);
        std::fs::remove_dir_all(dir).ok();
    }
}
