//! A small absolute `http`/`https` URL type.
//!
//! The client needs only a few URL operations: parse an absolute URL, take
//! its origin (to decide where a bearer token may go), resolve a relative
//! reference (RFC 3986 §5.2, for discovery documents), append a path segment
//! and append query parameters. The general-purpose `url` crate would add
//! many times this module's size to the wasm bundle for that (measured:
//! bench/README.md), so this module does just those, strictly: no userinfo,
//! no whitespace or control characters, only the two schemes a SMART server
//! can use.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

/// Why a string is not an acceptable absolute http(s) URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlError {
    Empty,
    NotAbsolute,
    UnsupportedScheme(String),
    Credentials,
    EmptyHost,
    InvalidHost(String),
    InvalidPort(String),
    ForbiddenCharacter(char),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Empty => write!(f, "it is empty"),
            UrlError::NotAbsolute => {
                write!(f, "it is not an absolute URL (expected http:// or https://)")
            }
            UrlError::UnsupportedScheme(s) => {
                write!(f, "the scheme \"{s}\" is not supported (use https://, or http:// on localhost)")
            }
            UrlError::Credentials => write!(f, "it contains a user name or password (user@host)"),
            UrlError::EmptyHost => write!(f, "it has no host name"),
            UrlError::InvalidHost(h) => write!(f, "the host \"{h}\" is not a valid host name"),
            UrlError::InvalidPort(p) => write!(f, "the port \"{p}\" is not a number from 1 to 65535"),
            UrlError::ForbiddenCharacter(c) => {
                write!(f, "it contains the character U+{:04X}, which is not allowed in a URL", u32::from(*c))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An absolute http(s) URL, normalised: lower-case scheme and host, default
/// port dropped, empty path written as `/`.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    scheme: Scheme,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

/// Characters percent-encoded in query keys and values: everything except
/// RFC 3986 unreserved characters, so the value survives any server's parser.
const QUERY_COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'!')
    .add(b'"')
    .add(b'#')
    .add(b'$')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Percent-encodes one query key or value (RFC 3986 unreserved set kept).
pub fn encode_query_component(value: &str) -> String {
    utf8_percent_encode(value, QUERY_COMPONENT).to_string()
}

// No byte-index slicing (`&s[..i]`, `split_at`) in this module: its panic
// path formats a `char` with `Debug`, which brings the Unicode escaping
// tables into the wasm (bench/README.md). `split_once` cannot panic.

fn scheme_of(input: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = input.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// Splits `path?query#fragment` into its three parts.
fn split_reference(input: &str) -> (&str, Option<&str>, Option<&str>) {
    let (before_fragment, fragment) = match input.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (input, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    (path, query, fragment)
}

fn valid_reg_name(host: &str) -> bool {
    host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'%'))
}

