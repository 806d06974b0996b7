//! SMART scopes, v1 and v2 grammar (SMART App Launch §Scopes and Launch Context).
//!
//! v2: `(patient|user|system)/(Type|*).[c][r][u][d][s][?query]`, permissions
//! in that order. v1: `.read` → `rs`, `.write` → `cud`, `.*` → `cruds`.
//! Scopes the server grants but this module does not know are kept as
//! [`Scope::Other`]: a server may grant more than the client understands.

use std::fmt;

/// Which compartment a resource scope applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeContext {
    Patient,
    User,
    System,
}

/// One interaction a view may want to perform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

/// A set of `c r u d s` permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Permissions {
    pub create: bool,
    pub read: bool,
    pub update: bool,
    pub delete: bool,
    pub search: bool,
}

impl Permissions {
    fn allows(&self, interaction: Interaction) -> bool {
        match interaction {
            Interaction::Create => self.create,
            Interaction::Read => self.read,
            Interaction::Update => self.update,
            Interaction::Delete => self.delete,
            Interaction::Search => self.search,
        }
    }

    /// Parses v2 `cruds` letters (in order, each once) or a v1 suffix.
    fn parse(text: &str) -> Result<(Self, bool), String> {
        let v1 = match text {
            "read" => Some("rs"),
            "write" => Some("cud"),
            "*" => Some("cruds"),
            _ => None,
        };
        let letters = v1.unwrap_or(text);
        if letters.is_empty() {
            return Err("no permissions after the '.'".into());
        }
        let mut permissions = Permissions::default();
        let mut last = 0;
        for c in letters.chars() {
            let rank = match c {
                'c' => 1,
                'r' => 2,
                'u' => 3,
                'd' => 4,
                's' => 5,
                other => {
                    return Err(format!(
                        "'{other}' is not a permission (use c, r, u, d, s, or the v1 forms read, write, *)"
                    ))
                }
            };
            if rank <= last {
                return Err("permissions must appear once each, in the order c r u d s".into());
            }
            last = rank;
            match c {
                'c' => permissions.create = true,
                'r' => permissions.read = true,
                'u' => permissions.update = true,
                'd' => permissions.delete = true,
                _ => permissions.search = true,
            }
        }
        Ok((permissions, v1.is_some()))
    }
}

/// A clinical-data scope such as `patient/Observation.rs?category=vital-signs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceScope {
    pub context: ScopeContext,
    /// A FHIR resource type, or `*`.
    pub resource_type: String,
    pub permissions: Permissions,
    /// The v2 `?param=value` restriction, if any.
    pub query: Option<String>,
    /// Written in the v1 form (`.read`, `.write`, `.*`).
    pub v1: bool,
}

/// One scope token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Resource(ResourceScope),
    Launch,
    LaunchPatient,
    LaunchEncounter,
    OpenId,
    FhirUser,
    Profile,
    OfflineAccess,
    OnlineAccess,
    /// Anything else, kept verbatim.
    Other(String),
}

impl Scope {
    /// Parses a scope that looks like a resource scope strictly, and keeps
    /// anything else as [`Scope::Other`].
    pub fn parse(token: &str) -> Result<Scope, String> {
        Ok(match token {
            "launch" => Scope::Launch,
            "launch/patient" => Scope::LaunchPatient,
            "launch/encounter" => Scope::LaunchEncounter,
            "openid" => Scope::OpenId,
            "fhirUser" => Scope::FhirUser,
            "profile" => Scope::Profile,
            "offline_access" => Scope::OfflineAccess,
            "online_access" => Scope::OnlineAccess,
            _ => match parse_resource_scope(token) {
                Some(result) => Scope::Resource(result?),
                None => Scope::Other(token.to_string()),
            },
        })
    }
}

