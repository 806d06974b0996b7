//! The clinical summary's sections: what each one searches, which scope it
//! needs, and how a page of results becomes rows of text.

use super::display::{
    concept_text, date_text, has_code, instant, number, observation_number, observation_time, observation_value,
};
use super::flags::{assess, Flag};
use super::models::{
    parse_bundle_as, AllergyIntolerance, Condition, Encounter, MedicationRequest, Observation, Page, ParseError,
    Resource,
};
use crate::json::{JsonError, Object};
use crate::url::HttpUrl;
use std::cmp::Reverse;

/// One line of a section.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub title: String,
    pub detail: String,
    pub date: String,
    /// When, for ordering (seconds since 1970 UTC): from the record's own
    /// date, never from where the server put it. `None`: undated, shown
    /// last.
    pub at: Option<i64>,
    /// The numeric value, for trends (systolic for blood pressure).
    pub value: Option<f64>,
    /// Earlier values of the same test, oldest first, ending with this one
    /// (vital signs only).
    pub trend: Vec<f64>,
    /// Where the row goes: [`Standing::Current`] first, then the rest set
    /// apart; entered in error, not at all.
    pub standing: Standing,
    /// Words to stand out beside the value: an abnormal result's flag
    /// ("↑ High"), the launch's current encounter.
    pub mark: Option<&'static str>,
}

/// Whether a condition or medication is current (FHIR's status values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// Active, or a recurrence or relapse; or no status given.
    #[default]
    Current,
    /// Resolved, inactive or in remission; on hold, stopped, completed,
    /// cancelled, a draft.
    Past,
    /// Entered in error: not part of the record.
    Error,
}

impl Row {
    /// A row dated by the record's own date (or time) text, if any.
    fn dated(title: String, detail: String, when: Option<&str>) -> Row {
        Row {
            title,
            detail,
            date: date_text(when),
            at: when.and_then(instant),
            value: None,
            trend: Vec::new(),
            standing: Standing::Current,
            mark: None,
        }
    }
}

/// How far a section reads its search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Pages followed at most.
    pub max_pages: usize,
    /// No page is asked for once this many records are in.
    pub max_records: usize,
}

impl Reading {
    /// At most `max_pages` pages, whatever their order.
    pub const fn pages(max_pages: usize) -> Reading {
        Reading { max_pages, max_records: usize::MAX }
    }
}

