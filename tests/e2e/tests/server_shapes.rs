//! The summary against the FHIR server shapes the spec allows (the
//! sandbox's switches): `_sort` ignored (answering oldest first), pages
//! capped small, no `total`, entries shuffled, no `self` link, and all
//! of them together.
//! Under each, every vital sign and lab result shown is the newest on
//! record for its test; where a bound stopped the reading, the section
//! says so.

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::browser::{check, script, text_content};
use e2e::{AppWithSandbox, Browser};
use fantoccini::Client;
use serde_json::{json, Value};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The newest date (`YYYY-MM-DD`) per test of a patient's observations in
/// `category`, from the sandbox's own records.
fn newest_per_test(env: &AppWithSandbox, patient: &str, category: &str) -> BTreeMap<String, String> {
    let mut newest = BTreeMap::new();
    for observation in env.sandbox.sandbox.store.all("Observation") {
        let mine = observation["subject"]["reference"] == format!("Patient/{patient}");
        if !mine || observation["category"][0]["coding"][0]["code"] != category {
            continue;
        }
        let title = observation["code"]["coding"][0]["display"].as_str().unwrap_or_default().to_string();
        let date = observation["effectiveDateTime"].as_str().unwrap_or_default()[..10].to_string();
        let kept = newest.entry(title).or_insert_with(String::new);
        if date > *kept {
            *kept = date;
        }
    }
    newest
}

fn observations_of(env: &AppWithSandbox, patient: &str) -> usize {
    let subject = format!("Patient/{patient}");
    env.sandbox.sandbox.store.all("Observation").iter().filter(|o| o["subject"]["reference"] == subject).count()
}

/// A section's rows as (title, date), once it has loaded.
async fn rows(client: &Client, section: &str) -> Result<Vec<(String, String)>, String> {
    let started = std::time::Instant::now();
    while text_content(client, section).await?.contains("Loading") {
        check(started.elapsed() < Duration::from_secs(30), format!("{section} kept loading"))?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found = script(
        client,
        &format!(
            "return [...document.querySelectorAll('{section} li.row')].map(r => \
             [r.querySelector('.row-title').textContent, r.querySelector('.row-date').textContent])"
        ),
    )
    .await?;
    let pairs = found.as_array().cloned().unwrap_or_default();
    Ok(pairs.iter().map(|p| (p[0].as_str().unwrap_or("").into(), p[1].as_str().unwrap_or("").into())).collect())
}

async fn coverage(client: &Client, section: &str) -> Result<Option<String>, String> {
    let note = script(
        client,
        &format!("return document.querySelector('{section} [data-testid=coverage]')?.textContent ?? null"),
    )
    .await?;
    Ok(note.as_str().map(str::to_string))
}

/// Every row shows the newest date on record for its test; a test not
/// shown at all is allowed only with a coverage note.
fn newest_shown(
    shape: &str,
    section: &str,
    shown: &[(String, String)],
    expected: &BTreeMap<String, String>,
    note: &Option<String>,
) -> Result<(), String> {
    check(!shown.is_empty(), format!("{shape}: {section} shows nothing"))?;
    for (title, date) in shown {
        let newest = expected.get(title).ok_or_else(|| format!("{shape}: {section} shows {title}, not on record"))?;
        check(
            date == newest,
            format!("{shape}: {section} shows {title} from {date}; the newest on record is {newest}"),
        )?;
    }
    let missing: Vec<&String> = expected.keys().filter(|t| !shown.iter().any(|(s, _)| s == *t)).collect();
    check(
        missing.is_empty() || note.is_some(),
        format!("{shape}: {section} left out {missing:?} without a coverage note"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_newest_values_are_shown_under_every_server_shape() {
    let env = AppWithSandbox::start().await;
    // A patient with some tens of readings: every shape can be read whole.
    let patient = env
        .sandbox
        .sandbox
        .store
        .patient_ids()
        .into_iter()
        .find(|p| (60..=120).contains(&observations_of(&env, p)))
        .expect("a patient with 60 to 120 observations");
    let vitals = newest_per_test(&env, &patient, "vital-signs");
    let labs = newest_per_test(&env, &patient, "laboratory");
    let shapes: [(&str, Value); 7] = [
        ("the default shape", json!({})),
        ("sort ignored (oldest first)", json!({"ignore_sort": true})),
        ("pages capped at 7", json!({"page_size": 7})),
        ("no total", json!({"omit_total": true})),
        ("entries shuffled", json!({"shuffle": true})),
        ("no self link, pages capped at 7", json!({"omit_self_link": true, "page_size": 7})),
        (
            "all of them",
            json!({"ignore_sort": true, "page_size": 7, "omit_total": true, "shuffle": true, "omit_self_link": true}),
        ),
    ];
    let env_ref = &env;
    Browser::run("server-shapes", |client| async move {
        for (shape, faults) in &shapes {
            env_ref.control("/sandbox/faults", faults);
            let url = env_ref.launch(json!({"patient": patient, "auto_approve": true}));
            client.goto(&url).await.map_err(err)?;
            for (section, expected) in [("#section-vital-signs", &vitals), ("#section-labs", &labs)] {
                let shown = rows(&client, section).await?;
                let note = coverage(&client, section).await?;
                newest_shown(shape, section, &shown, expected, &note)?;
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bound_reached_is_said_and_what_is_shown_is_still_the_newest_read() {
    let env = AppWithSandbox::start().await;
    // A patient with more than 2,000 observations.
    let heavy = env
        .sandbox
        .sandbox
        .store
        .patient_ids()
        .into_iter()
        .find(|p| observations_of(&env, p) > 2000)
        .expect("a heavy patient");
    let vitals = newest_per_test(&env, &heavy, "vital-signs");
    let env_ref = &env;
    Browser::run("server-shapes-bound", |client| async move {
        // Sorted by the server: its first page is the newest, and the rest is said to be unread.
        env_ref.control("/sandbox/faults", &json!({}));
        client.goto(&env_ref.launch(json!({"patient": heavy, "auto_approve": true}))).await.map_err(err)?;
        let shown = rows(&client, "#section-vital-signs").await?;
        let note = coverage(&client, "#section-vital-signs").await?.unwrap_or_default();
        check(note.contains("most recent records; older records were not read"), format!("coverage: {note:?}"))?;
        newest_shown("sorted", "#section-vital-signs", &shown, &vitals, &Some(note))?;
        // Sort ignored and pages capped: the reading stops at its bound, and the note says the order was not the server's.
        env_ref.control("/sandbox/faults", &json!({"ignore_sort": true, "page_size": 50}));
        client.goto(&env_ref.launch(json!({"patient": heavy, "auto_approve": true}))).await.map_err(err)?;
        rows(&client, "#section-vital-signs").await?;
        let note = coverage(&client, "#section-vital-signs").await?.unwrap_or_default();
        check(note.contains("did not sort them by date"), format!("coverage: {note:?}"))?;
        let registry = env_ref.sandbox.sandbox.registry();
        let pages =
            |r: &&smart_sandbox::state::Recorded| r.method == "GET" && r.target.contains("category=vital-signs");
        let asked = registry.requests.iter().filter(pages).count();
        drop(registry);
        // One page for the sorted launch, then the bound's 20.
        check(asked == 1 + 20, format!("{asked} vital-sign pages asked for: the page bound did not hold"))
    })
    .await;
}