/// `None` when the token does not start like a resource scope at all.
fn parse_resource_scope(token: &str) -> Option<Result<ResourceScope, String>> {
    let (context_text, rest) = token.split_once('/')?;
    let context = match context_text {
        "patient" => ScopeContext::Patient,
        "user" => ScopeContext::User,
        "system" => ScopeContext::System,
        _ => return None,
    };
    Some((|| {
        let (type_and_permissions, query) = match rest.split_once('?') {
            Some((head, q)) if !q.is_empty() => (head, Some(q.to_string())),
            Some(_) => return Err("the '?' is not followed by a search parameter".to_string()),
            None => (rest, None),
        };
        let (resource_type, permission_text) =
            type_and_permissions.split_once('.').ok_or("a '.' and permissions must follow the resource type")?;
        let type_ok = resource_type == "*"
            || (resource_type.starts_with(|c: char| c.is_ascii_uppercase())
                && resource_type.chars().all(|c| c.is_ascii_alphanumeric()));
        if !type_ok {
            return Err(format!("\"{resource_type}\" is not a FHIR resource type or '*'"));
        }
        let (permissions, v1) = Permissions::parse(permission_text)?;
        if v1 && query.is_some() {
            return Err("v1 scopes (.read, .write, .*) cannot carry a query".into());
        }
        Ok(ResourceScope { context, resource_type: resource_type.to_string(), permissions, query, v1 })
    })())
}

/// What the grant says about one interaction on one resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Allowed without restriction.
    Granted,
    /// Allowed only for searches that match these queries (v2 `?…` scopes).
    Restricted(Vec<String>),
    NotGranted,
}

/// A space-separated scope string, parsed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ScopeSet {
    scopes: Vec<(String, Scope)>,
}

impl ScopeSet {
    /// Parses a scope string strictly: a malformed resource scope is an
    /// error. For the app's own configuration.
    pub fn parse_strict(text: &str) -> Result<ScopeSet, String> {
        let mut scopes = Vec::new();
        for token in text.split_ascii_whitespace() {
            let scope = Scope::parse(token).map_err(|why| format!("scope \"{token}\" is not valid: {why}"))?;
            if !scopes.iter().any(|(t, _)| t == token) {
                scopes.push((token.to_string(), scope));
            }
        }
        Ok(ScopeSet { scopes })
    }

    /// Parses a granted scope string leniently: whatever the server sends,
    /// malformed tokens are kept as [`Scope::Other`] and grant nothing.
    pub fn parse_lenient(text: &str) -> ScopeSet {
        let mut scopes = Vec::new();
        for token in text.split_ascii_whitespace() {
            let scope = Scope::parse(token).unwrap_or_else(|_| Scope::Other(token.to_string()));
            if !scopes.iter().any(|(t, _)| t == token) {
                scopes.push((token.to_string(), scope));
            }
        }
        ScopeSet { scopes }
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    pub fn contains(&self, scope: &Scope) -> bool {
        self.scopes.iter().any(|(_, s)| s == scope)
    }

    /// The scope tokens as written.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(|(t, _)| t.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter().map(|(_, s)| s)
    }

    /// Tokens in `self` that are not in `other` (e.g. requested − granted).
    pub fn missing_from(&self, other: &ScopeSet) -> Vec<String> {
        self.tokens().filter(|t| !other.tokens().any(|o| o == *t)).map(str::to_string).collect()
    }

    /// Whether the grant lets the app perform `interaction` on
    /// `resource_type` for the patient in context. Patient, user and system
    /// scopes all reach the current patient's data (a user scope covers what
    /// the user may see, which includes the patient in context).
    pub fn access(&self, resource_type: &str, interaction: Interaction) -> Access {
        let mut restrictions = Vec::new();
        for scope in self.iter() {
            let Scope::Resource(r) = scope else { continue };
            if !(r.resource_type == "*" || r.resource_type == resource_type) {
                continue;
            }
            if !r.permissions.allows(interaction) {
                continue;
            }
            match &r.query {
                None => return Access::Granted,
                Some(q) => restrictions.push(q.clone()),
            }
        }
        if restrictions.is_empty() {
            Access::NotGranted
        } else {
            Access::Restricted(restrictions)
        }
    }

