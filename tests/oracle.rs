//! End-to-end oracle: simulated PostgreSQL tables (cdc-sink generate) go through the Lambda
//! handler with the deliveries Lambda causes (whole-batch retries after cut-off writes,
//! bisection, duplicated deliveries, shards consumed in varying interleavings). Then the
//! generated Athena views, run by DuckDB on the produced files, must give the true final
//! state of every table row for row, and each change exactly once.

use crate::common;

use cdc_sink::athena::{self, DdlOptions};
use cdc_sink::config::{Compression, Config, Format, Partitioning};
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::ingest::registry::list_registered;
use cdc_sink::sim::generate::{generate, GenOptions, Workload};
use cdc_sink::store::local::LocalDir;
use cdc_sink::store::s3::{S3Settings, S3Store};
use cdc_sink::store::Store;
use common::delivery::{deliver_one, interleave, records, WHOLE_BATCH};
use common::lake_tables;
use common::s3;
use common::servers::S3Server;
use common::*;
use serde_json::json;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

fn workload(seed: u64) -> Workload {
    let mut r = Lcg(seed);
    generate(&GenOptions {
        seed,
        tables: 2 + r.next(3) as usize,
        rows: 5 + r.next(20) as usize,
        transactions: 40 + r.next(80) as usize,
        shards: 1 + r.next(3) as usize,
        records_per_event: 3 + r.next(30) as usize,
        unformatted_share: 0.5,
        name_bytes: 0,
    })
}

/// Replays a workload into `dir` through the handler; returns (invocations failed, duplicates).
async fn replay_with_faults(w: &Workload, seed: u64, dir: &Path) -> (u32, u32) {
    replay_with_faults_as(w, seed, dir, Config::default()).await
}

