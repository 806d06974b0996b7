//! The FHIR R4 server: read, search (patient/subject, category, code,
//! date, name, identifier, `_count`, `_sort`, paging with `next` links),
//! `/metadata`, errors as OperationOutcome. Every data request needs a
//! bearer token whose signature, expiry, audience, scopes and patient
//! compartment all hold.

// The checks return the finished error response as their `Err`, the usual
// axum shape; its size does not matter at a test server's request rate.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use smart_core::scopes::{Scope, ScopeContext, ScopeSet};

use crate::auth::{smart_configuration, validate_bearer, Target};
use crate::data::{display_name, patient_of, served};
use crate::http::{fhir_response, outcome, query, with_type};
use crate::state::{AccessRecord, Base, Sandbox};

type Params = HashMap<String, String>;

const RESOURCE_TYPES: &[&str] = &[
    "Patient",
    "Practitioner",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "AllergyIntolerance",
    "Immunization",
];

/// Most entries one page may hold.
const MAX_COUNT: usize = 1000;
const DEFAULT_COUNT: usize = 50;

pub async fn smart_config(State(sandbox): State<Arc<Sandbox>>) -> Response {
    smart_configuration(&sandbox)
}

pub fn metadata(sandbox: &Sandbox) -> Response {
    let o = &sandbox.origin;
    let missing = sandbox.registry().faults.missing_search_param.clone();
    let params: Vec<Value> = [("patient", "reference"), ("date", "date"), ("category", "token"), ("code", "token")]
        .into_iter()
        .filter(|(name, _)| missing.as_deref() != Some(*name))
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect();
    let resources: Vec<Value> = RESOURCE_TYPES
        .iter()
        .map(|t| json!({"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": params}))
        .collect();
    fhir_response(
        StatusCode::OK,
        &json!({
            "resourceType": "CapabilityStatement", "status": "active", "date": "2026-05-27", "kind": "instance",
            "fhirVersion": "4.0.1", "format": ["json"],
            "software": {"name": "SMART sandbox"},
            "rest": [{
                "mode": "server",
                "security": {
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                    "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris", "extension": [
                        {"url": "authorize", "valueUri": format!("{o}/oauth2/v1/apps/authorize")},
                        {"url": "token", "valueUri": format!("{o}/oauth2/v1/apps/token")},
                        {"url": "revoke", "valueUri": format!("{o}/oauth2/v1/apps/revoke")}
                    ]}]
                },
                "resource": resources
            }]
        }),
    )
}

/// What a token may see of a resource type.
enum Reach {
    /// Any patient's (user-level scope).
    All,
    /// Only this patient's compartment (patient-level scope).
    Patient(String),
}

fn forbidden(why: &str) -> Response {
    outcome(StatusCode::FORBIDDEN, "forbidden", why)
}

/// Decides what the token's granted scopes allow for `kind`.
fn reach(record: &AccessRecord, kind: &str, search: bool) -> Result<Reach, Response> {
    let granted = ScopeSet::parse_lenient(&record.scope);
    let mut patient_level = false;
    for scope in granted.iter() {
        let Scope::Resource(r) = scope else { continue };
        let allows = if search { r.permissions.search } else { r.permissions.read };
        if !(allows && (r.resource_type == "*" || r.resource_type == kind)) {
            continue;
        }
        match r.context {
            ScopeContext::User | ScopeContext::System => return Ok(Reach::All),
            ScopeContext::Patient => patient_level = true,
        }
    }
    if !patient_level {
        let verb = if search { "search" } else { "read" };
        return Err(forbidden(&format!("the granted scopes do not allow {verb} on {kind}")));
    }
    match &record.patient {
        Some(patient) => Ok(Reach::Patient(patient.clone())),
        None => Err(forbidden("a patient-level scope was granted, but the token has no patient in context")),
    }
}

