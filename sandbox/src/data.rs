//! Synthetic, deterministic clinical data: the same records at every start.
//!
//! 28 patients (names with non-ASCII letters, one with markup in it, MRNs,
//! birth dates, genders) with encounters, conditions, vital signs and labs
//! over several years, medication requests, allergies and immunizations.
//! Two patients have more than 2,000 observations.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::state::{Faults, PressureForm, RangeForm};

/// A small deterministic generator (SplitMix64): no dependency, same
/// sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A value around `mean`, within ±`spread`.
    fn around(&mut self, mean: f64, spread: f64) -> f64 {
        let unit = (self.below(10_000) as f64) / 10_000.0;
        mean + (unit * 2.0 - 1.0) * spread
    }
}

/// The patient with records entered in error and a medication on hold.
pub const ERRORS_PATIENT: &str = "p003";

/// The MRN identifier system used by the sandbox EHR.
pub const MRN_SYSTEM: &str = "urn:oid:2.16.840.1.113883.19.5.99999.1";

const PATIENTS: &[(&str, &str, &str)] = &[
    ("Zoë", "Ōtani", "female"),
    ("José", "Álvarez García", "male"),
    ("Łukasz", "Wiśniewski", "male"),
    ("Søren", "Kierkegård", "male"),
    ("Thị Ánh", "Nguyễn", "female"),
    ("Siobhán", "Ó Briain", "female"),
    ("Jürgen", "Müller", "male"),
    ("Ólafur", "Þórsson", "male"),
    ("Amélie", "Lefèvre", "female"),
    ("Ngozi", "Okonkwo", "female"),
    ("Mateus", "Conceição", "male"),
    ("Aiyana", "Whitehorse", "female"),
    ("Dmitri", "Volkov", "male"),
    ("Fatima", "Al-Sayed", "female"),
    ("Hiroshi", "Tanaka", "male"),
    ("Priya", "Raghunathan", "female"),
    ("Chloé", "Dubois-Martin", "female"),
    ("Kwame", "Mensah", "male"),
    ("Ingrid", "Bergström", "female"),
    ("Rafael", "Núñez", "male"),
    ("Anaïs", "Kowalczyk", "female"),
    ("Tomasz", "Dąbrowski", "male"),
    ("Eleni", "Papadopoulou", "female"),
    ("Bjørn", "Halvorsen", "male"),
    ("Mei", "Chen", "female"),
    ("Alex", "Rivera", "other"),
    ("<img src=x onerror=alert(1)>Robert", "<b>Tables</b>", "male"),
    ("Grace", "O'Connor", "female"),
];

/// Practitioners who can launch the app from the EHR simulator.
pub const PRACTITIONERS: &[(&str, &str, &str)] = &[
    ("pr1", "Amara", "Okafor"),
    ("pr2", "Jonas", "Lindqvist"),
    ("pr3", "Miguel Ángel", "Torres"),
    ("pr4", "Helena", "Novák"),
];

const CONDITIONS: &[(&str, &str)] = &[
    ("44054006", "Diabetes mellitus type 2"),
    ("38341003", "Hypertensive disorder"),
    ("195967001", "Asthma"),
    ("55822004", "Hyperlipidemia"),
    ("35489007", "Depressive disorder"),
    ("239873007", "Osteoarthritis of knee"),
    ("40055000", "Chronic sinusitis"),
    ("230690007", "Cerebrovascular accident"),
    ("431855005", "Chronic kidney disease stage 1"),
    ("68496003", "Polyp of colon"),
];

