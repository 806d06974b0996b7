//! Newtypes for secret protocol values.
//!
//! Their `Debug` output is redacted and there is no `Display`, so a token
//! cannot end up in a log line or an error message by accident; the value is
//! reached only through an explicit `.secret()` call. None is `Clone`: each
//! value has one owner (the pending record, the session), and a copy of a
//! secret is a place it can leak from.

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                Self(value)
            }

            /// The secret value itself. Call sites are easy to audit.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_string!(
    /// An OAuth access token (RFC 6749 §1.4): opaque by the spec, a JWT at Descope.
    AccessToken
);
secret_string!(
    /// An OAuth refresh token (RFC 6749 §1.5).
    RefreshToken
);
secret_string!(
    /// An OpenID Connect id_token as received (a compact JWS).
    IdTokenJwt
);
secret_string!(
    /// An authorization code from the callback (RFC 6749 §4.1.2).
    AuthorizationCode
);
secret_string!(
    /// A PKCE code verifier (RFC 7636 §4.1).
    PkceVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_contains_the_value() {
        let token = AccessToken::new("eyJ.super-secret.sig".into());
        let shown = format!("{token:?}");
        assert_eq!(shown, "AccessToken([redacted])");
        assert!(!shown.contains("super-secret"));
        assert_eq!(token.secret(), "eyJ.super-secret.sig");
    }
}
