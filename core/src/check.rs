//! The deployment check: what a deploying team can learn about each
//! configured issuer before a clinician launches the app. Pure functions
//! from the configuration and the servers' answers to findings, so the
//! command (`smart-deploy check`) and a page share them and they are tested
//! here; the front-ends only fetch.
//!
//! What is checked follows SMART App Launch 2.2 (§Conformance: the
//! discovery fields, `capabilities`, `scopes_supported`), RFC 7636 (S256),
//! RFC 7009 (revocation), RFC 9449 (DPoP), OpenID Connect Discovery §4.3
//! (the issuer), the Fetch standard's CORS rules, and FHIR R4's
//! CapabilityStatement (`rest.resource.searchParam`).

use serde_json::Value;

use crate::config::{AppConfig, AuthorizationServerSource, IssuerConfig};
use crate::discovery::AuthorizationServer;
use crate::dpop::DpopPolicy;
use crate::fhir::summary::Section;
use crate::id_token::Jwks;
use crate::scopes::ScopeSet;
use crate::url::HttpUrl;

/// The longest answer either front-end reads, in bytes: the app's own cap
/// for documents (`MAX_DOCUMENT` in src/browser/http.rs).
pub const MAX_ANSWER: u32 = 1 << 20;

/// How long either front-end waits for a server, in seconds.
pub const TIMEOUT_SECONDS: u32 = 15;

/// How a finding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Pass,
    /// Works, but something a user may meet (no revocation, a missing
    /// capability the app can do without).
    Warning,
    /// A launch or a summary section will fail.
    Failure,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Pass => "pass",
            Level::Warning => "warning",
            Level::Failure => "FAIL",
        }
    }
}

/// One thing checked, and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// What was checked, e.g. "discovery document".
    pub check: &'static str,
    /// What was found.
    pub detail: String,
    /// What to do, for a warning or a failure.
    pub fix: Option<String>,
}

impl Finding {
    fn pass(check: &'static str, detail: impl Into<String>) -> Finding {
        Finding { level: Level::Pass, check, detail: detail.into(), fix: None }
    }

    fn warning(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { level: Level::Warning, check, detail: detail.into(), fix: Some(fix.into()) }
    }

    fn failure(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { level: Level::Failure, check, detail: detail.into(), fix: Some(fix.into()) }
    }

    /// One line of text: level, what, what was found, and what to do.
    pub fn line(&self) -> String {
        let fix = self.fix.as_deref().map(|fix| format!(" → {fix}")).unwrap_or_default();
        format!("{:<7} {}: {}{fix}", self.level.label(), self.check, self.detail)
    }
}

/// A server's answer as a front-end fetched it: status, the headers asked
/// for (names in lower case), the body; or why there was none
/// ([`NoAnswer`]).
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a front-end has no answer for the checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoAnswer<'a> {
    /// The request failed (DNS, TLS, a timeout, a refused connection),
    /// in the front-end's words.
    Failed(&'a str),
    /// A browser did not let the page read the answer. It gives the page a
    /// network error and no reason (Fetch §4.9); `by_policy` is whether
    /// the page's own Content-Security-Policy reported a violation for
    /// the URL (a `securitypolicyviolation` event).
    Refused { by_policy: bool, detail: &'a str },
    /// It answered with a redirect, which the app does not follow on
    /// token, key-set and FHIR requests (a page sees no `Location`).
    Redirected,
}

impl NoAnswer<'_> {
    /// What happened, as the end of "… did not answer: ".
    fn cause(&self) -> String {
        match self {
            NoAnswer::Failed(why) => why.to_string(),
            NoAnswer::Refused { by_policy: true, .. } => {
                "this page's Content-Security-Policy (connect-src) does not allow connecting there".into()
            }
            NoAnswer::Refused { by_policy: false, detail } => format!(
                "the browser refused it ({detail}): the server's CORS settings do not allow this origin, or it is unreachable"
            ),
            NoAnswer::Redirected => {
                "it answered with a redirect, which the app does not follow with a code or a token".into()
            }
        }
    }

    /// What to do: `otherwise` when the request failed outside a browser.
    fn fix(&self, otherwise: &str) -> String {
        match self {
            NoAnswer::Failed(_) => otherwise.into(),
            NoAnswer::Refused { by_policy: true, .. } => {
                "add the server's origin to connect-src (smart-deploy lists the configured servers; --connect adds others)".into()
            }
            NoAnswer::Refused { by_policy: false, .. } => {
                "allow this origin in the server's CORS settings, and check that it is up (smart-deploy check tells the two apart)".into()
            }
            NoAnswer::Redirected => {
                "configure the address the server redirects to, not the one that redirects (`curl -I` on the URL shows its Location)".into()
            }
        }
    }
}

