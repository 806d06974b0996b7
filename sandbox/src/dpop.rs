//! DPoP proofs checked as RFC 9449 §4.3 asks of a server, with this
//! crate's own decoding, hashing and ES256 verification (`p256`), none of
//! it shared with the app.
//!
//! What a server may choose, the sandbox has as switches (`Faults::dpop`,
//! `Faults::dpop_nonce`): DPoP off (the header is ignored and bearer tokens
//! issued, §5), offered (advertised in the metadata, §5.1; tokens bound
//! when a proof comes), required (a request without a proof refused,
//! advertised or not), and nonces (§8, §9) at the token endpoint and at
//! the FHIR server.

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How far a proof's `iat` may be from the server's clock (§11.1 leaves
/// the window to the server; a minute, as common servers allow).
pub const IAT_WINDOW_SECONDS: u64 = 60;

/// The sandbox's DPoP support.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DpopMode {
    /// Not supported: a `DPoP` header is ignored and bearer tokens issued.
    #[default]
    Off,
    /// Advertised (`dpop_signing_alg_values_supported`); a proof binds the
    /// tokens, no proof gets bearer tokens.
    Offered,
    /// Advertised, and a token request without a proof is refused.
    Required,
    /// Required, but not advertised: the metadata field is optional (§5.1).
    RequiredUnadvertised,
}

impl DpopMode {
    pub fn advertised(self) -> bool {
        matches!(self, DpopMode::Offered | DpopMode::Required)
    }

    pub fn required(self) -> bool {
        matches!(self, DpopMode::Required | DpopMode::RequiredUnadvertised)
    }
}

/// What the request a proof came with was.
pub struct Expected<'a> {
    pub method: &'a str,
    /// The request's URI without query and fragment.
    pub htu: &'a str,
    /// The access token sent with a resource request (checked against `ath`).
    pub access_token: Option<&'a str>,
    /// The nonce the server currently wants, if it wants one.
    pub nonce: Option<&'a str>,
    pub now: u64,
}

/// Why a proof was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `invalid_dpop_proof`, with the reason.
    Invalid(String),
    /// `use_dpop_nonce`: the proof lacks the current nonce.
    NonceNeeded,
}

/// The JWK thumbprint (RFC 7638) of a P-256 public key: SHA-256 of the
/// required members in lexicographic order.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!("{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{x}\",\"y\":\"{y}\"}}");
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::Invalid(why.into())
}

