//! The release build, loaded in headless Chromium: it renders, reads its
//! runtime configuration, refuses bad launches before any request, shows
//! server-supplied text as text, and completes an EHR launch against a
//! scripted EHR on another origin; the requests its pages send before the
//! wasm has started (config.json, discovery, the token request) are the
//! ones the app reads, within its configured timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::browser::{
    cdp, check, console_messages, page_text, script, sent_before_the_app_started, text_content, text_of, wait_for_text,
    wait_for_text_in,
};
use e2e::server::static_file;
use e2e::{dist_dir, shipped_config, Browser, Response, TestServer};
use serde_json::json;

fn app() -> TestServer {
    TestServer::static_app(&dist_dir(), HashMap::new())
}

fn app_with_config(config: Option<Response>) -> TestServer {
    TestServer::static_app(&dist_dir(), HashMap::from([("/config.json".to_string(), config)]))
}

/// A config with one SMART-discovery issuer at `fhir_base`.
fn config_for(fhir_base: &str) -> serde_json::Value {
    json!({
        "issuers": [{
            "id": "test-ehr", "name": "Test EHR", "fhir_base_url": fhir_base,
            "authorization_server": {"type": "smart"}, "client_id": "e2e-client",
            "ehr_launch_scopes": "launch openid fhirUser patient/*.rs",
            "standalone_scopes": "launch/patient patient/*.rs"
        }]
    })
}

