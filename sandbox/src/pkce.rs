//! PKCE as an authorization server checks it (RFC 7636 §4.6): the S256
//! challenge is BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). Computed
//! here with `sha2` and `base64`, not with the app's own PKCE code, so that a
//! wrong challenge function in the app fails every flow against the sandbox
//! instead of agreeing with itself.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The S256 `code_challenge` for `verifier`.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
