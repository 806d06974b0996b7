//! The EHR simulator: pick a patient, a user and an encounter, set the
//! launch switches, press Launch, and the app opens inside an iframe of an
//! EHR-like page with `iss` and a fresh single-use `launch`. Also the
//! SMART style documents and the test control API.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Json, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::data::{display_name, PRACTITIONERS};
use crate::http::{escape, html_response, json_response, page, query};
use crate::state::{now, random_id, Base, ContextMode, Faults, Injection, Launch, LaunchSettings, Sandbox};

type Shared = State<Arc<Sandbox>>;

fn select(name: &str, options: &[(String, String)], selected: &str) -> String {
    let items: String = options
        .iter()
        .map(|(value, label)| {
            let mark = if value == selected { " selected" } else { "" };
            format!("<option value=\"{}\"{mark}>{}</option>", escape(value), escape(label))
        })
        .collect();
    format!("<select name=\"{name}\" id=\"{name}\">{items}</select>")
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// `GET /ehr`: the launcher.
pub async fn home(State(sandbox): Shared) -> Response {
    let patients: Vec<(String, String)> = sandbox
        .store
        .all("Patient")
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap_or_default().to_string();
            (id.clone(), format!("{} — {} ({id})", display_name(p), p["birthDate"].as_str().unwrap_or_default()))
        })
        .collect();
    let practitioners: Vec<(String, String)> =
        PRACTITIONERS.iter().map(|(id, given, family)| (id.to_string(), format!("Dr. {given} {family}"))).collect();
    let injections = pairs(&[
        ("none", "none"),
        ("token-invalid-grant", "token endpoint: invalid_grant"),
        ("token-not-json", "token endpoint: HTML instead of JSON"),
        ("token-without-access-token", "token endpoint: no access_token"),
        ("id-token-bad-signature", "id_token: bad signature"),
        ("id-token-wrong-audience", "id_token: wrong aud"),
        ("id-token-expired", "id_token: expired"),
        ("id-token-wrong-nonce", "id_token: wrong nonce"),
        ("missing-patient", "no patient in the token"),
        ("scope-downgrade", "grant fewer scopes"),
        ("empty-grant", "grant no scopes"),
        ("audience-mismatch", "access token aud ≠ FHIR base (FHIR 401)"),
        ("audience-project-id", "access token aud = the Descope project id (no aud in the JWT template)"),
        ("confidential-client", "token endpoint: the client is confidential"),
        ("style-unreachable", "smart_style_url unreachable"),
        ("style-malformed", "smart_style_url malformed"),
    ]);
    let body = format!(
        "<form method=\"post\" action=\"/ehr/launch\">\
         <fieldset><legend>Launch context</legend>\
         <label>Patient {}</label><label>User {}</label>\
         <label><input type=\"checkbox\" name=\"encounter\" value=\"current\" checked> Launch in the patient's current encounter</label>\
         <label>FHIR server {}</label></fieldset>\
         <fieldset><legend>Switches</legend>\
         <label><input type=\"checkbox\" name=\"need_patient_banner\" value=\"true\" checked> need_patient_banner</label>\
         <label>Access-token lifetime (seconds) <input type=\"number\" name=\"token_lifetime\" value=\"3600\" min=\"5\"></label>\
         <label>Launch context goes to {}</label>\
         <label><input type=\"checkbox\" name=\"deny_framing\" value=\"true\"> Authorization pages refuse framing</label>\
         <label><input type=\"checkbox\" name=\"auto_approve\" value=\"true\"> Approve without the consent page</label>\
         <label>Error injection {}</label>\
         <label>The authorization and FHIR servers' DPoP (RFC 9449) {}</label>\
         <label><input type=\"checkbox\" name=\"dpop_nonce\" value=\"true\"> DPoP proofs must carry the server's nonce</label></fieldset>\
         <fieldset><legend>FHIR server shape</legend>\
         <label><input type=\"checkbox\" name=\"ignore_sort\" value=\"true\"> Ignores <code>_sort</code> (answers oldest first)</label>\
         <label>Caps pages at <input type=\"number\" name=\"page_size\" value=\"0\" min=\"0\"> entries (0: no cap)</label>\
         <label>A sorted page costs the server <input type=\"number\" name=\"sort_cost_ms\" value=\"0\" min=\"0\"> ms</label>\
         <label><input type=\"checkbox\" name=\"omit_total\" value=\"true\"> Leaves out <code>Bundle.total</code></label>\
         <label><input type=\"checkbox\" name=\"shuffle\" value=\"true\"> Shuffles the entries of each page</label>\
         <label><input type=\"checkbox\" name=\"omit_self_link\" value=\"true\"> Sends no <code>self</code> link</label>\
         <label>A blood pressure out of range says so {}</label>\
         <label>A lab's reference range is given as {}</label></fieldset>\
         <fieldset><legend>What the deployment check looks for, broken (<code>smart-deploy check</code>)</legend>\
         <label><input type=\"checkbox\" name=\"no_s256\" value=\"true\"> The metadata offers PKCE <code>plain</code> only</label>\
         <label><input type=\"checkbox\" name=\"cors_closed\" value=\"true\"> CORS allows no origin</label>\
         <label><input type=\"checkbox\" name=\"cors_without_dpop\" value=\"true\"> Preflights do not allow the <code>DPoP</code> header</label>\
         <label><input type=\"checkbox\" name=\"no_revocation\" value=\"true\"> No revocation endpoint</label>\
         <label>A SMART capability left out <input type=\"text\" name=\"missing_capability\" placeholder=\"launch-standalone\"></label>\
         <label>A search parameter left out of the CapabilityStatement <input type=\"text\" name=\"missing_search_param\" placeholder=\"category\"></label></fieldset>\
         <button type=\"submit\" id=\"launch\">Launch</button></form>\
         <p>Or open the app on its own: <a href=\"{}\" id=\"standalone\">standalone launch</a>.</p>",
        select("patient", &patients, "p003"),
        select("practitioner", &practitioners, "pr1"),
        select("base", &pairs(&[("descope", "/fhir (Descope-style authorization)"), ("smart", "/smart/fhir (SMART discovery)")]), "descope"),
        select("context", &pairs(&[("default", "the server's default"), ("claims", "access-token claims"), ("response", "token response"), ("both", "both")]), "default"),
        select("inject", &injections, "none"),
        select("dpop", &pairs(&[("off", "not supported (bearer tokens)"), ("offered", "offered in the metadata"), ("required", "required"), ("required-unadvertised", "required, not in the metadata")]), "off"),
        select("pressure_form", &pairs(&[("components", "on each component (interpretation)"), ("panel", "on the panel (interpretation)"), ("ranges", "by ranges on the components")]), "components"),
        select("lab_ranges", &pairs(&[("one", "one range"), ("per-sex", "one per sex, the same bounds"), ("per-sex-differing", "one per sex, differing bounds"), ("by-age", "one for adults, one for children"), ("with-treatment", "the normal range and a treatment range"), ("treatment-only", "a treatment range alone")]), "one"),
        escape(&sandbox.app_url),
    );
    html_response(StatusCode::OK, page("Sandbox EHR — launch an app", &body))
}

