//! One error type for the whole flow.
//!
//! Each variant is a failure the SMART client checklist names, and each
//! carries what is needed to tell the user what went wrong, the likely cause,
//! and what to do: [`Error::diagnosis`]. The seed guide's troubleshooting
//! table (invalid launch parameter, missing patient claim, FHIR 401 from an
//! `aud` mismatch, scope not granted, state mismatch) maps onto variants here.
//!
//! Values from outside (server error descriptions, URLs) are kept as plain
//! strings: the views render them as text, never as markup. No variant
//! carries a token.

use std::fmt;

/// What the user is shown for an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    /// A short headline.
    pub title: &'static str,
    /// What exactly was wrong, with the values involved.
    pub detail: String,
    /// The likely cause.
    pub cause: &'static str,
    /// What to do about it.
    pub fix: &'static str,
}

/// An OAuth error response (RFC 6749 §4.1.2.1 and §5.2), from the callback
/// or the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: String,
    pub description: Option<String>,
    pub uri: Option<String>,
}

impl OAuthError {
    /// The standard meaning of an error code, for people who have not read
    /// RFC 6749.
    pub fn meaning(&self) -> &'static str {
        match self.code.as_str() {
            "access_denied" => "the user or the authorization server declined the request",
            "invalid_scope" => "a requested scope is unknown, malformed, or not allowed for this app",
            "invalid_request" => "the request was missing a parameter or had one that is not allowed",
            "unauthorized_client" => "this client is not allowed to use this kind of request",
            "unsupported_response_type" => "the server does not support the authorization-code flow for this client",
            "server_error" => "the authorization server met an unexpected condition",
            "temporarily_unavailable" => "the authorization server is overloaded or under maintenance",
            "invalid_grant" => "the authorization code or refresh token is invalid, expired, already used, or was issued to another client",
            "invalid_client" => "the server did not accept the client: an unknown client id, or one that must authenticate",
            "invalid_dpop_proof" => "a DPoP proof (RFC 9449) was required and missing, or it was not valid",
            "use_dpop_nonce" => "the server wants a DPoP proof carrying the nonce it gave (RFC 9449)",
            "unsupported_grant_type" => "the server does not support this grant type",
            "login_required" | "interaction_required" | "consent_required" => {
                "the server needs the user to sign in or consent interactively"
            }
            _ => "the server reported an error this app does not know",
        }
    }
}

/// Why an id_token was refused (OpenID Connect Core §3.1.3.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdTokenProblem {
    Malformed(String),
    UnsupportedAlgorithm(String),
    NoMatchingKey { kid: Option<String> },
    BadSignature,
    WrongIssuer { expected: String, found: String },
    WrongAudience { client_id: String, found: Vec<String> },
    Expired { exp: u64, now: u64 },
    IssuedInFuture { iat: u64, now: u64 },
    MissingNonce,
    WrongNonce,
}

impl fmt::Display for IdTokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdTokenProblem::Malformed(why) => write!(f, "it is not a well-formed JWT: {why}"),
            IdTokenProblem::UnsupportedAlgorithm(alg) => {
                write!(f, "it is signed with \"{alg}\"; only RS256 is accepted")
            }
            IdTokenProblem::NoMatchingKey { kid: Some(kid) } => {
                write!(f, "the server's key set has no RS256 key with id \"{kid}\"")
            }
            IdTokenProblem::NoMatchingKey { kid: None } => {
                write!(f, "the server's key set has no usable RS256 key")
            }
            IdTokenProblem::BadSignature => write!(f, "its signature does not verify against the server's keys"),
            IdTokenProblem::WrongIssuer { expected, found } => {
                write!(f, "it was issued by \"{found}\", not by \"{expected}\"")
            }
            IdTokenProblem::WrongAudience { client_id, found } => {
                write!(f, "it was issued for {}, not for this app's client id \"{client_id}\"", quoted(found))
            }
            IdTokenProblem::Expired { exp, now } => {
                write!(f, "it expired at {exp} (Unix time); the time now is {now}")
            }
            IdTokenProblem::IssuedInFuture { iat, now } => {
                write!(f, "it claims to be issued at {iat}, after now ({now}); check the clocks")
            }
            IdTokenProblem::MissingNonce => write!(f, "it carries no nonce although one was sent"),
            IdTokenProblem::WrongNonce => write!(f, "its nonce is not the one this app sent"),
        }
    }
}