const MEDICATIONS: &[(&str, &str, &str)] = &[
    (
        "860975",
        "Metformin hydrochloride 500 MG Extended Release Oral Tablet",
        "1 tablet by mouth twice daily with meals",
    ),
    ("314076", "Lisinopril 10 MG Oral Tablet", "1 tablet by mouth once daily"),
    ("617312", "Atorvastatin 20 MG Oral Tablet", "1 tablet by mouth at bedtime"),
    ("745679", "Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "2 puffs every 4 to 6 hours as needed"),
    ("197361", "Amlodipine 5 MG Oral Tablet", "1 tablet by mouth once daily"),
    ("310965", "Ibuprofen 200 MG Oral Tablet", "1 to 2 tablets every 6 hours as needed for pain"),
    ("312961", "Simvastatin 20 MG Oral Tablet", "1 tablet by mouth once daily"),
];

const ALLERGIES: &[(&str, &str, &str, &str)] = &[
    ("91936005", "Allergy to penicillin", "247472004", "Hives"),
    ("300913006", "Shellfish allergy", "39579001", "Anaphylaxis"),
    ("418689008", "Allergy to grass pollen", "76067001", "Sneezing"),
    ("714035009", "Allergy to soy", "271807003", "Skin rash"),
    ("232350006", "House dust mite allergy", "267036007", "Dyspnea"),
];

const VACCINES: &[(&str, &str)] = &[
    ("140", "Influenza, seasonal, injectable, preservative free"),
    ("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose"),
    ("115", "Tdap"),
    ("33", "Pneumococcal polysaccharide PPV23"),
];

/// Labs: LOINC code, display, unit, mean, spread.
const LABS: &[(&str, &str, &str, f64, f64)] = &[
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 105.0, 30.0),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 6.4, 1.2),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 1.0, 0.3),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 195.0, 40.0),
];

/// Labs added later, drawn from a generator of their own per patient so
/// that every record above stays as it was: LOINC code, display, unit,
/// mean, spread.
const MORE_LABS: &[(&str, &str, &str, f64, f64)] = &[
    ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 50.0, 16.0),
    ("1989-3", "25-Hydroxyvitamin D3+25-Hydroxyvitamin D2 [Mass/volume] in Serum or Plasma", "ng/mL", 32.0, 14.0),
];

/// Reference ranges of the labs: typical adult values, illustrative (LOINC
/// names the tests, it publishes no ranges): (low, high, text). FHIR R4
/// `Observation.referenceRange` allows a low or a high bound alone, or text
/// alone, and the labs use each: cholesterol has only a high bound, as labs
/// report it ("desirable below 200 mg/dL"), HDL only a low one ("40 mg/dL
/// or more"), vitamin D only text.
fn lab_range(code: &str) -> (Option<f64>, Option<f64>, Option<&'static str>) {
    match code {
        "2345-7" => (Some(70.0), Some(99.0), None),
        "4548-4" => (Some(4.0), Some(5.6), None),
        "2160-0" => (Some(0.6), Some(1.3), None),
        "2085-9" => (Some(40.0), None, None),
        "1989-3" => (None, None, Some("30–100 ng/mL (sufficiency)")),
        _ => (None, Some(200.0), None),
    }
}

/// A laboratory Observation of `subject` with its value, range and (for
/// glucose) interpretation.
fn lab_result(subject: &Value, code: &str, display: &str, unit: &str, value: f64, when: String) -> Value {
    let mut lab = json!({"resourceType": "Observation", "status": "final", "category": category("laboratory", "Laboratory"),
                         "code": coding("http://loinc.org", code, display), "subject": subject, "effectiveDateTime": when});
    lab["valueQuantity"] = quantity(value, unit);
    lab_assessment(&mut lab, code, value, unit);
    lab
}

/// `Observation.referenceRange` and, for glucose, the lab's own
/// `interpretation` (H, L or N from the ObservationInterpretation code
/// system FHIR R4 binds it to; it is optional, 0..*): the app flags the
/// other labs from the range itself.
fn lab_assessment(lab: &mut Value, code: &str, value: f64, unit: &str) {
    let (low, high, text) = lab_range(code);
    let mut range = json!({});
    if let Some(text) = text {
        range["text"] = json!(text);
    }
    if let Some(low) = low {
        range["low"] = quantity(low, unit);
    }
    if let Some(high) = high {
        range["high"] = quantity(high, unit);
    }
    lab["referenceRange"] = json!([range]);
    if code == "2345-7" {
        let (flag, display) = if high.is_some_and(|h| value > h) {
            ("H", "High")
        } else if low.is_some_and(|l| value < l) {
            ("L", "Low")
        } else {
            ("N", "Normal")
        };
        lab["interpretation"] = json!([coding(INTERPRETATION, flag, display)]);
    }
}

/// LOINC's blood pressure panel, the observation whose components carry
/// the systolic and diastolic values.
pub const BLOOD_PRESSURE_PANEL: &str = "85354-9";

/// Systolic and diastolic: low below the first, high from the second up
/// (90/60 and 140/90; 140/90 is stage 2 hypertension in the ACC/AHA 2017
/// guideline; illustrative). Values are whole mm[Hg].
const SYSTOLIC: (f64, f64) = (90.0, 140.0);
const DIASTOLIC: (f64, f64) = (60.0, 90.0);

