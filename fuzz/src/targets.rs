//! The parsers of outside input, each with valid seeds (mutated into most
//! inputs) and a dictionary of the words its format uses. A target's
//! `run` calls the parser and what reads its result, and asserts what
//! must hold for any input; a panic or a failed assertion is a finding.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};
use smart_core::authorize::{LaunchMode, PendingAuthorization};
use smart_core::callback::parse_callback;
use smart_core::config::{AppConfig, AuthorizationServerSource};
use smart_core::discovery::{AuthorizationServer, DiscoveryKind};
use smart_core::dpop::{is_nonce_challenge, resource_refused_proof};
use smart_core::fhir::display;
use smart_core::fhir::models::{self, parse_bundle, parse_resource};
use smart_core::fhir::response::{classify, retry_after_seconds};
use smart_core::fhir::summary::Section;
use smart_core::id_token::{decode_id_token, validate_claims, Expectations, Jwks};
use smart_core::launch::ehr_launch;
use smart_core::popup::{handback_message, is_handback, parse_handback};
use smart_core::route::{query_value, Route};
use smart_core::scopes::ScopeSet;
use smart_core::style::parse_style;
use smart_core::token::{TokenAnswer, TokenResponse};
use smart_core::url::HttpUrl;

/// One parser (or a family reading the same input).
pub struct Target {
    pub name: &'static str,
    /// What it covers, for the report.
    pub covers: &'static str,
    /// Valid inputs, mutated into most of the inputs.
    pub seeds: Vec<String>,
    /// Whether the seeds are JSON (then mutated as documents too).
    pub json: bool,
    pub dictionary: &'static [&'static str],
    pub run: fn(&str),
}

/// Added to the dictionary of every JSON target.
pub const JSON_WORDS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "1.5",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"x\"",
    "\"https://a.example/x\"",
    "\"../t\"",
    "\"//h\"",
    "\"http://127.attacker.example\"",
];

/// FHIR's words (JSON's own come from [`JSON_WORDS`]: the FHIR targets are JSON).
const FHIR_WORDS: &[&str] = &[
    "1e308",
    "-0",
    "\"resourceType\"",
    "\"Bundle\"",
    "\"Patient\"",
    "\"Observation\"",
    "\"entry\"",
    "\"resource\"",
    "\"link\"",
    "\"next\"",
    "\"self\"",
    "\"relation\"",
    "\"url\"",
    "\"name\"",
    "\"given\"",
    "\"family\"",
    "\"birthDate\"",
    "\"1980-02-30\"",
    "\"2024\"",
    "\"2024-13\"",
    "\"effectiveDateTime\"",
    "\"component\"",
    "\"valueQuantity\"",
    "\"value\"",
    "\"unit\"",
    "\"code\"",
    "\"coding\"",
    "\"display\"",
    "\"identifier\"",
    "\"OperationOutcome\"",
    "\"issue\"",
    "\"diagnostics\"",
    "\"interpretation\"",
    "\"referenceRange\"",
    "\"status\"",
    "\"period\"",
];

const QUERY_WORDS: &[&str] = &[
    "?",
    "&",
    "=",
    "code",
    "state",
    "error",
    "error_description",
    "error_uri",
    "iss",
    "%",
    "%zz",
    "%00",
    "+",
    "<b>",
    "/",
    "smart-sign-in-callback:",
    "https://as.example.org",
];

const URL_WORDS: &[&str] = &[
    "https://",
    "http://",
    "localhost",
    "127.0.0.1",
    "127.attacker.example",
    ":",
    ":0",
    ":65536",
    "/",
    "..",
    ".",
    "?",
    "#",
    "@",
    "[::1]",
    "[",
    "]",
    "%",
    "%2e",
    "a",
    "\\",
    " ",
    "\t",
];

const SCOPE_WORDS: &[&str] = &[
    "patient/",
    "user/",
    "system/",
    "*",
    ".",
    "rs",
    "cruds",
    "read",
    "write",
    "?",
    "=",
    " ",
    "launch",
    "launch/",
    "openid",
    "fhirUser",
    "offline_access",
    "Observation",
    "category=",
    "|",
];

