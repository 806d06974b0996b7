//! `smart-deploy check`: the deployment check from a terminal or a
//! pipeline. It fetches what the app would fetch, as the app's origin
//! would (an `Origin` header, and a CORS preflight where the browser sends
//! one), and hands the answers to the core's checks (`smart_core::check`).

use std::time::Duration;

pub use smart_core::check::IssuerReport;
use smart_core::check::{self, Answer, NoAnswer};
use smart_core::config::AppConfig;
use smart_core::url::HttpUrl;

/// Fetches as the app would, without following redirects (the app refuses
/// them on token, key-set and FHIR requests).
struct Fetcher {
    agent: ureq::Agent,
    origin: String,
}

impl Fetcher {
    fn new(origin: String) -> Fetcher {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(check::TIMEOUT_SECONDS.into())))
            .build()
            .into();
        Fetcher { agent, origin }
    }

    fn read(&self, response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, String> {
        let mut response = response.map_err(|e| e.to_string())?;
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(check::MAX_ANSWER.into())
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Answer { status, headers, body })
    }

    fn get(&self, url: &HttpUrl, accept: &str) -> Result<Answer, String> {
        self.read(self.agent.get(url.to_string()).header("Origin", &self.origin).header("Accept", accept).call())
    }

    /// The CORS preflight a browser sends before a request with `headers`.
    fn preflight(&self, url: &HttpUrl, method: &str, headers: &str) -> Result<Answer, String> {
        let request = self
            .agent
            .options(url.to_string())
            .header("Origin", &self.origin)
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", headers);
        self.read(request.call())
    }
}

/// An answer as the core's checks take it.
fn seen(answer: &Result<Answer, String>) -> Result<&Answer, NoAnswer<'_>> {
    answer.as_ref().map_err(|why| NoAnswer::Failed(why))
}

/// Runs every check for every issuer of `config`, as the app at `app_url`.
pub fn run(config: &AppConfig, app_url: &HttpUrl) -> Vec<IssuerReport> {
    let fetcher = Fetcher::new(app_url.origin());
    config
        .issuers
        .iter()
        .map(|issuer| {
            let url = issuer.authorization_server.discovery_url(&issuer.fhir_base_url);
            let answer = fetcher.get(&url, "application/json");
            let (mut findings, server) = check::from_discovery(config, issuer, app_url, seen(&answer));
            if let Some(server) = &server {
                // Token and revocation requests are form POSTs: a preflight
                // only when DPoP adds its header, but asked either way, as
                // the answer says whether the origin is allowed.
                let headers = check::preflight_headers(issuer, Some(server), false);
                let post = check::Preflight { method: "POST", headers: &headers };
                let endpoints = [
                    ("CORS, token endpoint", Some(&server.token_endpoint)),
                    ("CORS, revocation endpoint", server.revocation_endpoint.as_ref()),
                ];
                for (what, endpoint) in endpoints {
                    if let Some(endpoint) = endpoint {
                        let answer = fetcher.preflight(endpoint, "POST", &headers.join(", "));
                        findings.push(check::cors(what, endpoint, &fetcher.origin, &post, seen(&answer)));
                    }
                }
                if let Some(jwks) = &server.jwks_uri {
                    let keys = fetcher.get(jwks, "application/json");
                    findings.push(check::key_set(jwks, seen(&keys)));
                }
            }
            let metadata_url = issuer.fhir_base_url.join_path("metadata");
            let metadata = fetcher.get(&metadata_url, "application/fhir+json");
            findings.extend(check::capability_statement(seen(&metadata)));
            let patient = issuer.fhir_base_url.join_path("Patient");
            let headers = check::preflight_headers(issuer, server.as_ref(), true);
            let fhir = fetcher.preflight(&patient, "GET", &headers.join(", "));
            let read = check::Preflight { method: "GET", headers: &headers };
            findings.push(check::cors("CORS, FHIR server", &patient, &fetcher.origin, &read, seen(&fhir)));
            IssuerReport { id: issuer.id.clone(), findings }
        })
        .collect()
}

/// The report as text: a heading per issuer, a line per finding.
pub fn text(reports: &[IssuerReport]) -> String {
    check::report_text(reports)
}

/// The report as JSON, for machines.
pub fn json(reports: &[IssuerReport]) -> String {
    let issuers: Vec<serde_json::Value> = reports
        .iter()
        .map(|report| {
            let findings: Vec<serde_json::Value> = report
                .findings
                .iter()
                .map(|f| serde_json::json!({"level": f.level.label().to_lowercase(), "check": f.check, "detail": f.detail, "fix": f.fix}))
                .collect();
            serde_json::json!({"issuer": report.id, "findings": findings})
        })
        .collect();
    serde_json::json!({"issuers": issuers}).to_string()
}

/// Whether anything failed.
pub fn failed(reports: &[IssuerReport]) -> bool {
    reports.iter().any(|r| check::failed(&r.findings))
}
