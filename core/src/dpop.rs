//! DPoP (RFC 9449): tokens bound to a key that only this page holds, so a
//! stolen access or refresh token is useless without it.
//!
//! The private key never reaches this crate: the app makes a non-extractable
//! ECDSA P-256 key with WebCrypto and signs what [`DpopBinding::proof`]
//! prepares. What is here is the protocol: whether to use DPoP with a
//! server ([`DpopPolicy::decide`]), the public key and its thumbprint
//! (`dpop_jkt`, RFC 7638), the proof's header and claims (§4.2), the
//! servers' nonces (§8, §9), and the token types a sign-in may accept (§5).

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::discovery::AuthorizationServer;
use crate::random::random_token;
use crate::url::HttpUrl;
use crate::{Error, UnixTime};

/// The one signing algorithm the app offers: ECDSA P-256 with SHA-256,
/// which every browser's WebCrypto has.
pub const ALGORITHM: &str = "ES256";

/// `"dpop"` of an issuer in config.json.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpopPolicy {
    /// Use DPoP when the server's metadata lists ES256 in
    /// `dpop_signing_alg_values_supported`.
    #[default]
    Auto,
    /// Always use DPoP, and refuse bearer tokens.
    Required,
    /// Never use DPoP.
    Off,
}

impl DpopPolicy {
    pub fn parse(text: &str) -> Option<DpopPolicy> {
        match text {
            "auto" => Some(DpopPolicy::Auto),
            "required" => Some(DpopPolicy::Required),
            "off" => Some(DpopPolicy::Off),
            _ => None,
        }
    }

    /// Whether a sign-in with `server` uses DPoP. `required` with a server
    /// that lists algorithms, none of them ES256, cannot work and is refused
    /// before any redirect; a server that lists none may still support
    /// DPoP (the metadata field is optional), so `required` tries.
    pub fn decide(self, server: &AuthorizationServer) -> Result<DpopUse, Error> {
        let offered = server.dpop_signing_alg_values_supported.as_deref();
        let es256 = offered.is_some_and(|algs| algs.iter().any(|a| a == ALGORITHM));
        match self {
            DpopPolicy::Off => Ok(DpopUse::Off),
            DpopPolicy::Auto if es256 => Ok(DpopUse::Preferred),
            DpopPolicy::Auto => Ok(DpopUse::Off),
            DpopPolicy::Required => match offered {
                Some(algs) if !es256 => Err(Error::DpopUnsupported { offered: algs.to_vec() }),
                _ => Ok(DpopUse::Required),
            },
        }
    }
}

/// Whether one sign-in uses DPoP, decided at its start and kept with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DpopUse {
    #[default]
    Off,
    /// Proofs are sent; a server that answers with a bearer token anyway
    /// (it ignored the proof, RFC 9449 §5) is accepted, with a warning.
    Preferred,
    /// Proofs are sent and a bearer token is refused.
    Required,
}

impl DpopUse {
    pub fn is_on(self) -> bool {
        self != DpopUse::Off
    }

    /// Checks the `token_type` a token response came with against this
    /// use, RFC 9449 §5: a DPoP token the app did not ask for is refused (it
    /// could not be used), and so is a bearer token when DPoP is required.
    /// A warning comes back when a preferred DPoP was not granted.
    pub fn accept(self, token_type: TokenType) -> Result<Option<&'static str>, Error> {
        match (self, token_type) {
            (DpopUse::Off, TokenType::Dpop) => Err(Error::DpopTokenUnrequested),
            (DpopUse::Required, TokenType::Bearer) => Err(Error::DpopNotGranted),
            (DpopUse::Preferred, TokenType::Bearer) => {
                Ok(Some("the server ignored the DPoP proof and issued bearer tokens"))
            }
            _ => Ok(None),
        }
    }
}

/// A token response's `token_type` (case-insensitive, RFC 6749 §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenType {
    #[default]
    Bearer,
    Dpop,
}

impl TokenType {
    pub fn parse(text: &str) -> Option<TokenType> {
        if text.eq_ignore_ascii_case("bearer") {
            Some(TokenType::Bearer)
        } else if text.eq_ignore_ascii_case("dpop") {
            Some(TokenType::Dpop)
        } else {
            None
        }
    }

