//! Minimal FHIR R4 models for what the app displays. Every field is
//! optional and unknown fields are ignored, so a server that sends more, or
//! less, never breaks parsing; a field of the wrong shape makes the resource
//! malformed, and the message names the field.

use serde_json::Value;

use crate::json::{read, Fields, FromJson, JsonError, Object};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct CodeableConcept {
    pub coding: Vec<Coding>,
    pub text: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quantity {
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub code: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HumanName {
    pub name_use: Option<String>,
    pub text: Option<String>,
    pub family: Option<String>,
    pub given: Vec<String>,
    pub prefix: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identifier {
    pub identifier_use: Option<String>,
    pub kind: Option<CodeableConcept>,
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patient {
    pub id: Option<String>,
    pub identifier: Vec<Identifier>,
    pub name: Vec<HumanName>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Condition {
    pub id: Option<String>,
    pub clinical_status: Option<CodeableConcept>,
    pub verification_status: Option<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub onset_date_time: Option<String>,
    pub recorded_date: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dosage {
    pub text: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reference {
    pub reference: Option<String>,
    pub display: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MedicationRequest {
    pub id: Option<String>,
    pub status: Option<String>,
    pub medication_codeable_concept: Option<CodeableConcept>,
    pub medication_reference: Option<Reference>,
    pub authored_on: Option<String>,
    pub dosage_instruction: Vec<Dosage>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reaction {
    pub manifestation: Vec<CodeableConcept>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AllergyIntolerance {
    pub id: Option<String>,
    pub clinical_status: Option<CodeableConcept>,
    pub criticality: Option<String>,
    pub code: Option<CodeableConcept>,
    pub reaction: Vec<Reaction>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservationComponent {
    pub code: Option<CodeableConcept>,
    pub value_quantity: Option<Quantity>,
    /// A component's own interpretation and ranges (FHIR R4
    /// `Observation.component`): a blood pressure panel's flags are here.
    pub interpretation: Vec<CodeableConcept>,
    pub reference_range: Vec<ReferenceRange>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub id: Option<String>,
    pub status: Option<String>,
    pub category: Vec<CodeableConcept>,
    pub code: Option<CodeableConcept>,
    pub effective_date_time: Option<String>,
    pub effective_period: Option<Period>,
    pub issued: Option<String>,
    pub value_quantity: Option<Quantity>,
    pub value_string: Option<String>,
    pub value_codeable_concept: Option<CodeableConcept>,
    pub component: Vec<ObservationComponent>,
    pub interpretation: Vec<CodeableConcept>,
    pub reference_range: Vec<ReferenceRange>,
}

/// `Observation.referenceRange`: a range, as bounds or text, what it
/// means (`type`: normal when absent, FHIR R4; or therapeutic, …) and
/// whom it is for (`appliesTo`: a sex, a race, …; `age`, read as a range
/// of bounds alone).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReferenceRange {
    pub low: Option<Quantity>,
    pub high: Option<Quantity>,
    pub text: Option<String>,
    pub meaning: Option<CodeableConcept>,
    pub applies_to: Vec<CodeableConcept>,
    pub age: Option<Box<ReferenceRange>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encounter {
    pub id: Option<String>,
    pub status: Option<String>,
    pub class: Option<Coding>,
    pub kind: Vec<CodeableConcept>,
    pub period: Option<Period>,
}

impl FromJson for Coding {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Coding { system: f.text("system"), code: f.text("code"), display: f.text("display") })
    }
}

impl FromJson for CodeableConcept {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(CodeableConcept { coding: f.many("coding"), text: f.text("text") })
    }
}

impl FromJson for Quantity {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Quantity { value: f.number("value"), unit: f.text("unit"), code: f.text("code") })
    }
}

impl FromJson for Period {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Period { start: f.text("start"), end: f.text("end") })
    }
}

impl FromJson for HumanName {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(HumanName {
            name_use: f.text("use"),
            text: f.text("text"),
            family: f.text("family"),
            given: f.texts("given"),
            prefix: f.texts("prefix"),
        })
    }
}

impl FromJson for Identifier {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Identifier {
            identifier_use: f.text("use"),
            kind: f.one("type"),
            system: f.text("system"),
            value: f.text("value"),
        })
    }
}

impl FromJson for Patient {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Patient {
            id: f.text("id"),
            identifier: f.many("identifier"),
            name: f.many("name"),
            gender: f.text("gender"),
            birth_date: f.text("birthDate"),
        })
    }
}

