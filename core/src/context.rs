//! Launch context, resolved from wherever the server put it, with provenance.
//!
//! Standard SMART servers put `patient`, `encounter`, … at the top level of
//! the token response. Descope puts them into the access token through a JWT
//! template (`aud`, `scope`, `patient`, `encounter`, `need_patient_banner`,
//! `smart_style_url`). `fhirUser` comes from the id_token. Each value is
//! looked up in that order, and the place it was found is kept: that is what
//! makes a "missing patient claim" diagnosable.

use serde_json::Value;

use crate::jwt::{audience_claim, bool_claim, string_claim, Claims};
use crate::token::{parse_fhir_context, FhirContextItem, TokenResponse};

/// Where a context value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The top level of the token response (standard SMART).
    TokenResponse,
    /// A claim of the access token (Descope's JWT template).
    AccessTokenClaim,
    /// A claim of the id_token.
    IdToken,
    /// Chosen by the user in the app's patient picker (standalone launch).
    PatientPicker,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::TokenResponse => "token response",
            Source::AccessTokenClaim => "access-token claim",
            Source::IdToken => "id_token",
            Source::PatientPicker => "patient picker",
        }
    }
}

/// A value with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// Everything known about the launch context.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchContext {
    pub patient: Option<Sourced<String>>,
    pub encounter: Option<Sourced<String>>,
    pub need_patient_banner: Option<Sourced<bool>>,
    pub smart_style_url: Option<Sourced<String>>,
    pub intent: Option<Sourced<String>>,
    pub tenant: Option<Sourced<String>>,
    pub fhir_context: Vec<FhirContextItem>,
    pub fhir_user: Option<Sourced<String>>,
    /// The access token's `aud` claim, when the access token is a JWT.
    pub access_token_audience: Option<Vec<String>>,
    /// The access token's `scope` claim, when the access token is a JWT.
    pub access_token_scope: Option<String>,
}

fn first<T>(candidates: [(Option<T>, Source); 2]) -> Option<Sourced<T>> {
    candidates.into_iter().find_map(|(value, source)| value.map(|value| Sourced { value, source }))
}

impl LaunchContext {
    /// Resolves the context: token response first, then the access-token
    /// claims, then (for `fhirUser`) the id_token.
    pub fn resolve(token: &TokenResponse, access_claims: Option<&Claims>, id_claims: Option<&Claims>) -> LaunchContext {
        let top = &token.context;
        let string = |name: &str| {
            first([
                (string_claim(top, name), Source::TokenResponse),
                (access_claims.and_then(|c| string_claim(c, name)), Source::AccessTokenClaim),
            ])
        };
        let fhir_context = match top.get("fhirContext") {
            Some(value) => parse_fhir_context(Some(value)),
            None => parse_fhir_context(access_claims.and_then(|c| c.get("fhirContext"))),
        };
        LaunchContext {
            patient: string("patient"),
            encounter: string("encounter"),
            need_patient_banner: first([
                (bool_claim(top, "need_patient_banner"), Source::TokenResponse),
                (access_claims.and_then(|c| bool_claim(c, "need_patient_banner")), Source::AccessTokenClaim),
            ]),
            smart_style_url: string("smart_style_url"),
            intent: string("intent"),
            tenant: string("tenant"),
            fhir_context,
            fhir_user: first([
                (id_claims.and_then(|c| string_claim(c, "fhirUser")), Source::IdToken),
                (access_claims.and_then(|c| string_claim(c, "fhirUser")), Source::AccessTokenClaim),
            ]),
            access_token_audience: access_claims.and_then(audience_claim),
            access_token_scope: access_claims.and_then(|c| c.get("scope")).and_then(Value::as_str).map(str::to_string),
        }
    }

    /// Whether the app should show its own patient banner: unless the
    /// server said `need_patient_banner: false` (the EHR shows one).
    /// Standalone launches always show it (the caller decides that).
    pub fn wants_banner(&self) -> bool {
        self.need_patient_banner.as_ref().map(|s| s.value).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(body: Value) -> TokenResponse {
        TokenResponse::from_response(crate::token::TokenAnswer::json(200, &body.to_string())).unwrap()
    }

    fn claims(value: Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn reads_descope_template_claims_from_the_access_token() {
        let response = token(json!({"access_token": "x.y.z", "token_type": "Bearer"}));
        let access = claims(json!({
            "aud": "https://ehr.example.org/fhir", "scope": "launch patient/*.rs",
            "patient": "p-1", "encounter": "", "need_patient_banner": true,
            "smart_style_url": "https://ehr.example.org/style.json"
        }));
        let context = LaunchContext::resolve(&response, Some(&access), None);
        assert_eq!(context.patient, Some(Sourced { value: "p-1".into(), source: Source::AccessTokenClaim }));
        // Descope renders an unset template value as "": that is no encounter.
        assert_eq!(context.encounter, None);
        assert!(context.need_patient_banner.unwrap().value);
        assert_eq!(context.access_token_audience.unwrap(), ["https://ehr.example.org/fhir"]);
        assert_eq!(context.access_token_scope.as_deref(), Some("launch patient/*.rs"));
    }

    #[test]
    fn the_token_response_wins_over_claims() {
        let response = token(
            json!({"access_token": "t", "token_type": "Bearer", "patient": "from-response", "need_patient_banner": "false"}),
        );
        let access = claims(json!({"patient": "from-claim", "encounter": "e-1", "need_patient_banner": true}));
        let context = LaunchContext::resolve(&response, Some(&access), None);
        assert_eq!(
            context.patient.clone().unwrap(),
            Sourced { value: "from-response".into(), source: Source::TokenResponse }
        );
        assert_eq!(context.encounter.as_ref().unwrap().source, Source::AccessTokenClaim);
        assert_eq!(context.need_patient_banner.as_ref().unwrap().source, Source::TokenResponse);
        assert!(!context.wants_banner());
    }

    #[test]
    fn fhir_user_comes_from_the_id_token() {
        let response = token(json!({"access_token": "opaque", "token_type": "Bearer"}));
        let id = claims(json!({"fhirUser": "Practitioner/123"}));
        let context = LaunchContext::resolve(&response, None, Some(&id));
        assert_eq!(
            context.fhir_user.clone().unwrap(),
            Sourced { value: "Practitioner/123".into(), source: Source::IdToken }
        );
        assert_eq!(context.patient, None);
        assert!(context.wants_banner());
        assert_eq!(context.access_token_audience, None);
    }

    #[test]
    fn fhir_context_falls_back_to_claims() {
        let response = token(json!({"access_token": "t", "token_type": "Bearer"}));
        let access = claims(json!({"fhirContext": [{"reference": "ImagingStudy/7"}]}));
        let context = LaunchContext::resolve(&response, Some(&access), None);
        assert_eq!(context.fhir_context[0].reference.as_deref(), Some("ImagingStudy/7"));
    }
}
