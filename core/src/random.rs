//! Random values from the operating system's (or the browser's) CSPRNG.
//!
//! `getrandom` reads `crypto.getRandomValues` in the browser; there is no
//! fallback to a weaker generator: if it fails, the flow stops with an error.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::Error;

/// Bytes of entropy in `state` and `nonce`: 256 bits, well above the 122
/// bits SMART asks for and the 128 bits of the project's own floor.
pub const TOKEN_BYTES: usize = 32;

/// Fills a fixed-size array from the CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    // Not getrandom's own text: its `Display` links std::io's error
    // messages (for OS errors, which a browser has none of).
    getrandom::fill(&mut bytes)
        .map_err(|_| Error::RandomUnavailable { detail: "crypto.getRandomValues is unavailable or failed".into() })?;
    Ok(bytes)
}

/// A base64url (no padding) string of [`TOKEN_BYTES`] random bytes, for
/// `state` and `nonce`.
pub fn random_token() -> Result<String, Error> {
    Ok(Base64UrlUnpadded::encode_string(&random_bytes::<TOKEN_BYTES>()?))
}

macro_rules! random_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq)]
        pub struct $name(String);

        // Redacted: a pending record printed while debugging would
        // otherwise show the values that bind its callback.
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl $name {
            /// A fresh value from the CSPRNG.
            pub fn new_random() -> Result<Self, Error> {
                random_token().map(Self)
            }

            /// A value read back from the pending record.
            pub fn new(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether `received` is this value, compared in constant time.
            pub fn matches(&self, received: &str) -> bool {
                constant_time_eq(&self.0, received)
            }
        }
    };
}

random_value!(
    /// The `state` of one authorization request (RFC 6749 §10.12): binds the
    /// callback to the pending authorization, and is its storage key.
    State
);
random_value!(
    /// The OpenID Connect `nonce` sent with the request, expected back in the
    /// id_token (OpenID Connect Core §3.1.2.1).
    Nonce
);

/// Compares two strings in time that depends only on their lengths, so a
/// `state` check does not leak how many leading characters matched.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_base64url_with_256_bits() {
        let token = random_token().unwrap();
        // 32 bytes -> 43 base64url characters without padding.
        assert_eq!(token.len(), 43);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);
    }

    #[test]
    fn tokens_do_not_repeat() {
        let seen: HashSet<String> = (0..1000).map(|_| random_token().unwrap()).collect();
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn states_match_only_themselves() {
        let state = State::new_random().unwrap();
        assert!(state.matches(state.as_str()));
        assert!(!state.matches(&state.as_str()[1..]));
        assert_ne!(State::new_random().unwrap(), state);
        assert_ne!(Nonce::new_random().unwrap().as_str(), Nonce::new_random().unwrap().as_str());
    }

    #[test]
    fn debug_output_never_contains_the_value() {
        let state = State::new_random().unwrap();
        let nonce = Nonce::new_random().unwrap();
        assert_eq!(format!("{state:?} {nonce:?}"), "State([redacted]) Nonce([redacted])");
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(constant_time_eq("", ""));
    }
}
