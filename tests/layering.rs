//! The house rules, held against the code: every `crate::` import in src/ runs downward through
//! the floors written down in DESIGN.md ("Who may import whom"), no two modules import each
//! other, and the pure floors use no async runtime, AWS SDK or CLI crate. A new upward import
//! fails this test (and CI); the second test shows that it does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The floors, lowest first. A module (or, inside `lake`, a file) may import only modules on
/// lower floors and its own module's files. Modules on one floor are peers: they do not import
/// one another.
const FLOORS: &[&[&str]] = &[
    &["model"],
    &["config"],
    &["lake::keys", "lake::lineage", "lake::layout", "lake::docs"],
    &["schema"],
    &["decode"],
    &["store"],
    &["format"],
    &["pipeline"],
    &["lake"],
    &["ingest"],
    &["repair", "status", "source", "athena", "compact"],
    &["reconcile"],
    &["sim"],
];

/// Imports from a peer floor that are allowed: the commands reach the registry only through
/// `ingest::registry`.
const ALLOWED_ACROSS: &[(&str, &str)] = &[
    ("repair", "ingest::registry"),
    ("status", "ingest::registry"),
    ("source", "ingest::registry"),
    ("athena", "ingest::registry"),
    ("compact", "ingest::registry"),
];

/// Crates the pure floors must not use (I/O, runtimes, CLI): they are data in, data out.
const PURE: &[&str] = &[
    "model",
    "config",
    "lake::keys",
    "lake::lineage",
    "lake::layout",
    "lake::docs",
    "schema",
    "decode",
    "format",
    "pipeline",
];
const IMPURE_CRATES: &[&str] = &[
    "tokio",
    "aws_sdk_s3",
    "aws_config",
    "clap",
    "indicatif",
    "lambda_runtime",
];
/// Crates only the binaries may use.
const BIN_ONLY_CRATES: &[&str] = &["clap", "indicatif", "lambda_runtime"];

/// The unit a path belongs to: `lake::keys` for the pure lake files, else the top-level module.
fn unit(path: &[&str]) -> String {
    match path {
        ["lake", f, ..] if ["keys", "lineage", "layout", "docs"].contains(f) => {
            format!("lake::{f}")
        }
        [top, ..] => top.to_string(),
        [] => String::new(),
    }
}

fn floor(unit: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&unit))
}

/// The module path of a source file: `src/lake/keys.rs` -> [lake, keys].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b` path used in code (comments skipped).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let tail = &rest[i + "crate::".len()..];
            let path: Vec<String> = tail
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_lowercase()))
                .collect();
            if !path.is_empty() {
                out.push(path);
            }
            rest = tail;
        }
    }
    out
}

/// Breaks of the rules in `files` (path relative to src/ -> text).
fn violations(files: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut edges = std::collections::BTreeSet::new();
    for (rel, text) in files {
        if rel.starts_with("bin") || rel == Path::new("lib.rs") {
            continue;
        }
        let me = module_of(rel);
        let me_ref: Vec<&str> = me.iter().map(String::as_str).collect();
        let my_unit = unit(&me_ref);
        let Some(my_floor) = floor(&my_unit) else {
            out.push(format!(
                "src/{}: module {my_unit} has no floor in FLOORS",
                rel.display()
            ));
            continue;
        };
        for path in crate_paths(text) {
            let p: Vec<&str> = path.iter().map(String::as_str).collect();
            let them = unit(&p);
            if them == my_unit || (my_unit == "lake" && them.starts_with("lake::")) {
                continue;
            }
            let Some(their_floor) = floor(&them) else {
                continue;
            };
            let joined = p.join("::");
            let allowed = ALLOWED_ACROSS
                .iter()
                .any(|(from, to)| *from == my_unit && joined.starts_with(to));
            if their_floor >= my_floor && !allowed {
                out.push(format!(
                    "src/{}: imports crate::{joined} ({them}, floor {their_floor}) from {my_unit} (floor {my_floor}): imports must run downward",
                    rel.display()
                ));
            }
            edges.insert((my_unit.clone(), them));
        }
        let crates: &[&str] = if PURE.contains(&my_unit.as_str()) {
            IMPURE_CRATES
        } else {
            BIN_ONLY_CRATES
        };
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("").trim_start();
            for c in crates {
                if code.starts_with(&format!("use {c}::")) || code.contains(&format!(" {c}::")) {
                    out.push(format!(
                        "src/{}: uses {c}, which {my_unit} must not",
                        rel.display()
                    ));
                }
            }
        }
    }
    for (a, b) in &edges {
        if edges.contains(&(b.clone(), a.clone())) && a < b {
            out.push(format!("{a} and {b} import each other"));
        }
    }
    out
}

fn source_files() -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

#[test]
fn every_import_runs_downward() {
    let files = source_files();
    assert!(files.len() > 50, "read src/");
    let v = violations(&files);
    assert!(
        v.is_empty(),
        "the layering in DESIGN.md is broken:\n{}",
        v.join("\n")
    );
}

#[test]
fn an_upward_import_is_caught() {
    let mut files = source_files();
    let pipeline = PathBuf::from("pipeline/mod.rs");
    let text = files[&pipeline].clone();
    files.insert(
        pipeline,
        format!("use crate::ingest::replay::Summary;\n{text}"),
    );
    let schema = PathBuf::from("schema/mod.rs");
    let text = files[&schema].clone();
    files.insert(schema, format!("use tokio::sync::Mutex;\n{text}"));
    let v = violations(&files);
    assert!(
        v.iter()
            .any(|l| l.contains("src/pipeline/mod.rs: imports crate::ingest::replay (ingest")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|l| l.contains("src/schema/mod.rs: uses tokio")),
        "{v:?}"
    );
}
