//! `application/x-www-form-urlencoded` POST requests to the token and
//! revocation endpoints (RFC 6749 §4.1.3, §6; RFC 7009 §2.1).

use crate::url::HttpUrl;

/// A form POST the app sends with `fetch`. The body carries secrets (a
/// code verifier or a refresh token), so `Debug` shows only the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct FormPost {
    pub url: HttpUrl,
    body: String,
}

impl FormPost {
    pub const CONTENT_TYPE: &'static str = "application/x-www-form-urlencoded";

    pub fn new<'a>(url: HttpUrl, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FormPost {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            serializer.append_pair(key, value);
        }
        FormPost { url, body: serializer.finish() }
    }

    /// This form with one more pair at its end.
    pub fn and(mut self, key: &str, value: &str) -> FormPost {
        self.body = form_urlencoded::Serializer::for_suffix(self.body, 0).append_pair(key, value).finish();
        self
    }

    /// The encoded body. Secret-bearing: send it, never log it.
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl std::fmt::Debug for FormPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FormPost({}, body redacted)", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_pairs_and_hides_the_body_in_debug() {
        let post = FormPost::new(
            HttpUrl::parse("https://as.example.org/token").unwrap(),
            [("grant_type", "refresh_token"), ("refresh_token", "a+b/c=&d"), ("client_id", "app 1")],
        );
        assert_eq!(post.body(), "grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3D%26d&client_id=app+1");
        let shown = format!("{post:?}");
        assert!(!shown.contains("a%2Bb"), "{shown}");
        assert!(shown.contains("https://as.example.org/token"));
    }

    #[test]
    fn a_pair_added_later_is_encoded_as_if_given_at_first() {
        let url = HttpUrl::parse("https://as.example.org/token").unwrap();
        let whole = FormPost::new(url.clone(), [("a", "1"), ("code", "x y&z")]);
        assert_eq!(FormPost::new(url.clone(), [("a", "1")]).and("code", "x y&z"), whole);
        assert_eq!(FormPost::new(url, []).and("code", "x").body(), "code=x", "no separator before the first pair");
    }
}