/// The deployment's `config.json` as a page fetched it from beside the
/// app (`url`): the configuration, or the finding that says why there is
/// none. The command reads the file instead and stops on a bad one.
pub fn configuration(url: &HttpUrl, answer: Result<&Answer, NoAnswer<'_>>) -> Result<AppConfig, Finding> {
    const CHECK: &str = "configuration";
    let answer = answer.map_err(|why| {
        Finding::failure(
            CHECK,
            format!("{url} did not answer: {}", why.cause()),
            why.fix("upload config.json beside index.html"),
        )
    })?;
    if answer.status != 200 {
        return Err(Finding::failure(
            CHECK,
            format!("{url} answered HTTP {}", answer.status),
            "upload config.json beside index.html (the app loads it from there)",
        ));
    }
    AppConfig::parse(&answer.body).map_err(|error| {
        let d = error.diagnosis();
        Finding::failure(CHECK, format!("{url}: {}: {}", d.title, d.detail), d.fix)
    })
}

/// The discovery document: reachable, well formed, the issuer it must
/// name, S256, the endpoints; then what it says about revocation and DPoP.
/// Gives the server when the app could sign in with it.
pub fn discovery(
    issuer: &IssuerConfig,
    answer: Result<&Answer, NoAnswer<'_>>,
) -> (Vec<Finding>, Option<AuthorizationServer>) {
    const CHECK: &str = "discovery document";
    let url = issuer.authorization_server.discovery_url(&issuer.fhir_base_url);
    let answer = match answer {
        Ok(answer) => answer,
        Err(why) => {
            let fix = why.fix("check that the server is up and that the machine running the check can reach it");
            return (vec![Finding::failure(CHECK, format!("{url} did not answer: {}", why.cause()), fix)], None);
        }
    };
    let server = match issuer.authorization_server.read_discovery(&issuer.fhir_base_url, answer.status, &answer.body) {
        Ok(server) => server,
        Err(error) => {
            let d = error.diagnosis();
            return (vec![Finding::failure(CHECK, format!("{}: {}", d.title, d.detail), d.fix)], None);
        }
    };
    let mut findings = vec![Finding::pass(
        CHECK,
        format!(
            "{url}: authorize at {}, tokens at {}, PKCE S256",
            server.authorization_endpoint, server.token_endpoint
        ),
    )];
    findings
        .extend(server.warnings.iter().map(|w| Finding::warning(CHECK, w.clone(), "ask the server's administrator")));
    findings.push(match &server.revocation_endpoint {
        Some(endpoint) => Finding::pass("revocation", format!("sign-out revokes the tokens at {endpoint}")),
        None => Finding::warning(
            "revocation",
            "the server names no revocation_endpoint, so sign-out can only forget the tokens, not revoke them",
            "publish an RFC 7009 revocation endpoint in the discovery document, if the server has one",
        ),
    });
    let dpop = match &server.dpop_signing_alg_values_supported {
        Some(algs) if algs.iter().any(|a| a == "ES256") => {
            "offered with ES256: tokens are bound to the browser's key".into()
        }
        Some(algs) => {
            format!("offered with {} only; the app signs ES256, so its tokens stay bearer tokens", algs.join(", "))
        }
        None => "not advertised: bearer tokens".to_string(),
    };
    findings.push(Finding::pass("DPoP", dpop));
    if server.jwks_uri.is_none() {
        findings.push(Finding::warning(
            "key set",
            "the metadata names no jwks_uri, so id_tokens cannot be checked and their claims (fhirUser) are not used",
            "publish the key set's address as jwks_uri in the discovery document",
        ));
    }
    if matches!(issuer.authorization_server, AuthorizationServerSource::Descope { .. }) {
        // Seen only in a token, after a sign-in; said here because it is
        // the 401 teams meet first with Descope (the seed's troubleshooting).
        findings.push(Finding::warning(
            "access-token aud",
            format!(
                "not visible before a sign-in: the FHIR server accepts tokens whose aud is {}, and Descope's default aud is the project id",
                issuer.fhir_base_url
            ),
            format!("set aud to {} in the Inbound App's JWT template", issuer.fhir_base_url),
        ));
    }
    (findings, Some(server))
}

