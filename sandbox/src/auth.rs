//! The Descope-compatible authorization server, laid out as Descope's
//! "Authorization Server Endpoints" documentation and API description give
//! it: the Inbound Apps' endpoints under `/oauth2/v1/apps/` (authorize,
//! token, revoke, userinfo), their metadata at
//! `/v1/apps/{projectId}/.well-known/openid-configuration` (and the RFC 8414
//! `oauth-authorization-server` form) with the issuer
//! `/v1/apps/{projectId}`, the project's keys at
//! `/{projectId}/.well-known/jwks.json`; a login and consent page, codes,
//! RS256 tokens and rotating refresh tokens. Beside it, as on Descope, the
//! project's federated OIDC provider (`/{projectId}/.well-known/
//! openid-configuration`, endpoints under `/oauth2/v1/`), which knows no
//! inbound app and refuses its client.
//!
//! It is strict where real servers are: PKCE S256 required, exact redirect
//! URIs, `aud` must be a protected FHIR base, `launch` single use and short
//! lived, codes single use (reuse revokes what they issued), refresh-token
//! reuse revokes the family.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};
use smart_core::scopes::{Scope, ScopeContext};

use crate::data::display_name;
use crate::dpop::{self, DpopMode, Expected, Refusal};
use crate::http::{escape, html_response, json_response, oauth_error, page, query, redirect};
use crate::state::{
    now, random_id, AccessRecord, Base, Code, Consent, ContextMode, Grant, Injection, LaunchSettings, RefreshRecord,
    Sandbox, CLIENT_ID, CODE_LIFETIME, LAUNCH_LIFETIME, PROJECT_ID,
};

type Shared = State<Arc<Sandbox>>;
type Params = HashMap<String, String>;

/// The patient a standalone sign-in gets when consent is automatic.
pub const STANDALONE_DEFAULT_PATIENT: &str = "p003";

/// The endpoints both discovery documents name.
fn endpoints(sandbox: &Sandbox) -> Map<String, Value> {
    let o = &sandbox.origin;
    let faults = sandbox.registry().faults.clone();
    let mut map = Map::new();
    map.insert("issuer".into(), json!(sandbox.issuer()));
    map.insert("authorization_endpoint".into(), json!(format!("{o}/oauth2/v1/apps/authorize")));
    map.insert("token_endpoint".into(), json!(format!("{o}/oauth2/v1/apps/token")));
    if !faults.no_revocation {
        map.insert("revocation_endpoint".into(), json!(format!("{o}/oauth2/v1/apps/revoke")));
    }
    map.insert("userinfo_endpoint".into(), json!(format!("{o}/oauth2/v1/apps/userinfo")));
    map.insert("jwks_uri".into(), json!(sandbox.jwks_uri()));
    map.insert("code_challenge_methods_supported".into(), json!(if faults.no_s256 { ["plain"] } else { ["S256"] }));
    map.insert("grant_types_supported".into(), json!(["authorization_code", "refresh_token"]));
    map.insert("response_types_supported".into(), json!(["code"]));
    map.insert("token_endpoint_auth_methods_supported".into(), json!(["none"]));
    // RFC 9207 §3 (unless switched off: the RFC is optional for servers).
    if !sandbox.registry().faults.omit_iss {
        map.insert("authorization_response_iss_parameter_supported".into(), json!(true));
    }
    if sandbox.registry().faults.dpop.advertised() {
        map.insert("dpop_signing_alg_values_supported".into(), json!(["ES256"]));
    }
    map.insert(
        "scopes_supported".into(),
        json!([
            "openid",
            "fhirUser",
            "profile",
            "launch",
            "launch/patient",
            "launch/encounter",
            "offline_access",
            "online_access",
            "patient/*.rs",
            "user/*.rs",
            "patient/*.read",
            "user/*.read"
        ]),
    );
    map
}

/// Discovery documents are public and change rarely: like real servers,
/// the sandbox lets browsers cache them for a few minutes.
fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// The Inbound Apps' metadata (both well-known names serve it), or, with
/// the `federated_metadata` fault, the federated provider's.
pub async fn openid_configuration(State(sandbox): Shared) -> Response {
    if sandbox.registry().faults.federated_metadata {
        return federated_configuration(State(sandbox)).await;
    }
    let mut doc = endpoints(&sandbox);
    doc.insert("id_token_signing_alg_values_supported".into(), json!(["RS256"]));
    doc.insert("subject_types_supported".into(), json!(["public"]));
    cacheable(json_response(StatusCode::OK, &Value::Object(doc)))
}

