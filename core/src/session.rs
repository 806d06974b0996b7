//! From the token response to a session held in memory.
//!
//! [`CodeExchange::finish`] accepts the token response and checks the
//! id_token's claims, giving a [`TokenGrant`]; the app then verifies the
//! id_token's signature (WebCrypto) and calls [`TokenGrant::into_session`]
//! with the verdict. The [`Session`] lives only in memory: it is never
//! serialized, and its tokens leave it only through [`Session::bearer_for`]
//! (same origin as the FHIR base, or not at all) and the refresh and
//! revocation requests it builds.

use crate::authorize::{CodeExchange, LaunchKind};
use crate::context::{LaunchContext, Source, Sourced};
use crate::discovery::AuthorizationServer;
use crate::dpop::{DpopUse, TokenType};
use crate::error::IdTokenProblem;
use crate::form::FormPost;
use crate::id_token::{decode_id_token, validate_claims, Expectations};
use crate::jwt::{self, seconds_claim, Claims, DecodedJwt};
use crate::scopes::{Scope, ScopeSet};
use crate::secret::{AccessToken, RefreshToken};
use crate::token::{TokenAnswer, TokenResponse};
use crate::url::HttpUrl;
use crate::{Error, UnixTime};

/// Lifetime assumed when neither `expires_in` nor the JWT `exp` says.
pub const DEFAULT_LIFETIME_SECONDS: u64 = 300;

/// Refresh this long before the access token expires (at most; a short
/// lived token is refreshed when a fifth of its life remains).
pub const REFRESH_MARGIN_SECONDS: u64 = 60;

/// The timer refreshes at most this often, whatever the tokens' lifetime
/// (`expires_in` of 0 or 1 would otherwise ask back to back, each refresh
/// rotating the refresh token).
pub const MIN_REFRESH_INTERVAL_SECONDS: u64 = 5;

/// After a refresh that failed for a reason that may pass (no answer, or
/// 429 or 5xx), the next waits this long, doubled after each further
/// failure up to [`MAX_REFRESH_BACKOFF_SECONDS`]; a refresh sent at once
/// again would meet the same outage and add to the load.
pub const REFRESH_BACKOFF_SECONDS: u64 = 5;

/// The longest wait between two refreshes that failed.
pub const MAX_REFRESH_BACKOFF_SECONDS: u64 = 120;

/// How a refresh failed, as far as trying again goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshFailure {
    /// No answer came (network down, timeout): it may pass.
    NoAnswer,
    /// The token endpoint answered with this status: 429 and 5xx may pass.
    Status(u16),
    /// Anything else (no refresh token, a refused proof, a redirect): it
    /// will not.
    Final,
}

impl RefreshFailure {
    fn may_pass(self) -> bool {
        match self {
            RefreshFailure::NoAnswer => true,
            RefreshFailure::Status(status) => status == 429 || status >= 500,
            RefreshFailure::Final => false,
        }
    }
}

/// Where the granted scopes were read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantSource {
    TokenResponse,
    AccessTokenClaim,
    /// The server said nothing; RFC 6749 §5.1 says the grant then equals the request.
    AssumedAsRequested,
}

impl GrantSource {
    /// Where the grant was read, for the diagnostics.
    pub fn label(self) -> &'static str {
        match self {
            GrantSource::TokenResponse => "from the token response",
            GrantSource::AccessTokenClaim => "from the access-token claim",
            GrantSource::AssumedAsRequested => "the server named none, so the request is assumed granted",
        }
    }
}

/// The outcome of checking the id_token's signature in the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureVerdict {
    Verified,
    Invalid,
    /// No key could be had (no `jwks_uri`, key set unreachable, no matching
    /// key): the id_token's claims are then not used, and a warning says why.
    Unverifiable(String),
    /// The token response had no id_token, so there was nothing to check.
    NoIdToken,
}

/// A successful code exchange whose id_token signature is still to be checked.
#[derive(Debug)]
pub struct TokenGrant {
    exchange: CodeExchange,
    response: TokenResponse,
    access_claims: Option<Claims>,
    id_token: Option<DecodedJwt>,
    /// What the session's warnings get from the token response (a bearer
    /// token despite a DPoP proof, an id_token that cannot be checked).
    notes: Vec<&'static str>,
    now: UnixTime,
}