const JWT_WORDS: &[&str] = &[".", "eyJ", "e30", "-", "_", "=", "eyJhbGciOiJSUzI1NiJ9", "W10", "bnVsbA", "AAAA", "=="];

const HEADER_WORDS: &[&str] = &[
    "DPoP",
    "Bearer",
    " ",
    ",",
    "=",
    "\"",
    "error",
    "use_dpop_nonce",
    "invalid_dpop_proof",
    "invalid_token",
    "realm",
    "algs",
    "ES256",
    "\\",
];

fn b64(value: &Value) -> String {
    Base64UrlUnpadded::encode_string(value.to_string().as_bytes())
}

fn fhir_base() -> HttpUrl {
    HttpUrl::parse("https://ehr.example.org/fhir").expect("a URL")
}

fn shipped_config() -> AppConfig {
    AppConfig::parse(include_str!("../../public/config.json")).expect("the shipped config.json")
}

fn smart_configuration() -> Value {
    json!({
        "issuer": "https://ehr.example.org/auth",
        "authorization_endpoint": "https://ehr.example.org/auth/authorize",
        "token_endpoint": "https://ehr.example.org/auth/token",
        "revocation_endpoint": "https://ehr.example.org/auth/revoke",
        "jwks_uri": "https://ehr.example.org/auth/jwks",
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient", "patient/*.rs", "offline_access"],
        "response_types_supported": ["code"],
        "capabilities": ["launch-ehr", "launch-standalone", "client-public", "context-ehr-patient", "permission-v2"],
        "token_endpoint_auth_methods_supported": ["none"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "authorization_response_iss_parameter_supported": true
    })
}

/// A pending record as the app stores it, for a sign-in just begun.
fn pending_record() -> String {
    let config = shipped_config();
    let server = AuthorizationServer::from_response(
        DiscoveryKind::Smart,
        &fhir_base().join_path(".well-known/smart-configuration"),
        &fhir_base(),
        200,
        &smart_configuration().to_string(),
    )
    .expect("the seed discovery document");
    let redirect = HttpUrl::parse("http://localhost:8080/callback").expect("a URL");
    let mode = LaunchMode::Ehr { launch: "abc".into() };
    let (_, pending) = PendingAuthorization::begin(&config.issuers[0], server, redirect, mode, None, 1_800_000_000)
        .expect("a pending authorization");
    pending.to_storage()
}

/// FHIR seeds from the sandbox's synthetic records: single resources, and
/// search Bundles of each kind with paging links.
fn fhir_seeds() -> Vec<String> {
    let store = smart_sandbox::data::Store::generate();
    let mut seeds = Vec::new();
    for kind in ["Patient", "Condition", "MedicationRequest", "AllergyIntolerance", "Observation", "Encounter"] {
        let all = store.all(kind);
        seeds.extend(all.iter().take(2).map(Value::to_string));
        let entries: Vec<Value> = all
            .iter()
            .take(6)
            .map(|r| json!({"fullUrl": "https://ehr.example.org/fhir/x", "resource": r, "search": {"mode": "match"}}))
            .collect();
        seeds.push(
            json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(),
                   "link": [{"relation": "self", "url": "https://ehr.example.org/fhir/x?_sort=-date"},
                            {"relation": "next", "url": "https://ehr.example.org/fhir/x?page=2"}],
                   "entry": entries})
            .to_string(),
        );
    }
    seeds.push(
        json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden",
               "details": {"text": "Not allowed"}, "diagnostics": "scope patient/Observation.rs missing"}]})
        .to_string(),
    );
    seeds
}

fn run_url(text: &str) {
    let (base, reference) = text.split_once('\n').unwrap_or((text, "../x?y#z"));
    if let Ok(url) = HttpUrl::parse(base) {
        let _ = (
            url.origin(),
            url.is_secure(),
            url.is_loopback(),
            url.same_origin(&fhir_base()),
            url.same_base(&fhir_base()),
        );
        let _ = url.resolve(reference);
        let _ = url.join_path(reference);
        let _ = url.with_query_pairs([("k", reference)]).to_string();
        assert_eq!(HttpUrl::parse(&url.to_string()).as_ref(), Ok(&url), "what parses re-parses to itself");
    }
}

fn run_callback(query: &str) {
    let _ = parse_callback(query);
    let _ = (query_value(query, "state"), Route::for_path(query, "/callback"));
    let _ = (parse_handback(query), is_handback(true, query, |state| state.len() % 2 == 0));
    assert_eq!(parse_handback(&handback_message(query)), Some(query), "a hand-back carries its query");
}

fn run_config(json: &str) {
    if let Err(error) = AppConfig::parse(json) {
        let _ = error.diagnosis();
    }
}

fn run_discovery(body: &str) {
    let base = fhir_base();
    let url = base.join_path(".well-known/smart-configuration");
    for kind in [DiscoveryKind::Smart, DiscoveryKind::OpenId] {
        if let Err(error) = AuthorizationServer::from_response(kind, &url, &base, 200, body) {
            let _ = error.diagnosis();
        }
    }
    let descope = AuthorizationServerSource::Descope {
        project_id: "P2abc".into(),
        base_url: HttpUrl::parse("https://api.descope.com").expect("a URL"),
    };
    let _ = descope.read_discovery(&base, 200, body);
}

fn run_token_response(body: &str) {
    for (status, media) in [(200, Some("application/json")), (400, None), (502, Some("text/html; charset=utf-8"))] {
        if let Err(error) = TokenResponse::from_response(TokenAnswer { status, content_type: media, body }) {
            let _ = error.diagnosis();
        }
    }
}

fn run_jwt(token: &str) {
    if let Ok(decoded) = smart_core::jwt::decode(token) {
        let _ = (decoded.alg(), decoded.kid());
    }
    if let Ok(decoded) = decode_id_token(token) {
        let expect =
            Expectations { issuer: "https://as.example.org", client_id: "app", nonce: None, now: 1_800_000_000 };
        let _ = validate_claims(&decoded.claims, &expect);
    }
}

fn run_key_set(body: &str) {
    if let Ok(set) = Jwks::parse(body) {
        let _ = (set.select(Some("k1")), set.select(None));
    }
}

fn run_scopes(text: &str) {
    let _ = ScopeSet::parse_strict(text);
    let set = ScopeSet::parse_lenient(text);
    let _ = (
        set.may_search("Observation"),
        set.may_search_patients(),
        set.missing_from(&ScopeSet::parse_lenient("patient/*.rs")),
    );
}

fn run_launch(text: &str) {
    thread_local! { static CONFIG: AppConfig = shipped_config(); }
    let (iss, launch) = text.split_once('\n').unwrap_or((text, text));
    CONFIG.with(|config| {
        let _ = ehr_launch(config, Some(iss), Some(launch));
        let _ = ehr_launch(config, Some(iss), None);
    });
}

fn run_style(body: &str) {
    let _ = parse_style(body);
}

fn run_pending_record(json: &str) {
    if let Err(error) = PendingAuthorization::from_storage(json) {
        let _ = error.diagnosis();
    }
}

fn run_fhir(body: &str) {
    if let Ok(patient) = parse_resource::<models::Patient>(body) {
        let _ = (display::patient_name(&patient), display::banner_identifier(&patient));
        if let Some(birth) = &patient.birth_date {
            let _ = display::age_in_years(birth, (2026, 12, 2));
        }
    }
    if let Ok(page) = parse_bundle::<models::Observation>(body) {
        for observation in &page.items {
            let _ = (display::observation_value(observation), display::observation_time(observation));
        }
    }
    for section in Section::ALL {
        if let Ok(page) = section.rows(body, None) {
            let _ = section.finish(page.items);
        }
    }
}

fn run_outcome(body: &str) {
    let _ = models::outcome_text(body);
    for status in [200, 401, 403, 404, 429, 500, 503] {
        let _ = classify("https://ehr.example.org/fhir/Patient", status, body, Some(body));
    }
}

fn run_challenge(header: &str) {
    let _ = (is_nonce_challenge(400, header, Some(header)), is_nonce_challenge(401, "", Some(header)));
    let _ = (resource_refused_proof(401, Some(header)), retry_after_seconds(Some(header)));
}

/// Every target, with its seeds made.
pub fn all() -> Vec<Target> {
    let id_token =
        |claims: Value| format!("{}.{}.c2ln", b64(&json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})), b64(&claims));
    let modulus = "u".repeat(342);
    vec![
        Target {
            name: "url",
            covers: "HttpUrl::parse, resolve, join_path, with_query_pairs, origin",
            seeds: ["https://ehr.example.org:8443/fhir/R4?x=1#f\n../Patient/1", "http://localhost:8080/callback\n//other/x", "http://[::1]:9/a/b/../c\n?q", "https://Ex.Org/%7Ea\nhttps://x.org/y"].map(String::from).to_vec(),
            json: false,
            dictionary: URL_WORDS,
            run: run_url,
        },
        Target {
            name: "callback",
            covers: "parse_callback, query_value, Route::for_path, popup hand-back",
            seeds: ["code=abc&state=xyz&iss=https%3A%2F%2Fas.example.org", "error=access_denied&error_description=The+user+said+no&error_uri=https%3A%2F%2Fas%2Fdoc&state=xyz", "/callback?code=a+b%20c&state=s"].map(String::from).to_vec(),
            json: false,
            dictionary: QUERY_WORDS,
            run: run_callback,
        },
        Target {
            name: "config",
            covers: "AppConfig::parse (config.json)",
            seeds: vec![include_str!("../../public/config.json").into(), include_str!("../../deploy/examples/config.json").into()],
            json: true,
            dictionary: &["\"issuers\"", "\"id\"", "\"fhir_base_url\"", "\"authorization_server\"", "\"type\"", "\"descope\"", "\"smart\"", "\"openid\"", "\"project_id\"", "\"client_id\"", "\"dpop\"", "\"required\"", "\"redirect_path\"", "\"request_timeout_seconds\""],
            run: run_config,
        },
        Target {
            name: "discovery",
            covers: "SMART and OpenID discovery, Descope's Inbound App document",
            seeds: vec![
                smart_configuration().to_string(),
                json!({"issuer": "https://api.descope.com/v1/apps/P2abc", "authorization_endpoint": "https://api.descope.com/oauth2/v1/apps/authorize", "token_endpoint": "https://api.descope.com/oauth2/v1/apps/token", "jwks_uri": "https://api.descope.com/P2abc/.well-known/jwks.json", "code_challenge_methods_supported": ["S256"], "response_types_supported": ["code"]}).to_string(),
            ],
            json: true,
            dictionary: &["\"issuer\"", "\"authorization_endpoint\"", "\"token_endpoint\"", "\"jwks_uri\"", "\"code_challenge_methods_supported\"", "\"S256\"", "\"plain\"", "\"capabilities\"", "\"dpop_signing_alg_values_supported\"", "\"authorization_response_iss_parameter_supported\"", "\"https://api.descope.com/v1/apps/P2abc\""],
            run: run_discovery,
        },
        Target {
            name: "token_response",
            covers: "TokenResponse::from_response (JSON, OAuth errors, non-JSON answers)",
            seeds: vec![
                json!({"access_token": id_token(json!({"patient": "p1", "scope": "launch patient/*.rs", "aud": "https://ehr.example.org/fhir"})), "token_type": "Bearer", "expires_in": 3600, "scope": "launch openid patient/*.rs", "refresh_token": "rt-1", "id_token": "a.b.c", "patient": "p1", "encounter": "e1", "need_patient_banner": true, "smart_style_url": "https://ehr.example.org/style.json", "fhirContext": [{"reference": "Encounter/e1"}, {"canonical": "http://x/Q|1", "role": "launch"}]}).to_string(),
                json!({"error": "invalid_grant", "error_description": "code used", "error_uri": "https://as/doc"}).to_string(),
                "access_token=abcdefghijklmnopqrstuvwxyz&token_type=bearer".into(),
            ],
            json: true,
            dictionary: &["\"access_token\"", "\"token_type\"", "\"DPoP\"", "\"Bearer\"", "\"expires_in\"", "\"scope\"", "\"patient\"", "\"need_patient_banner\"", "\"fhirContext\"", "\"id_token\"", "\"refresh_token\"", "\"error\"", "\"error_uri\"", "<html>"],
            run: run_token_response,
        },
        Target {
            name: "jwt",
            covers: "jwt::decode, decode_id_token, validate_claims",
            seeds: vec![
                id_token(json!({"iss": "https://as.example.org", "aud": ["app", "x"], "azp": "app", "exp": 1_800_000_300u64, "iat": 1_800_000_000u64, "sub": "u", "fhirUser": "Practitioner/1"})),
                format!("{}.{}.", b64(&json!({"alg": "none", "crit": ["exp"]})), b64(&json!({"exp": "soon"}))),
            ],
            json: false,
            dictionary: JWT_WORDS,
            run: run_jwt,
        },
        Target {
            name: "key_set",
            covers: "Jwks::parse, select",
            seeds: vec![json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": modulus, "e": "AQAB"}, {"kty": "EC", "kid": "k2", "crv": "P-256", "x": "AA", "y": "AA"}]}).to_string()],
            json: true,
            dictionary: &["\"keys\"", "\"kty\"", "\"RSA\"", "\"kid\"", "\"k1\"", "\"n\"", "\"e\"", "\"AQAB\"", "\"use\"", "\"enc\"", "\"alg\"", "\"RS512\""],
            run: run_key_set,
        },
        Target {
            name: "scopes",
            covers: "ScopeSet::parse_strict, parse_lenient, access rules",
            seeds: ["launch openid fhirUser patient/*.rs offline_access", "user/Observation.rs?category=laboratory patient/Condition.read system/*.cruds", "launch/patient patient/Patient.r"].map(String::from).to_vec(),
            json: false,
            dictionary: SCOPE_WORDS,
            run: run_scopes,
        },
        Target {
            name: "launch",
            covers: "ehr_launch (iss and launch parameters against config.json)",
            seeds: ["http://localhost:8090/fhir\nlaunch-123", "http://localhost:8090/smart/fhir/\nxyz", "https://unknown.example/fhir\n"].map(String::from).to_vec(),
            json: false,
            dictionary: URL_WORDS,
            run: run_launch,
        },
        Target {
            name: "style",
            covers: "parse_style (smart_style_url documents)",
            seeds: vec![json!({"color_background": "#edeae3", "color_error": "#9e2d2d", "color_highlight": "#69b5ce", "color_modal_backdrop": "", "color_success": "#498e49", "color_text": "#303030", "dim_border_radius": "6px", "dim_font_size": "13px", "dim_spacing_size": "20px", "font_family_body": "Georgia, Times, 'Times New Roman', serif", "font_family_heading": "\"HelveticaNeue-Light\", Helvetica, Arial, sans-serif"}).to_string()],
            json: true,
            dictionary: &["\"color_background\"", "\"dim_font_size\"", "\"font_family_body\"", "\"#fff\"", "\"rgb(1,2,3)\"", "\"12px\"", "\"1.5em\"", "\"red;}\"", "\"url(x)\"", "\"expression(\""],
            run: run_style,
        },
        Target {
            name: "pending_record",
            covers: "PendingAuthorization::from_storage (sessionStorage, read back after the redirect)",
            seeds: vec![pending_record()],
            json: true,
            dictionary: &["\"version\"", "\"state\"", "\"verifier\"", "\"nonce\"", "\"server\"", "\"kind\"", "\"smart\"", "\"openid\"", "\"dpop\"", "\"preferred\"", "\"created_at\"", "\"document\""],
            run: run_pending_record,
        },
        Target {
            name: "fhir",
            covers: "FHIR Bundles and resources: parse_bundle, parse_resource, every summary section's rows, display rules",
            seeds: fhir_seeds(),
            json: true,
            dictionary: FHIR_WORDS,
            run: run_fhir,
        },
        Target {
            name: "operation_outcome",
            covers: "outcome_text, classify (FHIR error answers)",
            seeds: fhir_seeds().into_iter().filter(|s| s.contains("OperationOutcome")).collect(),
            json: true,
            dictionary: FHIR_WORDS,
            run: run_outcome,
        },
        Target {
            name: "challenge",
            covers: "WWW-Authenticate and Retry-After headers (DPoP nonce challenges, refused proofs)",
            seeds: [r#"DPoP error="use_dpop_nonce", error_description="nonce required""#, r#"DPoP realm="x", algs="ES256", error="invalid_dpop_proof""#, r#"Bearer error="invalid_token""#, "120"].map(String::from).to_vec(),
            json: false,
            dictionary: HEADER_WORDS,
            run: run_challenge,
        },
    ]
}
