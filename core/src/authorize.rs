//! The authorize request and the pending authorization it leaves behind
//! (SMART App Launch §Obtain authorization code; RFC 7636; RFC 9700 §2.1).
//!
//! [`PendingAuthorization::begin`] makes the fresh `state`, PKCE verifier and
//! `nonce`, and returns the URL to send the browser to together with the
//! record to keep (in sessionStorage, keyed by `state`) until the callback.
//! Only [`PendingAuthorization::accept`] turns a callback into a
//! [`CodeExchange`], so a code cannot be exchanged without the state check.

use serde_json::Value;

use crate::callback::AuthorizationResponse;
use crate::config::{IssuerConfig, DEFAULT_REQUEST_TIMEOUT_SECONDS, MAX_REQUEST_TIMEOUT_SECONDS};
use crate::discovery::AuthorizationServer;
use crate::dpop::{DpopBinding, DpopUse};
use crate::form::FormPost;
use crate::json::{quoted, read, required, FromJson, JsonError, Object};
use crate::pkce::PkceChallenge;
use crate::random::{Nonce, State};
use crate::scopes::{Scope, ScopeSet};
use crate::secret::AuthorizationCode;
use crate::secret::PkceVerifier;
use crate::url::HttpUrl;
use crate::{Error, UnixTime};

/// How long a pending authorization stays usable: long enough to sign in
/// and consent, short enough that a stale tab cannot finish a sign-in.
pub const PENDING_LIFETIME_SECONDS: u64 = 600;

/// Bumped when the stored record's shape changes; an older record is refused.
const RECORD_VERSION: u32 = 4;

/// Which launch this authorization belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LaunchMode {
    /// Launched by the EHR; `launch` is passed back verbatim.
    Ehr { launch: String },
    /// Opened directly; the user picked the issuer.
    Standalone,
}

impl LaunchMode {
    /// The kind of launch, without its `launch` value (which is used once,
    /// in the authorize request, and not kept).
    pub fn kind(&self) -> LaunchKind {
        match self {
            LaunchMode::Ehr { .. } => LaunchKind::Ehr,
            LaunchMode::Standalone => LaunchKind::Standalone,
        }
    }
}

/// Whether the session came from an EHR launch or a standalone one: what
/// the pending record and the session keep of a [`LaunchMode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaunchKind {
    Ehr,
    Standalone,
}

/// The record that survives the redirect. It holds the PKCE verifier, which
/// is why it lives in sessionStorage (per tab, gone with the tab) and is
/// deleted as soon as the callback arrives. It never holds a token. It is
/// not `Clone`: one record, accepted (consumed) once.
#[derive(Debug, PartialEq, Eq)]
pub struct PendingAuthorization {
    state: State,
    verifier: PkceVerifier,
    nonce: Option<Nonce>,
    pub issuer_id: String,
    pub fhir_base: HttpUrl,
    pub client_id: String,
    pub redirect_uri: HttpUrl,
    pub requested_scope: String,
    pub kind: LaunchKind,
    pub server: AuthorizationServer,
    /// Whether the token request carries a DPoP proof (decided here, from
    /// the issuer's `dpop` and the server's metadata).
    pub dpop: DpopUse,
    pub created_at: UnixTime,
    /// The deployment's `request_timeout_seconds`, carried to the callback
    /// page, whose token request leaves before config.json is read there.
    /// [`PendingAuthorization::begin`] sets the default; the caller sets
    /// the configured value.
    pub request_timeout_seconds: u32,
}

