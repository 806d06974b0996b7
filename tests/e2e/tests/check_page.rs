//! The deployment check page (`/check/`) in the browser, served as a
//! deployment serves it (smart-deploy's rules, CSP on): it passes the
//! sandbox, names each property the sandbox can break, tells a refused
//! DPoP header from a refused origin, catches a server the page's policy
//! does not allow (config.json edited without smart-deploy run again),
//! reports a bad config.json, and has no accessibility violations.

use e2e::browser::{check, console_messages, no_accessibility_violations, text_content, wait_for_text_in};
use e2e::{AppWithSandbox, Browser};
use fantoccini::Client;
use serde_json::json;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Opens the page and returns its report as text, once it is done.
async fn report(client: &Client, page: &str) -> Result<String, String> {
    client.goto(page).await.map_err(err)?;
    wait_for_text_in(client, "#status", "Done:").await?;
    text_content(client, "#text").await
}

/// The report's lines that start with `level` and name `check`.
fn lines<'a>(report: &'a str, level: &str, check_name: &str) -> Vec<&'a str> {
    let start = format!("{level:<7} {check_name}:");
    report.lines().map(str::trim).filter(|l| l.starts_with(&start)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_check_page_passes_the_sandbox_and_names_what_breaks() {
    let env = AppWithSandbox::start().await;
    let env_ref = &env;
    let page = format!("{}/check/", env.app.origin());
    let page_ref = page.as_str();
    Browser::run("check-page", |client| async move {
        let good = report(&client, page_ref).await?;
        for (level, check_name, needle) in [
            ("pass", "redirect URI", format!("{}/callback", env_ref.app.origin())),
            ("pass", "discovery document", "/v1/apps/P2SANDBOX".to_string()),
            ("pass", "CORS, token endpoint", "(HTTP 400) to a POST request".into()),
            ("pass", "CORS, revocation endpoint", "to a POST request".into()),
            ("pass", "CORS, FHIR server", "to a GET request with authorization".into()),
            ("pass", "key set", "has an RS256 key".into()),
            ("pass", "FHIR CapabilityStatement", "FHIR 4.0.1".into()),
        ] {
            let found = lines(&good, level, check_name);
            check(
                found.iter().any(|l| l.contains(&needle)),
                format!("no {level} {check_name} with {needle}:\n{good}"),
            )?;
        }
        check(good.contains("issuer sandbox-descope") && good.contains("issuer sandbox-smart"), good.clone())?;
        check(!good.contains("FAIL"), format!("the sandbox's good shape failed:\n{good}"))?;
        // The table says the same, level in words.
        let table = text_content(&client, "#reports").await?;
        check(table.contains("Sandbox EHR (SMART discovery) (sandbox-smart)"), table.clone())?;
        no_accessibility_violations(&client, "all passing").await?;
        // The copy button puts the same text on the clipboard.
        let origin = env_ref.app.origin();
        let grant = json!({"origin": origin, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]});
        e2e::browser::cdp(&client, "Browser.grantPermissions", grant).await?;
        e2e::browser::click(&client, "#copy").await?;
        wait_for_text_in(&client, "#copied", "Copied.").await?;
        let pasted = client
            .execute_async(
                "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('refused: ' + e))",
                vec![],
            )
            .await
            .map_err(err)?;
        check(pasted.as_str() == Some(good.as_str()), format!("the clipboard holds {pasted}"))?;

        // Each sandbox switch, and the line it must turn.
        for (faults, level, check_name, needle) in [
            (json!({"no_s256": true}), "FAIL", "discovery document", "S256"),
            (json!({"cors_closed": true}), "FAIL", "discovery document", "the browser refused it"),
            (json!({"cors_closed": true}), "FAIL", "CORS, FHIR server", "CORS settings do not allow this origin"),
            (json!({"no_revocation": true}), "warning", "revocation", "names no revocation_endpoint"),
            (json!({"redirect_fhir": true}), "FAIL", "CORS, FHIR server", "answered with a redirect"),
            (
                json!({"missing_capability": "launch-standalone"}),
                "warning",
                "capabilities",
                "launch-standalone is not listed",
            ),
            (
                json!({"missing_search_param": "category"}),
                "warning",
                "summary searches",
                "Observation lists no search parameter category",
            ),
        ] {
            env_ref.control("/sandbox/faults", &faults);
            let broken = report(&client, page_ref).await?;
            let found = lines(&broken, level, check_name);
            check(found.iter().any(|l| l.contains(needle)), format!("{faults}: no {level} {check_name}:\n{broken}"))?;
        }
        no_accessibility_violations(&client, "with warnings").await?;
        env_ref.control("/sandbox/faults", &json!({}));

        // DPoP: every request carries the header; a server whose
        // preflights leave it out answers the origin but refuses those.
        let served = env_ref.files.join("config.json");
        let shipped = std::fs::read_to_string(&served).map_err(err)?;
        let mut config: serde_json::Value = serde_json::from_str(&shipped).map_err(err)?;
        for issuer in config["issuers"].as_array_mut().ok_or("issuers")? {
            issuer["dpop"] = json!("required");
        }
        std::fs::write(&served, config.to_string()).map_err(err)?;
        let with_dpop = report(&client, page_ref).await?;
        check(
            lines(&with_dpop, "pass", "CORS, FHIR server").iter().all(|l| l.contains("authorization, dpop")),
            with_dpop.clone(),
        )?;
        env_ref.control("/sandbox/faults", &json!({"cors_without_dpop": true}));
        let refused = report(&client, page_ref).await?;
        for check_name in ["CORS, token endpoint", "CORS, revocation endpoint", "CORS, FHIR server"] {
            let found = lines(&refused, "FAIL", check_name);
            check(
                found.len() == 2 && found.iter().all(|l| l.contains("its preflight refuses")),
                format!("{check_name}:\n{refused}"),
            )?;
        }
        check(lines(&refused, "pass", "discovery document").len() == 2, "the origin itself is allowed")?;
        no_accessibility_violations(&client, "with failures").await?;
        env_ref.control("/sandbox/faults", &json!({}));

        // config.json edited on the server without smart-deploy run again:
        // an issuer on an origin the page's policy does not list.
        let mut config: serde_json::Value = serde_json::from_str(&shipped).map_err(err)?;
        let mut other = config["issuers"][1].clone();
        other["id"] = json!("unlisted");
        other["fhir_base_url"] =
            json!(other["fhir_base_url"].as_str().ok_or("a base")?.replace("localhost", "127.0.0.1"));
        config["issuers"].as_array_mut().ok_or("issuers")?.push(other);
        std::fs::write(&served, config.to_string()).map_err(err)?;
        let blocked = report(&client, page_ref).await?;
        let unlisted = blocked.split("issuer unlisted").nth(1).ok_or_else(|| blocked.clone())?;
        let found = lines(unlisted, "FAIL", "discovery document");
        check(
            found.iter().any(|l| l.contains("Content-Security-Policy (connect-src)") && l.contains("--connect")),
            format!("the policy's refusal is not named:\n{unlisted}"),
        )?;
        check(lines(unlisted, "FAIL", "CORS, FHIR server").len() == 1, unlisted.to_string())?;
        // Chromium logs what the policy refused; that was the point here.
        let logged = console_messages(&client).await.err().unwrap_or_default();
        check(logged.contains("Content Security Policy"), format!("no refusal logged: {logged}"))?;

        // A configuration the app would refuse.
        std::fs::write(&served, r#"{"issuers": []}"#).map_err(err)?;
        let bad = report(&client, page_ref).await?;
        check(lines(&bad, "FAIL", "configuration").iter().any(|l| l.contains("config.json")), bad.clone())?;
        no_accessibility_violations(&client, "a bad configuration").await?;
        std::fs::write(&served, &shipped).map_err(err)
    })
    .await;
}
