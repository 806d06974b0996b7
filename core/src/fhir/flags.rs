//! Abnormal results: an observation is flagged from its own
//! `interpretation` (the codes of HL7's ObservationInterpretation, which
//! FHIR R4 binds `Observation.interpretation` to) or, when it has none,
//! from its value against its `referenceRange`; a panel without either
//! (a blood pressure) from its components'. A flag is said in words and a
//! symbol, so it never rests on colour alone.

use super::display::{concept_text, has_code, number};
use super::models::{CodeableConcept, Observation, Quantity, ReferenceRange};

/// How a result stands against normal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    High,
    Low,
    CriticallyHigh,
    CriticallyLow,
    Abnormal,
    CriticallyAbnormal,
}

impl Flag {
    /// The words a clinician reads, led by a symbol.
    pub fn label(self) -> &'static str {
        match self {
            Flag::High => "↑ High",
            Flag::Low => "↓ Low",
            Flag::CriticallyHigh => "↑↑ Critically high",
            Flag::CriticallyLow => "↓↓ Critically low",
            Flag::Abnormal => "! Abnormal",
            Flag::CriticallyAbnormal => "!! Critically abnormal",
        }
    }

    fn critical(self) -> bool {
        matches!(self, Flag::CriticallyHigh | Flag::CriticallyLow | Flag::CriticallyAbnormal)
    }

    /// Up, down, or neither.
    fn direction(self) -> i8 {
        match self {
            Flag::High | Flag::CriticallyHigh => 1,
            Flag::Low | Flag::CriticallyLow => -1,
            _ => 0,
        }
    }

    /// One flag for two parts of a panel: the graver when both point the
    /// same way (systolic high, diastolic critically high), else abnormal,
    /// critically so when either is critical.
    fn with(self, other: Flag) -> Flag {
        if self.direction() == other.direction() && self.direction() != 0 {
            if self.critical() {
                self
            } else {
                other
            }
        } else if self.critical() || other.critical() {
            Flag::CriticallyAbnormal
        } else {
            Flag::Abnormal
        }
    }

    /// The flag for an interpretation code: `Some(None)` for normal,
    /// `None` for a code that is not about high, low or abnormal
    /// (susceptible, positive, detected, …), which is shown as text.
    fn of_code(code: &str) -> Option<Option<Flag>> {
        Some(Some(match code {
            // Off scale high, above the high threshold, significantly high.
            "H" | "HU" | "HX" | ">" => Flag::High,
            "L" | "LU" | "LX" | "<" => Flag::Low,
            "HH" => Flag::CriticallyHigh,
            "LL" => Flag::CriticallyLow,
            "A" => Flag::Abnormal,
            "AA" => Flag::CriticallyAbnormal,
            "N" => return Some(None),
            _ => return None,
        }))
    }
}

/// The code systems whose H, L, HH, … mean what [`Flag::of_code`] says:
/// R4's ObservationInterpretation and the HL7 v2 table 0078 it grew from
/// (as older servers send it). A code from another system is a local
/// code; it is shown as text, not read as a flag.
const INTERPRETATION_SYSTEMS: [&str; 3] = [
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://terminology.hl7.org/CodeSystem/v2-0078",
    "http://hl7.org/fhir/v2/0078",
];

/// What the summary says about one result beside its value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assessment {
    pub flag: Option<Flag>,
    /// An interpretation that is not a flag, as the server words it.
    pub said: Option<String>,
    /// The normal range, e.g. "normal 3.5–5.1 mmol/L".
    pub range: Option<String>,
}

/// Flags `observation`: its interpretation when it has one (the lab's
/// word stands over any range), else its quantity against its normal
/// reference range (a bound in another unit is not compared; see
/// [`assess_one`] for several ranges).
pub fn assess(observation: &Observation) -> Assessment {
    let o = observation;
    if !o.interpretation.is_empty() || o.value_quantity.is_some() || o.component.is_empty() {
        return assess_one(&o.interpretation, o.value_quantity.as_ref(), &o.reference_range);
    }
    // A panel without a word or a value of its own: its components' flags
    // in one (their ranges are not repeated beside the panel's values).
    let mut panel = Assessment::default();
    for part in &o.component {
        let part = assess_one(&part.interpretation, part.value_quantity.as_ref(), &part.reference_range);
        panel.flag = match (panel.flag, part.flag) {
            (Some(a), Some(b)) => Some(a.with(b)),
            (a, b) => a.or(b),
        };
        panel.said = panel.said.or(part.said);
    }
    panel
}

