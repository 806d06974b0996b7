//! Token endpoint responses (RFC 6749 §5.1 and §5.2, SMART App Launch
//! §Obtain access token), parsed tolerantly where real servers differ and
//! strictly where it matters.
//!
//! Tolerated: `token_type` in any case, `expires_in` as a string, context
//! values of the wrong but harmless shape, unknown keys. Refused: a missing
//! or empty `access_token`, a `token_type` other than Bearer or DPoP, a
//! body that is not a JSON object.

use serde_json::{Map, Value};

use crate::dpop::TokenType;
use crate::error::OAuthError;
use crate::fhir::Identifier;
use crate::jwt::seconds_claim;
use crate::secret::{AccessToken, IdTokenJwt, RefreshToken};
use crate::Error;

/// One entry of SMART's `fhirContext` array.
#[derive(Clone, Debug, PartialEq)]
pub struct FhirContextItem {
    pub reference: Option<String>,
    pub canonical: Option<String>,
    pub identifier: Option<Identifier>,
    pub role: Option<String>,
    pub resource_type: Option<String>,
}

/// A successful token response.
#[derive(Debug, PartialEq)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    /// Bearer, or DPoP when the token is bound to the page's key.
    pub token_type: TokenType,
    pub expires_in: Option<u64>,
    /// The granted scopes; `None` if the server sent none.
    pub scope: Option<String>,
    pub refresh_token: Option<RefreshToken>,
    pub id_token: Option<IdTokenJwt>,
    /// Launch context at the top level (standard SMART servers).
    pub context: Map<String, Value>,
}

/// The token endpoint's answer as the app received it: status, media type
/// and body.
#[derive(Clone, Copy, Debug)]
pub struct TokenAnswer<'a> {
    pub status: u16,
    /// The `Content-Type` header, if the server sent one.
    pub content_type: Option<&'a str>,
    pub body: &'a str,
}

impl<'a> TokenAnswer<'a> {
    /// An answer labelled `application/json`.
    pub fn json(status: u16, body: &'a str) -> Self {
        TokenAnswer { status, content_type: Some("application/json"), body }
    }
}

/// The context fields SMART defines at the top level of a token response.
pub const CONTEXT_FIELDS: [&str; 7] =
    ["patient", "encounter", "fhirContext", "need_patient_banner", "smart_style_url", "intent", "tenant"];

/// How much of a non-JSON body to show in an error: enough to recognise an
/// HTML error page, not so much that the message becomes the page.
const EXCERPT_CHARS: usize = 120;

/// Runs of this many token characters are shown as `[redacted]`.
const TOKEN_RUN: usize = 16;

/// The start of a body that is not JSON, for the message, with anything
/// that may be a secret taken out: a form-encoded answer
/// (`access_token=…&refresh_token=…`) carries the tokens, and a proxy's
/// page may echo the code. Long runs of letters, digits and the characters
/// of base64, URLs and JWTs become `[redacted]`; prose and markup stay.
fn excerpt(body: &str) -> String {
    let mut shown = String::new();
    let mut run = String::new();
    let mut count = 0;
    let flush = |run: &mut String, shown: &mut String, count: &mut usize| {
        let piece = if run.chars().count() >= TOKEN_RUN { "[redacted]" } else { run.as_str() };
        shown.push_str(piece);
        *count += piece.chars().count();
        run.clear();
    };
    for c in body.trim().chars() {
        if count >= EXCERPT_CHARS {
            shown.push('…');
            return shown;
        }
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=' | '%') {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut shown, &mut count);
        shown.push(c);
        count += 1;
    }
    flush(&mut run, &mut shown, &mut count);
    shown
}

/// Reads an OAuth error body (`error`, `error_description`, `error_uri`).
pub fn parse_oauth_error(value: &Value) -> Option<OAuthError> {
    let object = value.as_object()?;
    let code = object.get("error")?.as_str()?.to_string();
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
    Some(OAuthError { code, description: text("error_description"), uri: text("error_uri") })
}