/// Whether a search's `self` link says the server applied `_sort=-date`.
/// A server may ignore a sort it does not support, and says which
/// parameters it applied in the Bundle's `self` link (FHIR R4 search
/// §3.1.1.1); without that word, the records are taken as unordered.
pub fn applied_newest_first(self_link: Option<&str>) -> bool {
    let query = self_link.and_then(|link| link.split_once('?')).map_or("", |(_, query)| query);
    crate::route::query_value(query, "_sort").is_some_and(|sort| sort.split(',').next() == Some("-date"))
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

/// What a dated section reads at most when the server did not sort its
/// answer newest first: every record has to be seen to know the newest,
/// so the bound is in records, with enough pages for servers that cap
/// their pages small (50 is common).
pub const MAX_DATED_RECORDS: usize = 1000;
pub const MAX_DATED_PAGES: usize = 20;

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

    /// The first search URL for `patient` on `fhir_base`. It asks for no
    /// order: a sort can cost a server more than the whole answer (one
    /// took 190 ms a page, issue #15), and when the record fits in one
    /// page the rows are ordered here, by their own dates, exactly.
    pub fn search_url(self, fhir_base: &HttpUrl, patient: &str) -> HttpUrl {
        let base = fhir_base.join_path(self.resource_type());
        let patient = patient.strip_prefix("Patient/").unwrap_or(patient);
        let params: &[(&str, &str)] = match self {
            Section::Conditions | Section::Medications | Section::Allergies => &[("_count", "100")],
            Section::VitalSigns => &[("category", "vital-signs"), ("_count", "200")],
            Section::Labs => &[("category", "laboratory"), ("_count", "200")],
            Section::Encounters => &[("_count", "50")],
        };
        base.with_query_pairs(std::iter::once(("patient", patient)).chain(params.iter().copied()))
    }

    /// For a dated section, the same search sorted newest first: asked
    /// only when the first answer shows the record runs past one page, and
    /// then beside the unsorted second page (see `SessionHandle::search`),
    /// because only the newest records matter, and a server that sorts
    /// gives them in one page (`applied_newest_first` says whether it did).
    pub fn sorted_url(self, fhir_base: &HttpUrl, patient: &str) -> Option<HttpUrl> {
        self.is_dated().then(|| self.search_url(fhir_base, patient).with_query_pairs([("_sort", "-date")]))
    }

    /// Whether the section's newest records are the ones that matter.
    fn is_dated(self) -> bool {
        matches!(self, Section::VitalSigns | Section::Labs | Section::Encounters)
    }

    /// How far the section reads: a dated section must see every record
    /// to know the newest when the server does not sort them, so its bound
    /// is in records.
    pub fn reading(self) -> Reading {
        if self.is_dated() {
            Reading { max_pages: MAX_DATED_PAGES, max_records: MAX_DATED_RECORDS }
        } else {
            Reading::pages(MAX_PAGES)
        }
    }

    /// What a section read, when a bound stopped it before the server's
    /// last page: `read` records, sorted newest first by the server or not.
    pub fn coverage(self, read: usize, newest_first: bool) -> String {
        let (lead, rest) = match (self.is_dated(), newest_first) {
            (true, true) => ("From the", "most recent records; older records were not read."),
            (true, false) => {
                ("From", "records; the server did not sort them by date, so newer ones may be among the rest.")
            }
            (false, _) => ("The first", "records; the server has more."),
        };
        format!("{lead} {read} {rest}")
    }

    /// Rows from one page of search results; `current_encounter` (the
    /// launch's, `Encounter/id` or `id`) is marked in the encounters.
    pub fn rows(self, body: &str, current_encounter: Option<&str>) -> Result<Page<Row>, ParseError> {
        match self {
            Section::Conditions => page(body, |c: &Condition| {
                let current = ["active", "recurrence", "relapse"];
                let standing = if has_code(c.verification_status.as_ref(), "entered-in-error") {
                    Standing::Error
                } else if c.clinical_status.is_none() || current.iter().any(|s| has_code(c.clinical_status.as_ref(), s))
                {
                    Standing::Current
                } else {
                    Standing::Past
                };
                Row {
                    standing,
                    ..Row::dated(
                        concept_text(c.code.as_ref()),
                        c.clinical_status.as_ref().map(|s| concept_text(Some(s))).unwrap_or_default(),
                        c.onset_date_time.as_deref().or(c.recorded_date.as_deref()),
                    )
                }
            }),
            Section::Medications => page(body, |m: &MedicationRequest| Row {
                standing: match m.status.as_deref() {
                    None | Some("active") => Standing::Current,
                    Some("entered-in-error") => Standing::Error,
                    Some(_) => Standing::Past,
                },
                ..Row::dated(
                    m.medication_codeable_concept
                        .as_ref()
                        .map(|c| concept_text(Some(c)))
                        .or_else(|| m.medication_reference.as_ref().and_then(|r| r.display.clone()))
                        .unwrap_or_else(|| "Unnamed medication".into()),
                    joined(&[m.status.clone(), m.dosage_instruction.first().and_then(|d| d.text.clone())]),
                    m.authored_on.as_deref(),
                )
            }),
            Section::Allergies => page(body, |a: &AllergyIntolerance| {
                let mut parts: Vec<String> =
                    a.reaction.iter().flat_map(|r| r.manifestation.iter()).map(|m| concept_text(Some(m))).collect();
                if let Some(c) = &a.criticality {
                    parts.push(format!("criticality {c}"));
                }
                Row { date: String::new(), ..Row::dated(concept_text(a.code.as_ref()), parts.join(" · "), None) }
            }),
            Section::VitalSigns | Section::Labs => page(body, |o: &Observation| {
                let assessment = assess(o);
                let detail = [Some(observation_value(o)), assessment.range, assessment.said];
                Row {
                    value: observation_number(o),
                    mark: assessment.flag.map(Flag::label),
                    ..Row::dated(concept_text(o.code.as_ref()), joined(&detail), observation_time(o))
                }
            }),
            Section::Encounters => {
                // Not through `page`: this row needs the launch's encounter.
                let current = current_encounter.map(|e| e.strip_prefix("Encounter/").unwrap_or(e));
                let read = |o: Object<'_>| -> Result<Row, JsonError> {
                    let e = <Encounter as crate::json::FromJson>::read(o)?;
                    Ok(Row {
                        mark: (current.is_some() && e.id.as_deref() == current).then_some("Current encounter"),
                        ..Row::dated(
                            e.kind.first().map(|k| concept_text(Some(k))).unwrap_or_else(|| "Encounter".into()),
                            e.status.unwrap_or_default(),
                            e.period.as_ref().and_then(|p| p.start.as_deref()),
                        )
                    })
                };
                parse_bundle_as(body, Encounter::TYPE, &read)
            }
        }
    }

    /// Final shaping: the dated sections newest first by each record's own
    /// date, whatever order the server gave (undated records last); vitals
    /// and labs the newest value per test, vitals with their trend, oldest
    /// first.
    pub fn finish(self, mut rows: Vec<Row>) -> Vec<Row> {
        if self != Section::Allergies {
            // Current first (the dated sections' rows all are), then the
            // rest set apart; newest first in each; errors left out.
            rows.retain(|row| row.standing != Standing::Error);
            rows = in_order(rows, |row| (row.standing, Reverse(row.at)));
        }
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

/// The parts given, between middle dots.
fn joined(parts: &[Option<String>]) -> String {
    parts.iter().flatten().map(String::as_str).collect::<Vec<_>>().join(" · ")
}

/// `rows` in the order of `key`; rows with equal keys keep their order.
/// By binary insertion rather than `sort_by`: a few hundred rows take
/// microseconds either way, and the standard library's sort adds
/// kilobytes to the wasm (bench/README.md).
fn in_order(rows: Vec<Row>, key: fn(&Row) -> (Standing, Reverse<Option<i64>>)) -> Vec<Row> {
    let mut ordered: Vec<Row> = Vec::with_capacity(rows.len());
    for row in rows {
        let at = ordered.partition_point(|kept| key(kept) <= key(&row));
        ordered.insert(at, row);
    }
    ordered
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
            "https://ehr.example.org/fhir/Observation?patient=p%201&category=vital-signs&_count=200"
        );
        assert_eq!(
            Section::Encounters.sorted_url(&base, "p1").unwrap().to_string(),
            "https://ehr.example.org/fhir/Encounter?patient=p1&_count=50&_sort=-date"
        );
        assert_eq!(Section::Conditions.sorted_url(&base, "p1"), None, "not a dated section");
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
        let rows = Section::VitalSigns.finish(Section::VitalSigns.rows(body, None).unwrap().items);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].title.as_str(), rows[0].detail.as_str(), rows[0].date.as_str()),
            ("Heart rate", "80 /min", "2026-05-02")
        );
        assert_eq!(rows[0].trend, [60.0, 80.0], "oldest first");
        assert_eq!(rows[1].trend, [70.5]);
        let labs = Section::Labs.finish(Section::Labs.rows(body, None).unwrap().items);
        assert!(labs.iter().all(|r| r.trend.is_empty()), "labs show no trend");
    }

    /// A Bundle of heart rates (value, time) in the order given.
    fn heart_rates(readings: &[(u32, &str)]) -> String {
        let entries: Vec<String> = readings
            .iter()
            .map(|(value, at)| {
                let effective = if at.is_empty() { String::new() } else { format!(r#", "effectiveDateTime": "{at}""#) };
                format!(
                    r#"{{"resource": {{"resourceType": "Observation", "code": {{"text": "Heart rate"}}, "valueQuantity": {{"value": {value}, "unit": "/min"}}{effective}}}}}"#
                )
            })
            .collect();
        format!(r#"{{"resourceType": "Bundle", "entry": [{}]}}"#, entries.join(","))
    }

    #[test]
    fn the_newest_value_comes_from_the_records_dates_in_any_order() {
        // 61 is the newest: 23:30 at -02:00 is 01:30 UTC the next day.
        let readings =
            [(70, "2025-05-01"), (61, "2026-05-02T23:30:00-02:00"), (65, "2026-05-03T00:30:00Z"), (90, "2024")];
        let mut orders = vec![readings.to_vec()];
        orders.push(readings.iter().rev().copied().collect());
        orders.push(vec![readings[2], readings[0], readings[3], readings[1]]);
        for order in orders {
            for section in [Section::VitalSigns, Section::Labs] {
                let rows = section.finish(section.rows(&heart_rates(&order), None).unwrap().items);
                assert_eq!(rows.len(), 1);
                assert_eq!((rows[0].detail.as_str(), rows[0].date.as_str()), ("61 /min", "2026-05-02"), "{order:?}");
            }
            let vitals =
                Section::VitalSigns.finish(Section::VitalSigns.rows(&heart_rates(&order), None).unwrap().items);
            assert_eq!(vitals[0].trend, [90.0, 70.0, 65.0, 61.0], "oldest first: {order:?}");
        }
    }

    #[test]
    fn undated_records_come_last_and_say_so() {
        let rows = Section::Labs.rows(&heart_rates(&[(50, ""), (60, "2020-01-01")]), None).unwrap().items;
        let rows = Section::VitalSigns.finish(rows);
        assert_eq!(rows[0].detail, "60 /min", "a dated value is newer than an undated one");
        let undated = Section::Encounters.rows(
            r#"{"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Encounter", "status": "finished"}},
            {"resource": {"resourceType": "Encounter", "status": "finished", "period": {"start": "2026-01-01"}}}]}"#,
            None,
        );
        let rows = Section::Encounters.finish(undated.unwrap().items);
        assert_eq!(rows.iter().map(|r| r.date.as_str()).collect::<Vec<_>>(), ["2026-01-01", "date not recorded"]);
    }

    #[test]
    fn the_launch_encounter_is_marked_and_no_other() {
        let body = r#"{"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Encounter", "id": "e-2", "period": {"start": "2026-02-01"}}},
            {"resource": {"resourceType": "Encounter", "id": "e-1", "period": {"start": "2026-01-01"}}},
            {"resource": {"resourceType": "Encounter", "period": {"start": "2025-01-01"}}}]}"#;
        let marks = |current| {
            let rows = Section::Encounters.finish(Section::Encounters.rows(body, current).unwrap().items);
            rows.iter().map(|r| r.mark).collect::<Vec<_>>()
        };
        assert_eq!(marks(Some("e-1")), [None, Some("Current encounter"), None]);
        assert_eq!(marks(Some("Encounter/e-2")), [Some("Current encounter"), None, None]);
        assert_eq!(marks(None), [None, None, None], "no encounter in the launch: none marked (not the one without id)");
        assert_eq!(marks(Some("e-9")), [None, None, None]);
    }

    #[test]
    fn results_carry_their_flag_and_range_with_the_newest_value() {
        let body = r#"{"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Observation", "code": {"text": "Potassium"}, "effectiveDateTime": "2026-01-01",
              "valueQuantity": {"value": 4.0, "unit": "mmol/L"},
              "referenceRange": [{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.1, "unit": "mmol/L"}}]}},
            {"resource": {"resourceType": "Observation", "code": {"text": "Potassium"}, "effectiveDateTime": "2026-03-01",
              "valueQuantity": {"value": 6.3, "unit": "mmol/L"},
              "referenceRange": [{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.1, "unit": "mmol/L"}}]}},
            {"resource": {"resourceType": "Observation", "code": {"text": "Culture"}, "effectiveDateTime": "2026-03-01",
              "valueString": "E. coli", "interpretation": [{"coding": [{"code": "R", "display": "Resistant"}]}]}},
            {"resource": {"resourceType": "Observation", "code": {"text": "Glucose"}, "effectiveDateTime": "2026-03-01",
              "valueQuantity": {"value": 2.1, "unit": "mmol/L"},
              "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "LL"}]}]}}]}"#;
        let rows = Section::Labs.finish(Section::Labs.rows(body, None).unwrap().items);
        let shown: Vec<_> = rows.iter().map(|r| (r.title.as_str(), r.detail.as_str(), r.mark)).collect();
        assert_eq!(
            shown,
            [
                ("Potassium", "6.3 mmol/L · normal 3.5–5.1 mmol/L", Some("↑ High")),
                ("Culture", "E. coli · Resistant", None),
                ("Glucose", "2.1 mmol/L", Some("↓↓ Critically low")),
            ]
        );
    }

    #[test]
    fn the_self_link_says_whether_the_server_sorted() {
        let sorted = |link: &str| applied_newest_first(Some(link));
        assert!(sorted("https://x/fhir/Observation?patient=p&_sort=-date&_count=50"));
        assert!(sorted("https://x/fhir/Observation?_sort=-date,_id"));
        assert!(!sorted("https://x/fhir/Observation?patient=p&_count=50"), "the sort was ignored");
        assert!(!sorted("https://x/fhir/Observation?_sort=date"), "oldest first");
        assert!(!sorted("https://x/fhir/Observation"));
        assert!(!applied_newest_first(None), "no self link: nothing is known");
        let page = Section::Labs.rows(r#"{"resourceType": "Bundle", "link": [{"relation": "self", "url": "https://x/O?_sort=-date"}, {"relation": "next", "url": "https://x/O?page=2"}]}"#, None);
        let page = page.unwrap();
        assert_eq!(
            (page.self_link.as_deref(), page.next.as_deref()),
            (Some("https://x/O?_sort=-date"), Some("https://x/O?page=2"))
        );
    }

    #[test]
    fn current_conditions_and_medications_come_first_and_errors_are_left_out() {
        let condition = |name: &str, clinical: &str, verification: &str, onset: &str| {
            let clinical = if clinical.is_empty() {
                String::new()
            } else {
                format!(r#", "clinicalStatus": {{"coding": [{{"code": "{clinical}"}}]}}"#)
            };
            format!(
                r#"{{"resource": {{"resourceType": "Condition", "code": {{"text": "{name}"}}, "onsetDateTime": "{onset}",
                    "verificationStatus": {{"coding": [{{"code": "{verification}"}}]}}{clinical}}}}}"#
            )
        };
        let body = format!(
            r#"{{"resourceType": "Bundle", "entry": [{}]}}"#,
            [
                condition("Asthma", "resolved", "confirmed", "2025-01-01"),
                condition("Diabetes", "active", "confirmed", "2010-01-01"),
                condition("Typo", "active", "entered-in-error", "2026-01-01"),
                condition("Migraine", "relapse", "confirmed", "2020-01-01"),
                condition("Unknown", "", "unconfirmed", "2001-01-01"),
                condition("Fracture", "inactive", "confirmed", "2026-02-01"),
            ]
            .join(",")
        );
        let rows = Section::Conditions.finish(Section::Conditions.rows(&body, None).unwrap().items);
        let order: Vec<(&str, Standing)> = rows.iter().map(|r| (r.title.as_str(), r.standing)).collect();
        assert_eq!(
            order,
            [
                ("Migraine", Standing::Current),
                ("Diabetes", Standing::Current),
                ("Unknown", Standing::Current),
                ("Fracture", Standing::Past),
                ("Asthma", Standing::Past),
            ]
        );
        let medication = |name: &str, status: &str| {
            format!(
                r#"{{"resource": {{"resourceType": "MedicationRequest", "status": "{status}", "medicationCodeableConcept": {{"text": "{name}"}}}}}}"#
            )
        };
        let body = format!(
            r#"{{"resourceType": "Bundle", "entry": [{}]}}"#,
            [
                medication("A", "stopped"),
                medication("B", "active"),
                medication("C", "entered-in-error"),
                medication("D", "on-hold")
            ]
            .join(",")
        );
        let rows = Section::Medications.finish(Section::Medications.rows(&body, None).unwrap().items);
        let order: Vec<&str> = rows.iter().map(|r| r.title.as_str()).collect();
        assert_eq!(order, ["B", "A", "D"], "active first; the rest in the server's order; the error left out");
    }

    #[test]
    fn coverage_says_what_was_read() {
        assert_eq!(Section::Labs.coverage(100, true), "From the 100 most recent records; older records were not read.");
        assert!(Section::VitalSigns.coverage(250, false).contains("did not sort them by date, so newer ones may be"));
        assert_eq!(Section::Conditions.coverage(500, false), "The first 500 records; the server has more.");
        assert_eq!(Section::Conditions.reading(), Reading::pages(MAX_PAGES));
        assert_eq!(Section::Encounters.reading().max_records, MAX_DATED_RECORDS);
    }

    #[test]
    fn medication_and_allergy_rows_read_naturally() {
        let meds = Section::Medications
            .rows(r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "MedicationRequest", "status": "active",
                "medicationCodeableConcept": {"text": "Metformin 500 MG"}, "dosageInstruction": [{"text": "twice daily"}], "authoredOn": "2025-01-02"}}]}"#, None)
            .unwrap();
        assert_eq!(
            meds.items[0],
            Row::dated("Metformin 500 MG".into(), "active · twice daily".into(), Some("2025-01-02"))
        );
        let allergies = Section::Allergies
            .rows(r#"{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "AllergyIntolerance", "criticality": "high",
                "code": {"text": "Penicillin"}, "reaction": [{"manifestation": [{"text": "Hives"}]}]}}]}"#, None)
            .unwrap();
        assert_eq!(allergies.items[0].detail, "Hives · criticality high");
        assert!(Section::Encounters.rows("not json", None).is_err());
    }
}

