//! Late table definitions on multi-shard streams, and the lake's layout guard.
//!
//! DMS keys control records by task id and rows by primary key or table, so a table's
//! `create-table` sits in one shard while its rows arrive in others. The handler must wait for
//! the declaration (inside the invocation, never failing the batch) instead of registering
//! guessed types that turn the declaration into a pending conflict.

use crate::common;

use base64::Engine;
use cdc_sink::config::Config;
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::schema::registry::Registered;
use cdc_sink::schema::TypeSource;
use cdc_sink::sim::generate::{generate, GenOptions, Workload};
use cdc_sink::store::local::LocalDir;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SHARDS: usize = 3;

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The workload's records re-cut into `SHARDS` shards with every control record in the last
/// one (rows keep their shard), arriving now: per shard, its events in delivery order.
fn race_events(w: &Workload) -> Vec<Vec<Vec<u8>>> {
    let mut shards: Vec<Vec<Value>> = vec![Vec::new(); SHARDS];
    let mut events: Vec<_> = w.events.iter().collect();
    events.sort_by(|a, b| a.name.cmp(&b.name));
    for e in events {
        let ev: Value = serde_json::from_slice(&e.bytes).unwrap();
        let s: usize = e.shard.trim_start_matches("shardId-").parse().unwrap();
        for r in ev["Records"].as_array().unwrap() {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["kinesis"]["data"].as_str().unwrap())
                .unwrap();
            let msg: Value = serde_json::from_slice(&data).unwrap();
            let target = if msg["metadata"]["record-type"] == "control" {
                SHARDS - 1
            } else {
                s % (SHARDS - 1)
            };
            shards[target].push(r.clone());
        }
    }
    let arrival = now_secs();
    shards
        .into_iter()
        .enumerate()
        .map(|(s, recs)| {
            let shard = format!("shardId-{s:012}");
            let recs: Vec<Value> = recs
                .into_iter()
                .enumerate()
                .map(|(i, mut r)| {
                    let seq = format!("4966{s:04}{:048}", i + 1);
                    r["kinesis"]["sequenceNumber"] = json!(seq);
                    r["kinesis"]["approximateArrivalTimestamp"] = json!(arrival);
                    r["eventID"] = json!(format!("{shard}:{seq}"));
                    r
                })
                .collect();
            recs.chunks(7)
                .map(|c| serde_json::to_vec(&json!({ "Records": c })).unwrap())
                .collect()
        })
        .collect()
}

/// Runs each shard's events through its own handler (one Lambda per shard), concurrently;
/// shard `s` starts after `start[s]` and pauses up to `jitter_ms` between events.
async fn run_shards(dir: &Path, shards: &[Vec<Vec<u8>>], start: &[Duration], seed: u64) -> u64 {
    let cfg = Config {
        await_table_def: Duration::from_secs(60),
        ..Config::default()
    };
    let mut tasks = Vec::new();
    for (s, events) in shards.iter().enumerate() {
        let h = Arc::new(Handler::new(cfg.clone(), "", LocalDir::new(dir)));
        let events = events.clone();
        let delay = start[s];
        let mut rng = Lcg(seed * 31 + s as u64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut inferred = 0;
            for e in events {
                let (resp, inv) = h.handle(&e).await.unwrap();
                assert!(resp.batch_item_failures.is_empty(), "no retry is spent");
                inferred += inv.inferred_without_declaration;
                tokio::time::sleep(Duration::from_millis(rng.next(40))).await;
            }
            inferred
        }));
    }
    let mut inferred = 0;
    for t in tasks {
        inferred += t.await.unwrap();
    }
    inferred
}

