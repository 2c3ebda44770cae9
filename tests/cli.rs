//! The `cdc-sink` binary as a user runs it: replay into a directory, summaries, and errors
//! that name the problem.

use crate::common;

use cdc_sink::model::change::Counts;
use common::*;

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

/// The files and objects under `dir`, without the registry and temporary files.
fn data_files(dir: &std::path::Path) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|k| !k.starts_with("_schemas/") && k != "_layout.json")
        .collect()
}

#[test]
fn empty_variables_mean_the_default_and_errors_name_what_the_user_set() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("test-input/kinesis_test_input.json");
    // As after `source .env.example`: empty values everywhere.
    let mut c = cdc_sink();
    for v in cdc_sink::config::env::ALL {
        c.env(v, "");
    }
    let (ok, stdout, stderr) = run(c.args(["replay", "--out"]).arg(dir.path()).arg(&input));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("6 objects"), "{stdout}");
    assert!(data_files(dir.path())
        .iter()
        .all(|k| k.ends_with(".parquet") || k.starts_with("_")));

    // A bad flag is blamed on the flag, not on a variable that was never set.
    let (ok, _, stderr) = run(cdc_sink()
        .args([
            "replay",
            "--format",
            "jsonl",
            "--compression",
            "zstd",
            "--out",
        ])
        .arg(dir.path())
        .arg(&input));
    assert!(!ok);
    assert!(stderr.contains("--compression \"zstd\""), "{stderr}");
    assert!(stderr.contains("with --format jsonl"), "{stderr}");
    assert!(!stderr.contains("CDC_"), "{stderr}");
    // A bad variable is blamed on the variable; every bad one at once.
    let (ok, _, stderr) = run(cdc_sink()
        .env("CDC_PARTITION", "weekly")
        .env("CDC_PARTITION_TIME", "now")
        .args(["replay", "--out"])
        .arg(dir.path())
        .arg(&input));
    assert!(!ok);
    assert!(stderr.contains("CDC_PARTITION=\"weekly\""), "{stderr}");
    assert!(stderr.contains("CDC_PARTITION_TIME=\"now\""), "{stderr}");
    // A flag wins over its variable (day: the lake's layout, recorded by the first replay).
    let (ok, _, stderr) = run(cdc_sink()
        .env("CDC_PARTITION", "weekly")
        .args(["replay", "--partition", "day", "--out"])
        .arg(dir.path())
        .arg(&input));
    assert!(ok, "{stderr}");
}

#[test]
fn values_that_make_no_sense_are_refused_and_idle_flags_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["generate", "--shards", "0"], "--shards"),
        (vec!["generate", "--tables", "0"], "--tables"),
        (
            vec!["generate", "--records-per-event", "0"],
            "--records-per-event",
        ),
        (vec!["bench", "--iterations", "0"], "--iterations"),
        (
            vec!["schema", "infer", "--format", "jsonl", "x.json"],
            "--format",
        ),
    ] {
        let (ok, _, stderr) = run(cdc_sink().args(&args).arg("--out").arg(dir.path()));
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(files(dir.path()).is_empty());
}

#[test]
fn generate_refuses_a_folder_with_events_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let gen = |extra: &[&str]| {
        run(cdc_sink()
            .args(["generate", "--transactions", "10", "--out"])
            .arg(dir.path())
            .args(extra))
    };
    let (ok, _, stderr) = gen(&["--seed", "1"]);
    assert!(ok, "{stderr}");
    let first = files(dir.path());
    let (ok, _, stderr) = gen(&["--seed", "2"]);
    assert!(!ok && stderr.contains("--force"), "{stderr}");
    assert_eq!(files(dir.path()), first, "nothing changed");
    // --force with fewer shards: no event of the old run is left beside the new ones.
    let (ok, _, stderr) = gen(&["--seed", "2", "--shards", "1", "--force"]);
    assert!(ok, "{stderr}");
    let events: Vec<String> = files(dir.path())
        .into_iter()
        .filter(|k| k.starts_with("events/"))
        .collect();
    assert!(!events.is_empty());
    assert!(
        events
            .iter()
            .all(|k| k.starts_with("events/shardId-000000000000-")),
        "{events:?}"
    );
}

#[test]
fn a_folder_replays_its_event_files_in_name_order() {
    let events = tempfile::tempdir().unwrap();
    for (i, name) in ["kinesis_test_input.json", "multi_table.json"]
        .iter()
        .enumerate()
    {
        std::fs::copy(
            root().join("test-input").join(name),
            events.path().join(format!("{i}-{name}")),
        )
        .unwrap();
    }
    std::fs::write(events.path().join("notes.txt"), "not an event").unwrap();
    let out = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(cdc_sink()
        .arg("replay")
        .arg(events.path())
        .arg("--out")
        .arg(out.path()));
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("0-kinesis_test_input.json: 10 records"),
        "{stdout}"
    );
    assert!(lines[1].contains("1-multi_table.json"), "{stdout}");
    assert!(lines[2].starts_with("total: 2 files"), "{stdout}");
}