/// A trend of two or more values (oldest first) as text: one block
/// character per value, from ▁ at the series' lowest to █ at its highest
/// (a flat series at the middle), and what a screen reader says instead.
/// Text rather than a drawing: it scales with the font and costs the
/// bundle no SVG code. Values that are not finite are left out.
pub fn trend_text(title: &str, values: &[f64]) -> Option<(String, String)> {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < 2 {
        return None;
    }
    let (low, high) = finite.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let blocks = finite
        .iter()
        .map(|v| if high > low { BLOCKS[((v - low) / (high - low) * 7.0 + 0.5) as usize] } else { BLOCKS[3] })
        .collect();
    let label = format!("{title}: {} readings, from {} to {}", finite.len(), number(low), number(high));
    Some((blocks, label))
}

#[cfg(test)]
mod sparkline_tests {
    use super::*;

    #[test]
    fn trends_are_scaled_to_their_own_range_with_words_for_screen_readers() {
        let (blocks, label) = trend_text("Heart rate", &[60.0, 74.0, 88.0, 67.0]).unwrap();
        assert_eq!(blocks, "▁▅█▃");
        assert_eq!(label, "Heart rate: 4 readings, from 60 to 88");
        // Every level is reachable, lowest to highest.
        let (blocks, _) = trend_text("x", &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
        assert_eq!(blocks, "▁▂▃▄▅▆▇█");
        assert_eq!(trend_text("x", &[5.0, 5.0]).unwrap().0, "▄▄", "a flat series runs through the middle");
        assert_eq!(trend_text("x", &[5.0]), None);
        assert_eq!(trend_text("x", &[f64::NAN, 1.0, f64::INFINITY]), None, "one finite value is no trend");
        let (blocks, label) = trend_text("x", &[1.0, f64::NAN, 2.0]).unwrap();
        assert_eq!((blocks.as_str(), label.as_str()), ("▁█", "x: 2 readings, from 1 to 2"));
    }
}
