//! Starting a sign-in: discovery, then the authorize request, in this
//! window (redirect) or in a popup. Inside an EHR's iframe the sign-in runs
//! in a popup, because sign-in pages refuse to be framed; browsers only open
//! a popup from a click, so [`SignIn::start`] must be called from one.

use std::cell::RefCell;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::{CodeExchange, LaunchMode, PendingAuthorization};
use smart_core::callback::{parse_callback, Callback};
use smart_core::config::{AppConfig, IssuerConfig, SignInWindow};
use smart_core::discovery::AuthorizationServer;
use smart_core::dpop::DpopBinding;
use smart_core::url::HttpUrl;
use smart_core::Error;

use super::{SignIn, Step};
use crate::browser::http::{fetch, Request};
use crate::browser::{navigation, now, pending_store, popup, webcrypto};
use crate::session::{DpopKey, SessionHandle};

thread_local! {
    /// Validated metadata by discovery URL, for the life of the page: a
    /// second sign-in from the same page (a retry, a popup) asks not twice.
    static DISCOVERED: RefCell<Vec<(String, AuthorizationServer)>> = const { RefCell::new(Vec::new()) };
}

/// Fetches and validates the issuer's authorization-server metadata, once
/// per page (failures are not kept, so a retry asks again) and through the
/// HTTP cache across pages, as long as the server's `Cache-Control` allows.
pub async fn discover(issuer: &IssuerConfig) -> Result<AuthorizationServer, Error> {
    let url = issuer.authorization_server.discovery_url(&issuer.fhir_base_url);
    let key = url.to_string();
    let known = DISCOVERED.with_borrow(|found| found.iter().find(|(k, _)| *k == key).map(|(_, server)| server.clone()));
    if let Some(server) = known {
        return Ok(server);
    }
    let response = fetch(Request::metadata(key.clone()))
        .await
        .map_err(|detail| Error::DiscoveryUnreachable { url: key.clone(), detail })?;
    let server = issuer.authorization_server.read_discovery(&issuer.fhir_base_url, response.status, &response.body)?;
    DISCOVERED.with_borrow_mut(|found| found.push((key, server.clone())));
    Ok(server)
}

/// A fresh DPoP key for the page (WebCrypto, non-extractable).
pub(super) async fn new_dpop_key() -> Result<DpopKey<web_sys::CryptoKey>, Error> {
    let (key, public) = webcrypto::dpop_key().await?;
    Ok(DpopKey { key, binding: DpopBinding::new(public) })
}

/// Discovers the server and builds the authorize URL with its pending
/// authorization. A sign-in that stays in this page (`keep_key`: the popup)
/// makes its DPoP key now, so the authorize request can name it
/// (`dpop_jkt`); a redirect's key is made when it comes back.
async fn prepare(
    config: &AppConfig,
    issuer: &IssuerConfig,
    mode: LaunchMode,
    keep_key: Option<SessionHandle>,
) -> Result<(HttpUrl, PendingAuthorization), Error> {
    let server = discover(issuer).await?;
    let redirect_uri = navigation::redirect_uri(&config.redirect_path)?;
    let key = match keep_key {
        Some(_) if issuer.dpop.decide(&server)?.is_on() => Some(new_dpop_key().await?),
        _ => None,
    };
    let begun =
        PendingAuthorization::begin(issuer, server, redirect_uri, mode, key.as_ref().map(|k| &k.binding), now());
    if let Some(session) = keep_key {
        session.use_dpop_key(key);
    }
    begun
}

/// The redirect sign-in: records the pending authorization in
/// sessionStorage (it must survive leaving the page) and leaves for the
/// authorize endpoint. Returns only on error.
async fn redirect(config: &AppConfig, issuer: &IssuerConfig, mode: LaunchMode) -> Result<(), Error> {
    let (url, mut pending) = prepare(config, issuer, mode, None).await?;
    // For the callback page, which exchanges the code before it has read
    // config.json.
    pending.request_timeout_seconds = config.request_timeout_seconds;
    pending_store::save(&pending, now())?;
    navigation::go_to(&url);
    Ok(())
}

/// The popup sign-in: the pending authorization stays in this page's
/// memory; the popup hands the response back by `postMessage`, and it is
/// checked here exactly as a redirect's would be.
async fn through_popup(
    config: &AppConfig,
    issuer: &IssuerConfig,
    mode: LaunchMode,
    window: web_sys::Window,
    session: SessionHandle,
) -> Result<CodeExchange, Error> {
    let (url, pending) = match prepare(config, issuer, mode, Some(session)).await {
        Ok(prepared) => prepared,
        Err(error) => {
            popup::close(&window);
            return Err(error);
        }
    };
    popup::navigate(&window, &url);
    let query = popup::wait_for_callback(window).await?;
    match parse_callback(&query)? {
        Callback::Refused { error, state } if state.as_deref().is_some_and(|s| pending.state().matches(s)) => {
            Err(Error::AuthorizationRefused { error })
        }
        Callback::Refused { .. } => Err(Error::StateMismatch),
        Callback::Authorized(response) => pending.accept(response, now()),
    }
}

impl SignIn {
    /// Starts a sign-in with `issuer`. Call it from a click handler when
    /// the sign-in may run in a popup: a popup opened later than the click
    /// is blocked by the browser.
    pub fn start(self, config: Arc<AppConfig>, issuer: IssuerConfig, mode: LaunchMode) {
        let name = issuer.name.clone();
        match issuer.authorization_mode.window(popup::is_framed()) {
            SignInWindow::Redirect => {
                self.step.set(Step::Leaving(name));
                spawn_local(async move {
                    if let Err(error) = redirect(&config, &issuer, mode).await {
                        self.fail(error);
                    }
                });
            }
            SignInWindow::Popup => {
                let window = match popup::open_blank() {
                    Ok(window) => window,
                    Err(error) => return self.fail(error),
                };
                self.step.set(Step::Waiting(name));
                spawn_local(async move {
                    match through_popup(&config, &issuer, mode, window, self.session).await {
                        Ok(exchange) => self.finish(exchange),
                        Err(error) => self.fail(error),
                    }
                });
            }
        }
    }
}
