//! `smart-fuzz`: drives every parser of outside input in smart-core with
//! millions of inputs, most of them valid documents mutated (bytes, and
//! for JSON the document's values), some from scratch. A panic (or a
//! failed assertion of what must hold for any input) is a finding: it is
//! reported with its input, and the run fails. Runs on stable Rust, with
//! no coverage instrumentation; `scripts/fuzz.sh` is the command.
//!
//! ```text
//! smart-fuzz [--inputs N] [--only NAME] [--seed S] [--threads T] [--out FILE]
//! ```

mod mutate;
mod targets;

use std::cell::RefCell;
use std::panic;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use mutate::{from_scratch, mutate_bytes, mutate_json, Rng};
use serde_json::Value;
use targets::Target;

const USAGE: &str = "usage: smart-fuzz [--inputs N] [--only NAME] [--seed S] [--threads T] [--out FILE]";

/// Findings kept per target (each with its input).
const KEPT_FINDINGS: usize = 5;

thread_local! {
    /// The message of the last panic on this thread (the hook's, quietly).
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
    /// Set while a parser runs: its panics are findings, kept quietly;
    /// any other panic is the fuzzer's own, and is shown.
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs a parser on `text`; `Err` when it panicked.
fn run_caught(run: fn(&str), text: &str) -> Result<(), ()> {
    IN_PARSER.set(true);
    let outcome = panic::catch_unwind(|| run(text)).map_err(|_| ());
    IN_PARSER.set(false);
    outcome
}

struct Options {
    inputs: u64,
    only: Option<String>,
    seed: u64,
    threads: usize,
    out: Option<String>,
}

fn options() -> Result<Options, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut options = Options { inputs: 10_000_000, only: None, seed: 0x5EED, threads, out: None };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        let number =
            |text: String| text.replace('_', "").parse::<u64>().map_err(|_| format!("{flag}: not a number: {text}"));
        match flag.as_str() {
            "--inputs" => options.inputs = number(value()?)?,
            "--seed" => options.seed = number(value()?)?,
            "--threads" => options.threads = number(value()?)?.max(1) as usize,
            "--only" => options.only = Some(value()?),
            "--out" => options.out = Some(value()?),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(options)
}

struct Outcome {
    inputs: u64,
    panics: u64,
    findings: Vec<(String, String)>,
    seconds: f64,
}

/// One input for `target`: a mutated seed most of the time.
fn input(rng: &mut Rng, target: &Target, dictionary: &[&str], parsed: &[Value]) -> String {
    match rng.below(10) {
        0 => from_scratch(rng, dictionary),
        1..=5 if target.json && !parsed.is_empty() => {
            let seed = rng_pick(rng, parsed);
            let document = mutate_json(rng, seed, dictionary);
            let text = document.to_string();
            if rng.chance(4) {
                mutate_bytes(rng, text.as_bytes(), dictionary, 2)
            } else {
                text
            }
        }
        _ => {
            let seed = rng_pick(rng, &target.seeds);
            mutate_bytes(rng, seed.as_bytes(), dictionary, 8)
        }
    }
}

fn rng_pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

fn fuzz(target: &Target, options: &Options) -> Outcome {
    let parsed: Vec<Value> = target.seeds.iter().filter_map(|s| serde_json::from_str(s).ok()).collect();
    if target.json && parsed.is_empty() {
        eprintln!("smart-fuzz: {}: no seed is JSON; its documents are mutated as bytes only", target.name);
    }
    let mut dictionary = target.dictionary.to_vec();
    if target.json {
        dictionary.extend_from_slice(targets::JSON_WORDS);
    }
    let done = AtomicU64::new(0);
    let panics = AtomicU64::new(0);
    let findings = Mutex::new(Vec::new());
    // The seeds themselves first.
    for seed in &target.seeds {
        if run_caught(target.run, seed).is_err() {
            panics.fetch_add(1, Ordering::Relaxed);
            let message = LAST_PANIC.with(|m| m.borrow().clone());
            findings.lock().unwrap_or_else(|e| e.into_inner()).push((format!("(a seed) {message}"), seed.clone()));
        }
    }
    let per_thread = options.inputs.div_ceil(options.threads as u64);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..options.threads as u64 {
            let (done, panics, findings, parsed, dictionary) = (&done, &panics, &findings, &parsed, &dictionary);
            scope.spawn(move || {
                let mut rng =
                    Rng::new(options.seed ^ (thread + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ hash(target.name));
                let count = per_thread.min(options.inputs.saturating_sub(thread * per_thread));
                for _ in 0..count {
                    let text = input(&mut rng, target, dictionary, parsed);
                    if run_caught(target.run, &text).is_err() {
                        panics.fetch_add(1, Ordering::Relaxed);
                        let message = LAST_PANIC.with(|m| m.borrow().clone());
                        let mut kept = findings.lock().unwrap_or_else(|e| e.into_inner());
                        if kept.len() < KEPT_FINDINGS {
                            kept.push((message, text));
                        }
                    }
                }
                done.fetch_add(count, Ordering::Relaxed);
            });
        }
    });
    Outcome {
        inputs: done.into_inner(),
        panics: panics.into_inner(),
        findings: findings.into_inner().unwrap_or_default(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Keeps each panic's message for the report; shows it only when it is
/// not a parser's (once per process).
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            if !IN_PARSER.get() {
                eprintln!("smart-fuzz panicked: {payload}{location}");
            }
            LAST_PANIC.with(|m| *m.borrow_mut() = format!("{payload}{location}"));
        }));
    });
}

fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn main() -> std::process::ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("smart-fuzz: {message}");
            return std::process::ExitCode::FAILURE;
        }
    };
    install_panic_hook();
    let targets: Vec<Target> =
        targets::all().into_iter().filter(|t| options.only.as_deref().is_none_or(|only| only == t.name)).collect();
    if targets.is_empty() {
        eprintln!("smart-fuzz: no target named {:?}", options.only);
        return std::process::ExitCode::FAILURE;
    }
    let mut report =
        String::from("| parser | covers | inputs | panics | seconds |\n| --- | --- | ---: | ---: | ---: |\n");
    let mut details = String::new();
    let mut total_panics = 0;
    for target in &targets {
        let outcome = fuzz(target, &options);
        total_panics += outcome.panics;
        let line = format!(
            "| {} | {} | {} | {} | {:.0} |\n",
            target.name, target.covers, outcome.inputs, outcome.panics, outcome.seconds
        );
        eprint!("{line}");
        report.push_str(&line);
        for (message, input) in &outcome.findings {
            details.push_str(&format!("- `{}`: {message}\n  input: `{}`\n", target.name, input.escape_debug()));
        }
    }
    let summary = format!(
        "{} parsers, {} inputs each (seed {}, {} threads), {} panics.\n",
        targets.len(),
        options.inputs,
        options.seed,
        options.threads,
        total_panics
    );
    let text = format!(
        "{report}\n{summary}{}",
        if details.is_empty() { String::new() } else { format!("\nFindings:\n{details}") }
    );
    println!("{text}");
    if let Some(path) = &options.out {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("smart-fuzz: cannot write {path}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if total_panics > 0 {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(inputs: u64) -> Options {
        Options { inputs, only: None, seed: 1, threads: 2, out: None }
    }

    #[test]
    fn every_target_runs_its_seeds_clean() {
        for target in targets::all() {
            assert!(!target.seeds.is_empty(), "{} has no seed", target.name);
            let outcome = fuzz(&target, &options(0));
            assert_eq!(outcome.panics, 0, "{}: {:?}", target.name, outcome.findings);
        }
    }

    fn planted(text: &str) {
        // Reached only through a document whose "b" value became an array.
        if let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(text) {
            assert!(!doc.get("b").is_some_and(Value::is_array), "planted");
        }
    }

    #[test]
    fn a_planted_panic_behind_the_json_parser_is_found_with_its_input() {
        let target = Target {
            name: "planted",
            covers: "a test",
            seeds: vec![r#"{"a": 1, "b": "two", "c": [3]}"#.into()],
            json: true,
            dictionary: &["\"b\""],
            run: planted,
        };
        install_panic_hook();
        let outcome = fuzz(&target, &options(20_000));
        assert_eq!(outcome.inputs, 20_000);
        assert!(outcome.panics > 0, "the fuzzer missed it");
        let (message, input) = &outcome.findings[0];
        assert!(message.contains("planted"), "{message}");
        assert!(serde_json::from_str::<Value>(input).unwrap()["b"].is_array(), "{input}");
    }
}
