//! id_token validation (OpenID Connect Core §3.1.3.7), except the signature
//! arithmetic itself, which the browser's WebCrypto performs over
//! [`crate::jwt::DecodedJwt::signing_input`] with the key [`Jwks::select`]
//! picks.

use serde_json::Value;

use crate::error::IdTokenProblem;
use crate::jwt::{audience_claim, decode, seconds_claim, string_claim, Claims, DecodedJwt};
use crate::random::Nonce;
use crate::UnixTime;

/// Clock skew tolerated on `exp` and `iat`.
pub const LEEWAY_SECONDS: u64 = 60;

/// What the id_token must match.
#[derive(Clone, Debug)]
pub struct Expectations<'a> {
    /// The discovery document's `issuer`.
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce sent in the authorize request.
    pub nonce: Option<&'a Nonce>,
    pub now: UnixTime,
}

/// Base64url characters of the smallest RSA modulus accepted, 2048 bits
/// (256 bytes; a JWK's `n` has no leading zero bytes, RFC 7518 §6.3.1.1).
const MIN_MODULUS_CHARS: usize = 342;

/// Decodes the id_token and checks the header's algorithm; signature
/// verification follows in the app. A header with `crit` is refused: it
/// names extensions the token must not be accepted without understanding
/// (RFC 7515 §4.1.11), and this app understands none.
pub fn decode_id_token(token: &str) -> Result<DecodedJwt, IdTokenProblem> {
    let jwt = decode(token).map_err(|e| IdTokenProblem::Malformed(e.to_string()))?;
    if jwt.header.contains_key("crit") {
        return Err(IdTokenProblem::Malformed("its header lists critical extensions (crit)".into()));
    }
    match jwt.alg() {
        Some("RS256") => Ok(jwt),
        Some(other) => Err(IdTokenProblem::UnsupportedAlgorithm(other.to_string())),
        None => Err(IdTokenProblem::Malformed("its header has no alg".into())),
    }
}

/// Checks `iss`, `aud` (and `azp`), `exp`, `iat` and `nonce`.
pub fn validate_claims(claims: &Claims, expect: &Expectations<'_>) -> Result<(), IdTokenProblem> {
    let found = string_claim(claims, "iss").unwrap_or_default();
    if found != expect.issuer {
        return Err(IdTokenProblem::WrongIssuer { expected: expect.issuer.into(), found });
    }
    let audience = audience_claim(claims).unwrap_or_default();
    // azp, when present, must be this client (OpenID Connect Core
    // §3.1.3.7); with several audiences it must be present.
    let azp = string_claim(claims, "azp");
    let azp_ok = match azp.as_deref() {
        Some(azp) => azp == expect.client_id,
        None => audience.len() <= 1,
    };
    if !audience.iter().any(|a| a == expect.client_id) || !azp_ok {
        return Err(IdTokenProblem::WrongAudience { client_id: expect.client_id.into(), found: audience });
    }
    let exp = seconds_claim(claims, "exp").ok_or_else(|| IdTokenProblem::Malformed("it has no exp claim".into()))?;
    if exp.saturating_add(LEEWAY_SECONDS) < expect.now {
        return Err(IdTokenProblem::Expired { exp, now: expect.now });
    }
    let iat = seconds_claim(claims, "iat").ok_or_else(|| IdTokenProblem::Malformed("it has no iat claim".into()))?;
    if iat > expect.now.saturating_add(LEEWAY_SECONDS) {
        return Err(IdTokenProblem::IssuedInFuture { iat, now: expect.now });
    }
    if let Some(sent) = expect.nonce {
        match claims.get("nonce").and_then(Value::as_str) {
            None => return Err(IdTokenProblem::MissingNonce),
            Some(found) if !sent.matches(found) => return Err(IdTokenProblem::WrongNonce),
            Some(_) => {}
        }
    }
    Ok(())
}

/// A JSON Web Key Set (RFC 7517 §5).
#[derive(Debug, PartialEq)]
pub struct Jwks {
    keys: Vec<Claims>,
}