impl PendingAuthorization {
    /// Builds the authorize URL and the pending record.
    pub fn begin(
        issuer: &IssuerConfig,
        server: AuthorizationServer,
        redirect_uri: HttpUrl,
        mode: LaunchMode,
        dpop_key: Option<&DpopBinding>,
        now: UnixTime,
    ) -> Result<(HttpUrl, PendingAuthorization), Error> {
        let dpop = issuer.dpop.decide(&server)?;
        let scopes: &ScopeSet = match mode.kind() {
            LaunchKind::Ehr => &issuer.ehr_launch_scopes,
            LaunchKind::Standalone => &issuer.standalone_scopes,
        };
        let state = State::new_random()?;
        let verifier = PkceVerifier::new_random()?;
        let nonce = if scopes.contains(&Scope::OpenId) { Some(Nonce::new_random()?) } else { None };
        let challenge: PkceChallenge = verifier.challenge();
        let scope_text = scopes.to_string();
        let aud = issuer.fhir_base_url.to_string();
        let redirect_text = redirect_uri.to_string();

        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &issuer.client_id),
            ("redirect_uri", &redirect_text),
            ("scope", &scope_text),
            ("state", state.as_str()),
            ("aud", &aud),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", PkceChallenge::METHOD),
        ];
        if let Some(nonce) = &nonce {
            params.push(("nonce", nonce.as_str()));
        }
        // RFC 9449 §10: binds the code to the key, when the key exists
        // already (a popup sign-in; a redirect's key is made at the callback).
        let thumbprint = dpop_key.filter(|_| dpop.is_on()).map(DpopBinding::thumbprint);
        if let Some(jkt) = &thumbprint {
            params.push(("dpop_jkt", jkt));
        }
        if let LaunchMode::Ehr { launch } = &mode {
            params.push(("launch", launch));
            // The seed guide's Descope flow also reads `iss`; standard
            // servers ignore an unknown parameter (RFC 6749 §3.1).
            if issuer.authorization_server.is_descope() {
                params.push(("iss", &aud));
            }
        }
        let url = server.authorization_endpoint.with_query_pairs(params);
        let pending = PendingAuthorization {
            state,
            verifier,
            nonce,
            issuer_id: issuer.id.clone(),
            fhir_base: issuer.fhir_base_url.clone(),
            client_id: issuer.client_id.clone(),
            redirect_uri,
            requested_scope: scope_text,
            kind: mode.kind(),
            server,
            dpop,
            created_at: now,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
        };
        Ok((url, pending))
    }

    /// The `state` value: the record's storage key.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The record as JSON, put together field by field ([`quoted`] says why).
    pub fn to_storage(&self) -> String {
        let kind = match self.kind {
            LaunchKind::Ehr => "ehr",
            LaunchKind::Standalone => "standalone",
        };
        let dpop = match self.dpop {
            DpopUse::Off => "off",
            DpopUse::Preferred => "preferred",
            DpopUse::Required => "required",
        };
        let or_null = |text: Option<&str>| text.map_or("null".into(), quoted);
        // What the page needs to send this record's token request (and read
        // its key set) as it loads, before the app has started (calls.js):
        // never for a request that needs a DPoP proof. A callback is sent
        // on early only before `until`, and only when its `iss` is `issuer`,
        // or it has none and none is `iss_required` (the checks of
        // `accept` that keep a code from going to another server, RFC 9207).
        let early = match self.dpop {
            DpopUse::Off => format!(
                r#"{{"token":{},"form":{},"keys":{},"issuer":{},"iss_required":{},"until":{}}}"#,
                quoted(&self.server.token_endpoint.to_string()),
                quoted(self.token_form().body()),
                or_null(self.key_set_to_fetch().map(HttpUrl::to_string).as_deref()),
                or_null(self.server.issuer.as_deref()),
                self.server.authorization_response_iss_parameter_supported,
                self.created_at + PENDING_LIFETIME_SECONDS
            ),
            DpopUse::Preferred | DpopUse::Required => "null".into(),
        };
        format!(
            r#"{{"version":{RECORD_VERSION},"state":{},"verifier":{},"nonce":{},"issuer_id":{},"fhir_base":{},"client_id":{},"redirect_uri":{},"requested_scope":{},"kind":"{kind}","server":{},"dpop":"{dpop}","created_at":{},"timeout":{},"early":{early}}}"#,
            quoted(self.state.as_str()),
            quoted(self.verifier.secret()),
            or_null(self.nonce.as_ref().map(Nonce::as_str)),
            quoted(&self.issuer_id),
            quoted(&self.fhir_base.to_string()),
            quoted(&self.client_id),
            quoted(&self.redirect_uri.to_string()),
            quoted(&self.requested_scope),
            self.server.to_stored(),
            self.created_at,
            self.request_timeout_seconds
        )
    }

    pub fn from_storage(json: &str) -> Result<PendingAuthorization, Error> {
        let corrupt = |detail: String| Error::PendingCorrupt { detail };
        let value = crate::json::parse(json.as_bytes()).map_err(|e| corrupt(format!("it {e}")))?;
        // The version first: a record of another shape is named as such,
        // not as a list of wrong fields.
        match value.get("version").and_then(Value::as_u64) {
            Some(version) if version == u64::from(RECORD_VERSION) => {}
            Some(version) => return Err(corrupt(format!("record version {version} is not supported"))),
            None => return Err(corrupt("the record has no version".into())),
        }
        let record: PendingAuthorization = read(&value).map_err(|e| corrupt(e.to_string()))?;
        if !PkceVerifier::is_well_formed(record.verifier.secret()) {
            return Err(Error::PendingCorrupt { detail: "the PKCE verifier is malformed".into() });
        }
        Ok(record)
    }

    pub fn is_expired(&self, now: UnixTime) -> bool {
        now.saturating_sub(self.created_at) > PENDING_LIFETIME_SECONDS || now < self.created_at
    }

    /// The token request without its code (RFC 6749 §4.1.3 with RFC 7636
    /// §4.5): a public client sends its `client_id` and the verifier, never
    /// a secret. The code goes last, so the request can be written down
    /// before the code exists ([`Self::to_storage`]'s `early`).
    fn token_form(&self) -> FormPost {
        FormPost::new(
            self.server.token_endpoint.clone(),
            [
                ("grant_type", "authorization_code"),
                ("redirect_uri", &self.redirect_uri.to_string()),
                ("client_id", &self.client_id),
                ("code_verifier", self.verifier.secret()),
            ],
        )
    }

    /// The key set to fetch alongside the token request: the server's
    /// `jwks_uri` when `openid` was requested.
    fn key_set_to_fetch(&self) -> Option<&HttpUrl> {
        let requested = ScopeSet::parse_lenient(&self.requested_scope);
        self.server.jwks_uri.as_ref().filter(|_| requested.contains(&Scope::OpenId))
    }

    /// Checks the callback against this record: same `state`, not expired,
    /// and (RFC 9207) the same issuer when the response names one, and a
    /// named one when the server says it always names itself.
    pub fn accept(self, response: AuthorizationResponse, now: UnixTime) -> Result<CodeExchange, Error> {
        if !self.state.matches(&response.state) {
            return Err(Error::StateMismatch);
        }
        if self.is_expired(now) {
            return Err(Error::PendingExpired { age_seconds: now.saturating_sub(self.created_at) });
        }
        // Mix-up defence (RFC 9207): the response must name the issuer the
        // sign-in was sent to, and must name one when the server says it does.
        match (&response.iss, &self.server.issuer) {
            (Some(found), Some(expected)) if found != expected => {
                return Err(Error::CallbackMalformed {
                    problem: format!("it names the issuer \"{found}\", but the sign-in was sent to \"{expected}\""),
                })
            }
            (None, _) if self.server.authorization_response_iss_parameter_supported => {
                return Err(Error::CallbackMalformed {
                    problem: "it names no issuer (iss), which this server says it always sends (RFC 9207)".into(),
                })
            }
            _ => {}
        }
        Ok(CodeExchange { pending: self, code: response.code })
    }
}

