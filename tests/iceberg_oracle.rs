//! The Iceberg oracle: the state tables, their MERGE and the new `_current`, run on real Iceberg.
//!
//! Simulated tables (`cdc-sink generate`) go through the Lambda handler with the deliveries
//! Lambda causes (cut-off writes and whole-batch retries, bisection, duplicate deliveries,
//! shards interleaved), in stages: the lake is copied after each stage, so MERGEs run while
//! changes are still arriving, and older changes land after newer ones were merged. Then
//! tests/py/iceberg_oracle.py runs the generated statements (transpiled to DuckDB by sqlglot) on
//! Iceberg tables of a REST catalog on 127.0.0.1: many MERGEs over random, overlapping windows,
//! in random order, with re-runs; it checks after each MERGE that its source has one row per
//! key and that the state table (read by pyiceberg) is the newest merged change per key, and
//! on the complete lake that `_current` equals the true final state row for row, before and
//! after the tombstone purge. Two MERGEs at once must give a commit conflict that the runner's
//! retry rule accepts and a second run resolves.

use crate::common;

use cdc_sink::athena::runner::{retryable, RunError};
use cdc_sink::athena::{self, merge, DdlOptions, Window};
use cdc_sink::config::{Compression, Config, Format, Objects, Partitioning};
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::ingest::registry::list_registered;
use cdc_sink::sim::generate::{generate, GenOptions, Workload};
use cdc_sink::store::local::LocalDir;
use common::delivery::{deliver_one, interleave, records, WHOLE_BATCH};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

fn workload(seed: u64) -> Workload {
    let mut r = Lcg(seed);
    generate(&GenOptions {
        seed,
        tables: 2 + r.next(2) as usize,
        rows: 5 + r.next(15) as usize,
        transactions: 60 + r.next(80) as usize,
        shards: 1 + r.next(3) as usize,
        records_per_event: 3 + r.next(20) as usize,
        unformatted_share: 0.5,
        name_bytes: 0,
    })
}