/// What follows from the configuration and the discovery answer alone, in
/// the order both front-ends report it: the redirect URI, the document,
/// and, when the app could sign in with the server, its capabilities and
/// scopes.
pub fn from_discovery(
    config: &AppConfig,
    issuer: &IssuerConfig,
    app_url: &HttpUrl,
    answer: Result<&Answer, NoAnswer<'_>>,
) -> (Vec<Finding>, Option<AuthorizationServer>) {
    let mut findings = vec![redirect_uri(app_url, &config.redirect_path)];
    let (found, server) = discovery(issuer, answer);
    findings.extend(found);
    if let Some(server) = &server {
        findings.extend(capabilities(issuer, server));
        findings.extend(scopes(issuer, server));
    }
    (findings, server)
}

/// SMART `capabilities` against what the app uses (SMART App Launch 2.2
/// §Capabilities). Servers found by OpenID discovery publish none.
pub fn capabilities(issuer: &IssuerConfig, server: &AuthorizationServer) -> Vec<Finding> {
    const CHECK: &str = "capabilities";
    if !matches!(issuer.authorization_server, AuthorizationServerSource::SmartDiscovery) {
        return vec![Finding::pass(CHECK, "not published by OpenID discovery (a SMART configuration has them)")];
    }
    let needed = [
        ("launch-ehr", "EHR launch"),
        ("launch-standalone", "standalone launch"),
        ("client-public", "a public client (no secret)"),
        ("context-ehr-patient", "the patient in EHR launch"),
        ("context-standalone-patient", "the patient in standalone launch"),
    ];
    let mut findings: Vec<Finding> = needed
        .iter()
        .filter(|(capability, _)| !server.has_capability(capability))
        .map(|(capability, what)| {
            Finding::warning(
                CHECK,
                format!("{capability} is not listed: {what} may not work"),
                "enable it at the server, or ask its administrator whether it is supported",
            )
        })
        .collect();
    if !server.has_capability("permission-v2") && !server.has_capability("permission-v1") {
        findings.push(Finding::warning(
            CHECK,
            "neither permission-v2 nor permission-v1 is listed: the scope syntax the server takes is unknown",
            "ask the server's administrator which SMART scope version it supports",
        ));
    }
    if findings.is_empty() {
        findings.push(Finding::pass(CHECK, "everything the app uses is listed"));
    }
    findings
}

/// The configured scopes against `scopes_supported`, when the server
/// lists it (RECOMMENDED in SMART App Launch 2.2; a list need not be
/// complete, so a scope missing from it is a warning).
pub fn scopes(issuer: &IssuerConfig, server: &AuthorizationServer) -> Vec<Finding> {
    const CHECK: &str = "scopes";
    let Some(supported) = &server.scopes_supported else {
        return vec![Finding::pass(CHECK, "the server does not list scopes_supported; nothing to compare")];
    };
    let supported = ScopeSet::parse_lenient(&supported.join(" "));
    let mut missing: Vec<String> = Vec::new();
    for configured in [&issuer.ehr_launch_scopes, &issuer.standalone_scopes] {
        for token in configured.missing_from(&supported) {
            if !missing.contains(&token) {
                missing.push(token);
            }
        }
    }
    if missing.is_empty() {
        return vec![Finding::pass(CHECK, "every configured scope is in scopes_supported")];
    }
    vec![Finding::warning(
        CHECK,
        format!("configured but not in scopes_supported: {}", missing.join(" ")),
        "remove them from config.json, or have the server grant them (a server may refuse a scope it does not list)",
    )]
}