    /// The `Authorization` scheme for a resource request (RFC 9449 §7.1).
    pub fn scheme(self) -> &'static str {
        match self {
            TokenType::Bearer => "Bearer",
            TokenType::Dpop => "DPoP",
        }
    }
}

/// The public half of the page's P-256 key, as its JWK coordinates
/// (base64url, 32 bytes each).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicJwk {
    x: String,
    y: String,
}

impl PublicJwk {
    /// The coordinates as WebCrypto exports them; anything but two
    /// base64url 32-byte values is refused.
    pub fn new(x: String, y: String) -> Result<PublicJwk, Error> {
        let coordinate = |c: &str| matches!(Base64UrlUnpadded::decode_vec(c), Ok(bytes) if bytes.len() == 32);
        if coordinate(&x) && coordinate(&y) {
            Ok(PublicJwk { x, y })
        } else {
            Err(Error::DpopUnavailable { detail: "the public key is not P-256".into() })
        }
    }

    /// The JWK thumbprint (RFC 7638 §3.2: the required members in
    /// lexicographic order, no whitespace), SHA-256, base64url: `dpop_jkt`
    /// in the authorize request and `cnf.jkt` in a bound token.
    pub fn thumbprint(&self) -> String {
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, self.x, self.y);
        Base64UrlUnpadded::encode_string(&Sha256::digest(canonical.as_bytes()))
    }
}

/// A proof's header and claims, encoded, waiting for its signature.
#[derive(Debug)]
pub struct UnsignedProof {
    signing_input: String,
    /// The server's nonce it carries, if any.
    nonce: Option<String>,
}

impl UnsignedProof {
    /// The server's nonce the proof carries (`None` before a server gave one).
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// What the key signs (JWS signing input, RFC 7515 §5.1; ASCII). The
    /// proof is this, a `.`, and the ES256 signature in base64url (r || s,
    /// as WebCrypto gives it and RFC 7518 §3.4 wants it); the browser side
    /// signs and joins them as it sends the request (calls.js).
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }
}

/// `ath`: the access token's SHA-256, base64url (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    Base64UrlUnpadded::encode_string(&Sha256::digest(access_token.as_bytes()))
}

/// `htu`: the request's URI without query and fragment (RFC 9449 §4.2).
pub fn target_uri(url: &HttpUrl) -> String {
    format!("{}{}", url.origin(), url.path())
}

/// Whether a nonce has RFC 9449 §8.1's syntax (`1*NQCHAR`): printable
/// ASCII without `"` and `\`.
fn is_nonce(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Whether `text` contains `word`, ignoring ASCII case. Bytes, not a `&str`
/// pattern, whose searcher is large in the wasm.
fn mentions(text: &str, word: &[u8]) -> bool {
    text.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word))
}

/// Whether an answer is a nonce challenge: a token endpoint's 400 with
/// `use_dpop_nonce` (§8), or a resource server's 401 with
/// `WWW-Authenticate: DPoP error="use_dpop_nonce"` (§9). The error code is
/// looked for as bytes (no second parse of the body; a 400 that merely
/// mentions the code in its description is retried once, harmlessly).
pub fn is_nonce_challenge(status: u16, body: &str, www_authenticate: Option<&str>) -> bool {
    const CODE: &[u8] = b"use_dpop_nonce";
    match status {
        400 => mentions(body, CODE),
        401 => www_authenticate.is_some_and(|c| mentions(c, CODE)),
        _ => false,
    }
}

/// Whether a resource server's 401 refuses the proof itself (§7.1).
pub fn resource_refused_proof(status: u16, www_authenticate: Option<&str>) -> bool {
    status == 401 && www_authenticate.is_some_and(|c| mentions(c, b"invalid_dpop_proof"))
}

impl DpopUse {
    /// A token endpoint's `invalid_dpop_proof` means something else when a
    /// proof was sent (it was refused) than when none was (one is required).
    pub fn read_refusal(self, token_endpoint: &HttpUrl, error: Error) -> Error {
        match error {
            Error::TokenRequestRefused { error, .. } if self.is_on() && error.code == "invalid_dpop_proof" => {
                Error::DpopProofRefused { url: token_endpoint.to_string(), description: error.description }
            }
            other => other,
        }
    }
}