/// Everything that can go wrong, from reading `config.json` to a FHIR call.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    // ── configuration ───────────────────────────────────────────────
    /// `config.json` could not be fetched.
    ConfigUnavailable { url: String, detail: String },
    /// `config.json` is not JSON or does not have the expected shape.
    ConfigInvalid { path: String, problem: String },

    // ── launch parameters ───────────────────────────────────────────
    /// `iss` is not one of the configured issuers.
    IssuerNotAllowed { iss: String },
    /// `launch` came without `iss`.
    LaunchWithoutIssuer,
    /// `iss` came without `launch`.
    IssuerWithoutLaunch { iss: String },
    /// `launch` is empty or not a plausible opaque value.
    InvalidLaunchParameter { problem: String },

    // ── discovery ───────────────────────────────────────────────────
    /// The discovery document could not be fetched at all (network, CORS).
    DiscoveryUnreachable { url: String, detail: String },
    /// The discovery document answered with a non-success status.
    DiscoveryStatus { url: String, status: u16 },
    /// The discovery document is not JSON (often an HTML error page).
    DiscoveryNotJson { url: String, looks_like_html: bool },
    /// The discovery document lacks a required field or has a bad value.
    DiscoveryInvalid { url: String, problem: String },
    /// The discovery document names another issuer than the one it must
    /// (OpenID Connect Discovery §4.3), or none.
    DiscoveryWrongIssuer { url: String, expected: String, found: Option<String> },
    /// The server explicitly does not offer PKCE S256.
    PkceNotSupported { url: String, offered: Vec<String> },

    // ── callback ────────────────────────────────────────────────────
    /// The redirect came back with an OAuth error.
    AuthorizationRefused { error: OAuthError },
    /// The callback has no `state` parameter.
    CallbackWithoutState,
    /// The callback has a `state` but neither `code` nor `error`.
    CallbackWithoutCode,
    /// The callback's parameters are contradictory (repeated, or from
    /// another issuer than the one the sign-in was sent to).
    CallbackMalformed { problem: String },
    /// No pending authorization has this `state` (unknown, or replayed).
    StateMismatch,
    /// The pending authorization is older than its expiry.
    PendingExpired { age_seconds: u64 },
    /// The pending authorization record could not be read back.
    PendingCorrupt { detail: String },
    /// The browser did not open the sign-in popup.
    PopupBlocked,
    /// The sign-in popup was closed before it handed back a response.
    PopupClosed,

    // ── token endpoint ──────────────────────────────────────────────
    /// The token endpoint could not be reached (network, CORS).
    TokenEndpointUnreachable { url: String, detail: String },
    /// The token endpoint answered with an OAuth error.
    TokenRequestRefused { status: u16, error: OAuthError },
    /// The token endpoint answered with a body that is not JSON.
    /// `content_type`: its media type as sent; `excerpt`: its start, with
    /// anything token-like redacted.
    TokenResponseNotJson { status: u16, content_type: String, length: usize, excerpt: String },
    /// The token response is JSON but not a usable token response.
    TokenResponseInvalid { problem: String },

    // ── context and grant ───────────────────────────────────────────
    /// The token carries no patient although a patient context was requested.
    MissingPatient { requested: String },
    /// The granted scopes do not cover what a view needs.
    ScopeNotGranted { needed: String, granted: String },
    /// The id_token failed validation.
    IdTokenInvalid { problem: IdTokenProblem },

    // ── session ─────────────────────────────────────────────────────
    /// The access token expired and there is no refresh token.
    SessionExpired,
    /// Something needed the session, but this page holds none (it ended, or
    /// the page was loaded without signing in).
    NoSession,
    /// The refresh was refused or failed.
    RefreshFailed { detail: String },

    // ── FHIR API ────────────────────────────────────────────────────
    /// 401 from the FHIR server; `aud` holds the token's audience when known.
    /// `descope_project_as_aud`: the Descope project id, when the token's
    /// `aud` is it (`Session::descope_project_as_audience`).
    FhirUnauthorized {
        fhir_base: String,
        token_aud: Option<Vec<String>>,
        www_authenticate: Option<String>,
        descope_project_as_aud: Option<String>,
    },
    /// 403 from the FHIR server.
    FhirForbidden { diagnostics: Option<String> },
    /// 404 from the FHIR server.
    FhirNotFound { url: String, diagnostics: Option<String> },
    /// 429 or 503 after the bounded retries.
    FhirBusy { status: u16 },
    /// 5xx (or another unexpected status) from the FHIR server.
    FhirServerError { status: u16, diagnostics: Option<String> },
    /// The FHIR server answered with something that is not the expected JSON.
    FhirMalformed { detail: String },
    /// The FHIR server could not be reached.
    FhirUnreachable { url: String, detail: String },
    /// A request would have sent the bearer token to a different origin.
    TokenWouldLeak { url: String },

    // ── DPoP (RFC 9449) ─────────────────────────────────────────────
    /// `"dpop": "required"`, and the server lists proof algorithms without ES256.
    DpopUnsupported { offered: Vec<String> },
    /// A DPoP-bound token came back although the app sent no proof.
    DpopTokenUnrequested,
    /// `"dpop": "required"`, and the server issued a bearer token.
    DpopNotGranted,
    /// The browser could not make or use the key (no ECDSA P-256).
    DpopUnavailable { detail: String },
    /// A server refused the app's proof (`invalid_dpop_proof`).
    DpopProofRefused { url: String, description: Option<String> },
    /// A server asked for a nonce again after the app sent the one it gave.
    DpopNonceRepeated { url: String },

    // ── platform ────────────────────────────────────────────────────
    /// The CSPRNG is unavailable; nothing random can be made safely.
    RandomUnavailable { detail: String },
}

