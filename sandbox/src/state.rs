//! What the sandbox remembers: launches, pending authorizations, codes,
//! tokens and refresh-token families, fault switches, and a record of every
//! request it received.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::data::Store;
use crate::dpop::DpopMode;
use crate::keys::Keys;

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A random opaque value (codes, launch ids, refresh tokens).
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

/// The project id of the Descope-compatible authorization server.
pub const PROJECT_ID: &str = "P2SANDBOX";
/// The registered public client.
pub const CLIENT_ID: &str = "smart-app-local";
/// How long a launch value stays usable.
pub const LAUNCH_LIFETIME: u64 = 300;
/// How long an authorization code stays usable.
pub const CODE_LIFETIME: u64 = 60;

/// The two FHIR bases: the same data, two authorization styles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// `/fhir`, behind the Descope-style OpenID server (context in claims).
    Descope,
    /// `/smart/fhir`, with SMART discovery (context in the token response).
    Smart,
}

impl Base {
    pub fn path(self) -> &'static str {
        match self {
            Base::Descope => "/fhir",
            Base::Smart => "/smart/fhir",
        }
    }

    pub fn default_context(self) -> ContextMode {
        match self {
            Base::Descope => ContextMode::Claims,
            Base::Smart => ContextMode::Response,
        }
    }
}

/// Where the launch context goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextMode {
    /// Access-token claims, as Descope's JWT template does.
    Claims,
    /// The token response's top level, as standard SMART servers do.
    Response,
    Both,
}

/// Errors the sandbox can be asked to make, per launch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Injection {
    #[default]
    None,
    TokenInvalidGrant,
    TokenNotJson,
    TokenWithoutAccessToken,
    IdTokenBadSignature,
    IdTokenWrongAudience,
    IdTokenExpired,
    IdTokenWrongNonce,
    MissingPatient,
    ScopeDowngrade,
    EmptyGrant,
    AudienceMismatch,
    /// The access token's `aud` is the project id: what Descope puts there
    /// when the JWT template sets no `aud` (issue #14, from Descope's docs).
    AudienceProjectId,
    /// The client is registered as confidential: the token endpoint wants
    /// client authentication and answers 401 `invalid_client` (RFC 6749
    /// §5.2), as a Descope Console-created Inbound App would.
    ConfidentialClient,
    StyleUnreachable,
    StyleMalformed,
}

/// Per-launch settings, chosen in the EHR simulator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LaunchSettings {
    pub base: Base,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    pub practitioner: Option<String>,
    pub need_patient_banner: bool,
    pub token_lifetime: u64,
    pub context: ContextMode,
    /// Whether the authorization pages refuse to be framed.
    pub deny_framing: bool,
    pub auto_approve: bool,
    pub inject: Injection,
}