/// Declared types, no pending conflict, every change exactly once; returns the rows checked.
fn check_lake(dir: &Path, w: &Workload, what: &str) -> u64 {
    let mut total = 0;
    for t in &w.tables {
        let doc = Registered::from_json(
            &std::fs::read(dir.join(format!("_schemas/public/{}.json", t.id.table))).unwrap(),
        )
        .unwrap();
        assert!(
            doc.pending.is_empty(),
            "{what}: {}: {:?}",
            t.id,
            doc.pending
        );
        assert_eq!(doc.primary_key, ["id"], "{what}");
        for c in &doc.columns {
            assert_eq!(
                c.source,
                TypeSource::TableDef,
                "{what}: {}.{}",
                t.id,
                c.name
            );
        }
        let mut seen = BTreeSet::new();
        let mut rows = 0;
        for k in files(dir)
            .into_iter()
            .filter(|k| k.starts_with(&format!("public/{}/", t.id.table)))
        {
            let b = read_parquet(std::fs::read(dir.join(&k)).unwrap());
            let types: BTreeMap<String, String> = b
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().to_string()))
                .collect();
            assert_eq!(types["id"], "Int32", "{what}: {k}");
            assert_eq!(types["qty"], "Int64", "{what}: {k}");
            for r in rows_of(&b) {
                assert!(seen.insert(r), "{what}: {k}: a row twice");
                rows += 1;
            }
        }
        assert_eq!(rows, t.changes, "{what}: {} rows", t.id);
        total += rows;
    }
    total
}