#[test]
fn a_failure_midway_says_which_files_were_done() {
    let out = tempfile::tempdir().unwrap();
    // multi_table.json writes under sales/: a file in its way makes that write fail.
    std::fs::write(out.path().join("sales"), "in the way").unwrap();
    let good = root().join("test-input/kinesis_test_input.json");
    let blocked = root().join("test-input/multi_table.json");
    let last = root().join("test-input/full_load.json");
    // No waiting for table definitions, so the files run in the order given.
    let (ok, stdout, stderr) = run(cdc_sink()
        .env("CDC_AWAIT_TABLE_DEF_SECS", "0")
        .args(["replay", "--out"])
        .arg(out.path())
        .args([&good, &blocked, &last]));
    assert!(!ok);
    assert!(stderr.contains("multi_table.json"), "{stderr}");
    assert!(stderr.contains("replayed 1 of 3 files"), "{stderr}");
    assert!(
        stderr.contains("not replayed: ") && stderr.contains("full_load.json"),
        "{stderr}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("total: 1 files, 10 records"),
        "{stdout}"
    );
}

#[test]
fn totals_count_distinct_objects_and_json_is_for_scripts() {
    let out = tempfile::tempdir().unwrap();
    let input = root().join("test-input/kinesis_test_input.json");
    let (ok, stdout, stderr) = run(cdc_sink()
        .args(["replay", "--json", "--out"])
        .arg(out.path())
        .args([&input, &input]));
    assert!(ok, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["files_done"], 2);
    assert_eq!(doc["done"][0]["objects"], 6);
    assert_eq!(doc["total"]["records"], 20);
    // The same event twice writes the same 6 objects twice: 6 distinct objects.
    assert_eq!(doc["total"]["objects"], 6);
    let on_disk: u64 = data_files(out.path())
        .iter()
        .map(|k| std::fs::metadata(out.path().join(k)).unwrap().len())
        .sum();
    assert_eq!(doc["total"]["bytes"], on_disk);
    // --quiet: only the total.
    let (ok, stdout, _) = run(cdc_sink()
        .args(["replay", "--quiet", "--out"])
        .arg(out.path())
        .args([&input, &input]));
    assert!(ok);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let size = format!("6 objects, {:.1} KiB", on_disk as f64 / 1024.0);
    assert!(
        stdout.starts_with("total: 2 files") && stdout.contains(&size),
        "{stdout} (expected {size})"
    );
}