/// Applies the fault switches; `Some` when a fault answers instead.
fn fault(sandbox: &Sandbox) -> Option<Response> {
    let mut registry = sandbox.registry();
    let faults = &mut registry.faults;
    if faults.rate_limits > 0 {
        faults.rate_limits -= 1;
        let mut response = outcome(StatusCode::TOO_MANY_REQUESTS, "throttled", "too many requests; retry later");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return Some(response);
    }
    if faults.server_errors > 0 {
        faults.server_errors -= 1;
        return Some(outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", "injected server error"));
    }
    if faults.forbidden > 0 {
        faults.forbidden -= 1;
        return Some(forbidden("injected: this token may not see this record"));
    }
    if faults.not_found > 0 {
        faults.not_found -= 1;
        return Some(outcome(StatusCode::NOT_FOUND, "not-found", "injected: no such record"));
    }
    if faults.huge_fhir {
        let padding = "x".repeat(17 << 20);
        return Some(fhir_response(
            StatusCode::OK,
            &json!({"resourceType": "Bundle", "type": "searchset", "meta": {"tag": [{"code": padding}]}}),
        ));
    }
    if faults.malformed > 0 {
        faults.malformed -= 1;
        return Some(with_type(
            StatusCode::OK,
            "application/fhir+json",
            "{\"resourceType\": \"Bundle\", \"entry\": [".into(),
        ));
    }
    None
}

fn authorize(sandbox: &Sandbox, headers: &HeaderMap, base: Base, path: &str) -> Result<AccessRecord, Response> {
    let target = Target { method: "GET", htu: format!("{}/{path}", sandbox.fhir_base(base)) };
    validate_bearer(sandbox, headers, Some(base), &target).map_err(|failure| {
        let mut response = outcome(failure.status, "login", &failure.description);
        failure.apply(&mut response);
        response
    })
}

fn known_type(kind: &str) -> Result<(), Response> {
    if RESOURCE_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(outcome(StatusCode::NOT_FOUND, "not-supported", &format!("resource type \"{kind}\" is not supported")))
    }
}

/// Everything a data request must pass, in order: a known type, a valid
/// bearer token, the fault switches, and a scope that reaches the type.
/// `path` is the request's path under the base (a DPoP proof's `htu`).
fn admit(
    sandbox: &Sandbox,
    base: Base,
    kind: &str,
    path: &str,
    headers: &HeaderMap,
    search: bool,
) -> Result<Reach, Response> {
    known_type(kind)?;
    if sandbox.registry().faults.redirect_fhir {
        return Err(crate::http::temporary_redirect(&format!("{}{}/{path}", sandbox.foreign_origin, base.path())));
    }
    let record = authorize(sandbox, headers, base, path)?;
    if let Some(response) = fault(sandbox) {
        return Err(response);
    }
    reach(&record, kind, search)
}

pub async fn read(sandbox: Arc<Sandbox>, base: Base, kind: String, id: String, headers: HeaderMap) -> Response {
    let reach = match admit(&sandbox, base, &kind, &format!("{kind}/{id}"), &headers, false) {
        Ok(reach) => reach,
        Err(response) => return response,
    };
    let Some(resource) = sandbox.store.read(&kind, &id) else {
        return outcome(StatusCode::NOT_FOUND, "not-found", &format!("{kind}/{id} does not exist"));
    };
    if let Reach::Patient(patient) = reach {
        if kind != "Practitioner" && patient_of(resource).as_deref() != Some(patient.as_str()) {
            return forbidden(&format!("{kind}/{id} is outside the patient compartment of this token"));
        }
    }
    let faults = sandbox.registry().faults.clone();
    fhir_response(StatusCode::OK, &served(resource, &faults))
}

/// The date a resource is searched by.
fn date_of(resource: &Value) -> Option<&str> {
    ["effectiveDateTime", "onsetDateTime", "authoredOn", "occurrenceDateTime", "recordedDate", "birthDate"]
        .iter()
        .find_map(|f| resource[f].as_str())
        .or_else(|| resource["period"]["start"].as_str())
}