/// The FHIR server's CapabilityStatement (`{base}/metadata`): its FHIR
/// version, and whether it supports each search the summary makes.
pub fn capability_statement(answer: Result<&Answer, NoAnswer<'_>>) -> Vec<Finding> {
    const CHECK: &str = "FHIR CapabilityStatement";
    let answer = match answer {
        Ok(answer) if (200..300).contains(&answer.status) => answer,
        Ok(answer) => {
            return vec![Finding::warning(
                CHECK,
                format!("/metadata answered HTTP {}", answer.status),
                "FHIR servers must publish a CapabilityStatement at /metadata; the summary may still work",
            )]
        }
        Err(why) => {
            return vec![Finding::failure(
                CHECK,
                format!("/metadata did not answer: {}", why.cause()),
                why.fix("check the FHIR base URL"),
            )]
        }
    };
    let Ok(statement) = serde_json::from_str::<Value>(&answer.body) else {
        return vec![Finding::warning(CHECK, "/metadata is not JSON", "check the FHIR base URL")];
    };
    if statement["resourceType"] != "CapabilityStatement" {
        return vec![Finding::warning(CHECK, "/metadata is not a CapabilityStatement", "check the FHIR base URL")];
    }
    let version = statement["fhirVersion"].as_str().unwrap_or("unknown");
    let mut findings = vec![if version.starts_with("4.") {
        Finding::pass(CHECK, format!("FHIR {version}"))
    } else {
        Finding::warning(
            CHECK,
            format!("FHIR {version}; the app reads FHIR R4 (4.0.1)"),
            "point fhir_base_url at an R4 endpoint",
        )
    }];
    let resources: Vec<&Value> = statement["rest"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rest| rest["mode"] == "server")
        .flat_map(|rest| rest["resource"].as_array().into_iter().flatten())
        .collect();
    for (i, section) in Section::ALL.into_iter().enumerate() {
        let kind = section.resource_type();
        // Vital signs and labs are both Observation searches.
        if Section::ALL[..i].iter().any(|earlier| earlier.resource_type() == kind) {
            continue;
        }
        let Some(resource) = resources.iter().find(|r| r["type"] == kind) else {
            findings.push(Finding::failure(
                "summary searches",
                format!("{kind} is not in the CapabilityStatement: {} cannot be shown", section.title()),
                "have the server expose it, or leave the section to show the server's answer",
            ));
            continue;
        };
        let params: Vec<&str> =
            resource["searchParam"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        let wanted = search_parameters(section);
        let missing: Vec<&str> = wanted.iter().copied().filter(|p| !params.contains(p)).collect();
        if missing.is_empty() {
            findings.push(Finding::pass("summary searches", format!("{kind}: {}", wanted.join(", "))));
        } else {
            findings.push(Finding::warning(
                "summary searches",
                format!("{kind} lists no search parameter {}", missing.join(", ")),
                "a server may support more than it lists; if it ignores one, the summary still orders by date itself",
            ));
        }
    }
    findings
}

/// The search parameters a section's search uses, besides `_count` and
/// `_sort` (result parameters, not listed per resource).
fn search_parameters(section: Section) -> &'static [&'static str] {
    match section {
        Section::VitalSigns | Section::Labs => &["patient", "category"],
        _ => &["patient"],
    }
}

/// The key set: reachable, and with a key the app can check id_tokens
/// with (RS256).
pub fn key_set(jwks_uri: &HttpUrl, answer: Result<&Answer, NoAnswer<'_>>) -> Finding {
    const CHECK: &str = "key set";
    match answer {
        Err(why) => {
            Finding::failure(CHECK, format!("{jwks_uri} did not answer: {}", why.cause()), why.fix("check jwks_uri"))
        }
        Ok(answer) if !(200..300).contains(&answer.status) => {
            Finding::failure(CHECK, format!("{jwks_uri} answered HTTP {}", answer.status), "check jwks_uri")
        }
        Ok(answer) => match Jwks::parse(&answer.body).and_then(|set| set.select(None)) {
            Ok(_) => Finding::pass(CHECK, format!("{jwks_uri} has an RS256 key")),
            Err(problem) => Finding::warning(
                CHECK,
                format!("{jwks_uri}: {problem}"),
                "id_tokens cannot be checked, so their claims (fhirUser) are not used",
            ),
        },
    }
}

/// The request a browser's CORS preflight asks about: the method and the
/// headers the app sends that are not CORS-safelisted (Fetch §4.8).
pub struct Preflight<'a> {
    pub method: &'a str,
    pub headers: &'a [&'a str],
}

/// The headers the app adds to a request to this server: `Authorization`
/// on FHIR reads, and `DPoP` on every request when the sign-in uses it.
pub fn preflight_headers(issuer: &IssuerConfig, server: Option<&AuthorizationServer>, fhir: bool) -> Vec<&'static str> {
    let dpop =
        server.map_or(issuer.dpop == DpopPolicy::Required, |s| issuer.dpop.decide(s).is_ok_and(|use_| use_.is_on()));
    [fhir.then_some("authorization"), dpop.then_some("dpop")].into_iter().flatten().collect()
}

