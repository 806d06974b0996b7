//! Diagnostics for whoever sets the app up: the launch context with where
//! each value came from, the grant compared with the request, the token's
//! expiry, whether its `aud` names the FHIR server and whether it is bound
//! to the page's key (DPoP), and any warnings. Never a raw token, key or
//! proof.

use leptos::prelude::*;
use smart_core::context::Sourced;
use smart_core::error::quoted;
use smart_core::session::Session;

use crate::browser::now;
use crate::context::context;
use crate::session::SessionHandle;

fn sourced(value: &Option<Sourced<String>>) -> String {
    match value {
        Some(s) => format!("{} (from the {})", s.value, s.source.label()),
        None => "—".into(),
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "—".into()
    } else {
        text
    }
}

fn audience(s: &Session) -> String {
    match s.audience_matches_fhir_base() {
        Some(true) => "yes".to_string(),
        Some(false) => {
            let aud = s.context.access_token_audience.as_deref().unwrap_or_default();
            let why = match s.descope_project_as_audience() {
                Some(_) => " (the Descope project id: the JWT template sets no aud)",
                None => "",
            };
            format!("NO: the token's aud is {}{why}; FHIR calls will fail with 401", quoted(aud))
        }
        None => "unknown (the access token is opaque)".to_string(),
    }
}

#[component]
pub fn Diagnostics() -> impl IntoView {
    let session = context::<SessionHandle>();
    move || {
        session.with(|s| {
            let seconds = s.expires_at.saturating_sub(now());
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
                        <dd data-testid="granted-scopes">{format!("{} ({})", s.granted, s.grant_source.label())}</dd>
                        <dt>"Requested but not granted"</dt>
                        <dd>{or_dash(s.requested.missing_from(&s.granted).join(" "))}</dd>
                        <dt>"Access token expires"</dt>
                        <dd>{format!("in {} min {} s", seconds / 60, seconds % 60)}</dd>
                        <dt>"Token audience (aud) matches the FHIR server"</dt>
                        <dd data-testid="aud-check">{audience(s)}</dd>
                        <dt>"Tokens bound to this page (DPoP)"</dt>
                        <dd data-testid="dpop-bound">{if s.is_dpop_bound() { "yes: useless without this page's key" } else { "no: bearer tokens" }}</dd>
                        <dt>"EHR styling (smart_style_url)"</dt>
                        <dd data-testid="style-note">{move || session.style_note().unwrap_or_else(|| "—".to_string())}</dd>
                        <dt>"Warnings"</dt>
                        <dd>{or_dash(s.warnings.join("; "))}</dd>
                    </dl>
                </details>
            }
        })
    }
}