impl LaunchSettings {
    pub fn standalone(base: Base, auto_approve: bool) -> LaunchSettings {
        LaunchSettings {
            base,
            patient: None,
            encounter: None,
            practitioner: None,
            need_patient_banner: true,
            token_lifetime: 3600,
            context: base.default_context(),
            deny_framing: false,
            auto_approve,
            inject: Injection::None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Launch {
    pub settings: LaunchSettings,
    pub created: u64,
    pub used: bool,
}

/// An authorize request waiting for the user's consent.
#[derive(Clone, Debug)]
pub struct Consent {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scope: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    pub settings: LaunchSettings,
    /// The EHR launch value, used up once the user answers (a sign-in
    /// window closed before that may ask again with the same launch).
    pub launch: Option<String>,
}

/// What a code, and the tokens from it, grant.
#[derive(Clone, Debug)]
pub struct Grant {
    pub scope: String,
    pub patient: Option<String>,
    pub encounter: Option<String>,
    /// `Practitioner/…` or `Patient/…`.
    pub fhir_user: String,
    pub nonce: Option<String>,
    pub settings: LaunchSettings,
}

#[derive(Clone, Debug)]
pub struct Code {
    pub redirect_uri: String,
    pub code_challenge: String,
    pub dpop_jkt: Option<String>,
    pub grant: Grant,
    pub created: u64,
    pub used: bool,
    /// Token families issued from this code: revoked if the code is reused.
    pub families: Vec<String>,
}

/// An issued access token, by its `jti`.
#[derive(Clone, Debug)]
pub struct AccessRecord {
    pub family: String,
    pub patient: Option<String>,
    pub scope: String,
    pub base: Base,
    /// The key thumbprint a DPoP-bound token is bound to (`cnf.jkt`).
    pub jkt: Option<String>,
}

/// A refresh token (rotated on every use).
#[derive(Clone, Debug)]
pub struct RefreshRecord {
    pub family: String,
    pub grant: Grant,
    pub used: bool,
    /// A public client's refresh token is bound to the key too (RFC 9449 §5).
    pub jkt: Option<String>,
}

/// Where a blood pressure's abnormality is written (FHIR R4 allows each;
/// see `data::blood_pressure_as`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PressureForm {
    /// An interpretation on each component, none on the panel.
    #[default]
    Components,
    /// One interpretation on the panel, none on the components.
    Panel,
    /// A reference range on each component, no interpretation.
    Ranges,
}

/// How a lab result's reference range is given (FHIR R4 allows each; see
/// `data::lab_ranges_as`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeForm {
    /// One range, for every patient.
    #[default]
    One,
    /// One range per sex (`appliesTo`), with the same bounds.
    PerSex,
    /// One range per sex, a woman's bounds a tenth lower (illustrative).
    PerSexDiffering,
    /// One range for adults (`age` from 18 years) and one for children (to
    /// 17), a child's bounds a tenth lower (illustrative).
    ByAge,
    /// The normal range, and a narrower one whose `type` is treatment.
    WithTreatment,
    /// The stored bounds as a treatment range alone: no normal range given.
    TreatmentOnly,
}

/// FHIR fault switches (test control API).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every response, in milliseconds.
    pub latency_ms: u64,
    /// The next N FHIR responses are 500.
    pub server_errors: u32,
    /// The next N FHIR responses are 429 with `Retry-After: 1`.
    pub rate_limits: u32,
    /// The next N FHIR responses are malformed JSON.
    pub malformed: u32,
    /// The next N FHIR responses are 403 (outside what the token may see).
    pub forbidden: u32,
    /// The next N FHIR responses are 404.
    pub not_found: u32,
    /// Search Bundles' `next` links point at the foreign host.
    pub foreign_next_link: bool,
    /// Caps every search page at this many entries (0: no cap), so small
    /// result sets page too: a server may cap `_count` (FHIR R4 search
    /// §3.1.1.6: it may return fewer than asked), and its `self` link then
    /// shows the count it applied.
    pub page_size: usize,
    /// Ignores `_sort` and answers oldest first: a server may ignore a
    /// sort it does not support (FHIR R4 search §3.1.1.4) and says so only
    /// by leaving it out of the `self` link.
    pub ignore_sort: bool,
    /// Milliseconds each search page answered sorted costs the server
    /// (0: none). FHIR says nothing of what a sort costs; a server this
    /// project did not write took ~190 ms per sorted page of 100 (issue
    /// #15: a sort by a date it had not indexed, done again for each page).
    /// With it, asking the server to sort can be weighed against reading
    /// unsorted pages and sorting in the browser, as the fhirclient peer
    /// does.
    pub sort_cost_ms: u64,
    /// Leaves `Bundle.total` out (it is optional, R4 Bundle.total 0..1).
    pub omit_total: bool,
    /// Shuffles the entries within each page (a search without `_sort`
    /// has no defined order).
    pub shuffle: bool,
    /// Sends no `self` link: R4 search §3.1.1.1 has servers name the
    /// applied search there, but a Bundle's links are 0..*, and some
    /// servers leave it out (a client then cannot tell what was applied).
    pub omit_self_link: bool,
    /// How a blood pressure says it is out of range: on its components
    /// (as stored), on the panel, or as ranges on the components.
    pub pressure_form: PressureForm,
    /// How a lab's reference range is given: one range (as stored), one per
    /// sex with the same or differing bounds, one per age group, or beside
    /// a treatment range.
    pub lab_ranges: RangeForm,
    /// Standalone authorizations skip the consent page.
    pub auto_approve_standalone: bool,
    /// Seconds added to the clock that expiry checks read (codes, launch
    /// values, access tokens), so tests can make things expire.
    pub clock_offset_seconds: u64,
    /// The Inbound App's metadata address answers with the project's
    /// federated OIDC document, as a proxy or custom domain that routes it
    /// to the wrong Descope document would.
    pub federated_metadata: bool,
    /// DPoP (RFC 9449): off, offered, required, or required without saying so.
    pub dpop: DpopMode,
    /// The token endpoint and the FHIR server want a nonce in proofs (§8, §9).
    pub dpop_nonce: bool,
    /// The token endpoint answers 307 to the foreign host, as a compromised
    /// or misconfigured proxy might: a client that follows it sends the
    /// code and verifier (or the refresh token) there (RFC 9700 §4.11).
    pub redirect_token_endpoint: bool,
    /// The FHIR server answers 307 to the foreign host (with the token, if
    /// the client follows).
    pub redirect_fhir: bool,
    /// Authorization responses carry no `iss`, and the metadata does not
    /// say they do: RFC 9207 is optional for a server.
    pub omit_iss: bool,
    /// FHIR answers are 17 MiB Bundles, larger than any page a client
    /// should parse (FHIR sets no limit; servers and clients choose).
    pub huge_fhir: bool,
    /// The metadata offers PKCE's `plain` only: RFC 7636 allows a server
    /// that, SMART App Launch 2 requires S256.
    pub no_s256: bool,
    /// CORS allows no origin, as a server that does not list the app's.
    pub cors_closed: bool,
    /// Preflights allow the app's origin but not the `DPoP` header (a
    /// server whose CORS settings predate RFC 9449): the Fetch standard's
    /// CORS protocol (§3.2) has a preflight name each header it allows, so
    /// a browser then refuses every request that carries a proof.
    pub cors_without_dpop: bool,
    /// The metadata names no `revocation_endpoint` (RFC 7009 is optional).
    pub no_revocation: bool,
    /// The SMART configuration leaves this capability out.
    pub missing_capability: Option<String>,
    /// The CapabilityStatement leaves this search parameter out of every
    /// resource (a server lists what it supports, FHIR R4 §3.1.1.1).
    pub missing_search_param: Option<String>,
}