fn codings(value: &Value) -> Vec<(&str, &str)> {
    let concepts: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    concepts
        .into_iter()
        .flat_map(|concept| concept["coding"].as_array().into_iter().flatten())
        .map(|c| (c["system"].as_str().unwrap_or_default(), c["code"].as_str().unwrap_or_default()))
        .collect()
}

/// A token search parameter (`code`, `system|code`, comma-separated) against codings.
fn token_matches(parameter: &str, codes: &[(&str, &str)]) -> bool {
    parameter.split(',').any(|wanted| match wanted.split_once('|') {
        Some((system, code)) => codes.iter().any(|(s, c)| (system.is_empty() || *s == system) && *c == code),
        None => codes.iter().any(|(_, c)| *c == wanted),
    })
}

/// `date=ge2024-01-01` style comparison on the date's text (ISO order).
fn date_matches(parameter: &str, date: Option<&str>) -> bool {
    let Some(date) = date else { return false };
    let (prefix, value) = match parameter.get(..2) {
        Some(p @ ("ge" | "le" | "gt" | "lt" | "eq")) => (p, &parameter[2..]),
        _ => ("eq", parameter),
    };
    let subject = date.get(..date.len().min(value.len())).unwrap_or(date);
    match prefix {
        "ge" => subject >= value,
        "le" => subject <= value,
        "gt" => subject > value,
        "lt" => subject < value,
        _ => subject == value,
    }
}

fn patient_parameter(params: &Params) -> Option<String> {
    params.get("patient").or_else(|| params.get("subject")).map(|p| p.trim_start_matches("Patient/").to_string())
}

