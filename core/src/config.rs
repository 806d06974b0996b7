//! The runtime configuration, `config.json`, read by the app at start-up so a
//! deployment can change issuers, client ids and scopes without a rebuild.
//!
//! ```json
//! {
//!   "redirect_path": "/callback",
//!   "issuers": [{
//!     "id": "sandbox",
//!     "name": "Sandbox EHR",
//!     "fhir_base_url": "http://localhost:8090/fhir",
//!     "authorization_server": { "type": "descope", "project_id": "P2Sandbox", "base_url": "http://localhost:8090" },
//!     "client_id": "smart-app",
//!     "ehr_launch_scopes": "launch openid fhirUser patient/*.rs offline_access",
//!     "standalone_scopes": "launch/patient openid fhirUser patient/*.rs offline_access"
//!   }]
//! }
//! ```
//!
//! `authorization_server.type` is `smart` (SMART discovery at the FHIR
//! base), `descope` (a Descope project; `base_url` defaults to Descope's
//! API host) or `openid` (an explicit `configuration_url`).

use crate::discovery::{AuthorizationServer, DiscoveryKind};
use crate::dpop::DpopPolicy;
use crate::json::{read, Fields, FromJson, JsonError, Object};
use crate::scopes::{Scope, ScopeSet};
use crate::url::HttpUrl;
use crate::Error;

/// Descope's API host, used when a Descope issuer names no `base_url`.
pub const DESCOPE_DEFAULT_BASE_URL: &str = "https://api.descope.com";

/// How the app finds an issuer's authorization server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizationServerSource {
    /// `GET {fhir base}/.well-known/smart-configuration`.
    SmartDiscovery,
    /// A Descope project's Inbound Apps: OpenID discovery at
    /// `{base_url}/v1/apps/{project_id}/.well-known/openid-configuration`,
    /// the document Descope's API description lists for "Third party apps"
    /// (its issuer is `{base_url}/v1/apps/{project_id}`). Not
    /// `{base_url}/{project_id}/.well-known/openid-configuration`: that is
    /// the project's federated OIDC provider, which knows no inbound app.
    Descope { project_id: String, base_url: HttpUrl },
    /// OpenID discovery at an explicit URL.
    OpenIdDiscovery { configuration_url: HttpUrl },
}

impl AuthorizationServerSource {
    /// The URL of the discovery document for an issuer with this FHIR base.
    pub fn discovery_url(&self, fhir_base: &HttpUrl) -> HttpUrl {
        match self {
            AuthorizationServerSource::SmartDiscovery => fhir_base.join_path(".well-known/smart-configuration"),
            AuthorizationServerSource::Descope { project_id, base_url } => {
                base_url.join_path(&format!("v1/apps/{project_id}/.well-known/openid-configuration"))
            }
            AuthorizationServerSource::OpenIdDiscovery { configuration_url } => configuration_url.clone(),
        }
    }

    /// Which discovery document the source publishes.
    pub fn discovery_kind(&self) -> DiscoveryKind {
        match self {
            AuthorizationServerSource::SmartDiscovery => DiscoveryKind::Smart,
            AuthorizationServerSource::Descope { .. } | AuthorizationServerSource::OpenIdDiscovery { .. } => {
                DiscoveryKind::OpenId
            }
        }
    }

    pub fn is_descope(&self) -> bool {
        matches!(self, AuthorizationServerSource::Descope { .. })
    }

    /// The issuer an OpenID discovery document must name: the URL it was
    /// fetched from without `/.well-known/openid-configuration` (OpenID
    /// Connect Discovery 1.0 §4.3: "MUST be identical"). For Descope that is
    /// `{base_url}/v1/apps/{project_id}`. SMART discovery sets no such rule.
    pub fn expected_issuer(&self, fhir_base: &HttpUrl) -> Option<String> {
        self.issuer_published_at(&self.discovery_url(fhir_base))
    }

    fn issuer_published_at(&self, discovery_url: &HttpUrl) -> Option<String> {
        match self {
            AuthorizationServerSource::SmartDiscovery => None,
            _ => discovery_url.to_string().strip_suffix("/.well-known/openid-configuration").map(str::to_string),
        }
    }

