//! Diagnostics for whoever sets the app up: the launch context with where
//! each value came from, the grant compared with the request, the token's
//! expiry and whether its `aud` names the FHIR server, and any warnings.
//! Never a raw token.

use leptos::prelude::*;
use smart_core::context::Sourced;

use crate::app::{context, SessionSlot, StyleNote};

fn sourced(value: &Option<Sourced<String>>) -> String {
    match value {
        Some(s) => format!("{} (from the {})", s.value, s.source.label()),
        None => "—".into(),
    }
}

#[component]
pub fn Diagnostics() -> impl IntoView {
    let session = context::<SessionSlot>();
    let style_note = context::<StyleNote>().0;
    move || {
        session.with(|current| {
            current.as_ref().map(|s| {
                let not_granted = s.requested.missing_from(&s.granted).join(" ");
                let seconds = s.expires_at.saturating_sub(crate::browser::now());
                let expiry = format!("in {} min {} s", seconds / 60, seconds % 60);
                let aud = match s.audience_matches_fhir_base() {
                    Some(true) => "yes".to_string(),
                    Some(false) => format!(
                        "NO: the token's aud is {}; FHIR calls will fail with 401",
                        smart_core::error::quoted(&s.context.access_token_audience.clone().unwrap_or_default())
                    ),
                    None => "unknown (the access token is opaque)".to_string(),
                };
                let warnings = s.warnings.join("; ");
                view! {
                    <details class="diagnostics" data-testid="diagnostics">
                        <summary>"Connection details"</summary>
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
                            <dt>"Access token expires"</dt>
                            <dd>{expiry}</dd>
                            <dt>"Token audience (aud) matches the FHIR server"</dt>
                            <dd data-testid="aud-check">{aud}</dd>
                            <dt>"EHR styling (smart_style_url)"</dt>
                            <dd data-testid="style-note">{move || style_note.get().unwrap_or_else(|| "—".to_string())}</dd>
                            <dt>"Warnings"</dt>
                            <dd>{if warnings.is_empty() { "—".to_string() } else { warnings }}</dd>
                        </dl>
                    </details>
                }
            })
        })
    }
}
