//! The signed-in view: the patient banner (unless the EHR shows its own),
//! the clinical summary's sections, all requested at once, and the
//! connection diagnostics; a patient picker first when the sign-in named
//! no patient but the grant allows searching for one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use smart_core::authorize::LaunchKind;
use smart_core::fhir::summary::Section;
use smart_core::session::PatientContext;
use smart_core::Error;

use super::{ClinicalSection, Diagnostics, ErrorView, PatientBanner, PatientPicker};
use crate::context::context;
use crate::session::SessionHandle;

#[component]
pub fn Summary() -> impl IntoView {
    let session = context::<SessionHandle>();
    let Some((patient, banner)) =
        session.with_untracked(|s| (s.patient_context(), s.kind == LaunchKind::Standalone || s.context.wants_banner()))
    else {
        return view! { <ErrorView error=Error::NoSession/> }.into_any();
    };
    let chosen = RwSignal::new(match patient {
        Ok(PatientContext::Given(p)) => Some(p.value),
        Ok(PatientContext::PickerNeeded) => None,
        Err(error) => return view! { <ErrorView error/> <Diagnostics/> }.into_any(),
    });
    let choose = Callback::new(move |id: String| {
        session.update(|s| s.choose_patient(id.clone()));
        chosen.set(Some(id));
    });
    let signing_out = RwSignal::new(false);
    let sign_out = move |_| {
        signing_out.set(true);
        spawn_local(session.sign_out());
    };
    view! {
        <div class="toolbar">
            <button type="button" class="sign-out" on:click=sign_out disabled=move || signing_out.get()>
                {move || if signing_out.get() { "Signing out…" } else { "Sign out" }}
            </button>
        </div>
        {move || match chosen.get() {
            None => view! { <PatientPicker on_choose=choose/> }.into_any(),
            Some(patient_id) => view! {
                // The page's heading whether or not the banner is shown (the
                // EHR may show its own) and while it loads.
                <h1 class="visually-hidden">"Health summary"</h1>
                {banner.then(|| view! { <PatientBanner patient_id=patient_id.clone()/> })}
                <div class="summary" data-testid="summary">
                    {Section::ALL
                        .into_iter()
                        .map(|section| view! { <ClinicalSection section patient_id=patient_id.clone()/> })
                        .collect_view()}
                </div>
            }
            .into_any(),
        }}
        <Diagnostics/>
    }
    .into_any()
}
