//! `smart-sandbox [--port 8090] [--foreign-port 8091] [--app-url http://localhost:8080/]…
//!  [--app-dir dist --app-port 8080]`

use smart_sandbox::{start, Options};

fn usage() -> ! {
    eprintln!("usage: smart-sandbox [--port N] [--foreign-port N] [--app-url URL]... [--app-dir DIR --app-port N]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut options = Options::default();
    let mut app_urls = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => options.port = value().parse().unwrap_or_else(|_| usage()),
            "--foreign-port" => options.foreign_port = value().parse().unwrap_or_else(|_| usage()),
            "--app-url" => app_urls.push(value()),
            "--app-dir" => options.app_dir = Some(value().into()),
            "--app-port" => options.app_port = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if !app_urls.is_empty() {
        options.app_urls = app_urls;
    }
    let running = match start(options).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("smart-sandbox: could not listen: {error}");
            std::process::exit(1);
        }
    };
    let o = &running.sandbox.origin;
    println!("SMART sandbox running");
    println!("  EHR simulator:        {o}/ehr");
    println!("  FHIR (Descope-style): {o}/fhir");
    println!("  FHIR (SMART):         {o}/smart/fhir");
    println!("  Inbound App metadata: {o}/v1/apps/P2SANDBOX/.well-known/openid-configuration");
    println!("  app:                  {}", running.sandbox.app_url);
    println!("Open the EHR simulator and press Launch; Ctrl-C stops.");
    let _ = tokio::signal::ctrl_c().await;
}
