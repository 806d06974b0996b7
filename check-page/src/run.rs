//! What the page asks each server, and which of the core's checks reads
//! each answer. No browser types: the requests go through a [`Probe`]
//! (the browser's fetch in the page, a fake in the tests below).
//!
//! `smart-deploy check` sends CORS preflights itself; a page cannot, so
//! it makes the requests the app makes, with the headers the app adds,
//! and the browser's own CORS and Content-Security-Policy decide whether
//! it may read the answers. Requests that need a token carry one that
//! cannot be valid (`deployment-check`): the servers answer with an
//! error, and reading that error is what shows CORS allows the origin.

use smart_core::check::{self, Answer, IssuerReport, NoAnswer, Preflight};
use smart_core::config::{AppConfig, IssuerConfig};
use smart_core::url::HttpUrl;

/// The made-up token and code the page sends.
pub const MADE_UP: &str = "deployment-check";

/// A request the page makes.
pub struct Ask<'a> {
    pub url: &'a HttpUrl,
    /// A form body to POST, or none for a GET.
    pub form: Option<String>,
    pub accept: &'static str,
    /// Headers besides Accept (and the form's Content-Type).
    pub headers: Vec<(&'static str, String)>,
    /// Follow a redirect (discovery does, as the app does) or report it.
    pub follow: bool,
}

impl<'a> Ask<'a> {
    /// A GET of `url` without added headers, not following a redirect.
    pub fn get(url: &'a HttpUrl, accept: &'static str) -> Ask<'a> {
        Ask { url, form: None, accept, headers: Vec::new(), follow: false }
    }
}

/// Why the page has no answer to read (the owned form of [`NoAnswer`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unread {
    Failed(String),
    Refused { by_policy: bool, detail: String },
    Redirected,
}

impl Unread {
    pub fn as_no_answer(&self) -> NoAnswer<'_> {
        match self {
            Unread::Failed(why) => NoAnswer::Failed(why),
            Unread::Refused { by_policy, detail } => NoAnswer::Refused { by_policy: *by_policy, detail },
            Unread::Redirected => NoAnswer::Redirected,
        }
    }
}

/// Makes requests as the page's origin.
#[allow(async_fn_in_trait)] // used in one thread, by this crate only
pub trait Probe {
    async fn ask(&self, ask: Ask<'_>) -> Result<Answer, Unread>;
}

fn seen(answer: &Result<Answer, Unread>) -> Result<&Answer, NoAnswer<'_>> {
    answer.as_ref().map_err(Unread::as_no_answer)
}

/// Every check for one issuer of the app at `app_url`, in the order the
/// command reports them.
pub async fn issuer(probe: &impl Probe, config: &AppConfig, issuer: &IssuerConfig, app_url: &HttpUrl) -> IssuerReport {
    let origin = app_url.origin();
    let discovery_url = issuer.authorization_server.discovery_url(&issuer.fhir_base_url);
    let ask = Ask { follow: true, ..Ask::get(&discovery_url, "application/json") };
    let answer = probe.ask(ask).await;
    let (mut findings, server) = check::from_discovery(config, issuer, app_url, seen(&answer));
    if let Some(server) = &server {
        let headers = check::preflight_headers(issuer, Some(server), false);
        let client = &issuer.client_id;
        let forms = [
            (
                "CORS, token endpoint",
                Some(&server.token_endpoint),
                format!("grant_type=authorization_code&code={MADE_UP}&client_id={}", encode(client)),
            ),
            (
                "CORS, revocation endpoint",
                server.revocation_endpoint.as_ref(),
                format!("token={MADE_UP}&client_id={}", encode(client)),
            ),
        ];
        for (what, endpoint, body) in forms {
            let Some(endpoint) = endpoint else { continue };
            let post = |headers: &[&'static str]| Ask {
                form: Some(body.clone()),
                headers: made_up_headers(headers),
                ..Ask::get(endpoint, "application/json")
            };
            let answer = probe.ask(post(&headers)).await.map(|a| a.status);
            // Refused with the DPoP header: is it the header or the origin?
            let simple_read = match &answer {
                Err(Unread::Refused { by_policy: false, .. }) if !headers.is_empty() => {
                    probe.ask(post(&[])).await.is_ok()
                }
                _ => false,
            };
            let request = Preflight { method: "POST", headers: &headers };
            let answer = answer.as_ref().copied().map_err(Unread::as_no_answer);
            findings.push(check::cors_in_browser(what, endpoint, &origin, &request, answer, simple_read));
        }
        if let Some(jwks) = &server.jwks_uri {
            findings.push(check::key_set(jwks, seen(&probe.ask(Ask::get(jwks, "application/json")).await)));
        }
    }
    let metadata_url = issuer.fhir_base_url.join_path("metadata");
    let metadata = probe.ask(Ask::get(&metadata_url, "application/fhir+json")).await;
    findings.extend(check::capability_statement(seen(&metadata)));
    // A FHIR read as the app makes it: the metadata read above had no
    // Authorization header, so it tells a refused preflight apart.
    let patient = issuer.fhir_base_url.join_path("Patient");
    let headers = check::preflight_headers(issuer, server.as_ref(), true);
    let ask = Ask { headers: made_up_headers(&headers), ..Ask::get(&patient, "application/fhir+json") };
    let answer = probe.ask(ask).await.map(|a| a.status);
    let request = Preflight { method: "GET", headers: &headers };
    let answer = answer.as_ref().copied().map_err(Unread::as_no_answer);
    findings.push(check::cors_in_browser("CORS, FHIR server", &patient, &origin, &request, answer, metadata.is_ok()));
    IssuerReport { id: issuer.id.clone(), findings }
}

