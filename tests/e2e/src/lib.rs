//! End-to-end harness: the release build of the app in headless Chromium,
//! driven through chromedriver with a fresh browser profile per test.
//!
//! A failing test leaves a screenshot and the page text in
//! `tests/e2e/artifacts/`.

pub mod browser;
pub mod nginx;
pub mod server;

use std::path::PathBuf;

pub use browser::Browser;
pub use server::{Request, Response, TestServer};
pub use smart_test_support::{http, Reply};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The built app (`trunk build --release` output), or `E2E_DIST`.
pub fn dist_dir() -> PathBuf {
    let dir = std::env::var_os("E2E_DIST").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("dist"));
    assert!(
        dir.join("index.html").is_file(),
        "{} has no index.html: build the app first (scripts/test.sh does: trunk build --release)",
        dir.display()
    );
    dir
}

/// The built app served by nginx on its own origin, with the hosting
/// rules `smart-deploy` writes (CSP with `connect-src` and
/// `frame-ancestors` for this sandbox, cache headers, SPA rewrites), and
/// the shipped `config.json` pointed at a sandbox started in-process on
/// free ports.
pub struct AppWithSandbox {
    pub app: nginx::Nginx,
    pub sandbox: smart_sandbox::Running,
    /// The path the app is served under (`/`, or a sub-path).
    pub base: String,
    /// The folder nginx serves the build from (config.json is there).
    pub files: PathBuf,
}

impl AppWithSandbox {
    pub async fn start() -> AppWithSandbox {
        AppWithSandbox::start_with(|_| {}).await
    }

    /// Like [`AppWithSandbox::start`], with the served `config.json` edited.
    pub async fn start_with(edit: impl FnOnce(&mut serde_json::Value)) -> AppWithSandbox {
        AppWithSandbox::start_at("/", &dist_dir(), edit).await
    }

    /// Serves the build in `dist` (built for that public URL) under `base`.
    pub async fn start_at(
        base: &str,
        dist: &std::path::Path,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> AppWithSandbox {
        AppWithSandbox::start_inner(base, dist, edit, None).await.0
    }

    /// The app as [`AppWithSandbox::start`] serves it, and beside it the
    /// fhirclient peer's build (`peer_dist`, made by `scripts/bench.sh`)
    /// served by nginx the same way on an origin of its own, its
    /// `index.html` registered as a redirect URI for the same client.
    pub async fn start_with_peer(peer_dist: &std::path::Path) -> (AppWithSandbox, nginx::Nginx) {
        let (env, peer) = AppWithSandbox::start_inner("/", &dist_dir(), |_| {}, Some(peer_dist)).await;
        (env, peer.expect("the peer's nginx"))
    }

    async fn start_inner(
        base: &str,
        dist: &std::path::Path,
        edit: impl FnOnce(&mut serde_json::Value),
        peer_dist: Option<&std::path::Path>,
    ) -> (AppWithSandbox, Option<nginx::Nginx>) {
        let shipped = std::fs::read_to_string(workspace_root().join("public/config.json")).expect("public/config.json");
        let mut template: serde_json::Value = serde_json::from_str(&shipped).expect("config JSON");
        edit(&mut template);
        let template = template.to_string();
        // nginx needs its port before the sandbox starts (the sandbox
        // registers the app's redirect URI), and the sandbox's port before
        // nginx starts (config.json names it). The app's port is held while
        // the sandbox picks its own; if another server takes it before nginx
        // does, both start again on new ports.
        let mut failures = Vec::new();
        for _ in 0..5 {
            let reserved = std::net::TcpListener::bind("127.0.0.1:0").expect("reserve a local port");
            let port = reserved.local_addr().expect("the reserved port").port();
            let peer_reserved = peer_dist.map(|dir| {
                let held = std::net::TcpListener::bind("127.0.0.1:0").expect("reserve a local port");
                let port = held.local_addr().expect("the reserved port").port();
                (dir, port, held)
            });
            let peer = peer_reserved.as_ref().map(|(dir, port, _)| (*dir, *port));
            let app_url = format!("http://localhost:{port}{base}");
            let options = smart_sandbox::Options {
                port: 0,
                foreign_port: 0,
                app_urls: vec![app_url],
                other_redirect_uris: peer.iter().map(|p| format!("http://localhost:{}/index.html", p.1)).collect(),
                app_dir: None,
                app_port: 0,
            };
            let sandbox = smart_sandbox::start(options).await.expect("start the sandbox");
            let config = template.replace("localhost:8090", &format!("localhost:{}", sandbox.port));
            let root = std::env::temp_dir().join(format!("e2e-site-{}-{port}", std::process::id()));
            let files = root.join(base.trim_start_matches('/'));
            nginx::copy_dist(dist, &files);
            std::fs::write(files.join("config.json"), &config).expect("write config.json");
            // The EHR simulator (the sandbox's origin) embeds the app.
            let site = smart_deploy::Site::new(&config, base, std::slice::from_ref(&sandbox.sandbox.origin), &[])
                .expect("hosting rules for the sandbox configuration");
            // The page's meta policy narrowed as smart-deploy does it, so
            // every flow runs under it as well as under the header.
            for page in smart_deploy::PAGES {
                let path = files.join(page);
                let text = std::fs::read_to_string(&path).expect("the built page");
                std::fs::write(&path, site.with_meta_csp(&text).expect("a meta policy to narrow")).expect("write");
            }
            drop(reserved);
            let app = match nginx::Nginx::start(port, &root, &site.nginx(&root.display().to_string())) {
                Ok(app) => app,
                Err(why) => {
                    failures.push(why);
                    continue;
                }
            };
            let env = AppWithSandbox { app, sandbox, base: base.to_string(), files };
            let Some((peer_dir, peer_port, held)) = peer_reserved else { return (env, None) };
            let peer_root = std::env::temp_dir().join(format!("e2e-peer-{}-{peer_port}", std::process::id()));
            nginx::copy_dist(peer_dir, &peer_root);
            drop(held);
            match nginx::Nginx::start(peer_port, &peer_root, &nginx::peer_location(&peer_root)) {
                Ok(peer) => return (env, Some(peer)),
                Err(why) => failures.push(why),
            }
        }
        panic!("nginx did not start: {}", failures.join("\n"));
    }

    pub fn sandbox_url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.sandbox.origin)
    }

    /// POSTs JSON to the sandbox's control API and returns its answer.
    pub fn control(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}{path}", self.sandbox.port);
        http("POST", &url, &[("Content-Type", "application/json")], &body.to_string()).json()
    }

    /// Creates a launch through the control API; returns the app URL that opens it.
    pub fn launch(&self, settings: serde_json::Value) -> String {
        let reply = self.control("/sandbox/launch", &settings);
        reply["url"].as_str().unwrap_or_else(|| panic!("no launch: {reply}")).to_string()
    }
}

/// The shipped `public/config.json`, parsed.
pub fn shipped_config() -> serde_json::Value {
    let text = std::fs::read_to_string(workspace_root().join("public/config.json")).expect("public/config.json");
    serde_json::from_str(&text).expect("config.json is JSON")
}
