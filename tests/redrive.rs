//! `cdc-sink redrive` after a schema override: the quarantined rows land once, under keys the
//! normal path never writes; the original objects stay byte-identical; a record held by two
//! quarantine objects lands once; a record already in the lake is skipped; records that still
//! fail stay in quarantine; a second redrive writes nothing. Run through the CLI binary.

use crate::common;

use base64::Engine;
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const SHARD: &str = "shardId-000000000000";

fn seq(n: u64) -> String {
    format!("4966{n:052}")
}

fn msg(id: u64, qty: serde_json::Value) -> serde_json::Value {
    json!({"data": {"id": id, "qty": qty},
        "metadata": {"timestamp": "2025-11-03T08:15:02.104233Z", "record-type": "data",
        "operation": "insert", "partition-key-type": "schema-table", "schema-name": "public",
        "table-name": "items", "transaction-id": 7, "commit-timestamp": "2025-11-03T08:15:01.000001Z"}})
}

/// A Lambda event of (sequence offset, message): a record keeps its arrival time across
/// deliveries, as in Kinesis.
fn event(recs: &[(u64, serde_json::Value)]) -> Vec<u8> {
    let records: Vec<_> = recs
        .iter()
        .map(|(n, m)| {
            json!({"kinesis": {"partitionKey": "public.items", "sequenceNumber": seq(*n),
                "data": base64::engine::general_purpose::STANDARD.encode(m.to_string()),
                "approximateArrivalTimestamp": 1_762_157_702.0 + *n as f64},
                "eventSource": "aws:kinesis", "eventID": format!("{SHARD}:{}", seq(*n))})
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files(dir)
        .into_iter()
        .map(|k| {
            let b = std::fs::read(dir.join(&k)).unwrap();
            (k, b)
        })
        .collect()
}

/// id -> (qty, copies) over every data object of public.items.
fn items(dir: &Path) -> BTreeMap<i64, (serde_json::Value, usize)> {
    let mut out = BTreeMap::new();
    for (k, rows) in parquet_rows(dir) {
        if !k.starts_with("public/items/") {
            continue;
        }
        for r in rows {
            let e = out
                .entry(r["id"].as_i64().unwrap())
                .or_insert((r["qty"].clone(), 0));
            e.1 += 1;
        }
    }
    out
}

#[test]
fn redrive_after_a_schema_override_lands_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let create = dms_create_table(
        "public",
        "items",
        json!({"id": {"type": "INT32", "nullable": false}, "qty": {"type": "INT32", "nullable": true}}),
        &["id"],
    );
    let m = |id, q| msg(id, q);
    // qty is registered as int: 3000000000 and 4000000000 do not fit, "abc" fits no number.
    let a = event(&[
        (100, create),
        (101, m(1, json!(5))),
        (102, m(2, json!(3_000_000_000u64))),
        (103, m(3, json!(4_000_000_000u64))),
    ]);
    // Lambda delivered 103 again in the next batch: it is in two quarantine objects.
    let b = event(&[
        (103, m(3, json!(4_000_000_000u64))),
        (104, m(4, json!(7))),
        (105, m(5, json!("abc"))),
        (106, m(6, json!(8))),
    ]);
    let (fa, fb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&fa, &a).unwrap();
    std::fs::write(&fb, &b).unwrap();
    cli(&[
        "replay",
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "--out",
        lake_s,
    ]);
    let quarantine: Vec<String> = files(&lake)
        .into_iter()
        .filter(|k| k.starts_with("_quarantine/"))
        .collect();
    assert_eq!(quarantine.len(), 2, "{quarantine:?}");
    // A quarantine entry of a record whose row is in the lake (e.g. quarantined by an older
    // deployment, written by a later retry): redrive must not write it again.
    let stale = json!({"reason_code": "bad_value", "reason": "stale", "shard": SHARD, "seq": seq(104),
        "partition_key": "public.items", "arrival_ts": "2025-11-03T08:16:46.000000Z",
        "data_base64": base64::engine::general_purpose::STANDARD.encode(m(4, json!(7)).to_string())});
    let stale_key = format!("_quarantine/dt=2025-11-03/{SHARD}-{}.jsonl", seq(104));
    std::fs::write(lake.join(&stale_key), format!("{stale}\n")).unwrap();
    assert_eq!(
        items(&lake).keys().copied().collect::<Vec<_>>(),
        [1, 4, 6],
        "before: the quarantined rows are missing"
    );

    // Before the fix, a dry run shows what would still fail.
    let dry = cli(&["redrive", "--out", lake_s, "--dry-run"]);
    assert!(
        dry.contains("1 already in the lake, 0 redriven, 3 still failing"),
        "{dry}"
    );

    let fix = dir.path().join("items.json");
    std::fs::write(
        &fix,
        r#"{"columns": [{"name": "id", "type": "int", "nullable": false}, {"name": "qty", "type": "bigint"}], "primary_key": ["id"]}"#,
    )
    .unwrap();
    cli(&[
        "schema",
        "set",
        "public.items",
        "--file",
        fix.to_str().unwrap(),
        "--out",
        lake_s,
    ]);
    let before = snapshot(&lake);

    let dry = cli(&[
        "redrive",
        "--out",
        lake_s,
        "--dry-run",
        "--reason",
        "bad_value",
        "--table",
        "public.items",
    ]);
    assert!(
        dry.contains(
            "(1 duplicates), 1 already in the lake, 2 redriven, 1 still failing; 1 objects"
        ),
        "{dry}"
    );
    assert!(dry.contains(".redrive.parquet"), "{dry}");
    assert_eq!(snapshot(&lake), before, "a dry run writes nothing");

    let run = cli(&["redrive", "--out", lake_s, "--date", "2025-11-03"]);
    assert!(
        run.contains("2 redriven, 1 still failing; 1 objects"),
        "{run}"
    );
    assert!(
        run.contains(&format!("still failing: {SHARD} {} bad_value", seq(105))),
        "{run}"
    );
    let after = snapshot(&lake);
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k} must stay byte-identical");
    }
    let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(new.len(), 2, "one data object and the manifest: {new:?}");
    let data_key = format!(
        "public/items/dt=2025-11-03/{SHARD}-{}.redrive.parquet",
        seq(102)
    );
    assert!(new.iter().any(|k| **k == data_key), "{new:?}");
    let manifest = new
        .iter()
        .find(|k| k.starts_with("_control/redrive/"))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&after[*manifest]).unwrap();
    assert_eq!(doc["report"]["redriven"], 2);
    assert_eq!(
        doc["report"]["quarantine_objects"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let got = items(&lake);
    let lost = [1, 2, 3, 4, 6]
        .iter()
        .filter(|i| !got.contains_key(i))
        .count();
    let duplicated = got.values().filter(|(_, n)| *n > 1).count();
    assert_eq!((lost, duplicated), (0, 0), "{got:?}");
    assert_eq!(got[&2].0, json!(3_000_000_000u64));
    assert!(
        !got.contains_key(&5),
        "the record that still fails stays in quarantine"
    );

    // DuckDB and pyarrow read the redriven object with the others (the views' **/*.parquet).
    let report = python_json("read_lake.py", &[lake.as_os_str()]);
    assert_eq!(report["public.items"]["rows"], 5, "{report}");
    assert_eq!(report["public.items"]["distinct_changes"], 5, "{report}");

    let again = cli(&["redrive", "--out", lake_s]);
    assert!(again.contains("0 redriven"), "{again}");
    assert_eq!(snapshot(&lake), after, "a second redrive writes nothing");
    println!(
        "redrive: 3 records quarantined in {} objects, 2 redriven after a schema override, 1 still failing, 1 already in the lake skipped; {} rows checked, lost {lost}, duplicated {duplicated}; second run wrote nothing",
        quarantine.len() + 1,
        got.len()
    );
}

/// In a batch lake (`objects = batch`) redrive writes a batch object of its own, finds rows it
/// redrove before (in `_batches/`, then after compaction in the table's folder) and writes them
/// never twice; `compact` lays them out with the others.
#[test]
fn redrive_into_a_batch_lake_lands_each_record_once_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let lake_s = lake.to_str().unwrap();
    let create = dms_create_table(
        "public",
        "items",
        json!({"id": {"type": "INT32", "nullable": false}, "qty": {"type": "INT32", "nullable": true}}),
        &["id"],
    );
    let m = |id, q| msg(id, q);
    let a = event(&[
        (100, create),
        (101, m(1, json!(5))),
        (102, m(2, json!(3_000_000_000u64))),
        (103, m(3, json!(4_000_000_000u64))),
    ]);
    let b = event(&[
        (103, m(3, json!(4_000_000_000u64))),
        (104, m(4, json!(7))),
        (105, m(5, json!("abc"))),
        (106, m(6, json!(8))),
    ]);
    let (fa, fb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&fa, &a).unwrap();
    std::fs::write(&fb, &b).unwrap();
    let batch = ["--objects", "batch"];
    let with = |args: &[&str]| -> String { cli(&[args, &batch[..]].concat()) };
    with(&[
        "replay",
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "--out",
        lake_s,
    ]);
    let fix = dir.path().join("items.json");
    std::fs::write(
        &fix,
        r#"{"columns": [{"name": "id", "type": "int", "nullable": false}, {"name": "qty", "type": "bigint"}], "primary_key": ["id"]}"#,
    )
    .unwrap();
    cli(&[
        "schema",
        "set",
        "public.items",
        "--file",
        fix.to_str().unwrap(),
        "--out",
        lake_s,
    ]);

    let run = with(&["redrive", "--out", lake_s]);
    assert!(run.contains("2 redriven, 1 still failing"), "{run}");
    let redriven: Vec<String> = files(&lake)
        .into_iter()
        .filter(|k| k.starts_with("_batches/") && k.ends_with(".redrive.parquet"))
        .collect();
    assert_eq!(
        redriven.len(),
        1,
        "one batch object of its own: {redriven:?}"
    );
    // Found in the batch object: nothing written again.
    let before = snapshot(&lake);
    let again = with(&["redrive", "--out", lake_s]);
    assert!(
        again.contains("2 already in the lake, 0 redriven"),
        "{again}"
    );
    assert_eq!(snapshot(&lake), before, "a second redrive writes nothing");

    // Compacted (the events are from 2025: their windows are long closed).
    let out = cli(&["compact", "--out", lake_s, "--close-after", "0"]);
    assert!(
        files(&lake).iter().all(|k| !k.starts_with("_batches/")),
        "{out}"
    );
    let got = items(&lake);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 4, 6],
        "{got:?}"
    );
    assert!(got.values().all(|(_, n)| *n == 1), "each row once: {got:?}");
    assert_eq!(got[&3].0, json!(4_000_000_000u64));
    // Found in the table's folder now: still nothing written again.
    let before = snapshot(&lake);
    let again = with(&["redrive", "--out", lake_s]);
    assert!(
        again.contains("2 already in the lake, 0 redriven"),
        "{again}"
    );
    assert_eq!(snapshot(&lake), before);
}