/// CORS for the app's origin at `url`, from the answer to a preflight for
/// `request`: the origin allowed, and the method and each header too. A
/// wildcard `*` in Access-Control-Allow-Headers does not cover
/// `Authorization` (Fetch §3.2.3), so that one must be named.
pub fn cors(
    what: &'static str,
    url: &HttpUrl,
    app_origin: &str,
    request: &Preflight<'_>,
    answer: Result<&Answer, NoAnswer<'_>>,
) -> Finding {
    let answer = match answer {
        Err(why) => {
            return Finding::failure(
                what,
                format!("{url} did not answer: {}", why.cause()),
                why.fix("check that the server is up"),
            )
        }
        Ok(answer) => answer,
    };
    match answer.header("access-control-allow-origin") {
        Some(origin) if origin == "*" || origin == app_origin => {}
        Some(other) => {
            return Finding::failure(
                what,
                format!("{url} allows {other}, not {app_origin}"),
                format!("add {app_origin} to the server's allowed origins (CORS)"),
            )
        }
        None => {
            return Finding::failure(
                what,
                format!("{url} sends no Access-Control-Allow-Origin for {app_origin}"),
                format!("allow {app_origin} in the server's CORS settings; the browser refuses the answer otherwise"),
            )
        }
    }
    let listed = |name: &str| {
        answer.header(name).map(|v| v.split(',').map(|x| x.trim().to_ascii_lowercase()).collect::<Vec<_>>())
    };
    // Simple methods need no listing (Fetch's CORS-safelisted methods).
    let method_allowed = matches!(request.method, "GET" | "HEAD" | "POST")
        || listed("access-control-allow-methods")
            .is_some_and(|m| m.iter().any(|x| x == "*" || x.eq_ignore_ascii_case(request.method)));
    if !method_allowed {
        return Finding::failure(
            what,
            format!("{url} does not allow {} from {app_origin}", request.method),
            format!("add {} to Access-Control-Allow-Methods", request.method),
        );
    }
    let allowed = listed("access-control-allow-headers").unwrap_or_default();
    let missing: Vec<&str> = request
        .headers
        .iter()
        .copied()
        .filter(|h| !allowed.iter().any(|a| a == h || (a == "*" && *h != "authorization")))
        .collect();
    if !missing.is_empty() {
        return Finding::failure(
            what,
            format!("{url} does not allow the header(s) {} the app sends", missing.join(", ")),
            format!("add {} to Access-Control-Allow-Headers for {app_origin}", missing.join(", ")),
        );
    }
    let headers =
        if request.headers.is_empty() { String::new() } else { format!(" with {}", request.headers.join(", ")) };
    Finding::pass(what, format!("{url} allows {} requests{headers} from {app_origin}", request.method))
}

/// CORS as a page learns it: by making the request the app makes, with
/// the headers it adds, and reading the status (`answer`). A page cannot
/// see a preflight, so when the browser refuses, the cause is found by
/// elimination: `simple_read` is whether a request to the same server
/// without those headers (no preflight; Fetch §4.8) was read, which means
/// the origin is allowed and the preflight is what refuses.
pub fn cors_in_browser(
    what: &'static str,
    url: &HttpUrl,
    app_origin: &str,
    request: &Preflight<'_>,
    answer: Result<u16, NoAnswer<'_>>,
    simple_read: bool,
) -> Finding {
    let headers =
        if request.headers.is_empty() { String::new() } else { format!(" with {}", request.headers.join(", ")) };
    match answer {
        Ok(status) => Finding::pass(
            what,
            format!("{url} let this page read its answer (HTTP {status}) to a {} request{headers}", request.method),
        ),
        Err(NoAnswer::Refused { by_policy: false, .. }) if simple_read && !request.headers.is_empty() => {
            let names = request.headers.join(", ");
            Finding::failure(
                what,
                format!("{url} answers {app_origin}, but its preflight refuses a {} request{headers}", request.method),
                format!(
                    "name {names} in Access-Control-Allow-Headers for {app_origin}{}",
                    if names.contains("authorization") { " (a * does not cover authorization)" } else { "" }
                ),
            )
        }
        Err(why) => Finding::failure(
            what,
            format!("{url} did not answer: {}", why.cause()),
            why.fix("check that the server is up"),
        ),
    }
}

/// The findings for one issuer.
#[derive(Clone, Debug)]
pub struct IssuerReport {
    pub id: String,
    pub findings: Vec<Finding>,
}

