//! The patient banner: whose chart this is, unmistakably. Name, gender,
//! birth date with age, and the MRN (or the best identifier). A labelled
//! region, so screen readers announce it as a landmark.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::fhir::display::{age_in_years, banner_identifier, gender_label, parse_date, patient_name};
use smart_core::fhir::models::{parse_resource, read_url, Patient};
use smart_core::Error;

use crate::app::{context, EndedSlot, SessionSlot};
use crate::browser::{fhir_client, marks};

fn today() -> (i32, u32, u32) {
    let now = js_sys::Date::new_0();
    (now.get_full_year() as i32, now.get_month() + 1, now.get_date())
}

#[component]
pub fn PatientBanner(patient_id: String) -> impl IntoView {
    let session = context::<SessionSlot>();
    let ended = context::<EndedSlot>();
    let loaded = RwSignal::new(None::<Result<Patient, Error>>);
    let url = session.with_untracked(|s| s.as_ref().map(|s| read_url::<Patient>(&s.fhir_base, &patient_id)));
    spawn_local(async move {
        let result = match url {
            Some(Ok(url)) => fhir_client::get(session, ended, &url)
                .await
                .and_then(|body| parse_resource::<Patient>(&body).map_err(|e| Error::FhirMalformed { detail: e.0 })),
            Some(Err(error)) => Err(error),
            None => Err(Error::SessionExpired),
        };
        loaded.set(Some(result));
        marks::mark_when_drawn("smart:banner".into());
    });
    view! {
        <section class="patient-banner" role="region" aria-label="Patient" data-testid="patient-banner">
            {move || loaded.with(|loaded| match loaded {
                None => view! { <p class="banner-loading">"Loading patient…"</p> }.into_any(),
                Some(Err(error)) => {
                    let d = error.diagnosis();
                    view! { <p class="banner-error">{format!("Patient details unavailable: {}. {}", d.title, d.detail)}</p> }.into_any()
                }
                Some(Ok(patient)) => {
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
                        <h1 class="patient-name" data-testid="patient-name">{name}</h1>
                        <p class="patient-facts">
                            <span data-testid="patient-gender">{gender_label(patient.gender.as_deref())}</span>
                            " · "
                            <span data-testid="patient-born">{born}</span>
                            " · "
                            <span data-testid="patient-identifier">{identifier}</span>
                        </p>
                    }
                    .into_any()
                }
            })}
        </section>
    }
}