/// A string member of a JWK.
fn text<'k>(key: &'k Claims, name: &str) -> Option<&'k str> {
    key.get(name).and_then(Value::as_str)
}

/// An RSA public key as a JWK gives it (RFC 7518 §6.3.1): base64url
/// modulus and exponent, what `crypto.subtle.importKey("jwk", …)` needs.
#[derive(Debug, PartialEq, Eq)]
pub struct RsaPublicKey {
    pub n: String,
    pub e: String,
}

impl Jwks {
    pub fn parse(body: &str) -> Result<Jwks, IdTokenProblem> {
        let value =
            crate::json::parse(body.as_bytes()).map_err(|e| IdTokenProblem::Malformed(format!("the key set {e}")))?;
        let keys = match value {
            Value::Object(mut set) => set.remove("keys"),
            _ => None,
        };
        let Some(Value::Array(keys)) = keys else {
            return Err(IdTokenProblem::Malformed("the key set has no \"keys\" list".into()));
        };
        let objects = keys.into_iter().filter_map(|key| match key {
            Value::Object(key) => Some(key),
            _ => None,
        });
        Ok(Jwks { keys: objects.collect() })
    }

    /// The RSA signing key for a token header's `kid` (or the only usable
    /// key when the header names none).
    pub fn select(&self, kid: Option<&str>) -> Result<RsaPublicKey, IdTokenProblem> {
        // Each usable key as its `kid`, modulus and exponent.
        let usable: Vec<(Option<&str>, &str, &str)> = self
            .keys
            .iter()
            .filter(|k| text(k, "kty") == Some("RSA"))
            .filter(|k| text(k, "use").is_none_or(|u| u == "sig"))
            .filter(|k| text(k, "alg").is_none_or(|a| a == "RS256"))
            .filter_map(|k| Some((text(k, "kid"), text(k, "n")?, text(k, "e")?)))
            .collect();
        let found = match kid {
            Some(kid) => usable.into_iter().find(|(id, _, _)| *id == Some(kid)),
            None if usable.len() == 1 => usable.into_iter().next(),
            None => None,
        };
        match found {
            Some((_, n, _)) if n.len() < MIN_MODULUS_CHARS => {
                Err(IdTokenProblem::Malformed("the server's signing key is shorter than 2048 bits".into()))
            }
            Some((_, n, e)) => Ok(RsaPublicKey { n: n.to_string(), e: e.to_string() }),
            None => Err(IdTokenProblem::NoMatchingKey { kid: kid.map(str::to_string) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::tests::make_jwt;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn claims(value: Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    fn good() -> Claims {
        claims(json!({
            "iss": "https://as.example.org", "aud": "app-1", "exp": NOW + 300, "iat": NOW - 5,
            "nonce": "n-123", "fhirUser": "Practitioner/9", "sub": "u1"
        }))
    }

    static NONCE: std::sync::LazyLock<Nonce> = std::sync::LazyLock::new(|| Nonce::new("n-123".into()));

    fn expect() -> Expectations<'static> {
        Expectations { issuer: "https://as.example.org", client_id: "app-1", nonce: Some(&NONCE), now: NOW }
    }

    #[test]
    fn accepts_a_valid_token() {
        assert_eq!(validate_claims(&good(), &expect()), Ok(()));
    }

    #[test]
    fn refuses_each_wrong_claim() {
        let mut c = good();
        c.insert("iss".into(), json!("https://evil.example.org"));
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::WrongIssuer { .. })));

        let mut c = good();
        c.insert("aud".into(), json!("another-app"));
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::WrongAudience { .. })));

        // Several audiences need azp = client id.
        let mut c = good();
        c.insert("aud".into(), json!(["app-1", "other"]));
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::WrongAudience { .. })));
        c.insert("azp".into(), json!("app-1"));
        assert_eq!(validate_claims(&c, &expect()), Ok(()));

        let mut c = good();
        c.insert("exp".into(), json!(NOW - LEEWAY_SECONDS - 1));
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::Expired { .. })));
        c.insert("exp".into(), json!(NOW - 10));
        assert_eq!(validate_claims(&c, &expect()), Ok(()), "within the leeway");

        let mut c = good();
        c.remove("exp");
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::Malformed(_))));

        let mut c = good();
        c.insert("iat".into(), json!(NOW + 3600));
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::IssuedInFuture { .. })));
        c.remove("iat");
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::Malformed(_))), "iat is required");

        // azp, when present, must be this client even with one audience.
        let mut c = good();
        c.insert("azp".into(), json!("another-app"));
        assert!(matches!(validate_claims(&c, &expect()), Err(IdTokenProblem::WrongAudience { .. })));

        let mut c = good();
        c.insert("nonce".into(), json!("n-124"));
        assert_eq!(validate_claims(&c, &expect()), Err(IdTokenProblem::WrongNonce));
        c.remove("nonce");
        assert_eq!(validate_claims(&c, &expect()), Err(IdTokenProblem::MissingNonce));
    }

    #[test]
    fn only_rs256_tokens_are_decoded() {
        let rs = make_jwt(&json!({"alg": "RS256", "kid": "k"}), &json!({}));
        assert!(decode_id_token(&rs).is_ok());
        let none = make_jwt(&json!({"alg": "none"}), &json!({}));
        assert_eq!(decode_id_token(&none).unwrap_err(), IdTokenProblem::UnsupportedAlgorithm("none".into()));
        let hs = make_jwt(&json!({"alg": "HS256"}), &json!({}));
        assert!(matches!(decode_id_token(&hs), Err(IdTokenProblem::UnsupportedAlgorithm(_))));
        assert!(matches!(decode_id_token("opaque"), Err(IdTokenProblem::Malformed(_))));
        let critical = make_jwt(&json!({"alg": "RS256", "crit": ["exp"]}), &json!({}));
        assert!(matches!(decode_id_token(&critical), Err(IdTokenProblem::Malformed(why)) if why.contains("crit")));
    }

    /// A 2048-bit modulus in base64url (342 characters), marked by `tag`.
    fn modulus(tag: &str) -> String {
        format!("{tag}{}", "q".repeat(MIN_MODULUS_CHARS - tag.len()))
    }

    #[test]
    fn selects_the_signing_key_by_kid() {
        let (n0, n1, n2) = (modulus("n0"), modulus("n1"), modulus("n2"));
        let jwks = Jwks::parse(&format!(
            r#"{{"keys": [
                {{"kty": "EC", "kid": "ec", "crv": "P-256", "x": "a", "y": "b"}},
                {{"kty": "RSA", "kid": "enc", "use": "enc", "n": "{n0}", "e": "AQAB"}},
                {{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": "{n1}", "e": "AQAB"}},
                {{"kty": "RSA", "kid": "k2", "n": "{n2}", "e": "AQAB"}},
                {{"kty": "RSA", "kid": "short", "n": "{}", "e": "AQAB"}}
            ]}}"#,
            "q".repeat(171)
        ))
        .unwrap();
        assert_eq!(jwks.select(Some("k1")).unwrap(), RsaPublicKey { n: n1, e: "AQAB".into() });
        assert_eq!(jwks.select(Some("k2")).unwrap().n, n2);
        assert!(matches!(jwks.select(Some("enc")), Err(IdTokenProblem::NoMatchingKey { .. })));
        assert!(matches!(jwks.select(Some("ec")), Err(IdTokenProblem::NoMatchingKey { .. })));
        // A 1024-bit key is refused, whatever its signature says.
        match jwks.select(Some("short")) {
            Err(IdTokenProblem::Malformed(why)) => assert!(why.contains("2048 bits"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Without a kid, only an unambiguous key is used.
        assert!(matches!(jwks.select(None), Err(IdTokenProblem::NoMatchingKey { kid: None })));
        let single =
            Jwks::parse(&format!(r#"{{"keys": [{{"kty": "RSA", "n": "{}", "e": "AQAB"}}]}}"#, modulus("n"))).unwrap();
        assert!(single.select(None).is_ok());
        assert!(Jwks::parse("[]").is_err());
        assert!(Jwks::parse("nope").is_err());
    }
}
