//! `cdc-sink athena ddl|merge` as a user runs them: the state tables and MERGE statements
//! printed, `--split` into an empty or earlier-split folder only, and `--catalog` bringing an
//! existing catalog up to date (new columns added, not created again).

use crate::common;

use common::*;
use std::process::Command;

fn cdc_sink(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(args)
        .env_remove("CDC_FORMAT")
        .env_remove("CDC_PARTITION")
        .env_remove("CDC_COMPRESSION")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let (ok, _, err) = cdc_sink(&[
        "replay",
        root().join("test-input/full_load.json").to_str().unwrap(),
        root()
            .join("test-input/kinesis_test_input.json")
            .to_str()
            .unwrap(),
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    dir
}

#[test]
fn merge_split_and_catalog_update() {
    let dir = lake();
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let base = ["--out", lake, "--location", "s3://my-cdc-lake/cdc"];

    // merge: one MERGE per table with a key, windowed on dt; maintenance on request.
    let mut args = vec!["athena", "merge"];
    args.extend(base);
    args.extend([
        "--since",
        "2025-11-01",
        "--purge-tombstones-days",
        "9",
        "--optimize",
        "--vacuum",
    ]);
    let (ok, out, err) = cdc_sink(&args);
    assert!(ok, "{err}");
    assert!(
        out.contains("MERGE INTO \"cdc_lake\".\"public__orders_state\" AS \"t\""),
        "{out}"
    );
    assert!(out.contains("WHERE \"dt\" >= '2025-11-01'"));
    assert!(out.contains("INTERVAL '9' DAY"));
    assert!(
        out.contains("OPTIMIZE \"cdc_lake\".\"public__orders_state\" REWRITE DATA USING BIN_PACK;")
    );
    assert!(out.contains("VACUUM \"cdc_lake\".\"public__orders_state\";"));
    let mut args = vec!["athena", "merge"];
    args.extend(base);
    args.extend(["--since", "2025-11-02", "--until", "2025-11-01"]);
    let (ok, _, err) = cdc_sink(&args);
    assert!(!ok && err.contains("--until"), "{err}");

    // --split: a fresh folder, then again into it (files of the earlier run replaced); a folder
    // with anything else in it is refused and left alone.
    let split = dir.path().join("ddl");
    let mut args = vec!["athena", "ddl"];
    args.extend(base);
    args.extend(["--split", split.to_str().unwrap()]);
    let (ok, _, err) = cdc_sink(&args);
    assert!(ok, "{err}");
    let first = files(&split);
    assert!(
        first
            .iter()
            .any(|f| f.ends_with("-public__orders_state.sql")),
        "{first:?}"
    );
    assert!(first
        .iter()
        .any(|f| f.ends_with("-public__orders_current.sql")));
    std::fs::write(split.join("999-dropped_table.sql"), "SELECT 1").unwrap();
    let (ok, _, err) = cdc_sink(&args);
    assert!(ok, "{err}");
    assert_eq!(files(&split), first, "the stale statement is gone");
    std::fs::write(split.join("notes.txt"), "mine").unwrap();
    let (ok, _, err) = cdc_sink(&args);
    assert!(
        !ok && err.contains("notes.txt") && err.contains("empty"),
        "{err}"
    );
    assert!(split.join("notes.txt").exists());

    // --catalog: the external table exists without `status`; nothing else exists.
    let csv = dir.path().join("catalog.csv");
    let mut text = String::from("\"table_name\",\"column_name\",\"data_type\"\n");
    for c in [
        "order_id",
        "customer_id",
        "total",
        "created_at",
        "cdc_op",
        "cdc_commit_ts",
        "cdc_dms_ts",
        "cdc_txn_id",
        "cdc_txn_record_id",
        "cdc_stream_position",
        "cdc_shard",
        "cdc_seq",
        "cdc_arrival_ts",
        "cdc_before",
        "dt",
    ] {
        text.push_str(&format!("\"public__orders\",\"{c}\",\"varchar\"\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let mut args = vec!["athena", "ddl"];
    args.extend(base);
    args.extend(["--catalog", csv.to_str().unwrap()]);
    let (ok, out, err) = cdc_sink(&args);
    assert!(ok, "{err}");
    assert!(
        !out.contains("CREATE EXTERNAL TABLE IF NOT EXISTS `cdc_lake`.`public__orders`"),
        "{out}"
    );
    assert!(
        out.contains("ALTER TABLE `cdc_lake`.`public__orders` ADD COLUMNS ("),
        "{out}"
    );
    assert!(out.contains("CREATE TABLE IF NOT EXISTS `cdc_lake`.`public__orders_state`"));
    assert!(out.contains("CREATE OR REPLACE VIEW \"cdc_lake\".\"public__orders_current\""));
}
