//! The performance benchmark, run by `scripts/bench.sh` (not part of the
//! test run): what a first visit downloads, and how long a clinician waits
//! from the launch to the banner and to the complete summary, in headless
//! Chromium against the local sandbox. Writes `bench/results.md`.
//!
//! Timings come from the page itself: the app sets User Timing marks when
//! the banner and each summary section reach the DOM (`smart:banner`,
//! `smart:section:…`), and the browser's Resource Timing entries show
//! which requests waited for which. The clock starts just before the
//! browser is sent to the EHR's launch URL.
//!
//! `--runs N` sets the measured launches per case (default 5); `--only
//! CASE` runs the cases whose name holds CASE and writes nothing; `--sizes`
//! prints the sizes and stops (nothing is written), failing when the first
//! visit is over the 150 KB brotli budget: `scripts/test.sh` runs it after
//! the release build, so the budget holds from change to change.

mod crates;
mod sizes;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use e2e::browser::{cdp, script};
use e2e::{AppWithSandbox, Browser};
use fantoccini::Client;
use serde_json::{json, Value};

/// The launched patient for the timing runs, and the one with 2,000+
/// observations.
const PATIENT: &str = "p005";
const LARGE_PATIENT: &str = "p001";

/// Reads the marks and fetches of the current document; `complete` once
/// the banner and every section have been drawn.
const READ_PAGE: &str = r#"
const at = name => { const e = performance.getEntriesByName(name, 'mark')[0]; return e ? performance.timeOrigin + e.startTime : null; };
const sections = ['conditions', 'medications', 'allergies', 'vital-signs', 'labs', 'encounters'].map(s => at('smart:section:' + s));
const banner = at('smart:banner');
if (banner === null || sections.includes(null)) return { complete: false };
// The app's own files (config.json, asked for beside the wasm) are not
// round trips to a server.
const fetches = performance.getEntriesByType('resource').filter(e => e.initiatorType === 'fetch' && !e.name.startsWith(location.origin + '/')).map(e => ({
  url: e.name,
  start: performance.timeOrigin + e.startTime,
  end: performance.timeOrigin + e.responseEnd,
  first_byte: e.responseStart > 0 ? performance.timeOrigin + e.responseStart : null,
}));
// A section read in one page has no rows mark: its own mark is its first rows.
const rows = ['conditions', 'medications', 'allergies', 'vital-signs', 'labs', 'encounters']
  .map((s, i) => Math.min(at('smart:rows:' + s) ?? Infinity, sections[i]));
return { complete: true, banner, summary: Math.max(...sections), first_rows: Math.min(...rows), fetches, long_tasks: window.__longTasks ?? null, origin: performance.timeOrigin };
"#;