/// A blood pressure component's interpretation, on the component (FHIR R4
/// `Observation.component.interpretation`; the panel has none of its own,
/// as EHRs send it): high from `high` up, low below `low`.
fn pressure_interpretation(value: f64, (low, high): (f64, f64)) -> Value {
    if value >= high {
        coding(INTERPRETATION, "H", "High")
    } else if value < low {
        coding(INTERPRETATION, "L", "Low")
    } else {
        coding(INTERPRETATION, "N", "Normal")
    }
}

/// A blood pressure panel ([`BLOOD_PRESSURE_PANEL`]) as `form` says it is out of
/// range, from the interpretations the sandbox puts on its components;
/// `None` for any other resource, or for [`PressureForm::Components`],
/// the form it is stored in. FHIR R4 allows each: an interpretation on
/// the panel itself (`Observation.interpretation`: the components' one
/// way, "A" for both ways), or reference ranges on the components
/// (`Observation.component.referenceRange`: the same bounds, so a value
/// is out of its range exactly when its interpretation said so).
pub fn blood_pressure_as(resource: &Value, form: PressureForm) -> Option<Value> {
    let panel = resource["code"]["coding"][0]["code"] == BLOOD_PRESSURE_PANEL;
    if !panel || form == PressureForm::Components {
        return None;
    }
    let mut resource = resource.clone();
    let components = resource["component"].as_array_mut()?;
    let codes: Vec<String> = components
        .iter_mut()
        .map(|c| {
            let code = c["interpretation"][0]["coding"][0]["code"].as_str().unwrap_or("N").to_string();
            c.as_object_mut().map(|c| c.remove("interpretation"));
            code
        })
        .collect();
    match form {
        PressureForm::Components => {}
        PressureForm::Panel => {
            let (high, low) = (codes.iter().any(|c| c == "H"), codes.iter().any(|c| c == "L"));
            let (code, display) = match (high, low) {
                (true, true) => ("A", "Abnormal"),
                (true, false) => ("H", "High"),
                (false, true) => ("L", "Low"),
                (false, false) => ("N", "Normal"),
            };
            resource["interpretation"] = json!([coding(INTERPRETATION, code, display)]);
        }
        PressureForm::Ranges => {
            for (component, (low, high)) in components.iter_mut().zip([SYSTOLIC, DIASTOLIC]) {
                // Whole mm[Hg]: high from `high` up is above `high - 1`.
                component["referenceRange"] =
                    json!([{"low": quantity(low, "mm[Hg]"), "high": quantity(high - 1.0, "mm[Hg]")}]);
            }
        }
    }
    Some(resource)
}

/// A lab result with its reference range given as `form` says; `None` for
/// any other resource, a lab without a range, or [`RangeForm::One`], the
/// form it is stored in. FHIR R4 allows several ranges (`referenceRange`
/// 0..*, read as alternatives: "OR"), each for a group of patients
/// (`appliesTo`; SNOMED CT's male and female, as FHIR's example value set
/// for it has), for an age (`age`), or with a meaning (`type`, from the
/// referencerange-meaning code system; normal when absent).
pub fn lab_ranges_as(resource: &Value, form: RangeForm) -> Option<Value> {
    let lab = resource["category"][0]["coding"][0]["code"] == "laboratory";
    let stored = resource["referenceRange"][0].as_object()?;
    if !lab {
        return None;
    }
    let scaled = |factor: f64| {
        let mut range = stored.clone();
        for bound in ["low", "high"] {
            if let Some(value) = range.get_mut(bound).and_then(|b| b.get_mut("value")) {
                *value = json!((value.as_f64().unwrap_or_default() * factor * 10.0).round() / 10.0);
            }
        }
        range
    };
    let for_sex = |mut range: serde_json::Map<String, Value>, code: &str, display: &str| {
        range.insert("appliesTo".into(), json!([coding("http://snomed.info/sct", code, display)]));
        Value::Object(range)
    };
    // `age` is a Range of ages; UCUM's "a" is a year.
    let for_age = |mut range: serde_json::Map<String, Value>, age: Value| {
        range.insert("age".into(), age);
        Value::Object(range)
    };
    let treatment = |mut range: serde_json::Map<String, Value>| {
        let meaning = "http://terminology.hl7.org/CodeSystem/referencerange-meaning";
        range.insert("type".into(), coding(meaning, "treatment", "Treatment Range"));
        Value::Object(range)
    };
    let ranges = match form {
        RangeForm::One => return None,
        RangeForm::PerSex => {
            vec![for_sex(stored.clone(), "248153007", "Male"), for_sex(stored.clone(), "248152002", "Female")]
        }
        RangeForm::PerSexDiffering => {
            vec![for_sex(stored.clone(), "248153007", "Male"), for_sex(scaled(0.9), "248152002", "Female")]
        }
        RangeForm::ByAge => vec![
            for_age(stored.clone(), json!({"low": quantity(18.0, "a")})),
            for_age(scaled(0.9), json!({"high": quantity(17.0, "a")})),
        ],
        RangeForm::WithTreatment => {
            let mut narrower = scaled(0.95);
            narrower.remove("text");
            vec![Value::Object(stored.clone()), treatment(narrower)]
        }
        RangeForm::TreatmentOnly => vec![treatment(stored.clone())],
    };
    let mut resource = resource.clone();
    resource["referenceRange"] = Value::Array(ranges);
    Some(resource)
}

