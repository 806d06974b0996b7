//! PKCE, RFC 7636, with the S256 method only (`plain` is never sent).

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::random::random_bytes;
use crate::secret::PkceVerifier;
use crate::Error;

/// Random bytes behind a verifier: 64 bytes encode to 86 characters, inside
/// the 43–128 range of RFC 7636 §4.1 and with 512 bits of entropy.
const VERIFIER_BYTES: usize = 64;

/// The `code_challenge` sent in the authorize request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `code_challenge_method` for this challenge.
    pub const METHOD: &'static str = "S256";
}

impl PkceVerifier {
    /// A fresh verifier from the CSPRNG (RFC 7636 §4.1).
    pub fn new_random() -> Result<Self, Error> {
        Ok(Self::new(Base64UrlUnpadded::encode_string(&random_bytes::<VERIFIER_BYTES>()?)))
    }

    /// `BASE64URL(SHA256(ASCII(code_verifier)))`, RFC 7636 §4.2.
    pub fn challenge(&self) -> PkceChallenge {
        let digest = Sha256::digest(self.secret().as_bytes());
        PkceChallenge(Base64UrlUnpadded::encode_string(&digest))
    }

    /// Whether a verifier has the length and alphabet RFC 7636 §4.1 demands.
    pub fn is_well_formed(value: &str) -> bool {
        (43..=128).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(verifier.challenge().as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn random_verifiers_are_well_formed_and_distinct() {
        let a = PkceVerifier::new_random().unwrap();
        let b = PkceVerifier::new_random().unwrap();
        assert!(PkceVerifier::is_well_formed(a.secret()), "{}", a.secret().len());
        assert_ne!(a.secret(), b.secret());
        assert_ne!(a.challenge(), b.challenge());
    }

    #[test]
    fn well_formedness_checks_length_and_alphabet() {
        assert!(!PkceVerifier::is_well_formed(&"a".repeat(42)));
        assert!(PkceVerifier::is_well_formed(&"a".repeat(43)));
        assert!(PkceVerifier::is_well_formed(&"a".repeat(128)));
        assert!(!PkceVerifier::is_well_formed(&"a".repeat(129)));
        assert!(!PkceVerifier::is_well_formed(&format!("{}+", "a".repeat(43))));
        assert!(PkceVerifier::is_well_formed(&format!("{}-._~", "a".repeat(43))));
    }

    #[test]
    fn challenge_is_43_base64url_characters() {
        let challenge = PkceVerifier::new_random().unwrap().challenge();
        assert_eq!(challenge.as_str().len(), 43);
        assert!(!challenge.as_str().contains('='));
    }
}