/// The stored record's fields; `from_storage` has checked its version.
impl FromJson for PendingAuthorization {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        // Everything that can fail is checked before any owned value is
        // made: each early return would otherwise drop what came before
        // it, and that drop code, once per `?`, was most of this reader's
        // size in the wasm.
        const TEXTS: [&str; 7] = ["state", "verifier", "issuer_id", "client_id", "requested_scope", "kind", "dpop"];
        for field in TEXTS {
            required(o.text(field)?, field)?;
        }
        o.text("nonce")?;
        let created_at = required(o.whole_number("created_at")?, "created_at")?;
        // Written from the checked configuration, so never above its maximum.
        let request_timeout_seconds =
            required(o.whole_number("timeout")?, "timeout")?.min(MAX_REQUEST_TIMEOUT_SECONDS.into()) as u32;
        let text = |field: &str| o.text(field).ok().flatten().unwrap_or_default();
        let kind = match text("kind").as_str() {
            "ehr" => LaunchKind::Ehr,
            "standalone" => LaunchKind::Standalone,
            other => return Err(JsonError::new("kind", format!("\"{other}\" is not ehr or standalone"))),
        };
        let dpop = match text("dpop").as_str() {
            "off" => DpopUse::Off,
            "preferred" => DpopUse::Preferred,
            "required" => DpopUse::Required,
            other => return Err(JsonError::new("dpop", format!("\"{other}\" is not off, preferred or required"))),
        };
        let stored = o.get("server").and_then(Object::of).ok_or_else(|| JsonError::new("server", "is missing"))?;
        let fhir_base = required(o.url("fhir_base")?, "fhir_base")?;
        let redirect_uri = required(o.url("redirect_uri")?, "redirect_uri")?;
        let server = AuthorizationServer::from_stored(stored, &fhir_base)
            .map_err(|e| JsonError::new(&format!("server.{}", e.path), e.problem))?;
        // From here on nothing fails.
        Ok(PendingAuthorization {
            state: State::new(text("state")),
            verifier: PkceVerifier::new(text("verifier")),
            nonce: o.text("nonce").ok().flatten().map(Nonce::new),
            issuer_id: text("issuer_id"),
            fhir_base,
            client_id: text("client_id"),
            redirect_uri,
            requested_scope: text("requested_scope"),
            kind,
            server,
            dpop,
            created_at,
            request_timeout_seconds,
        })
    }
}