/// A resource as the FHIR server serves it under `faults`' forms.
pub fn served(resource: &Value, faults: &Faults) -> Value {
    blood_pressure_as(resource, faults.pressure_form)
        .or_else(|| lab_ranges_as(resource, faults.lab_ranges))
        .unwrap_or_else(|| resource.clone())
}

/// HL7's ObservationInterpretation code system (FHIR R4).
pub const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// One resource store for both FHIR bases.
pub struct Store {
    /// Resources by type, in a stable order.
    pub resources: HashMap<&'static str, Vec<Value>>,
    index: HashMap<(String, String), usize>,
}

/// Days since 1970-01-01 to a calendar date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn date(days: i64) -> String {
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn date_time(days: i64, minutes: u64) -> String {
    format!("{}T{:02}:{:02}:00Z", date(days), (minutes / 60) % 24, minutes % 60)
}

/// "Today" for the data set: fixed, so the data never changes.
const TODAY: i64 = 20_600; // 2026-05-27

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"coding": [{"system": system, "code": code, "display": display}], "text": display})
}

fn category(code: &str, display: &str) -> Value {
    json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code, "display": display}]}])
}

fn quantity(value: f64, unit: &str) -> Value {
    json!({"value": (value * 10.0).round() / 10.0, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit})
}