/// The project's federated OIDC provider: its own issuer and endpoints
/// (under `/oauth2/v1/`, not `/oauth2/v1/apps/`), the same keys.
pub async fn federated_configuration(State(sandbox): Shared) -> Response {
    let o = &sandbox.origin;
    let doc = json!({
        "issuer": sandbox.federated_issuer(),
        "authorization_endpoint": format!("{o}/oauth2/v1/authorize"),
        "token_endpoint": format!("{o}/oauth2/v1/token"),
        "userinfo_endpoint": format!("{o}/oauth2/v1/userinfo"),
        "jwks_uri": sandbox.jwks_uri(),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email"],
    });
    cacheable(json_response(StatusCode::OK, &doc))
}

/// The federated provider's endpoints: an Inbound App's client id is not
/// one of its clients. An unknown client is not redirected back (RFC 6749
/// §4.1.2.1: the server "MUST NOT automatically redirect"); the error is
/// JSON with status 400.
pub async fn federated_refusal() -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_client",
        "the client is not an application of this project's federated OIDC provider; Inbound Apps use /oauth2/v1/apps/",
    )
}

pub fn smart_configuration(sandbox: &Sandbox) -> Response {
    let mut doc = endpoints(sandbox);
    doc.insert(
        "capabilities".into(),
        json!([
            "launch-ehr",
            "launch-standalone",
            "client-public",
            "context-ehr-patient",
            "context-ehr-encounter",
            "context-standalone-patient",
            "context-banner",
            "context-style",
            "permission-patient",
            "permission-user",
            "permission-offline",
            "permission-v1",
            "permission-v2",
            "sso-openid-connect",
            "authorize-post"
        ]),
    );
    if let Some(missing) = sandbox.registry().faults.missing_capability.clone() {
        if let Some(Value::Array(capabilities)) = doc.get_mut("capabilities") {
            capabilities.retain(|c| c.as_str() != Some(missing.as_str()));
        }
    }
    cacheable(json_response(StatusCode::OK, &Value::Object(doc)))
}

pub async fn jwks(State(sandbox): Shared) -> Response {
    json_response(StatusCode::OK, &sandbox.keys.jwks())
}

/// Whether a scope token is one this server can grant a public client.
fn scope_allowed(token: &str) -> bool {
    match Scope::parse(token) {
        Ok(Scope::Resource(r)) => r.context != ScopeContext::System,
        Ok(Scope::Other(_)) | Err(_) => false,
        Ok(_) => true,
    }
}

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_ascii_whitespace().any(|s| s == wanted)
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html_response(status, page("Sign-in error", &format!("<p role=\"alert\">{}</p>", escape(message))))
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    redirect(&format!("{redirect_uri}{separator}{}", query(pairs)))
}

/// An error redirect; like every authorization response it names the
/// issuer when the sandbox does (RFC 9207 §2; [`Sandbox::response_issuer`]).
fn redirect_error(
    issuer: Option<&str>,
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(issuer) = issuer {
        pairs.push(("iss", issuer));
    }
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    redirect_with(redirect_uri, &pairs)
}

fn base_for_aud(sandbox: &Sandbox, aud: &str) -> Option<Base> {
    let trimmed = aud.trim_end_matches('/');
    [Base::Descope, Base::Smart].into_iter().find(|b| sandbox.fhir_base(*b) == trimmed)
}