/// The start page, as built for release: its title, the providers from
/// `config.json`, an icon of its own (without one the browser asks for
/// `/favicon.ico`, and every load logs that request's 404 in the console),
/// and nothing at all in the console.
#[tokio::test(flavor = "multi_thread")]
async fn release_build_renders_the_provider_picker_from_config() {
    let app = app();
    Browser::run("renders", |client| async move {
        client.goto(&format!("{}/", app.origin())).await.map_err(|e| e.to_string())?;
        let title = text_of(&client, "#standalone-title").await?;
        check(title == "See your health record", format!("title was {title:?}"))?;
        // The placeholder (shown while the wasm loads) is gone: one
        // header, one main landmark.
        let shells = script(
            &client,
            "return [document.querySelectorAll('header, main').length, !!document.getElementById('loading')]",
        )
        .await?;
        check(shells == json!([2, false]), format!("[headers and mains, placeholder left]: {shells}"))?;
        let buttons =
            script(&client, "return [...document.querySelectorAll('button.provider')].map(b => b.innerText)").await?;
        let expected: Vec<String> = shipped_config()["issuers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect();
        check(buttons == json!(expected), format!("providers {buttons} != {expected:?}"))?;
        // The browser asks for an icon once the page has loaded: watch the
        // console for a moment after that.
        let mut logged = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(500) {
            logged.extend(console_messages(&client).await?);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        check(logged.is_empty(), format!("a load of the start page logged: {logged:?}"))?;
        let icon =
            script(&client, "const l = document.querySelector('link[rel=icon]'); return l ? l.href.slice(0, 22) : ''")
                .await?;
        check(icon == json!("data:image/png;base64,"), format!("the page's icon: {icon}"))
    })
    .await;
}

/// config.json is asked for as the page is parsed (index.html's preload),
/// before the modules have run (here calls.js is held back by the server
/// until config.json has been asked for, for at most 5 seconds) and while
/// the wasm is still on its way (held back 800 ms), and once: the preload
/// is the request the app reads, as calls.js asks for the same URL with
/// the preload's credentials mode.
#[tokio::test(flavor = "multi_thread")]
async fn config_is_asked_for_as_the_page_is_parsed_and_once() {
    let dir = dist_dir();
    let asked = Arc::new(AtomicBool::new(false));
    let asked_first = Arc::new(AtomicBool::new(false));
    let seen = asked_first.clone();
    let app = TestServer::start(move |request| {
        match request.path() {
            "/config.json" => asked.store(true, Ordering::SeqCst),
            path if path.ends_with("_bg.wasm") => std::thread::sleep(Duration::from_millis(800)),
            path if path.contains("/calls-")
                && waited_until(Duration::from_secs(5), || asked.load(Ordering::SeqCst)) =>
            {
                seen.store(true, Ordering::SeqCst)
            }
            _ => {}
        }
        static_file(&dir, request.path())
    });
    Browser::run("early-config", |client| async move {
        client.goto(&format!("{}/", app.origin())).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "See your health record").await?;
        check(
            asked_first.load(Ordering::SeqCst),
            "config.json was not asked for while calls.js was held back: it waits for the modules to run",
        )?;
        let timing = script(
            &client,
            "const all = performance.getEntriesByType('resource'); \
             const config = all.find(e => e.name.endsWith('/config.json')); \
             const wasm = all.find(e => e.name.endsWith('_bg.wasm')); \
             return [config.startTime, wasm.responseEnd]",
        )
        .await?;
        let (asked, wasm_in) = (timing[0].as_f64().unwrap_or(f64::NAN), timing[1].as_f64().unwrap_or(f64::NAN));
        check(
            asked < wasm_in,
            format!("config.json was asked for at {asked:.0} ms, after the wasm had arrived at {wasm_in:.0} ms"),
        )?;
        let times = app.requests().iter().filter(|r| r.path() == "/config.json").count();
        check(times == 1, format!("config.json was asked for {times} times by one page load"))
    })
    .await;
}

/// While the wasm is on its way (held back 800 ms by the server), the page
/// shows the shell's header and "Loading…" (calls.js draws them), and the
/// app takes them away when it draws its own.
#[tokio::test(flavor = "multi_thread")]
async fn loading_shows_while_the_wasm_loads() {
    let dir = dist_dir();
    let app = TestServer::start(move |request| {
        if request.path().ends_with("_bg.wasm") {
            std::thread::sleep(Duration::from_millis(800));
        }
        static_file(&dir, request.path())
    });
    Browser::run("loading", |client| async move {
        // When the page first shows "Loading…" in a status, on its own clock.
        let watch = "new MutationObserver((_, observer) => { \
             if (document.querySelector('#loading [role=status]')?.textContent === 'Loading…') { \
               window.__loadingAt = performance.now(); observer.disconnect(); } \
           }).observe(document, { childList: true, subtree: true });";
        cdp(&client, "Page.addScriptToEvaluateOnNewDocument", json!({"source": watch})).await?;
        client.goto(&format!("{}/", app.origin())).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "See your health record").await?;
        let timing = script(
            &client,
            "const wasm = performance.getEntriesByType('resource').find(e => e.name.endsWith('_bg.wasm')); \
             return [window.__loadingAt ?? null, wasm.responseEnd, !!document.getElementById('loading')]",
        )
        .await?;
        let wasm_in = timing[1].as_f64().unwrap_or(f64::NAN);
        let shown = timing[0].as_f64();
        check(
            shown.is_some_and(|at| at < wasm_in),
            format!("\"Loading…\" was shown at {shown:?} ms, the wasm arrived at {wasm_in:.0} ms"),
        )?;
        check(timing[2] == json!(false), "the placeholder was left on the page after the app drew")
    })
    .await;
}