impl FromJson for Condition {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Condition {
            id: f.text("id"),
            clinical_status: f.one("clinicalStatus"),
            verification_status: f.one("verificationStatus"),
            code: f.one("code"),
            onset_date_time: f.text("onsetDateTime"),
            recorded_date: f.text("recordedDate"),
        })
    }
}

impl FromJson for Dosage {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        Ok(Dosage { text: o.text("text")? })
    }
}

impl FromJson for Reference {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Reference { reference: f.text("reference"), display: f.text("display") })
    }
}

impl FromJson for MedicationRequest {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(MedicationRequest {
            id: f.text("id"),
            status: f.text("status"),
            medication_codeable_concept: f.one("medicationCodeableConcept"),
            medication_reference: f.one("medicationReference"),
            authored_on: f.text("authoredOn"),
            dosage_instruction: f.many("dosageInstruction"),
        })
    }
}

impl FromJson for Reaction {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        Ok(Reaction { manifestation: o.many("manifestation")? })
    }
}

impl FromJson for AllergyIntolerance {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(AllergyIntolerance {
            id: f.text("id"),
            clinical_status: f.one("clinicalStatus"),
            criticality: f.text("criticality"),
            code: f.one("code"),
            reaction: f.many("reaction"),
        })
    }
}

impl FromJson for ObservationComponent {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(ObservationComponent {
            code: f.one("code"),
            value_quantity: f.one("valueQuantity"),
            interpretation: f.many("interpretation"),
            reference_range: f.many("referenceRange"),
        })
    }
}

impl FromJson for Observation {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Observation {
            id: f.text("id"),
            status: f.text("status"),
            category: f.many("category"),
            code: f.one("code"),
            effective_date_time: f.text("effectiveDateTime"),
            effective_period: f.one("effectivePeriod"),
            issued: f.text("issued"),
            value_quantity: f.one("valueQuantity"),
            value_string: f.text("valueString"),
            value_codeable_concept: f.one("valueCodeableConcept"),
            component: f.many("component"),
            interpretation: f.many("interpretation"),
            reference_range: f.many("referenceRange"),
        })
    }
}

impl FromJson for ReferenceRange {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(ReferenceRange {
            low: f.one("low"),
            high: f.one("high"),
            text: f.text("text"),
            meaning: f.one("type"),
            applies_to: f.many("appliesTo"),
            age: f.one("age").map(Box::new),
        })
    }
}

impl FromJson for Encounter {
    fn read(o: Object<'_>) -> Result<Self, JsonError> {
        let f = Fields::new(o);
        f.finish(Encounter {
            id: f.text("id"),
            status: f.text("status"),
            class: f.one("class"),
            kind: f.many("type"),
            period: f.one("period"),
        })
    }
}

/// A resource type the app can read from a Bundle.
pub trait Resource: FromJson {
    const TYPE: &'static str;
}

impl Resource for Patient {
    const TYPE: &'static str = "Patient";
}
impl Resource for Condition {
    const TYPE: &'static str = "Condition";
}
impl Resource for MedicationRequest {
    const TYPE: &'static str = "MedicationRequest";
}
impl Resource for AllergyIntolerance {
    const TYPE: &'static str = "AllergyIntolerance";
}
impl Resource for Observation {
    const TYPE: &'static str = "Observation";
}
impl Resource for Encounter {
    const TYPE: &'static str = "Encounter";
}