#[test]
fn ctrl_c_stops_cleanly_and_a_later_run_removes_what_a_crash_left() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    let (ok, _, stderr) = run(cdc_sink()
        .args([
            "generate",
            "--tables",
            "2",
            "--transactions",
            "3000",
            "--records-per-event",
            "4",
            "--out",
        ])
        .arg(&sim));
    assert!(ok, "{stderr}");
    let out = work.path().join("lake");
    // What a killed writer leaves: a temporary file of a process that no longer runs.
    let stale = out.join("public/t0/.x.parquet#0-1.tmp");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, b"half").unwrap();

    let mut child = cdc_sink()
        .arg("replay")
        .arg(sim.join("events"))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    assert!(first.contains(": "), "{first}");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out_put = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out_put.stderr);
    assert_eq!(out_put.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: replayed "), "{stderr}");
    assert!(stderr.contains("not replayed: "), "{stderr}");
    assert!(stderr.contains("removed 1 temporary files"), "{stderr}");
    let done_lines = 1 + rest.lines().filter(|l| !l.starts_with("total: ")).count();
    let total_events = files(&sim.join("events")).len();
    assert!(
        done_lines < total_events,
        "stopped early: {done_lines} of {total_events}"
    );
    assert!(
        stderr.contains(&format!("replayed {done_lines} of {total_events} files")),
        "{stderr}"
    );
    let temps: Vec<String> = files(&out)
        .into_iter()
        .filter(|k| k.ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[test]
fn status_shows_the_lake_at_a_glance() {
    let out = tempfile::tempdir().unwrap();
    let names = [
        "full_load.json",
        "kinesis_test_input.json",
        "malformed_mixed.json",
        "multi_table.json",
    ];
    let inputs: Vec<_> = names
        .iter()
        .map(|n| root().join("test-input").join(n))
        .collect();
    let (ok, _, stderr) = run(cdc_sink()
        .arg("replay")
        .args(&inputs)
        .arg("--out")
        .arg(out.path()));
    assert!(ok, "{stderr}");
    // Documents other commands write, read as plain JSON.
    std::fs::write(
        out.path().join("_layout.json"),
        r#"{"format":"parquet","compression":"snappy","partition":"day","partition_time":"commit"}"#,
    )
    .unwrap();
    std::fs::create_dir_all(out.path().join("_control/recover")).unwrap();
    std::fs::write(
        out.path().join("_control/recover/run-1.json"),
        r#"{"shard":"shardId-000000000000","records":12}"#,
    )
    .unwrap();
    std::fs::write(out.path().join("public/orders/.x.parquet#0-9.tmp"), b"x").unwrap();

    let (ok, stdout, stderr) = run(cdc_sink()
        .args(["status", "--json", "--rows", "--out"])
        .arg(out.path()));
    assert!(ok, "{stderr}");
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(s["layout"]["source"], "from _layout.json");
    assert_eq!(s["layout"]["partition_time"], "commit");
    // Per table: the objects and bytes on disk, and the rows the replay reported.
    let expected: std::collections::BTreeMap<String, Counts> = samples().into_iter().collect();
    let (mut l, mut i, mut u, mut d) = (0, 0, 0, 0);
    for n in names {
        let c = &expected[n];
        (l, i, u, d) = (l + c.load, i + c.insert, u + c.update, d + c.delete);
    }
    let tables = s["tables"].as_array().unwrap();
    let mut rows = (0, 0, 0, 0);
    for t in tables {
        let folder = out.path().join(t["folder"].as_str().unwrap());
        let objs: Vec<String> = files(&folder)
            .into_iter()
            .filter(|k| !k.contains("/.") && !k.starts_with('.'))
            .collect();
        assert_eq!(t["objects"], objs.len(), "{t}");
        let bytes: u64 = objs
            .iter()
            .map(|k| std::fs::metadata(folder.join(k)).unwrap().len())
            .sum();
        assert_eq!(t["bytes"], bytes, "{t}");
        let r = &t["rows"];
        rows.0 += r["load"].as_u64().unwrap();
        rows.1 += r["insert"].as_u64().unwrap();
        rows.2 += r["update"].as_u64().unwrap();
        rows.3 += r["delete"].as_u64().unwrap();
        assert!(r["first_commit_us"].as_i64() <= r["last_commit_us"].as_i64());
    }
    assert_eq!(rows, (l, i, u, d));
    assert!(tables.iter().any(|t| t["table"] == "public.orders"));
    let quarantined: u64 = s["quarantine"]["by_day"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|r| r.as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    let want: u64 = names.iter().map(|n| expected[*n].quarantined).sum();
    assert_eq!(quarantined, want);
    assert_eq!(s["recover"]["documents"], 1);
    assert_eq!(s["recover"]["newest"][0][1]["records"], 12);
    assert_eq!(s["redrive"]["documents"], 0);
    assert_eq!(s["temporary"].as_array().unwrap().len(), 1);
    assert_eq!(s["schemas"].as_array().unwrap().len(), tables.len());

    // The terminal form says the same in words.
    let (ok, text, _) = run(cdc_sink().args(["status", "--out"]).arg(out.path()));
    assert!(ok);
    for needle in [
        "layout: format parquet, compression snappy",
        "public.orders",
        "quarantine: ",
        "recover: 1 documents",
        "temporary files: 1",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn status_names_pending_conflicts_and_the_command_that_resolves_them() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    assert!(
        run(cdc_sink()
            .args(["generate", "--tables", "1", "--out"])
            .arg(&sim))
        .0
    );
    let out = work.path().join("lake");
    // Without waiting for table definitions (CDC_AWAIT_TABLE_DEF_SECS=0), shard 0's rows come
    // before shard 1's create-table record in file name order: the types are inferred first, and
    // the table-def's disagreeing types are recorded as pending.
    let (ok, _, stderr) = run(cdc_sink()
        .env("CDC_AWAIT_TABLE_DEF_SECS", "0")
        .arg("replay")
        .arg(sim.join("events"))
        .arg("--quiet")
        .arg("--out")
        .arg(&out));
    assert!(ok, "{stderr}");
    let (ok, text, _) = run(cdc_sink().args(["status", "--out"]).arg(&out));
    assert!(ok);
    assert!(text.contains("pending conflicts in public.t0"), "{text}");
    assert!(
        text.contains("resolve with: cdc-sink schema set public.t0 --accept-pending"),
        "{text}"
    );
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let work = tempfile::tempdir().unwrap();
    let sim = work.path().join("sim");
    assert!(
        run(cdc_sink()
            .args([
                "generate",
                "--transactions",
                "300",
                "--records-per-event",
                "5",
                "--out"
            ])
            .arg(&sim))
        .0
    );
    // Not a terminal: no progress line on stderr.
    let (ok, _, stderr) = run(cdc_sink()
        .arg("replay")
        .arg(sim.join("events"))
        .arg("--out")
        .arg(work.path().join("a")));
    assert!(ok);
    assert!(!stderr.contains("records/s"), "{stderr}");
    // On a terminal (util-linux `script` gives the command a pseudo-terminal).
    let cmd = format!(
        "{} replay {} --out {} > /dev/null",
        env!("CARGO_BIN_EXE_cdc-sink"),
        sim.join("events").display(),
        work.path().join("b").display()
    );
    let (ok, tty, _) = run(std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    assert!(ok, "{tty}");
    assert!(
        tty.contains(" files of ") && tty.contains("records/s"),
        "{tty}"
    );
    // --quiet silences it.
    let quiet = cmd
        .replace(" > /dev/null", " --quiet > /dev/null")
        .replace("/b ", "/c ");
    let (ok, tty, _) =
        run(std::process::Command::new("script").args(["-qec", &quiet, "/dev/null"]));
    assert!(ok);
    assert!(!tty.contains("records/s"), "{tty}");
}