/// On the EHR launch page the discovery request leaves once config.json is
/// in, while the wasm is still on its way (the server holds the wasm back
/// until the EHR has been asked, for at most 5 seconds), and it is the one
/// the app reads: one request, and the sign-in goes on to authorize. For
/// SMART discovery at the FHIR base, and for an explicit OpenID
/// configuration URL (the sandbox's popup test covers Descope's).
#[tokio::test(flavor = "multi_thread")]
async fn discovery_is_asked_for_while_the_wasm_loads_and_once() {
    discovery_while_the_wasm_loads("early-discovery-smart", None, "/fhir/.well-known/smart-configuration").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openid_configuration_is_asked_for_while_the_wasm_loads_and_once() {
    let discovery = "/oidc/.well-known/openid-configuration";
    discovery_while_the_wasm_loads("early-discovery-openid", Some(discovery), discovery).await;
}

/// [`discovery_is_asked_for_while_the_wasm_loads_and_once`], for an issuer
/// configured with SMART discovery, or with `openid` at this path of the
/// EHR's.
async fn discovery_while_the_wasm_loads(name: &str, openid: Option<&str>, discovery: &'static str) {
    let ehr = fake_ehr();
    let fhir_base = format!("http://localhost:{}/fhir", ehr.port);
    let mut config = config_for(&fhir_base);
    if let Some(path) = openid {
        config["issuers"][0]["authorization_server"] =
            json!({"type": "openid", "configuration_url": format!("http://localhost:{}{path}", ehr.port)});
    }
    let asked_first = Arc::new(AtomicBool::new(false));
    let (dir, asked, seen) = (dist_dir(), ehr.clone(), asked_first.clone());
    let app = TestServer::start(move |request| {
        if request.path() == "/config.json" {
            return Response::json(200, &config);
        }
        if request.path().ends_with("_bg.wasm")
            && waited_until(Duration::from_secs(5), || asked.requests().iter().any(|r| r.path() == discovery))
        {
            seen.store(true, Ordering::SeqCst);
        }
        static_file(&dir, request.path())
    });
    let ehr_ref = &ehr;
    Browser::run(name, |client| async move {
        client.goto(&format!("{}/launch?iss={fhir_base}&launch=L-1", app.origin())).await.map_err(|e| e.to_string())?;
        wait_for_request(ehr_ref, "/auth/authorize").await?;
        check(
            asked_first.load(Ordering::SeqCst),
            "the EHR was not asked for its discovery document while the wasm was held back",
        )?;
        let asked = ehr_ref.requests().iter().filter(|r| r.path() == discovery && r.method != "OPTIONS").count();
        check(asked == 1, format!("{asked} discovery requests from one launch"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disallowed_iss_is_refused_before_any_request() {
    let app = app();
    let elsewhere = TestServer::start(|_| Response::text(200, "{}"));
    let iss = format!("http://127.0.0.1:{}/fhir", elsewhere.port);
    let requests = {
        let app = app.origin();
        let iss = iss.clone();
        Browser::run("disallowed-iss", |client| async move {
            client.goto(&format!("{app}/launch?iss={iss}&launch=abc")).await.map_err(|e| e.to_string())?;
            wait_for_text(&client, "This EHR is not one this app is set up for").await?;
            wait_for_text(&client, &iss).await
        })
        .await;
        elsewhere.requests()
    };
    assert!(requests.is_empty(), "the app contacted the disallowed issuer: {requests:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn launch_with_only_one_of_iss_and_launch_is_explained() {
    let app = app();
    Browser::run("half-launch", |client| async move {
        client.goto(&format!("{}/launch?launch=abc", app.origin())).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "The launch is missing the EHR's address").await?;
        client
            .goto(&format!("{}/launch?iss=http://localhost:8090/fhir", app.origin()))
            .await
            .map_err(|e| e.to_string())?;
        wait_for_text(&client, "The launch is missing its launch context").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_and_invalid_config_are_explained() {
    let missing = app_with_config(None);
    let mut broken = config_for("https://ehr.example.org/fhir");
    broken["issuers"][0].as_object_mut().unwrap().remove("client_id");
    let invalid = app_with_config(Some(Response::json(200, &broken)));
    Browser::run("config-errors", |client| async move {
        client.goto(&format!("{}/", missing.origin())).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "The app's configuration could not be loaded").await?;
        wait_for_text(&client, "HTTP status 404").await?;
        client.goto(&format!("{}/", invalid.origin())).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "The app's configuration is not valid").await?;
        wait_for_text(&client, "issuers[0].client_id: this field is required").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn callback_errors_are_shown_as_text_only_for_a_sign_in_started_here_and_leave_the_address_bar() {
    let ehr = fake_ehr();
    let fhir_base = format!("http://localhost:{}/fhir", ehr.port);
    let app = app_with_config(Some(Response::json(200, &config_for(&fhir_base))));
    let ehr_ref = &ehr;
    Browser::run("callback-errors", |client| async move {
        let app_origin = app.origin();
        client.goto(&format!("{app_origin}/callback")).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "State mismatch").await?;
        let markup = "%3Cimg%20src%3Dx%20onerror%3D%22document.title%3D%27pwned%27%22%3E%3Cb%3Ebold%3C%2Fb%3E";
        let error =
            format!("error=access_denied&error_description={markup}&error_uri=https%3A%2F%2Fevil.example%2Fhelp");
        // A refusal no sign-in of this tab asked for: none of the sender's
        // text or link is shown on the app's origin.
        client.goto(&format!("{app_origin}/callback?{error}&state=s1")).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "State mismatch").await?;
        let text = page_text(&client).await;
        check(!text.contains("bold") && !text.contains("evil.example"), format!("the sender's text is shown: {text}"))?;
        // The same refusal for a sign-in started here: the server's text, as text.
        client.goto(&format!("{app_origin}/launch?iss={fhir_base}&launch=L-9")).await.map_err(|e| e.to_string())?;
        let state = wait_for_request(ehr_ref, "/auth/authorize")
            .await?
            .query_pairs()
            .get("state")
            .cloned()
            .ok_or("no state")?;
        client.goto(&format!("{app_origin}/callback?{error}&state={state}")).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "Access was not granted").await?;
        wait_for_text(&client, "<img src=x onerror=\"document.title='pwned'\"><b>bold</b>").await?;
        let injected =
            script(&client, "return document.querySelectorAll('main img, main b').length + ':' + document.title")
                .await?;
        check(injected == json!("0:SMART Health Summary"), format!("markup was interpreted: {injected}"))?;
        let url = client.current_url().await.map_err(|e| e.to_string())?;
        check(url.query().is_none(), format!("the callback query stayed in the address bar: {url}"))
    })
    .await;
}

/// A scripted EHR: SMART discovery with relative endpoints, an authorize
/// endpoint that records and stops, and a token endpoint.
fn fake_ehr() -> TestServer {
    fake_ehr_with(json!({}))
}

/// [`fake_ehr`], with `more` fields in its SMART configuration.
fn fake_ehr_with(more: serde_json::Value) -> TestServer {
    fake_ehr_answering(more, || {
        Response::json(
            200,
            &json!({"access_token": "opaque-access-token", "token_type": "bearer", "expires_in": 3600,
                    "scope": "launch patient/Condition.rs", "patient": "pat-42", "need_patient_banner": "false"}),
        )
    })
}

/// [`fake_ehr_with`], whose token endpoint answers with `token()`, called
/// on the request's own thread (so it may take its time).
fn fake_ehr_answering(more: serde_json::Value, token: impl Fn() -> Response + Send + Sync + 'static) -> TestServer {
    let mut metadata = json!({
        "authorization_endpoint": "/auth/authorize",
        "token_endpoint": "/auth/token",
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code"],
        "capabilities": ["launch-ehr", "client-public"]
    });
    metadata.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
    TestServer::start(move |request| match (request.method.as_str(), request.path()) {
        ("GET", "/fhir/.well-known/smart-configuration") => Response::json(200, &metadata),
        // The same server's metadata as an OpenID configuration, which
        // names its issuer: the URL it is published at, without the
        // well-known part (OpenID Connect Discovery 1.0 §4.3).
        ("GET", "/oidc/.well-known/openid-configuration") => {
            let mut openid = metadata.clone();
            openid["issuer"] = json!(format!("http://{}/oidc", request.header("host").unwrap_or_default()));
            Response::json(200, &openid)
        }
        ("GET", "/auth/authorize") => Response::text(200, "authorization page"),
        ("GET", "/auth/jwks") => Response::json(200, &json!({"keys": []})),
        ("GET", "/fhir/Condition") => Response::json(
            200,
            &json!({"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": {"resourceType": "Condition", "id": "c1", "code": {"text": "Asthma"}, "onsetDateTime": "2020-01-02"}}]}),
        ),
        ("POST", "/auth/token") => token(),
        _ => Response::text(404, "not found"),
    })
}

/// Waits until `done` holds, for at most `limit`; whether it came to hold.
fn waited_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let held = Instant::now();
    while held.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Opens the EHR launch of `fhir_base` on the app and returns the `state`
/// of the authorize request it makes, the `n`th one `ehr` sees (from 0).
async fn launch_to_authorize(
    client: &fantoccini::Client,
    app_origin: &str,
    fhir_base: &str,
    ehr: &TestServer,
    n: usize,
) -> Result<String, String> {
    client.goto(&format!("{app_origin}/launch?iss={fhir_base}&launch=L-{n}")).await.map_err(|e| e.to_string())?;
    let authorize = wait_for_nth_request(ehr, "/auth/authorize", n).await?;
    authorize.query_pairs().get("state").cloned().ok_or_else(|| "the authorize request has no state".to_string())
}

/// The first non-preflight request to `path`.
async fn wait_for_request(server: &TestServer, path: &str) -> Result<e2e::Request, String> {
    wait_for_nth_request(server, path, 0).await
}

/// The non-preflight request to `path` after `n` others (counted from 0).
async fn wait_for_nth_request(server: &TestServer, path: &str, n: usize) -> Result<e2e::Request, String> {
    let started = Instant::now();
    loop {
        if let Some(found) = server.requests().into_iter().filter(|r| r.path() == path && r.method != "OPTIONS").nth(n)
        {
            return Ok(found);
        }
        if started.elapsed() > Duration::from_secs(15) {
            return Err(format!(
                "no request {n} (from 0) to {path}; saw {:?}",
                server.requests().iter().map(|r| r.target.clone()).collect::<Vec<_>>()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ehr_launch_runs_pkce_end_to_end_and_uses_state_once() {
    let ehr = fake_ehr();
    let fhir_base = format!("http://localhost:{}/fhir", ehr.port);
    let app = app_with_config(Some(Response::json(200, &config_for(&fhir_base))));
    let ehr_ref = &ehr;
    Browser::run("ehr-launch", |client| async move {
        let app_origin = app.origin();
        client
            .goto(&format!("{app_origin}/launch?iss={fhir_base}&launch=L-123"))
            .await
            .map_err(|e| e.to_string())?;
        let authorize = wait_for_request(ehr_ref, "/auth/authorize").await?.query_pairs();
        let expect = |key: &str, value: &str| check(authorize.get(key).map(String::as_str) == Some(value), format!("{key}: {authorize:?}"));
        expect("response_type", "code")?;
        expect("client_id", "e2e-client")?;
        expect("redirect_uri", &format!("{app_origin}/callback"))?;
        expect("aud", &fhir_base)?;
        expect("launch", "L-123")?;
        expect("scope", "launch openid fhirUser patient/*.rs")?;
        expect("code_challenge_method", "S256")?;
        let state = authorize.get("state").cloned().ok_or("no state")?;
        check(state.len() >= 43, "state shorter than 256 bits")?;
        check(authorize.contains_key("nonce"), "openid requested but no nonce")?;

        // The pending record is in sessionStorage (app origin), keyed by state.
        client.goto(&format!("{app_origin}/callback?code=C-1&state={state}")).await.map_err(|e| e.to_string())?;
        let token = wait_for_request(ehr_ref, "/auth/token").await?;
        let form = token.form_pairs();
        check(form.get("grant_type").map(String::as_str) == Some("authorization_code"), format!("{form:?}"))?;
        check(form.get("code").map(String::as_str) == Some("C-1"), format!("{form:?}"))?;
        check(!form.contains_key("client_secret"), "a public client sent a secret")?;
        let verifier = form.get("code_verifier").cloned().ok_or("no code_verifier")?;
        check(
            // SHA-256 by the sandbox's own code (RFC 7636 §4.6), not the app's.
            smart_sandbox::pkce::s256_challenge(&verifier) == authorize["code_challenge"],
            "the verifier does not match the challenge",
        )?;
        // The granted Condition scope is used; the others are explained.
        wait_for_text_in(&client, "#section-conditions", "Asthma").await?;
        wait_for_text_in(&client, "#section-vital-signs", "Not covered by the granted scopes").await?;
        let patient = text_content(&client, "[data-testid=context-patient]").await?;
        check(patient == "pat-42 (from the token response)", format!("patient: {patient}"))?;
        // need_patient_banner "false" (a string, as one vendor sends it): no banner.
        let banner = script(&client, "return document.querySelector('[data-testid=patient-banner]') === null").await?;
        check(banner == json!(true), "a banner was shown although need_patient_banner was \"false\"")?;
        let search = wait_for_request(ehr_ref, "/fhir/Condition").await?;
        check(search.header("authorization") == Some("Bearer opaque-access-token"), format!("FHIR request headers: {:?}", search.headers))?;
        check(search.header("accept") == Some("application/fhir+json"), "Accept is not application/fhir+json")?;
        let url = client.current_url().await.map_err(|e| e.to_string())?;
        check(
            url.path() == "/summary" && url.query() == Some("launch=ehr"),
            format!("the address bar should say how to come back, and hold no code or state: {url}"),
        )?;
        let stored = script(&client, "return JSON.stringify(Object.assign({}, sessionStorage)) + JSON.stringify(Object.assign({}, localStorage)) + document.cookie").await?;
        check(!stored.to_string().contains("opaque-access-token"), format!("token in storage: {stored}"))?;
        check(stored == json!("{}{}"), format!("storage not empty after the callback: {stored}"))?;

        // Back to the same callback URL: the state was used once.
        client.goto(&format!("{app_origin}/callback?code=C-1&state={state}")).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "State mismatch").await?;
        let exchanges = ehr_ref.requests().iter().filter(|r| r.path() == "/auth/token").count();
        check(exchanges == 1, format!("{exchanges} token requests; a replayed state must make none"))?;
        let text = page_text(&client).await;
        check(!text.contains("opaque-access-token"), "the token is on the page")
    })
    .await;
}

/// The page sends the token request (and reads the key set) as it loads,
/// before the wasm has started, but never with a code whose answer names
/// another issuer, or none from a server that says it always names itself
/// (RFC 9207): the code would go to a server it did not come from.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_request_leaves_before_the_app_starts_but_only_to_the_issuer_named() {
    let ehr = fake_ehr_with(json!({
        "issuer": "https://as.example.org", "authorization_response_iss_parameter_supported": true,
        "jwks_uri": "/auth/jwks"
    }));
    let fhir_base = format!("http://localhost:{}/fhir", ehr.port);
    let app = app_with_config(Some(Response::json(200, &config_for(&fhir_base))));
    let ehr_ref = &ehr;
    Browser::run("early-token", |client| async move {
        let app_origin = app.origin();
        let sent = |path: &str| ehr_ref.requests().iter().filter(|r| r.path() == path && r.method != "OPTIONS").count();
        for (launch, (iss, refusal)) in [
            ("&iss=https%3A%2F%2Fevil.example.org", "names the issuer \"https://evil.example.org\""),
            ("", "names no issuer"),
            ("&iss=https%3A%2F%2Fas.example.org", ""),
        ]
        .into_iter()
        .enumerate()
        {
            let state = launch_to_authorize(&client, &app_origin, &fhir_base, ehr_ref, launch).await?;
            client
                .goto(&format!("{app_origin}/callback?code=C-1&state={state}{iss}"))
                .await
                .map_err(|e| e.to_string())?;
            if !refusal.is_empty() {
                wait_for_text(&client, refusal).await?;
                let (token, keys) = (sent("/auth/token"), sent("/auth/jwks"));
                check(
                    token + keys == 0,
                    format!("{token} token requests, {keys} key-set reads for an answer that {refusal}"),
                )?;
            }
        }
        wait_for_text_in(&client, "#section-conditions", "Asthma").await?;
        let (token, keys) = (sent("/auth/token"), sent("/auth/jwks"));
        check(token == 1 && keys == 1, format!("{token} token requests and {keys} key-set reads for one sign-in"))?;
        let before = sent_before_the_app_started(&client, "/auth/").await?;
        check(
            before == json!([["/auth/token", true], ["/auth/jwks", true]]),
            format!("[request, sent before the wasm started]: {before}"),
        )
    })
    .await;
}

/// A deployment's `request_timeout_seconds` holds for the token request
/// the page sent before the app had read it: a token endpoint slower than
/// that is given up on and named, not waited for (and not asked twice).
#[tokio::test(flavor = "multi_thread")]
async fn the_configured_timeout_holds_for_the_token_request_sent_as_the_page_loads() {
    let ehr = fake_ehr_answering(json!({}), || {
        std::thread::sleep(Duration::from_secs(4));
        Response::json(200, &json!({"access_token": "late", "token_type": "bearer", "patient": "pat-1"}))
    });
    let fhir_base = format!("http://localhost:{}/fhir", ehr.port);
    let mut config = config_for(&fhir_base);
    config["request_timeout_seconds"] = json!(2);
    let app = app_with_config(Some(Response::json(200, &config)));
    let ehr_ref = &ehr;
    Browser::run("early-token-timeout", |client| async move {
        let app_origin = app.origin();
        let state = launch_to_authorize(&client, &app_origin, &fhir_base, ehr_ref, 0).await?;
        client.goto(&format!("{app_origin}/callback?code=C-1&state={state}")).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "did not answer within 2 seconds").await?;
        // A request is recorded once answered, 4 seconds after it came.
        wait_for_request(ehr_ref, "/auth/token").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let asked = ehr_ref.requests().iter().filter(|r| r.path() == "/auth/token").count();
        check(asked == 1, format!("{asked} token requests for one sign-in"))
    })
    .await;
}

/// On the callback page the browser opens a connection to the FHIR server
/// while the token is asked for (a preconnect: nothing is sent on it), so
/// the reads after the token need not wait for one. The FHIR server is on
/// another origin than the authorization server here, as with Descope.
#[tokio::test(flavor = "multi_thread")]
async fn the_fhir_server_is_connected_to_while_the_token_is_asked_for() {
    let fhir = TestServer::start(|_| Response::json(200, &json!({"resourceType": "Bundle", "type": "searchset"})));
    let connected_first = Arc::new(AtomicBool::new(false));
    let (watched, seen) = (fhir.clone(), connected_first.clone());
    // The token endpoint answers once the FHIR server has a connection, or
    // after 3 seconds.
    let auth = fake_ehr_answering(json!({}), move || {
        if waited_until(Duration::from_secs(3), || watched.connections() > 0) {
            seen.store(true, Ordering::SeqCst);
        }
        Response::json(
            200,
            &json!({"access_token": "opaque-access-token", "token_type": "bearer", "expires_in": 3600,
                    "scope": "launch patient/Condition.rs", "patient": "pat-1"}),
        )
    });
    let fhir_base = format!("http://localhost:{}/fhir", fhir.port);
    let mut config = config_for(&fhir_base);
    config["issuers"][0]["authorization_server"] = json!({"type": "openid",
        "configuration_url": format!("http://localhost:{}/oidc/.well-known/openid-configuration", auth.port)});
    let app = app_with_config(Some(Response::json(200, &config)));
    let (auth_ref, fhir_ref) = (&auth, &fhir);
    Browser::run("fhir-preconnect", |client| async move {
        let app_origin = app.origin();
        let state = launch_to_authorize(&client, &app_origin, &fhir_base, auth_ref, 0).await?;
        let before = fhir_ref.connections();
        check(before == 0, format!("{before} connections to the FHIR server before the callback"))?;
        client.goto(&format!("{app_origin}/callback?code=C-1&state={state}")).await.map_err(|e| e.to_string())?;
        wait_for_request(fhir_ref, "/fhir/Condition").await?;
        check(
            connected_first.load(Ordering::SeqCst),
            "no connection to the FHIR server was opened while the token request waited",
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_pending_authorization_is_refused_without_a_token_request() {
    let ehr = fake_ehr();
    let fhir_base = format!("http://localhost:{}/fhir", ehr.port);
    let app = app_with_config(Some(Response::json(200, &config_for(&fhir_base))));
    let ehr_ref = &ehr;
    Browser::run("expired-pending", |client| async move {
        let app_origin = app.origin();
        let state = launch_to_authorize(&client, &app_origin, &fhir_base, ehr_ref, 0).await?;
        // Back on the app's origin (same tab, same sessionStorage), age the
        // pending record by an hour: its creation, and the expiry of the
        // token request the page may send before the app starts.
        client.goto(&format!("{app_origin}/")).await.map_err(|e| e.to_string())?;
        let aged = script(
            &client,
            &format!(
                "const k = 'smart-pending:{state}'; const r = JSON.parse(sessionStorage.getItem(k)); \
                 r.created_at -= 3600; r.early.until -= 3600; sessionStorage.setItem(k, JSON.stringify(r)); return true"
            ),
        )
        .await?;
        check(aged == json!(true), "could not age the pending record")?;
        client.goto(&format!("{app_origin}/callback?code=C-9&state={state}")).await.map_err(|e| e.to_string())?;
        wait_for_text(&client, "State mismatch: the sign-in took too long").await?;
        let exchanges = ehr_ref.requests().iter().filter(|r| r.path() == "/auth/token").count();
        check(exchanges == 0, format!("{exchanges} token requests for an expired sign-in"))?;
        let left = script(&client, "return sessionStorage.length").await?;
        check(left == json!(0), "the expired record was left in sessionStorage")
    })
    .await;
}