/// `GET /oauth2/v1/apps/authorize`
pub async fn authorize(State(sandbox): Shared, Query(params): Query<Params>) -> Response {
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    // Client and redirect URI first: an error must never be sent to an
    // unverified redirect URI (RFC 6749 §4.1.2.1).
    if get("client_id") != Some(CLIENT_ID) {
        return error_page(StatusCode::BAD_REQUEST, "Unknown client_id: this app is not registered.");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|r| sandbox.redirect_uris.iter().any(|u| u == r)) else {
        return error_page(StatusCode::BAD_REQUEST, "redirect_uri is missing or not registered for this client.");
    };
    let state = get("state");
    // Read before the registry is locked below (its lock is not reentrant).
    let issuer = sandbox.response_issuer();
    let fail =
        |error: &str, description: &str| redirect_error(issuer.as_deref(), redirect_uri, state, error, description);
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type", "only response_type=code is supported");
    }
    let Some(challenge) = get("code_challenge") else {
        return fail("invalid_request", "PKCE is required: code_challenge is missing");
    };
    if get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "PKCE code_challenge_method must be S256");
    }
    let Some(base) = get("aud").and_then(|aud| base_for_aud(&sandbox, aud)) else {
        return fail("invalid_request", "aud must be the URL of a FHIR server this authorization server protects");
    };
    let scope = get("scope").unwrap_or_default().to_string();
    if let Some(bad) = scope.split_ascii_whitespace().find(|s| !scope_allowed(s)) {
        return fail("invalid_scope", &format!("the scope \"{bad}\" is not configured for this app"));
    }
    let launch_id = get("launch").filter(|_| has_scope(&scope, "launch")).map(str::to_string);
    let settings = if has_scope(&scope, "launch") {
        let current = sandbox.now();
        let mut registry = sandbox.registry();
        let live = get("launch")
            .and_then(|id| registry.launches.get_mut(id))
            .filter(|l| !l.used && current.saturating_sub(l.created) <= LAUNCH_LIFETIME);
        let Some(launch) = live else {
            return fail("invalid_request", "the launch value is unknown, expired or already used");
        };
        if launch.settings.base != base {
            return fail("invalid_request", "aud is not the FHIR server this launch came from");
        }
        launch.settings.clone()
    } else {
        let auto = sandbox.registry().faults.auto_approve_standalone;
        LaunchSettings::standalone(base, auto)
    };
    let consent = Consent {
        redirect_uri: redirect_uri.to_string(),
        state: state.map(str::to_string),
        scope,
        code_challenge: challenge.to_string(),
        nonce: get("nonce").map(str::to_string),
        dpop_jkt: get("dpop_jkt").map(str::to_string),
        settings,
        launch: launch_id,
    };
    if consent.settings.auto_approve {
        let patient =
            consent.settings.patient.clone().or_else(|| {
                has_scope(&consent.scope, "launch/patient").then(|| STANDALONE_DEFAULT_PATIENT.to_string())
            });
        use_up_launch(&sandbox, &consent);
        return approve(&sandbox, consent, patient);
    }
    let id = random_id();
    let page = consent_page(&sandbox, &id, &consent);
    let deny_framing = consent.settings.deny_framing;
    sandbox.registry().consents.insert(id, consent);
    let mut response = html_response(StatusCode::OK, page);
    if deny_framing {
        let headers = response.headers_mut();
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert("content-security-policy", HeaderValue::from_static("frame-ancestors 'none'"));
    }
    response
}

fn consent_page(sandbox: &Sandbox, id: &str, consent: &Consent) -> String {
    let scopes: String =
        consent.scope.split_ascii_whitespace().map(|s| format!("<li><code>{}</code></li>", escape(s))).collect();
    let who = match (&consent.settings.practitioner, &consent.settings.patient) {
        (Some(pr), Some(p)) => format!(
            "<p>Signed in as <strong>{}</strong>, for patient <strong>{}</strong>.</p>",
            escape(&sandbox.store.read("Practitioner", pr).map(display_name).unwrap_or_default()),
            escape(&sandbox.store.read("Patient", p).map(display_name).unwrap_or_default())
        ),
        // A standalone sign-in without launch/patient is a clinician's:
        // no patient is chosen here (the app may offer its own picker).
        _ if !has_scope(&consent.scope, "launch/patient") => {
            "<p>Signed in as <strong>Dr. Amara Okafor</strong> (no patient chosen).</p>".to_string()
        }
        _ => {
            let options: String = sandbox
                .store
                .all("Patient")
                .iter()
                .map(|p| {
                    let pid = p["id"].as_str().unwrap_or_default();
                    format!("<option value=\"{}\">{} ({})</option>", escape(pid), escape(&display_name(p)), escape(pid))
                })
                .collect();
            format!("<label>Sign in as patient <select name=\"patient\">{options}</select></label>")
        }
    };
    page(
        "Sandbox sign-in and consent",
        &format!(
            "<form method=\"post\" action=\"/oauth2/v1/apps/consent\">\
             <input type=\"hidden\" name=\"consent\" value=\"{}\">{who}\
             <p>The app <strong>{CLIENT_ID}</strong> asks for:</p><ul>{scopes}</ul>\
             <button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Approve</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Deny</button></form>",
            escape(id)
        ),
    )
}

