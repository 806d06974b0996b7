//! `fetch`, reduced to what the app needs: a status, the few headers the
//! app reads, and the body as text. The call is a few lines of JavaScript
//! (calls.js), cheaper there than as compiled futures over `web_sys`; a
//! wrapper crate would add bundle weight for nothing the app uses.
//!
//! [`Request`] and [`Response`] hold no browser types, so the session's
//! logic runs natively against a scripted fake ([`super::Effects`]).

use std::cell::Cell;

use js_sys::Array;
use smart_core::config::DEFAULT_REQUEST_TIMEOUT_SECONDS;
use smart_core::form::FormPost;
use smart_core::token::TokenAnswer;
use smart_core::url::HttpUrl;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// The response headers the app reads; no other is copied out of the browser.
const READ_HEADERS: [&str; 4] = ["Retry-After", "WWW-Authenticate", "DPoP-Nonce", "Content-Type"];

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
    /// A form body (`application/x-www-form-urlencoded`): the request is a POST.
    pub form: Option<&'a str>,
    pub cache: Cache,
    /// Whether a redirect is refused rather than followed: a request that
    /// carries a code, a verifier, a token or a proof (or fetches the keys
    /// that vouch for tokens) goes to the URL it names or nowhere, since a
    /// 307 or 308 would send the same body on (RFC 9700 §4.11).
    pub refuse_redirects: bool,
    /// The longest answer taken, in characters: anything larger is refused
    /// unread rather than parsed ([`MAX_DOCUMENT`], [`MAX_FHIR_PAGE`]).
    pub max_chars: u32,
}

/// The longest configuration, discovery document, key set, style or token
/// answer taken: 1 MiB, far above any real one.
pub const MAX_DOCUMENT: u32 = 1 << 20;

/// The longest FHIR answer taken (one page of a search): 16 MiB, some
/// tens of thousands of resources.
pub const MAX_FHIR_PAGE: u32 = 16 << 20;

impl<'a> Request<'a> {
    /// GET a JSON document past the HTTP cache.
    pub fn json(url: String) -> Request<'a> {
        Request {
            url,
            accept: "application/json",
            authorization: None,
            form: None,
            cache: Cache::NoStore,
            refuse_redirects: false,
            max_chars: MAX_DOCUMENT,
        }
    }

    /// GET the authorization server's signing keys, past the HTTP cache and
    /// without following a redirect.
    pub fn key_set(url: String) -> Request<'a> {
        Request { refuse_redirects: true, ..Request::json(url) }
    }

    /// GET public metadata (a discovery document) through the HTTP cache.
    pub fn metadata(url: String) -> Request<'a> {
        Request { cache: Cache::Allowed, ..Request::json(url) }
    }

    /// POST a form (token, refresh, revocation).
    pub fn form(post: &'a FormPost) -> Request<'a> {
        Request { form: Some(post.body()), refuse_redirects: true, ..Request::json(post.url.to_string()) }
    }

    /// GET from the FHIR API with the access token (the session has checked
    /// that `url` is on the FHIR base's origin).
    pub fn fhir(url: &HttpUrl, scheme: &'static str, token: &'a str) -> Request<'a> {
        Request {
            accept: "application/fhir+json",
            authorization: Some((scheme, token)),
            refuse_redirects: true,
            max_chars: MAX_FHIR_PAGE,
            ..Request::json(url.to_string())
        }
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

    /// The answer as the token endpoint's reader takes it.
    pub fn token_answer(&self) -> TokenAnswer<'_> {
        TokenAnswer { status: self.status, content_type: self.header("Content-Type"), body: &self.body }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
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

/// Why a request got no answer, from what `send` rejected with. What the
/// browser says about a failed request (offline, DNS, CORS refusal) does
/// not say which, on purpose, so neither can we.
fn network_failure(error: JsValue) -> String {
    match error.as_string().as_deref() {
        Some("dpop-sign") => "the browser could not sign the DPoP proof (WebCrypto refused the page's key)".into(),
        Some("timeout") => format!(
            "the server did not answer within {} seconds; it may be overloaded, or the network may be down",
            TIMEOUT_SECONDS.get()
        ),
        message => format!(
            "the browser could not complete the request ({}); the server may be down, may not allow this app's origin (CORS), or may be missing from the site's Content-Security-Policy (connect-src; see the browser console)",
            message.unwrap_or("unknown error")
        ),
    }
}

#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    #[wasm_bindgen(js_name = send)]
    fn send_js(
        url: &str,
        method: &str,
        headers: &str,
        body: Option<&str>,
        no_store: bool,
        refuse_redirects: bool,
        timeout_ms: u32,
        max_chars: u32,
        read: &str,
        key: Option<&web_sys::CryptoKey>,
        signing_input: Option<&str>,
    ) -> js_sys::Promise;
}

/// Sends a request without a DPoP proof ([`send`]).
pub async fn fetch(request: Request<'_>) -> Result<Response, String> {
    send(request, None).await
}

/// Sends a request without cookies or other credentials (every server the
/// app talks to authenticates by bearer token or PKCE, never by cookie)
/// and reads the whole body as text; with `proof`, a DPoP proof (RFC 9449
/// §4.1): its signing input, signed with the key on the way. A server
/// that does not answer within `request_timeout_seconds` is given up on
/// (the request is aborted). The call itself is `send` in calls.js; what to
/// send and what the answer means is decided here and above.
pub async fn send(request: Request<'_>, proof: Option<(&web_sys::CryptoKey, &str)>) -> Result<Response, String> {
    // Header names and values never hold a line break (the values are
    // tokens, proofs and media types), so one separator does.
    let mut headers = format!("Accept\n{}", request.accept);
    if let Some((scheme, token)) = request.authorization {
        headers.push_str(&format!("\nAuthorization\n{scheme} {token}"));
    }
    if request.form.is_some() {
        headers.push_str(&format!("\nContent-Type\n{}", FormPost::CONTENT_TYPE));
    }
    let promise = send_js(
        &request.url,
        request.method(),
        &headers,
        request.form,
        request.cache == Cache::NoStore,
        request.refuse_redirects,
        TIMEOUT_SECONDS.get() * 1000,
        request.max_chars,
        &READ_HEADERS.join("\n"),
        proof.map(|(key, _)| key),
        proof.map(|(_, input)| input),
    );
    let answer = Array::from(&JsFuture::from(promise).await.map_err(network_failure)?);
    let mut received = Vec::new();
    for (i, name) in READ_HEADERS.into_iter().enumerate() {
        if let Some(value) = answer.get(i as u32 + 2).as_string() {
            received.push((name, value));
        }
    }
    let status = answer.get(0).as_f64().unwrap_or_default();
    if status < 0.0 {
        return Err(format!(
            "{} answered with more than {} MB, more than any answer the app expects; it was not read",
            request.url,
            request.max_chars >> 20
        ));
    }
    let status = status as u16;
    // A refused redirect comes back as an opaque answer with status 0.
    if status == 0 {
        return Err(format!(
            "{} answered with a redirect, which the app does not follow for a request that carries a code, a token or keys",
            request.url
        ));
    }
    Ok(Response { status, body: answer.get(1).as_string().unwrap_or_default(), headers: received })
}
