//! The page's requests: the browser's fetch as the app makes it (no
//! credentials, past the HTTP cache), and the Content-Security-Policy
//! violations the page saw, which tell a request refused by the page's
//! own policy from one refused by the server's CORS.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Promise, Reflect};
use smart_core::check::{self, Answer};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortSignal, Headers, RequestCache, RequestCredentials, RequestInit, RequestMode, RequestRedirect, Response,
    ResponseType, SecurityPolicyViolationEvent,
};

use crate::run::{Ask, Probe, Unread};

/// The longest answer read, and how long a server may take: the
/// command's bounds.
const MAX_CHARS: u32 = check::MAX_ANSWER;
const TIMEOUT_MS: u32 = check::TIMEOUT_SECONDS * 1000;

/// Fetches as the app does, and remembers the policy violations reported.
pub struct BrowserProbe {
    blocked: Rc<RefCell<Vec<String>>>,
    // Kept alive for as long as the probe listens.
    _listener: Closure<dyn FnMut(SecurityPolicyViolationEvent)>,
}

impl BrowserProbe {
    pub fn new() -> Result<BrowserProbe, JsValue> {
        let blocked = Rc::new(RefCell::new(Vec::new()));
        let seen = blocked.clone();
        let listener =
            Closure::<dyn FnMut(SecurityPolicyViolationEvent)>::new(move |event: SecurityPolicyViolationEvent| {
                seen.borrow_mut().push(event.blocked_uri());
            });
        let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        document.add_event_listener_with_callback("securitypolicyviolation", listener.as_ref().unchecked_ref())?;
        Ok(BrowserProbe { blocked, _listener: listener })
    }

    fn blocked_by_policy(&self, origin: &str) -> bool {
        self.blocked.borrow().iter().any(|uri| uri == origin || uri.starts_with(&format!("{origin}/")))
    }
}

impl Probe for BrowserProbe {
    async fn ask(&self, ask: Ask<'_>) -> Result<Answer, Unread> {
        let url = ask.url.to_string();
        let response = match send(&url, &ask).await {
            Ok(response) => response,
            Err(error) => {
                let name = Reflect::get(&error, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
                if name == "TimeoutError" || name == "AbortError" {
                    return Err(Unread::Failed(format!("no answer within {} s", TIMEOUT_MS / 1000)));
                }
                let detail = Reflect::get(&error, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
                    .unwrap_or_else(|| "a network error".into());
                // The violation event is queued as a task of its own; let it run.
                let _ = JsFuture::from(sleep(50)).await;
                return Err(Unread::Refused { by_policy: self.blocked_by_policy(&ask.url.origin()), detail });
            }
        };
        if response.type_() == ResponseType::Opaqueredirect {
            return Err(Unread::Redirected);
        }
        let headers = response.headers();
        let too_long = || Unread::Failed(format!("its answer is longer than {} MiB", MAX_CHARS >> 20));
        let declared = headers.get("content-length").ok().flatten().and_then(|l| l.parse::<u64>().ok());
        if declared.is_some_and(|length| length > u64::from(MAX_CHARS)) {
            return Err(too_long());
        }
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
            Err(_) => None,
        };
        let body = text.ok_or_else(|| Unread::Failed("its answer could not be read".into()))?;
        if body.len() > MAX_CHARS as usize {
            return Err(too_long());
        }
        let content_type = headers.get("content-type").ok().flatten();
        Ok(Answer {
            status: response.status(),
            headers: content_type.map(|t| ("content-type".to_string(), t)).into_iter().collect(),
            body,
        })
    }
}

async fn send(url: &str, ask: &Ask<'_>) -> Result<Response, JsValue> {
    let headers = Headers::new()?;
    headers.set("Accept", ask.accept)?;
    for (name, value) in &ask.headers {
        headers.set(name, value)?;
    }
    let init = RequestInit::new();
    if let Some(form) = &ask.form {
        init.set_method("POST");
        headers.set("Content-Type", "application/x-www-form-urlencoded")?;
        init.set_body(&JsValue::from_str(form));
    }
    init.set_headers(&headers);
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_cache(RequestCache::NoStore);
    init.set_redirect(if ask.follow { RequestRedirect::Follow } else { RequestRedirect::Manual });
    init.set_signal(Some(&AbortSignal::timeout_with_u32(TIMEOUT_MS)));
    let window = web_sys::window().ok_or("no window")?;
    JsFuture::from(window.fetch_with_str_and_init(url, &init)).await?.dyn_into()
}

/// A promise that resolves after `ms` milliseconds.
pub fn sleep(ms: i32) -> Promise {
    Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    })
}