/// `POST /oauth2/v1/apps/consent`
pub async fn consent(State(sandbox): Shared, Form(form): Form<Params>) -> Response {
    let Some(consent) = form.get("consent").and_then(|id| sandbox.registry().consents.remove(id)) else {
        return error_page(StatusCode::BAD_REQUEST, "This sign-in expired or was already answered.");
    };
    use_up_launch(&sandbox, &consent);
    if form.get("decision").map(String::as_str) != Some("approve") {
        return redirect_error(
            sandbox.response_issuer().as_deref(),
            &consent.redirect_uri,
            consent.state.as_deref(),
            "access_denied",
            "the user denied access",
        );
    }
    let chosen = form.get("patient").cloned().filter(|_| has_scope(&consent.scope, "launch/patient"));
    let patient = consent.settings.patient.clone().or(chosen);
    approve(&sandbox, consent, patient)
}

/// An answered consent uses up its EHR launch value.
fn use_up_launch(sandbox: &Sandbox, consent: &Consent) {
    if let Some(id) = &consent.launch {
        if let Some(launch) = sandbox.registry().launches.get_mut(id) {
            launch.used = true;
        }
    }
}

/// Issues the code and redirects back to the app.
fn approve(sandbox: &Sandbox, consent: Consent, patient: Option<String>) -> Response {
    let settings = consent.settings.clone();
    let standalone = settings.practitioner.is_none();
    let scope = match settings.inject {
        Injection::ScopeDowngrade => consent
            .scope
            .split_ascii_whitespace()
            .filter(|s| !s.contains('/') || s.starts_with("launch/"))
            .chain(["patient/Patient.rs", "patient/Condition.rs"])
            .collect::<Vec<_>>()
            .join(" "),
        Injection::EmptyGrant => String::new(),
        _ => consent.scope.clone(),
    };
    let fhir_user = match (&settings.practitioner, &patient) {
        (Some(pr), _) => format!("Practitioner/{pr}"),
        (None, Some(p)) => format!("Patient/{p}"),
        (None, None) => "Practitioner/pr1".to_string(),
    };
    let patient = if settings.inject == Injection::MissingPatient { None } else { patient };
    let grant = Grant {
        scope,
        // A standalone patient-portal user only ever sees themselves.
        patient: if standalone {
            patient.or_else(|| fhir_user.strip_prefix("Patient/").map(str::to_string))
        } else {
            patient
        },
        encounter: settings.encounter.clone(),
        fhir_user,
        nonce: consent.nonce,
        settings,
    };
    let code = random_id();
    sandbox.registry().codes.insert(
        code.clone(),
        Code {
            redirect_uri: consent.redirect_uri.clone(),
            code_challenge: consent.code_challenge,
            dpop_jkt: consent.dpop_jkt,
            grant,
            created: now(),
            used: false,
            families: Vec::new(),
        },
    );
    let issuer = sandbox.response_issuer();
    let mut pairs = vec![("code", code.as_str())];
    if let Some(issuer) = &issuer {
        pairs.push(("iss", issuer.as_str()));
    }
    if let Some(state) = consent.state.as_deref() {
        pairs.push(("state", state));
    }
    redirect_with(&consent.redirect_uri, &pairs)
}

fn style_url(sandbox: &Sandbox, inject: Injection) -> String {
    match inject {
        Injection::StyleUnreachable => format!("{}/ehr/no-such-style.json", sandbox.origin),
        Injection::StyleMalformed => format!("{}/ehr/smart-style-malformed.json", sandbox.origin),
        _ => format!("{}/ehr/smart-style.json", sandbox.origin),
    }
}

