//! Choosing a patient when the sign-in named none (standalone launch with
//! a user-level grant): a name search over `Patient`.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use smart_core::fhir::display::{banner_identifier, patient_name};
use smart_core::fhir::models::{parse_bundle, Patient};
use smart_core::Error;

use super::loadable::{inline_error, load_into, Loadable};
use crate::context::context;
use crate::session::SessionHandle;

/// The name typed into the form being sent. Read from the form itself, not
/// kept in a signal with a two-way binding: the binding machinery is large
/// in the wasm (bench/README.md).
fn typed_name(event: &SubmitEvent) -> String {
    crate::browser::form_field(event, "name").trim().to_string()
}

#[component]
pub fn PatientPicker(on_choose: Callback<String>) -> impl IntoView {
    let session = context::<SessionHandle>();
    // `Ready(None)`: nothing searched yet.
    let found = RwSignal::new(Loadable::Ready(None::<Vec<Patient>>));
    let search = move |event: SubmitEvent| {
        event.prevent_default();
        let name = typed_name(&event);
        if name.is_empty() {
            return;
        }
        let first = session.with_untracked(|s| {
            s.fhir_base.join_path("Patient").with_query_pairs([("name", name.as_str()), ("_count", "20")])
        });
        // One page: a name search is for choosing, not for reading a record.
        load_into(found, None, async move {
            let body = session.get(&first.ok_or(Error::NoSession)?).await?;
            let page = parse_bundle::<Patient>(&body).map_err(|e| Error::FhirMalformed { detail: e.0 })?;
            Ok(Some(page.items))
        });
    };
    view! {
        <section class="patient-picker" aria-labelledby="picker-title">
            <h1 id="picker-title">"Choose a patient"</h1>
            <p>"The sign-in did not name a patient. Search by name:"</p>
            <form on:submit=search>
                <label for="patient-search">"Patient name"</label>
                <input id="patient-search" type="search" autocomplete="off" name="name"/>
                <button type="submit">"Search"</button>
            </form>
            {move || found.with(|found| match found {
                Loadable::Ready(None) => ().into_any(),
                Loadable::Loading => view! { <p role="status">"Searching…"</p> }.into_any(),
                Loadable::Failed(error) => inline_error(error, None),
                Loadable::Ready(Some(patients)) if patients.is_empty() => view! { <p role="status">"No patient matches that name."</p> }.into_any(),
                Loadable::Ready(Some(patients)) => view! {
                    <ul class="picker-results">
                        {patients.iter().filter_map(|p| choice(p, on_choose)).collect_view()}
                    </ul>
                }
                .into_any(),
            })}
        </section>
    }
}

/// One search result as a button that chooses it (a patient without an id
/// cannot be chosen, so it is not listed).
fn choice(patient: &Patient, on_choose: Callback<String>) -> Option<impl IntoView> {
    let id = patient.id.clone()?;
    let label = format!(
        "{} — born {} — {}",
        patient_name(patient).unwrap_or_else(|| "Name not recorded".into()),
        patient.birth_date.clone().unwrap_or_else(|| "?".into()),
        banner_identifier(patient).map(|(l, v)| format!("{l} {v}")).unwrap_or_default()
    );
    Some(view! {
        <li><button type="button" class="pick" on:click=move |_| on_choose.run(id.clone())>{label}</button></li>
    })
}