impl TokenResponse {
    /// Parses the token endpoint's HTTP response.
    pub fn from_response(answer: TokenAnswer) -> Result<TokenResponse, Error> {
        let TokenAnswer { status, content_type, body } = answer;
        let value = match crate::json::parse(body.as_bytes()) {
            Ok(value) => value,
            Err(_) => {
                // Only the media type, not its parameters, and never long.
                let media_type = content_type.unwrap_or("no content type").split(';').next().unwrap_or_default();
                return Err(Error::TokenResponseNotJson {
                    status,
                    content_type: media_type.trim().chars().take(60).collect(),
                    length: body.len(),
                    excerpt: excerpt(body),
                });
            }
        };
        if !(200..300).contains(&status) {
            return Err(match parse_oauth_error(&value) {
                Some(error) => Error::TokenRequestRefused { status, error },
                None => Error::TokenRequestRefused {
                    status,
                    error: OAuthError {
                        code: "unknown_error".into(),
                        description: Some(format!("HTTP {status} without an OAuth error code")),
                        uri: None,
                    },
                },
            });
        }
        if let Some(error) = parse_oauth_error(&value) {
            // Some servers answer 200 with an error body.
            return Err(Error::TokenRequestRefused { status, error });
        }
        let Value::Object(mut fields) = value else {
            return Err(Error::TokenResponseInvalid { problem: "the response is JSON but not an object".into() });
        };
        let access_token = match fields.remove("access_token") {
            Some(Value::String(token)) if !token.is_empty() => AccessToken::new(token),
            Some(_) => {
                return Err(Error::TokenResponseInvalid { problem: "access_token is empty or not a string".into() })
            }
            None => {
                // List the keys (never the values: they may be secrets).
                let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
                return Err(Error::TokenResponseInvalid {
                    problem: format!("the response has no access_token (it has: {})", keys.join(", ")),
                });
            }
        };
        let token_type = match fields.get("token_type").and_then(Value::as_str) {
            Some(kind) => TokenType::parse(kind).ok_or_else(|| Error::TokenResponseInvalid {
                problem: format!("token_type is \"{kind}\"; this app can only use Bearer and DPoP tokens"),
            })?,
            None => return Err(Error::TokenResponseInvalid { problem: "the response has no token_type".into() }),
        };
        let secret = |fields: &mut Map<String, Value>, key: &str| match fields.remove(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        };
        let refresh_token = secret(&mut fields, "refresh_token").map(RefreshToken::new);
        let id_token = secret(&mut fields, "id_token").map(IdTokenJwt::new);
        let scope = fields.get("scope").and_then(Value::as_str).map(str::to_string);
        let expires_in = seconds_claim(&fields, "expires_in");
        let context = fields.into_iter().filter(|(key, _)| CONTEXT_FIELDS.contains(&key.as_str())).collect();
        Ok(TokenResponse { access_token, token_type, expires_in, scope, refresh_token, id_token, context })
    }
}