pub async fn search(sandbox: Arc<Sandbox>, base: Base, kind: String, params: Params, headers: HeaderMap) -> Response {
    let reach = match admit(&sandbox, base, &kind, &kind, &headers, true) {
        Ok(reach) => reach,
        Err(response) => return response,
    };
    let wanted_patient = patient_parameter(&params);
    let compartment = match (&reach, wanted_patient) {
        (Reach::Patient(own), Some(asked)) if *own != asked => {
            return forbidden(&format!("Patient/{asked} is outside the patient compartment of this token"))
        }
        (Reach::Patient(own), _) => Some(own.clone()),
        (Reach::All, asked) => asked,
    };
    let cap = match sandbox.registry().faults.page_size {
        0 => MAX_COUNT,
        n => n,
    };
    let count = params.get("_count").and_then(|c| c.parse().ok()).unwrap_or(DEFAULT_COUNT).clamp(1, cap);
    let offset: usize = params.get("_offset").and_then(|o| o.parse().ok()).unwrap_or(0);

    let mut matches: Vec<&Value> = sandbox
        .store
        .all(&kind)
        .iter()
        .filter(|r| compartment.as_ref().is_none_or(|p| patient_of(r).as_deref() == Some(p.as_str())))
        .filter(|r| params.get("_id").is_none_or(|id| r["id"].as_str() == Some(id.as_str())))
        .filter(|r| params.get("category").is_none_or(|c| token_matches(c, &codings(&r["category"]))))
        .filter(|r| {
            params.get("code").is_none_or(|c| {
                let concept = if r["code"].is_null() { &r["medicationCodeableConcept"] } else { &r["code"] };
                token_matches(c, &codings(concept))
            })
        })
        .filter(|r| params.get("clinical-status").is_none_or(|s| token_matches(s, &codings(&r["clinicalStatus"]))))
        .filter(|r| params.get("status").is_none_or(|s| s.split(',').any(|s| r["status"].as_str() == Some(s))))
        .filter(|r| params.get("name").is_none_or(|n| display_name(r).to_lowercase().contains(&n.to_lowercase())))
        .filter(|r| {
            params.get("identifier").is_none_or(|wanted| {
                let value = wanted.rsplit('|').next().unwrap_or(wanted);
                r["identifier"].as_array().into_iter().flatten().any(|i| i["value"].as_str() == Some(value))
            })
        })
        .collect();
    // `date` may repeat (ge…&le…); axum's map keeps one, so accept both
    // comma-joined and single forms.
    if let Some(dates) = params.get("date") {
        matches.retain(|r| dates.split(',').all(|d| date_matches(d, date_of(r))));
    }
    let faults = sandbox.registry().faults.clone();
    let applied_sort = match params.get("_sort").map(String::as_str) {
        _ if faults.ignore_sort => {
            // The stated default order of this shape: oldest first.
            matches.sort_by(|a, b| date_of(a).cmp(&date_of(b)));
            None
        }
        Some("-date") => {
            matches.sort_by(|a, b| date_of(b).cmp(&date_of(a)));
            Some("-date")
        }
        Some("date") => {
            matches.sort_by(|a, b| date_of(a).cmp(&date_of(b)));
            Some("date")
        }
        _ => None,
    };
    if applied_sort.is_some() && faults.sort_cost_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.sort_cost_ms)).await;
    }

    let total = matches.len();
    let mut page: Vec<Value> = matches
        .iter()
        .skip(offset)
        .take(count)
        .map(|r| {
            let resource = served(r, &faults);
            json!({"fullUrl": format!("{}/{kind}/{}", sandbox.fhir_base(base), r["id"].as_str().unwrap_or_default()),
                   "resource": resource, "search": {"mode": "match"}})
        })
        .collect();
    if faults.shuffle {
        shuffle(&mut page, offset as u64 ^ total as u64);
    }
    // The links name the search as applied (FHIR R4 search §3.1.1.1): the
    // parameters this server knows, the sort only if it sorted, the count
    // it used.
    let link = |origin: &str, offset: usize| {
        let mut pairs: Vec<(String, String)> =
            params.iter().filter(|(k, _)| APPLIED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        pairs.extend(applied_sort.map(|sort| ("_sort".to_string(), sort.to_string())));
        pairs.push(("_count".into(), count.to_string()));
        pairs.sort();
        pairs.push(("_offset".into(), offset.to_string()));
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        format!("{origin}{}/{kind}?{}", base.path(), query(&refs))
    };
    let mut links = if faults.omit_self_link {
        Vec::new()
    } else {
        vec![json!({"relation": "self", "url": link(&sandbox.origin, offset)})]
    };
    if offset + count < total {
        let next_origin =
            if faults.foreign_next_link { sandbox.foreign_origin.clone() } else { sandbox.origin.clone() };
        links.push(json!({"relation": "next", "url": link(&next_origin, offset + count)}));
    }
    let mut bundle =
        json!({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": page});
    if faults.omit_total {
        bundle.as_object_mut().map(|b| b.remove("total"));
    }
    fhir_response(StatusCode::OK, &bundle)
}

/// The search parameters this server applies (and so names in its links).
const APPLIED: [&str; 10] =
    ["patient", "subject", "_id", "category", "code", "clinical-status", "status", "name", "identifier", "date"];

/// A Fisher–Yates shuffle driven by `seed`: the same page, the same order.
fn shuffle(items: &mut [Value], seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_prefixes_compare_iso_text() {
        assert!(date_matches("ge2024-01-01", Some("2024-03-01T09:00:00Z")));
        assert!(!date_matches("lt2024-01-01", Some("2024-03-01T09:00:00Z")));
        assert!(date_matches("2024-03", Some("2024-03-01T09:00:00Z")));
        assert!(!date_matches("ge2024", None));
    }

    #[test]
    fn token_search_matches_system_and_code() {
        let codes = [("http://loinc.org", "8867-4")];
        assert!(token_matches("8867-4", &codes));
        assert!(token_matches("http://loinc.org|8867-4", &codes));
        assert!(token_matches("x,8867-4", &codes));
        assert!(!token_matches("http://snomed.info/sct|8867-4", &codes));
    }
}
