//! The clinical summary's sections: what each one searches, which scope it
//! needs, and how a page of results becomes rows of text.

use super::display::{concept_text, date_text, decimal, observation_number, observation_time, observation_value};
use super::models::{
    parse_bundle_as, AllergyIntolerance, Condition, Encounter, MedicationRequest, Observation, Page, ParseError,
    Resource,
};
use crate::json::{JsonError, Object};
use crate::url::HttpUrl;

/// One line of a section.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub title: String,
    pub detail: String,
    pub date: String,
    /// The numeric value, for trends (systolic for blood pressure).
    pub value: Option<f64>,
    /// Earlier values of the same test, oldest first, ending with this one
    /// (vital signs only).
    pub trend: Vec<f64>,
}

impl Row {
    fn text(title: String, detail: String, date: String) -> Row {
        Row { title, detail, date, value: None, trend: Vec::new() }
    }
}

/// The sections of the summary, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Conditions,
    Medications,
    Allergies,
    VitalSigns,
    Labs,
    Encounters,
}

/// Pages followed at most per section: enough for a summary, bounded for
/// a patient with thousands of records.
pub const MAX_PAGES: usize = 5;

impl Section {
    pub const ALL: [Section; 6] = [
        Section::Conditions,
        Section::Medications,
        Section::Allergies,
        Section::VitalSigns,
        Section::Labs,
        Section::Encounters,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Conditions => "Conditions",
            Section::Medications => "Medications",
            Section::Allergies => "Allergies",
            Section::VitalSigns => "Vital signs",
            Section::Labs => "Laboratory results",
            Section::Encounters => "Encounters",
        }
    }

    /// A stable identifier, for element ids.
    pub fn slug(self) -> &'static str {
        match self {
            Section::Conditions => "conditions",
            Section::Medications => "medications",
            Section::Allergies => "allergies",
            Section::VitalSigns => "vital-signs",
            Section::Labs => "labs",
            Section::Encounters => "encounters",
        }
    }

    /// The FHIR resource type searched (and the scope needed for it).
    pub fn resource_type(self) -> &'static str {
        match self {
            Section::Conditions => Condition::TYPE,
            Section::Medications => MedicationRequest::TYPE,
            Section::Allergies => AllergyIntolerance::TYPE,
            Section::VitalSigns | Section::Labs => Observation::TYPE,
            Section::Encounters => Encounter::TYPE,
        }
    }

    /// The first search URL for `patient` on `fhir_base`.
    pub fn search_url(self, fhir_base: &HttpUrl, patient: &str) -> HttpUrl {
        let base = fhir_base.join_path(self.resource_type());
        let patient = patient.strip_prefix("Patient/").unwrap_or(patient);
        let params: &[(&str, &str)] = match self {
            Section::Conditions | Section::Medications | Section::Allergies => &[("_count", "100")],
            Section::VitalSigns => &[("category", "vital-signs"), ("_sort", "-date"), ("_count", "200")],
            Section::Labs => &[("category", "laboratory"), ("_sort", "-date"), ("_count", "100")],
            Section::Encounters => &[("_sort", "-date"), ("_count", "20")],
        };
        base.with_query_pairs(std::iter::once(("patient", patient)).chain(params.iter().copied()))
    }

    /// Whether the section stops after its first page (the newest results
    /// are all a summary shows).
    pub fn first_page_only(self) -> bool {
        matches!(self, Section::VitalSigns | Section::Labs | Section::Encounters)
    }

    /// Rows from one page of search results.
    pub fn rows(self, body: &str) -> Result<Page<Row>, ParseError> {
        match self {
            Section::Conditions => page(body, |c: &Condition| {
                Row::text(
                    concept_text(c.code.as_ref()),
                    c.clinical_status.as_ref().map(|s| concept_text(Some(s))).unwrap_or_default(),
                    date_text(c.onset_date_time.as_deref().or(c.recorded_date.as_deref())),
                )
            }),
            Section::Medications => page(body, |m: &MedicationRequest| {
                Row::text(
                    m.medication_codeable_concept
                        .as_ref()
                        .map(|c| concept_text(Some(c)))
                        .or_else(|| m.medication_reference.as_ref().and_then(|r| r.display.clone()))
                        .unwrap_or_else(|| "Unnamed medication".into()),
                    [m.status.clone(), m.dosage_instruction.first().and_then(|d| d.text.clone())]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" · "),
                    date_text(m.authored_on.as_deref()),
                )
            }),
            Section::Allergies => page(body, |a: &AllergyIntolerance| {
                let mut parts: Vec<String> =
                    a.reaction.iter().flat_map(|r| r.manifestation.iter()).map(|m| concept_text(Some(m))).collect();
                if let Some(c) = &a.criticality {
                    parts.push(format!("criticality {c}"));
                }
                Row::text(concept_text(a.code.as_ref()), parts.join(" · "), String::new())
            }),
            Section::VitalSigns | Section::Labs => page(body, |o: &Observation| Row {
                value: observation_number(o),
                ..Row::text(concept_text(o.code.as_ref()), observation_value(o), date_text(observation_time(o)))
            }),
            Section::Encounters => page(body, |e: &Encounter| {
                Row::text(
                    e.kind.first().map(|k| concept_text(Some(k))).unwrap_or_else(|| "Encounter".into()),
                    e.status.clone().unwrap_or_default(),
                    date_text(e.period.as_ref().and_then(|p| p.start.as_deref())),
                )
            }),
        }
    }

    /// Final shaping: vitals and labs show the newest value per test (rows
    /// arrive newest first); vitals also carry their trend, oldest first.
    pub fn finish(self, rows: Vec<Row>) -> Vec<Row> {
        match self {
            Section::VitalSigns | Section::Labs => {
                let mut newest: Vec<Row> = Vec::new();
                for row in rows {
                    match newest.iter_mut().find(|n| n.title == row.title) {
                        Some(kept) => kept.trend.extend(row.value),
                        None => {
                            let mut kept = row;
                            kept.trend.extend(kept.value);
                            newest.push(kept);
                        }
                    }
                }
                for row in &mut newest {
                    row.trend.reverse();
                    if self == Section::Labs {
                        row.trend.clear();
                    }
                }
                newest
            }
            _ => rows,
        }
    }
}