/// `"a", "b"`: a list of values for a message. (Debug formatting would do,
/// but its escaping pulls Unicode tables into the wasm.)
pub fn quoted(items: &[String]) -> String {
    items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ")
}

fn d(title: &'static str, detail: String, cause: &'static str, fix: &'static str) -> Diagnosis {
    Diagnosis { title, detail, cause, fix }
}

impl From<&Error> for Diagnosis {
    fn from(error: &Error) -> Diagnosis {
        error.diagnosis()
    }
}

impl From<Error> for Diagnosis {
    fn from(error: Error) -> Diagnosis {
        error.diagnosis()
    }
}

impl Error {
    /// What to tell the user: headline, specifics, likely cause, fix.
    pub fn diagnosis(&self) -> Diagnosis {
        use Error::*;
        match self {
            ConfigUnavailable { url, detail } => d(
                "The app's configuration could not be loaded",
                format!("Fetching {url} failed: {detail}."),
                "config.json is missing from the deployment, or the host does not serve it.",
                "Deploy config.json next to index.html (see public/config.json in the repository).",
            ),
            ConfigInvalid { path, problem } => d(
                "The app's configuration is not valid",
                format!("In config.json, {path}: {problem}."),
                "config.json was edited by hand and has a mistake.",
                "Correct that entry; the README documents every field.",
            ),
            IssuerNotAllowed { iss } => d(
                "This EHR is not one this app is set up for",
                format!("The launch named the FHIR server \"{iss}\", which is not in the app's list of allowed issuers."),
                "The EHR's FHIR base URL differs from the one configured (another environment, a trailing path), or the launch link was tampered with.",
                "Ask your administrator to add this FHIR base URL to config.json if it is genuine. No request was sent to it.",
            ),
            LaunchWithoutIssuer => d(
                "The launch is missing the EHR's address",
                "The app was opened with a launch parameter but no iss parameter.".into(),
                "The EHR's launch URL for this app is incomplete.",
                "Launch the app again from the EHR; if it keeps happening, the EHR's app registration needs both iss and launch.",
            ),
            IssuerWithoutLaunch { iss } => d(
                "The launch is missing its launch context",
                format!("The app was opened with iss=\"{iss}\" but no launch parameter."),
                "The EHR's launch URL for this app is incomplete, or the app was opened from a bookmark.",
                "Launch the app again from within the EHR. To use the app on your own, open its start page instead.",
            ),
            InvalidLaunchParameter { problem } => d(
                "Invalid launch parameter",
                format!("The launch value is not usable: {problem}."),
                "The launch context expired or is malformed.",
                "Launch the app again from the EHR; launch values are single-use and short-lived, so use them immediately.",
            ),
            DiscoveryUnreachable { url, detail } => d(
                "The authorization server's settings could not be fetched",
                format!("Requesting {url} failed: {detail}."),
                "The server is down, the address is wrong, or it does not allow this app's origin (CORS).",
                "Check that the URL opens in a browser and that the server allows cross-origin requests from this app.",
            ),
            DiscoveryStatus { url, status } => d(
                "The authorization server's settings could not be fetched",
                format!("{url} answered with HTTP status {status}."),
                "The FHIR base URL or the Descope project id in config.json is wrong, or the server does not support SMART discovery.",
                "Check the issuer's fhir_base_url and authorization settings in config.json.",
            ),
            DiscoveryNotJson { url, looks_like_html } => d(
                "The authorization server's settings are not readable",
                if *looks_like_html {
                    format!("{url} returned an HTML page instead of JSON.")
                } else {
                    format!("{url} returned something that is not JSON.")
                },
                "The URL points at a web page (a login page, a proxy's error page) rather than a discovery document.",
                "Check the issuer's fhir_base_url and authorization settings in config.json.",
            ),
            DiscoveryInvalid { url, problem } => d(
                "The authorization server's settings are incomplete",
                format!("The discovery document at {url} is not usable: {problem}."),
                "The server's SMART or OpenID configuration is incomplete or wrong.",
                "Ask the server's administrator to fix the discovery document.",
            ),
            DiscoveryWrongIssuer { url, expected, found } => {
                let named = match found {
                    Some(found) => format!("names the issuer \"{found}\""),
                    None => "names no issuer".to_string(),
                };
                // Descope's project-level document, where the Inbound App's was asked for.
                let federated = match (crate::discovery::descope_inbound_issuer(expected), found) {
                    (Some((base, project)), Some(found)) => {
                        found.strip_prefix(base).and_then(|rest| rest.strip_prefix('/')) == Some(project)
                    }
                    _ => false,
                };
                let note = if federated {
                    " That is the issuer of the Descope project's federated OIDC provider, which knows no Inbound App."
                } else {
                    ""
                };
                d(
                    "The authorization server's settings belong to another server",
                    format!(
                        "The discovery document at {url} {named}; a document at that address must name \"{expected}\" (OpenID Connect Discovery §4.3).{note} No sign-in was started."
                    ),
                    "The address serves another server's metadata: for Descope, the project's federated OIDC provider instead of its Inbound App, a mistyped project id or base URL, or a proxy or custom domain that routes elsewhere.",
                    "Check the issuer's authorization_server in config.json (for Descope: project_id, and base_url for a custom domain) against the Inbound App's Discovery URL and Issuer in the Descope Console.",
                )
            }
            PkceNotSupported { url, offered } => d(
                "The authorization server does not support PKCE",
                format!("{url} offers code challenge methods {} but not S256.", quoted(offered)),
                "The server is not configured for public clients, which must use PKCE with S256.",
                "Enable PKCE (S256) for this app at the authorization server.",
            ),
            AuthorizationRefused { error } => {
                let title = match error.code.as_str() {
                    "access_denied" => "Access was not granted",
                    "invalid_scope" => "Scope not granted",
                    _ => "The authorization server refused the request",
                };
                let (cause, fix) = match error.code.as_str() {
                    "access_denied" => (
                        "The sign-in or consent was declined or cancelled.",
                        "Start again and approve the access the app asks for, or contact your administrator.",
                    ),
                    "invalid_scope" => (
                        "A requested scope is not configured for this app at the authorization server (in Descope: the Inbound App's scopes).",
                        "Add the required scope to the app's registration, or remove it from the scopes in config.json.",
                    ),
                    _ => (
                        "The app's registration at the authorization server does not match this request.",
                        "Compare the client id, redirect URI and scopes in config.json with the app's registration.",
                    ),
                };
                d(title, describe_oauth(error), cause, fix)
            }
            CallbackWithoutState => d(
                "State mismatch",
                "The sign-in response has no state parameter, so it cannot be matched to a sign-in this app started.".into(),
                "The page was opened directly, or the authorization server dropped the state parameter.",
                "Start the launch again from the EHR or from the app's start page.",
            ),
            CallbackWithoutCode => d(
                "The sign-in response is incomplete",
                "The response has a state but neither an authorization code nor an error.".into(),
                "The authorization server or a proxy altered the redirect.",
                "Start the launch again; if it repeats, check the authorization server's logs.",
            ),
            CallbackMalformed { problem } => d(
                "The sign-in response is not usable",
                format!("The response was refused: {problem}."),
                "The response was altered, or it came from another authorization server than the one the sign-in went to.",
                "Start the launch again; if it repeats, check the authorization server's configuration.",
            ),
            StateMismatch => d(
                "State mismatch",
                "This sign-in response does not belong to a sign-in in progress in this browser tab: it is unknown, or it was already used (for example after pressing Back).".into(),
                "CSRF protection or a session issue: the response was replayed, opened in another browser, or the tab's storage was cleared.",
                "Start the launch again from the EHR or the app's start page.",
            ),
            PopupBlocked => d(
                "The sign-in window was blocked",
                "The browser did not open the window this app signs in through.".into(),
                "A pop-up blocker stopped it, or the EHR's frame does not allow pop-ups (an iframe sandbox without allow-popups). Inside an EHR the app signs in through a separate window, because sign-in pages refuse to be shown in a frame.",
                "Allow pop-ups for this app in the browser (the icon at the end of the address bar), then press \"Try again\". If it keeps happening, ask the EHR administrator to allow pop-ups from the app's frame.",
            ),
            PopupClosed => d(
                "The sign-in window was closed",
                "The sign-in window closed before the sign-in finished, so nothing was signed in.".into(),
                "The window was closed by hand, or the sign-in page navigated it away and lost the link back to this app.",
                "Press \"Try again\" and finish the sign-in in the window that opens.",
            ),
            PendingExpired { age_seconds } => d(
                "State mismatch: the sign-in took too long",
                format!("The sign-in was started {age_seconds} seconds ago, longer than this app waits, so its state is no longer accepted."),
                "A session issue: the sign-in page was left open for a long time.",
                "Start the launch again from the EHR or the app's start page.",
            ),
            PendingCorrupt { detail } => d(
                "The sign-in in progress could not be resumed",
                format!("The saved sign-in record is unreadable: {detail}."),
                "The tab's storage was altered, or a different version of the app saved it.",
                "Start the launch again.",
            ),
            TokenEndpointUnreachable { url, detail } => d(
                "The token endpoint could not be reached",
                format!("Requesting {url} failed: {detail}."),
                "The server is down, or it does not allow this app's origin (CORS).",
                "Check that the token endpoint allows cross-origin requests from this app's origin.",
            ),
            TokenRequestRefused { status, error } => {
                let (cause, fix) = match error.code.as_str() {
                    "invalid_grant" => (
                        "The authorization code was already used or expired, or the PKCE verifier did not match.",
                        "Start the launch again; codes are single-use and short-lived.",
                    ),
                    "invalid_client" => (
                        "The client id in config.json is not registered at the authorization server, or the app is registered as a confidential client, which must authenticate with a secret that a browser app cannot keep (Descope: Inbound Apps created in the Console are always confidential).",
                        "Correct the issuer's client_id in config.json, or register the app as a public client (Descope: a non-confidential Inbound App, created through the Management API; see deploy/README.md).",
                    ),
                    // Reached only when no proof was sent: a refused proof is DpopProofRefused.
                    "invalid_dpop_proof" | "use_dpop_nonce" => (
                        "The authorization server requires DPoP-bound tokens (RFC 9449) for this client, and the app sent no proof: the issuer's \"dpop\" is \"off\", or \"auto\" with no ES256 in the server's dpop_signing_alg_values_supported.",
                        "Set \"dpop\": \"required\" for this issuer in config.json, or allow bearer tokens for this client.",
                    ),
                    _ => (
                        "The token request did not match the app's registration.",
                        "Compare client id and redirect URI in config.json with the app's registration.",
                    ),
                };
                d(
                    "The sign-in could not be completed",
                    format!("The token endpoint answered HTTP {status}: {}", describe_oauth(error)),
                    cause,
                    fix,
                )
            }
            TokenResponseNotJson { status, content_type, length, excerpt } => d(
                "The token endpoint's answer is unreadable",
                format!("The token endpoint answered HTTP {status} with {length} bytes of {content_type} that are not JSON, beginning \"{excerpt}\" (anything like a token shown as [redacted])."),
                "A proxy or an error page answered instead of the token endpoint.",
                "Check the token_endpoint in the server's discovery document.",
            ),
            TokenResponseInvalid { problem } => d(
                "The token endpoint's answer is not a valid token response",
                format!("{problem}."),
                "The authorization server is not following OAuth 2 (RFC 6749 §5.1).",
                "Ask the server's administrator to check the token response.",
            ),
            MissingPatient { requested } => d(
                "Missing patient claim in token",
                format!("The app asked for a patient context ({requested}) but the token names no patient."),
                "The launch context was not properly extracted: the launch parameter was not passed through, or the JWT template has no patient claim.",
                "Verify the launch parameter handling and the JWT template configuration (the \"patient\" claim).",
            ),
            ScopeNotGranted { needed, granted } => d(
                "Scope not granted",
                format!(
                    "Not covered by the granted scopes: this needs {needed}, and the grant is {}.",
                    if granted.is_empty() { "empty".to_string() } else { format!("\"{granted}\"") }
                ),
                "The scope is not configured for the app at the authorization server, or the user did not consent to it.",
                "Add the required scope to the app's registration (in Descope: the Inbound App configuration).",
            ),
            IdTokenInvalid { problem } => d(
                "The identity token is not valid",
                format!("The id_token was refused: {problem}."),
                "The token was altered, was meant for another app, is stale, or the server's keys changed.",
                "Start the launch again; if it repeats, check the server's signing keys and the client id.",
            ),
            SessionExpired => d(
                "Your session has ended",
                "The access token expired and the server issued no refresh token.".into(),
                "Sessions are short-lived on purpose.",
                "Launch the app again from the EHR, or sign in again from the start page.",
            ),
            NoSession => d(
                "You are not signed in",
                "This needs a sign-in, and this page holds none: it ended, or the page was opened without one.".into(),
                "The sign-in lives only in the page's memory, so it ends with a sign-out, a failed refresh or a reload.",
                "Launch the app again from the EHR, or sign in again from the start page.",
            ),
            RefreshFailed { detail } => d(
                "Your session could not be extended",
                format!("Refreshing the access token failed: {detail}."),
                "The refresh token expired, was revoked, or was already used.",
                "Launch the app again from the EHR, or sign in again from the start page.",
            ),
            FhirUnauthorized { fhir_base, token_aud, www_authenticate, descope_project_as_aud } => {
                let aud_note = match (token_aud, descope_project_as_aud) {
                    (_, Some(project)) => format!(
                        " The token's audience (aud) is \"{project}\", the Descope project id, which Descope uses when the JWT template sets no aud: add \"aud\": \"{fhir_base}\" to the JWT template."
                    ),
                    (Some(aud), None) if !aud.iter().any(|a| same_base_text(a, fhir_base)) => format!(
                        " The token's audience (aud) is {}, which does not match the FHIR server {fhir_base}.",
                        quoted(aud)
                    ),
                    (Some(_), None) => " The token's audience matches the FHIR server.".into(),
                    (None, None) => String::new(),
                };
                let challenge = www_authenticate
                    .as_ref()
                    .map(|w| format!(" The server said: {w}."))
                    .unwrap_or_default();
                let (cause, fix) = if descope_project_as_aud.is_some() {
                    (
                        "The JWT template has no aud claim, so Descope's default audience (the project id) is in the token.",
                        "Add an aud claim to the JWT template (Descope Console: Project Settings, JWT Templates) set to the EHR's FHIR base URL, then launch again.",
                    )
                } else {
                    (
                        "The aud claim doesn't match the FHIR server URL, or the token expired or was revoked.",
                        "Ensure the JWT template's aud claim matches the EHR's FHIR endpoint exactly, then launch again.",
                    )
                };
                d("FHIR API returns 401", format!("The FHIR server refused the access token.{aud_note}{challenge}"), cause, fix)
            }
            FhirForbidden { diagnostics } => d(
                "Not permitted",
                with_diagnostics("The FHIR server refused this request (403).", diagnostics),
                "The granted scopes or the user's permissions do not cover this data.",
                "Ask for the needed scopes at launch, or ask the EHR administrator for access.",
            ),
            FhirNotFound { url, diagnostics } => d(
                "Not found",
                with_diagnostics(&format!("{url} does not exist on the FHIR server (404)."), diagnostics),
                "The record was removed, or the launch context names a record the server does not have.",
                "Relaunch from the EHR; if it repeats, tell the EHR administrator.",
            ),
            FhirBusy { status } => d(
                "The FHIR server is busy",
                format!("The FHIR server kept answering {status} after several retries."),
                "The server is rate-limiting requests or temporarily unavailable.",
                "Wait a minute and reload this section.",
            ),
            FhirServerError { status, diagnostics } => d(
                "The FHIR server failed",
                with_diagnostics(&format!("The FHIR server answered HTTP {status}."), diagnostics),
                "An error inside the FHIR server.",
                "Try again later; if it repeats, tell the EHR administrator.",
            ),
            FhirMalformed { detail } => d(
                "The FHIR server's answer is unreadable",
                format!("The response is not valid FHIR JSON: {detail}."),
                "A proxy or an error page answered instead of the FHIR server.",
                "Try again later; if it repeats, tell the EHR administrator.",
            ),
            FhirUnreachable { url, detail } => d(
                "The FHIR server could not be reached",
                format!("Requesting {url} failed: {detail}."),
                "The network is down, or the server does not allow this app's origin (CORS).",
                "Check the connection and try again.",
            ),
            TokenWouldLeak { url } => d(
                "A request to another server was blocked",
                format!("{url} is not on the FHIR server's origin, so the access token was not sent there."),
                "A link in the server's data points at another host.",
                "Nothing to do: the app only ever sends the token to the FHIR server.",
            ),
            DpopUnsupported { offered } => d(
                "The authorization server cannot bind tokens to this app",
                format!("config.json requires DPoP; the server's dpop_signing_alg_values_supported is [{}].", quoted(offered)),
                "The app signs DPoP proofs with ES256, which this server does not list.",
                "Enable ES256 for DPoP at the server, or set the issuer's \"dpop\" to \"auto\" or \"off\".",
            ),
            DpopTokenUnrequested => d(
                "The sign-in returned tokens this app cannot use",
                "The token endpoint issued a DPoP token, but the app sent no proof and has no key to use it with.".into(),
                "The server binds tokens to a key, and the issuer's \"dpop\" is \"off\".",
                "Set the issuer's \"dpop\" to \"auto\" or \"required\" in config.json.",
            ),
            DpopNotGranted => d(
                "The sign-in returned tokens that are not bound to this app",
                "config.json requires DPoP, and the token endpoint issued a bearer token despite the proof.".into(),
                "The server does not support DPoP for this client and ignored the proof.",
                "Enable DPoP for this client at the server, or set the issuer's \"dpop\" to \"auto\".",
            ),
            DpopUnavailable { detail } => d(
                "This browser cannot make a DPoP key",
                format!("The key that binds the tokens to this page failed: {detail}."),
                "Web Crypto lacks ECDSA P-256 here, or the page is not in a secure context.",
                "Open the app over https in a current browser, or set the issuer's \"dpop\" to \"off\".",
            ),
            DpopProofRefused { url, description } => d(
                "A server refused the app's DPoP proof",
                with_diagnostics(&format!("{url} answered invalid_dpop_proof."), description),
                "The server expects another request URL (htu) or algorithm, its clock differs, or a proof was replayed.",
                "Check the server's clock and the URLs it expects; sign in again.",
            ),
            DpopNonceRepeated { url } => d(
                "A server keeps asking for a new DPoP nonce",
                format!("{url} asked for a nonce again after the app sent the one it gave."),
                "The server refuses its own nonces (e.g. nodes behind a load balancer that do not share them).",
                "Ask the server's administrator to check its DPoP nonce handling.",
            ),
            RandomUnavailable { detail } => d(
                "This browser cannot create secure random values",
                format!("The secure random number generator failed: {detail}."),
                "The browser lacks the Web Crypto API, or the page is not in a secure context.",
                "Open the app over https (or localhost) in a current browser.",
            ),
        }
    }
}