/// Checks one proof; on success returns its key's thumbprint. `jtis` holds
/// the proof ids already seen (a replay is refused, §11.1).
pub fn verify(proof: &str, expected: &Expected<'_>, jtis: &mut HashSet<String>) -> Result<String, Refusal> {
    let parts: Vec<&str> = proof.split('.').collect();
    let [header, payload, signature] = parts[..] else { return Err(invalid("the proof is not a compact JWS")) };
    let json = |part: &str, name: &str| -> Result<Value, Refusal> {
        let bytes =
            URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid(format!("the proof's {name} is not base64url")))?;
        serde_json::from_slice(&bytes).map_err(|_| invalid(format!("the proof's {name} is not JSON")))
    };
    let (header_json, claims) = (json(header, "header")?, json(payload, "payload")?);
    let field = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_string);
    if field(&header_json, "typ").as_deref() != Some("dpop+jwt") {
        return Err(invalid("typ is not dpop+jwt"));
    }
    if field(&header_json, "alg").as_deref() != Some("ES256") {
        return Err(invalid("alg is not ES256, the one this server accepts"));
    }
    let jwk = header_json.get("jwk").ok_or_else(|| invalid("the header has no jwk"))?;
    if jwk.get("d").is_some() {
        return Err(invalid("the jwk holds a private key"));
    }
    if field(jwk, "kty").as_deref() != Some("EC") || field(jwk, "crv").as_deref() != Some("P-256") {
        return Err(invalid("the jwk is not an EC P-256 key"));
    }
    let (x, y) = (field(jwk, "x").unwrap_or_default(), field(jwk, "y").unwrap_or_default());
    let mut point = vec![4u8];
    for coordinate in [&x, &y] {
        match URL_SAFE_NO_PAD.decode(coordinate) {
            Ok(bytes) if bytes.len() == 32 => point.extend(bytes),
            _ => return Err(invalid("the jwk's coordinates are not 32-byte base64url values")),
        }
    }
    let key = VerifyingKey::from_sec1_bytes(&point).map_err(|_| invalid("the jwk is not a point on P-256"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("the signature is not 64 bytes of r and s"))?;
    key.verify(format!("{header}.{payload}").as_bytes(), &signature)
        .map_err(|_| invalid("the signature does not verify with the proof's key"))?;
    if field(&claims, "htm").as_deref() != Some(expected.method) {
        return Err(invalid(format!("htm is not {}", expected.method)));
    }
    if field(&claims, "htu").as_deref() != Some(expected.htu) {
        return Err(invalid(format!("htu is not {}", expected.htu)));
    }
    let iat = claims.get("iat").and_then(Value::as_u64).ok_or_else(|| invalid("iat is missing"))?;
    if iat.abs_diff(expected.now) > IAT_WINDOW_SECONDS {
        return Err(invalid(format!("iat is more than {IAT_WINDOW_SECONDS} s from the server's clock")));
    }
    if let Some(token) = expected.access_token {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if field(&claims, "ath").as_deref() != Some(ath.as_str()) {
            return Err(invalid("ath is not the hash of the access token"));
        }
    }
    if let Some(nonce) = expected.nonce {
        if field(&claims, "nonce").as_deref() != Some(nonce) {
            return Err(Refusal::NonceNeeded);
        }
    }
    let jti = field(&claims, "jti").filter(|j| !j.is_empty()).ok_or_else(|| invalid("jti is missing"))?;
    if !jtis.insert(jti) {
        return Err(invalid("the proof was already used (its jti was seen before)"));
    }
    Ok(thumbprint(&x, &y))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::SigningKey;
    use serde_json::json;

    /// A proof signed with `key`, as a client would make one.
    pub fn proof(key: &SigningKey, claims: Value) -> String {
        let point = key.verifying_key().to_encoded_point(false);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()), "y": URL_SAFE_NO_PAD.encode(point.y().unwrap())}});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    const HTU: &str = "http://localhost:8090/fhir/Patient/p1";

    fn expected(nonce: Option<&str>) -> Expected<'_> {
        Expected { method: "GET", htu: HTU, access_token: Some("at"), nonce, now: 1000 }
    }

    fn claims(jti: &str) -> Value {
        json!({"jti": jti, "htm": "GET", "htu": HTU, "iat": 1000,
               "ath": URL_SAFE_NO_PAD.encode(Sha256::digest(b"at")), "nonce": "n1"})
    }

    #[test]
    fn a_good_proof_passes_once_and_names_its_key() {
        let key = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let mut jtis = HashSet::new();
        let good = proof(&key, claims("a"));
        let jkt = verify(&good, &expected(Some("n1")), &mut jtis).unwrap();
        assert_eq!(jkt.len(), 43);
        assert_eq!(
            verify(&good, &expected(Some("n1")), &mut jtis),
            Err(invalid("the proof was already used (its jti was seen before)"))
        );
        assert_eq!(verify(&proof(&key, claims("b")), &expected(Some("n2")), &mut jtis), Err(Refusal::NonceNeeded));
    }

    #[test]
    fn each_claim_is_checked() {
        let key = SigningKey::from_slice(&[3u8; 32]).unwrap();
        let mut jtis = HashSet::new();
        let mut refused = |edit: &dyn Fn(&mut Value)| {
            let mut c = claims(&format!("{}", jtis.len() + 100));
            edit(&mut c);
            verify(&proof(&key, c), &expected(None), &mut jtis).is_err()
        };
        assert!(refused(&|c| c["htm"] = json!("POST")));
        assert!(refused(&|c| c["htu"] = json!("http://localhost:8090/fhir/Patient/p2")));
        assert!(refused(&|c| c["iat"] = json!(1000 - IAT_WINDOW_SECONDS - 1)));
        assert!(refused(&|c| c["ath"] = json!("not-the-hash")));
        assert!(refused(&|c| {
            c.as_object_mut().unwrap().remove("jti");
        }));
        // A proof signed by another key than the header's is refused.
        let other = SigningKey::from_slice(&[4u8; 32]).unwrap();
        let forged = proof(&key, claims("z"));
        let resigned = proof(&other, claims("z"));
        let spliced = format!("{}.{}", forged.rsplit_once('.').unwrap().0, resigned.rsplit_once('.').unwrap().1);
        assert!(
            matches!(verify(&spliced, &expected(None), &mut HashSet::new()), Err(Refusal::Invalid(why)) if why.contains("signature"))
        );
    }
}
