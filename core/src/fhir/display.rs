//! How FHIR values are shown: the banner's name, age, gender and MRN, and
//! the text of codes, quantities and observation values. Every result is
//! plain text; the views render it as text.

use super::models::{CodeableConcept, HumanName, Observation, Patient, Quantity};

/// A calendar date `(year, month, day)`.
pub type Date = (i32, u32, u32);

/// The name to show: the official name, else the usual one, else the first;
/// its `text` when given, else "Given Family".
pub fn patient_name(patient: &Patient) -> Option<String> {
    let pick = |wanted: &str| patient.name.iter().find(|n| n.name_use.as_deref() == Some(wanted));
    let name = pick("official").or_else(|| pick("usual")).or_else(|| patient.name.first())?;
    format_name(name)
}

fn format_name(name: &HumanName) -> Option<String> {
    if let Some(text) = name.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        return Some(text.to_string());
    }
    let mut parts: Vec<&str> = name.given.iter().map(|g| g.trim()).filter(|g| !g.is_empty()).collect();
    if let Some(family) = name.family.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        parts.push(family);
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (a FHIR `date`), or the date
/// part of a `dateTime`; missing month or day count as the first.
pub fn parse_date(text: &str) -> Option<Date> {
    let date = text.get(..10.min(text.len()))?;
    let mut parts = date.split('-');
    let year: i32 = parts.next().filter(|y| y.len() == 4)?.parse().ok()?;
    let month: u32 = parts.next().map(|m| m.parse().ok()).unwrap_or(Some(1))?;
    let day: u32 = parts.next().map(|d| d.parse().ok()).unwrap_or(Some(1))?;
    ((1..=12).contains(&month) && (1..=31).contains(&day) && (1..=9999).contains(&year)).then_some((year, month, day))
}

/// Whole years between `birth` and `today`; `None` for a birth date in the
/// future or unreadable.
pub fn age_in_years(birth_date: &str, today: Date) -> Option<u32> {
    let (by, bm, bd) = parse_date(birth_date)?;
    let (ty, tm, td) = today;
    let mut years = ty - by;
    if (tm, td) < (bm, bd) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// "Female", "Male", "Other", "Unknown" (FHIR administrative gender).
pub fn gender_label(gender: Option<&str>) -> &'static str {
    match gender {
        Some("female") => "Female",
        Some("male") => "Male",
        Some("other") => "Other",
        Some("unknown") => "Unknown",
        _ => "Gender not recorded",
    }
}

/// The identifier the banner shows: the MRN (type code `MR`) if there is
/// one, else the usual or official identifier, else the first with a value.
/// Returns (label, value).
pub fn banner_identifier(patient: &Patient) -> Option<(&'static str, String)> {
    let with_value = || patient.identifier.iter().filter(|i| i.value.as_deref().is_some_and(|v| !v.trim().is_empty()));
    let is_mrn = |i: &&super::models::Identifier| {
        i.kind.as_ref().is_some_and(|k| k.coding.iter().any(|c| c.code.as_deref() == Some("MR")))
    };
    if let Some(mrn) = with_value().find(is_mrn) {
        return Some(("MRN", mrn.value.clone()?));
    }
    let preferred = with_value()
        .find(|i| matches!(i.identifier_use.as_deref(), Some("usual" | "official")))
        .or_else(|| with_value().next())?;
    Some(("ID", preferred.value.clone()?))
}

/// The text of a code: its `text`, else the first display, else the first code.
pub fn concept_text(concept: Option<&CodeableConcept>) -> String {
    let Some(concept) = concept else { return "Unnamed".into() };
    concept
        .text
        .clone()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| concept.coding.iter().find_map(|c| c.display.clone()))
        .or_else(|| concept.coding.iter().find_map(|c| c.code.clone()))
        .unwrap_or_else(|| "Unnamed".into())
}

/// Whether a concept carries `code` (any system).
pub fn has_code(concept: Option<&CodeableConcept>, code: &str) -> bool {
    concept.is_some_and(|c| c.coding.iter().any(|coding| coding.code.as_deref() == Some(code)))
}

