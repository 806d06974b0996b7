//! End-to-end harness: the release build of the app in headless Chromium,
//! driven through chromedriver with a fresh browser profile per test.
//!
//! A failing test leaves a screenshot and the page text in
//! `tests/e2e/artifacts/`.

pub mod browser;
pub mod server;

use std::path::PathBuf;

pub use browser::Browser;
pub use server::{Request, Response, TestServer};

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

/// The built app served on its own origin, with the shipped
/// `config.json` pointed at a sandbox started in-process on free ports.
pub struct AppWithSandbox {
    pub app: TestServer,
    pub sandbox: smart_sandbox::Running,
}

impl AppWithSandbox {
    pub async fn start() -> AppWithSandbox {
        AppWithSandbox::start_with(|_| {}).await
    }

    /// Like [`AppWithSandbox::start`], with the served `config.json` edited.
    pub async fn start_with(edit: impl FnOnce(&mut serde_json::Value)) -> AppWithSandbox {
        let config = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
        let served = config.clone();
        let dist = dist_dir();
        let app = TestServer::start(move |request| {
            if request.path() == "/config.json" {
                let body = served.get().cloned().unwrap_or_default();
                return Response { status: 200, content_type: "application/json".into(), body: body.into_bytes() };
            }
            server::static_file(&dist, request.path())
        });
        let options = smart_sandbox::Options {
            port: 0,
            foreign_port: 0,
            app_urls: vec![format!("{}/", app.origin())],
            app_dir: None,
            app_port: 0,
        };
        let sandbox = smart_sandbox::start(options).await.expect("start the sandbox");
        let shipped = std::fs::read_to_string(workspace_root().join("public/config.json")).expect("public/config.json");
        let mut value: serde_json::Value =
            serde_json::from_str(&shipped.replace("localhost:8090", &format!("localhost:{}", sandbox.port)))
                .expect("config JSON");
        edit(&mut value);
        let _ = config.set(value.to_string());
        AppWithSandbox { app, sandbox }
    }

    pub fn sandbox_url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.sandbox.origin)
    }

    /// POSTs JSON to the sandbox's control API and returns its answer.
    pub fn control(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.sandbox.port)).expect("connect to the sandbox");
        let body = body.to_string();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read");
        let json = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        serde_json::from_str(json).unwrap_or_else(|_| panic!("the sandbox answered {reply}"))
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