impl Store {
    pub fn generate() -> Store {
        let mut rng = Rng(0x5EED_CAFE);
        let mut resources: HashMap<&'static str, Vec<Value>> = HashMap::new();
        let mut push = |kind: &'static str, value: Value| resources.entry(kind).or_default().push(value);

        for (id, given, family) in PRACTITIONERS {
            push(
                "Practitioner",
                json!({"resourceType": "Practitioner", "id": id, "active": true,
                       "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr."]}]}),
            );
        }

        for (index, (given, family, gender)) in PATIENTS.iter().enumerate() {
            let pid = format!("p{:03}", index + 1);
            let subject = json!({"reference": format!("Patient/{pid}")});
            let birth = TODAY - 365 * (18 + rng.below(70) as i64) - rng.below(365) as i64;
            push(
                "Patient",
                json!({
                    "resourceType": "Patient", "id": pid, "active": true,
                    "identifier": [{
                        "use": "usual",
                        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}]},
                        "system": MRN_SYSTEM, "value": format!("MRN-{}", 104_729 + index * 7_919)
                    }],
                    "name": [{"use": "official", "family": family, "given": given.split(' ').collect::<Vec<_>>()}],
                    "gender": gender, "birthDate": date(birth)
                }),
            );

            // Encounters over the last five years; the newest is in progress.
            let visits = 4 + rng.below(8) as i64;
            for v in 0..visits {
                let day = TODAY - (visits - v) * (1800 / visits) + rng.below(20) as i64;
                let (class, label) = *rng.pick(&[
                    ("AMB", "Office visit"),
                    ("AMB", "Follow-up visit"),
                    ("EMER", "Emergency department visit"),
                    ("IMP", "Hospital admission"),
                ]);
                push(
                    "Encounter",
                    json!({"resourceType": "Encounter", "id": format!("{pid}-enc-{v:02}"), "status": "finished",
                           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class},
                           "type": [{"text": label}], "subject": subject,
                           "period": {"start": date_time(day, 540), "end": date_time(day, 600)}}),
                );
            }
            push(
                "Encounter",
                json!({"resourceType": "Encounter", "id": format!("{pid}-enc-current"), "status": "in-progress",
                       "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                       "type": [{"text": "Office visit"}], "subject": subject,
                       "period": {"start": date_time(TODAY, 480)}}),
            );

            for c in 0..(1 + rng.below(4)) {
                let (code, display) = *rng.pick(CONDITIONS);
                let onset = TODAY - 100 - rng.below(3000) as i64;
                let active = rng.below(4) > 0;
                push(
                    "Condition",
                    json!({"resourceType": "Condition", "id": format!("{pid}-cond-{c}"),
                           "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", if active { "active" } else { "resolved" }, if active { "Active" } else { "Resolved" }),
                           "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
                           "category": [coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item")],
                           "code": coding("http://snomed.info/sct", code, display), "subject": subject,
                           "onsetDateTime": date(onset), "recordedDate": date(onset + 3)}),
                );
            }

            if pid == ERRORS_PATIENT {
                // Records entered in error (FHIR: not part of the record,
                // kept for audit), which the summary must not show, and a
                // medication on hold, shown after the active ones.
                push(
                    "Condition",
                    json!({"resourceType": "Condition", "id": format!("{pid}-cond-error"),
                           "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
                           "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "entered-in-error", "Entered in Error"),
                           "code": coding("http://snomed.info/sct", "22298006", "Myocardial infarction (entered in error)"),
                           "subject": subject, "onsetDateTime": date(TODAY - 10)}),
                );
                push(
                    "MedicationRequest",
                    json!({"resourceType": "MedicationRequest", "id": format!("{pid}-med-error"),
                           "status": "entered-in-error", "intent": "order",
                           "medicationCodeableConcept": coding("http://www.nlm.nih.gov/research/umls/rxnorm", "855332", "Warfarin Sodium 5 MG Oral Tablet (entered in error)"),
                           "subject": subject, "authoredOn": date(TODAY - 5)}),
                );
                push(
                    "MedicationRequest",
                    json!({"resourceType": "MedicationRequest", "id": format!("{pid}-med-hold"),
                           "status": "on-hold", "intent": "order",
                           "medicationCodeableConcept": coding("http://www.nlm.nih.gov/research/umls/rxnorm", "198211", "Simvastatin 40 MG Oral Tablet"),
                           "subject": subject, "authoredOn": date(TODAY - 2),
                           "dosageInstruction": [{"text": "held until liver tests are back"}]}),
                );
            }

            for m in 0..rng.below(5) {
                let (code, display, dosage) = *rng.pick(MEDICATIONS);
                push(
                    "MedicationRequest",
                    json!({"resourceType": "MedicationRequest", "id": format!("{pid}-med-{m}"),
                           "status": if rng.below(5) > 0 { "active" } else { "stopped" }, "intent": "order",
                           "medicationCodeableConcept": coding("http://www.nlm.nih.gov/research/umls/rxnorm", code, display),
                           "subject": subject, "authoredOn": date(TODAY - rng.below(900) as i64),
                           "dosageInstruction": [{"text": dosage}]}),
                );
            }

            for a in 0..rng.below(3) {
                let (code, display, reaction, reaction_display) = *rng.pick(ALLERGIES);
                push(
                    "AllergyIntolerance",
                    json!({"resourceType": "AllergyIntolerance", "id": format!("{pid}-alg-{a}"),
                           "clinicalStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"),
                           "verificationStatus": coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed"),
                           "criticality": *rng.pick(&["low", "high"]),
                           "code": coding("http://snomed.info/sct", code, display), "patient": subject,
                           "recordedDate": date(TODAY - rng.below(3000) as i64),
                           "reaction": [{"manifestation": [coding("http://snomed.info/sct", reaction, reaction_display)]}]}),
                );
            }

            for (i, (code, display)) in VACCINES.iter().enumerate() {
                if rng.below(3) == 0 {
                    continue;
                }
                push(
                    "Immunization",
                    json!({"resourceType": "Immunization", "id": format!("{pid}-imm-{i}"), "status": "completed",
                           "vaccineCode": coding("http://hl7.org/fhir/sid/cvx", code, display), "patient": subject,
                           "occurrenceDateTime": date(TODAY - rng.below(1500) as i64)}),
                );
            }

            // Vital signs: the first two patients are measured daily for
            // ~18 months (4 vitals a day: 2,000+ observations).
            let (readings, step) = if index < 2 { (540, 1) } else { (8 + rng.below(30) as i64, 45) };
            let weight_base = rng.around(78.0, 18.0);
            let height_m = rng.around(1.70, 0.12);
            let mut n = 0;
            let mut observation = |value: Value| {
                n += 1;
                let mut value = value;
                value["id"] = json!(format!("{pid}-obs-{n:05}"));
                value
            };
            for r in 0..readings {
                let day = TODAY - (readings - r) * step;
                let when = date_time(day, 500 + rng.below(300));
                let vital = |code: &str, display: &str| {
                    json!({"resourceType": "Observation", "status": "final", "category": category("vital-signs", "Vital Signs"),
                           "code": coding("http://loinc.org", code, display), "subject": subject, "effectiveDateTime": when})
                };
                let mut bp = vital(BLOOD_PRESSURE_PANEL, "Blood pressure panel with all children optional");
                let systolic = rng.around(128.0, 18.0).round();
                let diastolic = rng.around(80.0, 10.0).round();
                bp["component"] = json!([
                    {"code": coding("http://loinc.org", "8480-6", "Systolic blood pressure"), "valueQuantity": quantity(systolic, "mm[Hg]"),
                     "interpretation": [pressure_interpretation(systolic, SYSTOLIC)]},
                    {"code": coding("http://loinc.org", "8462-4", "Diastolic blood pressure"), "valueQuantity": quantity(diastolic, "mm[Hg]"),
                     "interpretation": [pressure_interpretation(diastolic, DIASTOLIC)]}
                ]);
                let mut hr = vital("8867-4", "Heart rate");
                hr["valueQuantity"] = quantity(rng.around(74.0, 12.0).round(), "/min");
                let weight = weight_base + rng.around(0.0, 2.5);
                let mut wt = vital("29463-7", "Body weight");
                wt["valueQuantity"] = quantity(weight, "kg");
                let mut bmi = vital("39156-5", "Body mass index (BMI) [Ratio]");
                bmi["valueQuantity"] = quantity(weight / (height_m * height_m), "kg/m2");
                for obs in [bp, hr, wt, bmi] {
                    push("Observation", observation(obs));
                }
            }
            for r in 0..(3 + rng.below(10) as i64) {
                let day = TODAY - r * 120 - rng.below(30) as i64;
                for (code, display, unit, mean, spread) in LABS {
                    if rng.below(2) == 0 {
                        continue;
                    }
                    let value = rng.around(*mean, *spread);
                    push(
                        "Observation",
                        observation(lab_result(&subject, code, display, unit, value, date_time(day, 450))),
                    );
                }
            }
            let mut more = Rng(0x00AB_5E00 + index as u64);
            for r in 0..(2 + more.below(4) as i64) {
                let day = TODAY - r * 180 - more.below(30) as i64;
                for (code, display, unit, mean, spread) in MORE_LABS {
                    let value = more.around(*mean, *spread);
                    push(
                        "Observation",
                        observation(lab_result(&subject, code, display, unit, value, date_time(day, 460))),
                    );
                }
            }
        }

        let mut index = HashMap::new();
        for (kind, list) in &resources {
            for (i, resource) in list.iter().enumerate() {
                index.insert((kind.to_string(), resource["id"].as_str().unwrap_or_default().to_string()), i);
            }
        }
        Store { resources, index }
    }

    pub fn read(&self, kind: &str, id: &str) -> Option<&Value> {
        let i = self.index.get(&(kind.to_string(), id.to_string()))?;
        self.resources.get(kind)?.get(*i)
    }

    pub fn all(&self, kind: &str) -> &[Value] {
        self.resources.get(kind).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn patient_ids(&self) -> Vec<String> {
        self.all("Patient").iter().filter_map(|p| p["id"].as_str().map(str::to_string)).collect()
    }
}