impl CodeExchange {
    /// Accepts the token endpoint's response: parses it, and checks the
    /// id_token's `iss`, `aud`, `exp` and `nonce`.
    pub fn finish(self, answer: TokenAnswer, now: UnixTime) -> Result<TokenGrant, Error> {
        let response = TokenResponse::from_response(answer)
            .map_err(|e| self.pending.dpop.read_refusal(&self.pending.server.token_endpoint, e))?;
        let mut notes: Vec<&'static str> = self.pending.dpop.accept(response.token_type)?.into_iter().collect();
        // An opaque access token is normal: SMART says clients must not rely
        // on its format. Only a JWT's claims are read.
        let access_claims = jwt::decode(response.access_token.secret()).ok().map(|jwt| jwt.claims);
        let id_token = match (&response.id_token, self.pending.server.issuer.as_deref()) {
            (None, _) => None,
            // Without the issuer, `iss` cannot be checked (OpenID Connect
            // Core §3.1.3.7, step 2): the token's claims are not used.
            (Some(_), None) => {
                notes.push(
                    "the server's metadata names no issuer, so the id_token cannot be checked; its claims are not used",
                );
                None
            }
            (Some(token), Some(issuer)) => {
                let decoded = decode_id_token(token.secret()).map_err(|problem| Error::IdTokenInvalid { problem })?;
                let expectations =
                    Expectations { issuer, client_id: &self.pending.client_id, nonce: self.nonce(), now };
                validate_claims(&decoded.claims, &expectations).map_err(|problem| Error::IdTokenInvalid { problem })?;
                Some(decoded)
            }
        };
        Ok(TokenGrant { exchange: self, response, access_claims, id_token, notes, now })
    }
}

impl TokenGrant {
    /// The id_token whose signature the app must check, if there is one.
    pub fn id_token(&self) -> Option<&DecodedJwt> {
        self.id_token.as_ref()
    }

    /// Finishes the sign-in with the signature verdict.
    pub fn into_session(self, verdict: SignatureVerdict) -> Result<Session, Error> {
        let mut warnings = self.exchange.pending().server.warnings.clone();
        warnings.extend(self.notes.into_iter().map(String::from));
        let id_claims = match (self.id_token, verdict) {
            (None, _) => None,
            (Some(token), SignatureVerdict::Verified) => Some(token.claims),
            (Some(_), SignatureVerdict::Invalid) => {
                return Err(Error::IdTokenInvalid { problem: IdTokenProblem::BadSignature })
            }
            (Some(_), SignatureVerdict::NoIdToken) => {
                warnings.push("the id_token's signature was not checked, so its claims are not used".into());
                None
            }
            (Some(_), SignatureVerdict::Unverifiable(why)) => {
                warnings
                    .push(format!("the id_token's signature could not be checked ({why}), so its claims are not used"));
                None
            }
        };
        let pending = &self.exchange.pending;
        let requested = ScopeSet::parse_lenient(&pending.requested_scope);
        let access_scope = self.access_claims.as_ref().and_then(|c| c.get("scope")).and_then(|v| v.as_str());
        let (granted, grant_source) = match (&self.response.scope, access_scope) {
            (Some(scope), _) => (ScopeSet::parse_lenient(scope), GrantSource::TokenResponse),
            (None, Some(scope)) => (ScopeSet::parse_lenient(scope), GrantSource::AccessTokenClaim),
            (None, None) => (requested.clone(), GrantSource::AssumedAsRequested),
        };
        let context = LaunchContext::resolve(&self.response, self.access_claims.as_ref(), id_claims.as_ref());
        let expires_at = expiry(self.response.expires_in, self.access_claims.as_ref(), self.now);
        Ok(Session {
            access_token: self.response.access_token,
            token_type: self.response.token_type,
            dpop: pending.dpop,
            refresh_token: self.response.refresh_token,
            expires_at,
            lifetime: expires_at.saturating_sub(self.now),
            requested,
            granted,
            grant_source,
            context,
            kind: pending.kind,
            issuer_id: pending.issuer_id.clone(),
            fhir_base: pending.fhir_base.clone(),
            client_id: pending.client_id.clone(),
            server: pending.server.clone(),
            warnings,
            failed_refreshes: 0,
            refresh_not_before: 0,
        })
    }
}

/// When the access token expires on this page's clock: from the server's
/// own figures (`expires_in`, or the token's `exp − iat`), added to the
/// local time it arrived; only a token with `exp` and no `iat` is taken
/// at its `exp`, whatever the two clocks say.
fn expiry(expires_in: Option<u64>, access_claims: Option<&Claims>, now: UnixTime) -> UnixTime {
    let claim = |name| access_claims.and_then(|c| seconds_claim(c, name));
    match (expires_in, claim("exp"), claim("iat")) {
        (Some(seconds), _, _) => now.saturating_add(seconds),
        (None, Some(exp), Some(iat)) if exp >= iat => now.saturating_add(exp - iat),
        (None, Some(exp), _) => exp,
        (None, None, _) => now.saturating_add(DEFAULT_LIFETIME_SECONDS),
    }
}

/// Whether the app has a patient to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatientContext {
    /// The server named the patient.
    Given(Sourced<String>),
    /// No patient came back, but the grant allows searching for one
    /// (a user- or system-level Patient scope).
    PickerNeeded,
}