/// One result: its interpretation, else its value against its normal
/// range. FHIR R4 reads several reference ranges as alternatives ("OR"),
/// each for another group of patients (`appliesTo`, `age`) or with
/// another meaning (`type`; normal when absent). So the value is compared
/// only when the normal ranges agree (one range, or the same bounds for
/// every group); normal ranges that differ are all shown, and none is
/// compared, since which one is this patient's is not known here; each
/// is followed by whom it is for ("(Female)", "(age ≤ 12 a)"). A range
/// of another meaning alone (therapeutic, …) is shown under its own name
/// and not compared: high and low are said of normal.
fn assess_one(interpretation: &[CodeableConcept], value: Option<&Quantity>, ranges: &[ReferenceRange]) -> Assessment {
    let normal = |r: &&ReferenceRange| r.meaning.is_none() || has_code(r.meaning.as_ref(), "normal");
    // Each normal range's bounds once: the same for every group are one range.
    let (mut texts, mut shown, mut compared, mut named) = (Vec::<String>::new(), Vec::<String>::new(), None, false);
    for r in ranges.iter().filter(normal) {
        if let Some(text) = range_text(r, "normal").filter(|t| !texts.contains(t)) {
            let group = group_text(r);
            named |= !group.is_empty();
            compared = Some(r);
            shown.push(text.clone() + &group);
            texts.push(text);
        }
    }
    let range = match texts.len() {
        0 => ranges.iter().filter(|r| !normal(r)).find_map(|r| range_text(r, &concept_text(r.meaning.as_ref()))),
        1 => texts.pop(),
        _ => {
            compared = None;
            Some(shown.join(" or ") + if named { "" } else { " (for different groups of patients)" })
        }
    };
    let mut assessment = Assessment { range, ..Assessment::default() };
    for concept in interpretation {
        let known = concept
            .coding
            .iter()
            .filter(|c| c.system.as_deref().is_none_or(|s| INTERPRETATION_SYSTEMS.contains(&s)))
            .find_map(|c| c.code.as_deref().and_then(Flag::of_code));
        match known {
            Some(flag) => assessment.flag = assessment.flag.or(flag),
            None => assessment.said = Some(concept_text(Some(concept))),
        }
    }
    if interpretation.is_empty() {
        if let (Some(value), Some(range)) = (value, compared) {
            assessment.flag = against_range(value, range);
        }
    }
    assessment
}

/// Below the low bound or above the high one; `None` within, or when the
/// value has no number or a bound is in another unit.
fn against_range(value: &Quantity, range: &ReferenceRange) -> Option<Flag> {
    let v = value.value?;
    let bound = |b: &Option<Quantity>| b.as_ref().filter(|b| same_unit(value, b)).and_then(|b| b.value);
    if bound(&range.low).is_some_and(|low| v < low) {
        Some(Flag::Low)
    } else if bound(&range.high).is_some_and(|high| v > high) {
        Some(Flag::High)
    } else {
        None
    }
}

/// Whether two quantities can be compared: the same UCUM code, or the
/// same unit text, or a unit missing on either side (a range often gives
/// bare numbers in the result's unit).
fn same_unit(a: &Quantity, b: &Quantity) -> bool {
    match (a.code.as_deref().zip(b.code.as_deref()), a.unit.as_deref().zip(b.unit.as_deref())) {
        (Some((x, y)), _) | (None, Some((x, y))) => x == y,
        (None, None) => true,
    }
}

/// Whom a range is for, as " (Female, age ≥ 18 a)", or "" when it does
/// not say.
fn group_text(range: &ReferenceRange) -> String {
    let mut groups: Vec<String> = range.applies_to.iter().map(|c| concept_text(Some(c))).collect();
    groups.extend(range.age.as_deref().and_then(|age| range_text(age, "age")));
    if groups.is_empty() {
        return String::new();
    }
    " (".to_string() + &groups.join(", ") + ")"
}