/// Settings for a launch, as the control API and the form give them.
#[derive(Deserialize)]
pub struct LaunchRequest {
    #[serde(default = "default_patient")]
    pub patient: String,
    #[serde(default = "default_practitioner")]
    pub practitioner: String,
    #[serde(default)]
    pub encounter: Option<String>,
    #[serde(default = "default_base")]
    pub base: Base,
    #[serde(default)]
    pub context: Option<ContextMode>,
    #[serde(default = "yes")]
    pub need_patient_banner: bool,
    #[serde(default = "default_lifetime")]
    pub token_lifetime: u64,
    #[serde(default)]
    pub deny_framing: bool,
    #[serde(default)]
    pub auto_approve: bool,
    #[serde(default)]
    pub inject: Injection,
}

fn default_patient() -> String {
    "p003".into()
}
fn default_practitioner() -> String {
    "pr1".into()
}
fn default_base() -> Base {
    Base::Descope
}
fn yes() -> bool {
    true
}
fn default_lifetime() -> u64 {
    3600
}

/// Creates a launch; returns its id and the app URL that opens it.
fn create_launch(sandbox: &Sandbox, request: LaunchRequest) -> Result<(String, String, String), String> {
    if sandbox.store.read("Patient", &request.patient).is_none() {
        return Err(format!("no patient {}", request.patient));
    }
    let encounter = match request.encounter.as_deref() {
        Some("current") => Some(format!("{}-enc-current", request.patient)),
        Some("") | None => None,
        Some(other) => Some(other.to_string()),
    };
    let settings = LaunchSettings {
        base: request.base,
        patient: Some(request.patient),
        encounter,
        practitioner: Some(request.practitioner),
        need_patient_banner: request.need_patient_banner,
        token_lifetime: request.token_lifetime.max(5),
        context: request.context.unwrap_or(request.base.default_context()),
        deny_framing: request.deny_framing,
        auto_approve: request.auto_approve,
        inject: request.inject,
    };
    let id = random_id();
    let iss = sandbox.fhir_base(request.base);
    let url = format!("{}launch?{}", sandbox.app_url, query(&[("iss", &iss), ("launch", &id)]));
    sandbox.registry().launches.insert(id.clone(), Launch { settings, created: now(), used: false });
    Ok((id, iss, url))
}