/// Whether `id` is a FHIR logical id: `[A-Za-z0-9-.]{1,64}` (FHIR R4 §2.24.0.1).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The read URL `{base}/{Type}/{id}`, for an id that is a valid FHIR id
/// (an id from a token must not be able to change the path).
pub fn read_url<T: Resource>(fhir_base: &crate::url::HttpUrl, id: &str) -> Result<crate::url::HttpUrl, crate::Error> {
    let id = id.strip_prefix(&format!("{}/", T::TYPE)).unwrap_or(id);
    if !valid_id(id) || id == "." || id == ".." {
        return Err(crate::Error::FhirMalformed { detail: format!("\"{id}\" is not a valid FHIR {} id", T::TYPE) });
    }
    Ok(fhir_base.join_path(&format!("{}/{id}", T::TYPE)))
}

/// One page of a search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The `next` link, as given (the caller decides whether to follow it).
    pub next: Option<String>,
    /// The `self` link: the search as the server applied it.
    pub self_link: Option<String>,
    pub total: Option<u64>,
    /// Entries that could not be read as `T` (kept count, not fatal).
    pub skipped: usize,
}

/// Why a body is not a usable resource or Bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

fn object(body: &str) -> Result<Value, ParseError> {
    match crate::json::parse(body.as_bytes()) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(ParseError("the response is JSON but not a FHIR resource".into())),
        Err(e) => Err(ParseError(format!("the response {e}"))),
    }
}

fn resource_type(value: &Value) -> Option<&str> {
    value.get("resourceType").and_then(Value::as_str)
}

/// Parses one resource, checking its `resourceType`.
pub fn parse_resource<T: Resource>(body: &str) -> Result<T, ParseError> {
    let value = object(body)?;
    match resource_type(&value) {
        Some(kind) if kind == T::TYPE => {
            read(&value).map_err(|e| ParseError(format!("the {} is malformed ({e})", T::TYPE)))
        }
        Some(other) => Err(ParseError(format!("expected a {}, got a {other}", T::TYPE))),
        None => Err(ParseError("the response has no resourceType".into())),
    }
}

/// Parses a search-set Bundle, keeping the entries that are `T` (a server
/// may include OperationOutcome or `_include`d entries; they are skipped).
pub fn parse_bundle<T: Resource>(body: &str) -> Result<Page<T>, ParseError> {
    parse_bundle_as(body, T::TYPE, &T::read)
}

/// Parses a search-set Bundle, reading each entry of `resource_type` with
/// `read`; an entry `read` refuses is counted in `skipped`. It takes the
/// reader as a value so that the Bundle handling is compiled once, not
/// once per resource type.
pub fn parse_bundle_as<T>(
    body: &str,
    resource_type_wanted: &str,
    read: &dyn Fn(Object<'_>) -> Result<T, JsonError>,
) -> Result<Page<T>, ParseError> {
    let value = object(body)?;
    if resource_type(&value) != Some("Bundle") {
        return Err(ParseError("expected a Bundle".into()));
    }
    let mut items = Vec::new();
    let mut skipped = 0;
    for entry in value["entry"].as_array().into_iter().flatten() {
        let resource = &entry["resource"];
        if resource_type(resource) != Some(resource_type_wanted) {
            continue;
        }
        match Object::of(resource).map(read) {
            Some(Ok(item)) => items.push(item),
            _ => skipped += 1,
        }
    }
    let link = |relation: &str| {
        value["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"].as_str() == Some(relation))
            .and_then(|l| l["url"].as_str())
            .map(str::to_string)
    };
    let total = value["total"].as_u64();
    Ok(Page { items, next: link("next"), self_link: link("self"), total, skipped })
}

