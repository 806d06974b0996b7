//! What the session holds, without any token: the launch context with
//! where each value came from, and the grant compared with the request.
//! (The patient banner and clinical summary build on this.)

use leptos::prelude::*;
use smart_core::context::Sourced;

use crate::app::SessionSlot;

fn sourced(value: &Option<Sourced<String>>) -> String {
    match value {
        Some(s) => format!("{} (from the {})", s.value, s.source.label()),
        None => "—".into(),
    }
}

#[component]
pub fn SessionSummary() -> impl IntoView {
    let session = expect_context::<SessionSlot>();
    move || {
        session.with(|current| {
            current.as_ref().map(|s| {
                let not_granted = s.requested.missing_from(&s.granted).join(" ");
                view! {
                    <section class="session-summary" aria-labelledby="session-title">
                        <h1 id="session-title">"Signed in"</h1>
                        <dl>
                            <dt>"FHIR server"</dt>
                            <dd>{s.fhir_base.to_string()}</dd>
                            <dt>"Patient"</dt>
                            <dd data-testid="context-patient">{sourced(&s.context.patient)}</dd>
                            <dt>"Encounter"</dt>
                            <dd>{sourced(&s.context.encounter)}</dd>
                            <dt>"User"</dt>
                            <dd>{sourced(&s.context.fhir_user)}</dd>
                            <dt>"Granted scopes"</dt>
                            <dd data-testid="granted-scopes">{s.granted.to_string()}</dd>
                            <dt>"Requested but not granted"</dt>
                            <dd>{if not_granted.is_empty() { "—".to_string() } else { not_granted }}</dd>
                        </dl>
                    </section>
                }
            })
        })
    }
}