/// Issues an access token (and refresh and id tokens) for a grant; bound
/// to the key `jkt` (token type DPoP, `cnf.jkt`, RFC 9449 §6) when given.
fn issue(sandbox: &Sandbox, grant: &Grant, family: &str, with_id_token: bool, jkt: Option<&str>) -> Response {
    let settings = &grant.settings;
    let issued = now();
    let jti = random_id();
    let fhir_base = sandbox.fhir_base(settings.base);
    let aud = match settings.inject {
        Injection::AudienceMismatch => format!("{fhir_base}-elsewhere"),
        Injection::AudienceProjectId => PROJECT_ID.to_string(),
        _ => fhir_base.clone(),
    };
    let style = style_url(sandbox, settings.inject);
    let mut claims = json!({
        "iss": sandbox.issuer(), "sub": grant.fhir_user, "aud": aud, "iat": issued,
        "exp": issued + settings.token_lifetime, "jti": jti, "client_id": CLIENT_ID, "scope": grant.scope,
    });
    let context_in_claims = matches!(settings.context, ContextMode::Claims | ContextMode::Both);
    let context_in_response = matches!(settings.context, ContextMode::Response | ContextMode::Both);
    if context_in_claims {
        // As Descope's JWT template renders them: "" when a value is unset.
        claims["patient"] = json!(grant.patient.clone().unwrap_or_default());
        claims["encounter"] = json!(grant.encounter.clone().unwrap_or_default());
        claims["need_patient_banner"] = json!(settings.need_patient_banner);
        claims["smart_style_url"] = json!(style);
    }
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({"jkt": jkt});
    }
    let mut body = json!({
        "access_token": sandbox.keys.sign(&claims),
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": settings.token_lifetime,
        "scope": grant.scope,
    });
    if context_in_response {
        if let Some(patient) = &grant.patient {
            body["patient"] = json!(patient);
        }
        if let Some(encounter) = &grant.encounter {
            body["encounter"] = json!(encounter);
        }
        body["need_patient_banner"] = json!(settings.need_patient_banner);
        body["smart_style_url"] = json!(style);
    }
    if has_scope(&grant.scope, "offline_access") || has_scope(&grant.scope, "online_access") {
        let refresh = random_id();
        sandbox.registry().refresh.insert(
            refresh.clone(),
            RefreshRecord {
                family: family.to_string(),
                grant: grant.clone(),
                used: false,
                jkt: jkt.map(str::to_string),
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    if with_id_token && has_scope(&grant.scope, "openid") {
        let mut id = json!({
            "iss": sandbox.issuer(), "sub": grant.fhir_user, "aud": CLIENT_ID, "iat": issued,
            "exp": issued + 3600, "fhirUser": format!("{fhir_base}/{}", grant.fhir_user),
        });
        if let Some(nonce) = &grant.nonce {
            id["nonce"] = json!(nonce);
        }
        match settings.inject {
            Injection::IdTokenWrongAudience => id["aud"] = json!("another-client"),
            Injection::IdTokenExpired => {
                id["iat"] = json!(issued - 7200);
                id["exp"] = json!(issued - 3600);
            }
            Injection::IdTokenWrongNonce => id["nonce"] = json!("not-the-nonce-that-was-sent"),
            _ => {}
        }
        body["id_token"] = json!(if settings.inject == Injection::IdTokenBadSignature {
            sandbox.keys.sign_corrupted(&id)
        } else {
            sandbox.keys.sign(&id)
        });
    }
    sandbox.registry().access.insert(
        jti,
        AccessRecord {
            family: family.to_string(),
            patient: grant.patient.clone(),
            scope: grant.scope.clone(),
            base: settings.base,
            jkt: jkt.map(str::to_string),
        },
    );
    json_response(StatusCode::OK, &body)
}

/// `POST /oauth2/v1/apps/token`
pub async fn token(State(sandbox): Shared, headers: HeaderMap, Form(form): Form<Params>) -> Response {
    if sandbox.registry().faults.redirect_token_endpoint {
        return crate::http::temporary_redirect(&format!("{}/oauth2/v1/apps/token", sandbox.foreign_origin));
    }
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if form.contains_key("client_secret") {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "this is a public client: no secret may be sent",
        );
    }
    if get("client_id") != CLIENT_ID {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client_id");
    }
    // The proof is checked before the code or refresh token is looked at,
    // so a nonce challenge or a refused proof uses neither up.
    let jkt = match token_endpoint_proof(&sandbox, &headers, "/oauth2/v1/apps/token") {
        Ok(jkt) => jkt,
        Err(refusal) => return *refusal,
    };
    match get("grant_type") {
        "authorization_code" => exchange_code(&sandbox, &form, jkt),
        "refresh_token" => refresh(&sandbox, get("refresh_token"), jkt),
        other => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type \"{other}\" is not supported"),
        ),
    }
}