fn valid_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).is_some_and(|inside| {
        !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
    })
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    output.push("");
                }
            }
            ".." => {
                if output.len() > 1 {
                    output.pop();
                }
                if i == last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    let joined = output.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

impl HttpUrl {
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        if input.is_empty() {
            return Err(UrlError::Empty);
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::ForbiddenCharacter(c));
        }
        let (scheme, rest) = scheme_of(input).ok_or(UrlError::NotAbsolute)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => return Err(UrlError::UnsupportedScheme(other.to_string())),
        };
        let rest = rest.strip_prefix("//").ok_or(UrlError::NotAbsolute)?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at_checked(authority_end).unwrap_or((rest, ""));
        if authority.contains('@') {
            return Err(UrlError::Credentials);
        }
        if let Some(c) = authority.chars().find(|c| matches!(c, '<' | '>' | '"' | '\\' | '{' | '}' | '|' | '^' | '`')) {
            return Err(UrlError::ForbiddenCharacter(c));
        }
        // The port separator is the last ':' outside an IPv6 literal.
        let (host, port_text) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        if host.is_empty() {
            return Err(UrlError::EmptyHost);
        }
        if !(valid_reg_name(host) || valid_ipv6_literal(host)) {
            return Err(UrlError::InvalidHost(host.to_string()));
        }
        let port = match port_text {
            None | Some("") => None,
            Some(p) => {
                let n: u16 = p
                    .parse()
                    .ok()
                    .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| UrlError::InvalidPort(p.to_string()))?;
                (n != scheme.default_port()).then_some(n)
            }
        };
        let (path, query, fragment) = split_reference(after);
        if let Some(c) = after.chars().find(|c| matches!(c, '<' | '>' | '"' | '\\' | '{' | '}' | '|' | '^' | '`')) {
            return Err(UrlError::ForbiddenCharacter(c));
        }
        Ok(HttpUrl {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path: if path.is_empty() { "/".to_string() } else { remove_dot_segments(path) },
            query: query.map(str::to_string),
            fragment: fragment.map(str::to_string),
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }

    /// `scheme://host[:port]`, the unit the browser's same-origin policy uses.
    pub fn origin(&self) -> String {
        match self.port {
            Some(port) => format!("{}://{}:{port}", self.scheme.as_str(), self.host),
            None => format!("{}://{}", self.scheme.as_str(), self.host),
        }
    }

    pub fn same_origin(&self, other: &HttpUrl) -> bool {
        self.scheme == other.scheme && self.host == other.host && self.port == other.port
    }

    /// Whether this is a loopback host, where plain http is acceptable:
    /// `localhost` and its subdomains (which browsers resolve to loopback,
    /// W3C Secure Contexts §3.2), `[::1]`, and IPv4 literals in
    /// 127.0.0.0/8 (four decimal octets). Not a name that merely starts
    /// with `127.`, such as `127.attacker.example`.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.as_str();
        let mut octets = 0;
        let ipv4_loopback = host.split('.').all(|octet| {
            octets += 1;
            // At most three digits, so the value cannot overflow.
            let digits = (1..=3).contains(&octet.len()) && octet.bytes().all(|b| b.is_ascii_digit());
            digits
                && octet.bytes().fold(0u32, |value, b| value * 10 + u32::from(b - b'0')) <= 255
                && (octets > 1 || octet == "127")
        }) && octets == 4;
        host == "localhost" || host.ends_with(".localhost") || host == "[::1]" || ipv4_loopback
    }

    /// https, or http on a loopback host (a "potentially trustworthy" origin).
    pub fn is_secure(&self) -> bool {
        self.scheme == Scheme::Https || self.is_loopback()
    }

    /// Resolves a reference against this URL (RFC 3986 §5.2.2).
    pub fn resolve(&self, reference: &str) -> Result<HttpUrl, UrlError> {
        if reference.is_empty() {
            return Err(UrlError::Empty);
        }
        if scheme_of(reference).is_some() {
            return HttpUrl::parse(reference);
        }
        if reference.starts_with("//") {
            return HttpUrl::parse(&format!("{}:{reference}", self.scheme.as_str()));
        }
        let (path, query, fragment) = split_reference(reference);
        let (new_path, new_query) = if path.is_empty() {
            (self.path.clone(), query.map(str::to_string).or_else(|| self.query.clone()))
        } else if path.starts_with('/') {
            (path.to_string(), query.map(str::to_string))
        } else {
            // The base's path without its last segment (paths start with '/').
            let directory = self.path.rsplit_once('/').map_or("", |(directory, _)| directory);
            (format!("{directory}/{path}"), query.map(str::to_string))
        };
        let mut text = format!("{}{}", self.origin(), new_path);
        if let Some(q) = new_query {
            text.push('?');
            text.push_str(&q);
        }
        if let Some(f) = fragment {
            text.push('#');
            text.push_str(f);
        }
        HttpUrl::parse(&text)
    }

    /// Appends path segments, with exactly one `/` between, and drops the
    /// query and fragment: `{fhir base}/.well-known/smart-configuration`
    /// must keep the base's own path (SMART App Launch §Discovery).
    pub fn join_path(&self, suffix: &str) -> HttpUrl {
        let mut joined = self.clone();
        joined.path = format!("{}/{}", self.path.trim_end_matches('/'), suffix.trim_start_matches('/'));
        joined.query = None;
        joined.fragment = None;
        joined
    }

    /// Appends `key=value` pairs to the query, percent-encoded.
    pub fn with_query_pairs<'a>(&self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> HttpUrl {
        let mut query = self.query.clone().unwrap_or_default();
        for (key, value) in pairs {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&encode_query_component(key));
            query.push('=');
            query.push_str(&encode_query_component(value));
        }
        let mut url = self.clone();
        url.query = Some(query);
        url
    }

    /// The same URL without query and fragment, trailing `/` removed: the
    /// form in which a FHIR base and an `iss` value are compared.
    pub fn base_identity(&self) -> String {
        format!("{}{}", self.origin(), self.path.trim_end_matches('/'))
    }

    /// Whether two URLs name the same FHIR base (trailing slash ignored).
    pub fn same_base(&self, other: &HttpUrl) -> bool {
        self.base_identity() == other.base_identity()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        if let Some(fr) = &self.fragment {
            write!(f, "#{fr}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> HttpUrl {
        HttpUrl::parse(s).unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        let u = url("HTTPS://EHR.Example.org:443/fhir/R4?x=1#frag");
        assert_eq!(u.to_string(), "https://ehr.example.org/fhir/R4?x=1#frag");
        assert_eq!(u.origin(), "https://ehr.example.org");
        assert_eq!(u.path(), "/fhir/R4");
        assert_eq!(u.query(), Some("x=1"));
        assert_eq!(u.fragment(), Some("frag"));
        assert_eq!(url("http://localhost:8080").to_string(), "http://localhost:8080/");
        assert_eq!(url("http://[::1]:9000/a").origin(), "http://[::1]:9000");
    }

    #[test]
    fn rejects_what_a_server_url_must_not_be() {
        assert_eq!(HttpUrl::parse(""), Err(UrlError::Empty));
        assert_eq!(HttpUrl::parse("/fhir"), Err(UrlError::NotAbsolute));
        assert_eq!(HttpUrl::parse("ehr.example.org/fhir"), Err(UrlError::NotAbsolute));
        assert_eq!(HttpUrl::parse("javascript:alert(1)"), Err(UrlError::UnsupportedScheme("javascript".into())));
        assert_eq!(HttpUrl::parse("https://user:pw@ehr.example.org/"), Err(UrlError::Credentials));
        assert_eq!(HttpUrl::parse("https:///fhir"), Err(UrlError::EmptyHost));
        assert_eq!(HttpUrl::parse("https://ehr.example.org:0/"), Err(UrlError::InvalidPort("0".into())));
        assert_eq!(HttpUrl::parse("https://ehr.example.org:99999/"), Err(UrlError::InvalidPort("99999".into())));
        assert_eq!(HttpUrl::parse("https://ehr.example.org:+80/"), Err(UrlError::InvalidPort("+80".into())));
        assert_eq!(HttpUrl::parse("https://ehr example.org/"), Err(UrlError::ForbiddenCharacter(' ')));
        assert_eq!(HttpUrl::parse("https://ehr.example.org/\n"), Err(UrlError::ForbiddenCharacter('\n')));
        assert_eq!(HttpUrl::parse("https://ehr.example.org/<script>"), Err(UrlError::ForbiddenCharacter('<')));
        assert!(matches!(HttpUrl::parse("https://ex$ample.org/"), Err(UrlError::InvalidHost(_))));
    }

    #[test]
    fn origin_decides_same_origin() {
        let base = url("https://ehr.example.org/fhir");
        assert!(base.same_origin(&url("https://EHR.example.org:443/other")));
        assert!(!base.same_origin(&url("http://ehr.example.org/fhir")));
        assert!(!base.same_origin(&url("https://ehr.example.org:8443/fhir")));
        assert!(!base.same_origin(&url("https://ehr.example.org.evil.com/fhir")));
    }

    #[test]
    fn resolves_rfc3986_examples() {
        // RFC 3986 §5.4.1, with an http base.
        let base = url("http://a/b/c/d;p?q");
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("https://other.example/x", "https://other.example/x"),
        ];
        for (reference, expected) in cases {
            assert_eq!(base.resolve(reference).unwrap().to_string(), expected, "{reference}");
        }
        assert!(base.resolve("mailto:x@y").is_err());
        assert!(base.resolve("").is_err());
    }

    #[test]
    fn join_path_keeps_the_base_path() {
        let expected = "https://ehr.example.org/fhir/R4/.well-known/smart-configuration";
        for base in ["https://ehr.example.org/fhir/R4", "https://ehr.example.org/fhir/R4/"] {
            assert_eq!(url(base).join_path(".well-known/smart-configuration").to_string(), expected);
        }
        assert_eq!(
            url("https://api.descope.com").join_path("/P2abc/.well-known/openid-configuration").to_string(),
            "https://api.descope.com/P2abc/.well-known/openid-configuration"
        );
    }

    #[test]
    fn query_pairs_are_percent_encoded_and_appended() {
        let u = url("https://as.example.org/authorize?tenant=a").with_query_pairs([
            ("scope", "launch openid patient/*.rs"),
            ("redirect_uri", "https://app.example.org/callback?x=1&y=2"),
            ("launch", "a+b/c=d"),
        ]);
        assert_eq!(
            u.to_string(),
            "https://as.example.org/authorize?tenant=a&scope=launch%20openid%20patient%2F%2A.rs\
             &redirect_uri=https%3A%2F%2Fapp.example.org%2Fcallback%3Fx%3D1%26y%3D2&launch=a%2Bb%2Fc%3Dd"
        );
        // Unreserved characters and non-ASCII text survive a round trip.
        assert_eq!(encode_query_component("Az09-._~"), "Az09-._~");
        assert_eq!(encode_query_component("Zoë"), "Zo%C3%AB");
    }

    #[test]
    fn base_identity_ignores_trailing_slash_and_case() {
        assert!(url("https://EHR.example.org/fhir/").same_base(&url("https://ehr.example.org/fhir")));
        assert!(!url("https://ehr.example.org/fhir").same_base(&url("https://ehr.example.org/fhir2")));
        assert!(!url("https://ehr.example.org/fhir").same_base(&url("https://ehr.example.org/")));
    }

    #[test]
    fn secure_means_https_or_loopback() {
        assert!(url("https://ehr.example.org").is_secure());
        assert!(url("http://localhost:8080").is_secure());
        assert!(url("http://127.0.0.1:8080").is_secure());
        assert!(url("http://127.255.3.4/").is_secure());
        // Names that only look like loopback addresses are not.
        for host in [
            "127.attacker.example",
            "127.0.0.1.nip.io",
            "127.0.0",
            "127.0.0.256",
            "127.0.0.+1",
            "127..0.1",
            "127.0.0.1000",
            "1270.0.0.1",
        ] {
            // (Some are not even host names, and refused as URLs.)
            let parsed = HttpUrl::parse(&format!("http://{host}/"));
            assert!(parsed.map_or(true, |u| !u.is_loopback()), "{host}");
        }
        assert!(!url("http://ehr.example.org").is_secure());
    }
}
