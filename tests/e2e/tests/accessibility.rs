//! axe-core over every state of the summary a clinician or patient can
//! see: loading, flagged values with ranges, a coverage note, sections the
//! grant does not cover, a failing server, and the patient picker. Every
//! rule, every impact: zero violations.

use std::time::Duration;

use e2e::browser::{check, no_accessibility_violations, standalone_to_the_picker, text_content, wait_for_text_in};
use e2e::{AppWithSandbox, Browser};
use fantoccini::Client;
use serde_json::json;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Waits until no section says "Loading".
async fn settled(client: &Client) -> Result<(), String> {
    let started = std::time::Instant::now();
    while text_content(client, "main").await?.contains("Loading") {
        check(started.elapsed() < Duration::from_secs(30), "the summary kept loading")?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_has_no_accessibility_violations_in_any_state() {
    let env = AppWithSandbox::start().await;
    let env_ref = &env;
    Browser::run("accessibility", |client| async move {
        let launch = |patient: &str| env_ref.launch(json!({"patient": patient, "auto_approve": true}));
        // Loading: every FHIR answer held back, so the sections wait.
        env_ref.control("/sandbox/faults", &json!({"latency_ms": 1500}));
        client.goto(&launch("p003")).await.map_err(err)?;
        wait_for_text_in(&client, "main", "Loading").await?;
        no_accessibility_violations(&client, "loading").await?;
        // Flagged values with their ranges, past records set apart, the
        // current encounter marked.
        env_ref.control("/sandbox/faults", &json!({}));
        let with_encounter = json!({"patient": "p003", "encounter": "p003-enc-current", "auto_approve": true});
        client.goto(&env_ref.launch(with_encounter)).await.map_err(err)?;
        settled(&client).await?;
        let flags = text_content(&client, "#section-labs").await?;
        check(flags.contains("↑ High") || flags.contains("↓ Low"), format!("no flagged value to check: {flags}"))?;
        no_accessibility_violations(&client, "flagged values").await?;
        // A coverage note: 2,000+ observations, read to the bound.
        client.goto(&launch("p001")).await.map_err(err)?;
        settled(&client).await?;
        wait_for_text_in(&client, "#section-vital-signs", "older records were not read").await?;
        no_accessibility_violations(&client, "coverage note").await?;
        // A failing server: every section and the banner say so.
        env_ref.control("/sandbox/faults", &json!({"server_errors": 1000}));
        client.goto(&launch("p015")).await.map_err(err)?;
        wait_for_text_in(&client, "#section-conditions", "The FHIR server failed").await?;
        settled(&client).await?;
        no_accessibility_violations(&client, "server errors").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sections_not_covered_and_the_patient_picker_have_no_accessibility_violations() {
    let env = AppWithSandbox::start_with(|config| {
        // The EHR launch granted conditions only; the standalone sign-in
        // names no patient, so the picker comes first.
        config["issuers"][0]["ehr_launch_scopes"] =
            json!("launch openid fhirUser patient/Patient.rs patient/Condition.rs");
        config["issuers"][0]["standalone_scopes"] = json!("openid fhirUser user/*.rs");
    })
    .await;
    let app = env.app.origin();
    let env_ref = &env;
    Browser::run("accessibility-grants", |client| async move {
        client.goto(&env_ref.launch(json!({"patient": "p003", "auto_approve": true}))).await.map_err(err)?;
        settled(&client).await?;
        let medications = text_content(&client, "#section-medications").await?;
        check(medications.contains("not"), format!("medications should be outside the grant: {medications}"))?;
        no_accessibility_violations(&client, "not covered").await?;
        client.goto(&format!("{app}/")).await.map_err(err)?;
        no_accessibility_violations(&client, "provider list").await?;
        standalone_to_the_picker(&client, &app, "kierk", "Søren Kierkegård").await?;
        no_accessibility_violations(&client, "patient picker with results").await
    })
    .await;
}
