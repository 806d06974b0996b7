//! What the optimized wasm is made of, by part: reads `twiggy top --format
//! csv` of a release build with names kept (`scripts/bench.sh --by-crate`
//! makes one) and sums each function and data segment into a part.

use std::collections::BTreeMap;

/// Parts of the bundle and the crates that make them up. A function
/// counts for the first crate in its path that a part names (so
/// `core::ptr::drop_in_place<smart_core::Error>` counts for the core).
const PARTS: &[(&str, &[&str])] = &[
    (
        "Leptos (tachys, reactive_graph, leptos_dom, either_of, any_spawner, slotmap, indexmap)",
        &[
            "tachys",
            "reactive_graph",
            "leptos",
            "leptos_dom",
            "either_of",
            "any_spawner",
            "slotmap",
            "indexmap",
            "hashbrown",
            "send_wrapper",
            "futures",
            "futures_util",
            "futures_channel",
            "or_poisoned",
            "throw_error",
            "next_tuple",
            "oco_ref",
            "wasm_bindgen_futures",
        ],
    ),
    ("this app: views and async flows", &["smart_app"]),
    ("protocol core (smart-core)", &["smart_core"]),
    ("serde_json + serde", &["serde_json", "serde_core", "serde", "zmij", "itoa", "ryu", "memchr"]),
    (
        "sha2, base64ct, getrandom, form_urlencoded",
        &["sha2", "base64ct", "getrandom", "digest", "block_buffer", "form_urlencoded", "percent_encoding"],
    ),
    ("wasm-bindgen, js-sys, web-sys", &["wasm_bindgen", "js_sys", "web_sys"]),
    ("Rust std: formatting, collections, allocator", &["core", "alloc", "std", "dlmalloc"]),
];

const TEXT: &str = "text: messages, labels, field names (data segments)";
const OTHER: &str = "other (unnamed glue)";

/// The crate names in a symbol, in order (`a::b<c[1f]::d>` → a, c).
fn crates_in(symbol: &str) -> Vec<String> {
    // Drop the `[hash]` rustc puts after std crate names.
    let mut plain = String::with_capacity(symbol.len());
    let mut in_hash = false;
    for c in symbol.chars() {
        match c {
            '[' => in_hash = true,
            ']' if in_hash => in_hash = false,
            _ if !in_hash => plain.push(c),
            _ => {}
        }
    }
    plain
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|path| path.contains("::"))
        .filter_map(|path| path.split("::").next().filter(|name| !name.is_empty()))
        .map(str::to_string)
        .collect()
}

fn part_of(symbol: &str) -> &'static str {
    if symbol.starts_with("data segment") {
        return TEXT;
    }
    let crates = crates_in(symbol);
    // Generic std code counts for the first non-std crate it was made for.
    let std = PARTS.last().map(|(_, names)| *names).unwrap_or_default();
    let generic_first = crates.iter().filter(|n| !std.contains(&n.as_str())).chain(crates.iter());
    for name in generic_first {
        if let Some((part, _)) = PARTS.iter().find(|(_, names)| names.contains(&name.as_str())) {
            return part;
        }
    }
    OTHER
}

/// The first two fields of a CSV line (quoted or not, `""` escapes).
fn name_and_size(line: &str) -> Option<(String, usize)> {
    let (name, rest) = match line.strip_prefix('"') {
        Some(quoted) => {
            let mut name = String::new();
            let mut chars = quoted.char_indices().peekable();
            loop {
                let (i, c) = chars.next()?;
                if c != '"' {
                    name.push(c);
                } else if chars.peek().is_some_and(|(_, next)| *next == '"') {
                    chars.next();
                    name.push('"');
                } else {
                    break (name, quoted.get(i + 1..)?.strip_prefix(',')?);
                }
            }
        }
        None => line.split_once(',').map(|(name, rest)| (name.to_string(), rest))?,
    };
    Some((name, rest.split(',').next()?.parse().ok()?))
}

/// Sizes by part, largest first, from twiggy's CSV (`Name,ShallowSize,…`).
pub fn by_part(csv: &str) -> Vec<(&'static str, usize)> {
    let mut sizes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (name, size) in csv.lines().skip(1).filter_map(name_and_size) {
        if name.starts_with("custom section") || name.contains("subsection") {
            continue;
        }
        *sizes.entry(part_of(&name)).or_default() += size;
    }
    let mut parts: Vec<_> = sizes.into_iter().collect();
    parts.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_count_for_the_crate_they_were_made_for() {
        assert_eq!(part_of("core::ptr::drop_in_place<smart_core::error::Error>::h12"), "protocol core (smart-core)");
        assert_eq!(part_of("tachys::view::Render::build::h1"), PARTS[0].0);
        assert_eq!(part_of("<f64 as core[c59]::fmt::Display>::fmt"), PARTS[6].0);
        assert_eq!(part_of("data segment \".rodata\""), TEXT);
        assert_eq!(part_of("code[31]"), OTHER);
    }

    #[test]
    fn csv_rows_are_summed_by_part() {
        let csv = "Name,ShallowSize,ShallowSizePercent,Retained,RetainedPercent\n\
                   smart_app::main::h1,100,1.0,,\n\
                   \"smart_app::a, b::h2\",50,1.0,,\n\
                   \"\"\"function names\"\" subsection\",999,1.0,,\n\
                   \"data segment \"\".rodata\"\"\",30,1.0,,\n\
                   \"serde_json::de::h3\",70,1.0,,\n";
        assert_eq!(by_part(csv), vec![(PARTS[1].0, 150), (PARTS[3].0, 70), (TEXT, 30)]);
    }
}