/// [`replay_with_faults`] with the Lambda configured by `config`.
async fn replay_with_faults_as(w: &Workload, seed: u64, dir: &Path, config: Config) -> (u32, u32) {
    let mut r = Lcg(seed ^ 0xFA17);
    let h = Handler::new(
        config,
        "",
        Flaky {
            inner: LocalDir::new(dir),
            budget: AtomicI64::new(i64::MAX),
        },
    );
    let order = interleave(w, &mut r);
    let (mut failures, mut duplicates) = (0, 0);
    for (i, e) in order.iter().enumerate() {
        failures += deliver_one(&h, &records(e), &mut r, &WHOLE_BATCH).await;
        // At-least-once: now and then an earlier batch comes again.
        if i > 0 && r.next(5) == 0 {
            let again = &order[r.next(i as u64) as usize];
            h.lake
                .store()
                .inner()
                .budget
                .store(i64::MAX, Ordering::SeqCst);
            let (resp, _) = h.handle(again).await.unwrap();
            assert!(resp.batch_item_failures.is_empty());
            duplicates += 1;
        }
    }
    (failures, duplicates)
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

/// Runs the generated views on the lake in `dir` (DuckDB) and checks them against the truth.
async fn check_views(dir: &Path, w: &Workload, what: &str) -> usize {
    check_views_as(dir, w, what, &options()).await
}

/// [`check_views`] with the DDL generated for the lake layout in `o`.
async fn check_views_as(dir: &Path, w: &Workload, what: &str, o: &DdlOptions) -> usize {
    let docs = list_registered(&LocalDir::new(dir)).await.unwrap();
    let tables = athena::ddl(&docs, o).unwrap();
    let manifest = json!({
        "database": "cdc_lake",
        "tables": tables.iter().map(|t| {
            let mut m = json!({
                "key": format!("{}.{}", t.schema, t.table),
                "athena_table": t.athena_table,
                "changes_view": t.changes_view,
                "current_view": t.current_history_view,
            });
            for (k, v) in lake_tables::relations(t, o, dir).as_object().unwrap() {
                m[k] = v.clone();
            }
            m
        }).collect::<Vec<_>>()
    });
    let mpath = dir.join("_manifest.json");
    std::fs::write(&mpath, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let got = python_json("oracle.py", &[mpath.as_os_str()]);
    let mut rows = 0;
    for t in &w.tables {
        let key = t.id.to_string();
        let g = &got[&key];
        assert_eq!(
            g["changes"],
            json!(t.changes),
            "{what} {key}: _changes holds every change"
        );
        assert_eq!(
            g["distinct_changes"],
            json!(t.changes),
            "{what} {key}: each change once"
        );
        let current = g["current"].as_array().unwrap();
        assert_eq!(
            current.len(),
            t.rows.len(),
            "{what} {key}: row count of _current"
        );
        for (have, want) in current.iter().zip(&t.rows) {
            assert_eq!(have, want, "{what} {key}: _current row");
        }
        rows += current.len();
    }
    rows
}

#[tokio::test]
async fn views_give_the_true_final_state_under_lambda_delivery_many_seeds() {
    let seeds = 16;
    let (mut failures, mut duplicates, mut rows, mut changes) = (0, 0, 0, 0);
    for seed in 1..=seeds {
        let w = workload(seed);
        let dir = tempfile::tempdir().unwrap();
        let (f, d) = replay_with_faults(&w, seed, dir.path()).await;
        failures += f;
        duplicates += d;
        rows += check_views(dir.path(), &w, &format!("seed {seed}")).await;
        changes += w.tables.iter().map(|t| t.changes).sum::<u64>();
    }
    println!("oracle: {seeds} seeds, {changes} changes, {rows} current rows checked, {failures} failed invocations retried, {duplicates} duplicate deliveries");
    assert!(failures > 0 && duplicates > 0);
}

/// A batch lake (`objects = batch`) read through the generated views while the compactor has
/// not run, after a compactor stopped at a random write or removal (part of a window compacted,
/// compacted objects written but not recorded, batch objects half removed), and after a later
/// run finished: each time the true final state and every change exactly once.
#[tokio::test]
async fn a_batch_lake_reads_each_change_once_before_during_and_after_compaction() {
    use cdc_sink::compact::{compact, CompactOptions};
    use cdc_sink::lake::Lake;
    let layout = cdc_sink::config::Layout {
        objects: cdc_sink::config::Objects::Batch,
        ..options().layout
    };
    let config = Config {
        layout,
        ..Config::default()
    };
    let o = DdlOptions {
        layout,
        ..options()
    };
    let later = CompactOptions {
        now_us: cdc_sink::model::time::now_us() + 86_400_000_000,
        target_bytes: 8192,
        ..CompactOptions::default()
    };
    let (mut stopped, mut changes) = (0, 0);
    for seed in 31..=36 {
        let w = workload(seed);
        let dir = tempfile::tempdir().unwrap();
        replay_with_faults_as(&w, seed, dir.path(), config.clone()).await;
        let batches = files_under(dir.path(), "_batches/").len() as u64;
        assert!(batches > 0, "seed {seed}: batch objects written");
        check_views_as(
            dir.path(),
            &w,
            &format!("seed {seed} before compaction"),
            &o,
        )
        .await;

        // Stopped before its last removal: the batch objects alone take that many steps.
        let budget = Lcg(seed).next(batches) as i64;
        let flaky = Flaky {
            inner: LocalDir::new(dir.path()),
            budget: AtomicI64::new(budget),
        };
        let lake = Lake::open_for_read(&flaky, "").await.unwrap();
        assert!(compact(&lake, &later, |_| {}).await.is_err());
        stopped += 1;
        check_views_as(
            dir.path(),
            &w,
            &format!("seed {seed} stopped after {budget} steps"),
            &o,
        )
        .await;

        let after_lease = CompactOptions {
            now_us: later.now_us + 3_600_000_000,
            ..later.clone()
        };
        let lake = Lake::open_for_read(LocalDir::new(dir.path()), "")
            .await
            .unwrap();
        compact(&lake, &after_lease, |_| {}).await.unwrap();
        assert!(files_under(dir.path(), "_batches/").is_empty());
        check_views_as(dir.path(), &w, &format!("seed {seed} compacted"), &o).await;
        changes += w.tables.iter().map(|t| t.changes).sum::<u64>();
    }
    println!("oracle (objects = batch): {changes} changes read once before, during ({stopped} stopped compactors) and after compaction");
}

#[tokio::test]
async fn views_give_the_true_final_state_read_back_from_s3() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    for seed in [101, 102, 103] {
        let w = workload(seed);
        let bucket = s3::unique_bucket("oracle");
        s3::create_bucket(&c, &bucket).await;
        let h = Handler::new(
            Config::default(),
            "cdc",
            S3Store::from_client(c.clone(), &S3Settings::new(&bucket)),
        );
        let mut r = Lcg(seed);
        for e in interleave(&w, &mut r) {
            let (resp, _) = h.handle(&e).await.unwrap();
            assert!(resp.batch_item_failures.is_empty());
        }
        // Read back everything written to the server, and query it like Athena.
        let dir = tempfile::tempdir().unwrap();
        let local = LocalDir::new(dir.path());
        for key in s3::list(&c, &bucket, "cdc/").await {
            let body = s3::get(&c, &bucket, &key).await;
            local
                .put(key.trim_start_matches("cdc/"), bytes::Bytes::from(body))
                .await
                .unwrap();
        }
        check_views(dir.path(), &w, &format!("s3 seed {seed}")).await;
    }
}

#[test]
fn ddl_is_valid_athena_and_trino_sql_and_is_pinned() {
    use cdc_sink::schema::registry::Registered;
    let doc = |json: &str| Registered::from_json(json.as_bytes()).unwrap();
    let orders = doc(
        r#"{"schema":"public","table":"Orders \"2024\"","version":3,"primary_key":["id","line"],"columns":[
        {"name":"id","type":"int","nullable":false,"source":"table-def"},
        {"name":"line","type":"bigint","nullable":false,"source":"table-def"},
        {"name":"total","type":"decimal(10,2)","nullable":true,"source":"table-def"},
        {"name":"we`ird \"col\"","type":"string","nullable":true,"source":"inferred"},
        {"name":"placed_at","type":"timestamp","nullable":true,"source":"table-def"}]}"#,
    );
    let nopk = doc(
        r#"{"schema":"audit","table":"log","version":1,"columns":[{"name":"msg","type":"string","nullable":true,"source":"inferred"}]}"#,
    );
    let mut o = options();
    o.layout.partition = Partitioning::Hour;
    let tables = athena::ddl(&[orders, nopk], &o).unwrap();
    let script = athena::script(&tables, &o);
    // Snapshot: the whole script is pinned; regenerate with CDC_UPDATE_SNAPSHOTS=1.
    let snap = root().join("tests/snapshots/athena_ddl.sql");
    if std::env::var("CDC_UPDATE_SNAPSHOTS").is_ok() {
        std::fs::create_dir_all(snap.parent().unwrap()).unwrap();
        std::fs::write(&snap, &script).unwrap();
    }
    assert_eq!(
        script,
        std::fs::read_to_string(&snap).unwrap_or_default(),
        "DDL changed: review, then CDC_UPDATE_SNAPSHOTS=1"
    );
    assert!(
        tables[1].current_view.starts_with("-- No view"),
        "no primary key, no _current view"
    );
    // sqlglot parses the DDL (athena dialect) and every view (trino dialect).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ddl.sql"), &script).unwrap();
    let views: Vec<&str> = tables
        .iter()
        .flat_map(|t| {
            [
                t.changes_view.as_str(),
                t.current_history_view.as_str(),
                t.current_view.as_str(),
            ]
        })
        .filter(|v| !v.starts_with("--"))
        .collect();
    std::fs::write(
        dir.path().join("views.json"),
        serde_json::to_vec(&views).unwrap(),
    )
    .unwrap();
    let ddl = dir.path().join("ddl.sql");
    let views_json = dir.path().join("views.json");
    let parsed = python_json("parse_sql.py", &[ddl.as_os_str(), views_json.as_os_str()]);
    assert_eq!(parsed["views"], 4);
}