/// Parses a `fhirContext` array; malformed entries are skipped.
pub fn parse_fhir_context(value: Option<&Value>) -> Vec<FhirContextItem> {
    let Some(Value::Array(items)) = value else { return Vec::new() };
    items
        .iter()
        .filter_map(Value::as_object)
        .map(|item| {
            let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
            FhirContextItem {
                reference: text("reference"),
                canonical: text("canonical"),
                identifier: item.get("identifier").and_then(|v| crate::json::read(v).ok()),
                role: text("role"),
                resource_type: text("type"),
            }
        })
        .filter(|item| item.reference.is_some() || item.canonical.is_some() || item.identifier.is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_guides_token_response() {
        let body = r#"{
            "access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "abc123",
            "scope": "openid fhirUser patient/*.read launch",
            "id_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.sig"
        }"#;
        let response = TokenResponse::from_response(TokenAnswer::json(200, body)).unwrap();
        assert_eq!(response.expires_in, Some(3600));
        assert_eq!(response.refresh_token.unwrap().secret(), "abc123");
        assert_eq!(response.scope.as_deref(), Some("openid fhirUser patient/*.read launch"));
        assert!(response.id_token.is_some());
        assert!(response.context.is_empty());
    }

    #[test]
    fn reads_top_level_context_and_ignores_unknown_keys() {
        let body = r#"{
            "access_token": "opaque", "token_type": "bearer", "expires_in": "300",
            "patient": "123", "encounter": "e-9", "need_patient_banner": "false",
            "smart_style_url": "https://ehr.example.org/style.json", "tenant": "t1",
            "fhirContext": [{"reference": "Appointment/1"}, {"canonical": "http://x/Questionnaire/q|1", "role": "launch"},
                {"identifier": {"system": "urn:oid:1.2.3", "value": "A-7"}, "type": "ServiceRequest"},
                {"identifier": "not an Identifier"}, {"bogus": 1}, "str"],
            "vendor_extension": {"a": 1}
        }"#;
        let response = TokenResponse::from_response(TokenAnswer::json(200, body)).unwrap();
        assert_eq!(response.expires_in, Some(300));
        // Kept as sent: `LaunchContext::resolve` reads them, with their source.
        assert_eq!(response.context["patient"], "123");
        assert_eq!(response.context["need_patient_banner"], "false");
        assert!(!response.context.contains_key("vendor_extension"));
        let context = parse_fhir_context(response.context.get("fhirContext"));
        assert_eq!(context.len(), 3);
        assert_eq!(context[0].reference.as_deref(), Some("Appointment/1"));
        assert_eq!(context[1].role.as_deref(), Some("launch"));
        let identifier = context[2].identifier.as_ref().unwrap();
        assert_eq!((identifier.system.as_deref(), identifier.value.as_deref()), (Some("urn:oid:1.2.3"), Some("A-7")));
        assert_eq!(context[2].resource_type.as_deref(), Some("ServiceRequest"));
    }

    #[test]
    fn token_type_is_case_insensitive_but_must_be_bearer_or_dpop() {
        for (kind, expected) in [
            ("Bearer", TokenType::Bearer),
            ("bearer", TokenType::Bearer),
            ("BEARER", TokenType::Bearer),
            ("DPoP", TokenType::Dpop),
            ("dpop", TokenType::Dpop),
        ] {
            let body = format!(r#"{{"access_token": "t", "token_type": "{kind}"}}"#);
            assert_eq!(
                TokenResponse::from_response(TokenAnswer::json(200, &body)).unwrap().token_type,
                expected,
                "{kind}"
            );
        }
        let mac = TokenResponse::from_response(TokenAnswer::json(200, r#"{"access_token": "t", "token_type": "mac"}"#));
        assert!(matches!(mac, Err(Error::TokenResponseInvalid { problem }) if problem.contains("\"mac\"")));
        let none = TokenResponse::from_response(TokenAnswer::json(200, r#"{"access_token": "t"}"#));
        assert!(matches!(none, Err(Error::TokenResponseInvalid { problem }) if problem.contains("token_type")));
    }

    #[test]
    fn a_body_without_access_token_names_keys_but_not_values() {
        let error = TokenResponse::from_response(TokenAnswer::json(
            200,
            r#"{"token_type": "Bearer", "refresh_token": "SECRET-RT"}"#,
        ))
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("no access_token"), "{text}");
        assert!(text.contains("refresh_token"));
        assert!(!text.contains("SECRET-RT"));
        assert!(matches!(
            TokenResponse::from_response(TokenAnswer::json(200, r#"{"access_token": "", "token_type": "Bearer"}"#)),
            Err(Error::TokenResponseInvalid { .. })
        ));
        assert!(matches!(
            TokenResponse::from_response(TokenAnswer::json(200, r#"{"access_token": 5, "token_type": "Bearer"}"#)),
            Err(Error::TokenResponseInvalid { .. })
        ));
    }

    #[test]
    fn oauth_error_bodies_become_refusals() {
        let body =
            r#"{"error": "invalid_grant", "error_description": "code already used", "error_uri": "https://as/doc"}"#;
        let error = TokenResponse::from_response(TokenAnswer::json(400, body)).unwrap_err();
        match error {
            Error::TokenRequestRefused { status: 400, error } => {
                assert_eq!(error.code, "invalid_grant");
                assert_eq!(error.description.as_deref(), Some("code already used"));
                assert_eq!(error.uri.as_deref(), Some("https://as/doc"));
            }
            other => panic!("{other:?}"),
        }
        // An error body with a 200 status is still an error.
        assert!(matches!(
            TokenResponse::from_response(TokenAnswer::json(200, r#"{"error": "invalid_client"}"#)),
            Err(Error::TokenRequestRefused { status: 200, .. })
        ));
        // A non-2xx without an OAuth body is still reported with its status.
        assert!(matches!(
            TokenResponse::from_response(TokenAnswer::json(502, r#"{"message": "bad gateway"}"#)),
            Err(Error::TokenRequestRefused { status: 502, .. })
        ));
    }

    #[test]
    fn non_json_bodies_are_reported_with_a_short_excerpt() {
        let html = format!("<html><body>{}</body></html>", "x y ".repeat(200));
        let answer = TokenAnswer { status: 502, content_type: Some("text/html; charset=utf-8"), body: &html };
        match TokenResponse::from_response(answer).unwrap_err() {
            Error::TokenResponseNotJson { status, content_type, length, excerpt } => {
                assert_eq!((status, content_type.as_str(), length), (502, "text/html", html.len()));
                assert!(excerpt.starts_with("<html><body>x y x y"), "{excerpt}");
                assert!(excerpt.chars().count() <= EXCERPT_CHARS + 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            TokenResponse::from_response(TokenAnswer::json(200, "[]")),
            Err(Error::TokenResponseInvalid { .. })
        ));
    }

    #[test]
    fn a_form_encoded_answer_shows_no_token() {
        let form = "access_token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln&token_type=bearer&refresh_token=8xLOxBtZp8&expires_in=3600";
        match TokenResponse::from_response(TokenAnswer::json(200, form)).unwrap_err() {
            Error::TokenResponseNotJson { excerpt, .. } => {
                assert!(!excerpt.contains("eyJ") && !excerpt.contains("8xLOxBtZp8"), "{excerpt}");
                assert!(excerpt.contains("[redacted]"), "{excerpt}");
            }
            other => panic!("{other:?}"),
        }
        // A token cut by the excerpt's end is redacted whole, not shown in part.
        let long = format!("{} code={}", "word ".repeat(22), "Zk3".repeat(30));
        let Error::TokenResponseNotJson { excerpt, .. } =
            TokenResponse::from_response(TokenAnswer::json(500, &long)).unwrap_err()
        else {
            panic!()
        };
        assert!(!excerpt.contains("Zk3"), "{excerpt}");
    }
}