fn options() -> DdlOptions {
    DdlOptions {
        database: "cdc_lake".into(),
        location: "s3://lake/cdc".into(),
        layout: cdc_sink::config::Layout {
            format: Format::Parquet,
            compression: Compression::Snappy,
            partition: Partitioning::Day,
            ..cdc_sink::config::Layout::default()
        },
        since: "2020-01-01".into(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files(from) {
        let dst = to.join(&f);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(&f), dst).unwrap();
    }
}

/// Replays `w` into `lake` in `stages` stages; returns a copy of the lake after each stage. In a
/// batch lake a compactor runs after each stage, stopped at a random write or removal (and
/// finished by the next stage's run), so MERGEs also read half-compacted windows.
async fn replay_in_stages(
    w: &Workload,
    seed: u64,
    lake: &Path,
    stages: usize,
    objects: Objects,
) -> Vec<String> {
    let mut r = Lcg(seed ^ 0x1CE);
    let mut config = Config::default();
    config.layout.objects = objects;
    let h = Handler::new(
        config,
        "",
        Flaky {
            inner: LocalDir::new(lake),
            budget: AtomicI64::new(i64::MAX),
        },
    );
    let order = interleave(w, &mut r);
    let per = order.len().div_ceil(stages).max(1);
    let mut out = Vec::new();
    for (k, chunk) in order.chunks(per).enumerate() {
        for e in chunk {
            deliver_one(&h, &records(e), &mut r, &WHOLE_BATCH).await;
            if r.next(6) == 0 {
                // At-least-once: an earlier batch comes again.
                let again = &order[r.next(order.len() as u64) as usize];
                h.lake
                    .store()
                    .inner()
                    .budget
                    .store(i64::MAX, Ordering::SeqCst);
                h.handle(again).await.unwrap();
            }
        }
        if objects == Objects::Batch {
            let inputs = files(lake)
                .iter()
                .filter(|f| f.starts_with("_batches/"))
                .count() as i64;
            let stopped = Flaky {
                inner: LocalDir::new(lake),
                budget: AtomicI64::new(r.next(inputs as u64 + 2) as i64),
            };
            let o = cdc_sink::compact::CompactOptions {
                // Every window closed; each stage's run comes after the last one's lease.
                now_us: cdc_sink::model::time::now_us() + (k as i64 + 1) * 86_400_000_000,
                target_bytes: 8192,
                ..Default::default()
            };
            if let Ok(l) = cdc_sink::lake::Lake::open_for_read(&stopped, "").await {
                let _ = cdc_sink::compact::compact(&l, &o, |_| {}).await;
            }
        }
        let snap = lake.with_file_name(format!("stage{k}"));
        copy_dir(lake, &snap);
        out.push(snap.to_string_lossy().into_owned());
    }
    if objects == Objects::Batch {
        let f = files(lake);
        assert!(
            f.iter().any(|k| k.contains("/compacted-"))
                && f.iter().any(|k| k.starts_with("_batches/")),
            "seed {seed}: the last stage holds compacted and not yet compacted rows"
        );
    }
    out
}

/// The days (dt partitions) of the lake in `dir`.
fn days(dir: &Path) -> Vec<String> {
    let mut d: Vec<String> = files(dir)
        .iter()
        .filter_map(|f| f.split('/').find_map(|s| s.strip_prefix("dt=")))
        .map(str::to_string)
        .collect();
    d.sort();
    d.dedup();
    d
}

async fn manifest_as(seed: u64, base: &Path, objects: Objects) -> Value {
    let w = workload(seed);
    let lake = base.join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let stages = replay_in_stages(&w, seed, &lake, 3, objects).await;
    let docs = list_registered(&LocalDir::new(&lake)).await.unwrap();
    let mut o = options();
    o.layout.objects = objects;
    let tables = athena::ddl_with_tail(&docs, &o, 0).unwrap();
    let wide = athena::ddl_with_tail(&docs, &o, 1).unwrap();
    let days = days(&lake);
    let mut windows = vec![("all".to_string(), Window::All)];
    windows.extend(days.iter().map(|d| (d.clone(), Window::Since(d.clone()))));
    // Single days: a window with an older change of a key and without its newer ones.
    windows.extend(
        days.iter()
            .map(|d| (format!("only {d}"), Window::Range(d.clone(), d.clone()))),
    );
    let tables: Vec<Value> = tables
        .iter()
        .zip(&wide)
        .map(|(t, wide)| {
            let (d, s) = (&t.registered, &t.columns);
            let truth = w
                .tables
                .iter()
                .find(|x| x.id.schema == t.schema && x.id.table == t.table)
                .unwrap();
            let mut m = json!({
                "athena_table": t.athena_table,
                "path": format!("{}/{}", t.schema, t.table),
                "state_table": t.state_table,
                "changes_view": t.changes_view,
                "current_view": t.current_view,
                "current_view_wide": wide.current_view,
                "current_history_view": t.current_history_view,
                "merge": windows.iter().map(|(k, win)| (k.clone(), json!(merge::merge(d, s, &o, win).unwrap()))).collect::<serde_json::Map<_, _>>(),
                "merge_source": windows.iter().map(|(k, win)| (k.clone(), json!(merge::merge_source(d, s, &o, win).unwrap()))).collect::<serde_json::Map<_, _>>(),
                "purge": merge::purge_tombstones(d, s, &o, 5).unwrap(),
                "maintenance": [merge::optimize(d, s, &o).unwrap(), merge::vacuum(d, s, &o).unwrap()],
                "truth": truth.rows,
            });
            // A batch lake: the relations, relative to each stage's snapshot.
            let rel = common::lake_tables::relations(t, &o, Path::new(""));
            if rel.get("source_view").is_some() {
                m["relations"] = rel["relations"].clone();
                m["source_view"] = rel["source_view"].clone();
            }
            m
        })
        .collect();
    json!({"seed": seed, "database": "cdc_lake", "stages": stages, "days": days, "tables": tables, "purge_days": 5})
}

#[tokio::test]
async fn merge_keeps_iceberg_state_exact_under_random_windows_and_late_changes() {
    oracle((1..=4).collect(), Objects::Table).await;
}

/// The same on a batch lake (`objects = batch`), with a compactor stopped at a random point
/// after each stage: MERGE and `_current` read `<table>`, the view over compacted objects and
/// batch objects not yet compacted.
#[tokio::test]
async fn merge_keeps_iceberg_state_exact_on_a_batch_lake_while_compacting() {
    oracle((5..=7).collect(), Objects::Batch).await;
}

async fn oracle(seeds: Vec<u64>, objects: Objects) {
    let base = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    for &seed in &seeds {
        let dir = base.path().join(format!("seed{seed}"));
        all.push(manifest_as(seed, &dir, objects).await);
    }
    let mpath = base.path().join("manifest.json");
    std::fs::write(&mpath, serde_json::to_vec(&json!({"seeds": all})).unwrap()).unwrap();
    let work = base.path().join("iceberg");
    let got = python_json("iceberg_oracle.py", &[mpath.as_os_str(), work.as_os_str()]);
    let n = |k: &str| got[k].as_u64().unwrap_or_else(|| panic!("{k} in {got}"));
    assert_eq!(got["mismatches"], json!([]), "state or _current differ");
    assert_eq!(n("duplicate_keys"), 0, "a MERGE source held a key twice");
    assert!(n("merges") >= 20 * seeds.len() as u64, "{got}");
    assert!(n("late_merges") > 0, "windows merged out of order: {got}");
    assert!(
        n("tombstones_purged") > 0,
        "the purge removed tombstones: {got}"
    );
    // Two MERGEs at once: the loser's error is one the runner retries, and running it again
    // converged (checked by the script).
    let conflict = got["conflict_error"].as_str().expect("a commit conflict");
    assert!(
        retryable(&RunError::Failed {
            query_id: "duckdb".into(),
            state: "FAILED".into(),
            reason: conflict.into(),
        }),
        "the runner would not retry: {conflict}"
    );
    println!(
        "iceberg oracle ({objects:?} objects): {} seeds, {} MERGEs run ({} over older windows after newer), {} rows compared, {} tombstones purged, 1 commit conflict retried, mismatches 0",
        seeds.len(),
        n("merges"),
        n("late_merges"),
        n("rows_compared"),
        n("tombstones_purged"),
    );
}

#[test]
fn state_statements_are_valid_athena_sql_and_are_pinned() {
    use cdc_sink::schema::registry::Registered;
    let orders = Registered::from_json(
        br#"{"schema":"public","table":"Orders \"2024\"","version":3,"primary_key":["id","line"],"columns":[
        {"name":"id","type":"int","nullable":false,"source":"table-def"},
        {"name":"line","type":"bigint","nullable":false,"source":"table-def"},
        {"name":"total","type":"decimal(10,2)","nullable":true,"source":"table-def"},
        {"name":"we`ird \"col\"","type":"string","nullable":true,"source":"inferred"},
        {"name":"placed_at","type":"timestamp","nullable":true,"source":"table-def"}]}"#,
    )
    .unwrap();
    let mut o = options();
    o.layout.partition = Partitioning::Hour;
    let s = orders.to_schema().unwrap();
    let t = &athena::ddl(std::slice::from_ref(&orders), &o).unwrap()[0];
    let statements = [
        t.state_table.clone(),
        t.current_view.clone(),
        merge::merge(&orders, &s, &o, &Window::Since("2025-11-01".into())).unwrap(),
        merge::purge_tombstones(&orders, &s, &o, 7).unwrap(),
        merge::optimize(&orders, &s, &o).unwrap(),
        merge::vacuum(&orders, &s, &o).unwrap(),
    ];
    let script: String = statements.iter().map(|s| format!("{s};\n\n")).collect();
    let snap = root().join("tests/snapshots/athena_state.sql");
    if std::env::var("CDC_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&snap, &script).unwrap();
    }
    assert_eq!(
        script,
        std::fs::read_to_string(&snap).unwrap_or_default(),
        "state statements changed: review, then CDC_UPDATE_SNAPSHOTS=1"
    );
    // Unpartitioned lakes window on the arrival time; a --lookback window is a date literal.
    o.layout.partition = Partitioning::None;
    let unpartitioned = merge::merge(&orders, &s, &o, &Window::Since("2025-11-01".into())).unwrap();
    assert!(unpartitioned
        .contains("\"cdc_arrival_ts\" >= CAST(CAST('2025-11-01' AS date) AS timestamp)"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("statements.json");
    let mut all = statements.to_vec();
    all.push(unpartitioned);
    std::fs::write(&path, serde_json::to_vec(&all).unwrap()).unwrap();
    let parsed = python_json("parse_state_sql.py", &[path.as_os_str()]);
    assert_eq!(parsed["parsed"], json!(all.len()), "{parsed}");
}