/// A measured value for display: two decimals, or below 1 as many as two
/// significant digits need, so a small lab value (troponin 0.012 ng/mL)
/// never shows rounded to 0.01 or 0. No trailing zeros.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    let mut places = 2;
    while places < 9 && magnitude > 0.0 && magnitude * 10f64.powi(places as i32) < 10.0 {
        places += 1;
    }
    decimal(value, places)
}

/// `value` rounded to `places` decimals (at most 9), without trailing
/// zeros: `72`, `36.6`, `-0.25`. Written out by hand because the standard
/// float formatting is large in the wasm bundle (bench/README.md). Large values get
/// fewer decimals, so the arithmetic stays exact in integers (below
/// 9·10^15 after scaling); non-finite values (never in JSON) and values
/// beyond 2^64 (never in a record) show as `?`.
pub fn decimal(value: f64, places: u32) -> String {
    if !value.is_finite() {
        return "?".to_string();
    }
    let mut places = places.min(9);
    // Fewer decimals for large values, so the scaled value stays exact.
    while places > 0 && value.abs() * 10f64.powi(places as i32) >= 9.0e15 {
        places -= 1;
    }
    let unit = 10u64.pow(places);
    let scaled = (value.abs() * unit as f64).round();
    let sign = if value < 0.0 && scaled > 0.0 { "-" } else { "" };
    if scaled >= 9.0e15 {
        let whole = value.abs().round();
        return if whole < 1.8e19 { format!("{sign}{}", whole as u64) } else { "?".to_string() };
    }
    let scaled = scaled as u64;
    let (whole, fraction) = (scaled / unit, scaled % unit);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:0width$}", width = places as usize);
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

/// "72 /min", "6.4 %".
pub fn quantity_text(quantity: &Quantity) -> String {
    match (quantity.value, quantity.unit.as_deref().or(quantity.code.as_deref())) {
        (Some(v), Some(unit)) => format!("{} {unit}", number(v)),
        (Some(v), None) => number(v),
        (None, _) => "—".into(),
    }
}

/// LOINC codes of the blood-pressure components.
pub const SYSTOLIC: &str = "8480-6";
pub const DIASTOLIC: &str = "8462-4";

/// An observation's value: `128/80 mm[Hg]` for blood pressure, else its
/// quantity, string or coded value.
pub fn observation_value(observation: &Observation) -> String {
    let component = |code: &str| {
        observation.component.iter().find(|c| has_code(c.code.as_ref(), code)).and_then(|c| c.value_quantity.as_ref())
    };
    if let (Some(sys), Some(dia)) = (component(SYSTOLIC), component(DIASTOLIC)) {
        if let (Some(s), Some(d)) = (sys.value, dia.value) {
            return format!("{}/{} {}", number(s), number(d), sys.unit.as_deref().unwrap_or("mm[Hg]"));
        }
    }
    if let Some(q) = &observation.value_quantity {
        return quantity_text(q);
    }
    if let Some(s) = &observation.value_string {
        return s.clone();
    }
    if let Some(c) = &observation.value_codeable_concept {
        return concept_text(Some(c));
    }
    "—".into()
}

/// An observation's number, for trends: the quantity, or the systolic
/// pressure of a blood-pressure panel.
pub fn observation_number(observation: &Observation) -> Option<f64> {
    observation.value_quantity.as_ref().and_then(|q| q.value).or_else(|| {
        observation
            .component
            .iter()
            .find(|c| has_code(c.code.as_ref(), SYSTOLIC))
            .and_then(|c| c.value_quantity.as_ref())
            .and_then(|q| q.value)
    })
}

/// When an observation was made (the date-time text as given).
pub fn observation_time(observation: &Observation) -> Option<&str> {
    observation
        .effective_date_time
        .as_deref()
        .or_else(|| observation.effective_period.as_ref().and_then(|p| p.start.as_deref()))
        .or(observation.issued.as_deref())
}