fn describe_oauth(error: &OAuthError) -> String {
    let mut text = format!("{} ({})", error.code, error.meaning());
    if let Some(description) = &error.description {
        text.push_str(&format!(". The server said: \"{description}\""));
    }
    if let Some(uri) = &error.uri {
        text.push_str(&format!(". More information: {uri}"));
    }
    text
}

fn with_diagnostics(base: &str, diagnostics: &Option<String>) -> String {
    match diagnostics {
        Some(text) => format!("{base} The server said: \"{text}\"."),
        None => base.to_string(),
    }
}

fn same_base_text(a: &str, b: &str) -> bool {
    match (crate::url::HttpUrl::parse(a), crate::url::HttpUrl::parse(b)) {
        (Ok(a), Ok(b)) => a.same_base(&b),
        _ => a.trim_end_matches('/') == b.trim_end_matches('/'),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let diagnosis = self.diagnosis();
        write!(f, "{}: {}", diagnosis.title, diagnosis.detail)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_troubleshooting_table_is_covered() {
        // Each row of the seed guide's table: the issue as its title, the
        // likely cause and the fix in the diagnosis.
        let rows: [(Error, &str, &str); 5] = [
            (
                Error::InvalidLaunchParameter { problem: "it is empty".into() },
                "Invalid launch parameter",
                "expired or is malformed",
            ),
            (
                Error::MissingPatient { requested: "launch/patient".into() },
                "Missing patient claim in token",
                "JWT template",
            ),
            (
                Error::FhirUnauthorized {
                    fhir_base: "https://ehr.example.org/fhir".into(),
                    token_aud: Some(vec!["https://other.example.org/fhir".into()]),
                    www_authenticate: None,
                    descope_project_as_aud: None,
                },
                "FHIR API returns 401",
                "aud",
            ),
            (
                Error::ScopeNotGranted { needed: "patient/Condition.rs".into(), granted: "openid".into() },
                "Scope not granted",
                "Inbound App",
            ),
            (Error::StateMismatch, "State mismatch", "CSRF"),
        ];
        assert!(Error::PendingExpired { age_seconds: 900 }.diagnosis().title.starts_with("State mismatch"));
        for (error, title, hint) in rows {
            let diagnosis = error.diagnosis();
            assert_eq!(diagnosis.title, title);
            let all = format!("{} {} {}", diagnosis.detail, diagnosis.cause, diagnosis.fix);
            assert!(all.contains(hint), "{title}: {all}");
        }
    }

    #[test]
    fn fhir_401_names_an_aud_mismatch_only_when_there_is_one() {
        let mismatch = Error::FhirUnauthorized {
            fhir_base: "https://ehr.example.org/fhir".into(),
            token_aud: Some(vec!["https://ehr.example.org/fhir-old".into()]),
            www_authenticate: Some("Bearer error=\"invalid_token\"".into()),
            descope_project_as_aud: None,
        }
        .diagnosis();
        assert!(mismatch.detail.contains("does not match"), "{}", mismatch.detail);
        assert!(mismatch.detail.contains("invalid_token"));
        let matching = Error::FhirUnauthorized {
            fhir_base: "https://ehr.example.org/fhir".into(),
            token_aud: Some(vec!["https://ehr.example.org/fhir/".into()]),
            www_authenticate: None,
            descope_project_as_aud: None,
        }
        .diagnosis();
        assert!(matching.detail.contains("matches"), "{}", matching.detail);
    }

    #[test]
    fn a_descope_project_id_as_aud_is_named_with_its_fix() {
        let error = |aud: &str, project: Option<&str>| {
            Error::FhirUnauthorized {
                fhir_base: "https://ehr.example.org/fhir".into(),
                token_aud: Some(vec![aud.into()]),
                www_authenticate: None,
                descope_project_as_aud: project.map(str::to_string),
            }
            .diagnosis()
        };
        let project = error("P2abc", Some("P2abc"));
        assert!(project.detail.contains("\"P2abc\", the Descope project id"), "{}", project.detail);
        assert!(project.detail.contains("add \"aud\": \"https://ehr.example.org/fhir\" to the JWT template"));
        assert!(project.fix.contains("Add an aud claim to the JWT template"), "{}", project.fix);
        // Another audience, or the same text where it is not a Descope project: the general message.
        for general in [error("https://other.example.org/fhir", None), error("P2abc", None)] {
            assert!(general.detail.contains("does not match the FHIR server"), "{}", general.detail);
            assert!(general.fix.starts_with("Ensure the JWT template's aud"), "{}", general.fix);
        }
    }

    #[test]
    fn token_endpoint_refusals_name_dpop_and_confidential_clients() {
        let refused = |code: &str| {
            Error::TokenRequestRefused {
                status: 400,
                error: OAuthError { code: code.into(), description: None, uri: None },
            }
            .diagnosis()
        };
        let dpop = refused("invalid_dpop_proof");
        assert!(dpop.cause.contains("requires DPoP-bound tokens"), "{}", dpop.cause);
        assert!(dpop.detail.contains("RFC 9449"), "{}", dpop.detail);
        assert!(dpop.fix.contains("\"dpop\": \"required\""), "{}", dpop.fix);
        assert_eq!(refused("use_dpop_nonce").cause, dpop.cause);
        let client = refused("invalid_client");
        assert!(client.cause.contains("registered as a confidential client"), "{}", client.cause);
        assert!(client.fix.contains("non-confidential Inbound App"), "{}", client.fix);
    }

    #[test]
    fn oauth_errors_keep_the_server_text_and_explain_the_code() {
        let error = Error::AuthorizationRefused {
            error: OAuthError {
                code: "invalid_scope".into(),
                description: Some("<b>user/*.cruds</b> not allowed".into()),
                uri: None,
            },
        };
        let diagnosis = error.diagnosis();
        assert_eq!(diagnosis.title, "Scope not granted");
        // Kept verbatim: the view renders it as text, so markup stays inert.
        assert!(diagnosis.detail.contains("<b>user/*.cruds</b> not allowed"));
        assert!(diagnosis.detail.contains("unknown, malformed, or not allowed"));
    }

    #[test]
    fn invalid_grant_explains_code_reuse() {
        let error = Error::TokenRequestRefused {
            status: 400,
            error: OAuthError { code: "invalid_grant".into(), description: None, uri: None },
        };
        assert!(error.diagnosis().cause.contains("already used"));
        assert!(error.to_string().contains("HTTP 400"));
    }
}