/// What a session's timer does next ([`Session::timer_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerStep {
    /// Nothing is due for this many seconds.
    Wait(u64),
    /// The access token is near its end and a refresh token exists.
    Refresh,
    /// The access token has expired and cannot be refreshed.
    Expire,
}

/// A signed-in session. Held in memory only, and not `Clone`: its tokens
/// have one owner.
#[derive(Debug)]
pub struct Session {
    access_token: AccessToken,
    /// DPoP when the tokens are bound to the page's key.
    pub token_type: TokenType,
    /// Whether the sign-in used DPoP: refreshes and revocations carry proofs.
    pub dpop: DpopUse,
    refresh_token: Option<RefreshToken>,
    pub expires_at: UnixTime,
    /// How long the current access token was issued for, in seconds.
    pub lifetime: u64,
    pub requested: ScopeSet,
    pub granted: ScopeSet,
    pub grant_source: GrantSource,
    pub context: LaunchContext,
    pub kind: LaunchKind,
    pub issuer_id: String,
    pub fhir_base: HttpUrl,
    pub client_id: String,
    pub server: AuthorizationServer,
    pub warnings: Vec<String>,
    /// Refreshes that failed in a row, each for a reason that may pass.
    failed_refreshes: u32,
    /// No refresh before this time (backing off after a failed one).
    refresh_not_before: UnixTime,
}

impl Session {
    /// The access token for a request to `url`, only if `url` is on the FHIR
    /// base's origin (RFC 6750 §5.3: never hand a token to another server,
    /// whatever a Bundle `next` link or a reference says).
    pub fn bearer_for(&self, url: &HttpUrl) -> Result<&str, Error> {
        if url.same_origin(&self.fhir_base) {
            Ok(self.access_token.secret())
        } else {
            Err(Error::TokenWouldLeak { url: url.to_string() })
        }
    }

