//! The authorization flow's effects: discovery, the pending record, the
//! redirect.

use std::cell::RefCell;

use smart_core::authorize::{CodeExchange, LaunchMode, PendingAuthorization};
use smart_core::config::{AppConfig, IssuerConfig};
use smart_core::discovery::AuthorizationServer;
use smart_core::session::{Session, SignatureVerdict};
use smart_core::url::HttpUrl;
use smart_core::Error;

use super::http::{get_metadata, post_form};
use super::webcrypto;
use super::{navigation, now, pending_store};

thread_local! {
    /// Validated metadata by discovery URL, for the life of the page: a
    /// second sign-in from the same page (a retry, a popup) asks no twice.
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
    let kind = issuer.authorization_server.discovery_kind();
    let response =
        get_metadata(&key).await.map_err(|detail| Error::DiscoveryUnreachable { url: key.clone(), detail })?;
    let server =
        AuthorizationServer::from_response(kind, &url, &issuer.fhir_base_url, response.status, &response.body)?;
    DISCOVERED.with_borrow_mut(|found| found.push((key, server.clone())));
    Ok(server)
}

/// Discovers the server and builds the authorize URL with its pending
/// authorization.
pub async fn prepare(
    config: &AppConfig,
    issuer: &IssuerConfig,
    mode: LaunchMode,
) -> Result<(HttpUrl, PendingAuthorization), Error> {
    let server = discover(issuer).await?;
    let redirect_uri = navigation::redirect_uri(&config.redirect_path)?;
    PendingAuthorization::begin(issuer, server, redirect_uri, mode, now())
}

/// The redirect sign-in: records the pending authorization in
/// sessionStorage (it must survive leaving the page) and leaves for the
/// authorize endpoint. Returns only on error.
pub async fn begin(config: &AppConfig, issuer: &IssuerConfig, mode: LaunchMode) -> Result<(), Error> {
    let (url, pending) = prepare(config, issuer, mode).await?;
    pending_store::save(&pending, now())?;
    navigation::go_to(&url);
    Ok(())
}

/// Exchanges the checked code for tokens, verifies the id_token's
/// signature, and returns the in-memory session. The key set is fetched
/// alongside the token request, so verification adds no round trip.
pub async fn complete(exchange: CodeExchange) -> Result<Session, Error> {
    let request = exchange.token_request();
    let key_set = async {
        match exchange.key_set_to_fetch() {
            Some(uri) => Some(webcrypto::fetch_key_set(uri).await),
            None => None,
        }
    };
    let (response, key_set) = futures::future::join(post_form(&request), key_set).await;
    let response =
        response.map_err(|detail| Error::TokenEndpointUnreachable { url: request.url.to_string(), detail })?;
    let grant = exchange.finish(response.status, &response.body, now())?;
    let verdict = match grant.id_token() {
        Some(token) => webcrypto::verify_id_token(token, key_set).await,
        None => SignatureVerdict::NoIdToken,
    };
    grant.into_session(verdict)
}
