//! The page: reads `config.json` from beside the app, checks each issuer
//! in turn, and shows a table per issuer and the whole report as plain
//! text to copy. Every value (from the configuration or a server) is set
//! as text, never as markup.

use smart_core::check::{self, Answer, Finding, IssuerReport, Level};
use smart_core::url::HttpUrl;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element};

use crate::browser::BrowserProbe;
use crate::run::{self, Ask, Probe, Unread};

pub async fn run() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    if let Err(error) = check_all(&document).await {
        let text = error.as_string().unwrap_or_else(|| "the page could not run".into());
        set_status(&document, &format!("The check stopped: {text}. Reload the page to try again."));
    }
}

async fn check_all(document: &Document) -> Result<(), JsValue> {
    let probe = BrowserProbe::new()?;
    // The page's <base> is the app's base URL (the build writes it).
    let base = document.base_uri()?.unwrap_or_default();
    let app_url = HttpUrl::parse(base.split(['?', '#']).next().unwrap_or_default())
        .map_err(|e| JsValue::from_str(&format!("the page's base URL {base} is not an http(s) URL: {e}")))?;
    let config_url = app_url.join_path("config.json");
    let ask = Ask { follow: true, ..Ask::get(&config_url, "application/json") };
    let answer: Result<Answer, Unread> = probe.ask(ask).await;
    let mut reports = Vec::new();
    match check::configuration(&config_url, answer.as_ref().map_err(Unread::as_no_answer)) {
        Err(finding) => {
            let report = IssuerReport { id: "configuration".into(), findings: vec![finding] };
            show_issuer(document, &report, None)?;
            reports.push(report);
        }
        Ok(config) => {
            let count = config.issuers.len();
            for (i, issuer) in config.issuers.iter().enumerate() {
                set_status(document, &format!("Checking {} ({} of {count})…", issuer.name, i + 1));
                let report = run::issuer(&probe, &config, issuer, &app_url).await;
                show_issuer(document, &report, Some(issuer.name.as_str()))?;
                reports.push(report);
            }
        }
    }
    let findings: Vec<&Finding> = reports.iter().flat_map(|r| &r.findings).collect();
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    set_status(
        document,
        &format!(
            "Done: {} failed, {} warnings, {} passed. Run again by reloading the page.",
            count(Level::Failure),
            count(Level::Warning),
            count(Level::Pass)
        ),
    );
    show_text(document, &check::report_text(&reports))
}

fn set_status(document: &Document, text: &str) {
    if let Some(status) = document.get_element_by_id("status") {
        status.set_text_content(Some(text));
    }
}

/// Adds a `tag` element with `text` (if any) as the last child of `parent`.
fn add(document: &Document, parent: &Element, tag: &str, text: &str) -> Result<Element, JsValue> {
    let element = document.create_element(tag)?;
    if !text.is_empty() {
        element.set_text_content(Some(text));
    }
    parent.append_child(&element)?;
    Ok(element)
}

/// A section with the issuer's findings as a table.
fn show_issuer(document: &Document, report: &IssuerReport, name: Option<&str>) -> Result<(), JsValue> {
    let reports = document.get_element_by_id("reports").ok_or("the page has no #reports")?;
    let section = add(document, &reports, "section", "")?;
    let heading = match name {
        Some(name) => format!("{name} ({})", report.id),
        None => "Configuration".to_string(),
    };
    add(document, &section, "h2", &heading)?;
    let table = add(document, &section, "table", "")?;
    add(document, &table, "caption", &format!("{} findings for {heading}", report.findings.len()))?;
    let row = add(document, &add(document, &table, "thead", "")?, "tr", "")?;
    for title in ["Result", "Check", "Found", "What to do"] {
        add(document, &row, "th", title)?.set_attribute("scope", "col")?;
    }
    let body = add(document, &table, "tbody", "")?;
    for finding in &report.findings {
        let row = add(document, &body, "tr", "")?;
        // The level in words; the class only adds weight and colour.
        add(document, &row, "td", finding.level.label())?.set_class_name(match finding.level {
            Level::Pass => "pass",
            Level::Warning => "warning",
            Level::Failure => "fail",
        });
        add(document, &row, "th", finding.check)?.set_attribute("scope", "row")?;
        add(document, &row, "td", &finding.detail)?;
        add(document, &row, "td", finding.fix.as_deref().unwrap_or(""))?;
    }
    Ok(())
}

/// The report as the command prints it, and a button that copies it.
fn show_text(document: &Document, text: &str) -> Result<(), JsValue> {
    let pre = document.get_element_by_id("text").ok_or("the page has no #text")?;
    pre.set_text_content(Some(text));
    let button = document.get_element_by_id("copy").ok_or("the page has no #copy")?;
    let copied = text.to_string();
    let on_click = Closure::<dyn FnMut()>::new(move || {
        let copied = copied.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Some(window) = web_sys::window() else { return };
            let done = JsFuture::from(window.navigator().clipboard().write_text(&copied)).await;
            let note = match done {
                Ok(_) => "Copied.",
                Err(_) => "The browser did not allow copying; select the text below instead.",
            };
            if let Some(status) = window.document().and_then(|d| d.get_element_by_id("copied")) {
                status.set_text_content(Some(note));
            }
        });
    });
    button.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())?;
    // The button lives as long as the page.
    on_click.forget();
    button.remove_attribute("disabled")
}