    /// Whether the tokens are bound to the page's key (RFC 9449): FHIR
    /// requests then carry a proof and `Authorization: DPoP`.
    pub fn is_dpop_bound(&self) -> bool {
        self.token_type == TokenType::Dpop
    }

    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.is_some()
    }

    /// Seconds until a refresh should start (0 when it is due now): a
    /// minute before expiry, or at four fifths of a shorter lifetime, so a
    /// short-lived token is not refreshed over and over; and never sooner
    /// than [`MIN_REFRESH_INTERVAL_SECONDS`] after the token came, nor
    /// while backing off after a failed refresh.
    pub fn seconds_until_refresh(&self, now: UnixTime) -> u64 {
        let margin = REFRESH_MARGIN_SECONDS.min(self.lifetime / 5);
        let due = self.expires_at.saturating_sub(margin);
        let issued_at = self.expires_at.saturating_sub(self.lifetime);
        due.max(issued_at.saturating_add(MIN_REFRESH_INTERVAL_SECONDS)).max(self.refresh_not_before).saturating_sub(now)
    }

    /// Whether a refresh must wait, backing off after a failed one.
    pub fn is_backing_off(&self, now: UnixTime) -> bool {
        now < self.refresh_not_before
    }

    /// Notes a failed refresh and says whether the session lives on to try
    /// again. It does only while the access token is valid, and only if the
    /// failure may pass: no answer, 429, or 5xx. An OAuth refusal
    /// (`invalid_grant`: the refresh token expired, was revoked or reused)
    /// will not, so it ends the session. The next try is backed off
    /// exponentially, and comes no later than the token's last second so
    /// that the last chance is taken while the token still works.
    pub fn refresh_failed(&mut self, failure: RefreshFailure, now: UnixTime) -> bool {
        if !failure.may_pass() || now >= self.expires_at {
            return false;
        }
        let wait = (REFRESH_BACKOFF_SECONDS << self.failed_refreshes.min(8)).min(MAX_REFRESH_BACKOFF_SECONDS);
        self.failed_refreshes += 1;
        self.refresh_not_before = now.saturating_add(wait).min(self.expires_at - 1).max(now + 1);
        true
    }

    /// What the session's timer does next: refresh when it is due and a
    /// refresh token exists; otherwise wait until the token expires, then
    /// end the session.
    pub fn timer_step(&self, now: UnixTime) -> TimerStep {
        let (due_in, step) = match self.refresh_token {
            Some(_) => (self.seconds_until_refresh(now), TimerStep::Refresh),
            None => (self.expires_at.saturating_sub(now), TimerStep::Expire),
        };
        if due_in == 0 {
            step
        } else {
            TimerStep::Wait(due_in)
        }
    }

    /// What the launch gave as patient, or whether a picker must ask.
    pub fn patient_context(&self) -> Result<PatientContext, Error> {
        if let Some(patient) = &self.context.patient {
            return Ok(PatientContext::Given(patient.clone()));
        }
        if self.granted.may_search_patients() {
            return Ok(PatientContext::PickerNeeded);
        }
        let asked: Vec<&str> = self
            .requested
            .iter()
            .zip(self.requested.tokens())
            .filter(|(scope, _)| matches!(scope, Scope::Launch | Scope::LaunchPatient))
            .map(|(_, token)| token)
            .collect();
        Err(Error::MissingPatient {
            requested: if asked.is_empty() { "no launch scope".into() } else { asked.join(" ") },
        })
    }

    /// Sets the patient chosen in the picker.
    pub fn choose_patient(&mut self, id: String) {
        self.context.patient = Some(Sourced { value: id, source: Source::PatientPicker });
    }

    /// Whether the access token's `aud` names this FHIR base; `None` when
    /// the access token is opaque (nothing to compare).
    pub fn audience_matches_fhir_base(&self) -> Option<bool> {
        let audience = self.context.access_token_audience.as_ref()?;
        Some(audience.iter().any(|a| HttpUrl::parse(a).is_ok_and(|a| a.same_base(&self.fhir_base))))
    }

    /// The Descope project id, when it is what the access token's `aud`
    /// names: Descope's default when the JWT template sets no `aud`, which
    /// a FHIR server refuses (the seed guide's "FHIR API returns 401").
    pub fn descope_project_as_audience(&self) -> Option<&str> {
        let project = self.server.descope_project()?;
        self.context.access_token_audience.iter().flatten().any(|a| a == project).then_some(project)
    }

    /// The refresh request (RFC 6749 §6), when a refresh token was issued.
    /// Whether `offline_access` was echoed in the grant does not matter.
    pub fn refresh_request(&self) -> Option<FormPost> {
        let refresh_token = self.refresh_token.as_ref()?;
        Some(FormPost::new(
            self.server.token_endpoint.clone(),
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.secret()),
                ("client_id", &self.client_id),
            ],
        ))
    }

    /// Applies a refresh response: new access token, rotated refresh token
    /// (the old one kept when none comes back), new expiry and grant.
    pub fn apply_refresh(&mut self, answer: TokenAnswer, now: UnixTime) -> Result<(), Error> {
        let response = TokenResponse::from_response(answer).map_err(|e| Error::RefreshFailed {
            detail: self.dpop.read_refusal(&self.server.token_endpoint, e).diagnosis().detail,
        })?;
        self.dpop.accept(response.token_type).map_err(|e| Error::RefreshFailed { detail: e.diagnosis().detail })?;
        self.token_type = response.token_type;
        let access_claims = jwt::decode(response.access_token.secret()).ok().map(|jwt| jwt.claims);
        self.expires_at = expiry(response.expires_in, access_claims.as_ref(), now);
        self.lifetime = self.expires_at.saturating_sub(now);
        match (&response.scope, access_claims.as_ref().and_then(|c| c.get("scope")).and_then(|v| v.as_str())) {
            (Some(scope), _) => {
                self.granted = ScopeSet::parse_lenient(scope);
                self.grant_source = GrantSource::TokenResponse;
            }
            (None, Some(scope)) => {
                self.granted = ScopeSet::parse_lenient(scope);
                self.grant_source = GrantSource::AccessTokenClaim;
            }
            (None, None) => {}
        }
        if let Some(claims) = &access_claims {
            self.context.access_token_audience = jwt::audience_claim(claims);
        }
        self.access_token = response.access_token;
        if let Some(rotated) = response.refresh_token {
            self.refresh_token = Some(rotated);
        }
        self.failed_refreshes = 0;
        self.refresh_not_before = 0;
        Ok(())
    }

    /// The revocation requests (RFC 7009 §2.1) for signing out, when the
    /// server has a revocation endpoint: the refresh token first (revoking
    /// it may end the whole grant, §2.1), then the access token, which
    /// would otherwise work until it expires. A server that cannot revoke
    /// access tokens says `unsupported_token_type` (§2.2.1).
    pub fn revocation_requests(&self) -> Vec<FormPost> {
        let Some(endpoint) = &self.server.revocation_endpoint else { return Vec::new() };
        let access = Some((self.access_token.secret(), "access_token"));
        let refresh = self.refresh_token.as_ref().map(|token| (token.secret(), "refresh_token"));
        [refresh, access]
            .into_iter()
            .flatten()
            .map(|(token, hint)| {
                FormPost::new(
                    endpoint.clone(),
                    [("token", token), ("token_type_hint", hint), ("client_id", &self.client_id)],
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::tests::{begin_ehr, config, NOW};
    use crate::authorize::PendingAuthorization;
    use crate::callback::{parse_callback, Callback};
    use crate::jwt::tests::make_jwt;
    use serde_json::{json, Value};

    fn exchange(pending: PendingAuthorization) -> CodeExchange {
        let Callback::Authorized(response) =
            parse_callback(&format!("code=c&state={}", pending.state().as_str())).unwrap()
        else {
            panic!()
        };
        pending.accept(response, NOW).unwrap()
    }

    fn smart_exchange() -> (CodeExchange, Option<String>) {
        let config = config(r#"{"type": "smart"}"#);
        let (_, pending) = begin_ehr(&config);
        let nonce = pending_nonce(&pending);
        (exchange(pending), nonce)
    }

    fn pending_nonce(pending: &PendingAuthorization) -> Option<String> {
        let stored: Value = serde_json::from_str(&pending.to_storage()).unwrap();
        stored["nonce"].as_str().map(str::to_string)
    }

    fn id_token(nonce: &str, aud: &str) -> String {
        make_jwt(
            &json!({"alg": "RS256", "kid": "k1"}),
            &json!({"iss": "https://as.example.org", "aud": aud, "exp": NOW + 300, "iat": NOW,
                    "nonce": nonce, "fhirUser": "Practitioner/p1"}),
        )
    }

    fn descope_access_token(patient: &str) -> String {
        make_jwt(
            &json!({"alg": "RS256"}),
            &json!({"aud": "https://ehr.example.org/fhir", "scope": "launch openid patient/*.rs",
                    "patient": patient, "encounter": "", "need_patient_banner": true, "exp": NOW + 900}),
        )
    }

    #[test]
    fn standard_smart_response_becomes_a_session() {
        let (exchange, nonce) = smart_exchange();
        let body = json!({
            "access_token": "opaque-at", "token_type": "Bearer", "expires_in": 3600,
            "scope": "launch openid fhirUser patient/Condition.rs", "refresh_token": "rt-1",
            "id_token": id_token(nonce.as_deref().unwrap(), "app-1"), "patient": "pat-7"
        });
        let grant = exchange.finish(TokenAnswer::json(200, &body.to_string()), NOW).unwrap();
        assert_eq!(grant.id_token().unwrap().kid(), Some("k1"));
        let session = grant.into_session(SignatureVerdict::Verified).unwrap();
        assert_eq!(session.expires_at, NOW + 3600);
        assert_eq!(session.grant_source, GrantSource::TokenResponse);
        assert!(session.granted.may_search("Condition"));
        assert!(!session.granted.may_search("Observation"));
        assert_eq!(session.requested.missing_from(&session.granted), ["patient/*.rs", "offline_access"]);
        assert_eq!(
            session.patient_context().unwrap(),
            PatientContext::Given(Sourced { value: "pat-7".into(), source: Source::TokenResponse })
        );
        assert_eq!(session.context.fhir_user.as_ref().unwrap().value, "Practitioner/p1");
        assert_eq!(session.audience_matches_fhir_base(), None, "opaque token");
        assert!(format!("{session:?}").contains("[redacted]"));
        assert!(!format!("{session:?}").contains("opaque-at"));
    }

    #[test]
    fn descope_claims_give_context_expiry_and_grant() {
        let config = config(r#"{"type": "descope", "project_id": "P2abc"}"#);
        let (_, pending) = begin_ehr(&config);
        let body = json!({"access_token": descope_access_token("p-42"), "token_type": "Bearer"});
        let session = exchange(pending)
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        assert_eq!(session.expires_at, NOW + 900, "expiry from the JWT exp");
        assert_eq!(session.grant_source, GrantSource::AccessTokenClaim);
        let PatientContext::Given(patient) = session.patient_context().unwrap() else { panic!() };
        assert_eq!((patient.value.as_str(), patient.source), ("p-42", Source::AccessTokenClaim));
        assert_eq!(session.context.encounter, None);
        assert_eq!(session.audience_matches_fhir_base(), Some(true));
    }

    #[test]
    fn the_descope_project_as_audience_is_recognised() {
        let config = config(r#"{"type": "descope", "project_id": "P2abc"}"#);
        let (_, pending) = begin_ehr(&config);
        let body = json!({"access_token": descope_access_token("p-42"), "token_type": "Bearer"});
        let mut session = exchange(pending)
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        assert_eq!(session.descope_project_as_audience(), None, "not a Descope Inbound App issuer");
        session.server.issuer = Some("https://api.descope.com/v1/apps/P2abc".into());
        assert_eq!(session.descope_project_as_audience(), None, "aud is the FHIR base");
        session.context.access_token_audience = Some(vec!["P2abc".into()]);
        assert_eq!(session.descope_project_as_audience(), Some("P2abc"));
        session.context.access_token_audience = Some(vec!["P2abd".into()]);
        assert_eq!(session.descope_project_as_audience(), None, "another project");
    }

    #[test]
    fn missing_patient_is_diagnosed_or_sent_to_the_picker() {
        let config = config(r#"{"type": "descope", "project_id": "P2abc"}"#);
        let (_, pending) = begin_ehr(&config);
        let body = json!({"access_token": descope_access_token(""), "token_type": "Bearer"});
        let session = exchange(pending)
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        match session.patient_context() {
            Err(Error::MissingPatient { requested }) => assert_eq!(requested, "launch"),
            other => panic!("{other:?}"),
        }
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer", "scope": "launch user/Patient.rs"});
        let mut session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        assert_eq!(session.patient_context().unwrap(), PatientContext::PickerNeeded);
        session.choose_patient("p-9".into());
        let PatientContext::Given(p) = session.patient_context().unwrap() else { panic!() };
        assert_eq!(p.source, Source::PatientPicker);
    }

    #[test]
    fn id_token_problems_stop_the_sign_in() {
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer", "id_token": id_token("wrong-nonce", "app-1")});
        assert!(matches!(
            exchange.finish(TokenAnswer::json(200, &body.to_string()), NOW),
            Err(Error::IdTokenInvalid { problem: IdTokenProblem::WrongNonce })
        ));
        let (exchange, nonce) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer", "id_token": id_token(nonce.as_deref().unwrap(), "someone-else")});
        assert!(matches!(
            exchange.finish(TokenAnswer::json(200, &body.to_string()), NOW),
            Err(Error::IdTokenInvalid { problem: IdTokenProblem::WrongAudience { .. } })
        ));
        let (exchange, nonce) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer", "id_token": id_token(nonce.as_deref().unwrap(), "app-1")});
        let grant = exchange.finish(TokenAnswer::json(200, &body.to_string()), NOW).unwrap();
        assert!(matches!(
            grant.into_session(SignatureVerdict::Invalid),
            Err(Error::IdTokenInvalid { problem: IdTokenProblem::BadSignature })
        ));
        let (exchange, nonce) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer", "id_token": id_token(nonce.as_deref().unwrap(), "app-1")});
        let session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Unverifiable("no jwks_uri".into()))
            .unwrap();
        assert!(session.context.fhir_user.is_none(), "unverified claims are not used");
        assert!(session.warnings.iter().any(|w| w.contains("no jwks_uri")));
    }

    #[test]
    fn an_id_token_from_a_server_that_names_no_issuer_is_not_used() {
        let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        let server = AuthorizationServer::from_response(
            crate::discovery::DiscoveryKind::Smart,
            &base.join_path(".well-known/smart-configuration"),
            &base,
            200,
            r#"{"authorization_endpoint": "https://as.example.org/authorize", "token_endpoint": "https://as.example.org/token",
                "code_challenge_methods_supported": ["S256"], "capabilities": ["launch-ehr"]}"#,
        )
        .unwrap();
        let config = config(r#"{"type": "smart"}"#);
        let redirect = HttpUrl::parse("https://app.example.org/callback").unwrap();
        let mode = crate::authorize::LaunchMode::Ehr { launch: "l".into() };
        let (_, pending) = PendingAuthorization::begin(&config.issuers[0], server, redirect, mode, None, NOW).unwrap();
        let nonce = pending_nonce(&pending);
        let body = json!({"access_token": "t", "token_type": "Bearer", "id_token": id_token(nonce.as_deref().unwrap(), "app-1")});
        let grant = exchange(pending).finish(TokenAnswer::json(200, &body.to_string()), NOW).unwrap();
        assert!(grant.id_token().is_none(), "nothing to verify: its iss cannot be checked");
        let session = grant.into_session(SignatureVerdict::NoIdToken).unwrap();
        assert!(session.context.fhir_user.is_none());
        assert!(session.warnings.iter().any(|w| w.contains("names no issuer")), "{:?}", session.warnings);
    }

    #[test]
    fn bearer_goes_only_to_the_fhir_origin() {
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "secret-at", "token_type": "Bearer"});
        let session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        let same = HttpUrl::parse("https://ehr.example.org/fhir/Condition?patient=1").unwrap();
        assert_eq!(session.bearer_for(&same).unwrap(), "secret-at");
        for other in [
            "https://evil.example.org/fhir/Condition",
            "http://ehr.example.org/fhir",
            "https://ehr.example.org:444/fhir",
        ] {
            let url = HttpUrl::parse(other).unwrap();
            assert!(matches!(session.bearer_for(&url), Err(Error::TokenWouldLeak { .. })), "{other}");
        }
    }

    #[test]
    fn expiry_defaults_and_refresh_timing() {
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer"});
        let session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        assert_eq!(session.expires_at, NOW + DEFAULT_LIFETIME_SECONDS);
        assert_eq!(session.grant_source, GrantSource::AssumedAsRequested);
        assert_eq!(session.seconds_until_refresh(NOW), DEFAULT_LIFETIME_SECONDS - REFRESH_MARGIN_SECONDS);
        assert_eq!(session.seconds_until_refresh(NOW + DEFAULT_LIFETIME_SECONDS), 0);
        // Without a refresh token the timer waits for the expiry itself.
        assert_eq!(session.timer_step(NOW), TimerStep::Wait(DEFAULT_LIFETIME_SECONDS));
        assert_eq!(session.timer_step(NOW + DEFAULT_LIFETIME_SECONDS - 1), TimerStep::Wait(1));
        assert_eq!(session.timer_step(NOW + DEFAULT_LIFETIME_SECONDS), TimerStep::Expire);
        assert_eq!(session.timer_step(NOW + 10 * DEFAULT_LIFETIME_SECONDS), TimerStep::Expire);
        assert!(session.refresh_request().is_none(), "no refresh token");
        let revocations = session.revocation_requests();
        assert_eq!(revocations.len(), 1, "the access token alone");
        assert!(form(&revocations[0]).contains(&("token_type_hint".into(), "access_token".into())));
    }

    #[test]
    fn expiry_comes_from_the_servers_figures_and_refreshes_have_a_floor() {
        // exp − iat, not exp against a clock that runs an hour ahead.
        let (exchange, _) = smart_exchange();
        let token = make_jwt(&json!({"alg": "RS256"}), &json!({"iat": NOW - 3600, "exp": NOW - 3600 + 300}));
        let body = json!({"access_token": token, "token_type": "Bearer", "refresh_token": "rt"});
        let session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::NoIdToken);
        assert_eq!(session.unwrap().expires_at, NOW + 300);
        // A token that lives one second is not refreshed before five.
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "t", "token_type": "Bearer", "refresh_token": "rt", "expires_in": 1});
        let session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::NoIdToken)
            .unwrap();
        assert_eq!(session.timer_step(NOW), TimerStep::Wait(MIN_REFRESH_INTERVAL_SECONDS));
        assert_eq!(session.timer_step(NOW + MIN_REFRESH_INTERVAL_SECONDS), TimerStep::Refresh);
    }

    fn form(post: &FormPost) -> Vec<(String, String)> {
        form_urlencoded::parse(post.body().as_bytes()).into_owned().collect()
    }

    #[test]
    fn refresh_rotates_and_keeps_the_old_token_when_none_comes_back() {
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1", "expires_in": 60, "scope": "launch patient/*.rs"});
        let mut session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        let request = session.refresh_request().unwrap();
        assert_eq!(request.url.to_string(), "https://as.example.org/token");
        assert_eq!(
            form(&request),
            [
                ("grant_type".into(), "refresh_token".into()),
                ("refresh_token".into(), "rt-1".into()),
                ("client_id".into(), "app-1".into())
            ]
        );
        let fhir = HttpUrl::parse("https://ehr.example.org/fhir/Patient/1").unwrap();
        session
            .apply_refresh(
                TokenAnswer::json(
                    200,
                    r#"{"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2", "expires_in": 120}"#,
                ),
                NOW + 50,
            )
            .unwrap();
        assert_eq!(session.bearer_for(&fhir).unwrap(), "at-2");
        assert_eq!(session.expires_at, NOW + 170);
        // A 120 s token is refreshed when a fifth of it remains (24 s), not
        // 60 s early; a refresh right away would repeat forever.
        assert_eq!(session.seconds_until_refresh(NOW + 50), 96);
        assert_eq!(session.timer_step(NOW + 50), TimerStep::Wait(96));
        assert_eq!(session.timer_step(NOW + 146), TimerStep::Refresh);
        assert_eq!(session.timer_step(NOW + 500), TimerStep::Refresh, "late is still a refresh, not an end");
        assert!(form(&session.refresh_request().unwrap()).contains(&("refresh_token".into(), "rt-2".into())));
        assert!(session.granted.may_search("Observation"), "grant kept when no scope comes back");
        session
            .apply_refresh(
                TokenAnswer::json(
                    200,
                    r#"{"access_token": "at-3", "token_type": "Bearer", "scope": "patient/Condition.rs"}"#,
                ),
                NOW + 100,
            )
            .unwrap();
        assert!(form(&session.refresh_request().unwrap()).contains(&("refresh_token".into(), "rt-2".into())));
        assert!(!session.granted.may_search("Observation"), "a narrower grant is applied");
        let revocations: Vec<_> = session.revocation_requests().iter().map(form).collect();
        assert!(session.revocation_requests().iter().all(|r| r.url.to_string() == "https://as.example.org/revoke"));
        let pairs = |token: &str, hint: &str| [("token".into(), token.into()), ("token_type_hint".into(), hint.into())];
        assert_eq!(revocations.len(), 2);
        assert!(pairs("rt-2", "refresh_token").iter().all(|p| revocations[0].contains(p)), "{revocations:?}");
        assert!(pairs("at-3", "access_token").iter().all(|p| revocations[1].contains(p)), "{revocations:?}");
    }

    #[test]
    fn failures_that_may_pass_back_off_while_the_token_lives_and_refusals_end_at_once() {
        use RefreshFailure::*;
        let body = json!({"access_token": "t", "token_type": "Bearer", "refresh_token": "rt", "expires_in": 600});
        let grant = || exchange_with(&body);
        let mut session = grant();
        // 600 s token: due at 540; then 5, 10, 20, 40 s apart, capped at the token's last second.
        let mut now = NOW + 540;
        let mut tries = vec![];
        while session.refresh_failed(if tries.len() % 2 == 0 { NoAnswer } else { Status(503) }, now) {
            tries.push(now - NOW);
            assert!(session.is_backing_off(now));
            assert_eq!(session.timer_step(now), TimerStep::Wait(session.seconds_until_refresh(now)));
            now += session.seconds_until_refresh(now);
            assert!(!session.is_backing_off(now));
        }
        assert_eq!(tries, [540, 545, 555, 575, 599]);
        assert_eq!(now, NOW + 600, "the last try comes at the expiry, and ends the session");
        for refusal in [Status(400), Status(401), Status(404), Final] {
            assert!(!grant().refresh_failed(refusal, NOW), "{refusal:?} will not pass");
        }
        assert!(grant().refresh_failed(Status(429), NOW));
        // A refresh that works resets the backoff.
        let mut session = grant();
        assert!(session.refresh_failed(NoAnswer, NOW + 540));
        assert!(session.refresh_failed(NoAnswer, NOW + 545));
        session.apply_refresh(TokenAnswer::json(200, &body.to_string()), NOW + 555).unwrap();
        assert!(!session.is_backing_off(NOW + 555));
        assert!(session.refresh_failed(NoAnswer, NOW + 1095));
        assert_eq!(session.seconds_until_refresh(NOW + 1095), REFRESH_BACKOFF_SECONDS);
    }

    fn exchange_with(body: &Value) -> Session {
        let (exchange, _) = smart_exchange();
        exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::NoIdToken)
            .unwrap()
    }

    #[test]
    fn a_refused_refresh_is_a_refresh_failure() {
        let (exchange, _) = smart_exchange();
        let body = json!({"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1"});
        let mut session = exchange
            .finish(TokenAnswer::json(200, &body.to_string()), NOW)
            .unwrap()
            .into_session(SignatureVerdict::Verified)
            .unwrap();
        match session.apply_refresh(TokenAnswer::json(400, r#"{"error": "invalid_grant"}"#), NOW) {
            Err(Error::RefreshFailed { detail }) => assert!(detail.contains("invalid_grant"), "{detail}"),
            other => panic!("{other:?}"),
        }
        let fhir = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        assert_eq!(session.bearer_for(&fhir).unwrap(), "at-1", "a failed refresh changes nothing");
    }

    #[test]
    fn token_types_follow_the_sign_ins_dpop_decision() {
        let with_dpop = |dpop: DpopUse| {
            let config = config(r#"{"type": "smart"}"#);
            let (_, mut pending) = begin_ehr(&config);
            pending.dpop = dpop;
            exchange(pending)
        };
        let response =
            |kind: &str| json!({"access_token": "at", "token_type": kind, "refresh_token": "rt"}).to_string();
        // No proof sent: a DPoP token cannot be used, and is refused.
        assert!(matches!(
            with_dpop(DpopUse::Off).finish(TokenAnswer::json(200, &response("DPoP")), NOW),
            Err(Error::DpopTokenUnrequested)
        ));
        // Required: a bearer token is a downgrade, and is refused.
        assert!(matches!(
            with_dpop(DpopUse::Required).finish(TokenAnswer::json(200, &response("Bearer")), NOW),
            Err(Error::DpopNotGranted)
        ));
        // Preferred: a bearer token is taken, with a warning.
        let grant = with_dpop(DpopUse::Preferred).finish(TokenAnswer::json(200, &response("Bearer")), NOW).unwrap();
        let session = grant.into_session(SignatureVerdict::NoIdToken).unwrap();
        assert!(!session.is_dpop_bound());
        assert!(session.warnings.iter().any(|w| w.contains("ignored the DPoP proof")), "{:?}", session.warnings);
        // A bound session stays bound only while refreshes come back DPoP.
        let grant = with_dpop(DpopUse::Required).finish(TokenAnswer::json(200, &response("DPoP")), NOW).unwrap();
        let mut session = grant.into_session(SignatureVerdict::NoIdToken).unwrap();
        assert!(session.is_dpop_bound());
        assert_eq!(session.dpop, DpopUse::Required);
        match session.apply_refresh(TokenAnswer::json(200, &response("Bearer")), NOW) {
            Err(Error::RefreshFailed { detail }) => assert!(detail.contains("bearer token"), "{detail}"),
            other => panic!("{other:?}"),
        }
        session.apply_refresh(TokenAnswer::json(200, &response("DPoP")), NOW).unwrap();
        assert!(session.is_dpop_bound());
    }
}
