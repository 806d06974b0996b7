//! The local SMART sandbox, on its own origin (not the app's, so CORS is
//! real):
//!
//! - `/ehr`: the EHR simulator (launch the app in an iframe, or standalone);
//! - `/oauth2/v1/apps/*`, `/{projectId}/.well-known/*`: a Descope-compatible
//!   authorization server;
//! - `/fhir` and `/smart/fhir`: a FHIR R4 server with synthetic patients,
//!   the first behind Descope-style OpenID discovery (context in the access
//!   token's claims), the second with SMART discovery (context in the token
//!   response);
//! - `/sandbox/*`: the control API tests use (launches, faults, the record
//!   of requests);
//! - a second listener, the "foreign host", that records what reaches it:
//!   the place a Bundle `next` link points when that fault is on.

pub mod auth;
pub mod data;
pub mod dpop;
pub mod ehr;
pub mod fhir;
pub mod http;
pub mod keys;
pub mod pkce;
pub mod state;
pub mod static_app;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;

use crate::state::{random_id, Base, Recorded, Registry, Sandbox, PROJECT_ID};

/// How to run the sandbox.
#[derive(Clone, Debug)]
pub struct Options {
    /// Port for the sandbox (0: any free port).
    pub port: u16,
    /// Port for the foreign host (0: any free port).
    pub foreign_port: u16,
    /// Where the app is served, e.g. `http://localhost:8080/` (with the
    /// trailing slash); its origin is allowed by CORS and its `callback`
    /// is a registered redirect URI.
    pub app_urls: Vec<String>,
    /// Redirect URIs of other builds registered for the same client (the
    /// benchmark's fhirclient peer, whose redirect is `…/index.html`);
    /// their origins are allowed by CORS too.
    pub other_redirect_uris: Vec<String>,
    /// Serve a built app directory on `app_port` (the demo does).
    pub app_dir: Option<std::path::PathBuf>,
    pub app_port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 8090,
            foreign_port: 8091,
            app_urls: vec!["http://localhost:8080/".into(), "http://127.0.0.1:8080/".into()],
            other_redirect_uris: Vec::new(),
            app_dir: None,
            app_port: 8080,
        }
    }
}

/// A started sandbox.
pub struct Running {
    pub sandbox: Arc<Sandbox>,
    pub port: u16,
    pub foreign_port: u16,
}

fn origin_of(url: &str) -> String {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after_scheme..].find('/').map(|i| i + after_scheme).unwrap_or(url.len());
    url[..end].to_string()
}