/// The patient a resource belongs to (its compartment), if any.
pub fn patient_of(resource: &Value) -> Option<String> {
    if resource["resourceType"] == "Patient" {
        return resource["id"].as_str().map(str::to_string);
    }
    ["subject", "patient"]
        .iter()
        .find_map(|field| resource[field]["reference"].as_str())
        .and_then(|r| r.strip_prefix("Patient/"))
        .map(str::to_string)
}

/// A display name: "Given Family".
pub fn display_name(resource: &Value) -> String {
    let name = &resource["name"][0];
    let given: Vec<&str> =
        name["given"].as_array().map(|g| g.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    format!("{} {}", given.join(" "), name["family"].as_str().unwrap_or_default()).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_set_is_deterministic_and_has_what_the_tests_need() {
        let a = Store::generate();
        let b = Store::generate();
        assert_eq!(a.all("Observation"), b.all("Observation"));
        assert!(a.all("Patient").len() >= 25);
        let count = |pid: &str| a.all("Observation").iter().filter(|o| patient_of(o).as_deref() == Some(pid)).count();
        assert!(count("p001") > 2000, "{}", count("p001"));
        assert!(count("p002") > 2000);
        assert!(count("p003") < 500);
        assert!(a.all("Patient").iter().any(|p| display_name(p).contains('<')), "a name with markup");
        assert!(a.all("Patient").iter().any(|p| !display_name(p).is_ascii()), "non-ASCII names");
        for kind in ["Encounter", "Condition", "MedicationRequest", "AllergyIntolerance", "Immunization"] {
            assert!(!a.all(kind).is_empty(), "{kind}");
        }
        assert_eq!(a.read("Patient", "p001").unwrap()["identifier"][0]["system"], MRN_SYSTEM);
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(TODAY), "2026-05-27");
    }

    #[test]
    fn a_blood_pressure_says_the_same_in_each_form() {
        let store = Store::generate();
        let panels: Vec<&Value> = store
            .all("Observation")
            .iter()
            .filter(|o| o["code"]["coding"][0]["code"] == BLOOD_PRESSURE_PANEL)
            .collect();
        let code = |v: &Value| v["interpretation"][0]["coding"][0]["code"].as_str().map(str::to_string);
        let mut seen = std::collections::BTreeSet::new();
        for stored in panels {
            assert_eq!(blood_pressure_as(stored, PressureForm::Components), None, "stored as it is served");
            let parts: Vec<String> = stored["component"].as_array().unwrap().iter().filter_map(code).collect();
            let panel = blood_pressure_as(stored, PressureForm::Panel).unwrap();
            let want = match (parts.iter().any(|c| c == "H"), parts.iter().any(|c| c == "L")) {
                (true, true) => "A",
                (true, false) => "H",
                (false, true) => "L",
                (false, false) => "N",
            };
            assert_eq!(code(&panel).as_deref(), Some(want), "{parts:?}");
            assert!(panel["component"].as_array().unwrap().iter().all(|c| c.get("interpretation").is_none()));
            seen.insert(want);
            let ranged = blood_pressure_as(stored, PressureForm::Ranges).unwrap();
            assert!(code(&ranged).is_none());
            for (part, was) in ranged["component"].as_array().unwrap().iter().zip(&parts) {
                assert!(part.get("interpretation").is_none());
                let value = part["valueQuantity"]["value"].as_f64().unwrap();
                let range = &part["referenceRange"][0];
                let (low, high) = (range["low"]["value"].as_f64().unwrap(), range["high"]["value"].as_f64().unwrap());
                let by_range = if value < low {
                    "L"
                } else if value > high {
                    "H"
                } else {
                    "N"
                };
                assert_eq!(by_range, was, "{value} against {low}–{high}");
            }
        }
        assert!(seen.contains("H") && seen.contains("N"), "high and normal pressures on record: {seen:?}");
        let heart_rate = store.all("Observation").iter().find(|o| o["code"]["coding"][0]["code"] == "8867-4").unwrap();
        assert_eq!(blood_pressure_as(heart_rate, PressureForm::Panel), None, "only blood pressures change");
    }

    #[test]
    fn labs_carry_ranges_some_out_of_them_and_one_patient_has_records_in_error() {
        let store = Store::generate();
        let labs: Vec<&Value> =
            store.all("Observation").iter().filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory").collect();
        assert!(labs.iter().all(|l| l["referenceRange"][0].is_object()));
        let outside = |l: &&&Value| {
            let v = l["valueQuantity"]["value"].as_f64().unwrap();
            let range = &l["referenceRange"][0];
            range["low"]["value"].as_f64().is_some_and(|low| v < low)
                || range["high"]["value"].as_f64().is_some_and(|high| v > high)
        };
        assert!(labs.iter().filter(outside).count() > 10, "labs out of range for the flags to show");
        // Each kind of range FHIR R4 allows: both bounds, one alone, text alone.
        let shaped = |low: bool, high: bool, text: bool| {
            labs.iter().any(|l| {
                let range = &l["referenceRange"][0];
                range["low"].is_object() == low
                    && range["high"].is_object() == high
                    && range["text"].is_string() == text
            })
        };
        assert!(shaped(true, true, false) && shaped(false, true, false));
        assert!(shaped(true, false, false) && shaped(false, false, true), "a low bound alone, and text alone");
        // Blood pressures carry their flags on their components, some high.
        let high_pressure = store.all("Observation").iter().filter(|o| {
            o["component"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["interpretation"][0]["coding"][0]["code"] == "H"))
        });
        assert!(high_pressure.count() > 10, "high blood pressures for the flags to show");
        let coded = |code: &str| labs.iter().any(|l| l["interpretation"][0]["coding"][0]["code"] == code);
        assert!(coded("H") && coded("N"), "glucose carries the lab's own interpretation");
        let of_errors_patient = |kind: &str, id: &str| {
            store.read(kind, &format!("{ERRORS_PATIENT}-{id}")).map(|r| patient_of(r).unwrap_or_default())
        };
        assert_eq!(of_errors_patient("Condition", "cond-error").as_deref(), Some(ERRORS_PATIENT));
        assert_eq!(of_errors_patient("MedicationRequest", "med-error").as_deref(), Some(ERRORS_PATIENT));
        assert_eq!(of_errors_patient("MedicationRequest", "med-hold").as_deref(), Some(ERRORS_PATIENT));
    }

    #[test]
    fn each_range_form_keeps_the_stored_range_for_some_patients() {
        let store = Store::generate();
        let labs: Vec<&Value> = store
            .all("Observation")
            .iter()
            .filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory")
            .take(200)
            .collect();
        assert!(!labs.is_empty());
        let heart_rate = store.all("Observation").iter().find(|o| o["code"]["coding"][0]["code"] == "8867-4").unwrap();
        for form in [
            RangeForm::PerSex,
            RangeForm::PerSexDiffering,
            RangeForm::ByAge,
            RangeForm::WithTreatment,
            RangeForm::TreatmentOnly,
        ] {
            assert_eq!(lab_ranges_as(heart_rate, form), None, "only labs change");
        }
        for lab in labs {
            let stored = &lab["referenceRange"][0];
            assert_eq!(lab_ranges_as(lab, RangeForm::One), None, "stored as it is served");
            let per_sex = lab_ranges_as(lab, RangeForm::PerSex).unwrap();
            let ranges = per_sex["referenceRange"].as_array().unwrap();
            assert_eq!(ranges.len(), 2);
            for range in ranges {
                assert_eq!(
                    (&range["low"], &range["high"], &range["text"]),
                    (&stored["low"], &stored["high"], &stored["text"])
                );
                assert_eq!(range["appliesTo"][0]["coding"][0]["system"], "http://snomed.info/sct");
            }
            let differing = lab_ranges_as(lab, RangeForm::PerSexDiffering).unwrap();
            let [male, female] = [&differing["referenceRange"][0], &differing["referenceRange"][1]];
            assert_eq!((&male["low"], &male["high"]), (&stored["low"], &stored["high"]));
            if stored["high"].is_object() {
                assert!(female["high"]["value"].as_f64() < stored["high"]["value"].as_f64(), "{female}");
            }
            let by_age = lab_ranges_as(lab, RangeForm::ByAge).unwrap();
            let [adult, child] = [&by_age["referenceRange"][0], &by_age["referenceRange"][1]];
            assert_eq!((&adult["low"], &adult["high"]), (&stored["low"], &stored["high"]));
            assert_eq!(
                (adult["age"]["low"]["value"].as_f64(), child["age"]["high"]["value"].as_f64()),
                (Some(18.0), Some(17.0))
            );
            let treated = lab_ranges_as(lab, RangeForm::WithTreatment).unwrap();
            assert_eq!(&treated["referenceRange"][0], stored, "the normal range first, as stored");
            assert_eq!(treated["referenceRange"][1]["type"]["coding"][0]["code"], "treatment");
            let treatment_only = lab_ranges_as(lab, RangeForm::TreatmentOnly).unwrap();
            let [only] = treatment_only["referenceRange"].as_array().unwrap().as_slice() else { panic!("one range") };
            assert_eq!(
                (&only["low"], &only["high"], &only["text"]),
                (&stored["low"], &stored["high"], &stored["text"])
            );
            assert_eq!(only["type"]["coding"][0]["code"], "treatment");
        }
    }
}
