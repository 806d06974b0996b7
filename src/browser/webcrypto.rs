//! The browser's WebCrypto, so that no RSA or elliptic-curve code is in
//! the wasm bundle: id_token signature verification (RS256 =
//! RSASSA-PKCS1-v1_5 with SHA-256), and the DPoP key (ECDSA P-256): made
//! non-extractable, held in the page's memory only, signing with ES256.

use js_sys::{Array, Promise};
use smart_core::dpop::PublicJwk;
use smart_core::id_token::{Jwks, RsaPublicKey};
use smart_core::jwt::DecodedJwt;
use smart_core::session::SignatureVerdict;
use smart_core::url::HttpUrl;
use smart_core::Error;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::http::{fetch, Request};

// The promise chains themselves are JavaScript (calls.js): a few hundred
// bytes there against several KB of compiled futures here.
#[wasm_bindgen(module = "/src/browser/calls.js")]
extern "C" {
    #[wasm_bindgen(js_name = dpopKey)]
    fn dpop_key_js() -> Promise;
    #[wasm_bindgen(js_name = verifyRs256)]
    fn verify_rs256_js(n: &str, e: &str, signature: &[u8], data: &[u8]) -> Promise;
}

/// Fetches the authorization server's key set (its body).
pub async fn fetch_key_set(jwks_uri: &HttpUrl) -> Result<String, String> {
    match fetch(Request::key_set(jwks_uri.to_string())).await {
        Ok(r) if r.status == 200 => Ok(r.body),
        Ok(r) => Err(format!("{jwks_uri} answered HTTP {}", r.status)),
        Err(e) => Err(format!("{jwks_uri}: {e}")),
    }
}

/// Verifies the token's signature against a fetched key set (`None`: the
/// server publishes none).
pub async fn verify_id_token(token: &DecodedJwt, key_set: Option<Result<String, String>>) -> SignatureVerdict {
    let body = match key_set {
        None => return SignatureVerdict::Unverifiable("the server publishes no jwks_uri".into()),
        Some(Err(why)) => return SignatureVerdict::Unverifiable(why),
        Some(Ok(body)) => body,
    };
    let key = match Jwks::parse(&body).and_then(|set| set.select(token.kid())) {
        Ok(key) => key,
        Err(problem) => return SignatureVerdict::Unverifiable(problem.to_string()),
    };
    match verify_rs256(&key, token).await {
        Ok(true) => SignatureVerdict::Verified,
        Ok(false) => SignatureVerdict::Invalid,
        Err(why) => SignatureVerdict::Unverifiable(why),
    }
}

async fn verify_rs256(key: &RsaPublicKey, token: &DecodedJwt) -> Result<bool, String> {
    let verdict = verify_rs256_js(&key.n, &key.e, &token.signature, token.signing_input.as_bytes());
    let verdict = JsFuture::from(verdict).await.map_err(|_| {
        "WebCrypto refused the key or the signature (the page must be served over https or from localhost)"
    })?;
    Ok(verdict.as_bool().unwrap_or(false))
}

/// Makes the page's DPoP key: the private key cannot be exported (not even
/// by this page's own script), only used to sign; the public half comes
/// back as its JWK coordinates.
pub async fn dpop_key() -> Result<(web_sys::CryptoKey, PublicJwk), Error> {
    let made = JsFuture::from(dpop_key_js())
        .await
        .map_err(|_| Error::DpopUnavailable { detail: "no ECDSA P-256 key could be made".into() })?;
    let made = Array::from(&made);
    let coordinate = |i| made.get(i).as_string().unwrap_or_default();
    let public = PublicJwk::new(coordinate(1), coordinate(2))?;
    Ok((made.get(0).unchecked_into(), public))
}
