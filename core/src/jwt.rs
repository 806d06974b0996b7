//! Compact JWS decoding (RFC 7515 §7.1) without signature checking.
//!
//! Decoding an access token's claims is for *reading* the launch context a
//! Descope JWT template put there; the FHIR server is what verifies it. The
//! id_token's signature is checked separately (WebCrypto in the app) over the
//! [`DecodedJwt::signing_input`] this module keeps.
//!
//! Base64url is decoded properly (`-` and `_`, padding optional) and the
//! payload as UTF-8 JSON, which `atob`-based decoders get wrong.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

/// base64url, with or without `=` padding (JWS forbids it; some servers
/// send it anyway).
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let unpadded = text.strip_suffix("==").or_else(|| text.strip_suffix('=')).unwrap_or(text);
    Base64UrlUnpadded::decode_vec(unpadded).ok()
}

/// A JSON object of claims.
pub type Claims = Map<String, Value>;

/// Why a string is not a decodable JWT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three dot-separated parts: an opaque token, which is allowed for
    /// access tokens.
    NotAJwt,
    BadBase64 {
        part: &'static str,
    },
    BadJson {
        part: &'static str,
        detail: String,
    },
    NotAnObject {
        part: &'static str,
    },
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::NotAJwt => write!(f, "it is not a JWT (three base64url parts separated by dots)"),
            JwtError::BadBase64 { part } => write!(f, "its {part} is not base64url"),
            JwtError::BadJson { part, detail } => write!(f, "its {part} {detail}"),
            JwtError::NotAnObject { part } => write!(f, "its {part} is not a JSON object"),
        }
    }
}

/// A decoded (not verified) JWT. Its `Debug` shows the header and the
/// claims' names only: the values may be a person's name or birth date, and
/// the signing input is most of the token.
#[derive(Clone, PartialEq)]
pub struct DecodedJwt {
    pub header: Claims,
    pub claims: Claims,
    /// `base64url(header) . base64url(payload)`, the bytes a signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for DecodedJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedJwt")
            .field("header", &self.header)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl DecodedJwt {
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

fn decode_object(text: &str, part: &'static str) -> Result<Claims, JwtError> {
    let bytes = decode_base64url(text).ok_or(JwtError::BadBase64 { part })?;
    match crate::json::parse(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JwtError::NotAnObject { part }),
        Err(detail) => Err(JwtError::BadJson { part, detail }),
    }
}

/// Decodes a compact JWS. Five-part JWE tokens and anything else that is not
/// `header.payload.signature` are [`JwtError::NotAJwt`].
pub fn decode(token: &str) -> Result<DecodedJwt, JwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotAJwt);
    };
    if header.is_empty() || payload.is_empty() {
        return Err(JwtError::NotAJwt);
    }
    let header_claims = decode_object(header, "header")?;
    let claims = decode_object(payload, "payload")?;
    let signature = decode_base64url(signature).ok_or(JwtError::BadBase64 { part: "signature" })?;
    Ok(DecodedJwt { header: header_claims, claims, signing_input: format!("{header}.{payload}"), signature })
}

/// A claim as a non-empty string. Descope renders an unset template variable
/// (`"patient": "{{patient_id}}"` without a patient) as `""`, which means
/// absent, not a patient with an empty id.
pub fn string_claim(claims: &Claims, name: &str) -> Option<String> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        // Some servers emit numeric ids: whole numbers (an id with a
        // fraction or an exponent is none; formatting one would also link
        // the float formatter into the wasm for nothing else).
        Some(Value::Number(n)) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// A claim as a boolean, accepting the strings "true"/"false" that occur in