/// The report as text: a heading per issuer, a line per finding.
pub fn report_text(reports: &[IssuerReport]) -> String {
    let mut out = String::new();
    for report in reports {
        out.push_str(&format!("issuer {}\n", report.id));
        for finding in &report.findings {
            out.push_str(&format!("  {}\n", finding.line()));
        }
    }
    out
}

/// The redirect URI the app sends, which the server must have registered.
pub fn redirect_uri(app_url: &HttpUrl, redirect_path: &str) -> Finding {
    let uri = app_url.join_path(redirect_path.trim_start_matches('/'));
    Finding::pass("redirect URI", format!("{uri} (register it exactly so at the authorization server)"))
}

/// Whether any finding failed.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::tests::config;
    use serde_json::json;

    fn answer(status: u16, body: &Value) -> Answer {
        Answer { status, headers: Vec::new(), body: body.to_string() }
    }

    fn smart_document() -> Value {
        json!({"issuer": "https://ehr.example.org/auth", "authorization_endpoint": "https://ehr.example.org/auth/authorize",
               "token_endpoint": "https://ehr.example.org/auth/token", "code_challenge_methods_supported": ["S256"],
               "grant_types_supported": ["authorization_code"],
               "capabilities": ["launch-ehr", "client-public", "context-ehr-patient", "permission-v2"],
               "scopes_supported": ["launch", "openid", "fhirUser", "patient/*.rs"]})
    }

    #[test]
    fn a_good_smart_server_passes_and_says_what_it_lacks() {
        let config = config(r#"{"type": "smart"}"#);
        let issuer = &config.issuers[0];
        let (findings, server) = discovery(issuer, Ok(&answer(200, &smart_document())));
        let server = server.expect("a usable server");
        assert_eq!(findings[0].level, Level::Pass, "{findings:?}");
        let revocation = findings.iter().find(|f| f.check == "revocation").unwrap();
        assert_eq!(revocation.level, Level::Warning, "no revocation_endpoint");
        let keys = findings.iter().find(|f| f.check == "key set").expect("a finding on the missing jwks_uri");
        assert_eq!(keys.level, Level::Warning, "not only Descope's metadata must name its keys");
        let caps = capabilities(issuer, &server);
        let missing: Vec<&str> = caps.iter().map(|f| f.detail.as_str()).collect();
        assert_eq!(caps.len(), 2, "{missing:?}");
        assert!(missing[0].starts_with("launch-standalone") && missing[1].starts_with("context-standalone-patient"));
        let scopes = scopes(issuer, &server);
        assert_eq!(scopes[0].level, Level::Warning);
        assert_eq!(scopes[0].detail, "configured but not in scopes_supported: offline_access launch/patient");
        assert!(!findings.iter().any(|f| f.check == "access-token aud"), "a SMART server's aud is its own business");
    }

    #[test]
    fn a_descope_project_is_told_what_its_jwt_template_needs_as_aud() {
        let config = config(r#"{"type": "descope", "project_id": "P2abc", "base_url": "https://api.descope.com"}"#);
        let document = json!({"issuer": "https://api.descope.com/v1/apps/P2abc",
            "authorization_endpoint": "https://api.descope.com/oauth2/v1/apps/authorize",
            "token_endpoint": "https://api.descope.com/oauth2/v1/apps/token",
            "jwks_uri": "https://api.descope.com/P2abc/.well-known/jwks.json",
            "code_challenge_methods_supported": ["S256"]});
        let (findings, server) = discovery(&config.issuers[0], Ok(&answer(200, &document)));
        assert!(server.is_some(), "{findings:?}");
        let aud = findings.iter().find(|f| f.check == "access-token aud").expect("the aud note");
        assert_eq!(aud.level, Level::Warning);
        assert!(
            aud.line().contains("set aud to https://ehr.example.org/fhir in the Inbound App's JWT template"),
            "{}",
            aud.line()
        );
    }

    #[test]
    fn a_server_without_s256_or_unreachable_fails_with_the_reason() {
        let config = config(r#"{"type": "smart"}"#);
        let mut document = smart_document();
        document["code_challenge_methods_supported"] = json!(["plain"]);
        let (findings, server) = discovery(&config.issuers[0], Ok(&answer(200, &document)));
        assert!(server.is_none() && failed(&findings));
        assert!(findings[0].line().contains("S256"), "{}", findings[0].line());
        let (findings, _) = discovery(&config.issuers[0], Err(NoAnswer::Failed("connection refused")));
        assert!(findings[0].line().starts_with("FAIL    discovery document: https://ehr.example.org/fhir/.well-known/smart-configuration did not answer: connection refused"), "{}", findings[0].line());
        let html = Answer { status: 200, headers: Vec::new(), body: "<html>".into() };
        assert!(failed(&discovery(&config.issuers[0], Ok(&html)).0));
    }

    #[test]
    fn the_capability_statement_names_what_the_summary_cannot_search() {
        let statement = json!({"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1", "rest": [{"mode": "server", "resource": [
            {"type": "Condition", "searchParam": [{"name": "patient"}]},
            {"type": "MedicationRequest", "searchParam": [{"name": "patient"}]},
            {"type": "AllergyIntolerance", "searchParam": [{"name": "patient"}]},
            {"type": "Observation", "searchParam": [{"name": "patient"}]}]}]});
        let findings = capability_statement(Ok(&answer(200, &statement)));
        assert_eq!(findings[0], Finding::pass("FHIR CapabilityStatement", "FHIR 4.0.1"));
        let text: Vec<String> = findings.iter().map(Finding::line).collect();
        assert!(
            text.iter()
                .any(|l| l.starts_with("warning") && l.contains("Observation lists no search parameter category")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|l| l.starts_with("FAIL") && l.contains("Encounter is not in the CapabilityStatement")),
            "{text:?}"
        );
        let old = json!({"resourceType": "CapabilityStatement", "fhirVersion": "3.0.2"});
        assert_eq!(capability_statement(Ok(&answer(200, &old)))[0].level, Level::Warning);
        assert_eq!(capability_statement(Ok(&answer(404, &json!({}))))[0].level, Level::Warning);
    }

    #[test]
    fn cors_and_key_sets_and_the_redirect_uri() {
        let url = HttpUrl::parse("https://ehr.example.org/auth/token").unwrap();
        let allowed = Answer {
            status: 204,
            headers: vec![("access-control-allow-origin".into(), "https://app.example.org".into())],
            body: String::new(),
        };
        let post = Preflight { method: "POST", headers: &[] };
        assert_eq!(cors("CORS", &url, "https://app.example.org", &post, Ok(&allowed)).level, Level::Pass);
        assert_eq!(cors("CORS", &url, "https://other.example.org", &post, Ok(&allowed)).level, Level::Failure);
        assert_eq!(cors("CORS", &url, "https://app.example.org", &post, Ok(&Answer::default())).level, Level::Failure);
        // The headers the app sends must each be allowed; `*` does not cover Authorization.
        let read = Preflight { method: "GET", headers: &["authorization", "dpop"] };
        let with = |headers: &str| Answer {
            status: 204,
            headers: vec![
                ("access-control-allow-origin".into(), "https://app.example.org".into()),
                ("access-control-allow-headers".into(), headers.into()),
            ],
            body: String::new(),
        };
        let level = |answer: &Answer| cors("CORS", &url, "https://app.example.org", &read, Ok(answer));
        assert_eq!(level(&with("Authorization, DPoP, Accept")).level, Level::Pass);
        let no_dpop = level(&with("authorization"));
        assert_eq!(no_dpop.level, Level::Failure);
        assert!(no_dpop.detail.contains("dpop"), "{}", no_dpop.detail);
        assert_eq!(level(&with("*")).level, Level::Failure, "a wildcard does not allow Authorization");
        assert_eq!(level(&allowed).level, Level::Failure, "no Access-Control-Allow-Headers at all");
        let delete = Preflight { method: "DELETE", headers: &[] };
        assert_eq!(cors("CORS", &url, "https://app.example.org", &delete, Ok(&allowed)).level, Level::Failure);
        let jwks = HttpUrl::parse("https://ehr.example.org/auth/jwks").unwrap();
        let weak = json!({"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}]});
        assert_eq!(key_set(&jwks, Ok(&answer(200, &weak))).level, Level::Warning, "a 24-bit modulus is refused");
        assert_eq!(key_set(&jwks, Err(NoAnswer::Failed("timeout"))).level, Level::Failure);
        let app = HttpUrl::parse("https://app.example.org/smart/").unwrap();
        assert!(redirect_uri(&app, "/callback").detail.starts_with("https://app.example.org/smart/callback "));
    }

    #[test]
    fn a_page_learns_cors_by_elimination_and_says_which_setting_refused() {
        let url = HttpUrl::parse("https://ehr.example.org/fhir/Patient").unwrap();
        let origin = "https://app.example.org";
        let read = Preflight { method: "GET", headers: &["authorization"] };
        let refused = NoAnswer::Refused { by_policy: false, detail: "Failed to fetch" };
        let pass = cors_in_browser("CORS", &url, origin, &read, Ok(401), true);
        assert_eq!(pass.level, Level::Pass);
        assert!(pass.detail.contains("(HTTP 401) to a GET request with authorization"), "{}", pass.detail);
        // The same server read without the header: the preflight refuses.
        let preflight = cors_in_browser("CORS", &url, origin, &read, Err(refused), true);
        assert_eq!(preflight.level, Level::Failure);
        assert!(
            preflight.detail.contains("its preflight refuses a GET request with authorization"),
            "{}",
            preflight.detail
        );
        assert!(preflight.fix.as_deref().unwrap().contains("Access-Control-Allow-Headers"));
        // Nothing read from it at all: the origin, or the server.
        let closed = cors_in_browser("CORS", &url, origin, &read, Err(refused), false);
        assert!(closed.detail.contains("the browser refused it (Failed to fetch)"), "{}", closed.detail);
        assert!(closed.fix.as_deref().unwrap().starts_with("allow this origin in the server's CORS settings"));
        // The page's own policy: a fix on the deployment, not the server.
        let policy = NoAnswer::Refused { by_policy: true, detail: "Failed to fetch" };
        let blocked = cors_in_browser("CORS", &url, origin, &read, Err(policy), true);
        assert!(blocked.detail.contains("Content-Security-Policy (connect-src)"), "{}", blocked.detail);
        assert!(blocked.fix.as_deref().unwrap().contains("connect-src"));
        let config = config(r#"{"type": "smart"}"#);
        let (findings, _) = discovery(&config.issuers[0], Err(policy));
        assert!(findings[0].fix.as_deref().unwrap().contains("--connect"), "{findings:?}");
        // A simple request needs no preflight: refused means the origin.
        let post = Preflight { method: "POST", headers: &[] };
        let token = cors_in_browser("CORS", &url, origin, &post, Err(refused), true);
        assert!(!token.detail.contains("preflight"), "{}", token.detail);
        let moved = cors_in_browser("CORS", &url, origin, &read, Err(NoAnswer::Redirected), true);
        assert!(
            moved.detail.ends_with(
                "did not answer: it answered with a redirect, which the app does not follow with a code or a token"
            ),
            "{}",
            moved.detail
        );
        assert!(moved.fix.as_deref().unwrap().contains("the address the server redirects to"));
    }

    #[test]
    fn the_text_report_has_a_heading_per_issuer_and_a_line_per_finding() {
        let reports = [
            IssuerReport { id: "a".into(), findings: vec![Finding::pass("DPoP", "not advertised")] },
            IssuerReport { id: "b".into(), findings: vec![Finding::failure("key set", "gone", "check jwks_uri")] },
        ];
        assert_eq!(
            report_text(&reports),
            "issuer a\n  pass    DPoP: not advertised\nissuer b\n  FAIL    key set: gone → check jwks_uri\n"
        );
    }

    #[test]
    fn a_page_reports_a_missing_or_invalid_configuration() {
        let url = HttpUrl::parse("https://app.example.org/smart/config.json").unwrap();
        let missing = configuration(&url, Ok(&answer(404, &json!({})))).unwrap_err();
        assert_eq!(missing.level, Level::Failure);
        assert!(missing.detail.ends_with("config.json answered HTTP 404"), "{}", missing.detail);
        let invalid = configuration(&url, Ok(&answer(200, &json!({"issuers": []})))).unwrap_err();
        assert!(invalid.detail.starts_with("https://app.example.org/smart/config.json: "), "{}", invalid.detail);
        assert!(invalid.fix.is_some());
        let good = json!({"issuers": [{"id": "ehr", "name": "EHR", "fhir_base_url": "https://ehr.example.org/fhir",
            "authorization_server": {"type": "smart"}, "client_id": "app-1",
            "ehr_launch_scopes": "launch openid patient/*.rs", "standalone_scopes": "launch/patient patient/*.rs"}]});
        assert_eq!(configuration(&url, Ok(&answer(200, &good))).expect("a valid config").issuers[0].id, "ehr");
        let refused = NoAnswer::Refused { by_policy: false, detail: "Failed to fetch" };
        assert!(configuration(&url, Err(refused)).unwrap_err().detail.contains("the browser refused it"));
    }
}
