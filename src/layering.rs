//! The app's layering, checked: every `crate::` path in `src/` must name a
//! part the importing part may use. Parts use only those below them, so the
//! parts' import graph has no cycle. Comments are not read (a doc link is
//! not an import).

use std::path::{Path, PathBuf};

/// Each part of the app, and the parts it may import from.
const MAY_IMPORT: [(&str, &[&str]); 7] = [
    ("browser", &[]),
    ("session", &["browser"]),
    ("sign_in", &["session", "browser"]),
    ("context", &[]),
    ("views", &["context", "sign_in", "session", "browser"]),
    ("pages", &["views", "context", "sign_in", "session", "browser"]),
    ("app", &["pages", "views", "context", "sign_in", "session", "browser"]),
];

/// The part a file of `src/` belongs to (`None`: the crate root).
fn part_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" | "layering.rs" => None,
        file => Some(file.trim_end_matches(".rs").to_string()),
    }
}

/// The parts named by `crate::…` paths in `source`, outside comments.
fn imported_parts(source: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for line in source.lines().filter(|line| !line.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let after = &line.as_bytes()[at + "crate::".len()..];
            let name: String =
                after.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').map(|b| char::from(*b)).collect();
            // `crate::{a, b}` hides which parts it names: not used here.
            parts.push(if name.is_empty() { "{".to_string() } else { name });
        }
    }
    parts
}

/// Every upward or sideways import in `files` (path relative to `src/`, text).
fn violations(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, source) in files {
        let Some(part) = part_of(path) else { continue };
        let Some((_, allowed)) = MAY_IMPORT.iter().find(|(name, _)| *name == part) else {
            found.push(format!("{}: the part `{part}` has no place in the layering", path.display()));
            continue;
        };
        for imported in imported_parts(source) {
            if imported != part && !allowed.contains(&imported.as_str()) {
                found.push(format!("{}: `{part}` imports `crate::{imported}`", path.display()));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file is readable");
            out.push((path.strip_prefix(root).unwrap().to_path_buf(), text));
        }
    }
}

#[test]
fn no_part_of_the_app_imports_from_a_layer_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &root, &mut files);
    assert!(files.len() > 20, "the app's sources were not found under {}", root.display());
    let found = violations(&files);
    assert!(found.is_empty(), "imports against the layering (see src/lib.rs):\n{}", found.join("\n"));
}

#[test]
fn the_check_finds_upward_sideways_and_unplaced_imports() {
    let file = |path: &str, text: &str| (PathBuf::from(path), text.to_string());
    let files = [
        file("session/refresh.rs", "use crate::pages::LaunchPage;\nuse crate::browser::Effects;"),
        file("sign_in/start.rs", "// [`Summary`]: crate::views::Summary\nuse crate::session::SessionHandle;"),
        file("context.rs", "use crate::{session, views};"),
        file("widgets/x.rs", "use crate::browser;"),
        file("views/a.rs", "use crate::views::b; use crate::context::context;"),
    ];
    assert_eq!(
        violations(&files),
        [
            "session/refresh.rs: `session` imports `crate::pages`",
            "context.rs: `context` imports `crate::{`",
            "widgets/x.rs: the part `widgets` has no place in the layering",
        ]
    );
}
