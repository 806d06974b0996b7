//! `fetch`, reduced to what the app needs: a status, the few headers the
//! app reads, and the body as text. Written on `web_sys` directly: a wrapper
//! crate would add bundle weight for nothing the app uses.
//!
//! [`Request`] and [`Response`] hold no browser types, so the session's
//! logic runs natively against a scripted fake ([`super::Effects`]).

use std::cell::Cell;

use smart_core::config::DEFAULT_REQUEST_TIMEOUT_SECONDS;
use smart_core::form::FormPost;
use smart_core::url::HttpUrl;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, RequestCache, RequestCredentials, RequestInit};

/// The response headers the app reads; no other is copied out of the browser.
const READ_HEADERS: [&str; 3] = ["Retry-After", "WWW-Authenticate", "DPoP-Nonce"];

/// Whether a response may come from, and go into, the browser's HTTP cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cache {
    /// Anything holding a token or clinical data (it must not land in the
    /// disk cache of a shared workstation), and the deployment's
    /// configuration (a change must show at the next load).
    NoStore,
    /// Public metadata, as its server's `Cache-Control` allows: a
    /// clinician's second launch of the day need not ask again.
    Allowed,
}

/// A request as the app makes it: a GET of JSON (with the bearer token for
/// the FHIR API), or a POST of a form (token, refresh, revocation).
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub url: String,
    /// The `Accept` header.
    pub accept: &'static str,
    /// The access token, sent as `Authorization: {scheme} {token}` (the
    /// scheme `Bearer`, or `DPoP` for a bound token).
    pub authorization: Option<(&'static str, &'a str)>,
    /// A DPoP proof, sent as the `DPoP` header (RFC 9449 §4.1).
    pub dpop: Option<String>,
    /// A form body (`application/x-www-form-urlencoded`): the request is a POST.
    pub form: Option<&'a str>,
    pub cache: Cache,
}

impl<'a> Request<'a> {
    /// GET a JSON document past the HTTP cache.
    pub fn json(url: String) -> Request<'a> {
        Request { url, accept: "application/json", authorization: None, dpop: None, form: None, cache: Cache::NoStore }
    }

    /// GET public metadata (a discovery document) through the HTTP cache.
    pub fn metadata(url: String) -> Request<'a> {
        Request { cache: Cache::Allowed, ..Request::json(url) }
    }

    /// POST a form (token, refresh, revocation).
    pub fn form(post: &'a FormPost) -> Request<'a> {
        Request { form: Some(post.body()), ..Request::json(post.url.to_string()) }
    }

    /// GET from the FHIR API with the access token (the session has checked
    /// that `url` is on the FHIR base's origin).
    pub fn fhir(url: &HttpUrl, scheme: &'static str, token: &'a str) -> Request<'a> {
        Request {
            accept: "application/fhir+json",
            authorization: Some((scheme, token)),
            ..Request::json(url.to_string())
        }
    }

    /// The request with a DPoP proof.
    pub fn with_proof(self, proof: Option<String>) -> Request<'a> {
        Request { dpop: proof, ..self }
    }

    pub fn method(&self) -> &'static str {
        if self.form.is_some() {
            "POST"
        } else {
            "GET"
        }
    }
}

/// An HTTP response as the core consumes it.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// Of [`READ_HEADERS`], those the response had (names as listed there).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    /// A header's value; `name` is compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
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

/// Sends a request without cookies or other credentials (every server the
/// app talks to authenticates by bearer token or PKCE, never by cookie)
/// and reads the whole body as text. A server that does not answer within
/// `request_timeout_seconds` is given up on (the request is aborted).
pub async fn fetch(request: Request<'_>) -> Result<Response, String> {
    let headers = Headers::new().map_err(network_failure)?;
    headers.set("Accept", request.accept).map_err(network_failure)?;
    if let Some((scheme, token)) = request.authorization {
        headers.set("Authorization", &format!("{scheme} {token}")).map_err(network_failure)?;
    }
    if let Some(proof) = &request.dpop {
        headers.set("DPoP", proof).map_err(network_failure)?;
    }
    if request.form.is_some() {
        headers.set("Content-Type", FormPost::CONTENT_TYPE).map_err(network_failure)?;
    }
    let init = RequestInit::new();
    init.set_method(request.method());
    init.set_headers(&headers);
    init.set_credentials(RequestCredentials::Omit);
    init.set_cache(match request.cache {
        Cache::NoStore => RequestCache::NoStore,
        Cache::Allowed => RequestCache::Default,
    });
    if let Some(body) = request.form {
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
            JsFuture::from(window.fetch_with_str_and_init(&request.url, &init)).await?.unchecked_into();
        let text = JsFuture::from(response.text()?).await?;
        Ok::<_, JsValue>((response, text))
    }
    .await;
    window.clear_timeout_with_handle(timer);
    let (response, text) = answer.map_err(network_failure)?;
    let received = response.headers();
    let mut headers = Vec::new();
    for name in READ_HEADERS {
        if let Ok(Some(value)) = received.get(name) {
            headers.push((name, value));
        }
    }
    Ok(Response { status: response.status(), body: text.as_string().unwrap_or_default(), headers })
}
