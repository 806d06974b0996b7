//! The hosting rules a deployment of the app needs, written out for the
//! common kinds of static host from one description of the site:
//!
//! - a Content-Security-Policy with no inline scripts (`'wasm-unsafe-eval'`
//!   for the WebAssembly), `connect-src` limited to the servers in
//!   `config.json` (plus any named by hand), and `frame-ancestors` limited
//!   to the EHR origins that may embed the app;
//! - caching: content-hashed assets for a year (`immutable`), the page,
//!   its fallback and `config.json` revalidated on every load;
//! - the single-page-app rewrite, so `/launch` and `/callback` load the app.
//!
//! The files under `deploy/examples/` are this crate's output for the
//! example site; a test keeps them in step.

pub mod check;

use smart_core::config::{AppConfig, AuthorizationServerSource};
use smart_core::url::HttpUrl;

/// A deployment of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The path the app is served under, `/` or `/sub/path/` (Trunk's
    /// `--public-url`).
    pub base: String,
    /// Origins the app may call: the configured servers, and any added.
    pub connect: Vec<String>,
    /// EHR origins that may embed the app in a frame.
    pub frame_ancestors: Vec<String>,
}

/// Pages of the app a browser may load directly (deep links).
pub const ROUTES: [&str; 3] = ["launch", "callback", "summary"];

/// The built pages, each with a `<meta>` policy to narrow: the app, its
/// fallback for hosts without rewrites, and the deployment check page.
pub const PAGES: [&str; 3] = ["index.html", "404.html", "check/index.html"];

/// Cache rule for content-hashed assets (their name changes with them).
pub const CACHE_HASHED: &str = "public, max-age=31536000, immutable";
/// Cache rule for the page, its fallback and config.json: always revalidated.
pub const CACHE_REVALIDATE: &str = "no-cache";

/// The origin (scheme, host, port) of a URL given on the command line.
fn origin(text: &str, what: &str) -> Result<String, String> {
    HttpUrl::parse(text).map(|url| url.origin()).map_err(|e| format!("{what} \"{text}\" is not a URL: {e}"))
}

impl Site {
    /// The site for `config.json` served under `base`. `extra_connect`
    /// names servers the configuration cannot reveal (a token endpoint on
    /// another host than the discovery document, for instance).
    pub fn new(
        config_json: &str,
        base: &str,
        frame_ancestors: &[String],
        extra_connect: &[String],
    ) -> Result<Site, String> {
        let config = AppConfig::parse(config_json).map_err(|e| format!("config.json: {}", e.diagnosis().detail))?;
        if !base.starts_with('/') || !base.ends_with('/') || base.contains(['?', '#', ' ']) {
            return Err(format!("the base path \"{base}\" must start and end with '/'"));
        }
        let mut connect = Vec::new();
        let mut add = |origin: String| {
            if !connect.contains(&origin) {
                connect.push(origin);
            }
        };
        for issuer in &config.issuers {
            add(issuer.fhir_base_url.origin());
            match &issuer.authorization_server {
                AuthorizationServerSource::SmartDiscovery => {}
                AuthorizationServerSource::Descope { base_url, .. } => add(base_url.origin()),
                AuthorizationServerSource::OpenIdDiscovery { configuration_url } => add(configuration_url.origin()),
            }
        }
        for extra in extra_connect {
            add(origin(extra, "--connect")?);
        }
        // An EHR that may frame the app is not thereby a server it may
        // call: a smart_style_url on another origin than the FHIR server's
        // is named with --connect (deploy/README.md).
        let mut ancestors = Vec::new();
        for ancestor in frame_ancestors {
            ancestors.push(origin(ancestor, "--frame-ancestor")?);
        }
        Ok(Site { base: base.to_string(), connect, frame_ancestors: ancestors })
    }

