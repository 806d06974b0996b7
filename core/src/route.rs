//! Which page an address names. The app may be deployed at a host's root
//! or under a sub-path; `path` here is always relative to that base and
//! starts with `/`. Routing is this small on purpose: four pages, no
//! client-side navigation between them (each is entered from outside: the
//! EHR, the authorization server, or a reload), so a router crate would
//! only add bundle weight.

use crate::authorize::LaunchKind;

/// The pages of the app, by address. (Not `Page`: that is a page of FHIR
/// search results, `fhir::models::Page`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/`: standalone launch (provider picker).
    Standalone,
    /// `/launch?iss=…&launch=…`: EHR launch.
    Launch,
    /// The configured redirect path (`/callback` by default).
    Callback,
    /// `/summary`: where a signed-in page stays (and where a reload lands).
    Summary,
    NotFound,
}

impl Route {
    /// The page for `path`, given the configured `redirect_path`. A
    /// trailing slash and an explicit `index.html` are tolerated, as static
    /// hosts add or keep them.
    pub fn for_path(path: &str, redirect_path: &str) -> Route {
        let path = path.strip_suffix("index.html").unwrap_or(path);
        let trimmed = path.trim_end_matches('/');
        if trimmed == redirect_path.trim_end_matches('/') {
            return Route::Callback;
        }
        match trimmed {
            "" => Route::Standalone,
            "/launch" => Route::Launch,
            "/callback" => Route::Callback,
            "/summary" => Route::Summary,
            _ => Route::NotFound,
        }
    }
}

/// The address a signed-in page shows (relative to the app's base) in
/// place of the callback's, so that a reload can say how to come back. It
/// names no token and no patient.
pub fn signed_in_address(kind: LaunchKind, issuer_id: &str) -> String {
    match kind {
        LaunchKind::Ehr => "summary?launch=ehr".to_string(),
        LaunchKind::Standalone => format!("summary?provider={}", crate::url::encode_query_component(issuer_id)),
    }
}

/// How the session of a reloaded signed-in address had started, from the
/// query [`signed_in_address`] wrote.
pub fn reloaded_kind(query: &str) -> LaunchKind {
    match query_value(query, "launch").as_deref() {
        Some("ehr") => LaunchKind::Ehr,
        _ => LaunchKind::Standalone,
    }
}

/// The decoded value of the first `name` parameter in a query string (with
/// or without its leading `?`).
pub fn query_value(query: &str, name: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_path() {
        assert_eq!(Route::for_path("/", "/callback"), Route::Standalone);
        assert_eq!(Route::for_path("/index.html", "/callback"), Route::Standalone);
        assert_eq!(Route::for_path("/launch", "/callback"), Route::Launch);
        assert_eq!(Route::for_path("/launch/", "/callback"), Route::Launch);
        assert_eq!(Route::for_path("/callback", "/callback"), Route::Callback);
        assert_eq!(Route::for_path("/summary", "/callback"), Route::Summary);
        assert_eq!(Route::for_path("/launchx", "/callback"), Route::NotFound);
        assert_eq!(Route::for_path("/admin", "/callback"), Route::NotFound);
    }

    #[test]
    fn a_configured_redirect_path_is_the_callback() {
        assert_eq!(Route::for_path("/auth/done", "/auth/done"), Route::Callback);
        assert_eq!(Route::for_path("/auth/done/", "/auth/done"), Route::Callback);
        assert_eq!(Route::for_path("/auth/other", "/auth/done"), Route::NotFound);
    }

    #[test]
    fn a_reloaded_address_says_how_the_session_started() {
        for (kind, issuer) in [(LaunchKind::Ehr, "ehr-1"), (LaunchKind::Standalone, "general hospital&co")] {
            let address = signed_in_address(kind, issuer);
            let (path, query) = address.split_once('?').unwrap();
            assert_eq!(Route::for_path(&format!("/{path}"), "/callback"), Route::Summary);
            assert_eq!(reloaded_kind(query), kind, "{address}");
        }
        assert_eq!(signed_in_address(LaunchKind::Standalone, "a&b"), "summary?provider=a%26b");
        assert_eq!(reloaded_kind(""), LaunchKind::Standalone);
    }

    #[test]
    fn query_values_are_decoded_and_first_wins() {
        let query = "?iss=https%3A%2F%2Fehr.example%2Ffhir&launch=a+b&launch=second";
        assert_eq!(query_value(query, "iss").as_deref(), Some("https://ehr.example/fhir"));
        assert_eq!(query_value(query, "launch").as_deref(), Some("a b"));
        assert_eq!(query_value("", "iss"), None);
        assert_eq!(query_value("iss", "iss").as_deref(), Some(""));
    }
}