/// A refused proof at the token endpoint: 400 with `invalid_dpop_proof`,
/// or `use_dpop_nonce` and the nonce to use (RFC 9449 §7.1, §8).
fn proof_refused(refusal: Refusal, nonce: &str) -> Response {
    match refusal {
        Refusal::Invalid(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", &why),
        Refusal::NonceNeeded => {
            let mut response = oauth_error(
                StatusCode::BAD_REQUEST,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof",
            );
            if let Ok(value) = HeaderValue::from_str(nonce) {
                response.headers_mut().insert("dpop-nonce", value);
            }
            response
        }
    }
}

/// The token or revocation endpoint's reading of the `DPoP` header: the
/// proof's key thumbprint, `None` without a proof (or with DPoP off,
/// where the header is ignored, RFC 9449 §5).
fn token_endpoint_proof(sandbox: &Sandbox, headers: &HeaderMap, path: &str) -> Result<Option<String>, Box<Response>> {
    let (mode, nonce_wanted) = {
        let faults = &sandbox.registry().faults;
        (faults.dpop, faults.dpop_nonce)
    };
    if mode == DpopMode::Off {
        return Ok(None);
    }
    let proofs: Vec<&str> = headers.get_all("dpop").iter().filter_map(|v| v.to_str().ok()).collect();
    let proof = match proofs[..] {
        [] if mode.required() => {
            return Err(Box::new(proof_refused(
                Refusal::Invalid("a DPoP proof is required for this client".into()),
                "",
            )))
        }
        [] => return Ok(None),
        [one] => one,
        _ => return Err(Box::new(proof_refused(Refusal::Invalid("more than one DPoP header".into()), ""))),
    };
    let htu = format!("{}{path}", sandbox.origin);
    let mut registry = sandbox.registry();
    let nonce = registry.as_nonce.clone();
    let expected = Expected {
        method: "POST",
        htu: &htu,
        access_token: None,
        nonce: nonce_wanted.then_some(nonce.as_str()),
        now: now(),
    };
    dpop::verify(proof, &expected, &mut registry.dpop_jtis).map(Some).map_err(|r| Box::new(proof_refused(r, &nonce)))
}

fn exchange_code(sandbox: &Sandbox, form: &Params, jkt: Option<String>) -> Response {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let invalid = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    // The client is authenticated (and the proof checked, in `token`)
    // before the code is looked at, so a refused request leaves it unused.
    let inject = sandbox.registry().codes.get(get("code")).map(|c| c.grant.settings.inject);
    if inject == Some(Injection::ConfidentialClient) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed: this client is confidential and must authenticate with its secret",
        );
    }
    let code = {
        let mut registry = sandbox.registry();
        let Some(code) = registry.codes.get_mut(get("code")) else { return invalid("unknown authorization code") };
        if code.used {
            // Reuse means the code leaked: revoke everything it issued.
            let families = code.families.clone();
            registry.revoked_families.extend(families);
            return invalid("the authorization code was already used; the tokens it issued are revoked");
        }
        // A code bound by dpop_jkt is exchanged only with a proof of that key (RFC 9449 §10).
        if code.dpop_jkt.is_some() && code.dpop_jkt != jkt {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "the proof's key is not the one named by dpop_jkt in the authorize request",
            );
        }
        code.used = true;
        code.clone()
    };
    if sandbox.now().saturating_sub(code.created) > CODE_LIFETIME {
        return invalid("the authorization code expired");
    }
    if get("redirect_uri") != code.redirect_uri {
        return invalid("redirect_uri does not match the authorize request");
    }
    let verifier = get("code_verifier");
    if verifier.is_empty() {
        return invalid("code_verifier is missing (PKCE)");
    }
    if crate::pkce::s256_challenge(verifier) != code.code_challenge {
        return invalid("code_verifier does not match the code_challenge (PKCE)");
    }
    match code.grant.settings.inject {
        Injection::TokenInvalidGrant => return invalid("injected: the grant is invalid"),
        Injection::TokenNotJson => {
            return crate::http::with_type(
                StatusCode::BAD_GATEWAY,
                "text/html",
                "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
            )
        }
        Injection::TokenWithoutAccessToken => {
            return json_response(
                StatusCode::OK,
                &json!({"token_type": "Bearer", "expires_in": 3600, "scope": code.grant.scope}),
            )
        }
        _ => {}
    }
    let family = random_id();
    if let Some(stored) = sandbox.registry().codes.get_mut(get("code")) {
        stored.families.push(family.clone());
    }
    issue(sandbox, &code.grant, &family, true, jkt.as_deref())
}

