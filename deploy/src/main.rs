//! `smart-deploy`: writes the hosting files for a deployment.
//!
//! ```text
//! cargo run -p smart-deploy -- --config dist/config.json --base /smart/ \
//!     --frame-ancestor https://ehr.example.org [--connect https://auth.example.org] \
//!     [--nginx-root /srv/smart-app] [--out dist]
//! ```
//!
//! ```text
//! cargo run -p smart-deploy -- check --config dist/config.json --app-url https://app.example.org/smart/ [--json]
//! ```
//!
//! `check` runs the deployment check against every configured issuer and
//! prints a line per finding (or JSON); it exits 0 when nothing failed, 1
//! when something did, 2 for bad arguments.
//!
//! Writes `_headers` and `_redirects` (Netlify, Cloudflare Pages) and
//! `nginx.conf` (a location block) into `--out` (default: the directory of
//! `--config`), narrows the `<meta>` policy of the built `index.html`,
//! `404.html` and `check/index.html` there to the configured servers, and prints the
//! Content-Security-Policy.

use std::path::PathBuf;
use std::process::ExitCode;

use smart_deploy::Site;

const USAGE: &str = "usage: smart-deploy --config FILE [--base /path/] [--frame-ancestor ORIGIN]... \
                     [--connect ORIGIN]... [--nginx-root DIR] [--out DIR]";

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut config, mut base, mut out, mut nginx_root) = (None, "/".to_string(), None, "/srv/smart-app".to_string());
    let (mut ancestors, mut connect) = (Vec::new(), Vec::new());
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--config" => config = Some(PathBuf::from(value()?)),
            "--base" => base = value()?,
            "--frame-ancestor" => ancestors.push(value()?),
            "--connect" => connect.push(value()?),
            "--nginx-root" => nginx_root = value()?,
            "--out" => out = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    let config = config.ok_or_else(|| format!("--config is required\n{USAGE}"))?;
    let text = std::fs::read_to_string(&config).map_err(|e| format!("cannot read {}: {e}", config.display()))?;
    let site = Site::new(&text, &base, &ancestors, &connect)?;
    let out = out.unwrap_or_else(|| config.parent().map(PathBuf::from).unwrap_or_default());
    for (name, body) in [
        ("_headers", site.headers_file()),
        ("_redirects", site.redirects_file()),
        ("nginx.conf", site.nginx(&nginx_root)),
    ] {
        let path = out.join(name);
        std::fs::write(&path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    // The built page's meta policy allows any https origin (the build
    // knows no servers); on a host that cannot send headers it would be
    // the only policy.
    let index = out.join("index.html");
    if !index.exists() {
        return Err(format!(
            "{} is not there, so its meta policy still allows any https origin: give --out the build folder",
            index.display()
        ));
    }
    for name in smart_deploy::PAGES {
        let path = out.join(name);
        let Ok(page) = std::fs::read_to_string(&path) else { continue };
        let written = site.with_meta_csp(&page).map_err(|e| format!("{}: {e}", path.display()))?;
        std::fs::write(&path, written).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("narrowed the meta policy of {}", path.display());
    }
    println!("{}", site.csp());
    Ok(())
}

const CHECK_USAGE: &str = "usage: smart-deploy check --config FILE --app-url URL [--json]";

/// `smart-deploy check`: exit 0 when nothing failed, 1 when something did,
/// 2 for arguments it cannot use.
fn check(mut args: impl Iterator<Item = String>) -> ExitCode {
    let bad = |message: String| {
        eprintln!("smart-deploy check: {message}\n{CHECK_USAGE}");
        ExitCode::from(2)
    };
    let (mut config, mut app_url, mut json) = (None, None, false);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--config" => config = args.next(),
            "--app-url" => app_url = args.next(),
            "--json" => json = true,
            _ => return bad(format!("unknown argument {flag}")),
        }
    }
    let (Some(config), Some(app_url)) = (config, app_url) else {
        return bad("--config and --app-url are required".into());
    };
    let text = match std::fs::read_to_string(&config) {
        Ok(text) => text,
        Err(e) => return bad(format!("cannot read {config}: {e}")),
    };
    let config = match smart_core::config::AppConfig::parse(&text) {
        Ok(config) => config,
        Err(e) => return bad(format!("{config}: {}", e.diagnosis().detail)),
    };
    let app_url = match smart_core::url::HttpUrl::parse(&app_url) {
        Ok(url) => url,
        Err(e) => return bad(format!("--app-url \"{app_url}\" is not a URL: {e}")),
    };
    let reports = smart_deploy::check::run(&config, &app_url);
    if json {
        println!("{}", smart_deploy::check::json(&reports));
    } else {
        print!("{}", smart_deploy::check::text(&reports));
    }
    if smart_deploy::check::failed(&reports) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("check") {
        args.next();
        return check(args);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("smart-deploy: {message}");
            ExitCode::FAILURE
        }
    }
}
