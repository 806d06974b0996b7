//! The browser's WebCrypto, so that no RSA or elliptic-curve code is in
//! the wasm bundle: id_token signature verification (RS256 =
//! RSASSA-PKCS1-v1_5 with SHA-256), and the DPoP key (ECDSA P-256): made
//! non-extractable, held in the page's memory only, signing with ES256.

use js_sys::{Array, Object, Reflect, Uint8Array};
use smart_core::dpop::PublicJwk;
use smart_core::id_token::{Jwks, RsaPublicKey};
use smart_core::jwt::DecodedJwt;
use smart_core::session::SignatureVerdict;
use smart_core::url::HttpUrl;
use smart_core::Error;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::http::{fetch, Request};

/// A plain JS object of string fields (WebCrypto's parameters).
fn js_object(fields: &[(&str, &str)]) -> Object {
    let object = Object::new();
    for (name, value) in fields {
        // Setting a field on a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &JsValue::from_str(name), &JsValue::from_str(value));
    }
    object
}

/// Fetches the authorization server's key set (its body).
pub async fn fetch_key_set(jwks_uri: &HttpUrl) -> Result<String, String> {
    match fetch(Request::json(jwks_uri.to_string())).await {
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

fn subtle() -> Result<web_sys::SubtleCrypto, String> {
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.subtle())
        .ok_or_else(|| "WebCrypto is not available (the page must be served over https or from localhost)".into())
}

async fn verify_rs256(key: &RsaPublicKey, token: &DecodedJwt) -> Result<bool, String> {
    let subtle = subtle()?;
    // Only the public numbers: `use`, `key_ops` or `alg` values that differ
    // in spelling would otherwise make importKey refuse a good key.
    let jwk = js_object(&[("kty", "RSA"), ("n", &key.n), ("e", &key.e), ("alg", "RS256")]);
    let algorithm = js_object(&[("name", "RSASSA-PKCS1-v1_5"), ("hash", "SHA-256")]);
    let usages = Array::of1(&JsValue::from_str("verify"));
    let import = subtle
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .map_err(|_| "the signing key could not be imported".to_string())?;
    let crypto_key: web_sys::CryptoKey = JsFuture::from(import)
        .await
        .map_err(|_| "the signing key is not a valid RSA key".to_string())?
        .unchecked_into();
    let signature = Uint8Array::from(token.signature.as_slice());
    let data = Uint8Array::from(token.signing_input.as_bytes());
    let verify = subtle
        .verify_with_object_and_buffer_source_and_buffer_source(&algorithm, &crypto_key, &signature, &data)
        .map_err(|_| "the signature could not be checked".to_string())?;
    let verdict = JsFuture::from(verify).await.map_err(|_| "the signature could not be checked".to_string())?;
    Ok(verdict.as_bool().unwrap_or(false))
}

/// ECDSA P-256, as WebCrypto names it for key generation.
fn p256() -> Object {
    js_object(&[("name", "ECDSA"), ("namedCurve", "P-256")])
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Makes the page's DPoP key: the private key cannot be exported (not even
/// by this page's own script), only used to sign; the public half comes
/// back as its JWK coordinates.
pub async fn dpop_key() -> Result<(web_sys::CryptoKey, PublicJwk), Error> {
    let unavailable = |detail: &str| Error::DpopUnavailable { detail: detail.to_string() };
    let subtle = subtle().map_err(|d| unavailable(&d))?;
    let usages = Array::of1(&JsValue::from_str("sign"));
    let made = subtle
        .generate_key_with_object(&p256(), false, &usages)
        .map_err(|_| unavailable("ECDSA P-256 key generation is not supported"))?;
    let pair = JsFuture::from(made).await.map_err(|_| unavailable("ECDSA P-256 key generation failed"))?;
    let private: web_sys::CryptoKey = field(&pair, "privateKey").unchecked_into();
    let public: web_sys::CryptoKey = field(&pair, "publicKey").unchecked_into();
    let export = subtle.export_key("jwk", &public).map_err(|_| unavailable("the public key could not be exported"))?;
    let jwk = JsFuture::from(export).await.map_err(|_| unavailable("the public key could not be exported"))?;
    let coordinate = |name| field(&jwk, name).as_string().unwrap_or_default();
    Ok((private, PublicJwk::new(coordinate("x"), coordinate("y"))?))
}

/// Signs `data` with ES256; WebCrypto gives r || s, the JWS form.
pub async fn sign_es256(key: &web_sys::CryptoKey, data: &[u8]) -> Result<Vec<u8>, String> {
    let algorithm = js_object(&[("name", "ECDSA"), ("hash", "SHA-256")]);
    let signing = subtle()?
        .sign_with_object_and_u8_array(&algorithm, key, data)
        .map_err(|_| "the DPoP proof could not be signed")?;
    let signature = JsFuture::from(signing).await.map_err(|_| "the DPoP proof could not be signed")?;
    Ok(Uint8Array::new(&signature).to_vec())
}