    /// The Content-Security-Policy header value.
    pub fn csp(&self) -> String {
        let ancestors =
            if self.frame_ancestors.is_empty() { "'none'".to_string() } else { self.frame_ancestors.join(" ") };
        let connect = std::iter::once("'self'".to_string()).chain(self.connect.iter().cloned()).collect::<Vec<_>>();
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
             connect-src {}; object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors {ancestors}",
            connect.join(" ")
        )
    }

    /// The policy for the page's `<meta>` tag: the header's, without
    /// `frame-ancestors` (a meta policy cannot set it, and browsers warn).
    pub fn meta_csp(&self) -> String {
        let csp = self.csp();
        match csp.rsplit_once("; frame-ancestors ") {
            Some((policy, _)) => policy.to_string(),
            None => csp,
        }
    }

    /// The built `index.html` (or `404.html`) with its meta policy replaced
    /// by [`Site::meta_csp`]. The shipped page's policy must allow any
    /// https origin, since the build does not know the servers; a host that
    /// cannot send headers would keep that. Rewriting is idempotent.
    pub fn with_meta_csp(&self, page: &str) -> Result<String, String> {
        const TAG: &str = r#"<meta http-equiv="Content-Security-Policy" content=""#;
        let mut found = page.match_indices(TAG);
        let (Some((start, _)), None) = (found.next(), found.next()) else {
            return Err("it has not exactly one Content-Security-Policy <meta> tag; is it the app's built page?".into());
        };
        let value_start = start + TAG.len();
        let value_end = page[value_start..]
            .find('"')
            .map(|end| value_start + end)
            .ok_or("its Content-Security-Policy <meta> tag is not closed")?;
        let escaped = self.meta_csp().replace('&', "&amp;").replace('"', "&quot;");
        Ok(format!("{}{escaped}{}", &page[..value_start], &page[value_end..]))
    }

    /// Paths served with [`CACHE_REVALIDATE`]: the page at every route,
    /// its fallback, the check page, and the configuration.
    pub fn revalidated_paths(&self) -> Vec<String> {
        let base = &self.base;
        let mut paths = vec![base.clone()];
        paths.extend(PAGES.iter().map(|page| format!("{base}{page}")));
        paths.push(format!("{base}check/"));
        paths.extend(ROUTES.iter().map(|route| format!("{base}{route}")));
        paths.push(format!("{base}config.json"));
        paths
    }

    /// Headers every response carries.
    fn common_headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Content-Security-Policy", self.csp()),
            ("X-Content-Type-Options", "nosniff".into()),
            ("Referrer-Policy", "no-referrer".into()),
            // Browsers apply it over https only; a year, as for the assets.
            ("Strict-Transport-Security", "max-age=31536000".into()),
            // No Cross-Origin-Opener-Policy: inside an EHR's iframe the
            // sign-in window's opener belongs to the EHR's top-level page,
            // and any policy but unsafe-none on the callback page cuts that
            // link, so the hand-back never arrives (tested end to end).
            // The app uses none of these.
            ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()".into()),
        ]
    }

    /// A `_headers` file (Netlify, Cloudflare Pages): every response gets
    /// the policy; hashed assets and the revalidated paths their caching.
    pub fn headers_file(&self) -> String {
        let base = &self.base;
        let mut out = String::from("# Written by smart-deploy; see deploy/README.md.\n");
        out.push_str(&format!("{base}*\n"));
        for (name, value) in self.common_headers() {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        for extension in ["wasm", "js", "css"] {
            out.push_str(&format!("{base}*.{extension}\n  Cache-Control: {CACHE_HASHED}\n"));
        }
        // wasm-bindgen's JS snippets sit in folders below the base (a
        // wildcard there does not cross a `/`); their names carry a hash too.
        out.push_str(&format!("{base}snippets/*\n  Cache-Control: {CACHE_HASHED}\n"));
        for path in self.revalidated_paths() {
            out.push_str(&format!("{path}\n  Cache-Control: {CACHE_REVALIDATE}\n"));
        }
        out
    }

    /// A `_redirects` file: any other path under the base loads the app
    /// (status 200 is a rewrite; files that exist are served as they are).
    pub fn redirects_file(&self) -> String {
        format!("# Written by smart-deploy; see deploy/README.md.\n{base}*  {base}index.html  200\n", base = self.base)
    }

    /// An nginx `location` block for the base path, to include inside a
    /// `server { }` block. The built files (Trunk's `dist/`) live at
    /// `{root_dir}{base}`.
    pub fn nginx(&self, root_dir: &str) -> String {
        let base = &self.base;
        let headers = |cache: &str, indent: &str| {
            let mut lines: Vec<String> = self
                .common_headers()
                .into_iter()
                .map(|(name, value)| format!("{indent}add_header {name} \"{value}\" always;"))
                .collect();
            lines.push(format!("{indent}add_header Cache-Control \"{cache}\" always;"));
            lines.join("\n")
        };
        let root = root_dir.trim_end_matches('/');
        format!(
            "# Written by smart-deploy; see deploy/README.md. Include inside a server {{ }} block;\n\
             # the files of Trunk's dist/ live at {root}{base}.\n\
             # An inner location with add_header lines drops the outer ones: each repeats them.\n\
             location {base} {{\n    \
                 root {root};\n    \
                 types {{ text/html html; text/css css; text/javascript js; application/wasm wasm; application/json json; }}\n    \
                 # Deep links (/launch, /callback) load the app.\n    \
                 try_files $uri $uri/ {base}index.html;\n\
             {revalidate}\n    \
                 # Content-hashed names: a new build has new names.\n    \
                 location ~* \\.(wasm|js|css)$ {{\n\
             {hashed}\n    \
                 }}\n\
             }}\n",
            revalidate = headers(CACHE_REVALIDATE, "    "),
            hashed = headers(CACHE_HASHED, "        "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = include_str!("../examples/config.json");

    fn example() -> Site {
        Site::new(CONFIG, "/smart/", &["https://ehr.example.org".into()], &["https://auth.example.org/token".into()])
            .unwrap()
    }

    #[test]
    fn connect_src_lists_the_configured_servers_once() {
        let site = example();
        assert_eq!(site.connect, ["https://fhir.example.org", "https://api.descope.com", "https://auth.example.org"]);
        let csp = site.csp();
        assert!(csp.contains("connect-src 'self' https://fhir.example.org https://api.descope.com"), "{csp}");
        assert!(csp.contains("frame-ancestors https://ehr.example.org"), "{csp}");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(!csp.contains("connect-src 'self' https://fhir.example.org https://api.descope.com https://auth.example.org https://ehr.example.org"), "an embedding EHR is not a server to call: {csp}");
        let headers = site.headers_file();
        assert!(!headers.contains("Cross-Origin-Opener-Policy"), "it breaks the framed popup sign-in");
        for header in ["Strict-Transport-Security: max-age=31536000", "Permissions-Policy: camera=()"] {
            assert!(headers.contains(header), "{header}: {headers}");
        }
    }

    #[test]
    fn the_pages_meta_policy_is_narrowed_to_the_configured_servers() {
        let site = example();
        let page = r#"<head><meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self' https: http://localhost:*; object-src 'none'" /><title>x</title></head>"#;
        let written = site.with_meta_csp(page).unwrap();
        let expected = format!(r#"content="{}" /><title>"#, site.meta_csp());
        assert!(written.contains(&expected), "{written}");
        assert!(!written.contains("https: ") && !written.contains("localhost"), "{written}");
        assert!(!site.meta_csp().contains("frame-ancestors"), "a meta policy cannot set it");
        assert!(site.meta_csp().contains("connect-src 'self' https://fhir.example.org https://api.descope.com"));
        assert_eq!(site.with_meta_csp(&written).unwrap(), written, "a second run changes nothing");
        assert!(site.with_meta_csp("<head></head>").unwrap_err().contains("not exactly one"));
        let twice = format!("{page}{page}");
        assert!(site.with_meta_csp(&twice).unwrap_err().contains("not exactly one"));
    }

    #[test]
    fn the_shipped_page_has_the_tag_that_is_rewritten() {
        let shipped = include_str!("../../index.html");
        let written = example().with_meta_csp(shipped).unwrap();
        assert!(!written.contains("connect-src 'self' https: "), "the permissive policy is gone");
    }

    #[test]
    fn no_embedding_origin_means_no_framing() {
        let site = Site::new(CONFIG, "/", &[], &[]).unwrap();
        assert!(site.csp().ends_with("frame-ancestors 'none'"));
    }

    #[test]
    fn bad_input_is_explained() {
        assert!(Site::new(CONFIG, "smart", &[], &[]).unwrap_err().contains("must start and end with '/'"));
        assert!(Site::new("{}", "/", &[], &[]).unwrap_err().starts_with("config.json:"));
        assert!(Site::new(CONFIG, "/", &["not a url".into()], &[]).unwrap_err().contains("--frame-ancestor"));
    }

    #[test]
    fn hashed_assets_are_cached_and_pages_revalidated() {
        let headers = example().headers_file();
        assert!(headers.contains("/smart/*.wasm\n  Cache-Control: public, max-age=31536000, immutable\n"));
        assert!(headers.contains("/smart/snippets/*\n  Cache-Control: public, max-age=31536000, immutable\n"));
        assert!(headers.contains("/smart/config.json\n  Cache-Control: no-cache\n"));
        assert!(headers.contains("/smart/callback\n  Cache-Control: no-cache\n"));
        assert!(headers.contains("/smart/check/\n  Cache-Control: no-cache\n"), "the check page");
        assert!(headers.contains("/smart/check/index.html\n  Cache-Control: no-cache\n"));
        assert_eq!(example().redirects_file().lines().nth(1), Some("/smart/*  /smart/index.html  200"));
    }

    /// The examples in deploy/examples are this crate's output; rerun with
    /// `UPDATE_EXAMPLES=1` after changing the rules.
    #[test]
    fn the_examples_are_current() {
        let site = example();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for (name, text) in [
            ("_headers", site.headers_file()),
            ("_redirects", site.redirects_file()),
            ("nginx.conf", site.nginx("/srv/smart-app")),
        ] {
            let path = dir.join(name);
            if std::env::var_os("UPDATE_EXAMPLES").is_some() {
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                on_disk, text,
                "deploy/examples/{name} is stale: run UPDATE_EXAMPLES=1 cargo test -p smart-deploy"
            );
        }
    }
}
