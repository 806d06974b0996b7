//! The EHR launch request (`/launch?iss=…&launch=…`), checked against the
//! configuration before any network request is made.

use crate::config::{AppConfig, IssuerConfig};
use crate::url::HttpUrl;
use crate::Error;

/// Longest `launch` value accepted. Launch values are opaque; some EHRs
/// send signed JWTs of a few KB, none legitimately sends more than this.
pub const MAX_LAUNCH_LENGTH: usize = 8192;

/// A validated EHR launch: an allowed issuer and a plausible launch value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EhrLaunch<'c> {
    pub issuer: &'c IssuerConfig,
    /// Passed back verbatim in the authorize request.
    pub launch: String,
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// Validates `iss` and `launch` from the launch URL. `iss` must name a
/// configured issuer exactly (scheme, host, port and path; a trailing slash
/// is ignored); nothing is fetched from an `iss` that is not allowed.
pub fn ehr_launch<'c>(config: &'c AppConfig, iss: Option<&str>, launch: Option<&str>) -> Result<EhrLaunch<'c>, Error> {
    let (iss, launch) = match (non_empty(iss), non_empty(launch)) {
        (Some(iss), Some(launch)) => (iss, launch),
        (None, Some(_)) => return Err(Error::LaunchWithoutIssuer),
        (Some(iss), None) => return Err(Error::IssuerWithoutLaunch { iss: iss.to_string() }),
        (None, None) => {
            return Err(Error::InvalidLaunchParameter { problem: "neither iss nor launch was given".into() })
        }
    };
    let issuer = HttpUrl::parse(iss)
        .ok()
        .and_then(|url| config.issuer_for_iss(&url))
        .ok_or_else(|| Error::IssuerNotAllowed { iss: iss.to_string() })?;
    if launch.len() > MAX_LAUNCH_LENGTH {
        return Err(Error::InvalidLaunchParameter {
            problem: format!("it is {} characters long, more than the {MAX_LAUNCH_LENGTH} accepted", launch.len()),
        });
    }
    if launch.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::InvalidLaunchParameter { problem: "it contains spaces or control characters".into() });
    }
    Ok(EhrLaunch { issuer, launch: launch.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AppConfig {
        AppConfig::parse(
            r#"{"issuers": [{"id": "ehr", "name": "EHR", "fhir_base_url": "https://ehr.example.org/fhir",
                "authorization_server": {"type": "smart"}, "client_id": "c",
                "ehr_launch_scopes": "launch patient/*.rs", "standalone_scopes": "launch/patient patient/*.rs"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn accepts_an_allowed_issuer_and_keeps_launch_verbatim() {
        let config = config();
        let launch = ehr_launch(&config, Some("https://ehr.example.org/fhir/"), Some("xyz+/=123")).unwrap();
        assert_eq!(launch.issuer.id, "ehr");
        assert_eq!(launch.launch, "xyz+/=123");
    }

    #[test]
    fn refuses_missing_halves() {
        let config = config();
        assert_eq!(ehr_launch(&config, None, Some("abc")), Err(Error::LaunchWithoutIssuer));
        assert_eq!(ehr_launch(&config, Some(""), Some("abc")), Err(Error::LaunchWithoutIssuer));
        assert_eq!(
            ehr_launch(&config, Some("https://ehr.example.org/fhir"), None),
            Err(Error::IssuerWithoutLaunch { iss: "https://ehr.example.org/fhir".into() })
        );
        assert!(matches!(ehr_launch(&config, None, None), Err(Error::InvalidLaunchParameter { .. })));
    }

    #[test]
    fn refuses_issuers_not_on_the_allowlist() {
        let config = config();
        for iss in [
            "https://evil.example.org/fhir",
            "https://ehr.example.org/fhir2",
            "https://ehr.example.org.evil.com/fhir",
            "http://ehr.example.org/fhir",
            "https://ehr.example.org:8443/fhir",
            "not a url",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                ehr_launch(&config, Some(iss), Some("abc")),
                Err(Error::IssuerNotAllowed { iss: iss.into() }),
                "{iss}"
            );
        }
    }

    #[test]
    fn refuses_implausible_launch_values() {
        let config = config();
        let iss = Some("https://ehr.example.org/fhir");
        assert!(matches!(ehr_launch(&config, iss, Some("a b")), Err(Error::InvalidLaunchParameter { .. })));
        assert!(matches!(ehr_launch(&config, iss, Some("a\u{0}b")), Err(Error::InvalidLaunchParameter { .. })));
        let long = "a".repeat(MAX_LAUNCH_LENGTH + 1);
        assert!(matches!(ehr_launch(&config, iss, Some(&long)), Err(Error::InvalidLaunchParameter { .. })));
    }
}