/// the wild (SMART checklist: `need_patient_banner` as a string).
pub fn bool_claim(claims: &Claims, name: &str) -> Option<bool> {
    match claims.get(name) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A claim as a non-negative integer (seconds), accepting numeric strings.
pub fn seconds_claim(claims: &Claims, name: &str) -> Option<u64> {
    match claims.get(name) {
        Some(Value::Number(n)) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0 && f.is_finite()).map(|f| f as u64))
        }
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `aud` as a list: it may be a string or an array of strings (RFC 7519 §4.1.3).
pub fn audience_claim(claims: &Claims) -> Option<Vec<String>> {
    match claims.get("aud") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    /// An unsigned test JWT with the given claims.
    pub fn make_jwt(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(b"signature-bytes")
        )
    }

    #[test]
    fn decodes_header_claims_and_signing_input() {
        let token = make_jwt(
            &serde_json::json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
            &serde_json::json!({"patient": "p-1", "name": "Zoë Ōtani"}),
        );
        let jwt = decode(&token).unwrap();
        assert_eq!(jwt.alg(), Some("RS256"));
        assert_eq!(jwt.kid(), Some("k1"));
        assert_eq!(jwt.claims["name"], "Zoë Ōtani");
        assert_eq!(jwt.signature, b"signature-bytes");
        assert_eq!(jwt.signing_input, token.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn debug_output_shows_claim_names_but_no_values_or_signature() {
        let token = make_jwt(
            &serde_json::json!({"alg": "RS256", "kid": "k1"}),
            &serde_json::json!({"patient": "p-secret", "name": "Zoë Ōtani"}),
        );
        let shown = format!("{:?}", decode(&token).unwrap());
        assert!(shown.contains("\"patient\"") && shown.contains("RS256"), "{shown}");
        for hidden in ["p-secret", "Zoë", token.split('.').nth(1).unwrap(), "[115, 105"] {
            assert!(!shown.contains(hidden), "{hidden} shown in {shown}");
        }
    }

    #[test]
    fn decodes_base64url_characters_and_optional_padding() {
        // "?>?" encodes with '-' / '_' in base64url ('+' / '/' in standard base64).
        let claims = serde_json::json!({"q": "???>>>"});
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(payload.contains('_') || payload.contains('-'), "{payload}");
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let padded = format!("{payload}{}", "=".repeat((4 - payload.len() % 4) % 4));
        for p in [payload.clone(), padded] {
            let jwt = decode(&format!("{header}.{p}.")).unwrap();
            assert_eq!(jwt.claims["q"], "???>>>");
        }
    }

    #[test]
    fn tells_opaque_tokens_from_broken_jwts() {
        assert_eq!(decode("2YotnFZFEjr1zCsicMWpAA"), Err(JwtError::NotAJwt));
        assert_eq!(decode("a.b.c.d.e"), Err(JwtError::NotAJwt));
        assert_eq!(decode(".."), Err(JwtError::NotAJwt));
        assert_eq!(decode("a!b.c.d"), Err(JwtError::BadBase64 { part: "header" }));
        // Standard base64's '+' and '/' are not base64url; at most two '='.
        assert_eq!(decode("e30.e3+9.e30"), Err(JwtError::BadBase64 { part: "payload" }));
        assert_eq!(decode("e30.e30.a/b"), Err(JwtError::BadBase64 { part: "signature" }));
        assert_eq!(decode("e30===.e30.e30"), Err(JwtError::BadBase64 { part: "header" }));
        let header = URL_SAFE_NO_PAD.encode("{}");
        assert!(matches!(
            decode(&format!("{header}.{}.", URL_SAFE_NO_PAD.encode("not json"))),
            Err(JwtError::BadJson { .. })
        ));
        assert_eq!(
            decode(&format!("{header}.{}.", URL_SAFE_NO_PAD.encode("[1]"))),
            Err(JwtError::NotAnObject { part: "payload" })
        );
        assert!(matches!(
            decode(&format!("{header}.{}.", URL_SAFE_NO_PAD.encode([0xff, 0xfe]))),
            Err(JwtError::BadJson { .. })
        ));
    }

    #[test]
    fn claim_helpers_tolerate_real_world_shapes() {
        let claims = serde_json::json!({
            "patient": "", "encounter": "  ", "n": 42, "f": 4.2, "s": "abc",
            "b1": true, "b2": "false", "b3": "TRUE", "b4": "yes",
            "exp1": 1700000000, "exp2": "1700000000", "exp3": -5, "exp4": 1.7e9,
            "aud": ["https://a", "https://b"]
        });
        let claims = claims.as_object().unwrap();
        assert_eq!(string_claim(claims, "patient"), None);
        assert_eq!(string_claim(claims, "encounter"), None);
        assert_eq!(string_claim(claims, "n").as_deref(), Some("42"));
        assert_eq!(string_claim(claims, "f"), None, "no id has a fraction");
        assert_eq!(string_claim(claims, "s").as_deref(), Some("abc"));
        assert_eq!(string_claim(claims, "missing"), None);
        assert_eq!(bool_claim(claims, "b1"), Some(true));
        assert_eq!(bool_claim(claims, "b2"), Some(false));
        assert_eq!(bool_claim(claims, "b3"), Some(true));
        assert_eq!(bool_claim(claims, "b4"), None);
        assert_eq!(seconds_claim(claims, "exp1"), Some(1_700_000_000));
        assert_eq!(seconds_claim(claims, "exp2"), Some(1_700_000_000));
        assert_eq!(seconds_claim(claims, "exp3"), None);
        assert_eq!(seconds_claim(claims, "exp4"), Some(1_700_000_000));
        assert_eq!(audience_claim(claims).unwrap(), ["https://a", "https://b"]);
    }
}