fn refresh(sandbox: &Sandbox, token: &str, jkt: Option<String>) -> Response {
    let invalid = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let record = {
        let mut registry = sandbox.registry();
        let Some(record) = registry.refresh.get_mut(token) else { return invalid("unknown refresh token") };
        let (family, bound_to) = (record.family.clone(), record.jkt.clone());
        if record.used {
            registry.revoked_families.push(family);
            return invalid("the refresh token was already used; the session is revoked");
        }
        if registry.revoked_families.contains(&family) {
            return invalid("the refresh token was revoked");
        }
        // A bound refresh token needs a proof of its key (RFC 9449 §5).
        if bound_to.is_some() && bound_to != jkt {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                "the refresh token is bound to a DPoP key, and no proof of that key came",
            );
        }
        let record = registry.refresh.get_mut(token).map(|r| {
            r.used = true;
            r.clone()
        });
        match record {
            Some(r) => r,
            None => return invalid("unknown refresh token"),
        }
    };
    issue(sandbox, &record.grant, &record.family, false, record.jkt.as_deref())
}

/// `POST /oauth2/v1/apps/revoke` (RFC 7009): always 200 for a known client.
pub async fn revoke(State(sandbox): Shared, headers: HeaderMap, Form(form): Form<Params>) -> Response {
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client_id");
    }
    // A proof that comes is checked like the token endpoint's.
    if headers.contains_key("dpop") {
        if let Err(refusal) = token_endpoint_proof(&sandbox, &headers, "/oauth2/v1/apps/revoke") {
            return *refusal;
        }
    }
    let token = form.get("token").map(String::as_str).unwrap_or_default();
    let family = {
        let registry = sandbox.registry();
        registry.refresh.get(token).map(|r| r.family.clone()).or_else(|| {
            let jti = sandbox.keys.verify(token)?.get("jti")?.as_str()?.to_string();
            registry.access.get(&jti).map(|a| a.family.clone())
        })
    };
    if let Some(family) = family {
        sandbox.registry().revoked_families.push(family);
    }
    json_response(StatusCode::OK, &json!({}))
}

/// Why an access token was refused (RFC 6750 §3, RFC 9449 §7.1).
#[derive(Debug)]
pub struct BearerFailure {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// The scheme of the challenge: `Bearer`, or `DPoP` for a bound token.
    pub scheme: &'static str,
    /// The nonce to use, with `use_dpop_nonce`.
    pub nonce: Option<String>,
}

impl BearerFailure {
    fn new(error: &'static str, description: String) -> BearerFailure {
        BearerFailure { status: StatusCode::UNAUTHORIZED, error, description, scheme: "Bearer", nonce: None }
    }

    fn dpop(error: &'static str, description: String) -> BearerFailure {
        BearerFailure { scheme: "DPoP", ..BearerFailure::new(error, description) }
    }

    /// Puts the challenge (and the nonce, if any) on a response.
    pub fn apply(&self, response: &mut Response) {
        let algs = if self.scheme == "DPoP" { " algs=\"ES256\"," } else { "" };
        let text = format!(
            "{} realm=\"sandbox\",{algs} error=\"{}\", error_description=\"{}\"",
            self.scheme,
            self.error,
            self.description.replace('"', "'")
        );
        let headers = response.headers_mut();
        let value =
            HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("Bearer realm=\"sandbox\""));
        headers.insert(header::WWW_AUTHENTICATE, value);
        if let Some(nonce) = self.nonce.as_deref().and_then(|n| HeaderValue::from_str(n).ok()) {
            headers.insert("dpop-nonce", nonce);
        }
    }
}

