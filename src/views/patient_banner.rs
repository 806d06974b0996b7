//! The patient banner: whose chart this is, unmistakably. Name, gender,
//! birth date with age, and the MRN (or the best identifier). A labelled
//! region, so screen readers announce it as a landmark.

use leptos::prelude::*;
use smart_core::fhir::display::{age_in_years, banner_identifier, gender_label, parse_date, patient_name};
use smart_core::fhir::models::{parse_resource, read_url, Patient};
use smart_core::Error;

use super::loadable::{inline_error, load, Loadable};
use crate::browser::today;
use crate::context::context;
use crate::session::SessionHandle;

#[component]
pub fn PatientBanner(patient_id: String) -> impl IntoView {
    let session = context::<SessionHandle>();
    let url = session.with_untracked(|s| read_url::<Patient>(&s.fhir_base, &patient_id));
    let state = load(Some("smart:banner".into()), async move {
        let body = session.get(&url.ok_or(Error::NoSession)??).await?;
        parse_resource::<Patient>(&body).map_err(|e| Error::FhirMalformed { detail: e.0 })
    });
    view! {
        <section class="patient-banner" role="region" aria-label="Patient" data-testid="patient-banner">
            {move || state.with(|state| match state {
                Loadable::Loading => view! { <p class="banner-loading">"Loading patient…"</p> }.into_any(),
                Loadable::Failed(error) => inline_error(error, Some("Patient details unavailable")),
                Loadable::Ready(patient) => facts(patient).into_any(),
            })}
        </section>
    }
}

fn facts(patient: &Patient) -> impl IntoView {
    let name = patient_name(patient).unwrap_or_else(|| "Name not recorded".into());
    let birth = patient.birth_date.clone().filter(|b| parse_date(b).is_some());
    let born = match &birth {
        Some(b) => match age_in_years(b, today()) {
            Some(age) => format!("Born {b} ({age} y)"),
            None => format!("Born {b}"),
        },
        None => "Birth date not recorded".into(),
    };
    let identifier = banner_identifier(patient)
        .map(|(label, value)| format!("{label} {value}"))
        .unwrap_or_else(|| "No identifier recorded".into());
    view! {
        <h2 class="patient-name" data-testid="patient-name">{name}</h2>
        <p class="patient-facts">
            <span data-testid="patient-gender">{gender_label(patient.gender.as_deref())}</span>
            " · "
            <span data-testid="patient-born">{born}</span>
            " · "
            <span data-testid="patient-identifier">{identifier}</span>
        </p>
    }
}