/// The diagnostics of an OperationOutcome, joined, if the body is one.
pub fn outcome_text(body: &str) -> Option<String> {
    let value = object(body).ok()?;
    if resource_type(&value) != Some("OperationOutcome") {
        return None;
    }
    let texts: Vec<String> = value["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|issue| {
            issue["diagnostics"]
                .as_str()
                .map(str::to_string)
                .or_else(|| issue["details"]["text"].as_str().map(str::to_string))
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_patient_ignoring_unknown_fields() {
        let patient: Patient = parse_resource(
            r#"{"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-02-29",
                "name": [{"use": "official", "family": "Ōtani", "given": ["Zoë"], "extension": [{"url": "x"}]}],
                "identifier": [{"system": "urn:mrn", "value": "123", "type": {"coding": [{"code": "MR"}]}}],
                "maritalStatus": {"text": "M"}, "_birthDate": {"extension": []}}"#,
        )
        .unwrap();
        assert_eq!(patient.name[0].given, ["Zoë"]);
        assert_eq!(patient.birth_date.as_deref(), Some("1980-02-29"));
        assert_eq!(patient.identifier[0].kind.as_ref().unwrap().coding[0].code.as_deref(), Some("MR"));
    }

    #[test]
    fn refuses_the_wrong_resource_type_and_non_json() {
        assert!(parse_resource::<Patient>(r#"{"resourceType": "Observation"}"#)
            .unwrap_err()
            .0
            .contains("got a Observation"));
        assert!(parse_resource::<Patient>("<html>").is_err());
        assert!(parse_resource::<Patient>("[]").is_err());
        assert!(parse_resource::<Patient>(r#"{"id": "x"}"#).is_err());
        // A field of the wrong shape is a malformed resource, not a panic.
        assert_eq!(
            parse_resource::<Patient>(r#"{"resourceType": "Patient", "name": "Bob"}"#).unwrap_err().0,
            "the Patient is malformed (name is not a list)"
        );
        assert_eq!(
            parse_resource::<Patient>(r#"{"resourceType": "Patient", "name": [{"given": ["A", 1]}]}"#).unwrap_err().0,
            "the Patient is malformed (name[0].given[1] is not a string)"
        );
    }

    #[test]
    fn reads_bundle_entries_next_link_and_skips_the_rest() {
        let page: Page<Condition> = parse_bundle(
            r#"{"resourceType": "Bundle", "type": "searchset", "total": 3,
                "link": [{"relation": "self", "url": "a"}, {"relation": "next", "url": "https://ehr/fhir/Condition?page=2"}],
                "entry": [
                  {"resource": {"resourceType": "Condition", "id": "c1", "code": {"text": "Asthma"}}},
                  {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}},
                  {"resource": {"resourceType": "Condition", "id": "c2", "code": "not an object"}},
                  {"fullUrl": "no resource"}
                ]}"#,
        )
        .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.skipped, 1);
        assert_eq!(page.next.as_deref(), Some("https://ehr/fhir/Condition?page=2"));
        assert_eq!(page.total, Some(3));
        let empty: Page<Condition> = parse_bundle(r#"{"resourceType": "Bundle"}"#).unwrap();
        assert!(empty.items.is_empty() && empty.next.is_none());
        assert!(parse_bundle::<Condition>(r#"{"resourceType": "Bundle", "entry": ["#).is_err());
    }

    #[test]
    fn read_urls_accept_only_fhir_ids() {
        let base = crate::url::HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        assert_eq!(
            read_url::<Patient>(&base, "p-1.2").unwrap().to_string(),
            "https://ehr.example.org/fhir/Patient/p-1.2"
        );
        assert_eq!(
            read_url::<Patient>(&base, "Patient/p1").unwrap().to_string(),
            "https://ehr.example.org/fhir/Patient/p1"
        );
        for bad in ["../../admin", "p1?x=1", "p 1", "", "..", &"a".repeat(65), "p1#f", "Zoë"] {
            assert!(read_url::<Patient>(&base, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_operation_outcome_diagnostics() {
        let text = outcome_text(
            r#"{"resourceType": "OperationOutcome", "issue": [{"severity": "error", "diagnostics": "<b>no</b> access"}, {"details": {"text": "second"}}]}"#,
        );
        assert_eq!(text.as_deref(), Some("<b>no</b> access; second"));
        assert_eq!(outcome_text(r#"{"resourceType": "Patient"}"#), None);
        assert_eq!(outcome_text("nope"), None);
    }
}