    /// Reads the discovery response fetched from [`Self::discovery_url`],
    /// and refuses a document that names another issuer than this source's
    /// (before any sign-in is sent to its endpoints).
    pub fn read_discovery(&self, fhir_base: &HttpUrl, status: u16, body: &str) -> Result<AuthorizationServer, Error> {
        let url = self.discovery_url(fhir_base);
        let server = AuthorizationServer::from_response(self.discovery_kind(), &url, fhir_base, status, body)?;
        match self.issuer_published_at(&url) {
            Some(expected) if server.issuer.as_deref() != Some(expected.as_str()) => {
                Err(Error::DiscoveryWrongIssuer { url: url.to_string(), expected, found: server.issuer })
            }
            _ => Ok(server),
        }
    }
}

/// How the sign-in page is shown (`issuers[].authorization_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthorizationMode {
    /// The app's window leaves for the authorization server and comes back.
    Redirect,
    /// The sign-in runs in a popup window; the app stays where it is. For
    /// servers whose pages refuse to be framed when the app runs inside
    /// the EHR's iframe.
    Popup,
    /// A popup when the app runs inside a frame, a redirect otherwise.
    #[default]
    Auto,
}

/// What actually happens for one sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInWindow {
    Redirect,
    Popup,
}

impl AuthorizationMode {
    fn parse(text: &str) -> Option<AuthorizationMode> {
        match text {
            "redirect" => Some(AuthorizationMode::Redirect),
            "popup" => Some(AuthorizationMode::Popup),
            "auto" => Some(AuthorizationMode::Auto),
            _ => None,
        }
    }

    /// The window to use, given whether the app is inside a frame.
    pub fn window(self, framed: bool) -> SignInWindow {
        match self {
            AuthorizationMode::Redirect => SignInWindow::Redirect,
            AuthorizationMode::Popup => SignInWindow::Popup,
            AuthorizationMode::Auto if framed => SignInWindow::Popup,
            AuthorizationMode::Auto => SignInWindow::Redirect,
        }
    }
}

/// One EHR / FHIR server the app may be launched from or sign in to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// A short stable identifier, used in links (`/?provider=id`).
    pub id: String,
    /// What users see in the provider picker.
    pub name: String,
    /// The FHIR base URL; an EHR launch's `iss` must equal it.
    pub fhir_base_url: HttpUrl,
    pub authorization_server: AuthorizationServerSource,
    pub client_id: String,
    pub ehr_launch_scopes: ScopeSet,
    pub standalone_scopes: ScopeSet,
    pub authorization_mode: AuthorizationMode,
    /// Whether tokens are bound to a key of the page (DPoP, RFC 9449).
    pub dpop: DpopPolicy,
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    pub issuers: Vec<IssuerConfig>,
    /// The callback path under the app's base, registered as redirect URI.
    pub redirect_path: String,
    /// How long the app waits for any server before saying so.
    pub request_timeout_seconds: u32,
}

/// The default of `request_timeout_seconds`.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u32 = 30;

/// The longest `request_timeout_seconds` taken (calls.js sends its early
/// requests with this timeout, since it cannot know the configured one).
pub const MAX_REQUEST_TIMEOUT_SECONDS: u32 = 300;

// The file as written, before validation: every field optional so that
// a missing one gets a message naming it; unknown fields are refused, so
// a misspelt one does not silently fall back to a default.
struct RawConfig {
    issuers: Option<Vec<RawIssuer>>,
    redirect_path: Option<String>,
    request_timeout_seconds: Option<u64>,
}

struct RawIssuer {
    id: Option<String>,
    name: Option<String>,
    fhir_base_url: Option<String>,
    authorization_server: Option<RawAuthorizationServer>,
    client_id: Option<String>,
    ehr_launch_scopes: Option<String>,
    standalone_scopes: Option<String>,
    authorization_mode: Option<String>,
    dpop: Option<String>,
}

struct RawAuthorizationServer {
    kind: Option<String>,
    project_id: Option<String>,
    base_url: Option<String>,
    configuration_url: Option<String>,
}