/// "normal 3.5–5.1 mmol/L", "normal ≥ 60 mL/min", "normal ≤ 200 mg/dL",
/// or "normal: " and the range's own text (with `label` "normal").
fn range_text(range: &ReferenceRange, label: &str) -> Option<String> {
    let value = |b: &Option<Quantity>| b.as_ref().and_then(|q| q.value).map(number);
    let mut text = String::from(label) + " ";
    match (value(&range.low), value(&range.high)) {
        (Some(low), Some(high)) => text = text + &low + "–" + &high,
        (Some(low), None) => text = text + "≥ " + &low,
        (None, Some(high)) => text = text + "≤ " + &high,
        (None, None) => return Some(format!("{label}: {}", range.text.as_deref()?)),
    }
    if let Some(unit) =
        [&range.high, &range.low].into_iter().flatten().find_map(|q| q.unit.as_ref().or(q.code.as_ref()))
    {
        text = text + " " + unit;
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::models::parse_resource;

    fn observation(extra: &str) -> Observation {
        parse_resource(&format!(r#"{{"resourceType": "Observation" {extra}}}"#)).unwrap()
    }

    const V3: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

    fn coded(code: &str) -> String {
        format!(r#", "interpretation": [{{"coding": [{{"system": "{V3}", "code": "{code}"}}]}}]"#)
    }

    #[test]
    fn interpretation_codes_flag_in_words_and_a_symbol() {
        let cases = [
            ("H", Some("↑ High")),
            ("HU", Some("↑ High")),
            (">", Some("↑ High")),
            ("L", Some("↓ Low")),
            ("<", Some("↓ Low")),
            ("HH", Some("↑↑ Critically high")),
            ("LL", Some("↓↓ Critically low")),
            ("A", Some("! Abnormal")),
            ("AA", Some("!! Critically abnormal")),
            ("N", None),
        ];
        for (code, label) in cases {
            let assessment = assess(&observation(&coded(code)));
            assert_eq!(assessment.flag.map(Flag::label), label, "{code}");
            assert_eq!(assessment.said, None, "{code}");
        }
        // v2 table 0078 (older servers), and a coding without a system.
        let v2 = r#", "interpretation": [{"coding": [{"system": "http://hl7.org/fhir/v2/0078", "code": "LL"}]}]"#;
        assert_eq!(assess(&observation(v2)).flag, Some(Flag::CriticallyLow));
        let bare = r#", "interpretation": [{"coding": [{"code": "H"}]}]"#;
        assert_eq!(assess(&observation(bare)).flag, Some(Flag::High));
    }

    #[test]
    fn unknown_or_local_interpretations_are_shown_as_text_not_flagged() {
        let susceptible = r#", "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": "S", "display": "Susceptible"}]}]"#;
        let a = assess(&observation(susceptible));
        assert_eq!((a.flag, a.said.as_deref()), (None, Some("Susceptible")));
        // "H" in a lab's own code system is not HL7's High.
        let local =
            r#", "interpretation": [{"coding": [{"system": "urn:lab:flags", "code": "H"}], "text": "Haemolysed"}]"#;
        let a = assess(&observation(local));
        assert_eq!((a.flag, a.said.as_deref()), (None, Some("Haemolysed")));
        // A text-only interpretation.
        let a = assess(&observation(r#", "interpretation": [{"text": "see comment"}]"#));
        assert_eq!((a.flag, a.said.as_deref()), (None, Some("see comment")));
    }

    #[test]
    fn the_lab_word_stands_over_the_range() {
        // Inside the range, but the lab says high (another range applied).
        let o = observation(&format!(
            r#", "valueQuantity": {{"value": 5.0, "unit": "mmol/L"}},
               "referenceRange": [{{"low": {{"value": 3.5}}, "high": {{"value": 5.1}}}}] {}"#,
            coded("H")
        ));
        assert_eq!(assess(&o).flag, Some(Flag::High));
    }

    fn ranged(value: &str, range: &str) -> Assessment {
        assess(&observation(&format!(r#", "valueQuantity": {value}, "referenceRange": [{range}]"#)))
    }

    #[test]
    fn without_an_interpretation_the_value_is_read_against_the_range() {
        let range = r#"{"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.1, "unit": "mmol/L"}}"#;
        let high = ranged(r#"{"value": 6.2, "unit": "mmol/L"}"#, range);
        assert_eq!(high.flag, Some(Flag::High));
        assert_eq!(high.range.as_deref(), Some("normal 3.5–5.1 mmol/L"));
        assert_eq!(ranged(r#"{"value": 3.1, "unit": "mmol/L"}"#, range).flag, Some(Flag::Low));
        assert_eq!(ranged(r#"{"value": 4.2, "unit": "mmol/L"}"#, range).flag, None);
        // The bounds themselves are normal.
        assert_eq!(ranged(r#"{"value": 5.1, "unit": "mmol/L"}"#, range).flag, None);
        assert_eq!(ranged(r#"{"value": 3.5, "unit": "mmol/L"}"#, range).flag, None);
    }

    #[test]
    fn a_range_with_one_bound_flags_on_that_side_only() {
        let low_only = r#"{"low": {"value": 60, "unit": "mL/min"}}"#;
        let a = ranged(r#"{"value": 45, "unit": "mL/min"}"#, low_only);
        assert_eq!((a.flag, a.range.as_deref()), (Some(Flag::Low), Some("normal ≥ 60 mL/min")));
        assert_eq!(ranged(r#"{"value": 900, "unit": "mL/min"}"#, low_only).flag, None);
        let high_only = r#"{"high": {"value": 200, "unit": "mg/dL"}}"#;
        let a = ranged(r#"{"value": 240, "unit": "mg/dL"}"#, high_only);
        assert_eq!((a.flag, a.range.as_deref()), (Some(Flag::High), Some("normal ≤ 200 mg/dL")));
        assert_eq!(ranged(r#"{"value": 10, "unit": "mg/dL"}"#, high_only).flag, None);
    }

    #[test]
    fn units_that_differ_are_not_compared_and_missing_units_are() {
        // mg/dL against a range in mmol/L: not comparable, not flagged,
        // and the range is still shown with its unit.
        let a = ranged(
            r#"{"value": 110, "unit": "mg/dL", "code": "mg/dL"}"#,
            r#"{"high": {"value": 5.5, "unit": "mmol/L", "code": "mmol/L"}}"#,
        );
        assert_eq!((a.flag, a.range.as_deref()), (None, Some("normal ≤ 5.5 mmol/L")));
        // Units missing on the range: compared in the value's unit.
        let a = ranged(r#"{"value": 7.1, "unit": "%"}"#, r#"{"low": {"value": 4.0}, "high": {"value": 5.6}}"#);
        assert_eq!((a.flag, a.range.as_deref()), (Some(Flag::High), Some("normal 4–5.6")));
        // Units missing on the value.
        assert_eq!(ranged(r#"{"value": 2}"#, r#"{"low": {"value": 4.0, "unit": "%"}}"#).flag, Some(Flag::Low));
    }

    #[test]
    fn a_text_range_is_shown_and_nothing_is_guessed_from_it() {
        let a = ranged(r#"{"value": 12}"#, r#"{"text": "negative"}"#);
        assert_eq!((a.flag, a.range.as_deref()), (None, Some("normal: negative")));
        // No value, no range, no interpretation: nothing to say.
        assert_eq!(assess(&observation("")), Assessment::default());
        // A range without bounds or text.
        assert_eq!(ranged(r#"{"value": 12}"#, "{}"), Assessment::default());
    }

    /// `ranges` (JSON objects), each with low and high in g/dL.
    fn haemoglobin(value: &str, ranges: &[&str]) -> Assessment {
        let ranges: Vec<String> = ranges.iter().map(|r| format!(r#"{{{r}}}"#)).collect();
        let unit = r#""unit": "g/dL""#;
        assess(&observation(&format!(
            r#", "valueQuantity": {{"value": {value}, {unit}}}, "referenceRange": [{}]"#,
            ranges.join(", ")
        )))
    }

    const MEANING: &str = "http://terminology.hl7.org/CodeSystem/referencerange-meaning";
    const MALE: &str = r#""low": {"value": 13.5}, "high": {"value": 17.5, "unit": "g/dL"},
        "appliesTo": [{"coding": [{"system": "http://hl7.org/fhir/administrative-gender", "code": "male"}]}]"#;
    const FEMALE: &str = r#""low": {"value": 12.0}, "high": {"value": 15.5, "unit": "g/dL"},
        "appliesTo": [{"coding": [{"system": "http://hl7.org/fhir/administrative-gender", "code": "female"}]}]"#;

    #[test]
    fn several_normal_ranges_are_all_shown_and_none_is_compared() {
        // 13.0 is low for a man and normal for a woman: the app cannot
        // tell which range is this patient's, so it says neither.
        let a = haemoglobin("13.0", &[MALE, FEMALE]);
        assert_eq!(a.flag, None);
        assert_eq!(a.range.as_deref(), Some("normal 13.5–17.5 g/dL (male) or normal 12–15.5 g/dL (female)"));
        // Ranges that do not say whom they are for are said to differ all the same.
        let unnamed = |r: &str| r.split(",\n").next().unwrap().to_string();
        let a = haemoglobin("13.0", &[&unnamed(MALE), &unnamed(FEMALE)]);
        assert_eq!(
            (a.flag, a.range.as_deref()),
            (None, Some("normal 13.5–17.5 g/dL or normal 12–15.5 g/dL (for different groups of patients)"))
        );
        // Above both: still not compared (no range is matched to the patient).
        assert_eq!(haemoglobin("19.0", &[MALE, FEMALE]).flag, None);
        assert_eq!(
            haemoglobin("13.0", &[MALE, FEMALE, MALE]),
            haemoglobin("13.0", &[MALE, FEMALE]),
            "each range said once"
        );
        // Age groups, and a `type` of normal, the same.
        let child = format!(
            r#""low": {{"value": 11.0}}, "high": {{"value": 13.5}}, "age": {{"high": {{"value": 12, "unit": "a"}}}}, "type": {{"coding": [{{"system": "{MEANING}", "code": "normal"}}]}}"#
        );
        let a = haemoglobin("10.0", &[&child, MALE]);
        assert_eq!(a.flag, None);
        assert_eq!(a.range.as_deref(), Some("normal 11–13.5 (age ≤ 12 a) or normal 13.5–17.5 g/dL (male)"));
        // One range given twice is one range, and the same bounds for
        // every group are compared whoever the patient is.
        let a = haemoglobin("19.0", &[MALE, MALE]);
        assert_eq!((a.flag, a.range.as_deref()), (Some(Flag::High), Some("normal 13.5–17.5 g/dL")));
        let same_for_women = MALE.replace("\"male\"", "\"female\"");
        assert_eq!(haemoglobin("13.0", &[MALE, &same_for_women]).flag, Some(Flag::Low));
    }

    #[test]
    fn a_range_of_another_meaning_is_named_and_not_compared_with() {
        let therapeutic = format!(
            r#""low": {{"value": 2.0}}, "high": {{"value": 3.0}}, "type": {{"coding": [{{"system": "{MEANING}", "code": "therapeutic", "display": "Therapeutic Desired Level"}}]}}"#
        );
        // Beside a normal range, the normal one is the one read against.
        let normal = r#""low": {"value": 0.8}, "high": {"value": 1.2}"#;
        let a = haemoglobin("2.5", &[&therapeutic, normal]);
        assert_eq!((a.flag, a.range.as_deref()), (Some(Flag::High), Some("normal 0.8–1.2")));
        // Alone, it is shown under its own name, and nothing is flagged;
        // beside a normal range without bounds or text, the same.
        let a = haemoglobin("3.6", &[&therapeutic]);
        assert_eq!((a.flag, a.range.as_deref()), (None, Some("Therapeutic Desired Level 2–3")));
        assert_eq!(haemoglobin("3.6", &["", &therapeutic]), a);
    }

    /// A blood pressure panel whose components carry `parts` (JSON).
    fn panel(parts: &[&str]) -> Assessment {
        let components: Vec<String> =
            parts.iter().map(|p| format!(r#"{{"valueQuantity": {{"value": 1}} {p}}}"#)).collect();
        assess(&observation(&format!(r#", "component": [{}]"#, components.join(", "))))
    }

    #[test]
    fn a_panel_is_flagged_from_its_components() {
        let (high, normal) = (coded("H"), coded("N"));
        assert_eq!(panel(&[&high, &normal]).flag, Some(Flag::High), "systolic high, diastolic normal");
        assert_eq!(panel(&[&normal, &normal]).flag, None);
        assert_eq!(panel(&[&coded("H"), &coded("HH")]).flag, Some(Flag::CriticallyHigh), "the graver, same way");
        assert_eq!(panel(&[&coded("H"), &coded("L")]).flag, Some(Flag::Abnormal), "opposite ways");
        assert_eq!(panel(&[&coded("HH"), &coded("L")]).flag, Some(Flag::CriticallyAbnormal));
        assert_eq!(panel(&[&coded("A"), &coded("A")]).flag, Some(Flag::Abnormal));
        // A component's value against its own range.
        let ranged = r#", "referenceRange": [{"high": {"value": 0.5}}]"#;
        assert_eq!(panel(&[ranged, &normal]).flag, Some(Flag::High));
        // The panel's own word stands over its components'.
        let own = observation(&format!(r#", "component": [{{"valueQuantity": {{"value": 150}} {high}}}] {normal}"#));
        assert_eq!(assess(&own).flag, None);
        // A component's word that is no flag is shown as text.
        let local = r#", "interpretation": [{"text": "irregular rhythm"}]"#;
        assert_eq!(panel(&[local]).said.as_deref(), Some("irregular rhythm"));
    }
}