/// The request an access token came with: its method and URI without the
/// query (a DPoP proof's `htm` and `htu`).
pub struct Target<'a> {
    pub method: &'a str,
    pub htu: String,
}

/// Validates an access token for `base`: signature, expiry, audience and
/// revocation; a DPoP-bound token (`cnf.jkt`) also needs the `DPoP`
/// scheme and a valid proof of its key for this very request (RFC 9449
/// §7). Returns the token's record.
pub fn validate_bearer(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    base: Option<Base>,
    target: &Target<'_>,
) -> Result<AccessRecord, BearerFailure> {
    let unauthorized = BearerFailure::new;
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (token, dpop_scheme) = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => (token.trim(), false),
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") => (token.trim(), true),
        _ => return Err(unauthorized("invalid_request", "no access token was sent".into())),
    };
    let claims = sandbox
        .keys
        .verify(token)
        .ok_or_else(|| unauthorized("invalid_token", "the token's signature is not valid".into()))?;
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if exp <= sandbox.now() {
        return Err(unauthorized("invalid_token", "the access token expired".into()));
    }
    if let Some(base) = base {
        let expected = sandbox.fhir_base(base);
        if claims.get("aud").and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(unauthorized("invalid_token", format!("the token's aud is not {expected}")));
        }
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or_default();
    let mut registry = sandbox.registry();
    let record =
        registry.access.get(jti).cloned().ok_or_else(|| unauthorized("invalid_token", "unknown token".into()))?;
    if registry.revoked_families.contains(&record.family) {
        return Err(unauthorized("invalid_token", "the token was revoked".into()));
    }
    match (&record.jkt, dpop_scheme) {
        (None, false) => return Ok(record),
        (None, true) => return Err(unauthorized("invalid_token", "this token is not DPoP-bound".into())),
        // A stolen bound token sent as a bearer token is refused (§7.2).
        (Some(_), false) => {
            return Err(BearerFailure::dpop(
                "invalid_token",
                "this token is DPoP-bound: send it with the DPoP scheme and a proof".into(),
            ))
        }
        (Some(_), true) => {}
    }
    let proofs: Vec<&str> = headers.get_all("dpop").iter().filter_map(|v| v.to_str().ok()).collect();
    let [proof] = proofs[..] else {
        return Err(BearerFailure::dpop(
            "invalid_dpop_proof",
            "exactly one DPoP proof must come with a bound token".into(),
        ));
    };
    let nonce = registry.faults.dpop_nonce.then(|| registry.rs_nonce.clone());
    let expected = Expected {
        method: target.method,
        htu: &target.htu,
        access_token: Some(token),
        nonce: nonce.as_deref(),
        now: now(),
    };
    match dpop::verify(proof, &expected, &mut registry.dpop_jtis) {
        Ok(jkt) if Some(&jkt) == record.jkt.as_ref() => {
            registry.accepted_proofs.push((proof.to_string(), token.to_string()));
            Ok(record)
        }
        Ok(_) => Err(BearerFailure::dpop(
            "invalid_dpop_proof",
            "the proof's key is not the one the token is bound to".into(),
        )),
        Err(Refusal::Invalid(why)) => Err(BearerFailure::dpop("invalid_dpop_proof", why)),
        Err(Refusal::NonceNeeded) => Err(BearerFailure {
            nonce,
            ..BearerFailure::dpop("use_dpop_nonce", "Resource server requires nonce in DPoP proof".into())
        }),
    }
}

/// `GET /oauth2/v1/apps/userinfo`
pub async fn userinfo(State(sandbox): Shared, headers: HeaderMap) -> Response {
    let target = Target { method: "GET", htu: format!("{}/oauth2/v1/apps/userinfo", sandbox.origin) };
    match validate_bearer(&sandbox, &headers, None, &target) {
        Ok(record) => {
            let family = record.family;
            let user = sandbox
                .registry()
                .refresh
                .values()
                .find(|r| r.family == family)
                .map(|r| r.grant.fhir_user.clone())
                .unwrap_or_default();
            json_response(StatusCode::OK, &json!({"sub": user, "fhirUser": user}))
        }
        Err(failure) => {
            let mut response = oauth_error(failure.status, failure.error, &failure.description);
            failure.apply(&mut response);
            response
        }
    }
}