/// Installed in every new document: collects long tasks (over 50 ms),
/// and notes when the fhirclient peer marks its page ready (its README's
/// contract: `body[data-ready]` once the banner and every list are in the
/// DOM), as the app's marks note when its parts are.
const OBSERVE_PAGE: &str = r#"
window.__longTasks = [];
try {
  new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
    .observe({ type: 'longtask' });
} catch (e) {}
new MutationObserver(() => {
  if (window.__readyAt === undefined && document.body && document.body.dataset.ready) {
    window.__ready = document.body.dataset.ready;
    window.__readyAt = performance.timeOrigin + performance.now();
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-ready'] });
"#;

/// For `--trace`: each document, as it is left, adds its own timeline to
/// its origin's `localStorage` (timings only, written by the benchmark's
/// own script), so the launch page's timings can be read from the app's
/// last document. (`window.name` does not outlive the app's navigations:
/// its opener policy puts each page in a browsing context group of its own.)
const RECORD_DOCUMENT: &str = r#"
window.__document = () => {
  const nav = performance.getEntriesByType('navigation')[0];
  const entries = performance.getEntriesByType('resource').map(e => [e.name, e.startTime, e.responseStart, e.responseEnd])
    .concat(performance.getEntriesByType('mark').map(e => ['mark ' + e.name, e.startTime, e.startTime, e.startTime]))
    .concat(performance.getEntriesByType('paint').map(e => [e.name, e.startTime, e.startTime, e.startTime]));
  return { url: location.href, origin: performance.timeOrigin, nav: nav ? [nav.responseEnd, nav.domInteractive, nav.domContentLoadedEventEnd, nav.loadEventEnd] : null, entries };
};
window.__kept = () => { try { return JSON.parse(localStorage.getItem('bench-timeline') || '[]'); } catch (e) { return []; } };
addEventListener('pagehide', () => {
  localStorage.setItem('bench-timeline', JSON.stringify([...window.__kept(), window.__document()]));
});
"#;

/// The current document's timeline, after the earlier ones
/// `RECORD_DOCUMENT` kept.
const READ_TIMELINE: &str = "return [...window.__kept(), window.__document()];";

/// The peer's state: `ready` is "1" when complete, "error" when it failed.
const READ_PEER: &str = r#"
return { ready: window.__ready ?? null, at: window.__readyAt ?? null, origin: performance.timeOrigin, text: document.body ? document.body.innerText.slice(0, 300) : '' };
"#;

struct Fetch {
    url: String,
    start: f64,
    end: f64,
    first_byte: Option<f64>,
}

/// FHIR reads the sandbox has received so far (GETs under a FHIR base).
fn fhir_reads(env: &AppWithSandbox) -> usize {
    let registry = env.sandbox.sandbox.registry();
    registry.requests.iter().filter(|r| r.method == "GET" && r.target.contains("/fhir/")).count()
}

/// One launch, measured.
struct Run {
    to_banner: f64,
    to_summary: f64,
    trips_to_banner: usize,
    trips_to_summary: usize,
    /// From the first byte of FHIR data to the summary drawn.
    data_to_summary: f64,
    /// From the token response's end to the first rows of any section
    /// drawn; the first FHIR read's own time (its preflight included);
    /// and the chain of requests between the two.
    token_to_rows: f64,
    first_read: f64,
    trips_token_to_rows: usize,
    long_tasks: Vec<f64>,
    /// FHIR reads the launch made (searches' pages included).
    reads: usize,
    /// When the launch page was left: the navigation to the authorization
    /// server began (the last document's time origin).
    left_launch: f64,
}

/// One launch of the fhirclient peer.
struct PeerRun {
    /// To its complete view (`data-ready`).
    to_view: f64,
    reads: usize,
    /// When its launch page was left (as [`Run::left_launch`]).
    left_launch: f64,
}

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or_default()
}

/// The longest chain of requests in which each one started only after the
/// previous one had ended: the sequential round trips.
fn sequential_round_trips(fetches: &[&Fetch]) -> usize {
    let mut sorted: Vec<&&Fetch> = fetches.iter().collect();
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
    let mut depth: Vec<usize> = Vec::with_capacity(sorted.len());
    for (i, fetch) in sorted.iter().enumerate() {
        let before = (0..i).filter(|&j| sorted[j].end <= fetch.start).map(|j| depth[j]).max().unwrap_or(0);
        depth.push(before + 1);
    }
    depth.into_iter().max().unwrap_or(0)
}

/// The launch every timing run makes: the EHR's launch of `patient`
/// against the sandbox's standard SMART server (discovery at the FHIR
/// base, context in the token response), which both the app and the
/// fhirclient peer can use.
fn launch_settings(patient: &str) -> Value {
    json!({"patient": patient, "auto_approve": true, "base": "smart"})
}

async fn launch_once(env: &AppWithSandbox, client: &Client, patient: &str) -> Result<Run, String> {
    let url = env.launch(launch_settings(patient));
    let reads_before = fhir_reads(env);
    let started = epoch_ms();
    client.goto(&url).await.map_err(|e| e.to_string())?;
    let waiting = Instant::now();
    let page = loop {
        let page = script(client, READ_PAGE).await?;
        if page["complete"] == json!(true) {
            break page;
        }
        if waiting.elapsed() > Duration::from_secs(60) {
            return Err(format!("the summary of {patient} was not complete after 60 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let number = |v: &Value| v.as_f64().unwrap_or_default();
    let (banner, summary) = (number(&page["banner"]), number(&page["summary"]));
    let fetches: Vec<Fetch> = page["fetches"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| Fetch {
            url: f["url"].as_str().unwrap_or_default().to_string(),
            start: number(&f["start"]),
            end: number(&f["end"]),
            first_byte: f["first_byte"].as_f64(),
        })
        .collect();
    let ended_by = |t: f64| fetches.iter().filter(|f| f.end <= t + 1.0).collect::<Vec<_>>();
    let first_data = fetches
        .iter()
        .filter(|f| f.url.contains("/fhir/"))
        .map(|f| f.first_byte.unwrap_or(f.end))
        .min_by(f64::total_cmp)
        .unwrap_or(summary);
    let first_rows = number(&page["first_rows"]);
    let token_end = fetches.iter().filter(|f| f.url.contains("/token")).map(|f| f.end).fold(f64::NAN, f64::max);
    let after_token: Vec<&Fetch> =
        fetches.iter().filter(|f| f.start >= token_end && f.end <= first_rows + 1.0).collect();
    let first_read = fetches
        .iter()
        .filter(|f| f.url.contains("/fhir/") && f.start >= token_end)
        .min_by(|a, b| a.start.total_cmp(&b.start))
        .map_or(f64::NAN, |f| f.end - f.start);
    Ok(Run {
        token_to_rows: first_rows - token_end,
        first_read,
        trips_token_to_rows: sequential_round_trips(&after_token),
        to_banner: banner - started,
        to_summary: summary - started,
        trips_to_banner: sequential_round_trips(&ended_by(banner)),
        trips_to_summary: sequential_round_trips(&ended_by(summary)),
        data_to_summary: summary - first_data,
        long_tasks: page["long_tasks"]
            .as_array()
            .ok_or("the long-task observer is missing from the page")?
            .iter()
            .map(number)
            .collect(),
        reads: fhir_reads(env) - reads_before,
        left_launch: number(&page["origin"]) - started,
    })
}

/// One launch of the fhirclient peer at `peer_origin`, with the same
/// launch the app gets (the EHR opens the peer's `launch.html` with the
/// same `iss` and `launch`): milliseconds from the launch to its complete
/// view, and the FHIR reads it made.
async fn launch_peer_once(
    env: &AppWithSandbox,
    peer_origin: &str,
    client: &Client,
    patient: &str,
) -> Result<PeerRun, String> {
    let app_url = env.launch(launch_settings(patient));
    let query = app_url.split_once('?').map(|(_, q)| q).ok_or_else(|| format!("no launch query in {app_url}"))?;
    let url = format!("{peer_origin}/launch.html?{query}");
    let reads_before = fhir_reads(env);
    let started = epoch_ms();
    client.goto(&url).await.map_err(|e| e.to_string())?;
    let waiting = Instant::now();
    loop {
        let page = script(client, READ_PEER).await?;
        match page["ready"].as_str() {
            Some("1") => {
                return Ok(PeerRun {
                    to_view: page["at"].as_f64().unwrap_or_default() - started,
                    reads: fhir_reads(env) - reads_before,
                    left_launch: page["origin"].as_f64().unwrap_or_default() - started,
                })
            }
            Some(other) => return Err(format!("the peer ended with ready={other}: {}", page["text"])),
            None if waiting.elapsed() > Duration::from_secs(60) => {
                return Err(format!("the peer was not ready after 60 s: {}", page["text"]))
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// `--trace`: one cold launch of the app and one of the peer, against the
/// server shape named (default when none), each document's requests,
/// marks and paints printed in ms from the moment the browser was sent to
/// the launch URL.
async fn trace(peer_dist: &str, latency: u64, shape: Option<&str>) {
    let (env, peer) = AppWithSandbox::start_with_peer(std::path::Path::new(peer_dist)).await;
    let faults = SHAPES.iter().find(|(name, _)| Some(*name) == shape).map_or("{}", |(_, faults)| faults);
    env.control("/sandbox/faults", &switches(faults, latency));
    for who in ["app", "peer"] {
        let browser = observed_browser().await;
        cdp(&browser.client, "Page.addScriptToEvaluateOnNewDocument", json!({"source": RECORD_DOCUMENT}))
            .await
            .expect("install the recorder");
        let started = epoch_ms();
        let done = if who == "app" {
            launch_once(&env, &browser.client, PATIENT).await.map(|r| r.to_summary)
        } else {
            launch_peer_once(&env, &peer.origin(), &browser.client, PATIENT).await.map(|r| r.to_view)
        };
        let timeline = script(&browser.client, READ_TIMELINE).await.expect("read the timeline");
        println!("\n== {who}, {latency} ms, cold: complete at {:.0} ms", done.unwrap_or(f64::NAN));
        for doc in timeline.as_array().into_iter().flatten() {
            let origin = doc["origin"].as_f64().unwrap_or_default() - started;
            let at = |v: &Value| v.as_f64().map_or("-".to_string(), |t| format!("{:.0}", origin + t));
            let nav: Vec<String> = doc["nav"].as_array().into_iter().flatten().map(at).collect();
            println!(
                "document {} from {origin:.0}: response, interactive, DOMContentLoaded, load {}",
                doc["url"],
                nav.join(" ")
            );
            let mut entries: Vec<&Value> = doc["entries"].as_array().into_iter().flatten().collect();
            entries.sort_by(|a, b| a[1].as_f64().unwrap_or_default().total_cmp(&b[1].as_f64().unwrap_or_default()));
            for e in entries {
                let name = e[0].as_str().unwrap_or_default();
                let name = name.split_once('?').map_or(name, |(path, _)| path);
                println!("  {:>6} {:>6} {:>6}  {name}", at(&e[1]), at(&e[2]), at(&e[3]));
            }
        }
        browser.close().await;
    }
}

/// Writes bench/crates.md from twiggy's CSV of a names-kept release build.
fn by_crate(csv_path: &str) {
    let csv = std::fs::read_to_string(csv_path).expect("read the twiggy CSV");
    let parts = crates::by_part(&csv);
    let total: usize = parts.iter().map(|(_, size)| size).sum();
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]);
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let mut report = format!(
        "# What the wasm is made of\n\nWritten by `scripts/bench.sh --by-crate` on {date}, commit {commit}: \
         `twiggy top` of a release build with names kept (wasm-bindgen, then wasm-opt -Oz), each function \
         counted for the crate it was made for; functions the optimizer inlined count where they landed.\n\n\
         | part | KB | share |\n|---|---:|---:|\n"
    );
    for (part, size) in &parts {
        report.push_str(&format!("| {part} | {} | {:.0}% |\n", kb(*size), 100.0 * *size as f64 / total as f64));
    }
    report.push_str(&format!("| **total** | **{}** | |\n", kb(total)));
    print!("{report}");
    std::fs::write(e2e::workspace_root().join("bench/crates.md"), report).expect("write bench/crates.md");
}

/// A browser with a fresh profile that records long tasks in every page.
async fn observed_browser() -> Browser {
    let browser = Browser::start().await;
    cdp(&browser.client, "Page.addScriptToEvaluateOnNewDocument", json!({"source": OBSERVE_PAGE}))
        .await
        .expect("install the long-task observer");
    browser
}

/// Median and range of a sample.
fn spread(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let median = if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (median, v.first().copied().unwrap_or_default(), v.last().copied().unwrap_or_default())
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let chromium =
        command_output(&std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()), &["--version"]);
    format!("{cpu}, {cores} cores; {chromium}")
}

fn kb(bytes: usize) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

/// A count's range over runs: "2", or "2–4".
fn range(counts: Vec<usize>) -> String {
    let (lo, hi) = (counts.iter().min().copied().unwrap_or(0), counts.iter().max().copied().unwrap_or(0));
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    }
}

fn ms((median, min, max): (f64, f64, f64)) -> String {
    format!("{median:.0} ms ({min:.0}–{max:.0})")
}

/// The server shapes the timings are taken under: sandbox fault switches.
const SHAPES: [(&str, &str); 3] = [
    ("default", "{}"),
    ("sort ignored, pages of 20", r#"{"ignore_sort": true, "page_size": 20}"#),
    ("sorted pages cost 190 ms", r#"{"sort_cost_ms": 190}"#),
];

/// The latencies and caches each shape is measured with, in order.
const RUNS: [(u64, bool); 4] = [(0, false), (50, false), (0, true), (50, true)];

/// A case's name, as `--only` matches it: "default, 0 ms, cold".
fn case_name(shape: &str, latency: u64, cold: bool) -> String {
    format!("{shape}, {latency} ms, {}", cache_name(cold))
}

fn cache_name(cold: bool) -> &'static str {
    if cold {
        "cold"
    } else {
        "warm"
    }
}

/// The sandbox's switches for a shape (`faults`, its JSON) at `latency`.
fn switches(faults: &str, latency: u64) -> Value {
    let mut switches: Value = serde_json::from_str(faults).expect("a shape's switches");
    switches["latency_ms"] = json!(latency);
    switches
}

fn cases() -> Vec<String> {
    SHAPES.iter().flat_map(|(shape, _)| RUNS.map(|(latency, cold)| case_name(shape, latency, cold))).collect()
}

/// What the command line asks for (`Trace`: one cold launch of each at
/// the given latency, its timeline printed).
#[derive(Debug, PartialEq)]
enum Mode {
    /// `only`: the cases whose name ("default, 0 ms, cold") holds this
    /// text, printed and not written (for comparing a change quickly).
    Full {
        runs: usize,
        peer: String,
        only: Option<String>,
    },
    Sizes,
    ByCrate {
        csv: String,
    },
    /// `shape`: one of [`SHAPES`] by its name (default when `None`).
    Trace {
        peer: String,
        latency: u64,
        shape: Option<String>,
    },
}

const USAGE: &str =
    "usage: bench --peer PEER_DIST [--runs N] [--only CASE] | --sizes | --by-crate TWIGGY_CSV | --trace LATENCY_MS --peer PEER_DIST [SHAPE] (scripts/bench.sh runs it)";

fn parse_args(args: &[String]) -> Result<Mode, String> {
    match args {
        [flag] if flag == "--sizes" => return Ok(Mode::Sizes),
        [flag, csv] if flag == "--by-crate" => return Ok(Mode::ByCrate { csv: csv.clone() }),
        [flag, latency, p, peer, shape @ ..] if flag == "--trace" && p == "--peer" && shape.len() < 2 => {
            let latency = latency.parse().map_err(|_| format!("--trace needs a latency in ms, not \"{latency}\""))?;
            let shape = shape.first().cloned();
            if let Some(name) = shape.as_deref().filter(|name| !SHAPES.iter().any(|(known, _)| known == name)) {
                let known: Vec<&str> = SHAPES.iter().map(|(known, _)| *known).collect();
                return Err(format!("no server shape \"{name}\"; the shapes are: {}", known.join("; ")));
            }
            return Ok(Mode::Trace { peer: peer.clone(), latency, shape });
        }
        _ => {}
    }
    let (mut runs, mut peer, mut only) = (5, None, None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        match (flag.as_str(), rest.next()) {
            ("--runs", Some(n)) => match n.parse::<usize>() {
                Ok(n) if n > 0 => runs = n,
                _ => return Err(format!("--runs needs a number of runs above 0, not \"{n}\"")),
            },
            ("--peer", Some(dir)) => peer = Some(dir.clone()),
            ("--only", Some(case)) => only = Some(case.clone()),
            _ => return Err(format!("unexpected arguments: {}", args.join(" "))),
        }
    }
    let peer = peer.ok_or("the timing run needs --peer: the fhirclient peer's build, which scripts/bench.sh makes")?;
    Ok(Mode::Full { runs, peer, only })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = parse_args(&args).unwrap_or_else(|problem| {
        eprintln!("{problem}\n{USAGE}");
        std::process::exit(2);
    });
    let runs = match mode {
        Mode::ByCrate { csv } => {
            by_crate(&csv);
            return;
        }
        Mode::Sizes => None,
        Mode::Full { runs, peer, only } => Some((runs, peer, only)),
        Mode::Trace { peer, latency, shape } => {
            trace(&peer, latency, shape.as_deref()).await;
            return;
        }
    };
    let out = e2e::workspace_root().join("bench/results.md");

    let dist = e2e::dist_dir();
    let assets = sizes::first_visit(&dist);
    let total = |f: fn(&sizes::AssetSize) -> usize| assets.iter().map(f).sum::<usize>();
    let (raw, gzip, brotli) = (total(|a| a.raw), total(|a| a.gzip), total(|a| a.brotli));
    for asset in &assets {
        println!("{:>10} {:>10} {:>10}  {}", kb(asset.raw), kb(asset.gzip), kb(asset.brotli), asset.name);
    }
    println!("first visit: {} raw, {} gzip, {} brotli", kb(raw), kb(gzip), kb(brotli));
    let check_page: usize = sizes::check_page(&dist).iter().map(|a| a.brotli).sum();
    if check_page > 0 {
        println!("not in a first visit: the deployment check page (/check/), {} brotli", kb(check_page));
    }
    let Some((runs, peer_dist, only)) = runs else {
        // Sizes only: a quick look while trimming, and the budget check
        // scripts/test.sh makes after the release build. Nothing written.
        match sizes::against_budget(brotli) {
            Ok(spare) => println!("within the 150 KB brotli budget, {} to spare", kb(spare)),
            Err(over) => {
                eprintln!(
                    "over the 150 KB brotli budget by {}: see bench/README.md for what each part costs \
                     and scripts/bench.sh --by-crate for what grew",
                    kb(over)
                );
                std::process::exit(1);
            }
        }
        return;
    };

    if let Some(only) = only.as_deref().filter(|only| !cases().iter().any(|case| case.contains(only))) {
        eprintln!("no case holds \"{only}\"; the cases are:\n{}", cases().join("\n"));
        std::process::exit(2);
    }
    let (env, peer) = AppWithSandbox::start_with_peer(std::path::Path::new(&peer_dist)).await;
    let peer_origin = peer.origin();
    // One browser for every warm run: a clinician opens the app many
    // times a day, so its files are in the HTTP cache after the first
    // launch. The peer's warm runs share it (another origin, its own cache
    // entries).
    let browser = observed_browser().await;
    let client = browser.client.clone();

    let mut timing_rows = Vec::new();
    for (shape, faults) in SHAPES {
        for (latency, cold) in RUNS {
            let case = case_name(shape, latency, cold);
            if only.as_ref().is_some_and(|only| !case.contains(only.as_str())) {
                continue;
            }
            let cache = cache_name(cold);
            env.control("/sandbox/faults", &switches(faults, latency));
            let (mut app, mut fhirclient) = (Vec::new(), Vec::new());
            if !cold {
                launch_once(&env, &client, PATIENT).await.expect("warm-up launch");
                launch_peer_once(&env, &peer_origin, &client, PATIENT).await.expect("warm-up launch of the peer");
            }
            // Interleaved, A B then B A, so drift in the machine's speed
            // falls on both alike.
            for i in 0..runs {
                for peer_turn in if i % 2 == 0 { [false, true] } else { [true, false] } {
                    let fresh = if cold { Some(observed_browser().await) } else { None };
                    let c = fresh.as_ref().map_or(&client, |b| &b.client);
                    if peer_turn {
                        fhirclient.push(launch_peer_once(&env, &peer_origin, c, PATIENT).await.expect("peer launch"));
                    } else {
                        app.push(launch_once(&env, c, PATIENT).await.expect("measured launch"));
                    }
                    if let Some(fresh) = fresh {
                        fresh.close().await;
                    }
                }
            }
            let banner = spread(app.iter().map(|r| r.to_banner));
            let summary = spread(app.iter().map(|r| r.to_summary));
            let peer_view = spread(fhirclient.iter().map(|r| r.to_view));
            let reads = format!(
                "{} / {}",
                range(app.iter().map(|r| r.reads).collect()),
                range(fhirclient.iter().map(|r| r.reads).collect())
            );
            let trips = |f: fn(&Run) -> usize| range(app.iter().map(f).collect());
            let ratio = |a: (f64, f64, f64)| if peer_view.0 > 0.0 { a.0 / peer_view.0 } else { f64::NAN };
            println!(
                "{case}: banner {}, summary {}, peer {} ({:.2} / {:.2}); launch page left at {} (app), {} (peer)",
                ms(banner),
                ms(summary),
                ms(peer_view),
                ratio(summary),
                ratio(banner),
                ms(spread(app.iter().map(|r| r.left_launch))),
                ms(spread(fhirclient.iter().map(|r| r.left_launch)))
            );
            timing_rows.push(format!(
                "| {shape} | {latency} ms | {cache} | {runs} | {} | {} | {} | **{:.2}** | **{:.2}** | {} | {} | {reads} |",
                ms(banner),
                ms(summary),
                ms(peer_view),
                ratio(summary),
                ratio(banner),
                trips(|r| r.trips_to_banner),
                trips(|r| r.trips_to_summary)
            ));
        }
    }

    if only.is_some() {
        browser.close().await;
        return;
    }
    env.control("/sandbox/faults", &json!({"latency_ms": 0}));
    launch_once(&env, &client, LARGE_PATIENT).await.expect("warm-up launch");
    let mut large = Vec::new();
    for _ in 0..runs {
        large.push(launch_once(&env, &client, LARGE_PATIENT).await.expect("large-patient launch"));
    }
    // The first rows, where a round trip costs something: 50 ms, cold.
    env.control("/sandbox/faults", &json!({"latency_ms": 50}));
    let mut first_rows = Vec::new();
    for _ in 0..runs {
        let fresh = observed_browser().await;
        first_rows.push(launch_once(&env, &fresh.client, LARGE_PATIENT).await.expect("large-patient launch"));
        fresh.close().await;
    }
    env.control("/sandbox/faults", &json!({"latency_ms": 0}));
    let token_to_rows = spread(first_rows.iter().map(|r| r.token_to_rows));
    let first_read = spread(first_rows.iter().map(|r| r.first_read));
    let rows_trips = range(first_rows.iter().map(|r| r.trips_token_to_rows).collect());
    println!("{LARGE_PATIENT} at 50 ms: token → first rows {}, first read {}", ms(token_to_rows), ms(first_read));
    let data_to_summary = spread(large.iter().map(|r| r.data_to_summary));
    let long_tasks: Vec<f64> = large.iter().flat_map(|r| r.long_tasks.iter().copied()).collect();
    let longest = long_tasks.iter().copied().fold(0.0, f64::max);
    println!("{LARGE_PATIENT}: first data byte to summary {}, longest task {longest:.0} ms", ms(data_to_summary));
    browser.close().await;

    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]);
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let mut report = String::new();
    report.push_str("# Benchmark results\n\n");
    report
        .push_str("Written by `scripts/bench.sh`; what it measures and what was changed to reach these numbers is in ");
    report.push_str("[README.md](README.md).\n\n");
    report.push_str(&format!("- Date: {date}\n- Commit: {commit}\n- Machine: {}\n\n", machine()));
    report.push_str("## First visit (release build)\n\n| file | raw | gzip | brotli |\n|---|---:|---:|---:|\n");
    for asset in &assets {
        report.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            asset.name,
            kb(asset.raw),
            kb(asset.gzip),
            kb(asset.brotli)
        ));
    }
    report.push_str(&format!("| **total** | {} | {} | **{}** |\n\n", kb(raw), kb(gzip), kb(brotli)));
    report.push_str(&match sizes::against_budget(brotli) {
        Ok(spare) => format!("Budget 150 KB brotli: met, {} to spare.\n\n", kb(spare)),
        Err(over) => format!("Budget 150 KB brotli: **over by {}**.\n\n", kb(over)),
    });
    report.push_str(&format!(
        "## Launch to banner and to the complete summary, beside the fhirclient peer (patient {PATIENT})\n\n\
         The app and `../shared/peer-fhirclient` (React 18 + fhirclient 2.6.3, built by `scripts/bench.sh`) are \
         each served by nginx on an origin of their own with the same cache rules, launched by the same EHR launch \
         against the sandbox's standard SMART server, in turn (A B, then B A). The peer's time is to its \
         `data-ready` mark: banner and every list in the DOM.\n\n\
         Server shapes: *default* honours `_sort` and `_count`; *sort ignored, pages of 20* answers oldest first \
         whatever `_sort` says and caps every page at 20 entries (the sandbox's `ignore_sort` and `page_size` \
         switches); *sorted pages cost 190 ms* honours both, but each page it answers sorted takes it 190 ms \
         more (`sort_cost_ms`: what one server this project did not write took, issue #15), which the peer's \
         unsorted pages do not pay. Warm cache: one browser for every run, after one unmeasured launch of each (a clinician's \
         day). Cold cache: a new browser profile for each run (the first launch after a deployment).\n\n\
         Median (min–max). Ratios are of medians: the app's complete summary / the peer's complete view (target \
         ≤ 0.8), and the app's banner / the peer's complete view (target ≤ 0.6). Round trips (the app's): the \
         longest chain of requests in which each started only after the previous one had ended; with 0 ms of \
         latency, requests that merely finish before the next one starts also chain up.\n\n\
         | server shape | latency per sandbox response | HTTP cache | runs | app: launch → banner | app: launch → complete summary | peer: launch → complete view | summary / peer | banner / peer | round trips to banner | round trips to summary | FHIR reads, app / peer |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    ));
    for row in &timing_rows {
        report.push_str(row);
        report.push('\n');
    }
    report.push_str(&format!(
        "\n## A patient with 2,000+ observations ({LARGE_PATIENT})\n\n\
         - First byte of FHIR data → summary drawn: {} over {runs} runs\n\
         - Long tasks (over 50 ms) during those launches: {}; the longest {longest:.0} ms (target: none over 200 ms)\n\
         - At 50 ms of latency, cold cache: token response → first rows drawn {}, of which the first FHIR read \
         itself (its preflight included) took {}; requests in sequence between the two: {rows_trips} \
         (target: first rows within one round trip of the token response)\n",
        ms(data_to_summary),
        long_tasks.len(),
        ms(token_to_rows),
        ms(first_read)
    ));
    std::fs::write(&out, report).expect("write bench/results.md");
    println!("wrote {}", out.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn cases_are_named_as_only_matches_them() {
        let cases = cases();
        assert_eq!(cases.len(), SHAPES.len() * RUNS.len());
        assert_eq!(cases[0], "default, 0 ms, warm");
        assert!(cases.contains(&"sort ignored, pages of 20, 50 ms, cold".to_string()));
        assert_eq!(cases.iter().filter(|c| c.contains("0 ms, cold")).count(), 6, "\"0 ms\" is in \"50 ms\" too");
    }

    #[test]
    fn reads_the_modes_and_refuses_anything_else() {
        assert_eq!(parse(&["--peer", "p"]), Ok(Mode::Full { runs: 5, peer: "p".into(), only: None }));
        assert_eq!(parse(&["--runs", "10", "--peer", "p"]), Ok(Mode::Full { runs: 10, peer: "p".into(), only: None }));
        assert_eq!(
            parse(&["--only", "0 ms, cold", "--peer", "p"]),
            Ok(Mode::Full { runs: 5, peer: "p".into(), only: Some("0 ms, cold".into()) })
        );
        assert!(parse(&[]).unwrap_err().contains("--peer"));
        assert!(parse(&["--runs", "3"]).unwrap_err().contains("--peer"));
        assert_eq!(parse(&["--sizes"]), Ok(Mode::Sizes));
        assert_eq!(parse(&["--by-crate", "top.csv"]), Ok(Mode::ByCrate { csv: "top.csv".into() }));
        assert_eq!(
            parse(&["--trace", "50", "--peer", "p"]),
            Ok(Mode::Trace { peer: "p".into(), latency: 50, shape: None })
        );
        assert_eq!(
            parse(&["--trace", "0", "--peer", "p", "sort ignored, pages of 20"]),
            Ok(Mode::Trace { peer: "p".into(), latency: 0, shape: Some("sort ignored, pages of 20".into()) })
        );
        assert!(parse(&["--trace", "0", "--peer", "p", "sorted"]).unwrap_err().contains("the shapes are: default;"));
        assert!(parse(&["--trace", "slow", "--peer", "p"]).unwrap_err().contains("latency"));
        assert!(parse(&["--runs", "0"]).unwrap_err().contains("above 0"));
        assert!(parse(&["--runs", "many"]).is_err());
        assert!(parse(&["--help"]).unwrap_err().contains("--help"));
        assert!(parse(&["--sizes", "--runs", "3"]).is_err());
    }
}
