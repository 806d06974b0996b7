//! `smart-deploy check` against the sandbox: its good shape passes, and a
//! deployment on an origin the servers do not allow fails on CORS, with
//! the exit status a pipeline reads.

use std::process::Command;

async fn sandbox(app_url: &str) -> (smart_sandbox::Running, String) {
    let options = smart_sandbox::Options {
        port: 0,
        foreign_port: 0,
        app_urls: vec![app_url.into()],
        other_redirect_uris: Vec::new(),
        app_dir: None,
        app_port: 0,
    };
    let running = smart_sandbox::start(options).await.expect("start the sandbox");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../public/config.json")).unwrap();
    let config = shipped.replace("localhost:8090", &format!("localhost:{}", running.port));
    (running, config)
}

/// A config file of its own for each call: the tests run side by side.
fn write_config(config: &str) -> std::path::PathBuf {
    static WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("check-config-{}-{n}.json", std::process::id()));
    std::fs::write(&path, config).unwrap();
    path
}

fn check(config: &std::path::Path, app_url: &str, json: bool) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_smart-deploy"));
    command.args(["check", "--config"]).arg(config).args(["--app-url", app_url]);
    if json {
        command.arg("--json");
    }
    let output = command.output().expect("run smart-deploy check");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_passes_and_a_foreign_app_origin_fails_on_cors() {
    let app_url = "http://localhost:18080/";
    let (_running, config) = sandbox(app_url).await;
    let path = write_config(&config);
    let (path_ref, app) = (path.clone(), app_url.to_string());
    let (status, report) = tokio::task::spawn_blocking(move || check(&path_ref, &app, false)).await.unwrap();
    assert_eq!(status, Some(0), "{report}");
    for line in [
        "issuer sandbox-descope",
        "issuer sandbox-smart",
        "pass    discovery document:",
        "pass    CORS, token endpoint:",
        "pass    CORS, revocation endpoint:",
        "pass    CORS, FHIR server: http://localhost:",
        "pass    key set:",
        "pass    FHIR CapabilityStatement: FHIR 4.0.1",
        "pass    redirect URI: http://localhost:18080/callback",
    ] {
        assert!(report.contains(line), "{line} missing from:\n{report}");
    }
    assert!(!report.contains("FAIL"), "{report}");
    // The same servers, for an app on an origin they do not allow.
    let (path_ref, other) = (path.clone(), "https://elsewhere.example.org/".to_string());
    let (status, report) = tokio::task::spawn_blocking(move || check(&path_ref, &other, true)).await.unwrap();
    assert_eq!(status, Some(1), "{report}");
    let parsed: serde_json::Value = serde_json::from_str(&report).expect("--json gives JSON");
    let cors: Vec<&serde_json::Value> = parsed["issuers"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"].as_str().unwrap().starts_with("CORS"))
        .collect();
    assert!(!cors.is_empty() && cors.iter().all(|f| f["level"] == "fail"), "{cors:?}");
    assert!(cors[0]["fix"].as_str().unwrap().contains("https://elsewhere.example.org"));
    std::fs::remove_file(path).ok();
}

/// The report's lines for `check` (its name's start), under the sandbox's
/// current faults.
async fn lines_of(path: &std::path::Path, app_url: &str, check_name: &str) -> (Option<i32>, Vec<String>) {
    let (path, app) = (path.to_path_buf(), app_url.to_string());
    let (status, report) = tokio::task::spawn_blocking(move || check(&path, &app, false)).await.unwrap();
    let name = format!(" {check_name}");
    (status, report.lines().filter(|l| l.contains(&name)).map(|l| l.trim().to_string()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_property_of_the_sandbox_is_named() {
    let app_url = "http://localhost:18081/";
    let (running, config) = sandbox(app_url).await;
    let path = write_config(&config);
    let set = |change: &dyn Fn(&mut smart_sandbox::state::Faults)| {
        let mut registry = running.sandbox.registry();
        registry.faults = Default::default();
        change(&mut registry.faults);
    };
    // Each shape: the switch, the check it breaks, what the line must say, and whether the run fails.
    type Shape<'a> = (&'a str, &'a dyn Fn(&mut smart_sandbox::state::Faults), &'a str, &'a str, bool);
    let shapes: [Shape; 5] = [
        ("no S256", &|f| f.no_s256 = true, "discovery document:", "S256", true),
        (
            "CORS closed",
            &|f| f.cors_closed = true,
            "CORS, token endpoint:",
            "sends no Access-Control-Allow-Origin for http://localhost:18081",
            true,
        ),
        ("no revocation", &|f| f.no_revocation = true, "revocation:", "names no revocation_endpoint", false),
        (
            "a capability missing",
            &|f| f.missing_capability = Some("launch-standalone".into()),
            "capabilities:",
            "launch-standalone is not listed",
            false,
        ),
        (
            "a search parameter missing",
            &|f| f.missing_search_param = Some("category".into()),
            "summary searches:",
            "Observation lists no search parameter category",
            false,
        ),
    ];
    for (shape, change, check_name, expected, fails) in shapes {
        set(change);
        let (status, lines) = lines_of(&path, app_url, check_name).await;
        assert!(lines.iter().any(|l| l.contains(expected) && !l.starts_with("pass")), "{shape}: {lines:?}");
        assert_eq!(status, Some(if fails { 1 } else { 0 }), "{shape}: {lines:?}");
    }
    std::fs::remove_file(path).ok();
    // With DPoP, every request carries the DPoP header, which each
    // preflight must allow; the FHIR reads also carry Authorization.
    let mut dpop: serde_json::Value = serde_json::from_str(&config).unwrap();
    for issuer in dpop["issuers"].as_array_mut().unwrap() {
        issuer["dpop"] = serde_json::json!("required");
    }
    let path = write_config(&dpop.to_string());
    set(&|_| {});
    let (status, lines) = lines_of(&path, app_url, "CORS, FHIR server:").await;
    assert!(lines.iter().all(|l| l.starts_with("pass") && l.contains("with authorization, dpop")), "{lines:?}");
    assert_eq!(status, Some(0), "{lines:?}");
    set(&|f| f.cors_without_dpop = true);
    for check_name in ["CORS, token endpoint:", "CORS, revocation endpoint:", "CORS, FHIR server:"] {
        let (status, lines) = lines_of(&path, app_url, check_name).await;
        let refused = |l: &String| !l.starts_with("pass") && l.contains("does not allow the header(s) dpop");
        assert!(!lines.is_empty() && lines.iter().all(refused), "{check_name} {lines:?}");
        assert_eq!(status, Some(1));
    }
    std::fs::remove_file(path).ok();
}

#[test]
fn bad_arguments_exit_with_2() {
    let missing = Command::new(env!("CARGO_BIN_EXE_smart-deploy")).args(["check", "--config"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let path = write_config("{\"issuers\": []}");
    let (status, _) = check(&path, "https://app.example.org/", false);
    assert_eq!(status, Some(2), "a config that fails validation");
    let unreadable = Command::new(env!("CARGO_BIN_EXE_smart-deploy"))
        .args(["check", "--config", "/nonexistent/config.json", "--app-url", "https://a.example/"])
        .output()
        .unwrap();
    assert_eq!(unreadable.status.code(), Some(2));
    std::fs::remove_file(path).ok();
}