/// A checked authorization code, ready to be exchanged.
#[derive(Debug)]
pub struct CodeExchange {
    pub(crate) pending: PendingAuthorization,
    code: AuthorizationCode,
}

impl CodeExchange {
    /// The token request: the pending record's, with the code.
    pub fn token_request(&self) -> FormPost {
        self.pending.token_form().and("code", self.code.secret())
    }

    pub fn pending(&self) -> &PendingAuthorization {
        &self.pending
    }

    /// The key set to fetch alongside the token request, so verifying the
    /// id_token adds no round trip: the server's `jwks_uri` when `openid`
    /// was requested.
    pub fn key_set_to_fetch(&self) -> Option<&HttpUrl> {
        self.pending.key_set_to_fetch()
    }

    /// Whether the token request must carry a DPoP proof.
    pub fn dpop(&self) -> DpopUse {
        self.pending.dpop
    }

    pub(crate) fn nonce(&self) -> Option<&Nonce> {
        self.pending.nonce.as_ref()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::callback::{parse_callback, Callback};
    use crate::config::AppConfig;
    use crate::discovery::DiscoveryKind;

    pub const NOW: UnixTime = 1_800_000_000;

    pub fn config(authorization_server: &str) -> AppConfig {
        AppConfig::parse(&format!(
            r#"{{"issuers": [{{"id": "ehr", "name": "EHR", "fhir_base_url": "https://ehr.example.org/fhir",
                "authorization_server": {authorization_server}, "client_id": "app-1",
                "ehr_launch_scopes": "launch openid fhirUser patient/*.rs offline_access",
                "standalone_scopes": "launch/patient patient/*.rs"}}]}}"#
        ))
        .unwrap()
    }

    pub fn server() -> AuthorizationServer {
        let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        AuthorizationServer::from_response(
            DiscoveryKind::Smart,
            &base.join_path(".well-known/smart-configuration"),
            &base,
            200,
            r#"{"issuer": "https://as.example.org", "authorization_endpoint": "https://as.example.org/authorize?tenant=t1",
                "token_endpoint": "https://as.example.org/token", "revocation_endpoint": "https://as.example.org/revoke",
                "jwks_uri": "https://as.example.org/jwks", "code_challenge_methods_supported": ["S256"],
                "grant_types_supported": ["authorization_code"], "capabilities": ["launch-ehr"]}"#,
        )
        .unwrap()
    }

    pub fn redirect() -> HttpUrl {
        HttpUrl::parse("https://app.example.org/callback").unwrap()
    }

    fn query_pairs(url: &HttpUrl) -> Vec<(String, String)> {
        form_urlencoded::parse(url.query().unwrap().as_bytes()).into_owned().collect()
    }

    fn param(url: &HttpUrl, key: &str) -> Option<String> {
        query_pairs(url).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn begin_ehr(config: &AppConfig) -> (HttpUrl, PendingAuthorization) {
        PendingAuthorization::begin(
            &config.issuers[0],
            server(),
            redirect(),
            LaunchMode::Ehr { launch: "launch-123+/=".into() },
            None,
            NOW,
        )
        .unwrap()
    }

    #[test]
    fn debug_output_of_a_pending_record_shows_no_state_verifier_or_nonce() {
        let (_, pending) = begin_ehr(&config(r#"{"type": "smart"}"#));
        let stored: serde_json::Value = serde_json::from_str(&pending.to_storage()).unwrap();
        let shown = format!("{pending:?}");
        assert!(shown.contains("issuer_id"), "{shown}");
        for field in ["state", "verifier", "nonce"] {
            let value = stored[field].as_str().unwrap();
            assert!(!shown.contains(value), "{field} shown in {shown}");
        }
    }

    #[test]
    fn a_key_made_before_authorize_is_named_by_dpop_jkt_only_when_dpop_is_used() {
        let zero = "A".repeat(43);
        let binding = DpopBinding::new(crate::dpop::PublicJwk::new(zero.clone(), zero).unwrap());
        let config = config(r#"{"type": "smart"}"#);
        let begin = |server: AuthorizationServer| {
            PendingAuthorization::begin(
                &config.issuers[0],
                server,
                redirect(),
                LaunchMode::Standalone,
                Some(&binding),
                NOW,
            )
            .unwrap()
        };
        let (url, pending) = begin(server());
        assert_eq!(param(&url, "dpop_jkt"), None, "the server does not list ES256");
        assert_eq!(pending.dpop, DpopUse::Off);
        let mut dpop_server = server();
        dpop_server.dpop_signing_alg_values_supported = Some(vec!["ES256".into()]);
        let (url, pending) = begin(dpop_server);
        assert_eq!(param(&url, "dpop_jkt").unwrap(), binding.thumbprint());
        assert_eq!(pending.dpop, DpopUse::Preferred);
        // The redirect's record keeps the decision across the redirect.
        assert_eq!(PendingAuthorization::from_storage(&pending.to_storage()).unwrap().dpop, DpopUse::Preferred);
    }

    #[test]
    fn ehr_authorize_url_has_every_parameter() {
        let config = config(r#"{"type": "smart"}"#);
        let (url, pending) = begin_ehr(&config);
        assert!(url.to_string().starts_with("https://as.example.org/authorize?tenant=t1&response_type=code&"));
        assert_eq!(param(&url, "client_id").unwrap(), "app-1");
        assert_eq!(param(&url, "redirect_uri").unwrap(), "https://app.example.org/callback");
        assert_eq!(param(&url, "scope").unwrap(), "launch openid fhirUser patient/*.rs offline_access");
        assert_eq!(param(&url, "state").unwrap(), pending.state().as_str());
        assert_eq!(param(&url, "aud").unwrap(), "https://ehr.example.org/fhir");
        assert_eq!(param(&url, "launch").unwrap(), "launch-123+/=");
        assert_eq!(param(&url, "code_challenge").unwrap(), pending.verifier.challenge().as_str());
        assert_eq!(param(&url, "code_challenge_method").unwrap(), "S256");
        assert_eq!(param(&url, "nonce").as_deref(), pending.nonce.as_ref().map(Nonce::as_str));
        assert!(pending.nonce.is_some(), "openid was requested");
        // Not a Descope issuer: no extra iss.
        assert_eq!(param(&url, "iss"), None);
        assert_eq!(pending.kind, LaunchKind::Ehr);
        // Raw URL: the launch value is percent-encoded, not left as '+'.
        assert!(url.to_string().contains("launch=launch-123%2B%2F%3D"));
    }

    #[test]
    fn descope_ehr_launch_also_sends_iss() {
        let config = config(r#"{"type": "descope", "project_id": "P2abc"}"#);
        let (url, _) = begin_ehr(&config);
        assert_eq!(param(&url, "iss").unwrap(), "https://ehr.example.org/fhir");
        assert_eq!(param(&url, "aud").unwrap(), "https://ehr.example.org/fhir");
    }

    #[test]
    fn standalone_launch_has_no_launch_and_no_nonce_without_openid() {
        let config = config(r#"{"type": "smart"}"#);
        let (url, pending) =
            PendingAuthorization::begin(&config.issuers[0], server(), redirect(), LaunchMode::Standalone, None, NOW)
                .unwrap();
        assert_eq!(param(&url, "launch"), None);
        assert_eq!(param(&url, "nonce"), None);
        assert_eq!(param(&url, "scope").unwrap(), "launch/patient patient/*.rs");
        assert_eq!(pending.kind, LaunchKind::Standalone);
    }

    #[test]
    fn each_authorization_gets_fresh_secrets() {
        let config = config(r#"{"type": "smart"}"#);
        let (_, a) = begin_ehr(&config);
        let (_, b) = begin_ehr(&config);
        assert_ne!(a.state(), b.state());
        assert_ne!(a.verifier.secret(), b.verifier.secret());
        assert_ne!(a.nonce, b.nonce);
        assert!(a.state().as_str().len() >= 22, "at least 128 bits");
    }

    #[test]
    fn the_record_round_trips_through_storage_and_refuses_tampering() {
        let config = config(r#"{"type": "smart"}"#);
        let (_, pending) = begin_ehr(&config);
        let stored = pending.to_storage();
        assert_eq!(PendingAuthorization::from_storage(&stored).unwrap(), pending);
        assert!(matches!(PendingAuthorization::from_storage("{}"), Err(Error::PendingCorrupt { .. })));
        assert!(matches!(PendingAuthorization::from_storage("garbage"), Err(Error::PendingCorrupt { .. })));
        let no_server = stored.replace("\"server\":", "\"servers\":");
        assert!(matches!(PendingAuthorization::from_storage(&no_server),
            Err(Error::PendingCorrupt { detail }) if detail == "server is missing"));
        let wrong_version = stored.replace(&format!("\"version\":{RECORD_VERSION}"), "\"version\":99");
        assert_ne!(wrong_version, stored);
        assert!(matches!(PendingAuthorization::from_storage(&wrong_version),
            Err(Error::PendingCorrupt { detail }) if detail == "record version 99 is not supported"));
        // A record of the first version (serde's enum names) is refused by its version.
        let first =
            stored.replace(&format!("\"version\":{RECORD_VERSION}"), "\"version\":1").replace("\"ehr\"", "\"Ehr\"");
        assert!(matches!(PendingAuthorization::from_storage(&first),
            Err(Error::PendingCorrupt { detail }) if detail == "record version 1 is not supported"));
        let bad_verifier = stored.replace(pending.verifier.secret(), "short");
        assert!(matches!(PendingAuthorization::from_storage(&bad_verifier), Err(Error::PendingCorrupt { .. })));
        // The deployment's timeout goes with it to the callback page.
        let (_, mut timed) = begin_ehr(&config);
        assert_eq!(timed.request_timeout_seconds, DEFAULT_REQUEST_TIMEOUT_SECONDS);
        timed.request_timeout_seconds = 7;
        assert_eq!(reread(&timed).request_timeout_seconds, 7);
        let untimed = stored.replace(&format!("\"timeout\":{DEFAULT_REQUEST_TIMEOUT_SECONDS},"), "");
        assert_ne!(untimed, stored);
        assert!(matches!(PendingAuthorization::from_storage(&untimed),
            Err(Error::PendingCorrupt { detail }) if detail.contains("timeout")));
    }

    #[test]
    fn text_that_json_must_escape_and_a_missing_nonce_survive_the_record() {
        // A discovery document with quotes, a backslash, control characters
        // and non-ASCII text, kept as it came.
        let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        let document = "{\"authorization_endpoint\": \"https://as.example.org/authorize\",\n\t\"token_endpoint\": \"https://as.example.org/token\",
            \"service_documentation\": \"say \\\"hi\\\" \\\\ Zoë \\u0001\", \"capabilities\": [\"launch-standalone\"]}";
        let server = AuthorizationServer::from_response(
            DiscoveryKind::Smart,
            &base.join_path(".well-known/smart-configuration"),
            &base,
            200,
            document,
        )
        .unwrap();
        // Without openid in the scopes, no nonce (stored as null).
        let config = AppConfig::parse(
            r#"{"issuers": [{"id": "ehr-one", "name": "EHR", "fhir_base_url": "https://ehr.example.org/fhir",
                "authorization_server": {"type": "smart"}, "client_id": "app \"one\" \\ 1",
                "ehr_launch_scopes": "launch patient/*.rs", "standalone_scopes": "launch/patient patient/*.rs"}]}"#,
        )
        .unwrap();
        let (_, pending) =
            PendingAuthorization::begin(&config.issuers[0], server, redirect(), LaunchMode::Standalone, None, NOW)
                .unwrap();
        assert_eq!(pending.nonce, None);
        let stored = pending.to_storage();
        let value: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(value["nonce"], Value::Null);
        assert_eq!(value["client_id"], "app \"one\" \\ 1");
        assert_eq!(value["server"]["document"], document);
        assert_eq!(PendingAuthorization::from_storage(&stored).unwrap(), pending);
    }

    fn response(state: &str, iss: Option<&str>) -> AuthorizationResponse {
        let mut query = format!("code=c-1&state={state}");
        if let Some(iss) = iss {
            query.push_str(&format!("&iss={iss}"));
        }
        match parse_callback(&query).unwrap() {
            Callback::Authorized(r) => r,
            other => panic!("{other:?}"),
        }
    }

    /// The same record again, as a second page would read it back (the
    /// record itself is not `Clone`).
    fn reread(pending: &PendingAuthorization) -> PendingAuthorization {
        PendingAuthorization::from_storage(&pending.to_storage()).unwrap()
    }

    #[test]
    fn accept_checks_state_expiry_and_issuer() {
        let config = config(r#"{"type": "smart"}"#);
        let (_, pending) = begin_ehr(&config);
        let state = pending.state().as_str().to_string();
        assert!(matches!(reread(&pending).accept(response("other", None), NOW), Err(Error::StateMismatch)));
        assert!(matches!(reread(&pending).accept(response(&state[1..], None), NOW), Err(Error::StateMismatch)));
        assert!(matches!(
            reread(&pending).accept(response(&state, None), NOW + PENDING_LIFETIME_SECONDS + 1),
            Err(Error::PendingExpired { .. })
        ));
        assert!(matches!(
            reread(&pending).accept(response(&state, Some("https://evil.example.org")), NOW),
            Err(Error::CallbackMalformed { .. })
        ));
        assert!(reread(&pending).accept(response(&state, Some("https://as.example.org")), NOW + 5).is_ok());
        assert!(pending.accept(response(&state, None), NOW + 5).is_ok());
    }

    #[test]
    fn a_server_that_says_it_sends_iss_must_send_it() {
        let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        let server = AuthorizationServer::from_response(
            DiscoveryKind::Smart,
            &base.join_path(".well-known/smart-configuration"),
            &base,
            200,
            r#"{"issuer": "https://as.example.org", "authorization_endpoint": "https://as.example.org/authorize",
                "token_endpoint": "https://as.example.org/token", "code_challenge_methods_supported": ["S256"],
                "authorization_response_iss_parameter_supported": true}"#,
        )
        .unwrap();
        let config = config(r#"{"type": "smart"}"#);
        let mode = LaunchMode::Ehr { launch: "l".into() };
        let (_, pending) =
            PendingAuthorization::begin(&config.issuers[0], server, redirect(), mode, None, NOW).unwrap();
        let state = pending.state().as_str().to_string();
        // Kept across the redirect, with the document it came from.
        match reread(&pending).accept(response(&state, None), NOW) {
            Err(Error::CallbackMalformed { problem }) => assert!(problem.contains("RFC 9207"), "{problem}"),
            other => panic!("{other:?}"),
        }
        assert!(pending.accept(response(&state, Some("https://as.example.org")), NOW).is_ok());
    }

    #[test]
    fn a_launch_mode_names_its_kind() {
        assert_eq!(LaunchMode::Ehr { launch: "x".into() }.kind(), LaunchKind::Ehr);
        assert_eq!(LaunchMode::Standalone.kind(), LaunchKind::Standalone);
    }

    #[test]
    fn the_key_set_is_fetched_with_the_token_only_when_openid_was_asked() {
        let config = config(r#"{"type": "smart"}"#);
        let (_, pending) = begin_ehr(&config);
        let state = pending.state().as_str().to_string();
        let exchange = pending.accept(response(&state, None), NOW).unwrap();
        assert_eq!(exchange.key_set_to_fetch().map(|u| u.to_string()).as_deref(), Some("https://as.example.org/jwks"));
        let (_, standalone) =
            PendingAuthorization::begin(&config.issuers[0], server(), redirect(), LaunchMode::Standalone, None, NOW)
                .unwrap();
        let state = standalone.state().as_str().to_string();
        assert_eq!(standalone.accept(response(&state, None), NOW).unwrap().key_set_to_fetch(), None);
    }

    #[test]
    fn the_record_says_how_to_send_its_token_request_before_the_app_starts() {
        let config = config(r#"{"type": "smart"}"#);
        let (_, pending) = begin_ehr(&config);
        let stored: serde_json::Value = serde_json::from_str(&pending.to_storage()).unwrap();
        let early = &stored["early"];
        assert_eq!(early["token"], "https://as.example.org/token");
        assert_eq!(early["keys"], "https://as.example.org/jwks", "openid was asked: the keys are read beside");
        assert_eq!(early["issuer"], "https://as.example.org");
        assert_eq!(early["iss_required"], false);
        assert_eq!(early["until"], NOW + PENDING_LIFETIME_SECONDS);
        // The stored form, with the code appended as calls.js appends it,
        // is the very request the app sends (calls.js hands the app its
        // answer only for an identical request).
        let state = pending.state().as_str().to_string();
        let callback = format!("code=a%20b%2B%2F%26c&state={state}");
        let Ok(Callback::Authorized(response)) = parse_callback(&callback) else { panic!("{callback}") };
        let post = pending.accept(response, NOW).unwrap().token_request();
        assert_eq!(post.body(), format!("{}&code=a+b%2B%2F%26c", early["form"].as_str().unwrap()));

        let (_, standalone) =
            PendingAuthorization::begin(&config.issuers[0], server(), redirect(), LaunchMode::Standalone, None, NOW)
                .unwrap();
        let stored: serde_json::Value = serde_json::from_str(&standalone.to_storage()).unwrap();
        assert_eq!(stored["early"]["keys"], serde_json::Value::Null, "no openid, no key set");

        // A request that must carry a DPoP proof is the app's alone.
        let mut dpop = config.clone();
        dpop.issuers[0].dpop = crate::dpop::DpopPolicy::Required;
        let (_, bound) = begin_ehr(&dpop);
        let stored: serde_json::Value = serde_json::from_str(&bound.to_storage()).unwrap();
        assert_eq!(stored["early"], serde_json::Value::Null);
        assert_eq!(PendingAuthorization::from_storage(&bound.to_storage()).unwrap(), bound, "early is not read back");
    }

    #[test]
    fn token_request_is_a_public_client_pkce_exchange() {
        let config = config(r#"{"type": "smart"}"#);
        let (_, pending) = begin_ehr(&config);
        let verifier = pending.verifier.secret().to_string();
        let state = pending.state().as_str().to_string();
        let exchange = pending.accept(response(&state, None), NOW).unwrap();
        let post = exchange.token_request();
        assert_eq!(post.url.to_string(), "https://as.example.org/token");
        let body: Vec<(String, String)> = form_urlencoded::parse(post.body().as_bytes()).into_owned().collect();
        let get = |k: &str| body.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grant_type"), Some("authorization_code"));
        assert_eq!(get("code"), Some("c-1"));
        assert_eq!(get("redirect_uri"), Some("https://app.example.org/callback"));
        assert_eq!(get("client_id"), Some("app-1"));
        assert_eq!(get("code_verifier"), Some(verifier.as_str()));
        assert_eq!(get("client_secret"), None);
    }
}