/// A FHIR `date`, `dateTime` or `instant` as seconds since 1970 UTC, for
/// ordering: a partial date (`2024`, `2024-03`) is taken at its start, a
/// time without a zone as UTC (FHIR requires the zone whenever there is a
/// time). `None` when the text is none of these; such a record sorts as
/// undated rather than guessed.
pub fn instant(text: &str) -> Option<i64> {
    let (year, month, day) = parse_date(text)?;
    let mut seconds = days_from_civil(i64::from(year), i64::from(month), i64::from(day)) * 86_400;
    let b = text.as_bytes();
    if b.len() > 10 {
        // Two digits at `at`.
        let two = |at: usize| match b.get(at..at + 2)? {
            [t, u] if t.is_ascii_digit() && u.is_ascii_digit() => Some(i64::from((t - b'0') * 10 + (u - b'0'))),
            _ => None,
        };
        if b[10] != b'T' {
            return None;
        }
        let (hour, minute) = (two(11).filter(|h| *h <= 24)?, two(14).filter(|m| *m < 60)?);
        let second = if b.get(16) == Some(&b':') { two(17).filter(|s| *s <= 60)? } else { 0 };
        seconds += hour * 3600 + minute * 60 + second;
        // The zone: `Z`, or `+hh:mm` / `-hh:mm` after any fraction.
        let zone = b.iter().skip(16).position(|c| matches!(c, b'Z' | b'+' | b'-')).map(|i| i + 16);
        if let Some(at) = zone.filter(|at| b[*at] != b'Z') {
            let offset = two(at + 1)? * 3600 + two(at + 4)? * 60;
            seconds -= if b[at] == b'+' { offset } else { -offset };
        }
    }
    Some(seconds)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date part of a FHIR date or dateTime, for display.
pub fn date_text(value: Option<&str>) -> String {
    match value {
        // `get` rather than indexing: byte 10 may fall inside a character.
        Some(v) if v.len() >= 10 => v.get(..10).unwrap_or(v).to_string(),
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "date not recorded".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_order_dates_and_date_times_across_zones() {
        assert_eq!(instant("1970-01-01"), Some(0));
        assert_eq!(instant("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(instant("2000-03-01"), Some(951_868_800));
        assert_eq!(instant("2024-02-29T12:30:15.123+02:00"), instant("2024-02-29T10:30:15Z"));
        assert_eq!(instant("2024-02-29T08:00:00-05:00"), instant("2024-02-29T13:00:00Z"));
        assert_eq!(instant("2024"), instant("2024-01-01"));
        assert_eq!(instant("2024-07"), instant("2024-07-01T00:00:00Z"));
        assert!(instant("2024-05-02T23:30:00-02:00") > instant("2024-05-03T00:30:00Z"), "zones count");
        assert!(instant("1899-12-31") < instant("1900-01-01"));
        for bad in [
            "",
            "24",
            "2024-13",
            "2024-00-10",
            "2024-05-32",
            "2024-05-02 10:00",
            "2024-05-02T1",
            "soon",
            "2024-05-0é",
            "2024x05",
        ] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn decimals_are_written_without_float_formatting() {
        assert_eq!(decimal(72.0, 2), "72");
        assert_eq!(decimal(36.649, 2), "36.65");
        assert_eq!(decimal(36.6, 2), "36.6");
        assert_eq!(decimal(-0.25, 2), "-0.25");
        assert_eq!(decimal(-0.001, 2), "0");
        assert_eq!(decimal(0.05, 2), "0.05");
        assert_eq!(decimal(120.04, 1), "120");
        assert_eq!(decimal(7.25, 0), "7");
        assert_eq!(decimal(1.0e18, 2), "1000000000000000000");
        assert_eq!(decimal(-1.0e18, 2), "-1000000000000000000");
        assert_eq!(decimal(1.0e20, 2), "?");
        assert_eq!(decimal(f64::NAN, 2), "?");
        for value in [0.1, 1.5, 98.6, 123.45, -7.07, 1013.25] {
            assert_eq!(decimal(value, 2).parse::<f64>().unwrap(), value, "{value}");
        }
    }

    #[test]
    fn small_measurements_keep_two_significant_digits() {
        assert_eq!(number(0.012), "0.012");
        assert_eq!(number(0.0047), "0.0047");
        assert_eq!(number(0.00123), "0.0012");
        assert_eq!(number(-0.012), "-0.012");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(0.05), "0.05");
        assert_eq!(number(7.254), "7.25");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1e-12), "0");
    }

    use super::*;
    use crate::fhir::models::parse_resource;

    fn patient(json: &str) -> Patient {
        parse_resource(json).unwrap()
    }

    #[test]
    fn names_prefer_official_then_usual_then_text() {
        let p = patient(
            r#"{"resourceType": "Patient", "name": [
                {"use": "nickname", "given": ["Zo"]},
                {"use": "usual", "given": ["Zoë"], "family": "O."},
                {"use": "official", "given": ["Zoë", "Ann"], "family": "Ōtani"}]}"#,
        );
        assert_eq!(patient_name(&p).as_deref(), Some("Zoë Ann Ōtani"));
        let p = patient(r#"{"resourceType": "Patient", "name": [{"text": "  Dr. J. Smith ", "family": "Smith"}]}"#);
        assert_eq!(patient_name(&p).as_deref(), Some("Dr. J. Smith"));
        let p = patient(r#"{"resourceType": "Patient", "name": [{"given": [" "]}]}"#);
        assert_eq!(patient_name(&p), None);
        assert_eq!(patient_name(&patient(r#"{"resourceType": "Patient"}"#)), None);
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(age_in_years("1980-06-15", (2026, 6, 14)), Some(45));
        assert_eq!(age_in_years("1980-06-15", (2026, 6, 15)), Some(46));
        assert_eq!(age_in_years("2000-02-29", (2026, 2, 28)), Some(25));
        assert_eq!(age_in_years("1980", (2026, 1, 1)), Some(46));
        assert_eq!(age_in_years("2030-01-01", (2026, 1, 1)), None);
        assert_eq!(age_in_years("not a date", (2026, 1, 1)), None);
        assert_eq!(age_in_years("1980-13-01", (2026, 1, 1)), None);
        assert_eq!(parse_date("2024-03-01T09:30:00Z"), Some((2024, 3, 1)));
    }

    #[test]
    fn banner_shows_the_mrn_else_the_best_identifier() {
        let p = patient(
            r#"{"resourceType": "Patient", "identifier": [
                {"use": "official", "system": "ssn", "value": "999"},
                {"type": {"coding": [{"code": "MR"}]}, "value": "MRN-1"}]}"#,
        );
        assert_eq!(banner_identifier(&p), Some(("MRN", "MRN-1".into())));
        let p = patient(
            r#"{"resourceType": "Patient", "identifier": [{"value": ""}, {"value": "A1"}, {"use": "usual", "value": "U1"}]}"#,
        );
        assert_eq!(banner_identifier(&p), Some(("ID", "U1".into())));
        assert_eq!(banner_identifier(&patient(r#"{"resourceType": "Patient"}"#)), None);
        assert_eq!(gender_label(Some("female")), "Female");
        assert_eq!(gender_label(None), "Gender not recorded");
    }

    #[test]
    fn values_read_the_way_clinicians_write_them() {
        let bp: Observation = parse_resource(
            r#"{"resourceType": "Observation", "code": {"coding": [{"code": "85354-9"}]}, "component": [
                {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 128.0, "unit": "mm[Hg]"}},
                {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 81, "unit": "mm[Hg]"}}],
                "effectiveDateTime": "2024-01-02T03:04:05Z"}"#,
        )
        .unwrap();
        assert_eq!(observation_value(&bp), "128/81 mm[Hg]");
        assert_eq!(date_text(observation_time(&bp)), "2024-01-02");
        let a1c: Observation =
            parse_resource(r#"{"resourceType": "Observation", "valueQuantity": {"value": 6.4123, "unit": "%"}}"#)
                .unwrap();
        assert_eq!(observation_value(&a1c), "6.41 %");
        let coded: Observation = parse_resource(
            r#"{"resourceType": "Observation", "valueCodeableConcept": {"coding": [{"display": "Positive"}]}}"#,
        )
        .unwrap();
        assert_eq!(observation_value(&coded), "Positive");
        let empty: Observation = parse_resource(r#"{"resourceType": "Observation"}"#).unwrap();
        assert_eq!(observation_value(&empty), "—");
        assert_eq!(concept_text(None), "Unnamed");
        assert_eq!(date_text(None), "date not recorded");
        assert_eq!(date_text(Some("2024-01-0éx")), "2024-01-0éx", "no panic inside a character");
    }
}
