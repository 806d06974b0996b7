//! The release build deployed as the guide says (deploy/README.md): built
//! for a sub-path (`trunk build --release --public-url /smart/`), served by
//! nginx with the location block `smart-deploy` writes, CSP on. A launch
//! from the EHR simulator's iframe completes through the popup, and the
//! hosting headers are the documented ones.

use std::path::PathBuf;

use e2e::browser::{check, click, launch_from_the_ehr, wait_for_text_in};
use e2e::{AppWithSandbox, Browser};
use serde_json::json;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The sub-path build (`scripts/test.sh` makes it), or `E2E_DIST_SUBPATH`.
fn subpath_dist() -> PathBuf {
    let dir = std::env::var_os("E2E_DIST_SUBPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| e2e::workspace_root().join("target/dist-subpath"));
    assert!(
        dir.join("index.html").is_file(),
        "{} has no index.html: run trunk build --release --public-url /smart/ --dist target/dist-subpath",
        dir.display()
    );
    dir
}

/// The value of a page's Content-Security-Policy `<meta>` tag.
fn meta_policy(page: &str) -> String {
    let tag = r#"<meta http-equiv="Content-Security-Policy" content=""#;
    let start = page.find(tag).expect("a meta policy") + tag.len();
    page[start..].split('"').next().unwrap_or_default().to_string()
}

fn get(port: u16, path: &str) -> e2e::Reply {
    e2e::http("GET", &format!("http://127.0.0.1:{port}{path}"), &[], "")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sub_path_deployment_with_its_csp_serves_and_launches() {
    let dist = subpath_dist();
    let env = AppWithSandbox::start_at("/smart/", &dist, |_| {}).await;
    let port = env.app.port;
    let sandbox_origin = env.sandbox.sandbox.origin.clone();

    // The page, at the base and at a deep link, always revalidated, with the policy.
    let index = std::fs::read_to_string(dist.join("index.html")).unwrap();
    for path in ["/smart/", "/smart/callback", "/smart/launch?iss=x&launch=y"] {
        let page = get(port, path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(
            page.body.replace(&meta_policy(&page.body), ""),
            index.replace(&meta_policy(&index), ""),
            "{path} is not the app's page"
        );
        let meta = meta_policy(&page.body);
        assert!(meta.contains(&format!("connect-src 'self' {sandbox_origin};")), "meta policy not narrowed: {meta}");
        assert!(!meta.contains("https:") && !meta.contains("frame-ancestors"), "{meta}");
        assert_eq!(page.headers["cache-control"], "no-cache", "{path}");
        let csp = &page.headers["content-security-policy"];
        assert!(csp.contains(&format!("frame-ancestors {sandbox_origin}")), "{csp}");
        assert!(csp.contains(&format!("connect-src 'self' {sandbox_origin}")), "{csp}");
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && !csp.contains("unsafe-inline"), "{csp}");
    }
    assert!(!index.contains("<script type=\"module\">"), "an inline script is left in index.html");
    assert!(index.contains("<base href=\"/smart/\""), "not built for /smart/");
    assert_eq!(std::fs::read_to_string(dist.join("404.html")).unwrap(), index, "404.html is the fallback page");
    // Content-hashed assets for a year; the configuration revalidated.
    let wasm = std::fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".wasm"))
        .expect("a wasm file");
    let asset = get(port, &format!("/smart/{wasm}"));
    assert_eq!(asset.status, 200);
    assert_eq!(asset.headers["content-type"], "application/wasm");
    assert_eq!(asset.headers["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(get(port, "/smart/config.json").headers["cache-control"], "no-cache");
    assert_eq!(get(port, "/smart/missing.js").status, 404, "a missing asset is not the page");
    // The deployment check page beside the app, its policy narrowed too.
    let page = get(port, "/smart/check/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Deployment check</h1>"), "not the check page: {}", page.body);
    assert!(page.body.contains("<base href=\"/smart/\""), "not built for /smart/");
    assert_eq!(page.headers["cache-control"], "no-cache");
    let meta = meta_policy(&page.body);
    assert!(meta.contains(&format!("connect-src 'self' {sandbox_origin};")), "meta policy not narrowed: {meta}");
    // A folder without its slash: nginx sends the browser to it.
    let bare = get(port, "/smart/check");
    assert_eq!(bare.status, 301);
    assert!(bare.headers["location"].ends_with("/smart/check/"), "{:?}", bare.headers);

    // A launch inside the EHR simulator's iframe, through the popup.
    let ehr = env.sandbox_url("/ehr");
    Browser::run("sub-path-deployment", |client| async move {
        let ehr_window = launch_from_the_ehr(&client, &ehr, "p013", &["deny_framing", "auto_approve"]).await?;
        click(&client, "button.sign-in").await?;
        wait_for_text_in(&client, "[data-testid=patient-name]", "Dmitri Volkov").await?;
        let windows = client.windows().await.map_err(err)?;
        check(windows == vec![ehr_window], "the sign-in window did not close")?;
        let path = e2e::browser::script(&client, "return location.pathname").await?;
        check(path == json!("/smart/summary"), format!("the app's address: {path}"))?;
        // The check page finds the app's base and config.json under it.
        client.goto(&format!("http://localhost:{port}/smart/check")).await.map_err(err)?;
        wait_for_text_in(&client, "#status", "Done:").await?;
        let report = e2e::browser::text_content(&client, "#text").await?;
        let redirect = format!("pass    redirect URI: http://localhost:{port}/smart/callback ");
        check(report.contains(&redirect) && !report.contains("FAIL"), report)
    })
    .await;
}
