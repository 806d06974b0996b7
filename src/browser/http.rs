//! `fetch`, reduced to what the app needs: a status, a few headers and the
//! body as text. Written on `web_sys` directly: a wrapper crate would add
//! bundle weight for nothing the app uses.

use std::cell::Cell;

use smart_core::config::DEFAULT_REQUEST_TIMEOUT_SECONDS;
use smart_core::form::FormPost;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCache, RequestCredentials, RequestInit};

/// An HTTP response as the core consumes it.
pub struct TextResponse {
    pub status: u16,
    pub body: String,
    headers: Headers,
}

impl TextResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}

/// What the browser says about a failed request (offline, DNS, CORS
/// refusal): it does not say which, on purpose, so neither can we.
fn describe(error: &JsValue) -> String {
    match error.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => error.as_string().unwrap_or_else(|| "unknown error".to_string()),
    }
}

thread_local! {
    /// `request_timeout_seconds` from config.json, once it is loaded.
    static TIMEOUT_SECONDS: Cell<u32> = const { Cell::new(DEFAULT_REQUEST_TIMEOUT_SECONDS) };
}

/// Sets how long every later request may take.
pub fn set_timeout_seconds(seconds: u32) {
    TIMEOUT_SECONDS.set(seconds);
}

fn network_failure(error: JsValue) -> String {
    let aborted = error.dyn_ref::<web_sys::DomException>().is_some_and(|e| e.name() == "AbortError");
    if aborted {
        return format!(
            "the server did not answer within {} seconds; it may be overloaded, or the network may be down",
            TIMEOUT_SECONDS.get()
        );
    }
    format!(
        "the browser could not complete the request ({}); the server may be down, may not allow this app's origin (CORS), or may be missing from the site's Content-Security-Policy (connect-src; see the browser console)",
        describe(&error)
    )
}

/// The parts of a request the app varies.
pub struct Fetch<'a> {
    pub method: &'static str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a str>,
    pub cache: RequestCache,
}

/// Sends a request without cookies or other credentials (every server the
/// app talks to authenticates by bearer token or PKCE, never by cookie)
/// and reads the whole body as text. `cache` is `NoStore` for anything
/// holding a token or clinical data (it must not land in the disk cache of
/// a shared workstation) and for the deployment's configuration.
pub async fn fetch(request: Fetch<'_>) -> Result<TextResponse, String> {
    let headers = Headers::new().map_err(network_failure)?;
    for (name, value) in request.headers {
        headers.set(name, value).map_err(network_failure)?;
    }
    let init = RequestInit::new();
    init.set_method(request.method);
    init.set_headers(&headers);
    init.set_credentials(RequestCredentials::Omit);
    init.set_cache(request.cache);
    if let Some(body) = request.body {
        init.set_body(&JsValue::from_str(body));
    }
    let window = web_sys::window().ok_or("no browser window")?;
    // No answer in time aborts the request (and the reading of its body).
    let controller = AbortController::new().map_err(network_failure)?;
    init.set_signal(Some(&controller.signal()));
    // Kept until the timer is cleared below, then dropped: nothing leaks.
    let abort = Closure::once(move || controller.abort());
    let timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            abort.as_ref().unchecked_ref(),
            (TIMEOUT_SECONDS.get() * 1000) as i32,
        )
        .unwrap_or_default();
    let answer = async {
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(request.url, &init)).await?.unchecked_into();
        let text = JsFuture::from(response.text()?).await?;
        Ok::<_, JsValue>((response, text))
    }
    .await;
    window.clear_timeout_with_handle(timer);
    let (response, text) = answer.map_err(network_failure)?;
    Ok(TextResponse {
        status: response.status(),
        body: text.as_string().unwrap_or_default(),
        headers: response.headers(),
    })
}

/// GET a JSON document, past the HTTP cache.
pub async fn get_json(url: &str) -> Result<TextResponse, String> {
    let headers = [("Accept", "application/json")];
    fetch(Fetch { method: "GET", url, headers: &headers, body: None, cache: RequestCache::NoStore }).await
}

/// GET public metadata (a discovery document) through the HTTP cache, as
/// its server's `Cache-Control` allows: a clinician's second launch of the
/// day need not ask again.
pub async fn get_metadata(url: &str) -> Result<TextResponse, String> {
    let headers = [("Accept", "application/json")];
    fetch(Fetch { method: "GET", url, headers: &headers, body: None, cache: RequestCache::Default }).await
}

/// POST a form (token, refresh, revocation).
pub async fn post_form(post: &FormPost) -> Result<TextResponse, String> {
    fetch(Fetch {
        method: "POST",
        url: &post.url.to_string(),
        headers: &[("Content-Type", FormPost::CONTENT_TYPE), ("Accept", "application/json")],
        body: Some(post.body()),
        cache: RequestCache::NoStore,
    })
    .await
}
