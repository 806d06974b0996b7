//! The sandbox's RS256 signing key, made fresh at every start (nothing
//! secret is kept in the repository), its JWKS, and JWT signing and
//! verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Map, Value};

pub struct Keys {
    signing: SigningKey<Sha256>,
    verifying: VerifyingKey<Sha256>,
    public: RsaPublicKey,
    pub kid: String,
}

impl Keys {
    pub fn generate() -> Keys {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("generate an RSA key");
        let public = RsaPublicKey::from(&private);
        let kid = format!("sandbox-{}", &URL_SAFE_NO_PAD.encode(rand::random::<[u8; 6]>()));
        Keys { signing: SigningKey::new(private), verifying: VerifyingKey::new(public.clone()), public, kid }
    }

    /// The public key set served at `jwks_uri`.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(self.public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(self.public.e().to_bytes_be()),
        }]})
    }

    /// A compact RS256 JWS of `claims`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.signing.sign(input.as_bytes()).to_bytes();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Like [`Keys::sign`], with one signature bit flipped (error injection).
    pub fn sign_corrupted(&self, claims: &Value) -> String {
        let token = self.sign(claims);
        let (input, signature) = token.rsplit_once('.').unwrap_or((&token, ""));
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        if let Some(first) = bytes.first_mut() {
            *first ^= 0x01;
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The claims of a token this sandbox signed, if the signature holds.
    pub fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let (input, signature) = token.rsplit_once('.')?;
        let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(signature).ok()?.as_slice()).ok()?;
        self.verifying.verify(input.as_bytes(), &signature).ok()?;
        let payload = input.split('.').nth(1)?;
        match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()? {
            Value::Object(claims) => Some(claims),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_verifies_and_detects_tampering() {
        let keys = Keys::generate();
        let claims = json!({"sub": "u1", "patient": "p001"});
        let token = keys.sign(&claims);
        assert_eq!(keys.verify(&token).unwrap()["patient"], "p001");
        assert!(keys.verify(&keys.sign_corrupted(&claims)).is_none());
        let other = Keys::generate();
        assert!(other.verify(&token).is_none());
        assert!(keys.verify("not.a.jwt").is_none());
        assert_eq!(keys.jwks()["keys"][0]["kid"], keys.kid);
    }
}
