//! The README stays true: its configuration table, .env.example and the code agree, and the
//! quick start's sample output is what the pipeline prints.

mod common;

use cdc_sink::config::env;
use common::*;
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

#[test]
fn configuration_table_env_example_and_code_agree() {
    let example: BTreeSet<String> = read(".env.example")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let readme = read("README.md");
    let table: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .filter(|k| {
            k.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        })
        .collect();
    let code: BTreeSet<String> = env::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(example, code, ".env.example vs config::env::ALL");
    assert_eq!(
        table, code,
        "README configuration table vs config::env::ALL"
    );
    // The template sets the variables it passes from parameters.
    let template = read("template.yaml");
    for v in [
        env::BUCKET,
        env::PREFIX,
        env::FORMAT,
        env::COMPRESSION,
        env::PARTITION,
        env::PARTITION_TIME,
        env::BEFORE_IMAGE_KEY,
        env::KMS_KEY_ID,
    ] {
        assert!(
            template.contains(&format!("{v}:")),
            "template.yaml does not set {v}"
        );
    }
}

#[tokio::test]
async fn quick_start_output_in_the_readme_is_what_replay_prints() {
    // The quick start replays the sample full load (whose create-table records declare the
    // types) and then the changes, as `replay` does: through the schema registry.
    let dir = tempfile::tempdir().unwrap();
    let names = ["full_load.json", "kinesis_test_input.json"];
    let events: Vec<Vec<u8>> = names.iter().map(|n| sample_bytes(n)).collect();
    let batches = replay_registered(dir.path(), &events).await;
    for (name, b) in names.iter().zip(&batches) {
        let line = format!("test-input/{name}: {}", b.counts);
        assert!(
            read("README.md").contains(&line),
            "README quick start should show:\n{line}"
        );
    }
    let command = "cargo run --release -- replay test-input/full_load.json test-input/kinesis_test_input.json --out out/";
    assert!(read("README.md").contains(command));
    assert!(
        read("tests/run.sh").contains(command),
        "tests/run.sh runs the quick start"
    );
}

#[test]
fn the_recover_and_redrive_commands_in_the_readme_run_in_ci() {
    let readme = read("README.md");
    let run = read("tests/run.sh");
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| {
            l.starts_with("cargo run --release -- recover")
                || l.starts_with("cargo run --release -- redrive")
        })
        .collect();
    assert!(commands.len() >= 6, "{commands:?}");
    for c in commands {
        assert!(
            run.lines().any(|l| l.trim() == c),
            "tests/run.sh does not run the README command:\n{c}"
        );
    }
}
