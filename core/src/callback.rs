//! The redirect back to the app (RFC 6749 §4.1.2), parsed from its query.

use crate::error::OAuthError;
use crate::secret::AuthorizationCode;
use crate::Error;

/// A successful authorization response.
#[derive(Debug, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub code: AuthorizationCode,
    pub state: String,
    /// RFC 9207 `iss`, when the server sends it (mix-up defence).
    pub iss: Option<String>,
}

/// What came back on the redirect URI.
#[derive(Debug, PartialEq, Eq)]
pub enum Callback {
    Authorized(AuthorizationResponse),
    /// An error response; `state` (if any) identifies the pending record to drop.
    Refused {
        error: OAuthError,
        state: Option<String>,
    },
}

/// Parses the callback query string (with or without the leading `?`).
///
/// Parameters must not repeat (RFC 6749 §3.1): a repeated `state` or
/// `code` is refused rather than guessed at.
pub fn parse_callback(query: &str) -> Result<Callback, Error> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut state = None;
    let mut code = None;
    let mut iss = None;
    let mut error = None;
    let mut description = None;
    let mut uri = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "iss" => &mut iss,
            "error" => &mut error,
            "error_description" => &mut description,
            "error_uri" => &mut uri,
            _ => continue,
        };
        if slot.is_some() {
            return Err(Error::CallbackMalformed {
                problem: format!("the parameter \"{key}\" appears more than once"),
            });
        }
        *slot = Some(value.into_owned()).filter(|v| !v.is_empty());
    }
    if let Some(code_text) = error {
        return Ok(Callback::Refused { error: OAuthError { code: code_text, description, uri }, state });
    }
    let state = state.ok_or(Error::CallbackWithoutState)?;
    let code = code.ok_or(Error::CallbackWithoutCode)?;
    Ok(Callback::Authorized(AuthorizationResponse { code: AuthorizationCode::new(code), state, iss }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_successful_response() {
        let callback =
            parse_callback("?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz%2B1&iss=https%3A%2F%2Fas.example").unwrap();
        let Callback::Authorized(response) = callback else { panic!() };
        assert_eq!(response.code.secret(), "SplxlOBeZQQYbYS6WxSbIA");
        assert_eq!(response.state, "xyz+1");
        assert_eq!(response.iss.as_deref(), Some("https://as.example"));
    }

    #[test]
    fn parses_error_responses_verbatim() {
        let callback =
            parse_callback("error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E+denied&state=s1")
                .unwrap();
        let Callback::Refused { error, state } = callback else { panic!() };
        assert_eq!(error.code, "access_denied");
        // Kept as text; the view never interprets it as markup.
        assert_eq!(error.description.as_deref(), Some("<script>alert(1)</script> denied"));
        assert_eq!(state.as_deref(), Some("s1"));
        let Callback::Refused { error, state } = parse_callback("error=invalid_scope").unwrap() else { panic!() };
        assert_eq!((error.code.as_str(), state), ("invalid_scope", None));
    }

    #[test]
    fn refuses_incomplete_or_ambiguous_responses() {
        assert_eq!(parse_callback(""), Err(Error::CallbackWithoutState));
        assert_eq!(parse_callback("code=abc"), Err(Error::CallbackWithoutState));
        assert_eq!(parse_callback("code=abc&state="), Err(Error::CallbackWithoutState));
        assert_eq!(parse_callback("state=abc"), Err(Error::CallbackWithoutCode));
        assert!(matches!(parse_callback("state=a&state=b&code=c"), Err(Error::CallbackMalformed { .. })));
        assert!(matches!(parse_callback("state=a&code=b&code=c"), Err(Error::CallbackMalformed { .. })));
    }
}
