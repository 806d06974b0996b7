//! `fetch`, reduced to what the protocol core needs: a status and a body.

use gloo_net::http::Request;
use smart_core::form::FormPost;
use web_sys::RequestCache;

/// An HTTP response as the core consumes it.
pub struct TextResponse {
    pub status: u16,
    pub body: String,
}

/// A network-level failure (offline, DNS, CORS refusal): the browser does
/// not say which, on purpose, so neither can we.
pub fn network_failure(error: gloo_net::Error) -> String {
    format!("the browser could not complete the request ({error}); the server may be down or may not allow this app's origin (CORS)")
}

/// GET a JSON document without credentials and without the HTTP cache
/// (configuration and discovery must reflect the deployment as it is now).
pub async fn get_json(url: &str) -> Result<TextResponse, String> {
    let response = Request::get(url)
        .header("Accept", "application/json")
        .cache(RequestCache::NoStore)
        .send()
        .await
        .map_err(network_failure)?;
    read(response).await
}

async fn read(response: gloo_net::http::Response) -> Result<TextResponse, String> {
    let status = response.status();
    let body = response.text().await.map_err(network_failure)?;
    Ok(TextResponse { status, body })
}

/// POST a form (token, refresh, revocation). No cookies are sent.
pub async fn post_form(post: &FormPost) -> Result<TextResponse, String> {
    let response = Request::post(&post.url.to_string())
        .header("Content-Type", FormPost::CONTENT_TYPE)
        .header("Accept", "application/json")
        .cache(RequestCache::NoStore)
        .body(post.body().to_string())
        .map_err(network_failure)?
        .send()
        .await
        .map_err(network_failure)?;
    read(response).await
}
