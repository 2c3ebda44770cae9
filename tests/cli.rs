//! The `cdc-sink` binary as a user runs it: replay into a directory, summaries, and errors
//! that name the problem.

mod common;

use common::*;
use std::process::Command;

fn cdc_sink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cdc-sink"));
    for v in [
        "CDC_FORMAT",
        "CDC_COMPRESSION",
        "CDC_PARTITION",
        "CDC_PARTITION_TIME",
        "CDC_BEFORE_IMAGE_KEY",
    ] {
        c.env_remove(v);
    }
    c
}

fn run(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn replay_writes_every_sample_and_prints_a_summary_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let inputs: Vec<_> = samples()
        .into_iter()
        .map(|(n, _)| root().join("test-input").join(n))
        .collect();
    let (ok, stdout, stderr) = run(cdc_sink()
        .arg("replay")
        .args(&inputs)
        .arg("--out")
        .arg(&out));
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), inputs.len() + 1, "{stdout}");
    // Events whose tables nobody declared yet run after the others (as Lambda waits for a
    // late table-def): find each event's line by name.
    for (name, c) in samples().iter() {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("/{name}: ")))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"));
        assert!(
            line.contains(&format!(
                "{} records: rows L={} I={} U={} D={}, control {}, skipped {}, quarantined {}",
                c.records,
                c.load,
                c.insert,
                c.update,
                c.delete,
                c.control,
                c.skipped,
                c.quarantined
            )),
            "{line}"
        );
    }
    assert!(lines.last().unwrap().starts_with("total: "));
    assert!(
        stderr.contains("quarantined"),
        "reasons are listed: {stderr}"
    );
    let keys = files(&out);
    assert!(keys.iter().any(|k| k.starts_with("public/orders/dt=")));
    assert!(keys.iter().any(|k| k.starts_with("_quarantine/dt=")));
    assert!(keys.iter().any(|k| k.starts_with("_control/dt=")));
}

#[test]
fn flags_reach_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("test-input/kinesis_test_input.json");
    let (ok, _, stderr) = run(cdc_sink()
        .args([
            "replay",
            "--format",
            "jsonl",
            "--compression",
            "gzip",
            "--partition",
            "hour",
            "--out",
        ])
        .arg(dir.path())
        .arg(&input));
    assert!(ok, "{stderr}");
    let keys: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|k| !k.starts_with("_schemas/") && k != "_layout.json")
        .collect();
    assert!(
        !keys.is_empty()
            && keys
                .iter()
                .all(|k| k.ends_with(".jsonl.gz") && k.contains("/hr=")),
        "{keys:?}"
    );
    // The environment variables the Lambda reads are the flags' defaults.
    let dir2 = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(cdc_sink()
        .env("CDC_FORMAT", "jsonl")
        .env("CDC_PARTITION", "none")
        .args(["replay", "--out"])
        .arg(dir2.path())
        .arg(&input));
    assert!(ok, "{stderr}");
    assert!(files(dir2.path())
        .iter()
        .filter(|k| !k.starts_with("_schemas/") && *k != "_layout.json")
        .all(|k| k.ends_with(".jsonl") && !k.contains("dt=")));
}

#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let good = root().join("test-input/kinesis_test_input.json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "replay".into(),
                "--partition".into(),
                "weekly".into(),
                "--out".into(),
                dir.path().display().to_string(),
                good.display().to_string(),
            ],
            "accepted values: day, hour, none",
        ),
        (
            vec![
                "replay".into(),
                "--format".into(),
                "jsonl".into(),
                "--compression".into(),
                "zstd".into(),
                "--out".into(),
                dir.path().display().to_string(),
                good.display().to_string(),
            ],
            "none, gzip",
        ),
        (
            vec![
                "replay".into(),
                "--out".into(),
                dir.path().display().to_string(),
                "/no/such/event.json".into(),
            ],
            "/no/such/event.json",
        ),
        (
            vec![
                "replay".into(),
                "--out".into(),
                dir.path().display().to_string(),
                root()
                    .join("test-input/expected.json")
                    .display()
                    .to_string(),
            ],
            "not a Lambda Kinesis event",
        ),
        (
            vec![
                "replay".into(),
                "--out".into(),
                dir.path().display().to_string(),
                root().join("Cargo.toml").display().to_string(),
            ],
            "not a Lambda Kinesis event",
        ),
        (vec!["replay".into(), "--bogus".into()], "--bogus"),
        (vec!["replay".into(), good.display().to_string()], "--out"),
    ];
    for (args, needle) in cases {
        let (ok, _, stderr) = run(cdc_sink().args(&args));
        assert!(!ok, "{args:?} should fail");
        assert!(
            stderr.contains(needle),
            "{args:?}: expected {needle:?} in {stderr}"
        );
    }
    // A bad file among good ones is reported before anything is written.
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, _) = run(cdc_sink()
        .args(["replay", "--out"])
        .arg(empty.path())
        .arg(&good)
        .arg("/no/such.json"));
    assert!(!ok);
    assert!(files(empty.path()).is_empty());
}

#[test]
fn help_documents_every_flag() {
    let (ok, stdout, _) = run(cdc_sink().args(["replay", "--help"]));
    assert!(ok);
    for flag in [
        "--out",
        "--format",
        "--compression",
        "--partition",
        "--partition-time",
        "--before-image-key",
        "CDC_FORMAT",
        "CDC_PARTITION_TIME",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from:\n{stdout}");
    }
    let (ok, stdout, _) = run(cdc_sink().arg("--help"));
    assert!(ok && stdout.contains("replay"));
}