/// Binds both listeners and serves until the process ends.
pub async fn start(options: Options) -> std::io::Result<Running> {
    let listener = TcpListener::bind(("127.0.0.1", options.port)).await?;
    let foreign = TcpListener::bind(("127.0.0.1", options.foreign_port)).await?;
    let port = listener.local_addr()?.port();
    let foreign_port = foreign.local_addr()?.port();
    let app_urls: Vec<String> =
        options.app_urls.iter().map(|u| if u.ends_with('/') { u.clone() } else { format!("{u}/") }).collect();
    let sandbox = Arc::new(Sandbox {
        origin: format!("http://localhost:{port}"),
        foreign_origin: format!("http://localhost:{foreign_port}"),
        app_origins: app_urls.iter().chain(&options.other_redirect_uris).map(|u| origin_of(u)).collect(),
        app_url: app_urls.first().cloned().unwrap_or_default(),
        redirect_uris: app_urls
            .iter()
            .map(|u| format!("{u}callback"))
            .chain(options.other_redirect_uris.iter().cloned())
            .collect(),
        keys: keys::Keys::generate(),
        store: data::Store::generate(),
        registry: Mutex::new(Registry { as_nonce: random_id(), rs_nonce: random_id(), ..Registry::default() }),
    });
    let app = router(sandbox.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let foreign_app = foreign_router(sandbox.clone());
    tokio::spawn(async move { axum::serve(foreign, foreign_app).await });
    if let Some(dir) = options.app_dir {
        let listener = TcpListener::bind(("127.0.0.1", options.app_port)).await?;
        let embedder = sandbox.origin.clone();
        tokio::spawn(async move { axum::serve(listener, static_app::router(dir, embedder)).await });
    }
    Ok(Running { sandbox, port, foreign_port })
}

fn fhir_routes(base: Base) -> Router<Arc<Sandbox>> {
    Router::new()
        .route("/.well-known/smart-configuration", get(fhir::smart_config))
        .route("/metadata", get(|State(s): State<Arc<Sandbox>>| async move { fhir::metadata(&s) }))
        .route(
            "/{kind}",
            get(
                move |State(s): State<Arc<Sandbox>>,
                      Path(kind): Path<String>,
                      Query(q): Query<HashMap<String, String>>,
                      h: HeaderMap| { fhir::search(s, base, kind, q, h) },
            ),
        )
        .route(
            "/{kind}/{id}",
            get(move |State(s): State<Arc<Sandbox>>, Path((kind, id)): Path<(String, String)>, h: HeaderMap| {
                fhir::read(s, base, kind, id, h)
            }),
        )
}

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/", get(|| async { http::redirect("/ehr") }))
        .route("/ehr", get(ehr::home))
        .route("/ehr/launch", post(ehr::launch_page))
        .route("/ehr/smart-style.json", get(ehr::style))
        .route("/ehr/smart-style-malformed.json", get(ehr::style_malformed))
        .route(&format!("/v1/apps/{PROJECT_ID}/.well-known/openid-configuration"), get(auth::openid_configuration))
        .route(
            &format!("/v1/apps/{PROJECT_ID}/.well-known/oauth-authorization-server"),
            get(auth::openid_configuration),
        )
        .route(&format!("/{PROJECT_ID}/.well-known/openid-configuration"), get(auth::federated_configuration))
        .route(&format!("/{PROJECT_ID}/.well-known/jwks.json"), get(auth::jwks))
        .route("/oauth2/v1/authorize", get(auth::federated_refusal))
        .route("/oauth2/v1/token", post(auth::federated_refusal))
        .route("/oauth2/v1/apps/authorize", get(auth::authorize))
        .route("/oauth2/v1/apps/consent", post(auth::consent))
        .route("/oauth2/v1/apps/token", post(auth::token))
        .route("/oauth2/v1/apps/revoke", post(auth::revoke))
        .route("/oauth2/v1/apps/userinfo", get(auth::userinfo))
        .route("/sandbox/launch", post(ehr::launch_api))
        .route("/sandbox/faults", get(ehr::get_faults).post(ehr::set_faults))
        .route("/sandbox/requests", get(ehr::requests).delete(ehr::clear_requests))
        .nest(Base::Descope.path(), fhir_routes(Base::Descope))
        .nest(Base::Smart.path(), fhir_routes(Base::Smart))
        .fallback(|| async { http::outcome(StatusCode::NOT_FOUND, "not-found", "no such endpoint") })
        .layer(middleware::from_fn_with_state(sandbox.clone(), cors))
        .layer(middleware::from_fn_with_state(sandbox.clone(), record_sandbox))
        .with_state(sandbox)
}

/// The foreign host answers anything with an empty Bundle, and records.
fn foreign_router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .fallback(|| async {
            let mut response = http::fhir_response(
                StatusCode::OK,
                &json!({"resourceType": "Bundle", "type": "searchset", "total": 0, "entry": []}),
            );
            response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
            response
        })
        .layer(middleware::from_fn_with_state(sandbox.clone(), record_foreign))
        .with_state(sandbox)
}

fn record(sandbox: &Sandbox, host: &'static str, request: &Request) {
    let entry = Recorded {
        host,
        method: request.method().to_string(),
        target: request.uri().to_string(),
        origin: request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string),
        authorization: request.headers().contains_key(header::AUTHORIZATION),
    };
    let mut registry = sandbox.registry();
    // The record is for tests; keep it bounded for long demo sessions.
    if registry.requests.len() >= 20_000 {
        registry.requests.drain(..10_000);
    }
    registry.requests.push(entry);
}

async fn record_sandbox(State(sandbox): State<Arc<Sandbox>>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/sandbox/") {
        record(&sandbox, "sandbox", &request);
    }
    let latency = sandbox.registry().faults.latency_ms;
    let response = next.run(request).await;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    response
}

async fn record_foreign(State(sandbox): State<Arc<Sandbox>>, request: Request, next: Next) -> Response {
    record(&sandbox, "foreign", &request);
    next.run(request).await
}

/// CORS for the app's origins on every endpoint the browser calls
/// directly: token, revoke, userinfo, discovery, JWKS, FHIR.
async fn cors(State(sandbox): State<Arc<Sandbox>>, request: Request, next: Next) -> Response {
    let (closed, without_dpop) = {
        let faults = &sandbox.registry().faults;
        (faults.cors_closed, faults.cors_without_dpop)
    };
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| !closed && sandbox.app_origins.iter().any(|a| a == o))
        .map(str::to_string);
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    } else {
        next.run(request).await
    };
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        let origin_value = origin.clone();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        // Lets the app's origin see response timings (the benchmark reads them).
        headers.insert("timing-allow-origin", origin_value.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("WWW-Authenticate, Retry-After, DPoP-Nonce"),
        );
        if preflight {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(if without_dpop {
                    "authorization, accept, content-type"
                } else {
                    "authorization, accept, content-type, dpop"
                }),
            );
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    response
}