impl FromJson for RawConfig {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        o.only(&["issuers", "redirect_path", "request_timeout_seconds"])?;
        let issuers = o.list("issuers", read)?;
        let f = Fields::new(o);
        f.finish(RawConfig {
            issuers,
            redirect_path: f.text("redirect_path"),
            request_timeout_seconds: f.whole_number("request_timeout_seconds"),
        })
    }
}

impl FromJson for RawIssuer {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        o.only(&[
            "id",
            "name",
            "fhir_base_url",
            "authorization_server",
            "client_id",
            "ehr_launch_scopes",
            "standalone_scopes",
            "authorization_mode",
            "dpop",
        ])?;
        let f = Fields::new(o);
        f.finish(RawIssuer {
            id: f.text("id"),
            name: f.text("name"),
            fhir_base_url: f.text("fhir_base_url"),
            authorization_server: f.one("authorization_server"),
            client_id: f.text("client_id"),
            ehr_launch_scopes: f.text("ehr_launch_scopes"),
            standalone_scopes: f.text("standalone_scopes"),
            authorization_mode: f.text("authorization_mode"),
            dpop: f.text("dpop"),
        })
    }
}

impl FromJson for RawAuthorizationServer {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        o.only(&["type", "project_id", "base_url", "configuration_url"])?;
        let f = Fields::new(o);
        f.finish(RawAuthorizationServer {
            kind: f.text("type"),
            project_id: f.text("project_id"),
            base_url: f.text("base_url"),
            configuration_url: f.text("configuration_url"),
        })
    }
}

fn invalid(path: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::ConfigInvalid { path: path.into(), problem: problem.into() }
}

fn required<T>(value: Option<T>, path: &str) -> Result<T, Error> {
    value.ok_or_else(|| invalid(path, "this field is required"))
}

fn required_text(value: Option<String>, path: &str) -> Result<String, Error> {
    let text = required(value, path)?;
    if text.trim().is_empty() {
        return Err(invalid(path, "must not be empty"));
    }
    Ok(text)
}

