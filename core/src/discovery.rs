//! Discovery: SMART's `.well-known/smart-configuration` and OpenID
//! Connect's `openid-configuration` (what a Descope project publishes),
//! validated into one [`AuthorizationServer`].
//!
//! Both documents are parsed by the same rules: the endpoints the flow needs
//! must be present, must be URLs, and must be https (or loopback); a server
//! that lists PKCE methods without `S256` is refused. Relative endpoint URLs
//! are resolved against the FHIR base for SMART (SMART App Launch §Discovery)
//! and against the document's own URL for OpenID.

use serde_json::Value;

use crate::json::{quoted, required, JsonError, Object};
use crate::url::HttpUrl;
use crate::Error;

/// The base URL and project of a Descope Inbound App issuer,
/// `{base}/v1/apps/{project}`. Split by `/` and a suffix, not by searching
/// for a `&str` (whose searcher is large in the wasm).
pub fn descope_inbound_issuer(issuer: &str) -> Option<(&str, &str)> {
    let (prefix, project) = issuer.rsplit_once('/')?;
    let base = prefix.strip_suffix("/v1/apps")?;
    (!project.is_empty() && !base.is_empty()).then_some((base, project))
}

/// Which document a server description came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryKind {
    /// `{fhir base}/.well-known/smart-configuration`
    Smart,
    /// `…/.well-known/openid-configuration`
    OpenId,
}

/// What the client knows about an authorization server. It keeps the
/// document it was read from, so the pending authorization can carry it
/// across the redirect and read it back with the same rules: the callback
/// then needs no second discovery request before the token request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationServer {
    pub kind: DiscoveryKind,
    pub issuer: Option<String>,
    pub authorization_endpoint: HttpUrl,
    pub token_endpoint: HttpUrl,
    pub revocation_endpoint: Option<HttpUrl>,
    pub jwks_uri: Option<HttpUrl>,
    pub userinfo_endpoint: Option<HttpUrl>,
    pub scopes_supported: Option<Vec<String>>,
    pub capabilities: Vec<String>,
    /// RFC 9449 §5.1: the proof algorithms the server accepts (`None`: not said).
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9207 §3: the server puts `iss` in every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
    /// Things that are allowed but worth telling the person who set this up.
    pub warnings: Vec<String>,
    /// Where the document came from, and the document as it came.
    source: (HttpUrl, String),
}

impl AuthorizationServer {
    /// The form the pending authorization stores (a JSON object): the
    /// document as the server sent it, read back by
    /// [`AuthorizationServer::from_stored`].
    pub(crate) fn to_stored(&self) -> String {
        let kind = match self.kind {
            DiscoveryKind::Smart => "smart",
            DiscoveryKind::OpenId => "openid",
        };
        format!(
            r#"{{"kind":"{kind}","url":{},"document":{}}}"#,
            quoted(&self.source.0.to_string()),
            quoted(&self.source.1)
        )
    }

    /// Reads back what [`AuthorizationServer::to_stored`] stored, with the
    /// rules discovery applied to it (one reader, not two).
    pub(crate) fn from_stored(o: Object<'_>, fhir_base: &HttpUrl) -> Result<AuthorizationServer, JsonError> {
        let kind = match o.text("kind")?.as_deref() {
            Some("smart") => DiscoveryKind::Smart,
            Some("openid") => DiscoveryKind::OpenId,
            _ => return Err(JsonError::new("kind", "is not smart or openid")),
        };
        let url = required(o.url("url")?, "url")?;
        let document = required(o.text("document")?, "document")?;
        AuthorizationServer::from_response(kind, &url, fhir_base, 200, &document)
            .map_err(|e| JsonError::new("document", e.diagnosis().detail))
    }

