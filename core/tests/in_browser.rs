//! The core's random and PKCE paths in a real browser (headless Chromium via
//! wasm-bindgen-test-runner): `getrandom` must reach
//! `crypto.getRandomValues`, and SHA-256 must give RFC 7636's vector there.
//!
//! Run with `cargo test -p smart-core --target wasm32-unknown-unknown --release`
//! (scripts/test.sh sets CHROMEDRIVER).
#![cfg(target_arch = "wasm32")]

use std::collections::HashSet;

use smart_core::authorize::{LaunchMode, PendingAuthorization};
use smart_core::config::AppConfig;
use smart_core::discovery::{AuthorizationServer, DiscoveryKind};
use smart_core::random::random_token;
use smart_core::secret::PkceVerifier;
use smart_core::url::HttpUrl;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn rfc7636_vector_in_the_browser() {
    let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    assert_eq!(verifier.challenge().as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

#[wasm_bindgen_test]
fn browser_csprng_gives_distinct_well_formed_values() {
    let tokens: HashSet<String> = (0..200).map(|_| random_token().unwrap()).collect();
    assert_eq!(tokens.len(), 200);
    assert!(tokens.iter().all(|t| t.len() == 43));
    let a = PkceVerifier::new_random().unwrap();
    let b = PkceVerifier::new_random().unwrap();
    assert!(PkceVerifier::is_well_formed(a.secret()));
    assert_ne!(a.secret(), b.secret());
}

#[wasm_bindgen_test]
fn an_authorize_url_is_built_in_the_browser() {
    let config = AppConfig::parse(include_str!("../../public/config.json")).unwrap();
    let issuer = &config.issuers[0];
    let base = issuer.fhir_base_url.clone();
    let server = AuthorizationServer::from_response(
        DiscoveryKind::OpenId,
        &base,
        &base,
        200,
        r#"{"authorization_endpoint": "http://localhost:8090/oauth2/v1/apps/authorize",
            "token_endpoint": "http://localhost:8090/oauth2/v1/apps/token",
            "code_challenge_methods_supported": ["S256"]}"#,
    )
    .unwrap();
    let redirect = HttpUrl::parse("http://localhost:8080/callback").unwrap();
    let (url, pending) = PendingAuthorization::begin(
        issuer,
        server,
        redirect,
        LaunchMode::Ehr { launch: "L1".into() },
        None,
        1_800_000_000,
    )
    .unwrap();
    let text = url.to_string();
    assert!(text.contains(&format!("state={}", pending.state().as_str())), "{text}");
    assert!(text.contains("code_challenge_method=S256"));
    assert!(text.contains("launch=L1"));
    let restored = PendingAuthorization::from_storage(&pending.to_storage()).unwrap();
    assert_eq!(restored, pending);
}
