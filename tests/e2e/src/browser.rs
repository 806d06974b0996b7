//! Chromium through chromedriver: one driver and one fresh profile per test.

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

pub type TestResult = Result<(), String>;

/// How long a test waits for something to appear.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tool(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_string())
}

impl Browser {
    pub async fn start() -> Browser {
        // The port is free when chosen, but another server may take it
        // before chromedriver binds it: then chromedriver exits, and it
        // starts again on another port.
        let mut failures = Vec::new();
        for _ in 0..5 {
            match Browser::try_start().await {
                Ok(browser) => return browser,
                Err(why) => failures.push(why),
            }
        }
        panic!("chromedriver did not start: {}", failures.join("; "))
    }

    async fn try_start() -> Result<Browser, String> {
        let port = free_port();
        let mut driver = Command::new(tool("CHROMEDRIVER", "/usr/bin/chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver (scripts/setup.sh --browser installs it)");
        let profile = std::env::temp_dir().join(format!("e2e-profile-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": tool("CHROMIUM", "/usr/bin/chromium"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-quic", "--no-first-run", "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = driver.try_wait() {
                return Err(format!("chromedriver on port {port} exited ({status})"));
            }
            match ClientBuilder::new(HttpConnector::new()).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return Ok(Browser { client, driver, profile }),
                Err(error) if started.elapsed() > Duration::from_secs(20) => {
                    return Err(format!("no WebDriver session on port {port}: {error}"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Runs a test body with a fresh browser; on failure saves a screenshot
    /// and the page text under `tests/e2e/artifacts/NAME.*`, then panics.
    pub async fn run<F, Fut>(name: &str, body: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = TestResult>,
    {
        let browser = Browser::start().await;
        let mut outcome = body(browser.client.clone()).await;
        if outcome.is_ok() {
            // Whatever the test checked, a panic in the app fails it.
            outcome = console_messages(&browser.client).await.map(|_| ());
        }
        if let Err(message) = &outcome {
            browser.save_artifacts(name).await;
            browser.close().await;
            panic!("{name}: {message}");
        }
        browser.close().await;
    }

    async fn save_artifacts(&self, name: &str) {
        let dir = crate::workspace_root().join("tests/e2e/artifacts");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{name}.png")), png);
        }
        let url = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let text = page_text(&self.client).await;
        let _ = std::fs::write(dir.join(format!("{name}.txt")), format!("URL: {url}\n\n{text}"));
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The visible text of the page.
pub async fn page_text(client: &Client) -> String {
    match client.execute("return document.body ? document.body.innerText : ''", vec![]).await {
        Ok(value) => value.as_str().unwrap_or_default().to_string(),
        Err(_) => String::new(),
    }
}

/// Waits until the page text contains `needle`.
pub async fn wait_for_text(client: &Client, needle: &str) -> TestResult {
    let started = Instant::now();
    loop {
        let text = page_text(client).await;
        if text.contains(needle) {
            return Ok(());
        }
        if started.elapsed() > WAIT {
            return Err(format!("the page never showed {needle:?}; it shows:\n{text}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first element matching `css`, once it exists.
pub async fn element(client: &Client, css: &str) -> Result<Element, String> {
    let started = Instant::now();
    loop {
        // Retried like a missing element: a lookup while the page navigates
        // can fail with chromedriver's "aborted by navigation".
        match client.find(Locator::Css(css)).await {
            Ok(found) => return Ok(found),
            Err(_) if started.elapsed() < WAIT => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(format!("no element {css}: {e}")),
        }
    }
}

/// The text of the first element matching `css`, once it exists.
pub async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    element(client, css).await?.text().await.map_err(|e| e.to_string())
}

/// The full text of the first element matching `css`, hidden parts
/// included (for the collapsed diagnostics), once it exists.
pub async fn text_content(client: &Client, css: &str) -> Result<String, String> {
    element(client, css).await?;
    let js = format!("return document.querySelector({}).textContent", serde_json::to_string(css).unwrap());
    Ok(script(client, &js).await?.as_str().unwrap_or_default().to_string())
}

/// Waits until the element matching `css` contains `needle` in its text.
pub async fn wait_for_text_in(client: &Client, css: &str, needle: &str) -> TestResult {
    let started = Instant::now();
    loop {
        let text = text_content(client, css).await.unwrap_or_default();
        if text.contains(needle) {
            return Ok(());
        }
        if started.elapsed() > WAIT {
            return Err(format!("{css} never showed {needle:?}; it shows:\n{text}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's requests whose URL holds `part`, each as [its path, whether
/// it started before the app's wasm did (the `smart:started` mark)]: what
/// calls.js sent as the page loaded, and what the app sent itself.
pub async fn sent_before_the_app_started(client: &Client, part: &str) -> Result<serde_json::Value, String> {
    script(
        client,
        &format!(
            "const started = performance.getEntriesByName('smart:started')[0].startTime; \
             return performance.getEntriesByType('resource').filter(e => e.name.includes({part:?})) \
               .map(e => [new URL(e.name).pathname, e.startTime < started])"
        ),
    )
    .await
}

/// Runs a script and returns its value.
pub async fn script(client: &Client, js: &str) -> Result<serde_json::Value, String> {
    client.execute(js, vec![]).await.map_err(|e| format!("script failed: {e}"))
}

/// What axe-core (installed into `.tools/` by scripts/setup.sh) finds on
/// the page as it is now, every rule and every impact: one line per
/// violation, with the elements it was found on. Empty when none.
pub async fn accessibility_violations(client: &Client) -> Result<Vec<String>, String> {
    let path = crate::workspace_root().join(".tools/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (scripts/setup.sh --browser installs axe-core)", path.display()))?;
    // axe defines `window.axe` wherever it runs; WebDriver's scripts are
    // not subject to the page's CSP.
    script(client, &format!("{axe}\n;return typeof window.axe")).await?;
    let found = script(
        client,
        "return window.axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => \
           `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`))",
    )
    .await?;
    Ok(found.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

/// Fails with the list when axe finds any violation in the page as it
/// is; `state` names it in the message.
pub async fn no_accessibility_violations(client: &Client, state: &str) -> TestResult {
    let found = accessibility_violations(client).await?;
    check(found.is_empty(), format!("{state}: {} accessibility violations:\n{}", found.len(), found.join("\n")))
}

/// From the app's start page at `app`, a standalone sign-in with the first
/// provider, approved, to the patient picker (for a grant that names no
/// patient); then `query` typed and sent, and its results shown.
pub async fn standalone_to_the_picker(client: &Client, app: &str, query: &str, expected: &str) -> TestResult {
    client.goto(&format!("{app}/")).await.map_err(|e| e.to_string())?;
    click(client, "button.provider").await?;
    click(client, "#approve").await?;
    let search = client.wait().at_most(WAIT).for_element(Locator::Css("#patient-search")).await;
    search.map_err(|e| format!("no patient picker: {e}"))?.send_keys(query).await.map_err(|e| e.to_string())?;
    click(client, ".patient-picker button[type=submit]").await?;
    wait_for_text_in(client, ".picker-results", expected).await
}

/// Fails with `message` unless `condition` holds.
pub fn check(condition: bool, message: impl Into<String>) -> TestResult {
    if condition {
        Ok(())
    } else {
        Err(message.into())
    }
}

/// Chromium's `/se/log` endpoint (enabled by `goog:loggingPrefs`): the
/// console messages and page errors since the last call.
#[derive(Debug)]
struct ReadBrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ReadBrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_string()))
    }
}

/// The console messages the page logged since the last call, one string
/// per message; an error if the app panicked (a panic in WebAssembly kills
/// the app, so no test may pass with one) or the page broke its
/// Content-Security-Policy.
pub async fn console_messages(client: &Client) -> Result<Vec<String>, String> {
    let value = client.issue_cmd(ReadBrowserLog).await.map_err(|e| format!("reading the console log failed: {e}"))?;
    let entries = value.as_array().ok_or_else(|| format!("the console log is not a list: {value}"))?;
    let messages: Vec<String> =
        entries.iter().map(|entry| entry["message"].as_str().unwrap_or_default().to_string()).collect();
    if let Some(panic) = messages.iter().find(|m| m.contains("panicked at") || m.contains("RuntimeError: unreachable"))
    {
        return Err(format!("the app panicked: {panic}"));
    }
    // Chromium reports what a Content-Security-Policy blocked as "Refused to …".
    if let Some(refused) = messages.iter().find(|m| m.contains("Refused to") && m.contains("Content Security Policy")) {
        return Err(format!("the Content-Security-Policy blocked something: {refused}"));
    }
    Ok(messages)
}

/// A Chrome DevTools Protocol command through chromedriver's
/// `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct Cdp {
    body: String,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.clone()))
    }
}

/// Runs a DevTools command, e.g. `Page.addScriptToEvaluateOnNewDocument`.
pub async fn cdp(client: &Client, command: &str, params: serde_json::Value) -> Result<serde_json::Value, String> {
    let body = json!({"cmd": command, "params": params}).to_string();
    client.issue_cmd(Cdp { body }).await.map_err(|e| format!("DevTools command {command} failed: {e}"))
}

/// Clicks the element matching `css`, once it exists.
pub async fn click(client: &Client, css: &str) -> TestResult {
    element(client, css).await?.click().await.map_err(|e| format!("clicking {css} failed: {e}"))?;
    Ok(())
}

/// In the EHR simulator at `ehr`: chooses `patient`, sets the launch
/// `switches` (checkbox names such as `deny_framing`, or `select=option`
/// such as `dpop=required`), presses Launch and enters the app's iframe.
/// Returns the EHR's window.
pub async fn launch_from_the_ehr(
    client: &Client,
    ehr: &str,
    patient: &str,
    switches: &[&str],
) -> Result<WindowHandle, String> {
    client.goto(ehr).await.map_err(|e| e.to_string())?;
    click(client, &format!("#patient option[value={patient}]")).await?;
    for switch in switches {
        match switch.split_once('=') {
            Some((select, option)) => click(client, &format!("#{select} option[value={option}]")).await?,
            None => click(client, &format!("input[name={switch}]")).await?,
        }
    }
    click(client, "#launch").await?;
    let ehr_window = client.window().await.map_err(|e| e.to_string())?;
    element(client, "iframe#app").await?;
    client.clone().enter_frame(0).await.map_err(|e| e.to_string())?;
    Ok(ehr_window)
}

/// Waits for a browser window other than `main` (the sign-in popup).
pub async fn wait_for_popup(client: &Client, main: &WindowHandle) -> Result<WindowHandle, String> {
    let started = Instant::now();
    loop {
        let windows = client.windows().await.map_err(|e| e.to_string())?;
        if let Some(popup) = windows.into_iter().find(|w| w != main) {
            return Ok(popup);
        }
        check(started.elapsed() < WAIT, "no sign-in window opened")?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// From the app in the EHR's iframe: presses "Sign in", approves in the
/// sign-in popup, and comes back into the app's iframe.
pub async fn sign_in_through_the_popup(client: &Client, ehr_window: WindowHandle) -> TestResult {
    click(client, "button.sign-in").await?;
    let popup = wait_for_popup(client, &ehr_window).await?;
    client.switch_to_window(popup).await.map_err(|e| e.to_string())?;
    click(client, "#approve").await?;
    back_to_the_app_frame(client, ehr_window).await
}

/// Back to the EHR's window and into the app's iframe (its first frame).
pub async fn back_to_the_app_frame(client: &Client, ehr_window: WindowHandle) -> TestResult {
    client.switch_to_window(ehr_window).await.map_err(|e| e.to_string())?;
    client.clone().enter_frame(0).await.map_err(|e| e.to_string())
}