/// The page's DPoP key as the protocol sees it: its public half and the
/// latest nonce each server gave. Holds nothing secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopBinding {
    public: PublicJwk,
    /// The latest `DPoP-Nonce` by server origin.
    nonces: Vec<(String, String)>,
}

impl DpopBinding {
    pub fn new(public: PublicJwk) -> DpopBinding {
        DpopBinding { public, nonces: Vec::new() }
    }

    pub fn thumbprint(&self) -> String {
        self.public.thumbprint()
    }

    /// Keeps the nonce a response from `url`'s server carried (§8.2: any
    /// response may bring a new one); a malformed value is ignored.
    pub fn note_nonce(&mut self, url: &HttpUrl, nonce: Option<&str>) {
        let Some(nonce) = nonce.map(str::trim).filter(|n| is_nonce(n)) else { return };
        let origin = url.origin();
        match self.nonces.iter_mut().find(|(o, _)| *o == origin) {
            Some((_, kept)) => nonce.clone_into(kept),
            None => self.nonces.push((origin, nonce.to_string())),
        }
    }

    /// The nonce a proof for `url` carries now.
    fn nonce_for(&self, url: &HttpUrl) -> Option<&str> {
        let origin = url.origin();
        self.nonces.iter().find(|(o, _)| *o == origin).map(|(_, n)| n.as_str())
    }

    /// A proof for one request (§4.2): `method` to `url`, with `ath` when
    /// an access token goes with it, and the server's nonce when it gave one.
    pub fn proof(
        &self,
        method: &str,
        url: &HttpUrl,
        access_token: Option<&str>,
        now: UnixTime,
    ) -> Result<UnsignedProof, Error> {
        Ok(self.proof_with_id(&random_token()?, method, url, access_token, now))
    }