    /// "May I search `resource_type` for this patient?"
    pub fn may_search(&self, resource_type: &str) -> bool {
        !matches!(self.access(resource_type, Interaction::Search), Access::NotGranted)
    }

    /// [`ScopeSet::may_search`], as the error a view shows when it may not.
    pub fn require_search(&self, resource_type: &str) -> Result<(), crate::Error> {
        if self.may_search(resource_type) {
            return Ok(());
        }
        Err(crate::Error::ScopeNotGranted {
            needed: format!("permission to search {resource_type} (for example patient/{resource_type}.rs)"),
            granted: self.to_string(),
        })
    }

    /// Whether the grant allows searching Patient across patients (a user
    /// or system scope): what a patient picker needs. A `patient/` scope
    /// without a patient in context can search nothing.
    pub fn may_search_patients(&self) -> bool {
        self.iter().any(|scope| match scope {
            Scope::Resource(r) => {
                r.context != ScopeContext::Patient
                    && (r.resource_type == "*" || r.resource_type == "Patient")
                    && r.permissions.search
            }
            _ => false,
        })
    }

    /// "May I read `resource_type` by id for this patient?"
    pub fn may_read(&self, resource_type: &str) -> bool {
        !matches!(self.access(resource_type, Interaction::Read), Access::NotGranted)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tokens: Vec<&str> = self.tokens().collect();
        write!(f, "{}", tokens.join(" "))
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(token: &str) -> ResourceScope {
        match Scope::parse(token).unwrap() {
            Scope::Resource(r) => r,
            other => panic!("{token} parsed as {other:?}"),
        }
    }

    #[test]
    fn parses_v2_scopes() {
        let r = resource(
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
        );
        assert_eq!(r.context, ScopeContext::Patient);
        assert_eq!(r.resource_type, "Observation");
        assert!(r.permissions.read && r.permissions.search);
        assert!(!r.permissions.create && !r.permissions.update && !r.permissions.delete);
        assert!(r.query.as_deref().unwrap().ends_with("|vital-signs"));
        assert!(!r.v1);
        let all = resource("user/*.cruds");
        assert_eq!(all.context, ScopeContext::User);
        assert_eq!(all.resource_type, "*");
        assert_eq!(all.permissions, Permissions { create: true, read: true, update: true, delete: true, search: true });
    }

    #[test]
    fn maps_v1_scopes() {
        let read = resource("patient/*.read");
        assert!(read.v1 && read.permissions.read && read.permissions.search && !read.permissions.create);
        let write = resource("user/Observation.write");
        assert!(write.permissions.create && write.permissions.update && write.permissions.delete);
        assert!(!write.permissions.read);
        let star = resource("system/Patient.*");
        assert!(star.permissions.read && star.permissions.create && star.permissions.search);
    }

    #[test]
    fn rejects_malformed_resource_scopes_with_reasons() {
        for (token, reason) in [
            ("patient/Observation.sr", "order"),
            ("patient/Observation.rr", "order"),
            ("patient/Observation.rx", "'x'"),
            ("patient/Observation.", "no permissions"),
            ("patient/Observation", "'.'"),
            ("patient/observation.rs", "resource type"),
            ("patient/Obs-ervation.rs", "resource type"),
            ("patient/*.read?code=1", "v1"),
            ("patient/Observation.rs?", "search parameter"),
        ] {
            let error = Scope::parse(token).unwrap_err();
            assert!(error.contains(reason), "{token}: {error}");
        }
    }

    #[test]
    fn knows_context_and_identity_scopes_and_keeps_others() {
        let set = ScopeSet::parse_strict(
            "launch launch/patient launch/encounter openid fhirUser profile offline_access online_access email",
        )
        .unwrap();
        for scope in [
            Scope::Launch,
            Scope::LaunchPatient,
            Scope::LaunchEncounter,
            Scope::OpenId,
            Scope::FhirUser,
            Scope::Profile,
            Scope::OfflineAccess,
            Scope::OnlineAccess,
            Scope::Other("email".into()),
        ] {
            assert!(set.contains(&scope), "{scope:?}");
        }
        // A prefix that is not patient/user/system is not a resource scope.
        assert_eq!(Scope::parse("foo/Bar.rs").unwrap(), Scope::Other("foo/Bar.rs".into()));
    }

    #[test]
    fn strict_parse_names_the_bad_scope_lenient_parse_keeps_it_inert() {
        let error = ScopeSet::parse_strict("openid patient/Observation.sr").unwrap_err();
        assert!(error.contains("\"patient/Observation.sr\""), "{error}");
        let granted = ScopeSet::parse_lenient("openid patient/Observation.sr");
        assert!(!granted.may_search("Observation"));
        assert_eq!(granted.to_string(), "openid patient/Observation.sr");
    }

    #[test]
    fn answers_may_i_search_questions() {
        let granted = ScopeSet::parse_lenient(
            "launch openid patient/Condition.rs patient/Observation.rs?category=vital-signs user/MedicationRequest.read patient/AllergyIntolerance.r",
        );
        assert!(granted.may_search("Condition"));
        assert!(granted.may_search("MedicationRequest"));
        assert_eq!(
            granted.access("Observation", Interaction::Search),
            Access::Restricted(vec!["category=vital-signs".into()])
        );
        // Read without search does not allow searching.
        assert!(granted.may_read("AllergyIntolerance"));
        assert!(!granted.may_search("AllergyIntolerance"));
        assert!(!granted.may_search("Encounter"));
        assert_eq!(granted.access("Condition", Interaction::Create), Access::NotGranted);
        let wildcard = ScopeSet::parse_lenient("patient/*.rs");
        assert!(wildcard.may_search("Encounter") && wildcard.may_read("Patient"));
        assert!(!wildcard.may_search_patients(), "patient scopes cannot pick a patient");
        assert!(ScopeSet::parse_lenient("user/Patient.rs").may_search_patients());
        assert!(ScopeSet::parse_lenient("user/*.read").may_search_patients());
        assert!(!ScopeSet::parse_lenient("user/Patient.r").may_search_patients());
    }

    #[test]
    fn an_empty_grant_allows_nothing() {
        let granted = ScopeSet::parse_lenient("   ");
        assert!(granted.is_empty());
        assert!(!granted.may_search("Patient"));
        let detail = granted.require_search("Condition").unwrap_err().diagnosis().detail;
        assert!(detail.contains("the grant is empty"), "{detail}");
    }

    #[test]
    fn a_search_outside_the_grant_is_scope_not_granted() {
        let granted = ScopeSet::parse_lenient("launch patient/Condition.rs");
        assert_eq!(granted.require_search("Condition"), Ok(()));
        let error = granted.require_search("Observation").unwrap_err();
        assert_eq!(
            error,
            crate::Error::ScopeNotGranted {
                needed: "permission to search Observation (for example patient/Observation.rs)".into(),
                granted: "launch patient/Condition.rs".into(),
            }
        );
        let diagnosis = error.diagnosis();
        assert_eq!(diagnosis.title, "Scope not granted");
        assert!(diagnosis.detail.starts_with("Not covered by the granted scopes"), "{}", diagnosis.detail);
    }

    #[test]
    fn compares_granted_with_requested() {
        let requested = ScopeSet::parse_strict("launch openid fhirUser patient/*.rs offline_access").unwrap();
        let granted = ScopeSet::parse_lenient("launch  openid patient/Condition.rs");
        assert_eq!(requested.missing_from(&granted), ["fhirUser", "patient/*.rs", "offline_access"]);
        assert_eq!(granted.missing_from(&requested), ["patient/Condition.rs"]);
    }

    #[test]
    fn duplicates_are_dropped() {
        let set = ScopeSet::parse_lenient("openid openid launch");
        assert_eq!(set.to_string(), "openid launch");
    }
}