/// `POST /ehr/launch` (the form): the EHR page with the app in an iframe.
pub async fn launch_page(State(sandbox): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    fn parse<T: serde::de::DeserializeOwned>(form: &HashMap<String, String>, k: &str) -> Option<T> {
        serde_json::from_value(json!(form.get(k)?)).ok()
    }
    let request = LaunchRequest {
        patient: get("patient"),
        practitioner: get("practitioner"),
        encounter: form.get("encounter").cloned(),
        base: parse(&form, "base").unwrap_or(Base::Descope),
        context: parse(&form, "context"),
        need_patient_banner: get("need_patient_banner") == "true",
        token_lifetime: get("token_lifetime").parse().unwrap_or(3600),
        deny_framing: get("deny_framing") == "true",
        auto_approve: get("auto_approve") == "true",
        inject: parse(&form, "inject").unwrap_or_default(),
    };
    // DPoP and the FHIR server's shape are the servers' own properties,
    // not the launch's: the form sets them for all.
    {
        let mut registry = sandbox.registry();
        registry.faults.dpop = parse(&form, "dpop").unwrap_or_default();
        registry.faults.dpop_nonce = get("dpop_nonce") == "true";
        registry.faults.ignore_sort = get("ignore_sort") == "true";
        registry.faults.page_size = get("page_size").parse().unwrap_or(0);
        registry.faults.sort_cost_ms = get("sort_cost_ms").parse().unwrap_or(0);
        registry.faults.omit_total = get("omit_total") == "true";
        registry.faults.shuffle = get("shuffle") == "true";
        registry.faults.omit_self_link = get("omit_self_link") == "true";
        registry.faults.pressure_form = parse(&form, "pressure_form").unwrap_or_default();
        registry.faults.lab_ranges = parse(&form, "lab_ranges").unwrap_or_default();
        registry.faults.no_s256 = get("no_s256") == "true";
        registry.faults.cors_closed = get("cors_closed") == "true";
        registry.faults.cors_without_dpop = get("cors_without_dpop") == "true";
        registry.faults.no_revocation = get("no_revocation") == "true";
        let named = |field: &str| Some(get(field).trim().to_string()).filter(|v| !v.is_empty());
        registry.faults.missing_capability = named("missing_capability");
        registry.faults.missing_search_param = named("missing_search_param");
    }
    let patient_name = sandbox.store.read("Patient", &request.patient).map(display_name).unwrap_or_default();
    match create_launch(&sandbox, request) {
        Ok((_, _, url)) => html_response(
            StatusCode::OK,
            page(
                "Sandbox EHR",
                &format!(
                    "<div class=\"banner\">Chart: <strong>{}</strong> · <a href=\"/ehr\">back to the launcher</a></div>\
                     <iframe id=\"app\" title=\"SMART app\" src=\"{}\"></iframe>",
                    escape(&patient_name),
                    escape(&url)
                ),
            ),
        ),
        Err(why) => html_response(StatusCode::BAD_REQUEST, page("Sandbox EHR", &escape(&why))),
    }
}

/// `POST /sandbox/launch` (JSON): creates a launch for tests.
pub async fn launch_api(State(sandbox): Shared, Json(request): Json<LaunchRequest>) -> Response {
    match create_launch(&sandbox, request) {
        Ok((launch, iss, url)) => json_response(StatusCode::OK, &json!({"launch": launch, "iss": iss, "url": url})),
        Err(why) => json_response(StatusCode::BAD_REQUEST, &json!({"error": why})),
    }
}

/// `GET /ehr/smart-style.json`
pub async fn style() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"color_background": "#edeae3", "color_error": "#9e2d2d", "color_highlight": "#69b5ce",
                "color_modal_backdrop": "", "color_success": "#498e49", "color_text": "#303030",
                "dim_border_radius": "6px", "dim_font_size": "13px", "dim_spacing_size": "20px",
                "font_family_body": "Georgia, Times, 'Times New Roman', serif",
                "font_family_heading": "'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif"}),
    )
}

/// `GET /ehr/smart-style-malformed.json`: values no app may apply.
pub async fn style_malformed() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"color_background": "red; background-image: url(https://evil.example/x.png)",
                "color_text": "expression(alert(1))", "dim_font_size": "12px}body{display:none",
                "font_family_body": 42}),
    )
}

/// `GET|POST /sandbox/faults`
pub async fn get_faults(State(sandbox): Shared) -> Response {
    json_response(StatusCode::OK, &serde_json::to_value(&sandbox.registry().faults).unwrap_or(Value::Null))
}

pub async fn set_faults(State(sandbox): Shared, Json(faults): Json<Faults>) -> Response {
    {
        let mut registry = sandbox.registry();
        registry.faults = faults;
        // New nonces: a proof with the old one is challenged (RFC 9449 §8.2).
        registry.as_nonce = random_id();
        registry.rs_nonce = random_id();
    }
    get_faults(State(sandbox)).await
}

/// `GET /sandbox/requests`: what the sandbox and its foreign host received.
pub async fn requests(State(sandbox): Shared) -> Response {
    json_response(StatusCode::OK, &serde_json::to_value(&sandbox.registry().requests).unwrap_or(Value::Null))
}

/// `DELETE /sandbox/requests`
pub async fn clear_requests(State(sandbox): Shared) -> Response {
    sandbox.registry().requests.clear();
    json_response(StatusCode::OK, &json!({}))
}
