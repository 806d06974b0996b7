//! Choosing a patient when the sign-in named none (standalone launch with
//! a user-level grant): a name search over `Patient`.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::fhir::display::{banner_identifier, patient_name};
use smart_core::fhir::models::{parse_bundle, Patient};
use smart_core::Error;
use wasm_bindgen::JsCast;

use crate::app::{context, EndedSlot, SessionSlot};
use crate::browser::fhir_client;

enum Results {
    Idle,
    Searching,
    Found(Vec<Patient>),
    Failed(Error),
}

#[component]
pub fn PatientPicker(on_choose: Callback<String>) -> impl IntoView {
    let session = context::<SessionSlot>();
    let ended = context::<EndedSlot>();
    let results = RwSignal::new(Results::Idle);
    let search = move |event: SubmitEvent| {
        event.prevent_default();
        // Read from the form when it is sent: a two-way `bind:value` on the
        // input cost 4 KB brotli of wasm.
        let form = event.target().map(|t| t.unchecked_into::<web_sys::HtmlFormElement>());
        let typed =
            form.and_then(|f| web_sys::FormData::new_with_form(&f).ok()).and_then(|d| d.get("name").as_string());
        let text = typed.unwrap_or_default().trim().to_string();
        if text.is_empty() {
            return;
        }
        let Some(url) = session.with_untracked(|s| {
            s.as_ref()
                .map(|s| s.fhir_base.join_path("Patient").with_query_pairs([("name", text.as_str()), ("_count", "20")]))
        }) else {
            return;
        };
        results.set(Results::Searching);
        spawn_local(async move {
            let found = fhir_client::search(session, ended, url, 1, parse_bundle::<Patient>).await;
            results.set(match found {
                Ok(gathered) => Results::Found(gathered.items),
                Err(error) => Results::Failed(error),
            });
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
            {move || results.with(|results| match results {
                Results::Idle => ().into_any(),
                Results::Searching => view! { <p role="status">"Searching…"</p> }.into_any(),
                Results::Failed(error) => {
                    let d = error.diagnosis();
                    view! { <p role="alert" class="section-error">{format!("{}: {}", d.title, d.detail)}</p> }.into_any()
                }
                Results::Found(patients) if patients.is_empty() => view! { <p role="status">"No patient matches that name."</p> }.into_any(),
                Results::Found(patients) => view! {
                    <ul class="picker-results">
                        {patients
                            .iter()
                            .filter_map(|p| {
                                let id = p.id.clone()?;
                                let label = format!(
                                    "{} — born {} — {}",
                                    patient_name(p).unwrap_or_else(|| "Name not recorded".into()),
                                    p.birth_date.clone().unwrap_or_else(|| "?".into()),
                                    banner_identifier(p).map(|(l, v)| format!("{l} {v}")).unwrap_or_default()
                                );
                                Some(view! {
                                    <li><button type="button" class="pick" on:click=move |_| on_choose.run(id.clone())>{label}</button></li>
                                })
                            })
                            .collect_view()}
                    </ul>
                }
                .into_any(),
            })}
        </section>
    }
}
