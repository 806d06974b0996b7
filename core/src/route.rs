//! Which page an address names. The app may be deployed at a host's root
//! or under a sub-path; `path` here is always relative to that base and
//! starts with `/`. Routing is this small on purpose: four pages, no
//! client-side navigation between them (each is entered from outside: the
//! EHR, the authorization server, or a reload), so a router crate would
//! only add bundle weight.

/// The pages of the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
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

impl Page {
    /// The page for `path`, given the configured `redirect_path`. A
    /// trailing slash and an explicit `index.html` are tolerated, as static
    /// hosts add or keep them.
    pub fn for_path(path: &str, redirect_path: &str) -> Page {
        let path = path.strip_suffix("index.html").unwrap_or(path);
        let trimmed = path.trim_end_matches('/');
        if trimmed == redirect_path.trim_end_matches('/') {
            return Page::Callback;
        }
        match trimmed {
            "" => Page::Standalone,
            "/launch" => Page::Launch,
            "/callback" => Page::Callback,
            "/summary" => Page::Summary,
            _ => Page::NotFound,
        }
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
        assert_eq!(Page::for_path("/", "/callback"), Page::Standalone);
        assert_eq!(Page::for_path("/index.html", "/callback"), Page::Standalone);
        assert_eq!(Page::for_path("/launch", "/callback"), Page::Launch);
        assert_eq!(Page::for_path("/launch/", "/callback"), Page::Launch);
        assert_eq!(Page::for_path("/callback", "/callback"), Page::Callback);
        assert_eq!(Page::for_path("/summary", "/callback"), Page::Summary);
        assert_eq!(Page::for_path("/launchx", "/callback"), Page::NotFound);
        assert_eq!(Page::for_path("/admin", "/callback"), Page::NotFound);
    }

    #[test]
    fn a_configured_redirect_path_is_the_callback() {
        assert_eq!(Page::for_path("/auth/done", "/auth/done"), Page::Callback);
        assert_eq!(Page::for_path("/auth/done/", "/auth/done"), Page::Callback);
        assert_eq!(Page::for_path("/auth/other", "/auth/done"), Page::NotFound);
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