fn rows_of(b: &arrow::record_batch::RecordBatch) -> Vec<(String, String)> {
    rows(b)
        .into_iter()
        .map(|r| {
            (
                r["cdc_shard"].as_str().unwrap().to_string(),
                r["cdc_seq"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shard_race_ends_with_declared_types_in_every_order() {
    let w = generate(&GenOptions {
        seed: 11,
        tables: 3,
        rows: 12,
        transactions: 40,
        shards: 2,
        ..GenOptions::default()
    });
    let t0 = Instant::now();
    let mut runs = 0;
    let mut rows = 0;
    // Worst order: the shards without declarations start first; the one holding every
    // create-table starts a second later.
    let shards = race_events(&w);
    assert!(shards[..SHARDS - 1].iter().all(|s| !s.is_empty()));
    let dir = tempfile::tempdir().unwrap();
    let late = [Duration::ZERO, Duration::ZERO, Duration::from_millis(1200)];
    let inferred = run_shards(dir.path(), &shards, &late, 0).await;
    assert_eq!(inferred, 0);
    rows += check_lake(dir.path(), &w, "worst order");
    runs += 1;
    // Random orders: random start delays and pauses.
    for seed in 1..=4u64 {
        let shards = race_events(&w);
        let dir = tempfile::tempdir().unwrap();
        let mut r = Lcg(seed);
        let start: Vec<Duration> = (0..SHARDS)
            .map(|_| Duration::from_millis(r.next(800)))
            .collect();
        let inferred = run_shards(dir.path(), &shards, &start, seed).await;
        assert_eq!(inferred, 0, "seed {seed}");
        rows += check_lake(dir.path(), &w, &format!("seed {seed}"));
        runs += 1;
    }
    println!(
        "shard race: {runs} runs ({SHARDS} shards, create-table records in the last, worst order then 4 random orders): declared types every time, 0 conflicts, {rows} rows each exactly once, {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn past_the_bound_types_are_inferred_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        await_table_def: Duration::from_secs(1),
        ..Config::default()
    };
    let h = Handler::new(cfg, "", LocalDir::new(dir.path()));
    let mut event: Value = serde_json::from_slice(&make_event(
        "shardId-000000000000",
        1,
        &[dms_row("insert", "public", "nodef", json!({"id": 1}))],
    ))
    .unwrap();
    event["Records"][0]["kinesis"]["approximateArrivalTimestamp"] = json!(now_secs());
    let t0 = Instant::now();
    let (resp, inv) = h
        .handle(&serde_json::to_vec(&event).unwrap())
        .await
        .unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(800), "it waited");
    assert_eq!(inv.inferred_without_declaration, 1);
    assert!(inv.table_def_wait_ms >= 800.0, "{}", inv.table_def_wait_ms);
    let doc = Registered::from_json(
        &std::fs::read(dir.path().join("_schemas/public/nodef.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc.columns[0].ty, "double");
    // Records that arrived long ago (a backlog) do not wait at all.
    let old = make_event(
        "shardId-000000000000",
        5,
        &[dms_row("insert", "public", "old", json!({"id": 1}))],
    );
    let t0 = Instant::now();
    let (_, inv) = h.handle(&old).await.unwrap();
    assert!(t0.elapsed() < Duration::from_millis(500));
    assert_eq!(inv.inferred_without_declaration, 1);
}

/// The README's generator demo: replay defers the events whose tables are not declared yet,
/// so it ends with the declared types and no conflict.
#[test]
fn replay_of_the_generator_demo_ends_with_declared_types() {
    let sim = tempfile::tempdir().unwrap();
    let s = sim.path().join("S");
    let lake = sim.path().join("L");
    let (ok, _, err) = run(cdc_sink()
        .args([
            "generate",
            "--seed",
            "7",
            "--tables",
            "3",
            "--transactions",
            "200",
            "--out",
        ])
        .arg(&s));
    assert!(ok, "{err}");
    let mut events: Vec<_> = std::fs::read_dir(s.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    events.sort();
    let (ok, out, err) = run(cdc_sink()
        .arg("replay")
        .args(&events)
        .arg("--out")
        .arg(&lake));
    assert!(ok, "{err}");
    assert!(err.contains("deferred"), "the race happened: {err}");
    assert!(!err.contains("not applied"), "{err}");
    assert!(out.lines().last().unwrap().starts_with("total: "), "{out}");
    for t in ["t0", "t1", "t2"] {
        let doc = Registered::from_json(
            &std::fs::read(lake.join(format!("_schemas/public/{t}.json"))).unwrap(),
        )
        .unwrap();
        assert!(doc.pending.is_empty(), "{t}: {:?}", doc.pending);
        let id = doc.columns.iter().find(|c| c.name == "id").unwrap();
        assert_eq!((id.ty.as_str(), id.source), ("int", TypeSource::TableDef));
    }
}

/// A second replay configured differently writes nothing and fails, naming both layouts.
#[test]
fn a_lake_refuses_a_writer_with_another_layout() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("test-input/full_load.json");
    let (ok, _, err) = run(cdc_sink()
        .args(["replay", "--out"])
        .arg(dir.path())
        .arg(&input));
    assert!(ok, "{err}");
    let layout: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("_layout.json")).unwrap()).unwrap();
    assert_eq!(
        layout,
        json!({"format": "parquet", "compression": "snappy", "partition": "day", "partition_time": "commit"})
    );
    let before: BTreeMap<String, Vec<u8>> = files(dir.path())
        .into_iter()
        .map(|k| (k.clone(), std::fs::read(dir.path().join(&k)).unwrap()))
        .collect();
    let other = root().join("test-input/kinesis_test_input.json");
    for flags in [
        &["--format", "jsonl"][..],
        &["--partition", "hour"],
        &["--partition-time", "arrival"],
    ] {
        let (ok, _, err) = run(cdc_sink()
            .arg("replay")
            .args(flags)
            .arg("--out")
            .arg(dir.path())
            .arg(&other));
        assert!(!ok, "{flags:?} must be refused");
        assert!(
            err.contains("format=parquet compression=snappy partition=day partition_time=commit")
                && err.contains("another prefix"),
            "{flags:?}: {err}"
        );
        let after: BTreeMap<String, Vec<u8>> = files(dir.path())
            .into_iter()
            .map(|k| (k.clone(), std::fs::read(dir.path().join(&k)).unwrap()))
            .collect();
        assert_eq!(before, after, "{flags:?}: nothing written");
    }
    // athena ddl reads the layout from the lake: a JSON Lines, hourly lake needs no flags.
    let jsonl = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(cdc_sink()
        .args([
            "replay",
            "--format",
            "jsonl",
            "--partition",
            "hour",
            "--out",
        ])
        .arg(jsonl.path())
        .arg(&input));
    assert!(ok, "{err}");
    let (ok, ddl, err) = run(cdc_sink()
        .args(["athena", "ddl", "--location", "s3://b/cdc", "--out"])
        .arg(jsonl.path()));
    assert!(ok, "{err}");
    assert!(
        !ddl.contains("STORED AS PARQUET") && ddl.contains("JsonSerDe"),
        "{ddl}"
    );
    assert!(ddl.contains("hr="), "{ddl}");
}
