//! The app and the local sandbox together in headless Chromium: real
//! launches from the EHR simulator, standalone sign-in through the consent
//! page, and the refusals the sandbox can be asked to provoke.

use std::time::Duration;

use e2e::browser::{check, script, text_of, wait_for_text};
use e2e::{AppWithSandbox, Browser};
use fantoccini::{Client, Locator};
use serde_json::json;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

async fn click(client: &Client, css: &str) -> Result<(), String> {
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .map_err(err)?
        .click()
        .await
        .map_err(err)?;
    Ok(())
}

async fn no_token_left_behind(client: &Client) -> Result<(), String> {
    let stored = script(
        client,
        "return JSON.stringify(Object.assign({}, sessionStorage)) + '|' + JSON.stringify(Object.assign({}, localStorage)) + '|' + document.cookie + '|' + location.href",
    )
    .await?;
    let text = stored.as_str().unwrap_or_default().to_string();
    check(!text.contains("eyJ"), format!("a JWT is in storage, cookies or the URL: {text}"))?;
    check(text.starts_with("{}|{}|"), format!("storage is not empty after sign-in: {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn ehr_launch_inside_the_simulator_iframe_with_descope_claims() {
    let env = AppWithSandbox::start().await;
    let ehr = env.sandbox_url("/ehr");
    Browser::run("ehr-iframe-descope", |client| async move {
        client.goto(&ehr).await.map_err(err)?;
        client.find(Locator::Css("#patient option[value=p005]")).await.map_err(err)?.click().await.map_err(err)?;
        click(&client, "input[name=auto_approve]").await?;
        click(&client, "#launch").await?;
        client.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("iframe#app")).await.map_err(err)?;
        client.clone().enter_frame(0).await.map_err(err)?;
        wait_for_text(&client, "Signed in").await?;
        let patient = text_of(&client, "[data-testid=context-patient]").await?;
        check(patient == "p005 (from the access-token claim)", format!("patient: {patient}"))?;
        // fhirUser is read from the id_token only once its signature has
        // been verified with WebCrypto against the sandbox's JWKS.
        wait_for_text(&client, "Practitioner/pr1 (from the id_token)").await?;
        no_token_left_behind(&client).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ehr_launch_against_a_standard_smart_server_reads_the_token_response() {
    let env = AppWithSandbox::start().await;
    let url = env.launch(json!({"patient": "p006", "base": "smart", "auto_approve": true, "encounter": "current"}));
    Browser::run("ehr-smart", |client| async move {
        client.goto(&url).await.map_err(err)?;
        wait_for_text(&client, "Signed in").await?;
        let patient = text_of(&client, "[data-testid=context-patient]").await?;
        check(patient == "p006 (from the token response)", format!("patient: {patient}"))?;
        wait_for_text(&client, "p006-enc-current (from the token response)").await?;
        no_token_left_behind(&client).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn standalone_sign_in_through_the_consent_page() {
    let env = AppWithSandbox::start().await;
    let app = env.app.origin();
    Browser::run("standalone", |client| async move {
        client.goto(&format!("{app}/")).await.map_err(err)?;
        click(&client, "button.provider").await?;
        client.wait().at_most(Duration::from_secs(15)).for_element(Locator::Css("#approve")).await.map_err(err)?;
        client
            .find(Locator::Css("select[name=patient] option[value=p004]"))
            .await
            .map_err(err)?
            .click()
            .await
            .map_err(err)?;
        click(&client, "#approve").await?;
        wait_for_text(&client, "Signed in").await?;
        let patient = text_of(&client, "[data-testid=context-patient]").await?;
        check(patient == "p004 (from the access-token claim)", format!("patient: {patient}"))?;
        no_token_left_behind(&client).await
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
        ("token-not-json", "a body that is not JSON"),
        ("token-without-access-token", "has no access_token"),
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
            let text = e2e::browser::page_text(&client).await;
            check(!text.contains("Signed in"), format!("signed in despite {expected}"))?;
        }
        Ok(())
    })
    .await;
}