/// Rows from a page of `T`s: the Bundle is parsed by one non-generic
/// function, and only the reading of a `T` and its row is per type.
fn page<T: Resource>(body: &str, to_row: fn(&T) -> Row) -> Result<Page<Row>, ParseError> {
    let read = |o: Object<'_>| -> Result<Row, JsonError> { T::read(o).map(|item| to_row(&item)) };
    parse_bundle_as(body, T::TYPE, &read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_search_urls_per_section() {
        let base = HttpUrl::parse("https://ehr.example.org/fhir").unwrap();
        assert_eq!(
            Section::VitalSigns.search_url(&base, "Patient/p 1").to_string(),
            "https://ehr.example.org/fhir/Observation?patient=p%201&category=vital-signs&_sort=-date&_count=200"
        );
        assert_eq!(
            Section::Conditions.search_url(&base, "p1").to_string(),
            "https://ehr.example.org/fhir/Condition?patient=p1&_count=100"
        );
        assert_eq!(Section::Medications.resource_type(), "MedicationRequest");
    }

    #[test]
    fn vitals_keep_the_newest_value_per_test() {
        let body = r#"{"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Observation", "code": {"text": "Heart rate"}, "valueQuantity": {"value": 80, "unit": "/min"}, "effectiveDateTime": "2026-05-02"}},
            {"resource": {"resourceType": "Observation", "code": {"text": "Body weight"}, "valueQuantity": {"value": 70.5, "unit": "kg"}, "effectiveDateTime": "2026-05-01"}},
            {"resource": {"resourceType": "Observation", "code": {"text": "Heart rate"}, "valueQuantity": {"value": 60, "unit": "/min"}, "effectiveDateTime": "2026-04-01"}}]}"#;
        let rows = Section::VitalSigns.finish(Section::VitalSigns.rows(body).unwrap().items);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].title.as_str(), rows[0].detail.as_str(), rows[0].date.as_str()),
            ("Heart rate", "80 /min", "2026-05-02")
        );
        assert_eq!(rows[0].trend, [60.0, 80.0], "oldest first");
        assert_eq!(rows[1].trend, [70.5]);
        let labs = Section::Labs.finish(Section::Labs.rows(body).unwrap().items);
        assert!(labs.iter().all(|r| r.trend.is_empty()), "labs show no trend");
    }

    #[test]
    fn medication_and_allergy_rows_read_naturally() {
        let meds = Section::Medications
            .rows(r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest", "status": "active",
                "medicationCodeableConcept": {"text": "Metformin 500 MG"}, "dosageInstruction": [{"text": "twice daily"}], "authoredOn": "2025-01-02"}}]}"#)
            .unwrap();
        assert_eq!(
            meds.items[0],
            Row::text("Metformin 500 MG".into(), "active · twice daily".into(), "2025-01-02".into())
        );
        let allergies = Section::Allergies
            .rows(r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "AllergyIntolerance", "criticality": "high",
                "code": {"text": "Penicillin"}, "reaction": [{"manifestation": [{"text": "Hives"}]}]}}]}"#)
            .unwrap();
        assert_eq!(allergies.items[0].detail, "Hives · criticality high");
        assert!(Section::Encounters.rows("not json").is_err());
    }
}

/// The `points` of an SVG polyline drawing `values` (oldest first) in a
/// `width` × `height` box: evenly spaced, scaled to their own range (a
/// flat series runs through the middle), y growing downwards as in SVG.
pub fn sparkline_points(values: &[f64], width: f64, height: f64) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < 2 {
        return String::new();
    }
    let (min, max) = finite.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let step = width / (finite.len() - 1) as f64;
    finite
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let y = if max > min { height - (v - min) / (max - min) * height } else { height / 2.0 };
            format!("{},{}", decimal(i as f64 * step, 1), decimal(y, 1))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod sparkline_tests {
    use super::*;

    #[test]
    fn scales_points_into_the_box() {
        assert_eq!(sparkline_points(&[1.0, 3.0, 2.0], 100.0, 20.0), "0,20 50,0 100,10");
        assert_eq!(sparkline_points(&[1.0, 2.0, 3.0, 4.0], 10.0, 3.0), "0,3 3.3,2 6.7,1 10,0");
        assert_eq!(sparkline_points(&[5.0, 5.0], 10.0, 20.0), "0,10 10,10");
        assert_eq!(sparkline_points(&[5.0], 10.0, 20.0), "");
        assert_eq!(sparkline_points(&[f64::NAN, 1.0, f64::INFINITY], 10.0, 20.0), "");
    }
}
