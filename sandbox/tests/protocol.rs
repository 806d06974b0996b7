//! The sandbox's rules, checked over HTTP with no browser: each test
//! breaks one rule and expects the refusal a real server would give.

use std::collections::HashMap;

use serde_json::{json, Value};
use smart_core::secret::PkceVerifier;
use smart_sandbox::{start, Options, Running};
use smart_test_support::{http, Reply};

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

fn query_of(location: &str) -> HashMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

const APP: &str = "http://localhost:18080/";
const REDIRECT: &str = "http://localhost:18080/callback";
const CLIENT: &str = "smart-app-local";

async fn sandbox() -> Running {
    start(Options {
        port: 0,
        foreign_port: 0,
        app_urls: vec![APP.into()],
        other_redirect_uris: Vec::new(),
        app_dir: None,
        app_port: 0,
    })
    .await
    .expect("start the sandbox")
}

struct Env {
    running: Running,
}

impl Env {
    async fn new() -> Env {
        Env { running: sandbox().await }
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.sandbox.origin)
    }
    fn fhir(&self, base: &str) -> String {
        self.url(base)
    }
    fn launch(&self, settings: Value) -> String {
        let reply =
            http("POST", &self.url("/sandbox/launch"), &[("Content-Type", "application/json")], &settings.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["launch"].as_str().unwrap().to_string()
    }
    fn faults(&self, faults: Value) {
        let reply =
            http("POST", &self.url("/sandbox/faults"), &[("Content-Type", "application/json")], &faults.to_string());
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    /// GET authorize with defaults overridden by `overrides` (empty value = omit).
    fn authorize(&self, overrides: &[(&str, &str)], verifier: &PkceVerifier) -> Reply {
        let challenge = verifier.challenge();
        let aud = self.fhir("/fhir");
        let mut params: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", CLIENT.into()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "launch/patient openid fhirUser patient/*.rs offline_access".into()),
            ("state", "st-1".into()),
            ("aud", aud),
            ("code_challenge", challenge.as_str().into()),
            ("code_challenge_method", "S256".into()),
            ("nonce", "n-1".into()),
        ];
        for (k, v) in overrides {
            params.retain(|(key, _)| key != k);
            if !v.is_empty() {
                params.push((k, v.to_string()));
            }
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        http("GET", &format!("{}?{}", self.url("/oauth2/v1/apps/authorize"), form(&pairs)), &[], "")
    }
    /// Runs authorize (auto-approved) and returns the code.
    fn code(&self, overrides: &[(&str, &str)], verifier: &PkceVerifier) -> String {
        let reply = self.authorize(overrides, verifier);
        assert_eq!(reply.status, 302, "{}", reply.body);
        let q = query_of(reply.header("location").unwrap());
        assert_eq!(q.get("state").map(String::as_str), Some("st-1"), "state echoed");
        q.get("code").unwrap_or_else(|| panic!("no code: {q:?}")).clone()
    }
    /// The consent id a consent page carries.
    fn consent_id(page: &Reply) -> String {
        page.body
            .split("name=\"consent\" value=\"")
            .nth(1)
            .expect("a consent form")
            .split('"')
            .next()
            .unwrap()
            .to_string()
    }
    /// Answers a consent page (`approve` or `deny`), choosing `patient`.
    fn answer(&self, consent: &str, decision: &str, patient: &str) -> Reply {
        http(
            "POST",
            &self.url("/oauth2/v1/apps/consent"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(&[("consent", consent), ("decision", decision), ("patient", patient)]),
        )
    }
    fn exchange(&self, code: &str, verifier: &str) -> Reply {
        http(
            "POST",
            &self.url("/oauth2/v1/apps/token"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT),
                ("code_verifier", verifier),
            ]),
        )
    }
    fn refresh(&self, token: &str) -> Reply {
        http(
            "POST",
            &self.url("/oauth2/v1/apps/token"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(&[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", CLIENT)]),
        )
    }
    fn get(&self, path: &str, token: &str) -> Reply {
        http(
            "GET",
            &self.url(path),
            &[("Authorization", &format!("Bearer {token}")), ("Accept", "application/fhir+json")],
            "",
        )
    }
    /// A full standalone sign-in (auto-approved): the token response.
    fn sign_in(&self, overrides: &[(&str, &str)]) -> Value {
        let verifier = PkceVerifier::new_random().unwrap();
        let code = self.code(overrides, &verifier);
        let reply = self.exchange(&code, verifier.secret());
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn auto_env() -> Env {
    let env = Env::new().await;
    env.faults(json!({"auto_approve_standalone": true}));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkce_is_required_and_checked() {
    let env = auto_env().await;
    let verifier = PkceVerifier::new_random().unwrap();
    // No challenge: refused at authorize.
    let reply = env.authorize(&[("code_challenge", "")], &verifier);
    assert_eq!(query_of(reply.header("location").unwrap())["error"], "invalid_request");
    let reply = env.authorize(&[("code_challenge_method", "plain")], &verifier);
    assert_eq!(query_of(reply.header("location").unwrap())["error"], "invalid_request");
    // Wrong and missing verifier: invalid_grant.
    let code = env.code(&[], &verifier);
    let wrong = PkceVerifier::new_random().unwrap();
    let reply = env.exchange(&code, wrong.secret());
    assert_eq!((reply.status, reply.json()["error"].as_str()), (400, Some("invalid_grant")));
    let code = env.code(&[], &verifier);
    let reply = env.exchange(&code, "");
    assert_eq!(reply.json()["error"], "invalid_grant");
    // A client secret is refused: this is a public client.
    let code = env.code(&[], &verifier);
    let reply = http(
        "POST",
        &env.url("/oauth2/v1/apps/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT),
            ("code_verifier", verifier.secret()),
            ("client_secret", "x"),
        ]),
    );
    assert_eq!(reply.json()["error"], "invalid_client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_refuses_bad_clients_redirects_scopes_and_audiences() {
    let env = auto_env().await;
    let verifier = PkceVerifier::new_random().unwrap();
    // Unknown client or unregistered redirect: an error page, never a redirect.
    for overrides in [[("client_id", "someone")], [("redirect_uri", "http://localhost:18080/evil")]] {
        let reply = env.authorize(&overrides, &verifier);
        assert_eq!(reply.status, 400);
        assert!(reply.header("location").is_none());
    }
    let reply = env.authorize(&[("aud", "http://localhost:1/fhir")], &verifier);
    let q = query_of(reply.header("location").unwrap());
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("aud"));
    assert_eq!(q["state"], "st-1");
    for scope in ["openid patient/*.rs unknown_scope", "system/*.rs", "patient/Observation.sr"] {
        let reply = env.authorize(&[("scope", scope)], &verifier);
        assert_eq!(query_of(reply.header("location").unwrap())["error"], "invalid_scope", "{scope}");
    }
    let reply = env.authorize(&[("response_type", "token")], &verifier);
    assert_eq!(query_of(reply.header("location").unwrap())["error"], "unsupported_response_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_page_and_deny() {
    let env = Env::new().await; // consent is not automatic
    let verifier = PkceVerifier::new_random().unwrap();
    let page = env.authorize(&[], &verifier);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Approve") && page.body.contains("Deny"));
    // Names with markup are escaped on the sandbox's own pages.
    assert!(page.body.contains("&lt;b&gt;Tables&lt;/b&gt;") && !page.body.contains("<b>Tables</b>"));
    let consent = Env::consent_id(&page);
    let deny = env.answer(&consent, "deny", "");
    let q = query_of(deny.header("location").unwrap());
    assert_eq!((q["error"].as_str(), q["state"].as_str()), ("access_denied", "st-1"));
    // The answered consent cannot be answered again.
    let again = env.answer(&consent, "approve", "p004");
    assert_eq!(again.status, 400);
    // Approving a fresh one as patient p004 gives that patient.
    let page = env.authorize(&[], &verifier);
    let consent = Env::consent_id(&page);
    let approve = env.answer(&consent, "approve", "p004");
    let code = query_of(approve.header("location").unwrap())["code"].clone();
    let token = env.exchange(&code, verifier.secret()).json();
    assert_eq!(claims(token["access_token"].as_str().unwrap())["patient"], "p004");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_single_use_and_reuse_revokes_their_tokens() {
    let env = auto_env().await;
    let verifier = PkceVerifier::new_random().unwrap();
    let code = env.code(&[], &verifier);
    let first = env.exchange(&code, verifier.secret());
    assert_eq!(first.status, 200);
    let access = first.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(env.get("/fhir/Patient/p003", &access).status, 200);
    let second = env.exchange(&code, verifier.secret());
    assert_eq!(second.json()["error"], "invalid_grant");
    let after = env.get("/fhir/Patient/p003", &access);
    assert_eq!(after.status, 401, "tokens from a reused code are revoked");
    assert!(after.header("www-authenticate").unwrap().contains("invalid_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ehr_launch_values_are_single_use_and_bound_to_their_server() {
    let env = Env::new().await;
    let verifier = PkceVerifier::new_random().unwrap();
    let launch = env.launch(json!({"patient": "p005", "auto_approve": true}));
    let ehr_scope = [("scope", "launch openid fhirUser patient/*.rs"), ("launch", launch.as_str())];
    let code = env.code(&ehr_scope, &verifier);
    let token = env.exchange(&code, verifier.secret()).json();
    let access = claims(token["access_token"].as_str().unwrap());
    assert_eq!(access["patient"], "p005");
    assert_eq!(access["encounter"], "", "no encounter: Descope renders an empty string");
    let reuse = env.authorize(&ehr_scope, &verifier);
    assert_eq!(query_of(reuse.header("location").unwrap())["error"], "invalid_request");
    // Asked again before the user answered (a sign-in window closed on the
    // consent page): still usable; answered, it is used up.
    let pending = env.launch(json!({"patient": "p005"}));
    let pending_scope = [("scope", "launch openid fhirUser patient/*.rs"), ("launch", pending.as_str())];
    assert_eq!(env.authorize(&pending_scope, &verifier).status, 200, "the consent page");
    let again = env.authorize(&pending_scope, &verifier);
    assert_eq!(again.status, 200, "a second consent page for an unanswered launch");
    env.answer(&Env::consent_id(&again), "deny", "");
    let used = env.authorize(&pending_scope, &verifier);
    assert_eq!(query_of(used.header("location").unwrap())["error"], "invalid_request");
    let unknown = env.authorize(&[("scope", "launch patient/*.rs"), ("launch", "made-up")], &verifier);
    assert_eq!(query_of(unknown.header("location").unwrap())["error"], "invalid_request");
    let missing = env.authorize(&[("scope", "launch patient/*.rs")], &verifier);
    assert_eq!(query_of(missing.header("location").unwrap())["error"], "invalid_request");
    // A launch for /smart/fhir cannot be redeemed with aud=/fhir.
    let smart = env.launch(json!({"patient": "p005", "base": "smart", "auto_approve": true}));
    let crossed = env.authorize(&[("scope", "launch patient/*.rs"), ("launch", smart.as_str())], &verifier);
    assert_eq!(query_of(crossed.header("location").unwrap())["error"], "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_goes_to_claims_or_to_the_token_response() {
    let env = Env::new().await;
    let verifier = PkceVerifier::new_random().unwrap();
    let smart_aud = env.fhir("/smart/fhir");
    for (base, aud, in_claims, in_response) in
        [("descope", env.fhir("/fhir"), true, false), ("smart", smart_aud.clone(), false, true)]
    {
        let launch = env.launch(json!({"patient": "p006", "encounter": "current", "base": base, "auto_approve": true, "need_patient_banner": false}));
        let code = env.code(
            &[("scope", "launch openid patient/*.rs"), ("launch", launch.as_str()), ("aud", aud.as_str())],
            &verifier,
        );
        let token = env.exchange(&code, verifier.secret()).json();
        let access = claims(token["access_token"].as_str().unwrap());
        assert_eq!(access["aud"], aud.as_str());
        assert_eq!(access.get("patient").is_some(), in_claims, "{base}: {access}");
        assert_eq!(token.get("patient").is_some(), in_response, "{base}: {token}");
        let context = if in_claims { &access } else { &token };
        assert_eq!(context["patient"], "p006");
        assert_eq!(context["encounter"], "p006-enc-current");
        assert_eq!(context["need_patient_banner"], false);
        assert!(context["smart_style_url"].as_str().unwrap().ends_with("/ehr/smart-style.json"));
    }
    let launch = env.launch(json!({"patient": "p007", "context": "both", "auto_approve": true}));
    let code = env.code(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    let token = env.exchange(&code, verifier.secret()).json();
    assert_eq!(token["patient"], "p007");
    assert_eq!(claims(token["access_token"].as_str().unwrap())["patient"], "p007");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_token_carries_nonce_audience_and_fhir_user_and_verifies() {
    let env = auto_env().await;
    let token = env.sign_in(&[]);
    let id = token["id_token"].as_str().unwrap();
    let c = claims(id);
    assert_eq!(c["nonce"], "n-1");
    assert_eq!(c["aud"], CLIENT);
    assert_eq!(c["iss"], env.running.sandbox.issuer());
    assert!(c["fhirUser"].as_str().unwrap().ends_with("/fhir/Patient/p003"));
    assert!(env.running.sandbox.keys.verify(id).is_some());
    let jwks = http("GET", &env.url("/P2SANDBOX/.well-known/jwks.json"), &[], "").json();
    let header: Value = {
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id.split('.').next().unwrap()).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let env = auto_env().await;
    let token = env.sign_in(&[]);
    let rt1 = token["refresh_token"].as_str().unwrap().to_string();
    let second = env.refresh(&rt1);
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.json();
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "rotated");
    let at2 = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(env.get("/fhir/Patient/p003", &at2).status, 200);
    // Reusing the old one revokes the whole family.
    assert_eq!(env.refresh(&rt1).json()["error"], "invalid_grant");
    assert_eq!(env.get("/fhir/Patient/p003", &at2).status, 401);
    assert_eq!(env.refresh(&rt2).json()["error"], "invalid_grant");
    // No refresh token without offline_access/online_access.
    let token = env.sign_in(&[("scope", "launch/patient patient/*.rs")]);
    assert!(token.get("refresh_token").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_the_session() {
    let env = auto_env().await;
    let token = env.sign_in(&[]);
    let rt = token["refresh_token"].as_str().unwrap();
    let at = token["access_token"].as_str().unwrap();
    let reply = http(
        "POST",
        &env.url("/oauth2/v1/apps/revoke"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("token", rt), ("token_type_hint", "refresh_token"), ("client_id", CLIENT)]),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(env.refresh(rt).json()["error"], "invalid_grant");
    assert_eq!(env.get("/fhir/Patient/p003", at).status, 401);
    let userinfo = http("GET", &env.url("/oauth2/v1/apps/userinfo"), &[("Authorization", &format!("Bearer {at}"))], "");
    assert_eq!(userinfo.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_enforces_bearer_audience_scope_and_compartment() {
    let env = auto_env().await;
    assert_eq!(http("GET", &env.url("/fhir/Patient/p003"), &[], "").status, 401);
    let token = env.sign_in(&[("scope", "launch/patient patient/Patient.rs patient/Condition.rs")]);
    let at = token["access_token"].as_str().unwrap();
    assert_eq!(env.get("/fhir/Patient/p003", at).status, 200);
    let other = env.get("/fhir/Patient/p004", at);
    assert_eq!(other.status, 403, "outside the compartment");
    assert_eq!(other.json()["resourceType"], "OperationOutcome");
    assert_eq!(env.get("/fhir/Condition?patient=p004", at).status, 403);
    let own = env.get("/fhir/Condition?patient=p003", at).json();
    assert!(own["entry"].as_array().unwrap().iter().all(|e| e["resource"]["subject"]["reference"] == "Patient/p003"));
    let not_granted = env.get("/fhir/Observation?patient=p003", at);
    assert_eq!(not_granted.status, 403);
    assert!(not_granted.body.contains("do not allow"));
    // A token for /fhir is refused at /smart/fhir (aud).
    let wrong_aud = env.get("/smart/fhir/Patient/p003", at);
    assert_eq!(wrong_aud.status, 401);
    assert!(wrong_aud.header("www-authenticate").unwrap().contains("aud"));
    // The audience-mismatch injection makes the FHIR server refuse with 401.
    let launch = env.launch(json!({"patient": "p003", "auto_approve": true, "inject": "audience-mismatch"}));
    let verifier = PkceVerifier::new_random().unwrap();
    let code = env.code(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    let token = env.exchange(&code, verifier.secret()).json();
    assert_eq!(env.get("/fhir/Patient/p003", token["access_token"].as_str().unwrap()).status, 401);
    // User-level scopes reach every patient (a clinician's view).
    let launch = env.launch(json!({"patient": "p003", "auto_approve": true}));
    let code = env.code(&[("scope", "launch user/*.rs"), ("launch", launch.as_str())], &verifier);
    let token = env.exchange(&code, verifier.secret()).json();
    let found = env.get("/fhir/Patient?name=zo%C3%AB", token["access_token"].as_str().unwrap()).json();
    assert_eq!(found["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_sorts_and_filters() {
    let env = auto_env().await;
    let token = env.sign_in(&[]);
    let at = token["access_token"].as_str().unwrap().to_string();
    let env_ref = &env;
    let first = env.get("/fhir/Observation?patient=p003&category=vital-signs&_count=10&_sort=-date", &at).json();
    assert_eq!(first["entry"].as_array().unwrap().len(), 10);
    let dates: Vec<&str> = first["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["effectiveDateTime"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "sorted newest first");
    let next = first["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.starts_with(&env.running.sandbox.origin));
    let path = next.strip_prefix(&env_ref.running.sandbox.origin).unwrap();
    let second = env.get(path, &at).json();
    assert_ne!(second["entry"][0]["resource"]["id"], first["entry"][0]["resource"]["id"]);
    let hr = env.get("/fhir/Observation?patient=p003&code=http://loinc.org|8867-4", &at).json();
    assert!(hr["entry"].as_array().unwrap().iter().all(|e| e["resource"]["code"]["coding"][0]["code"] == "8867-4"));
    let recent = env.get("/fhir/Observation?patient=p003&date=ge2026-01-01", &at).json();
    assert!(recent["entry"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["resource"]["effectiveDateTime"].as_str().unwrap() >= "2026-01-01"));
    let missing = env.get("/fhir/Condition/nope", &at);
    assert_eq!((missing.status, missing.json()["resourceType"].as_str()), (404, Some("OperationOutcome")));
    let metadata = http("GET", &env.url("/fhir/metadata"), &[], "").json();
    assert_eq!(metadata["resourceType"], "CapabilityStatement");
    let smart = http("GET", &env.url("/smart/fhir/.well-known/smart-configuration"), &[], "");
    assert_eq!(smart.json()["code_challenge_methods_supported"], json!(["S256"]));
    // Discovery documents may be cached by browsers, as real servers allow.
    assert_eq!(smart.header("cache-control"), Some("public, max-age=300"));
    let openid = http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"), &[], "");
    assert_eq!(openid.header("cache-control"), Some("public, max-age=300"));
}

/// The link of `relation` in a search Bundle.
fn link_of(bundle: &Value, relation: &str) -> String {
    let links = bundle["link"].as_array().unwrap();
    links.iter().find(|l| l["relation"] == relation).map(|l| l["url"].as_str().unwrap().to_string()).unwrap_or_default()
}

fn effective_dates(bundle: &Value) -> Vec<String> {
    let entries = bundle["entry"].as_array().unwrap();
    entries.iter().map(|e| e["resource"]["effectiveDateTime"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shapes_ignore_the_sort_cap_pages_omit_the_total_and_shuffle() {
    let env = auto_env().await;
    let at = env.sign_in(&[])["access_token"].as_str().unwrap().to_string();
    let search = "/fhir/Observation?patient=p003&category=vital-signs&_sort=-date&_count=200&_elements=id";
    // The default shape: the self link names what was applied.
    let sorted = env.get(search, &at).json();
    let self_link = link_of(&sorted, "self");
    assert!(self_link.contains("_sort=-date") && self_link.contains("_count=200"), "{self_link}");
    assert!(!self_link.contains("_elements"), "a parameter it does not apply is not named: {self_link}");
    assert!(sorted["total"].as_u64().unwrap() > 0);
    // Sort ignored, pages capped, no total: oldest first, and the self link says so.
    env.faults(json!({"ignore_sort": true, "page_size": 7, "omit_total": true}));
    let shaped = env.get(search, &at).json();
    let dates = effective_dates(&shaped);
    assert_eq!(dates.len(), 7);
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "oldest first: {dates:?}");
    let self_link = link_of(&shaped, "self");
    assert!(!self_link.contains("_sort") && self_link.contains("_count=7"), "{self_link}");
    assert!(shaped.get("total").is_none());
    env.faults(json!({"omit_self_link": true, "page_size": 7}));
    let unlinked = env.get(search, &at).json();
    assert_eq!(link_of(&unlinked, "self"), "", "no self link");
    assert!(!link_of(&unlinked, "next").is_empty(), "the next link stays");
    assert!(!link_of(&shaped, "next").is_empty());
    // Shuffled: the same entries, another order, the same order each time.
    env.faults(json!({"page_size": 30, "shuffle": true}));
    let shuffled = effective_dates(&env.get(search, &at).json());
    env.faults(json!({"page_size": 30}));
    let plain = effective_dates(&env.get(search, &at).json());
    env.faults(json!({"page_size": 30, "shuffle": true}));
    assert_eq!(effective_dates(&env.get(search, &at).json()), shuffled, "shuffled the same way again");
    assert_ne!(shuffled, plain);
    let (mut a, mut b) = (shuffled.clone(), plain.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same entries");
    // A sort's cost: a sorted page waits for it, an unsorted one does not.
    env.faults(json!({"sort_cost_ms": 400}));
    let timed = |path: &str| {
        let started = std::time::Instant::now();
        assert_eq!(env.get(path, &at).status, 200);
        started.elapsed()
    };
    assert!(timed(search) >= std::time::Duration::from_millis(400), "a sorted page");
    let unsorted = search.replace("&_sort=-date", "");
    assert!(timed(&unsorted) < std::time::Duration::from_millis(400), "an unsorted page");
    env.faults(json!({"sort_cost_ms": 400, "ignore_sort": true}));
    assert!(timed(search) < std::time::Duration::from_millis(400), "a sort the server ignored costs nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blood_pressure_is_served_in_the_form_the_switch_names() {
    let env = auto_env().await;
    let at = env.sign_in(&[])["access_token"].as_str().unwrap().to_string();
    let search = "/fhir/Observation?patient=p003&code=85354-9&_count=5";
    let first = |faults: Value| {
        env.faults(faults);
        env.get(search, &at).json()["entry"][0]["resource"].clone()
    };
    let stored = first(json!({}));
    assert!(stored["component"][0]["interpretation"].is_array() && stored.get("interpretation").is_none());
    let panel = first(json!({"pressure_form": "panel"}));
    assert!(panel["interpretation"][0]["coding"][0]["code"].is_string());
    assert!(panel["component"][0].get("interpretation").is_none());
    let ranged = first(json!({"pressure_form": "ranges"}));
    assert_eq!(ranged["component"][0]["referenceRange"][0]["high"]["value"], 139.0);
    assert!(ranged.get("interpretation").is_none() && ranged["component"][0].get("interpretation").is_none());
    // A read is served the same way.
    let id = ranged["id"].as_str().unwrap();
    assert!(env.get(&format!("/fhir/Observation/{id}"), &at).json()["component"][1]["referenceRange"].is_array());
    let home = http("GET", &env.url("/ehr"), &[], "");
    assert!(home.body.contains("name=\"pressure_form\""), "the EHR simulator's form has the switch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labs_reference_range_is_served_in_the_form_the_switch_names() {
    let env = auto_env().await;
    let at = env.sign_in(&[])["access_token"].as_str().unwrap().to_string();
    let search = "/fhir/Observation?patient=p003&category=laboratory&_count=5";
    let first = |faults: Value| {
        env.faults(faults);
        env.get(search, &at).json()["entry"][0]["resource"].clone()
    };
    let stored = first(json!({}));
    assert_eq!(stored["referenceRange"].as_array().map(Vec::len), Some(1));
    let per_sex = first(json!({"lab_ranges": "per-sex"}));
    assert_eq!(per_sex["referenceRange"][1]["appliesTo"][0]["coding"][0]["display"], "Female");
    let by_age = first(json!({"lab_ranges": "by-age"}));
    assert_eq!(by_age["referenceRange"][1]["age"]["high"]["unit"], "a");
    let treated = first(json!({"lab_ranges": "with-treatment"}));
    assert_eq!(treated["referenceRange"][1]["type"]["coding"][0]["code"], "treatment");
    let treatment_only = first(json!({"lab_ranges": "treatment-only"}));
    assert_eq!(treatment_only["referenceRange"].as_array().map(Vec::len), Some(1));
    assert_eq!(treatment_only["referenceRange"][0]["type"]["coding"][0]["code"], "treatment");
    // A read is served the same way.
    env.faults(json!({"lab_ranges": "per-sex-differing"}));
    let id = stored["id"].as_str().unwrap();
    let read = env.get(&format!("/fhir/Observation/{id}"), &at).json();
    assert_ne!(read["referenceRange"][0], read["referenceRange"][1]);
    let home = http("GET", &env.url("/ehr"), &[], "");
    assert!(home.body.contains("name=\"lab_ranges\""), "the EHR simulator's form has the switch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descopes_layout_inbound_app_metadata_and_the_federated_provider_beside_it() {
    let env = auto_env().await;
    let o = env.running.sandbox.origin.clone();
    let inbound = http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"), &[], "").json();
    assert_eq!(inbound["issuer"], format!("{o}/v1/apps/P2SANDBOX"));
    assert_eq!(inbound["issuer"], env.running.sandbox.issuer());
    assert_eq!(inbound["authorization_endpoint"], format!("{o}/oauth2/v1/apps/authorize"));
    assert_eq!(inbound["token_endpoint"], format!("{o}/oauth2/v1/apps/token"));
    assert_eq!(inbound["jwks_uri"], format!("{o}/P2SANDBOX/.well-known/jwks.json"));
    let rfc8414 = http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/oauth-authorization-server"), &[], "").json();
    assert_eq!(rfc8414, inbound);
    let federated = http("GET", &env.url("/P2SANDBOX/.well-known/openid-configuration"), &[], "").json();
    assert_eq!(federated["issuer"], format!("{o}/P2SANDBOX"));
    assert_eq!(federated["authorization_endpoint"], format!("{o}/oauth2/v1/authorize"));
    assert_eq!(federated["jwks_uri"], inbound["jwks_uri"]);
    // The federated provider does not know the inbound app's client: a JSON
    // error, never a redirect to the redirect URI.
    let authorize = http(
        "GET",
        &format!(
            "{o}/oauth2/v1/authorize?{}",
            form(&[("response_type", "code"), ("client_id", CLIENT), ("redirect_uri", REDIRECT), ("state", "s")])
        ),
        &[],
        "",
    );
    assert_eq!(authorize.status, 400, "{}", authorize.body);
    assert_eq!(authorize.header("location"), None);
    assert_eq!(authorize.json()["error"], "invalid_client");
    let token = http(
        "POST",
        &format!("{o}/oauth2/v1/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "grant_type=authorization_code",
    );
    assert_eq!((token.status, token.json()["error"].as_str()), (400, Some("invalid_client")));
    // The switch that makes the inbound app's address serve the federated document.
    env.faults(json!({"auto_approve_standalone": true, "federated_metadata": true}));
    let misrouted = http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"), &[], "").json();
    assert_eq!(misrouted, federated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn descope_failure_modes_a_deployment_meets() {
    let env = auto_env().await;
    let verifier = PkceVerifier::new_random().unwrap();
    // No aud in the JWT template: Descope puts the project id there, and the FHIR server refuses it.
    let launch = env.launch(json!({"patient": "p007", "auto_approve": true, "inject": "audience-project-id"}));
    let code = env.code(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    let at = env.exchange(&code, verifier.secret()).json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&at)["aud"], "P2SANDBOX");
    assert_eq!(env.get("/fhir/Patient/p007", &at).status, 401);
    // A confidential client must authenticate; the code stays unused.
    let launch = env.launch(json!({"patient": "p007", "auto_approve": true, "inject": "confidential-client"}));
    let code = env.code(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    let refused = env.exchange(&code, verifier.secret());
    assert_eq!((refused.status, refused.json()["error"].as_str()), (401, Some("invalid_client")));
    // DPoP required though not advertised: a token request without a proof is refused (RFC 9449 §5).
    env.faults(json!({"auto_approve_standalone": true, "dpop": "required-unadvertised"}));
    let metadata = http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"), &[], "").json();
    assert!(metadata.get("dpop_signing_alg_values_supported").is_none(), "{metadata}");
    let launch = env.launch(json!({"patient": "p007", "auto_approve": true}));
    let code = env.code(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    let refused = env.exchange(&code, verifier.secret());
    assert_eq!((refused.status, refused.json()["error"].as_str()), (400, Some("invalid_dpop_proof")));
}

/// A DPoP client of its own (RFC 9449), with a P-256 key: proofs made here,
/// with this test's own encoding, not the app's.
struct DpopClient {
    key: p256::ecdsa::SigningKey,
}

impl DpopClient {
    fn new(seed: u8) -> DpopClient {
        DpopClient { key: p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap() }
    }

    fn coordinates(&self) -> (String, String) {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let point = self.key.verifying_key().to_encoded_point(false);
        (b64.encode(point.x().unwrap()), b64.encode(point.y().unwrap()))
    }

    fn jkt(&self) -> String {
        smart_sandbox::dpop::thumbprint(&self.coordinates().0, &self.coordinates().1)
    }

    fn proof(&self, htm: &str, htu: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        use base64::Engine;
        use p256::ecdsa::signature::Signer;
        use sha2::Digest;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (x, y) = self.coordinates();
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y}});
        let mut claims = json!({"jti": PkceVerifier::new_random().unwrap().secret(), "htm": htm, "htu": htu,
                                "iat": smart_sandbox::state::now()});
        if let Some(token) = token {
            claims["ath"] = json!(b64.encode(sha2::Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
        let signature: p256::ecdsa::Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", b64.encode(signature.to_bytes()))
    }
}

/// A token request's form for `code` and its PKCE verifier.
fn code_exchange<'a>(code: &'a str, verifier: &'a PkceVerifier) -> [(&'a str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT),
        ("code_verifier", verifier.secret()),
    ]
}

impl Env {
    fn post_token(&self, pairs: &[(&str, &str)], proof: Option<&str>) -> Reply {
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        headers.extend(proof.map(|p| ("DPoP", p)));
        http("POST", &self.url("/oauth2/v1/apps/token"), &headers, &form(pairs))
    }

    fn get_bound(&self, path: &str, scheme: &str, token: &str, proof: Option<&str>) -> Reply {
        let authorization = format!("{scheme} {token}");
        let mut headers = vec![("Authorization", authorization.as_str()), ("Accept", "application/fhir+json")];
        headers.extend(proof.map(|p| ("DPoP", p)));
        http("GET", &self.url(path), &headers, "")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_binds_the_code_the_tokens_and_the_refresh_token_to_the_clients_key() {
    let env = Env::new().await;
    env.faults(json!({"auto_approve_standalone": true, "dpop": "offered", "dpop_nonce": true}));
    let metadata = http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"), &[], "").json();
    assert_eq!(metadata["dpop_signing_alg_values_supported"], json!(["ES256"]));
    let (client, thief) = (DpopClient::new(5), DpopClient::new(6));
    let verifier = PkceVerifier::new_random().unwrap();
    let jkt = client.jkt();
    let code =
        env.code(&[("dpop_jkt", jkt.as_str()), ("scope", "launch/patient patient/*.rs offline_access")], &verifier);
    let token_url = env.url("/oauth2/v1/apps/token");
    let exchange = code_exchange(&code, &verifier);
    let error = |reply: &Reply| (reply.status, reply.json()["error"].as_str().map(str::to_string));
    // A code bound by dpop_jkt needs a proof of that key (§10); none of these use the code up.
    assert_eq!(error(&env.post_token(&exchange, None)), (400, Some("invalid_dpop_proof".into())));
    let challenged = env.post_token(&exchange, Some(&client.proof("POST", &token_url, None, None)));
    assert_eq!(error(&challenged), (400, Some("use_dpop_nonce".into())));
    let nonce = challenged.header("dpop-nonce").expect("the nonce to use").to_string();
    let stolen = env.post_token(&exchange, Some(&thief.proof("POST", &token_url, None, Some(&nonce))));
    assert_eq!(error(&stolen), (400, Some("invalid_dpop_proof".into())));
    let wrong_htu =
        env.post_token(&exchange, Some(&client.proof("POST", &env.url("/oauth2/v1/token"), None, Some(&nonce))));
    assert_eq!(error(&wrong_htu), (400, Some("invalid_dpop_proof".into())));
    let granted = env.post_token(&exchange, Some(&client.proof("POST", &token_url, None, Some(&nonce))));
    assert_eq!(granted.status, 200, "{}", granted.body);
    let tokens = granted.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let at = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims(&at)["cnf"]["jkt"], jkt.as_str());
    // At the FHIR server: a bound token as a bearer token is refused (§7.2).
    let path = "/fhir/Patient/p003";
    let fhir_url = env.url(path);
    let as_bearer = env.get_bound(path, "Bearer", &at, None);
    assert_eq!(as_bearer.status, 401);
    assert!(as_bearer.header("www-authenticate").unwrap().starts_with("DPoP "), "{:?}", as_bearer.headers);
    let challenged = env.get_bound(path, "DPoP", &at, Some(&client.proof("GET", &fhir_url, Some(&at), None)));
    assert_eq!(challenged.status, 401);
    assert!(challenged.header("www-authenticate").unwrap().contains("use_dpop_nonce"));
    let rs_nonce = challenged.header("dpop-nonce").expect("the resource server's nonce").to_string();
    assert_ne!(rs_nonce, nonce, "each server has its own nonce");
    let proof = client.proof("GET", &fhir_url, Some(&at), Some(&rs_nonce));
    assert_eq!(env.get_bound(path, "DPoP", &at, Some(&proof)).status, 200);
    // A replayed proof, a proof for another URL, another key's proof: refused.
    for (what, proof) in [
        ("replayed", proof.clone()),
        ("another URL", client.proof("GET", &env.url("/fhir/Patient/p001"), Some(&at), Some(&rs_nonce))),
        ("another key", thief.proof("GET", &fhir_url, Some(&at), Some(&rs_nonce))),
        ("another token's hash", client.proof("GET", &fhir_url, Some("other"), Some(&rs_nonce))),
    ] {
        let refused = env.get_bound(path, "DPoP", &at, Some(&proof));
        assert_eq!(refused.status, 401, "{what}");
        assert!(refused.header("www-authenticate").unwrap().contains("invalid_dpop_proof"), "{what}");
    }
    // The refresh token is bound too (§5).
    let rt = tokens["refresh_token"].as_str().unwrap();
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", CLIENT)];
    assert_eq!(error(&env.post_token(&refresh, None)), (400, Some("invalid_dpop_proof".into())));
    let stolen = env.post_token(&refresh, Some(&thief.proof("POST", &token_url, None, Some(&nonce))));
    assert_eq!(error(&stolen), (400, Some("invalid_dpop_proof".into())));
    let refreshed = env.post_token(&refresh, Some(&client.proof("POST", &token_url, None, Some(&nonce))));
    assert_eq!((refreshed.status, refreshed.json()["token_type"].as_str()), (200, Some("DPoP")));
    // DPoP off: the header is ignored and bearer tokens issued (§5).
    env.faults(json!({"auto_approve_standalone": true}));
    let verifier = PkceVerifier::new_random().unwrap();
    let code = env.code(&[], &verifier);
    let exchange = code_exchange(&code, &verifier);
    let plain = env.post_token(&exchange, Some(&client.proof("POST", &token_url, None, None)));
    assert_eq!(plain.json()["token_type"], "Bearer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heavy_patient_has_thousands_of_observations() {
    let env = auto_env().await;
    let launch = env.launch(json!({"patient": "p001", "auto_approve": true}));
    let verifier = PkceVerifier::new_random().unwrap();
    let code = env.code(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    let at = env.exchange(&code, verifier.secret()).json()["access_token"].as_str().unwrap().to_string();
    let page = env.get("/fhir/Observation?patient=p001&_count=1", &at).json();
    assert!(page["total"].as_u64().unwrap() > 2000, "{}", page["total"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_the_request_record() {
    let env = auto_env().await;
    let token = env.sign_in(&[]);
    let at = token["access_token"].as_str().unwrap().to_string();
    env.faults(json!({"auto_approve_standalone": true, "rate_limits": 1, "server_errors": 1, "malformed": 1, "foreign_next_link": true}));
    let limited = env.get("/fhir/Condition?patient=p003", &at);
    assert_eq!((limited.status, limited.header("retry-after")), (429, Some("1")));
    assert_eq!(env.get("/fhir/Condition?patient=p003", &at).status, 500);
    let malformed = env.get("/fhir/Condition?patient=p003", &at);
    assert!(serde_json::from_str::<Value>(&malformed.body).is_err());
    let page = env.get("/fhir/Observation?patient=p003&_count=1", &at).json();
    let next = page["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.starts_with(&env.running.sandbox.foreign_origin), "{next}");
    http("GET", &next, &[], "");
    let record = http("GET", &env.url("/sandbox/requests"), &[], "").json();
    let entries = record.as_array().unwrap();
    let foreign: Vec<&Value> = entries.iter().filter(|r| r["host"] == "foreign").collect();
    assert_eq!(foreign.len(), 1);
    assert_eq!(foreign[0]["authorization"], false);
    assert!(entries.iter().any(|r| r["host"] == "sandbox" && r["authorization"] == true));
    assert!(!record.to_string().contains(&at), "the record never holds a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_app_origin_only() {
    let env = auto_env().await;
    let allowed = http(
        "OPTIONS",
        &env.url("/fhir/Patient/p003"),
        &[
            ("Origin", "http://localhost:18080"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ],
        "",
    );
    assert_eq!(allowed.header("access-control-allow-origin"), Some("http://localhost:18080"));
    assert!(allowed.header("access-control-allow-headers").unwrap().contains("authorization"));
    let other = http(
        "GET",
        &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"),
        &[("Origin", "http://evil.example")],
        "",
    );
    assert_eq!(other.header("access-control-allow-origin"), None);
    let token = http(
        "POST",
        &env.url("/oauth2/v1/apps/token"),
        &[("Origin", "http://localhost:18080"), ("Content-Type", "application/x-www-form-urlencoded")],
        "grant_type=x&client_id=smart-app-local",
    );
    assert_eq!(token.header("access-control-allow-origin"), Some("http://localhost:18080"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ehr_simulator_frames_the_app_with_a_fresh_launch() {
    let env = Env::new().await;
    let home = http("GET", &env.url("/ehr"), &[], "");
    assert!(home.body.contains("name=\"patient\"") && home.body.contains("&lt;b&gt;Tables&lt;/b&gt;"));
    let page = http(
        "POST",
        &env.url("/ehr/launch"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("patient", "p008"), ("practitioner", "pr2"), ("base", "smart"), ("inject", "none")]),
    );
    assert_eq!(page.status, 200);
    let src = page
        .body
        .split("<iframe id=\"app\" title=\"SMART app\" src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(src.starts_with(&format!("{APP}launch?")), "{src}");
    let q = query_of(&src);
    assert_eq!(q["iss"], env.fhir("/smart/fhir"));
    assert!(q["launch"].len() >= 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ehr_simulator_form_sets_the_deployment_check_faults_for_the_servers() {
    let env = Env::new().await;
    let home = http("GET", &env.url("/ehr"), &[], "");
    for field in
        ["no_s256", "cors_closed", "cors_without_dpop", "no_revocation", "missing_capability", "missing_search_param"]
    {
        assert!(home.body.contains(&format!("name=\"{field}\"")), "the form has no {field}");
    }
    let launch = |pairs: &[(&str, &str)]| {
        let mut all = vec![("patient", "p008"), ("practitioner", "pr2"), ("base", "smart"), ("inject", "none")];
        all.extend_from_slice(pairs);
        assert_eq!(
            http(
                "POST",
                &env.url("/ehr/launch"),
                &[("Content-Type", "application/x-www-form-urlencoded")],
                &form(&all)
            )
            .status,
            200
        );
    };
    launch(&[("no_s256", "true"), ("no_revocation", "true"), ("missing_capability", " launch-standalone ")]);
    let smart = http("GET", &env.url("/smart/fhir/.well-known/smart-configuration"), &[], "").json();
    assert_eq!(smart["code_challenge_methods_supported"], json!(["plain"]));
    assert!(smart.get("revocation_endpoint").is_none());
    assert!(!smart["capabilities"].as_array().unwrap().iter().any(|c| c == "launch-standalone"));
    // The next launch without them puts the servers back.
    launch(&[]);
    let smart = http("GET", &env.url("/smart/fhir/.well-known/smart-configuration"), &[], "").json();
    assert_eq!(smart["code_challenge_methods_supported"], json!(["S256"]));
    assert!(smart["revocation_endpoint"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_launch_values_and_access_tokens_expire() {
    let env = auto_env().await;
    let verifier = PkceVerifier::new_random().unwrap();
    let code = env.code(&[], &verifier);
    let launch = env.launch(json!({"patient": "p003", "auto_approve": true}));
    let token = env.sign_in(&[]);
    let at = token["access_token"].as_str().unwrap().to_string();
    assert_eq!(env.get("/fhir/Patient/p003", &at).status, 200);
    // Move the sandbox's clock past every lifetime.
    env.faults(json!({"auto_approve_standalone": true, "clock_offset_seconds": 3700}));
    let late = env.exchange(&code, verifier.secret()).json();
    assert_eq!(late["error"], "invalid_grant");
    assert!(late["error_description"].as_str().unwrap().contains("expired"));
    let stale = env.authorize(&[("scope", "launch patient/*.rs"), ("launch", launch.as_str())], &verifier);
    assert_eq!(query_of(stale.header("location").unwrap())["error"], "invalid_request");
    let expired = env.get("/fhir/Patient/p003", &at);
    assert_eq!(expired.status, 401);
    assert!(expired.header("www-authenticate").unwrap().contains("expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_works_for_an_ehr_launch_grant() {
    let env = Env::new().await;
    let verifier = PkceVerifier::new_random().unwrap();
    let launch = env.launch(json!({"patient": "p009", "auto_approve": true, "inject": "audience-mismatch"}));
    let code = env.code(
        &[("scope", "launch openid fhirUser patient/*.rs offline_access"), ("launch", launch.as_str())],
        &verifier,
    );
    let token = env.exchange(&code, verifier.secret()).json();
    let refreshed = env.refresh(token["refresh_token"].as_str().unwrap());
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_sign_in_without_launch_patient_has_no_patient() {
    let env = Env::new().await;
    let verifier = PkceVerifier::new_random().unwrap();
    let page = env.authorize(&[("scope", "openid fhirUser user/*.rs")], &verifier);
    assert!(!page.body.contains("name=\"patient\""), "no patient choice without launch/patient");
    let consent = Env::consent_id(&page);
    let approve = env.answer(&consent, "approve", "p004");
    let code = query_of(approve.header("location").unwrap())["code"].clone();
    let token = env.exchange(&code, verifier.secret()).json();
    let claims = claims(token["access_token"].as_str().unwrap());
    assert_eq!(claims["patient"], "", "{claims}");
    assert_eq!(claims["sub"], "Practitioner/pr1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_responses_name_the_issuer_unless_switched_off() {
    let env = auto_env().await;
    let metadata = || http("GET", &env.url("/v1/apps/P2SANDBOX/.well-known/openid-configuration"), &[], "").json();
    let iss_of = |reply: &Reply| query_of(reply.header("location").unwrap()).get("iss").cloned();
    let verifier = PkceVerifier::new_random().unwrap();
    assert_eq!(metadata()["authorization_response_iss_parameter_supported"], true);
    assert_eq!(iss_of(&env.authorize(&[], &verifier)).as_deref(), Some(env.url("/v1/apps/P2SANDBOX").as_str()));
    // RFC 9207 is optional for a server: this one neither sends nor advertises it.
    env.faults(json!({"auto_approve_standalone": true, "omit_iss": true}));
    assert!(metadata().get("authorization_response_iss_parameter_supported").is_none());
    assert_eq!(iss_of(&env.authorize(&[], &verifier)), None);
    assert_eq!(iss_of(&env.authorize(&[("scope", "system/*.rs")], &verifier)), None, "nor in an error");
}
