//! The app and the local sandbox together in headless Chromium: real
//! launches from the EHR simulator, standalone sign-in through the consent
//! page, and the refusals the sandbox can be asked to provoke.

use std::time::Duration;

use e2e::browser::{
    back_to_the_app_frame, cdp, check, click, console_messages, launch_from_the_ehr, script,
    sent_before_the_app_started, sign_in_through_the_popup, standalone_to_the_picker, text_content, wait_for_popup,
    wait_for_text, wait_for_text_in,
};
use e2e::{AppWithSandbox, Browser};
use fantoccini::{Client, Locator};
use serde_json::json;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Waits until a section has left its loading state; returns its text.
async fn settled(client: &Client, css: &str) -> Result<String, String> {
    let started = std::time::Instant::now();
    loop {
        let text = text_content(client, css).await?;
        if !text.contains("Loading") {
            return Ok(text);
        }
        check(started.elapsed() < Duration::from_secs(20), format!("{css} kept loading"))?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// No token in storage, cookies, the URL or the console log, checked
/// against every JWT (`eyJ…`) and every refresh token the sandbox issued in
/// this test; no authorization code in storage, cookies or the URL either
/// (the console may name the callback URL: Chromium prefixes its own
/// warnings with the page address).
async fn no_token_left_behind(client: &Client, env: &AppWithSandbox) -> Result<(), String> {
    let stored = script(
        client,
        "return JSON.stringify(Object.assign({}, sessionStorage)) + '|' + JSON.stringify(Object.assign({}, localStorage)) + '|' + document.cookie + '|' + location.href",
    )
    .await?;
    let stored = stored.as_str().unwrap_or_default().to_string();
    check(stored.starts_with("{}|{}|"), format!("storage is not empty after sign-in: {stored}"))?;
    let console = console_messages(client).await?.join("\n");
    let (refresh_tokens, codes): (Vec<String>, Vec<String>) = {
        let registry = env.sandbox.sandbox.registry();
        (registry.refresh.keys().cloned().collect(), registry.codes.keys().cloned().collect())
    };
    check(!codes.is_empty(), "the sandbox issued no code to look for")?;
    for (place, haystack) in [("storage, cookies or the URL", &stored), ("the console", &console)] {
        check(!haystack.contains("eyJ"), format!("a JWT is in {place}: {haystack}"))?;
        if let Some(token) = refresh_tokens.iter().find(|t| haystack.contains(t.as_str())) {
            return Err(format!("the refresh token {token} is in {place}: {haystack}"));
        }
    }
    if let Some(code) = codes.iter().find(|c| stored.contains(c.as_str())) {
        return Err(format!("the code {code} is in storage, cookies or the URL: {stored}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ehr_launch_inside_the_simulator_iframe_signs_in_through_a_popup() {
    let env = AppWithSandbox::start().await;
    let ehr = env.sandbox_url("/ehr");
    let env_ref = &env;
    Browser::run("ehr-iframe-descope", |client| async move {
        let ehr_window = launch_from_the_ehr(&client, &ehr, "p005", &["deny_framing"]).await?;
        // Framed, so the sign-in runs in a popup, started by the user's click.
        sign_in_through_the_popup(&client, ehr_window).await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Thị Ánh Nguyễn").await?;
        check(client.windows().await.map_err(err)?.len() == 1, "the sign-in window did not close")?;
        wait_for_text_in(&client, "[data-testid=patient-identifier]", "MRN ").await?;
        wait_for_text_in(&client, "[data-testid=patient-born]", " y)").await?;
        for section in ["#section-conditions", "#section-vital-signs", "#section-encounters"] {
            let text = settled(&client, section).await?;
            check(!text.contains("FHIR") && !text.contains("Not covered"), format!("{section}: {text}"))?;
        }
        let duplicate_ids = script(&client, "const ids = [...document.querySelectorAll('[id]')].map(e => e.id); return ids.filter((id, i) => ids.indexOf(id) !== i)").await?;
        check(duplicate_ids == json!([]), format!("duplicate element ids break aria-labelledby: {duplicate_ids}"))?;
        // Vital signs come with a trend line and a text alternative.
        let trends = script(&client, "return [...document.querySelectorAll('#section-vital-signs .trend[role=img]')].map(s => [s.getAttribute('aria-label'), s.textContent])").await?;
        let trends = trends.as_array().cloned().unwrap_or_default();
        check(trends.len() >= 3, format!("trend lines: {trends:?}"))?;
        for trend in &trends {
            let (label, line) = (trend[0].as_str().unwrap_or_default(), trend[1].as_str().unwrap_or_default());
            let count: usize = label.split(": ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
            check(label.contains(" readings, from ") && count >= 2, format!("trend label: {label:?}"))?;
            check(line.chars().count() == count && line.chars().all(|c| ('▁'..='█').contains(&c)), format!("trend line {line:?} for {label:?}"))?;
        }
        let patient = text_content(&client, "[data-testid=context-patient]").await?;
        check(patient == "p005 (from the access-token claim)", format!("patient: {patient}"))?;
        // fhirUser is read from the id_token only once its signature has
        // been verified with WebCrypto against the sandbox's JWKS.
        wait_for_text_in(&client, "[data-testid=diagnostics]", "Practitioner/pr1 (from the id_token)").await?;
        wait_for_text_in(&client, "[data-testid=aud-check]", "yes").await?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ehr_launch_inside_the_iframe_redirects_when_framing_is_allowed() {
    // An issuer configured for redirects signs in inside the frame itself.
    let env = AppWithSandbox::start_with(|config| {
        config["issuers"][0]["authorization_mode"] = json!("redirect");
    })
    .await;
    let ehr = env.sandbox_url("/ehr");
    let env_ref = &env;
    Browser::run("ehr-iframe-redirect", |client| async move {
        launch_from_the_ehr(&client, &ehr, "p007", &[]).await?;
        // The consent page shows inside the frame.
        click(&client, "#approve").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Jürgen Müller").await?;
        check(client.windows().await.map_err(err)?.len() == 1, "a popup opened in redirect mode")?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_and_closed_sign_in_windows_are_explained_and_other_messages_ignored() {
    let env = AppWithSandbox::start().await;
    let ehr = env.sandbox_url("/ehr");
    let env_ref = &env;
    Browser::run("popup-blocked-closed", |client| async move {
        let ehr_window = launch_from_the_ehr(&client, &ehr, "p009", &["deny_framing"]).await?;

        // A pop-up blocker makes window.open return null.
        script(&client, "window.__open = window.open; window.open = () => null; return 1").await?;
        click(&client, "button.sign-in").await?;
        wait_for_text(&client, "The sign-in window was blocked").await?;
        wait_for_text(&client, "Allow pop-ups").await?;
        script(&client, "window.open = window.__open; return 1").await?;

        // Try again; the user closes the sign-in window on the consent page.
        click(&client, "button.try-again").await?;
        let popup = wait_for_popup(&client, &ehr_window).await?;
        client.switch_to_window(popup).await.map_err(err)?;
        client.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#approve")).await.map_err(err)?;
        client.close_window().await.map_err(err)?;
        back_to_the_app_frame(&client, ehr_window.clone()).await?;
        wait_for_text(&client, "The sign-in window was closed").await?;

        // Try again. While the sign-in window is open, the EHR page (another
        // origin) posts a forged hand-back into the frame: it is ignored.
        click(&client, "button.try-again").await?;
        let popup = wait_for_popup(&client, &ehr_window).await?;
        client.switch_to_window(popup.clone()).await.map_err(err)?;
        client.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#approve")).await.map_err(err)?;
        client.switch_to_window(ehr_window.clone()).await.map_err(err)?;
        script(
            &client,
            "document.querySelector('iframe#app').contentWindow.postMessage('smart-sign-in-callback:?code=forged&state=forged', '*'); return 1",
        )
        .await?;
        client.clone().enter_frame(0).await.map_err(err)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        wait_for_text(&client, "in the window that opened").await?;
        let text = e2e::browser::page_text(&client).await;
        check(!text.contains("State mismatch") && !text.contains("went wrong"), format!("a forged message was taken: {text}"))?;
        client.switch_to_window(popup).await.map_err(err)?;
        click(&client, "#approve").await?;
        back_to_the_app_frame(&client, ehr_window).await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Amélie Lefèvre").await?;
        // Three sign-in attempts from one page, one discovery request, sent
        // before the wasm started (calls.js, from config.json's Descope
        // project), and the one the app read.
        let discoveries = discovery_requests(env_ref);
        check(discoveries == 1, format!("{discoveries} discovery requests from one page"))?;
        let sent = sent_before_the_app_started(&client, "openid-configuration").await?;
        check(
            sent == json!([["/v1/apps/P2SANDBOX/.well-known/openid-configuration", true]]),
            format!("[discovery request, sent before the wasm started]: {sent}"),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standalone_sign_in_can_run_in_a_popup() {
    let env = AppWithSandbox::start_with(|config| {
        config["issuers"][0]["authorization_mode"] = json!("popup");
    })
    .await;
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("standalone-popup", |client| async move {
        client.goto(&format!("{app}/")).await.map_err(err)?;
        let main = client.window().await.map_err(err)?;
        click(&client, "button.provider").await?;
        let popup = wait_for_popup(&client, &main).await?;
        client.switch_to_window(popup).await.map_err(err)?;
        click(&client, "select[name=patient] option[value=p018]").await?;
        click(&client, "#approve").await?;
        client.switch_to_window(main).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=context-patient]", "p018").await?;
        let here = client.current_url().await.map_err(err)?;
        check(here.path() == "/summary", format!("address bar: {here}"))?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

/// Whether this page's token request left before the wasm started (calls.js
/// sent it from the pending record, and the app was handed its answer):
/// the callback named the issuer the sign-in went to (RFC 9207).
async fn token_request_sent_early(client: &Client) -> Result<(), String> {
    let sent = sent_before_the_app_started(client, "/token").await?;
    check(
        sent == json!([["/oauth2/v1/apps/token", true]]),
        format!("[token request, sent before the wasm started]: {sent}"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ehr_launch_against_a_standard_smart_server_reads_the_token_response() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p006", "base": "smart", "auto_approve": true, "encounter": "current"}));
    let env_ref = &env;
    Browser::run("ehr-smart", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Siobhán Ó Briain").await?;
        let patient = text_content(&client, "[data-testid=context-patient]").await?;
        check(patient == "p006 (from the token response)", format!("patient: {patient}"))?;
        wait_for_text_in(&client, "[data-testid=diagnostics]", "p006-enc-current (from the token response)").await?;
        token_request_sent_early(&client).await?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_sign_in_through_the_consent_page() {
    let env = AppWithSandbox::start().await;
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("standalone", |client| async move {
        client.goto(&format!("{app}/")).await.map_err(err)?;
        click(&client, "button.provider").await?;
        client.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#approve")).await.map_err(err)?;
        click(&client, "select[name=patient] option[value=p004]").await?;
        click(&client, "#approve").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Søren Kierkegård").await?;
        let patient = text_content(&client, "[data-testid=context-patient]").await?;
        check(patient == "p004 (from the access-token claim)", format!("patient: {patient}"))?;
        // Against the Descope-shaped server too, whose answers name its issuer.
        token_request_sent_early(&client).await?;
        check(token_requests(env_ref) == 1, "one token request for one sign-in")?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_consent_is_explained() {
    let env = AppWithSandbox::start().await;
    let app = env.app.origin();
    Browser::run("denied", |client| async move {
        client.goto(&format!("{app}/")).await.map_err(err)?;
        click(&client, "button.provider").await?;
        click(&client, "#deny").await?;
        wait_for_text(&client, "Access was not granted").await?;
        wait_for_text(&client, "the user denied access").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_token_and_id_token_failures_are_refused() {
    let env = AppWithSandbox::start().await;
    let cases = [
        ("id-token-bad-signature", "its signature does not verify"),
        ("id-token-wrong-audience", "not for this app's client id"),
        ("id-token-wrong-nonce", "its nonce is not the one this app sent"),
        ("id-token-expired", "it expired at"),
        ("token-invalid-grant", "invalid_grant"),
        ("token-not-json", "bytes of text/html that are not JSON, beginning \"<html><body><h1>502 Bad Gateway"),
        ("token-without-access-token", "has no access_token"),
        ("confidential-client", "registered as a confidential client"),
    ];
    let urls: Vec<(String, &str)> = cases
        .iter()
        .map(|(inject, expected)| {
            (env.launch(json!({"patient": "p007", "auto_approve": true, "inject": inject})), *expected)
        })
        .collect();
    Browser::run("injected-failures", |client| async move {
        for (url, expected) in urls {
            client.goto(&url).await.map_err(err)?;
            wait_for_text(&client, expected).await?;
            let summary = script(&client, "return document.querySelector('[data-testid=summary]') === null").await?;
            check(summary == json!(true), format!("the summary was shown despite {expected}"))?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_name_with_markup_is_rendered_as_text() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p027", "auto_approve": true}));
    Browser::run("markup-name", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "<img src=x onerror=alert(1)>Robert <b>Tables</b>")
            .await?;
        let elements = script(&client, "return document.querySelectorAll('main img, main b').length").await?;
        check(elements == json!(0), format!("markup from the name became {elements} elements"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downgraded_grant_is_explained_per_section() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p007", "auto_approve": true, "inject": "scope-downgrade"}));
    Browser::run("scope-downgrade", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "#section-medications", "Not covered by the granted scopes").await?;
        wait_for_text_in(&client, "#section-vital-signs", "Not covered by the granted scopes").await?;
        // Condition and Patient were granted: the banner and conditions load.
        wait_for_text_in(&client, "[data-testid=patient-name]", "Jürgen Müller").await?;
        let conditions = text_content(&client, "#section-conditions").await?;
        check(!conditions.contains("Not covered"), format!("conditions: {conditions}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_from_an_aud_mismatch_is_named() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p009", "auto_approve": true, "inject": "audience-mismatch"}));
    let env_ref = &env;
    Browser::run("aud-mismatch", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "FHIR API returns 401").await?;
        wait_for_text_in(&client, "#section-conditions", "does not match the FHIR server").await?;
        wait_for_text_in(&client, "[data-testid=aud-check]", "NO").await?;
        // One refresh was tried (the token might merely have expired), and
        // only one: a second would mean the summary refetched in a loop.
        let refreshes = env_ref
            .sandbox
            .sandbox
            .registry()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && r.target == "/oauth2/v1/apps/token")
            .count();
        check(refreshes == 2, format!("{refreshes} token requests: expected the code exchange and one refresh"))?;
        // Descope's default audience, the project id (no aud in the JWT template).
        client
            .goto(&env_ref.launch(json!({"patient": "p009", "auto_approve": true, "inject": "audience-project-id"})))
            .await
            .map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "\"P2SANDBOX\", the Descope project id").await?;
        wait_for_text_in(&client, "#section-conditions", "/fhir\" to the JWT template").await?;
        wait_for_text_in(&client, "[data-testid=aud-check]", "the Descope project id").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn another_servers_metadata_at_the_inbound_apps_address_is_refused_before_any_redirect() {
    let env = AppWithSandbox::start().await;
    // As a proxy or custom domain that routes to the project's federated
    // OIDC provider would: its issuer is not the Inbound App's.
    env.control("/sandbox/faults", &json!({"federated_metadata": true}));
    let url = env.launch(json!({"patient": "p012", "auto_approve": true}));
    let env_ref = &env;
    Browser::run("federated-metadata", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text(&client, "The authorization server's settings belong to another server").await?;
        wait_for_text(&client, "federated OIDC provider").await?;
        wait_for_text(&client, "/v1/apps/P2SANDBOX").await?;
        let sent = requests(env_ref, |r| r.target.contains("/authorize"));
        check(sent == 0, format!("{sent} authorize requests: the sign-in must not start"))
    })
    .await;
}

/// How many requests the sandbox recorded that `matches`.
fn requests(env: &AppWithSandbox, matches: impl Fn(&smart_sandbox::state::Recorded) -> bool) -> usize {
    env.sandbox.sandbox.registry().requests.iter().filter(|r| matches(r)).count()
}

fn token_requests(env: &AppWithSandbox) -> usize {
    requests(env, |r| r.method == "POST" && r.target == "/oauth2/v1/apps/token")
}

fn discovery_requests(env: &AppWithSandbox) -> usize {
    requests(env, |r| r.target.ends_with("/.well-known/openid-configuration"))
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_keeps_a_short_lived_session_alive() {
    let env = AppWithSandbox::start().await;
    // 5-second tokens (the sandbox's shortest) are refreshed when a fifth
    // of their life remains, but never sooner than 5 seconds after the
    // last token came: about 5 and 10 seconds after sign-in. The
    // timer's rules (when, how often, rotation, failure) are unit-tested
    // with a fake clock (src/session/tests.rs); this shows the browser's
    // own timer doing it against a server that revokes a reused token.
    let url = env.launch(json!({"patient": "p010", "auto_approve": true, "token_lifetime": 5}));
    let env_ref = &env;
    Browser::run("refresh", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Ngozi Okonkwo").await?;
        let started = std::time::Instant::now();
        while token_requests(env_ref) < 3 {
            check(
                started.elapsed() < Duration::from_secs(15),
                format!(
                    "{} token requests 15 s after sign-in with 5 s tokens: the session was not refreshed",
                    token_requests(env_ref)
                ),
            )?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let exchanges = token_requests(env_ref);
        check(exchanges == 3, format!("{exchanges} token requests: refreshing too often"))?;
        // The second refresh presented the rotated token: a reused one
        // would have revoked the family and ended the session.
        let revoked = !env_ref.sandbox.sandbox.registry().revoked_families.is_empty();
        check(!revoked, "a refresh token was reused, and the sandbox revoked the session")?;
        let summary = script(&client, "return document.querySelector('[data-testid=summary]') !== null").await?;
        check(summary == json!(true), "the summary is gone")?;
        let ended = script(&client, "return document.querySelector('[data-testid=signed-out]') === null").await?;
        check(ended == json!(true), "the session ended")?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_revokes_and_leaves_nothing_behind() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p011", "auto_approve": true}));
    let env_ref = &env;
    Browser::run("sign-out", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Mateus Conceição").await?;
        click(&client, "button.sign-out").await?;
        wait_for_text(&client, "You have signed out").await?;
        wait_for_text(&client, "revoked at the server").await?;
        wait_for_text(&client, "open the app again from the patient's chart").await?;
        let (revokes, issued, all_revoked) = {
            let registry = env_ref.sandbox.sandbox.registry();
            let revokes = registry.requests.iter().filter(|r| r.target == "/oauth2/v1/apps/revoke").count();
            let all_revoked = registry.refresh.values().all(|r| registry.revoked_families.contains(&r.family));
            (revokes, registry.refresh.len(), all_revoked)
        };
        check(revokes == 2, format!("{revokes} revocation requests, not one per token"))?;
        check(issued > 0 && all_revoked, "a refresh token still works after sign-out")?;
        let names = script(&client, "return document.querySelector('[data-testid=patient-banner]') === null").await?;
        check(names == json!(true), "the patient banner is still shown after sign-out")?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_ends_the_session_and_says_how_to_come_back() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p012", "auto_approve": true}));
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("reload", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Aiyana Whitehorse").await?;
        let here = client.current_url().await.map_err(err)?;
        check(here.path() == "/summary" && here.query() == Some("launch=ehr"), format!("address bar: {here}"))?;
        client.refresh().await.map_err(err)?;
        wait_for_text(&client, "Your session has ended").await?;
        wait_for_text(&client, "open the app again from the patient's chart").await?;
        // Standalone: the way back is signing in again.
        client.goto(&format!("{app}/summary?provider=sandbox-descope")).await.map_err(err)?;
        wait_for_text(&client, "Sign in again").await?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

async fn root_property(client: &Client, name: &str) -> Result<String, String> {
    let js = format!("return getComputedStyle(document.documentElement).getPropertyValue('{name}').trim()");
    Ok(script(client, &js).await?.as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ehr_style_is_applied_after_validation() {
    let env = AppWithSandbox::start().await;
    let good = env.launch(json!({"patient": "p013", "auto_approve": true}));
    let malformed = env.launch(json!({"patient": "p013", "auto_approve": true, "inject": "style-malformed"}));
    let missing = env.launch(json!({"patient": "p013", "auto_approve": true, "inject": "style-unreachable"}));
    Browser::run("style", |client| async move {
        client.goto(&good).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=style-note]", "10 style values applied").await?;
        let size = root_property(&client, "--dim-font-size").await?;
        check(size == "13px", format!("--dim-font-size is {size:?}"))?;
        client.goto(&malformed).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=style-note]", "refused").await?;
        let background = root_property(&client, "--color-background").await?;
        check(background == "#f7f8fa", format!("a refused value was applied: --color-background is {background:?}"))?;
        client.goto(&missing).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=style-note]", "HTTP 404").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Dmitri Volkov").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_patient_is_diagnosed() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p014", "auto_approve": true, "inject": "missing-patient"}));
    Browser::run("missing-patient", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text(&client, "Missing patient claim in token").await?;
        wait_for_text(&client, "JWT template").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fhir_faults_are_survived_with_clear_messages() {
    let env = AppWithSandbox::start().await;
    let busy = env.launch(json!({"patient": "p015", "auto_approve": true}));
    let failing = env.launch(json!({"patient": "p015", "auto_approve": true}));
    let env_ref = &env;
    Browser::run("fhir-faults", |client| async move {
        // Two 429s with Retry-After: 1 — retried, then everything loads.
        env_ref.control("/sandbox/faults", &json!({"rate_limits": 2}));
        client.goto(&busy).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Hiroshi Tanaka").await?;
        for section in ["#section-conditions", "#section-medications", "#section-encounters"] {
            let text = settled(&client, section).await?;
            check(!text.contains("busy") && !text.contains("failed"), format!("{section}: {text}"))?;
        }
        let throttled = env_ref.sandbox.sandbox.registry().faults.rate_limits;
        check(throttled == 0, "the 429s were not consumed")?;
        // Every FHIR answer a 500, then malformed JSON: each section says so; the app stays usable.
        env_ref.control("/sandbox/faults", &json!({"server_errors": 1000}));
        client.goto(&failing).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "The FHIR server failed").await?;
        wait_for_text_in(&client, "[data-testid=patient-banner]", "Patient details unavailable").await?;
        env_ref.control("/sandbox/faults", &json!({"malformed": 1000}));
        let again = env_ref.launch(json!({"patient": "p015", "auto_approve": true}));
        client.goto(&again).await.map_err(err)?;
        wait_for_text_in(&client, "#section-vital-signs", "unreadable").await?;
        click(&client, "button.sign-out").await?;
        wait_for_text(&client, "You have signed out").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clinician_standalone_sign_in_picks_the_patient() {
    let env = AppWithSandbox::start_with(|config| {
        config["issuers"][0]["standalone_scopes"] = json!("openid fhirUser user/*.rs");
    })
    .await;
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("patient-picker", |client| async move {
        standalone_to_the_picker(&client, &app, "kierk", "Søren Kierkegård").await?;
        click(&client, "button.pick").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Søren Kierkegård").await?;
        wait_for_text_in(&client, "[data-testid=context-patient]", "p004 (from the patient picker)").await?;
        let conditions = settled(&client, "#section-conditions").await?;
        check(
            !conditions.contains("Not covered") && !conditions.contains("FHIR"),
            format!("conditions: {conditions}"),
        )?;
        no_token_left_behind(&client, env_ref).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_follows_next_links_but_never_to_another_host() {
    let env = AppWithSandbox::start().await;
    // A patient with several conditions, read one per page.
    let (patient, conditions) = {
        let store = &env.sandbox.sandbox.store;
        store
            .patient_ids()
            .into_iter()
            .map(|id| {
                let n = store
                    .all("Condition")
                    .iter()
                    .filter(|c| c["subject"]["reference"] == format!("Patient/{id}"))
                    // Entered in error: not shown (not part of the record).
                    .filter(|c| c["verificationStatus"]["coding"][0]["code"] != "entered-in-error")
                    .count();
                (id, n)
            })
            .find(|(_, n)| (3..=5).contains(n))
            .expect("a patient with 3 to 5 conditions")
    };
    let same_host = env.launch(json!({"patient": patient, "auto_approve": true}));
    let foreign = env.launch(json!({"patient": patient, "auto_approve": true}));
    let env_ref = &env;
    Browser::run("paging", |client| async move {
        env_ref.control("/sandbox/faults", &json!({"page_size": 1}));
        client.goto(&same_host).await.map_err(err)?;
        settled(&client, "#section-conditions").await?;
        let rows = script(&client, "return document.querySelectorAll('#section-conditions li.row').length").await?;
        check(rows == json!(conditions), format!("{rows} condition rows from {conditions} one-entry pages"))?;
        env_ref.control("/sandbox/faults", &json!({"page_size": 1, "foreign_next_link": true}));
        client.goto(&foreign).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "the access token was not sent there").await?;
        let rows = script(&client, "return document.querySelectorAll('#section-conditions li.row').length").await?;
        check(rows == json!(1), format!("{rows} rows: only the first page, from the FHIR server itself"))?;
        let registry = env_ref.sandbox.sandbox.registry();
        let to_foreign: Vec<String> = registry
            .requests
            .iter()
            .filter(|r| r.host == "foreign")
            .map(|r| format!("{} auth={}", r.target, r.authorization))
            .collect();
        check(to_foreign.is_empty(), format!("requests reached the foreign host: {to_foreign:?}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scope_the_server_does_not_allow_comes_back_as_invalid_scope() {
    let env = AppWithSandbox::start_with(|config| {
        config["issuers"][0]["standalone_scopes"] = json!("launch/patient patient/*.rs system/*.rs");
    })
    .await;
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("invalid-scope", |client| async move {
        client.goto(&format!("{app}/")).await.map_err(err)?;
        click(&client, "button.provider").await?;
        wait_for_text(&client, "Scope not granted").await?;
        wait_for_text(&client, "system/*.rs").await?;
        check(token_requests(env_ref) == 0, "a token request was made after invalid_scope")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_grant_is_explained_everywhere() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p016", "auto_approve": true, "inject": "empty-grant"}));
    Browser::run("empty-grant", |client| async move {
        client.goto(&url).await.map_err(err)?;
        for section in [
            "#section-conditions",
            "#section-medications",
            "#section-allergies",
            "#section-vital-signs",
            "#section-labs",
            "#section-encounters",
        ] {
            wait_for_text_in(&client, section, "Not covered by the granted scopes").await?;
        }
        // The banner's read is refused by the server (403), and says so.
        wait_for_text_in(&client, "[data-testid=patient-banner]", "Not permitted").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_responses_show_progress_then_the_data() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p017", "auto_approve": true}));
    let env_ref = &env;
    Browser::run("slow", |client| async move {
        // Each section's read waits for a preflight and a GET: 1.2 s of
        // "Loading", a dozen polls of the page.
        env_ref.control("/sandbox/faults", &json!({"latency_ms": 600}));
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "Loading").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Chloé Dubois-Martin").await?;
        let text = settled(&client, "#section-conditions").await?;
        check(!text.contains("FHIR") && !text.contains("Not covered"), format!("conditions: {text}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_and_missing_records_are_explained() {
    let env = AppWithSandbox::start().await;
    let env_ref = &env;
    Browser::run("fhir-403-404", |client| async move {
        env_ref.control("/sandbox/faults", &json!({"forbidden": 1000}));
        client.goto(&env_ref.launch(json!({"patient": "p016", "auto_approve": true}))).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "Not permitted").await?;
        wait_for_text_in(&client, "#section-conditions", "injected: this token may not see this record").await?;
        wait_for_text_in(&client, "[data-testid=patient-banner]", "Patient details unavailable").await?;
        env_ref.control("/sandbox/faults", &json!({"not_found": 1000}));
        client.goto(&env_ref.launch(json!({"patient": "p016", "auto_approve": true}))).await.map_err(err)?;
        wait_for_text_in(&client, "#section-encounters", "Not found").await?;
        wait_for_text_in(&client, "#section-encounters", "does not exist on the FHIR server (404)").await?;
        // Two launches, one discovery request: the document is public and
        // the server lets the browser cache it.
        let discoveries = discovery_requests(env_ref);
        check(discoveries == 1, format!("{discoveries} discovery requests for two launches"))?;
        // The app stays usable: signing out still works.
        click(&client, "button.sign-out").await?;
        wait_for_text(&client, "You have signed out").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_back_button_cannot_replay_a_sign_in() {
    let env = AppWithSandbox::start().await;
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("back-button", |client| async move {
        client.goto(&format!("{app}/")).await.map_err(err)?;
        click(&client, "button.provider").await?;
        click(&client, "select[name=patient] option[value=p017]").await?;
        click(&client, "#approve").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Chloé Dubois-Martin").await?;
        check(token_requests(env_ref) == 1, "one token request for one sign-in")?;
        // Back to the consent page, approve again: the authorization server
        // issues a new code for the old state, which the app has used up.
        client.back().await.map_err(err)?;
        click(&client, "select[name=patient] option[value=p017]").await?;
        click(&client, "#approve").await?;
        wait_for_text(&client, "State mismatch").await?;
        check(token_requests(env_ref) == 1, "the replayed state led to a token request")?;
        let here = client.current_url().await.map_err(err)?;
        check(here.query().is_none_or(|q| !q.contains("code=")), format!("the code stayed in the address bar: {here}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_reads_on_a_phone_and_at_200_percent_zoom() {
    let env = AppWithSandbox::start().await;
    let env_ref = &env;
    Browser::run("small-screens", |client| async move {
        // A phone (375 CSS px), and a 1200 px window at 200% zoom (600 CSS px).
        for (width, height) in [(375, 740), (600, 450)] {
            client.set_window_size(width, height).await.map_err(err)?;
            let url = env_ref.launch(json!({"patient": "p002", "auto_approve": true}));
            client.goto(&url).await.map_err(err)?;
            wait_for_text_in(&client, "[data-testid=patient-name]", "José Álvarez García").await?;
            for section in ["#section-vital-signs", "#section-labs", "#section-encounters"] {
                settled(&client, section).await?;
            }
            let overflow = script(
                &client,
                "return [innerWidth, document.documentElement.scrollWidth, [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.className || e.tagName).slice(0, 5)]",
            )
            .await?;
            let inner = overflow[0].as_f64().unwrap_or_default();
            check(inner <= width as f64, format!("the window is {inner} CSS px wide, not {width}"))?;
            check(
                overflow[0].as_f64() >= overflow[1].as_f64() && overflow[2] == json!([]),
                format!("at {width}×{height} the page scrolls sideways: {overflow}"),
            )?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_the_ehr_opened_is_not_taken_for_a_sign_in_popup() {
    let env = AppWithSandbox::start().await;
    let (ehr, app) = (env.sandbox_url("/ehr"), env.app.origin());
    Browser::run("ehr-opened-window", |client| async move {
        // An EHR on another origin opens the app in a new window with a
        // stale callback: the app explains it instead of handing it back.
        client.goto(&ehr).await.map_err(err)?;
        let ehr_window = client.window().await.map_err(err)?;
        let open = format!("window.open('{app}/callback?code=stale&state=stale', 'app'); return 1");
        script(&client, &open).await?;
        let opened = wait_for_popup(&client, &ehr_window).await?;
        client.switch_to_window(opened).await.map_err(err)?;
        wait_for_text(&client, "State mismatch").await?;
        check(client.windows().await.map_err(err)?.len() == 2, "the app's window closed itself")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_does_not_answer_in_time_is_named() {
    let env = AppWithSandbox::start_with(|config| config["request_timeout_seconds"] = json!(2)).await;
    let url = env.launch(json!({"patient": "p019", "auto_approve": true}));
    env.control("/sandbox/faults", &json!({"latency_ms": 3000}));
    Browser::run("request-timeout", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text(&client, "did not answer within 2 seconds").await?;
        wait_for_text(&client, "openid-configuration").await
    })
    .await;
}

/// What the sandbox holds of a DPoP sign-in: every access and refresh token
/// bound to a key, and the proofs its FHIR server accepted (with tokens).
fn dpop_record(env: &AppWithSandbox) -> (bool, Vec<(String, String)>, String) {
    let registry = env.sandbox.sandbox.registry();
    let bound = !registry.access.is_empty()
        && registry.access.values().all(|a| a.jkt.is_some())
        && registry.refresh.values().all(|r| r.jkt.is_some());
    (bound, registry.accepted_proofs.clone(), registry.rs_nonce.clone())
}

/// No key material where a page could keep it: storage is checked by
/// `no_token_left_behind`; IndexedDB (where a CryptoKey could be put) must
/// hold no database.
async fn no_key_kept(client: &Client) -> Result<(), String> {
    let databases = client
        .execute_async(
            "const done = arguments[0]; indexedDB.databases().then(d => done(d.length), () => done(-1));",
            vec![],
        )
        .await
        .map_err(err)?;
    check(databases == json!(0), format!("IndexedDB databases: {databases}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_through_a_redirect_binds_the_tokens_answers_nonces_refreshes_and_a_stolen_proof_is_refused() {
    let env = AppWithSandbox::start().await;
    // DPoP offered in the metadata, nonces wanted by both servers (RFC 9449 §8, §9).
    env.control("/sandbox/faults", &json!({"dpop": "offered", "dpop_nonce": true}));
    let url = env.launch(json!({"patient": "p010", "auto_approve": true, "token_lifetime": 5}));
    let env_ref = &env;
    Browser::run("dpop-redirect", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Ngozi Okonkwo").await?;
        for section in ["#section-conditions", "#section-vital-signs"] {
            let text = settled(&client, section).await?;
            check(!text.contains("FHIR") && !text.contains("DPoP"), format!("{section}: {text}"))?;
        }
        wait_for_text_in(&client, "[data-testid=dpop-bound]", "yes").await?;
        // The code exchange: challenged for the nonce, then granted; then a
        // refresh with the rotated refresh token (5-second tokens).
        let started = std::time::Instant::now();
        while token_requests(env_ref) < 3 {
            check(started.elapsed() < Duration::from_secs(15), format!("{} token requests", token_requests(env_ref)))?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (bound, accepted, rs_nonce) = dpop_record(env_ref);
        check(bound, "a token was issued without a key binding: the app's proof was not used")?;
        check(env_ref.sandbox.sandbox.registry().revoked_families.is_empty(), "a refresh token was reused")?;
        // The FHIR server's nonce reached the proofs: the app answered its challenge.
        let (proof, token) = accepted.last().cloned().ok_or("the FHIR server accepted no proof")?;
        let claims = smart_core::jwt::decode(&proof).map_err(|e| format!("{e:?}"))?.claims;
        check(
            claims.get("nonce").and_then(|n| n.as_str()) == Some(rs_nonce.as_str()),
            format!("proof claims: {claims:?}"),
        )?;
        // A thief with the token and a proof the app sent gets nothing.
        let target = format!("{}{}", env_ref.sandbox.sandbox.origin, "/fhir/Patient/p010");
        let replayed = smart_test_support::http(
            "GET",
            &target.replace("localhost", "127.0.0.1"),
            &[("Authorization", &format!("DPoP {token}")), ("DPoP", &proof), ("Accept", "application/fhir+json")],
            "",
        );
        check(replayed.status == 401, format!("a replayed proof got {}", replayed.status))?;
        let as_bearer = smart_test_support::http(
            "GET",
            &target.replace("localhost", "127.0.0.1"),
            &[("Authorization", &format!("Bearer {token}")), ("Accept", "application/fhir+json")],
            "",
        );
        check(as_bearer.status == 401, format!("the bound token as a bearer token got {}", as_bearer.status))?;
        let ended = script(&client, "return document.querySelector('[data-testid=signed-out]') === null").await?;
        check(ended == json!(true), "the session ended")?;
        no_key_kept(&client).await?;
        no_token_left_behind(&client, env_ref).await?;
        // A browser whose WebCrypto makes no ECDSA key: said so, no token request.
        cdp(
            &client,
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "crypto.subtle.generateKey = () => Promise.reject(new DOMException('no', 'NotSupportedError'));"}),
        )
        .await?;
        let before = token_requests(env_ref);
        client.goto(&env_ref.launch(json!({"patient": "p010", "auto_approve": true}))).await.map_err(err)?;
        wait_for_text(&client, "This browser cannot make a DPoP key").await?;
        let after = token_requests(env_ref);
        check(after == before, format!("{} token requests were sent without the key", after - before))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_through_the_ehrs_popup_names_its_key_and_a_server_that_hides_its_requirement_is_diagnosed() {
    let env = AppWithSandbox::start().await;
    let ehr = env.sandbox_url("/ehr");
    let env_ref = &env;
    Browser::run("dpop-popup", |client| async move {
        // The EHR simulator's own switch: DPoP required, nonces on.
        let switches = ["deny_framing", "dpop_nonce", "dpop=required"];
        let ehr_window = launch_from_the_ehr(&client, &ehr, "p005", &switches).await?;
        sign_in_through_the_popup(&client, ehr_window).await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Thị Ánh Nguyễn").await?;
        let text = settled(&client, "#section-conditions").await?;
        check(!text.contains("FHIR") && !text.contains("DPoP"), format!("conditions: {text}"))?;
        wait_for_text_in(&client, "[data-testid=dpop-bound]", "yes").await?;
        // The popup's key existed before authorize: the code was bound to it (dpop_jkt).
        let codes_bound = {
            let registry = env_ref.sandbox.sandbox.registry();
            !registry.codes.is_empty() && registry.codes.values().all(|c| c.dpop_jkt.is_some())
        };
        check(codes_bound, "the authorize request named no dpop_jkt")?;
        check(dpop_record(env_ref).0, "a token was issued without a key binding")?;
        no_key_kept(&client).await?;
        no_token_left_behind(&client, env_ref).await?;
        // A server that requires DPoP without listing it in its metadata:
        // "auto" sends no proof, and the refusal says what to set. (The
        // SMART base: this browser has the Descope metadata in its cache.)
        env_ref.control("/sandbox/faults", &json!({"dpop": "required-unadvertised"}));
        let launch = env_ref.launch(json!({"patient": "p007", "auto_approve": true, "base": "smart"}));
        client.goto(&launch).await.map_err(err)?;
        wait_for_text(&client, "requires DPoP-bound tokens").await?;
        wait_for_text(&client, "Set \"dpop\": \"required\"").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_from_the_token_endpoint_and_the_fhir_server_are_not_followed() {
    let env = AppWithSandbox::start().await;
    let env_ref = &env;
    Browser::run("redirects", |client| async move {
        // A token endpoint that answers 307 elsewhere would get the code and
        // verifier sent on with it (RFC 9700 §4.11).
        env_ref.control("/sandbox/faults", &json!({"redirect_token_endpoint": true}));
        client.goto(&env_ref.launch(json!({"patient": "p010", "auto_approve": true}))).await.map_err(err)?;
        wait_for_text(&client, "oauth2/v1/apps/token answered with a redirect").await?;
        // A FHIR server that does, with the access token.
        env_ref.control("/sandbox/faults", &json!({"redirect_fhir": true}));
        client.goto(&env_ref.launch(json!({"patient": "p010", "auto_approve": true}))).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "answered with a redirect").await?;
        let foreign = requests(env_ref, |r| r.host == "foreign");
        check(foreign == 0, format!("{foreign} requests reached the host the redirects named"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_larger_than_any_fhir_page_is_refused_unread() {
    let env = AppWithSandbox::start().await;
    env.control("/sandbox/faults", &json!({"huge_fhir": true}));
    let url = env.launch(json!({"patient": "p010", "auto_approve": true}));
    Browser::run("huge-answer", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "more than 16 MB").await
    })
    .await;
}