/// One request the sandbox (or its foreign host) received.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub host: &'static str,
    pub method: String,
    pub target: String,
    pub origin: Option<String>,
    /// Whether an `Authorization` header came with it (never its value).
    pub authorization: bool,
}

#[derive(Default)]
pub struct Registry {
    pub launches: HashMap<String, Launch>,
    pub consents: HashMap<String, Consent>,
    pub codes: HashMap<String, Code>,
    pub access: HashMap<String, AccessRecord>,
    pub refresh: HashMap<String, RefreshRecord>,
    pub revoked_families: Vec<String>,
    pub faults: Faults,
    pub requests: Vec<Recorded>,
    /// DPoP proof ids seen (a replayed proof is refused).
    pub dpop_jtis: HashSet<String>,
    /// The nonces the token endpoint and the FHIR server want; new ones
    /// whenever the faults are set.
    pub as_nonce: String,
    pub rs_nonce: String,
    /// Proofs the FHIR server accepted, with their tokens, so a test can
    /// replay one as a thief would.
    pub accepted_proofs: Vec<(String, String)>,
}

pub struct Sandbox {
    /// The sandbox's own origin, e.g. `http://localhost:8090`.
    pub origin: String,
    /// The foreign host's origin (for `next` links that must get no token).
    pub foreign_origin: String,
    /// Origins allowed by CORS: where the app is served.
    pub app_origins: Vec<String>,
    /// Where the EHR simulator opens the app.
    pub app_url: String,
    /// Redirect URIs registered for the public client.
    pub redirect_uris: Vec<String>,
    pub keys: Keys,
    pub store: Store,
    pub registry: Mutex<Registry>,
}

impl Sandbox {
    pub fn fhir_base(&self, base: Base) -> String {
        format!("{}{}", self.origin, base.path())
    }

    /// The Inbound Apps' issuer, `{base}/v1/apps/{project}` (Descope's
    /// "Authorization Server Endpoints" documentation; OpenID Connect
    /// Discovery §4.3 makes it the prefix of the discovery document's URL).
    pub fn issuer(&self) -> String {
        format!("{}/v1/apps/{PROJECT_ID}", self.origin)
    }

    /// The `iss` authorization responses carry (RFC 9207), unless the
    /// `omit_iss` switch is on. (Never call it while holding the registry lock.)
    pub fn response_issuer(&self) -> Option<String> {
        (!self.registry().faults.omit_iss).then(|| self.issuer())
    }

    /// The issuer of the project's federated OIDC provider, `{base}/{project}`:
    /// another server, which knows no inbound app.
    pub fn federated_issuer(&self) -> String {
        format!("{}/{PROJECT_ID}", self.origin)
    }

    /// The project's signing keys, shared by both: `{base}/{project}/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/{PROJECT_ID}/.well-known/jwks.json", self.origin)
    }

    /// The time expiry checks use: real time plus the test clock offset.
    /// (Never call it while holding the registry lock.)
    pub fn now(&self) -> u64 {
        now() + self.registry().faults.clock_offset_seconds
    }

    pub fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock must not take the sandbox down.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}