    /// The Descope project whose Inbound Apps this server is, when its
    /// issuer has their form (checked against the configuration at discovery).
    pub fn descope_project(&self) -> Option<&str> {
        descope_inbound_issuer(self.issuer.as_deref()?).map(|(_, project)| project)
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Parses a discovery response. `url` is where it came from; `fhir_base`
    /// is the issuer's FHIR base (the base for relative SMART endpoints).
    pub fn from_response(
        kind: DiscoveryKind,
        url: &HttpUrl,
        fhir_base: &HttpUrl,
        status: u16,
        body: &str,
    ) -> Result<AuthorizationServer, Error> {
        let url_text = url.to_string();
        if !(200..300).contains(&status) {
            return Err(Error::DiscoveryStatus { url: url_text, status });
        }
        let value = crate::json::parse(body.as_bytes()).map_err(|_| Error::DiscoveryNotJson {
            url: url_text.clone(),
            looks_like_html: body.trim_start().starts_with('<'),
        })?;
        let invalid = |problem: String| Error::DiscoveryInvalid { url: url_text.clone(), problem };
        let Value::Object(doc) = value else {
            return Err(invalid("it is not a JSON object".into()));
        };
        let base = match kind {
            DiscoveryKind::Smart => fhir_base,
            DiscoveryKind::OpenId => url,
        };
        let endpoint = |field: &str| -> Result<Option<HttpUrl>, Error> {
            match doc.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => {
                    let resolved = base
                        .resolve(text)
                        .map_err(|e| invalid(format!("{field} \"{text}\" is not a usable URL: {e}")))?;
                    if !resolved.is_secure() {
                        return Err(invalid(format!(
                            "{field} \"{resolved}\" is not https; tokens must not travel unencrypted"
                        )));
                    }
                    Ok(Some(resolved))
                }
                Some(_) => Err(invalid(format!("{field} is not a string"))),
            }
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?
            .ok_or_else(|| invalid("it has no authorization_endpoint, so the app cannot be launched".into()))?;
        if authorization_endpoint.fragment().is_some() {
            return Err(invalid("authorization_endpoint has a fragment (RFC 6749 §3.1 forbids one)".into()));
        }
        let token_endpoint = endpoint("token_endpoint")?.ok_or_else(|| invalid("it has no token_endpoint".into()))?;
        let revocation_endpoint = endpoint("revocation_endpoint")?;
        let jwks_uri = endpoint("jwks_uri")?;
        let userinfo_endpoint = endpoint("userinfo_endpoint")?;
        let fields = Object(&doc);
        let shape = |e: JsonError| invalid(e.to_string());
        let issuer = fields.text("issuer").map_err(shape)?;
        let scopes_supported = fields.texts("scopes_supported").map_err(shape)?;
        let capabilities = fields.texts("capabilities").map_err(shape)?.unwrap_or_default();
        let dpop_signing_alg_values_supported = fields.texts("dpop_signing_alg_values_supported").map_err(shape)?;
        let authorization_response_iss_parameter_supported =
            fields.boolean("authorization_response_iss_parameter_supported").map_err(shape)?.unwrap_or(false);
        let mut warnings = Vec::new();

        match fields.texts("code_challenge_methods_supported").map_err(shape)? {
            Some(methods) if !methods.iter().any(|m| m == "S256") => {
                return Err(Error::PkceNotSupported { url: url_text, offered: methods });
            }
            Some(_) => {}
            None => warnings.push(
                "the server does not list code_challenge_methods_supported; PKCE (S256) is sent anyway, \
                 but SMART App Launch 2 requires servers to advertise it"
                    .to_string(),
            ),
        }
        if let Some(grants) = fields.texts("grant_types_supported").map_err(shape)? {
            if !grants.iter().any(|g| g == "authorization_code") {
                return Err(invalid(format!(
                    "grant_types_supported [{}] does not include authorization_code",
                    crate::error::quoted(&grants)
                )));
            }
        } else if kind == DiscoveryKind::Smart {
            warnings.push("the server does not list grant_types_supported (required by SMART 2)".to_string());
        }
        if kind == DiscoveryKind::Smart && capabilities.is_empty() {
            warnings.push("the server lists no capabilities (required by SMART 2)".to_string());
        }

        Ok(AuthorizationServer {
            kind,
            issuer,
            authorization_endpoint,
            token_endpoint,
            revocation_endpoint,
            jwks_uri,
            userinfo_endpoint,
            scopes_supported,
            capabilities,
            dpop_signing_alg_values_supported,
            authorization_response_iss_parameter_supported,
            warnings,
            source: (url.clone(), body.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fhir_base() -> HttpUrl {
        HttpUrl::parse("https://ehr.example.org/fhir/R4").unwrap()
    }

    fn smart_url() -> HttpUrl {
        fhir_base().join_path(".well-known/smart-configuration")
    }

    fn smart(body: &str) -> Result<AuthorizationServer, Error> {
        AuthorizationServer::from_response(DiscoveryKind::Smart, &smart_url(), &fhir_base(), 200, body)
    }

    const SMART_DOC: &str = r#"{
        "issuer": "https://ehr.example.org/auth",
        "authorization_endpoint": "https://ehr.example.org/auth/authorize",
        "token_endpoint": "../../auth/token",
        "revocation_endpoint": "/auth/revoke",
        "jwks_uri": "https://ehr.example.org/auth/jwks",
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-ehr", "launch-standalone", "client-public", "context-ehr-patient"],
        "scopes_supported": ["launch", "openid", "patient/*.rs"],
        "some_future_field": {"x": 1}
    }"#;

    #[test]
    fn parses_smart_configuration_and_resolves_relative_urls_against_the_fhir_base() {
        let server = smart(SMART_DOC).unwrap();
        assert_eq!(server.kind, DiscoveryKind::Smart);
        assert_eq!(server.authorization_endpoint.to_string(), "https://ehr.example.org/auth/authorize");
        assert_eq!(server.token_endpoint.to_string(), "https://ehr.example.org/auth/token");
        assert_eq!(server.revocation_endpoint.as_ref().unwrap().to_string(), "https://ehr.example.org/auth/revoke");
        assert!(server.has_capability("launch-ehr"));
        assert!(!server.has_capability("launch-banana"));
        assert!(server.warnings.is_empty(), "{:?}", server.warnings);
    }

    #[test]
    fn parses_a_descope_inbound_app_configuration() {
        let url = HttpUrl::parse("https://api.descope.com/v1/apps/P2abc/.well-known/openid-configuration").unwrap();
        let body = r#"{
            "issuer": "https://api.descope.com/v1/apps/P2abc",
            "authorization_endpoint": "https://api.descope.com/oauth2/v1/apps/authorize",
            "token_endpoint": "https://api.descope.com/oauth2/v1/apps/token",
            "revocation_endpoint": "https://api.descope.com/oauth2/v1/apps/revoke",
            "userinfo_endpoint": "https://api.descope.com/oauth2/v1/apps/userinfo",
            "jwks_uri": "https://api.descope.com/P2abc/.well-known/jwks.json",
            "code_challenge_methods_supported": ["plain", "S256"],
            "response_types_supported": ["code"]
        }"#;
        let server = AuthorizationServer::from_response(DiscoveryKind::OpenId, &url, &fhir_base(), 200, body).unwrap();
        assert_eq!(server.issuer.as_deref(), Some("https://api.descope.com/v1/apps/P2abc"));
        assert_eq!(server.descope_project(), Some("P2abc"));
        assert_eq!(smart(SMART_DOC).unwrap().descope_project(), None, "not an Inbound App issuer");
        assert_eq!(server.userinfo_endpoint.unwrap().path(), "/oauth2/v1/apps/userinfo");
        assert!(server.warnings.is_empty(), "{:?}", server.warnings);
    }

    #[test]
    fn reads_a_descope_inbound_app_issuer() {
        assert_eq!(
            descope_inbound_issuer("https://api.descope.com/v1/apps/P2abc"),
            Some(("https://api.descope.com", "P2abc"))
        );
        assert_eq!(
            descope_inbound_issuer("https://auth.example.org/x/v1/apps/P2"),
            Some(("https://auth.example.org/x", "P2"))
        );
        for other in [
            "https://api.descope.com/P2abc",
            "https://api.descope.com/v1/apps/",
            "https://a/v2/apps/P2",
            "/v1/apps/P2",
            "P2abc",
        ] {
            assert_eq!(descope_inbound_issuer(other), None, "{other}");
        }
    }

    #[test]
    fn refuses_a_server_without_s256() {
        let body = SMART_DOC.replace(r#"["S256"]"#, r#"["plain"]"#);
        match smart(&body) {
            Err(Error::PkceNotSupported { offered, .. }) => assert_eq!(offered, ["plain"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn warns_when_pkce_is_not_advertised() {
        let body = SMART_DOC.replace(r#""code_challenge_methods_supported": ["S256"],"#, "");
        let server = smart(&body).unwrap();
        assert!(server.warnings.iter().any(|w| w.contains("code_challenge_methods_supported")));
    }

    #[test]
    fn reports_http_status_html_and_non_json() {
        assert!(matches!(smart_status(404, "Not Found"), Err(Error::DiscoveryStatus { status: 404, .. })));
        assert!(matches!(
            smart("<!doctype html><title>Login</title>"),
            Err(Error::DiscoveryNotJson { looks_like_html: true, .. })
        ));
        assert!(matches!(smart("{ truncated"), Err(Error::DiscoveryNotJson { looks_like_html: false, .. })));
        assert!(matches!(smart("[1, 2]"), Err(Error::DiscoveryInvalid { .. })));
    }

    fn smart_status(status: u16, body: &str) -> Result<AuthorizationServer, Error> {
        AuthorizationServer::from_response(DiscoveryKind::Smart, &smart_url(), &fhir_base(), status, body)
    }

    #[test]
    fn reports_missing_and_malformed_endpoints() {
        let cases = [
            (
                SMART_DOC.replace(r#""authorization_endpoint": "https://ehr.example.org/auth/authorize","#, ""),
                "no authorization_endpoint",
            ),
            (SMART_DOC.replace(r#""token_endpoint": "../../auth/token","#, ""), "no token_endpoint"),
            (SMART_DOC.replace(r#""../../auth/token""#, "42"), "token_endpoint is not a string"),
            (SMART_DOC.replace(r#""../../auth/token""#, r#""http://ehr.example.org/token""#), "not https"),
            (SMART_DOC.replace(r#""../../auth/token""#, r#""javascript:alert(1)""#), "not a usable URL"),
            (
                SMART_DOC.replace(
                    r#""https://ehr.example.org/auth/authorize""#,
                    r#""https://ehr.example.org/auth/authorize#x""#,
                ),
                "fragment",
            ),
            (
                SMART_DOC.replace(r#"["authorization_code", "refresh_token"]"#, r#"["client_credentials"]"#),
                "authorization_code",
            ),
            (
                SMART_DOC.replace(r#"["launch", "openid", "patient/*.rs"]"#, r#""launch""#),
                "scopes_supported is not a list",
            ),
            (SMART_DOC.replace(r#""launch-ehr","#, "7,"), "capabilities[0] is not a string"),
        ];
        for (body, needle) in cases {
            match smart(&body) {
                Err(Error::DiscoveryInvalid { problem, .. }) => {
                    assert!(problem.contains(needle), "{needle}: {problem}")
                }
                other => panic!("{needle}: {other:?}"),
            }
        }
    }

    #[test]
    fn allows_plain_http_only_on_loopback() {
        let base = HttpUrl::parse("http://localhost:8090/fhir").unwrap();
        let body = r#"{"authorization_endpoint": "/authorize", "token_endpoint": "/token",
                       "code_challenge_methods_supported": ["S256"], "grant_types_supported": ["authorization_code"],
                       "capabilities": ["launch-ehr"]}"#;
        let server = AuthorizationServer::from_response(
            DiscoveryKind::Smart,
            &base.join_path(".well-known/smart-configuration"),
            &base,
            200,
            body,
        )
        .unwrap();
        assert_eq!(server.token_endpoint.to_string(), "http://localhost:8090/token");
    }

    #[test]
    fn survives_the_pending_record_round_trip() {
        let stored = |server: &AuthorizationServer| {
            let json = crate::json::parse(server.to_stored().as_bytes()).unwrap();
            AuthorizationServer::from_stored(Object::of(&json).unwrap(), &fhir_base()).unwrap()
        };
        // Relative SMART endpoints resolve against the FHIR base again.
        let server = smart(SMART_DOC).unwrap();
        assert_eq!(stored(&server), server);
        assert_eq!(stored(&server).token_endpoint.to_string(), "https://ehr.example.org/auth/token");
        // OpenID endpoints resolve against the document's own URL again.
        let url = HttpUrl::parse("https://as.example.org/tenant/.well-known/openid-configuration").unwrap();
        let body = r#"{"authorization_endpoint": "/authorize", "token_endpoint": "token", "dpop_signing_alg_values_supported": ["ES256"]}"#;
        let openid = AuthorizationServer::from_response(DiscoveryKind::OpenId, &url, &fhir_base(), 200, body).unwrap();
        assert_eq!(stored(&openid), openid);
        assert_eq!(stored(&openid).dpop_signing_alg_values_supported, Some(vec!["ES256".to_string()]));
        // A record whose document was altered is refused, not half-read.
        let mut json = crate::json::parse(openid.to_stored().as_bytes()).unwrap();
        json["document"] = "{}".into();
        assert!(AuthorizationServer::from_stored(Object::of(&json).unwrap(), &fhir_base()).is_err());
    }
}