    fn proof_with_id(
        &self,
        jti: &str,
        method: &str,
        url: &HttpUrl,
        access_token: Option<&str>,
        now: UnixTime,
    ) -> UnsignedProof {
        // Written out rather than serialized (serde_json's serializer is
        // large in the wasm). Nothing here needs JSON escaping: coordinates,
        // jti and ath are base64url, the method is a token, the nonce is
        // NQCHAR (no '"' or '\\'), and `HttpUrl` admits neither those nor
        // control characters.
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"{ALGORITHM}","jwk":{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}}}"#,
            self.public.x, self.public.y
        );
        let mut claims = format!(r#"{{"jti":"{jti}","htm":"{method}","htu":"{}","iat":{now}"#, target_uri(url));
        if let Some(token) = access_token {
            claims.push_str(&format!(r#","ath":"{}""#, access_token_hash(token)));
        }
        let nonce = self.nonce_for(url).map(str::to_string);
        if let Some(nonce) = &nonce {
            claims.push_str(&format!(r#","nonce":"{nonce}""#));
        }
        claims.push('}');
        let part = |text: &str| Base64UrlUnpadded::encode_string(text.as_bytes());
        UnsignedProof { signing_input: format!("{}.{}", part(&header), part(&claims)), nonce }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::authorize::tests::server;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use serde_json::Value;

    /// A fixed key (RFC 6979 makes its signatures deterministic too).
    fn fixed_key() -> (SigningKey, PublicJwk) {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let point = key.verifying_key().to_encoded_point(false);
        let coordinate = |c: &[u8]| URL_SAFE_NO_PAD.encode(c);
        let public = PublicJwk::new(coordinate(point.x().unwrap()), coordinate(point.y().unwrap())).unwrap();
        (key, public)
    }

    fn url(text: &str) -> HttpUrl {
        HttpUrl::parse(text).unwrap()
    }

    /// An independent reading of a DPoP proof, as a resource server would
    /// do it (RFC 9449 §4.3): split, decode, take the key from the header,
    /// verify the ES256 signature with `p256`. Returns header and claims.
    fn verify_independently(proof: &str) -> (Value, Value) {
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3, "a JWS compact serialization has three parts: {proof}");
        let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).expect("base64url without padding");
        let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
        let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        let jwk = &header["jwk"];
        assert_eq!(jwk.as_object().unwrap().len(), 4, "only the public members: {jwk}");
        let mut sec1 = vec![4u8];
        sec1.extend(decode(jwk["x"].as_str().unwrap()));
        sec1.extend(decode(jwk["y"].as_str().unwrap()));
        let key = VerifyingKey::from_sec1_bytes(&sec1).expect("a P-256 point");
        let signature = Signature::from_slice(&decode(parts[2])).expect("64-byte r||s");
        let input = format!("{}.{}", parts[0], parts[1]);
        key.verify(input.as_bytes(), &signature).expect("the signature verifies with the header's key");
        (header, claims)
    }

    /// The proof as the browser side makes it: input, '.', signature.
    fn signed(key: &SigningKey, unsigned: UnsignedProof) -> String {
        let signature: Signature = key.sign(unsigned.signing_input().as_bytes());
        format!("{}.{}", unsigned.signing_input(), URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    #[test]
    fn a_proof_verifies_independently_and_carries_the_claims_of_rfc_9449() {
        let (key, public) = fixed_key();
        let binding = DpopBinding::new(public);
        let target = url("https://fhir.example.org:8443/r4/Observation?patient=p1&_count=50#x");
        let unsigned = binding.proof_with_id("id-1", "GET", &target, Some("the-access-token"), 1_700_000_000);
        let (header, claims) = verify_independently(&signed(&key, unsigned));
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert_eq!(claims["jti"], "id-1");
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://fhir.example.org:8443/r4/Observation", "no query, no fragment");
        assert_eq!(claims["iat"], 1_700_000_000);
        // ath = BASE64URL(SHA-256("the-access-token")), computed here with sha2 directly.
        let expected = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(b"the-access-token"));
        assert_eq!(claims["ath"], expected);
        assert!(claims.get("nonce").is_none(), "no nonce until a server gives one");
        // Written without a serializer: a path with escapes and non-ASCII
        // still makes JSON that reads back exactly.
        let odd = url("https://fhir.example.org/r4/Patient/%22x%5C/Zo%C3%AB-ä");
        let (_, claims) = verify_independently(&signed(&key, binding.proof_with_id("j", "GET", &odd, None, 1)));
        assert_eq!(claims["htu"], "https://fhir.example.org/r4/Patient/%22x%5C/Zo%C3%AB-ä");
    }

    #[test]
    fn a_token_request_proof_has_no_ath_and_carries_its_servers_nonce_only() {
        let (key, public) = fixed_key();
        let mut binding = DpopBinding::new(public);
        let token = url("https://as.example.org/oauth2/token");
        let fhir = url("https://fhir.example.org/r4/Patient/1");
        binding.note_nonce(&token, Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        binding.note_nonce(&token, Some("bad\"nonce"));
        binding.note_nonce(&token, Some(""));
        assert_eq!(binding.nonce_for(&token), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"), "malformed nonces are ignored");
        let (_, claims) = verify_independently(&signed(&key, binding.proof("POST", &token, None, 5).unwrap()));
        assert_eq!(claims["htm"], "POST");
        assert!(claims.get("ath").is_none());
        assert_eq!(claims["nonce"], "eyJ7S_zG.eyJH0-Z.HX4w-7v");
        assert_eq!(binding.proof("POST", &token, None, 5).unwrap().nonce(), Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
        let (_, claims) = verify_independently(&signed(&key, binding.proof("GET", &fhir, Some("t"), 5).unwrap()));
        assert!(claims.get("nonce").is_none(), "another origin's nonce is not sent: {claims}");
        // Two proofs never share a jti (§11.1: the server refuses a replay).
        let a = binding.proof("GET", &fhir, Some("t"), 5).unwrap();
        let b = binding.proof("GET", &fhir, Some("t"), 5).unwrap();
        assert_ne!(a.signing_input(), b.signing_input());
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 §3.1's example is RSA; for EC the same rule, checked by
        // hashing the canonical form written out here.
        let (_, public) = fixed_key();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, public.x, public.y);
        let expected = URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()));
        assert_eq!(public.thumbprint(), expected);
        assert_eq!(public.thumbprint().len(), 43);
        assert!(PublicJwk::new("AAAA".into(), public.y.clone()).is_err());
    }

    #[test]
    fn the_policy_follows_the_metadata() {
        let mut plain = server();
        plain.dpop_signing_alg_values_supported = None;
        let mut es256 = server();
        es256.dpop_signing_alg_values_supported = Some(vec!["RS256".into(), "ES256".into()]);
        let mut other = server();
        other.dpop_signing_alg_values_supported = Some(vec!["PS256".into()]);
        assert_eq!(DpopPolicy::Auto.decide(&plain).unwrap(), DpopUse::Off);
        assert_eq!(DpopPolicy::Auto.decide(&es256).unwrap(), DpopUse::Preferred);
        assert_eq!(DpopPolicy::Auto.decide(&other).unwrap(), DpopUse::Off);
        assert_eq!(DpopPolicy::Off.decide(&es256).unwrap(), DpopUse::Off);
        assert_eq!(DpopPolicy::Required.decide(&plain).unwrap(), DpopUse::Required);
        assert_eq!(DpopPolicy::Required.decide(&es256).unwrap(), DpopUse::Required);
        assert!(matches!(DpopPolicy::Required.decide(&other), Err(Error::DpopUnsupported { .. })));
    }

    #[test]
    fn token_types_are_accepted_only_as_the_sign_in_asked() {
        assert_eq!(DpopUse::Off.accept(TokenType::Bearer).unwrap(), None);
        assert!(matches!(DpopUse::Off.accept(TokenType::Dpop), Err(Error::DpopTokenUnrequested)));
        assert!(matches!(DpopUse::Required.accept(TokenType::Bearer), Err(Error::DpopNotGranted)));
        assert_eq!(DpopUse::Required.accept(TokenType::Dpop).unwrap(), None);
        assert!(DpopUse::Preferred.accept(TokenType::Bearer).unwrap().is_some());
        assert_eq!(TokenType::parse("dpop"), Some(TokenType::Dpop));
        assert_eq!(TokenType::parse("BEARER"), Some(TokenType::Bearer));
        assert_eq!(TokenType::parse("mac"), None);
    }

    #[test]
    fn nonce_challenges_are_recognised_from_either_server() {
        let challenge = |status, body| is_nonce_challenge(status, body, None);
        assert!(challenge(400, r#"{"error":"use_dpop_nonce","error_description":"x"}"#));
        assert!(!challenge(400, r#"{"error":"invalid_dpop_proof"}"#));
        assert!(!challenge(401, r#"{"error":"use_dpop_nonce"}"#), "a 401's challenge is in its header");
        assert!(!challenge(400, "not json"));
        let resource = |status, header| is_nonce_challenge(status, "", header);
        assert!(resource(401, Some(r#"DPoP error="use_dpop_nonce", error_description="fresh""#)));
        assert!(resource(401, Some(r#"DPoP algs="ES256", error="USE_DPOP_NONCE""#)));
        assert!(!resource(401, Some(r#"DPoP error="invalid_token""#)));
        assert!(!resource(403, Some(r#"DPoP error="use_dpop_nonce""#)));
        assert!(!resource(401, None));
        assert!(resource_refused_proof(401, Some(r#"DPoP error="invalid_dpop_proof""#)));
        assert!(!resource_refused_proof(401, Some(r#"DPoP error="use_dpop_nonce""#)));
    }

    #[test]
    fn a_refused_proof_is_told_from_a_missing_one() {
        let endpoint = url("https://as.example.org/token");
        let refusal = || Error::TokenRequestRefused {
            status: 400,
            error: crate::error::OAuthError {
                code: "invalid_dpop_proof".into(),
                description: Some("bad htu".into()),
                uri: None,
            },
        };
        match DpopUse::Preferred.read_refusal(&endpoint, refusal()) {
            Error::DpopProofRefused { url, description } => {
                assert_eq!(url, "https://as.example.org/token");
                assert_eq!(description.as_deref(), Some("bad htu"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(DpopUse::Off.read_refusal(&endpoint, refusal()), refusal());
    }
}