fn server_url(text: String, path: &str) -> Result<HttpUrl, Error> {
    let url = HttpUrl::parse(&text).map_err(|e| invalid(path, format!("\"{text}\" is not usable: {e}")))?;
    if !url.is_secure() {
        return Err(invalid(path, format!("\"{text}\" must use https:// (plain http is allowed only on localhost)")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(path, format!("\"{text}\" must not have a query or fragment")));
    }
    Ok(url)
}

impl AppConfig {
    /// Parses and validates `config.json`. Every message names the field.
    pub fn parse(json: &str) -> Result<AppConfig, Error> {
        let value: serde_json::Value = crate::json::parse(json.as_bytes()).map_err(|e| invalid("the file", e))?;
        let raw: RawConfig = read(&value).map_err(|e| match e.path.as_str() {
            "" => invalid("the file", "is not a JSON object"),
            _ => invalid(e.path, e.problem),
        })?;
        let redirect_path = raw.redirect_path.unwrap_or_else(|| "/callback".to_string());
        if !redirect_path.starts_with('/')
            || redirect_path.contains(['?', '#'])
            || redirect_path.contains(char::is_whitespace)
        {
            return Err(invalid(
                "redirect_path",
                format!("\"{redirect_path}\" must be a path starting with '/', without query or fragment"),
            ));
        }
        let raw_issuers = required(raw.issuers, "issuers")?;
        if raw_issuers.is_empty() {
            return Err(invalid("issuers", "list at least one issuer"));
        }
        let mut issuers: Vec<IssuerConfig> = Vec::new();
        for (i, raw) in raw_issuers.into_iter().enumerate() {
            let issuer = Self::issuer(raw, &format!("issuers[{i}]"))?;
            if issuers.iter().any(|o| o.id == issuer.id) {
                return Err(invalid(format!("issuers[{i}].id"), format!("\"{}\" is used by two issuers", issuer.id)));
            }
            if issuers.iter().any(|o| o.fhir_base_url.same_base(&issuer.fhir_base_url)) {
                return Err(invalid(
                    format!("issuers[{i}].fhir_base_url"),
                    format!("\"{}\" is listed twice", issuer.fhir_base_url),
                ));
            }
            issuers.push(issuer);
        }
        let request_timeout_seconds = raw.request_timeout_seconds.unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECONDS.into());
        if !(1..=MAX_REQUEST_TIMEOUT_SECONDS.into()).contains(&request_timeout_seconds) {
            // The maximum written out: formatted from the constant, it
            // cost 91 bytes of brotli wasm.
            return Err(invalid(
                "request_timeout_seconds",
                format!("{request_timeout_seconds} is not between 1 and 300 seconds"),
            ));
        }
        // Within 1..=MAX_REQUEST_TIMEOUT_SECONDS, so it fits.
        let request_timeout_seconds = request_timeout_seconds as u32;
        Ok(AppConfig { issuers, redirect_path, request_timeout_seconds })
    }

    fn issuer(raw: RawIssuer, at: &str) -> Result<IssuerConfig, Error> {
        let id = required_text(raw.id, &format!("{at}.id"))?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(invalid(format!("{at}.id"), format!("\"{id}\" may contain only letters, digits, '-' and '_'")));
        }
        let name = required_text(raw.name, &format!("{at}.name"))?;
        let fhir_base_url = server_url(
            required_text(raw.fhir_base_url, &format!("{at}.fhir_base_url"))?,
            &format!("{at}.fhir_base_url"),
        )?;
        let authorization_server = Self::source(
            required(raw.authorization_server, &format!("{at}.authorization_server"))?,
            &format!("{at}.authorization_server"),
        )?;
        let client_id = required_text(raw.client_id, &format!("{at}.client_id"))?;
        let scopes = |value: Option<String>, field: &str| -> Result<ScopeSet, Error> {
            let path = format!("{at}.{field}");
            let set = ScopeSet::parse_strict(&required_text(value, &path)?).map_err(|e| invalid(&path, e))?;
            if !set.iter().any(|s| matches!(s, Scope::Resource(_))) {
                return Err(invalid(
                    &path,
                    "no clinical-data scope (such as patient/*.rs): the app could read nothing",
                ));
            }
            Ok(set)
        };
        let ehr_launch_scopes = scopes(raw.ehr_launch_scopes, "ehr_launch_scopes")?;
        if !ehr_launch_scopes.contains(&Scope::Launch) {
            return Err(invalid(
                format!("{at}.ehr_launch_scopes"),
                "must include \"launch\": an EHR launch needs it to receive the launch context",
            ));
        }
        let standalone_scopes = scopes(raw.standalone_scopes, "standalone_scopes")?;
        if standalone_scopes.contains(&Scope::Launch) {
            return Err(invalid(
                format!("{at}.standalone_scopes"),
                "must not include \"launch\" (that is for EHR launch); use \"launch/patient\"",
            ));
        }
        let authorization_mode = match raw.authorization_mode {
            None => AuthorizationMode::default(),
            Some(text) => AuthorizationMode::parse(&text).ok_or_else(|| {
                invalid(
                    format!("{at}.authorization_mode"),
                    format!("\"{text}\" is not one of \"redirect\", \"popup\", \"auto\""),
                )
            })?,
        };
        let dpop = match raw.dpop {
            None => DpopPolicy::default(),
            Some(text) => DpopPolicy::parse(&text).ok_or_else(|| {
                invalid(format!("{at}.dpop"), format!("\"{text}\" is not one of \"auto\", \"required\", \"off\""))
            })?,
        };
        Ok(IssuerConfig {
            id,
            name,
            fhir_base_url,
            authorization_server,
            client_id,
            ehr_launch_scopes,
            standalone_scopes,
            authorization_mode,
            dpop,
        })
    }

    fn source(raw: RawAuthorizationServer, at: &str) -> Result<AuthorizationServerSource, Error> {
        let kind = required_text(raw.kind, &format!("{at}.type"))?;
        let unexpected = |field: &str, present: bool| -> Result<(), Error> {
            if present {
                Err(invalid(format!("{at}.{field}"), format!("does not apply to type \"{kind}\"")))
            } else {
                Ok(())
            }
        };
        match kind.as_str() {
            "smart" => {
                unexpected("project_id", raw.project_id.is_some())?;
                unexpected("base_url", raw.base_url.is_some())?;
                unexpected("configuration_url", raw.configuration_url.is_some())?;
                Ok(AuthorizationServerSource::SmartDiscovery)
            }
            "descope" => {
                unexpected("configuration_url", raw.configuration_url.is_some())?;
                let project_id = required_text(raw.project_id, &format!("{at}.project_id"))?;
                if !project_id.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        format!("{at}.project_id"),
                        format!("\"{project_id}\" is not a Descope project id (letters and digits, like P2abc…)"),
                    ));
                }
                let base_url = server_url(
                    raw.base_url.unwrap_or_else(|| DESCOPE_DEFAULT_BASE_URL.to_string()),
                    &format!("{at}.base_url"),
                )?;
                Ok(AuthorizationServerSource::Descope { project_id, base_url })
            }
            "openid" => {
                unexpected("project_id", raw.project_id.is_some())?;
                unexpected("base_url", raw.base_url.is_some())?;
                let path = format!("{at}.configuration_url");
                let configuration_url = server_url(required_text(raw.configuration_url, &path)?, &path)?;
                Ok(AuthorizationServerSource::OpenIdDiscovery { configuration_url })
            }
            other => Err(invalid(
                format!("{at}.type"),
                format!("\"{other}\" is not one of \"smart\", \"descope\", \"openid\""),
            )),
        }
    }

    /// The configured issuer whose FHIR base equals `iss`.
    pub fn issuer_for_iss(&self, iss: &HttpUrl) -> Option<&IssuerConfig> {
        self.issuers.iter().find(|i| i.fhir_base_url.same_base(iss))
    }

    pub fn issuer_by_id(&self, id: &str) -> Option<&IssuerConfig> {
        self.issuers.iter().find(|i| i.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../public/config.json");

    fn with_issuer(issuer_json: &str) -> String {
        format!(r#"{{"issuers": [{issuer_json}]}}"#)
    }

    fn issuer(overrides: &[(&str, &str)]) -> String {
        let mut fields = vec![
            ("id", r#""ehr""#),
            ("name", r#""General Hospital""#),
            ("fhir_base_url", r#""https://ehr.example.org/fhir/R4""#),
            ("authorization_server", r#"{"type": "smart"}"#),
            ("client_id", r#""app-1""#),
            ("ehr_launch_scopes", r#""launch openid fhirUser patient/*.rs""#),
            ("standalone_scopes", r#""launch/patient openid fhirUser patient/*.rs""#),
        ];
        for (key, value) in overrides {
            match fields.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => fields.push((key, value)),
            }
        }
        let body: Vec<String> =
            fields.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!(r#""{k}": {v}"#)).collect();
        with_issuer(&format!("{{{}}}", body.join(", ")))
    }

    fn problem(json: &str) -> (String, String) {
        match AppConfig::parse(json) {
            Err(Error::ConfigInvalid { path, problem }) => (path, problem),
            other => panic!("expected ConfigInvalid, got {other:?}"),
        }
    }

    #[test]
    fn request_timeout_defaults_and_is_bounded() {
        assert_eq!(AppConfig::parse(&issuer(&[])).unwrap().request_timeout_seconds, 30);
        let config = issuer(&[]).replacen('{', r#"{"request_timeout_seconds": 5, "#, 1);
        assert_eq!(AppConfig::parse(&config).unwrap().request_timeout_seconds, 5);
        let (path, problem) = problem(&issuer(&[]).replacen('{', r#"{"request_timeout_seconds": 0, "#, 1));
        assert_eq!(path, "request_timeout_seconds");
        // The message names the bound the check uses.
        assert!(problem.contains(&format!("between 1 and {MAX_REQUEST_TIMEOUT_SECONDS}")), "{problem}");
        let longest = format!(r#"{{"request_timeout_seconds": {MAX_REQUEST_TIMEOUT_SECONDS}, "#);
        assert!(AppConfig::parse(&issuer(&[]).replacen('{', &longest, 1)).is_ok());
        let longer = format!(r#"{{"request_timeout_seconds": {}, "#, MAX_REQUEST_TIMEOUT_SECONDS + 1);
        assert_eq!(self::problem(&issuer(&[]).replacen('{', &longer, 1)).0, "request_timeout_seconds");
    }

    #[test]
    fn authorization_mode_defaults_to_auto_and_is_checked() {
        let config = AppConfig::parse(&issuer(&[])).unwrap();
        assert_eq!(config.issuers[0].authorization_mode, AuthorizationMode::Auto);
        let config = AppConfig::parse(&issuer(&[("authorization_mode", r#""popup""#)])).unwrap();
        assert_eq!(config.issuers[0].authorization_mode, AuthorizationMode::Popup);
        let (path, problem) = problem(&issuer(&[("authorization_mode", r#""iframe""#)]));
        assert_eq!(path, "issuers[0].authorization_mode");
        assert!(problem.contains("\"iframe\" is not one of"), "{problem}");
    }

    #[test]
    fn dpop_defaults_to_auto_and_is_checked() {
        assert_eq!(AppConfig::parse(&issuer(&[])).unwrap().issuers[0].dpop, DpopPolicy::Auto);
        let config = AppConfig::parse(&issuer(&[("dpop", r#""required""#)])).unwrap();
        assert_eq!(config.issuers[0].dpop, DpopPolicy::Required);
        let config = AppConfig::parse(&issuer(&[("dpop", r#""off""#)])).unwrap();
        assert_eq!(config.issuers[0].dpop, DpopPolicy::Off);
        let (path, problem) = problem(&issuer(&[("dpop", r#""yes""#)]));
        assert_eq!(path, "issuers[0].dpop");
        assert!(problem.contains("\"yes\" is not one of \"auto\", \"required\", \"off\""), "{problem}");
    }

    #[test]
    fn auto_uses_a_popup_only_inside_a_frame() {
        assert_eq!(AuthorizationMode::Auto.window(true), SignInWindow::Popup);
        assert_eq!(AuthorizationMode::Auto.window(false), SignInWindow::Redirect);
        assert_eq!(AuthorizationMode::Redirect.window(true), SignInWindow::Redirect);
        assert_eq!(AuthorizationMode::Popup.window(false), SignInWindow::Popup);
    }

    #[test]
    fn the_shipped_config_is_valid() {
        let config = AppConfig::parse(SHIPPED).unwrap();
        assert!(!config.issuers.is_empty());
        assert_eq!(config.redirect_path, "/callback");
    }

    #[test]
    fn parses_a_minimal_smart_issuer() {
        let config = AppConfig::parse(&issuer(&[])).unwrap();
        let ehr = &config.issuers[0];
        assert_eq!(ehr.authorization_server, AuthorizationServerSource::SmartDiscovery);
        assert_eq!(ehr.authorization_server.discovery_kind(), DiscoveryKind::Smart);
        assert_eq!(
            ehr.authorization_server.discovery_url(&ehr.fhir_base_url).to_string(),
            "https://ehr.example.org/fhir/R4/.well-known/smart-configuration"
        );
        assert_eq!(config.redirect_path, "/callback");
    }

    #[test]
    fn descope_defaults_to_the_descope_api_host() {
        let config =
            AppConfig::parse(&issuer(&[("authorization_server", r#"{"type": "descope", "project_id": "P2abc123"}"#)]))
                .unwrap();
        let ehr = &config.issuers[0];
        assert!(ehr.authorization_server.is_descope());
        assert_eq!(ehr.authorization_server.discovery_kind(), DiscoveryKind::OpenId);
        assert_eq!(
            ehr.authorization_server.discovery_url(&ehr.fhir_base_url).to_string(),
            "https://api.descope.com/v1/apps/P2abc123/.well-known/openid-configuration"
        );
        assert_eq!(
            ehr.authorization_server.expected_issuer(&ehr.fhir_base_url).as_deref(),
            Some("https://api.descope.com/v1/apps/P2abc123")
        );
    }

    /// An Inbound App document as Descope publishes it, naming `issuer`.
    fn inbound_app_document(issuer: &str) -> String {
        format!(
            r#"{{"issuer": "{issuer}", "authorization_endpoint": "https://auth.example.org/oauth2/v1/apps/authorize",
                "token_endpoint": "https://auth.example.org/oauth2/v1/apps/token",
                "jwks_uri": "https://auth.example.org/P2abc/.well-known/jwks.json",
                "code_challenge_methods_supported": ["S256"]}}"#
        )
    }

    #[test]
    fn a_descope_document_must_name_the_inbound_apps_issuer() {
        let source = AuthorizationServerSource::Descope {
            project_id: "P2abc".into(),
            base_url: HttpUrl::parse("https://auth.example.org").unwrap(),
        };
        let fhir = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        let inbound = "https://auth.example.org/v1/apps/P2abc";
        let server = source.read_discovery(&fhir, 200, &inbound_app_document(inbound)).unwrap();
        assert_eq!(server.issuer.as_deref(), Some(inbound));
        // The project's federated OIDC provider, a mistyped project, a document without issuer.
        for (found, federated) in [
            (Some("https://auth.example.org/P2abc"), true),
            (Some("https://auth.example.org/v1/apps/P2abd"), false),
            (None, false),
        ] {
            let body = match found {
                Some(issuer) => inbound_app_document(issuer),
                None => inbound_app_document("x").replace(r#""issuer": "x", "#, ""),
            };
            let error = source.read_discovery(&fhir, 200, &body).unwrap_err();
            assert_eq!(
                error,
                Error::DiscoveryWrongIssuer {
                    url: "https://auth.example.org/v1/apps/P2abc/.well-known/openid-configuration".into(),
                    expected: inbound.into(),
                    found: found.map(str::to_string),
                }
            );
            let detail = error.diagnosis().detail;
            assert!(detail.contains(inbound) && detail.contains("/v1/apps/P2abc/.well-known"), "{detail}");
            assert_eq!(detail.contains("federated OIDC provider"), federated, "{detail}");
        }
    }

    #[test]
    fn an_openid_document_must_name_the_issuer_it_is_published_under() {
        let fhir = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        let source =
            |url: &str| AuthorizationServerSource::OpenIdDiscovery { configuration_url: HttpUrl::parse(url).unwrap() };
        let standard = source("https://auth.example.org/tenant-1/.well-known/openid-configuration");
        assert_eq!(standard.expected_issuer(&fhir).as_deref(), Some("https://auth.example.org/tenant-1"));
        assert!(standard
            .read_discovery(&fhir, 200, &inbound_app_document("https://auth.example.org/tenant-1"))
            .is_ok());
        assert!(matches!(
            standard.read_discovery(&fhir, 200, &inbound_app_document("https://auth.example.org/tenant-2")),
            Err(Error::DiscoveryWrongIssuer { .. })
        ));
        // Another path: no rule to derive the issuer from, so none is imposed.
        let elsewhere = source("https://auth.example.org/metadata.json");
        assert_eq!(elsewhere.expected_issuer(&fhir), None);
        assert!(elsewhere.read_discovery(&fhir, 200, &inbound_app_document("https://anything.example.org")).is_ok());
        assert_eq!(AuthorizationServerSource::SmartDiscovery.expected_issuer(&fhir), None);
    }

    #[test]
    fn finds_issuers_by_iss_ignoring_trailing_slash() {
        let config = AppConfig::parse(&issuer(&[])).unwrap();
        let iss = HttpUrl::parse("https://EHR.example.org/fhir/R4/").unwrap();
        assert_eq!(config.issuer_for_iss(&iss).unwrap().id, "ehr");
        let other = HttpUrl::parse("https://ehr.example.org/fhir/R5").unwrap();
        assert!(config.issuer_for_iss(&other).is_none());
        assert!(config.issuer_by_id("ehr").is_some());
        assert!(config.issuer_by_id("nope").is_none());
    }

    #[test]
    fn each_mistake_gets_a_specific_message() {
        let cases: Vec<(String, &str, &str)> = vec![
            ("not json".into(), "the file", "is not valid JSON (line 1, column 2)"),
            ("[]".into(), "the file", "is not a JSON object"),
            (r#"{"issuers": {}}"#.into(), "issuers", "is not a list"),
            (r#"{"issuers": [], "request_timeout_seconds": "30"}"#.into(), "request_timeout_seconds", "whole number"),
            ("{}".into(), "issuers", "required"),
            (r#"{"issuers": []}"#.into(), "issuers", "at least one"),
            (r#"{"issuers": [], "extra": 1}"#.into(), "extra", "is not a known field"),
            (issuer(&[("fhir_base", r#""x""#)]), "issuers[0].fhir_base", "is not a known field"),
            (
                issuer(&[("authorization_server", r#"{"type": "smart", "url": "x"}"#)]),
                "issuers[0].authorization_server.url",
                "expected one of: type, project_id, base_url, configuration_url",
            ),
            (issuer(&[("id", "")]), "issuers[0].id", "required"),
            (issuer(&[("id", r#""a b""#)]), "issuers[0].id", "letters, digits"),
            (issuer(&[("name", r#""  ""#)]), "issuers[0].name", "must not be empty"),
            (issuer(&[("fhir_base_url", r#""ehr.example.org""#)]), "issuers[0].fhir_base_url", "not an absolute URL"),
            (issuer(&[("fhir_base_url", r#""http://ehr.example.org/fhir""#)]), "issuers[0].fhir_base_url", "https"),
            (
                issuer(&[("fhir_base_url", r#""https://ehr.example.org/fhir?x=1""#)]),
                "issuers[0].fhir_base_url",
                "query",
            ),
            (
                issuer(&[("authorization_server", r#"{"type": "smrt"}"#)]),
                "issuers[0].authorization_server.type",
                "\"smrt\" is not one of",
            ),
            (
                issuer(&[("authorization_server", r#"{"type": "descope"}"#)]),
                "issuers[0].authorization_server.project_id",
                "required",
            ),
            (
                issuer(&[("authorization_server", r#"{"type": "descope", "project_id": "P2/../x"}"#)]),
                "issuers[0].authorization_server.project_id",
                "not a Descope project id",
            ),
            (
                issuer(&[("authorization_server", r#"{"type": "smart", "project_id": "P2"}"#)]),
                "issuers[0].authorization_server.project_id",
                "does not apply",
            ),
            (
                issuer(&[("authorization_server", r#"{"type": "openid"}"#)]),
                "issuers[0].authorization_server.configuration_url",
                "required",
            ),
            (
                issuer(&[("ehr_launch_scopes", r#""openid patient/*.rs""#)]),
                "issuers[0].ehr_launch_scopes",
                "must include \"launch\"",
            ),
            (
                issuer(&[("ehr_launch_scopes", r#""launch patient/Observation.sr""#)]),
                "issuers[0].ehr_launch_scopes",
                "order",
            ),
            (
                issuer(&[("standalone_scopes", r#""launch/patient openid""#)]),
                "issuers[0].standalone_scopes",
                "no clinical-data scope",
            ),
            (
                issuer(&[("standalone_scopes", r#""launch patient/*.rs""#)]),
                "issuers[0].standalone_scopes",
                "must not include \"launch\"",
            ),
            (issuer(&[("client_id", r#"42"#)]), "issuers[0].client_id", "is not a string"),
            (
                format!(r#"{{"redirect_path": "callback", "issuers": [{}]}}"#, "{}"),
                "redirect_path",
                "starting with '/'",
            ),
        ];
        for (json, path, needle) in cases {
            let (got_path, got_problem) = problem(&json);
            assert_eq!(got_path, path, "{json}: {got_problem}");
            assert!(got_problem.contains(needle), "{json}: {got_problem}");
        }
    }

    #[test]
    fn duplicate_ids_and_bases_are_refused() {
        let one = r#"{"id": "a", "name": "A", "fhir_base_url": "https://ehr.example.org/fhir", "authorization_server": {"type": "smart"}, "client_id": "c", "ehr_launch_scopes": "launch patient/*.rs", "standalone_scopes": "launch/patient patient/*.rs"}"#;
        let same_id = one.replace("ehr.example.org", "other.example.org");
        let (path, problem_text) = problem(&format!(r#"{{"issuers": [{one}, {same_id}]}}"#));
        assert_eq!(path, "issuers[1].id");
        assert!(problem_text.contains("two issuers"));
        let same_base = one.replace(r#""id": "a""#, r#""id": "b""#).replace("/fhir", "/fhir/");
        let (path, _) = problem(&format!(r#"{{"issuers": [{one}, {same_base}]}}"#));
        assert_eq!(path, "issuers[1].fhir_base_url");
    }
}