/// The headers the app would add, with made-up values.
fn made_up_headers(names: &[&'static str]) -> Vec<(&'static str, String)> {
    names
        .iter()
        .map(|&name| match name {
            "authorization" => (name, format!("Bearer {MADE_UP}")),
            _ => (name, MADE_UP.to_string()),
        })
        .collect()
}

fn encode(value: &str) -> String {
    smart_core::url::encode_query_component(value)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use smart_core::check::Level;

    use super::*;

    /// A server as the page would see it: which URLs answer, and which
    /// refuse requests carrying a header.
    struct Fake {
        /// (url, what it answers) — the first whose url is a prefix.
        answers: Vec<(String, Result<Answer, Unread>)>,
        /// Header names a preflight refuses.
        refused_headers: Vec<&'static str>,
        asked: RefCell<Vec<String>>,
    }

    impl Probe for Fake {
        async fn ask(&self, ask: Ask<'_>) -> Result<Answer, Unread> {
            let url = ask.url.to_string();
            let method = if ask.form.is_some() { "POST" } else { "GET" };
            let names: Vec<&str> = ask.headers.iter().map(|(n, _)| *n).collect();
            self.asked.borrow_mut().push(format!("{method} {url} {}", names.join(",")));
            if names.iter().any(|n| self.refused_headers.contains(n)) {
                return Err(Unread::Refused { by_policy: false, detail: "Failed to fetch".into() });
            }
            let (_, answer) = self.answers.iter().find(|(prefix, _)| url.starts_with(prefix)).expect("an answer");
            answer.clone()
        }
    }

    fn ok(status: u16, body: &str) -> Result<Answer, Unread> {
        Ok(Answer { status, headers: Vec::new(), body: body.into() })
    }

    const DISCOVERY: &str = r#"{"issuer": "https://ehr.example.org/fhir", "authorization_endpoint": "https://ehr.example.org/authorize",
        "token_endpoint": "https://ehr.example.org/token", "revocation_endpoint": "https://ehr.example.org/revoke",
        "code_challenge_methods_supported": ["S256"], "dpop_signing_alg_values_supported": ["ES256"],
        "capabilities": ["launch-ehr", "launch-standalone", "client-public", "context-ehr-patient", "context-standalone-patient", "permission-v2"]}"#;

    fn config(dpop: &str) -> AppConfig {
        AppConfig::parse(&format!(
            r#"{{"redirect_path": "/callback", "issuers": [{{"id": "ehr", "fhir_base_url": "https://ehr.example.org/fhir",
                "name": "EHR", "client_id": "app one", "ehr_launch_scopes": "launch openid patient/*.rs",
                "standalone_scopes": "launch/patient openid patient/*.rs", "authorization_server": {{"type": "smart"}}, "dpop": "{dpop}"}}]}}"#
        ))
        .expect("a valid config")
    }

    fn fake(refused_headers: Vec<&'static str>) -> Fake {
        Fake {
            answers: vec![
                ("https://ehr.example.org/fhir/.well-known/smart-configuration".into(), ok(200, DISCOVERY)),
                ("https://ehr.example.org/token".into(), ok(400, r#"{"error": "invalid_grant"}"#)),
                ("https://ehr.example.org/revoke".into(), ok(200, "")),
                (
                    "https://ehr.example.org/fhir/metadata".into(),
                    ok(200, r#"{"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1"}"#),
                ),
                ("https://ehr.example.org/fhir/Patient".into(), ok(401, "")),
            ],
            refused_headers,
            asked: RefCell::new(Vec::new()),
        }
    }

    /// Runs a future whose awaits are all ready at once (the fake's).
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the fake never waits"),
        }
    }

    fn run(probe: &Fake, dpop: &str) -> IssuerReport {
        let config = config(dpop);
        let app = HttpUrl::parse("https://app.example.org/smart/").unwrap();
        block_on(issuer(probe, &config, &config.issuers[0], &app))
    }

    fn finding<'a>(report: &'a IssuerReport, check: &str) -> &'a smart_core::check::Finding {
        report.findings.iter().find(|f| f.check == check).unwrap_or_else(|| panic!("no {check}: {:?}", report.findings))
    }

    #[test]
    fn asks_what_the_app_asks_with_the_headers_it_adds() {
        let probe = fake(Vec::new());
        let report = run(&probe, "required");
        for check in ["CORS, token endpoint", "CORS, revocation endpoint", "CORS, FHIR server"] {
            assert_eq!(finding(&report, check).level, Level::Pass, "{check}");
        }
        assert_eq!(
            finding(&report, "redirect URI").detail.split(' ').next(),
            Some("https://app.example.org/smart/callback")
        );
        let asked = probe.asked.borrow();
        assert!(asked.contains(&"POST https://ehr.example.org/token dpop".to_string()), "{asked:?}");
        assert!(
            asked.contains(&"GET https://ehr.example.org/fhir/Patient authorization,dpop".to_string()),
            "{asked:?}"
        );
        assert!(asked.contains(&"GET https://ehr.example.org/fhir/metadata ".to_string()), "{asked:?}");
    }

    #[test]
    fn a_refused_header_is_told_apart_from_a_refused_origin() {
        let probe = fake(vec!["dpop"]);
        let report = run(&probe, "required");
        for check in ["CORS, token endpoint", "CORS, revocation endpoint", "CORS, FHIR server"] {
            let found = finding(&report, check);
            assert_eq!(found.level, Level::Failure, "{check}");
            assert!(found.detail.contains("its preflight refuses"), "{check}: {}", found.detail);
        }
        // The token endpoint was asked again without the header.
        assert!(probe.asked.borrow().contains(&"POST https://ehr.example.org/token ".to_string()));
        // Without DPoP the same server passes: no header to refuse on a form POST.
        let probe = fake(vec!["dpop"]);
        assert_eq!(finding(&run(&probe, "off"), "CORS, token endpoint").level, Level::Pass);
    }

    #[test]
    fn an_unreachable_discovery_still_checks_the_fhir_server() {
        let mut probe = fake(Vec::new());
        probe.answers[0].1 = Err(Unread::Refused { by_policy: true, detail: "Failed to fetch".into() });
        let report = run(&probe, "off");
        let discovery = finding(&report, "discovery document");
        assert_eq!(discovery.level, Level::Failure);
        assert!(discovery.detail.contains("Content-Security-Policy"), "{}", discovery.detail);
        assert!(report.findings.iter().all(|f| f.check != "CORS, token endpoint"), "no server, no token endpoint");
        assert_eq!(finding(&report, "CORS, FHIR server").level, Level::Pass);
    }
}
