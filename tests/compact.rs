//! `objects = batch` and the compactor: the same events written one object per batch and then
//! compacted give, table by table, exactly the rows (every value, every lineage column) that
//! `objects = table` writes; a compactor stopped at any write or removal, rerun, or racing
//! another loses and duplicates nothing.

use crate::common;

use arrow::array::Array;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use cdc_sink::compact::{compact, CompactOptions, CompactionError};
use cdc_sink::config::{Config, Layout, Objects};
use cdc_sink::ingest::replay::replay;
use cdc_sink::lake::Lake;
use cdc_sink::model::time;
use cdc_sink::sim::generate::{generate, GenOptions};
use cdc_sink::store::local::LocalDir;
use cdc_sink::store::memory::MemoryStore;
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

fn cfg(objects: Objects) -> Config {
    Config {
        layout: Layout {
            objects,
            ..Layout::default()
        },
        await_table_def: std::time::Duration::ZERO,
        ..Config::default()
    }
}

/// Sample events and a generated multi-table workload, as files for `replay`.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("test-input"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && !p.ends_with("expected.json"))
        .collect();
    files.sort();
    let w = generate(&GenOptions {
        seed: 7,
        tables: 6,
        rows: 20,
        transactions: 120,
        shards: 2,
        records_per_event: 25,
        unformatted_share: 0.5,
        name_bytes: 0,
    });
    for (i, e) in w.events.iter().enumerate() {
        let p = dir.join(format!("gen-{i:04}.json"));
        std::fs::write(&p, &e.bytes).unwrap();
        files.push(p);
    }
    files
}

/// Every data row under `dir` outside reserved folders, per table folder, as sorted
/// `column=value` lines (NULLs left out, so a column a batch did not have reads as NULL).
fn table_rows(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in files(dir) {
        if key.starts_with('_') || !key.ends_with(".parquet") {
            continue;
        }
        let mut parts = key.split('/');
        let folder = format!("{}/{}", parts.next().unwrap(), parts.next().unwrap());
        let partition: Vec<&str> = key
            .split('/')
            .filter(|s| s.starts_with("dt=") || s.starts_with("hr="))
            .collect();
        let file = std::fs::File::open(dir.join(&key)).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let opts = FormatOptions::default();
            let fmts: Vec<(String, &dyn Array, ArrayFormatter)> = batch
                .schema()
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, c)| {
                    (
                        format!("{}:{}", f.name(), f.data_type()),
                        c.as_ref(),
                        ArrayFormatter::try_new(c.as_ref(), &opts).unwrap(),
                    )
                })
                .collect();
            for r in 0..batch.num_rows() {
                let mut cells: Vec<String> = fmts
                    .iter()
                    .filter(|(_, a, _)| !a.is_null(r))
                    .map(|(n, _, f)| format!("{n}={}", f.value(r)))
                    .collect();
                cells.extend(partition.iter().map(|p| p.to_string()));
                cells.sort();
                out.entry(folder.clone())
                    .or_default()
                    .push(cells.join(" | "));
            }
        }
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

async fn replay_into(dir: &Path, files: &[PathBuf], objects: Objects) {
    let c = cfg(objects);
    let lake = Lake::open_for_write(LocalDir::new(dir), "", c.layout)
        .await
        .unwrap();
    let s = replay(files, &lake, &c, &AtomicBool::new(false), &mut |_| {}).await;
    assert!(s.ok(), "{:?}", s.error);
}

fn later() -> CompactOptions {
    CompactOptions {
        // Every window closed: a day after the newest arrival of any input.
        now_us: time::now_us() + 86_400_000_000,
        target_bytes: 4096,
        ..CompactOptions::default()
    }
}

#[tokio::test]
async fn compacted_batch_objects_hold_exactly_what_table_objects_hold() {
    let scratch = tempfile::tempdir().unwrap();
    let sources = inputs(scratch.path());
    let (table_dir, batch_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    replay_into(table_dir.path(), &sources, Objects::Table).await;
    replay_into(batch_dir.path(), &sources, Objects::Batch).await;

    let batch_files = files_under(batch_dir.path(), "_batches/");
    let events = sources.len();
    assert!(
        !batch_files.is_empty() && batch_files.len() <= events,
        "one object per batch at most: {} objects for {events} events",
        batch_files.len()
    );
    assert!(
        table_rows(batch_dir.path()).is_empty(),
        "nothing per table yet"
    );

    let lake = Lake::open_for_read(LocalDir::new(batch_dir.path()), "")
        .await
        .unwrap();
    let mut passes = 0;
    let r = compact(&lake, &later(), |_| passes += 1).await.unwrap();
    assert!(passes > 0 && r.open_objects == 0, "{r:?}");
    assert!(
        files_under(batch_dir.path(), "_batches/").is_empty(),
        "inputs removed"
    );
    let want = table_rows(table_dir.path());
    let have = table_rows(batch_dir.path());
    assert_eq!(
        have.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let mut rows = 0;
    for (table, want_rows) in &want {
        assert_eq!(&have[table], want_rows, "{table}: every row, every value");
        rows += want_rows.len();
    }
    // Split by the target size: some table has several objects in one window.
    let split = files(batch_dir.path())
        .iter()
        .any(|k| k.contains("compacted-") && k.ends_with("-0001.parquet"));
    assert!(split, "a table's window beyond the target size is split");
    println!("compact: {events} events -> {} batch objects -> {rows} rows in {} tables, equal to objects=table", batch_files.len(), want.len());

    // A second run finds nothing to do and changes nothing.
    let before = files(batch_dir.path());
    let r = compact(&lake, &later(), |_| {}).await.unwrap();
    assert!(r.passes.is_empty());
    assert_eq!(files(batch_dir.path()), before);
}

#[tokio::test]
async fn a_compactor_stopped_at_any_write_or_removal_loses_and_duplicates_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let sources = inputs(scratch.path());
    let reference = tempfile::tempdir().unwrap();
    replay_into(reference.path(), &sources, Objects::Batch).await;
    let lake = Lake::open_for_read(LocalDir::new(reference.path()), "")
        .await
        .unwrap();
    compact(&lake, &later(), |_| {}).await.unwrap();
    let want = table_rows(reference.path());

    // Count the writes and removals of a whole run, then stop a run after each of them.
    let fresh = tempfile::tempdir().unwrap();
    replay_into(fresh.path(), &sources, Objects::Batch).await;
    let counting = Flaky {
        inner: LocalDir::new(fresh.path()),
        budget: AtomicI64::new(i64::MAX),
    };
    let lake = Lake::open_for_read(&counting, "").await.unwrap();
    compact(&lake, &later(), |_| {}).await.unwrap();
    let steps = i64::MAX - counting.budget.load(Ordering::SeqCst);
    assert_eq!(table_rows(fresh.path()), want);

    // The last step is the lease's removal, whose failure only delays the next run.
    let mut stops: Vec<i64> = (0..steps - 1)
        .step_by((steps as usize / 12).max(1))
        .collect();
    stops.push(steps - 2);
    for stop_after in stops {
        let dir = tempfile::tempdir().unwrap();
        replay_into(dir.path(), &sources, Objects::Batch).await;
        let flaky = Flaky {
            inner: LocalDir::new(dir.path()),
            budget: AtomicI64::new(stop_after),
        };
        let lake = Lake::open_for_read(&flaky, "").await.unwrap();
        assert!(compact(&lake, &later(), |_| {}).await.is_err());
        // The lease of the stopped run is still there: the next run waits it out.
        let after_lease = CompactOptions {
            now_us: later().now_us + 3_600_000_000,
            ..later()
        };
        flaky.budget.store(i64::MAX, Ordering::SeqCst);
        compact(&lake, &after_lease, |_| {}).await.unwrap();
        assert_eq!(
            table_rows(dir.path()),
            want,
            "stopped after {stop_after} of {steps} writes and removals"
        );
        assert!(files_under(dir.path(), "_batches/").is_empty());
    }
}

#[tokio::test]
async fn two_compactors_at_once_one_works_the_other_stops() {
    let scratch = tempfile::tempdir().unwrap();
    let sources = inputs(scratch.path());
    let dir = tempfile::tempdir().unwrap();
    replay_into(dir.path(), &sources, Objects::Batch).await;
    let want = {
        let copy = tempfile::tempdir().unwrap();
        replay_into(copy.path(), &sources, Objects::Batch).await;
        let lake = Lake::open_for_read(LocalDir::new(copy.path()), "")
            .await
            .unwrap();
        compact(&lake, &later(), |_| {}).await.unwrap();
        table_rows(copy.path())
    };
    let a = Lake::open_for_read(LocalDir::new(dir.path()), "")
        .await
        .unwrap();
    let b = Lake::open_for_read(LocalDir::new(dir.path()), "")
        .await
        .unwrap();
    let (oa, ob) = (later(), later());
    let (ra, rb) = tokio::join!(compact(&a, &oa, |_| {}), compact(&b, &ob, |_| {}));
    let busy = |r: &Result<_, CompactionError>| matches!(r, Err(CompactionError::Busy { .. }));
    assert!(
        (ra.is_ok() && (rb.is_ok() || busy(&rb))) || (rb.is_ok() && busy(&ra)),
        "{ra:?} {rb:?}"
    );
    // Whoever stopped, a rerun completes; the lake holds every row once.
    compact(&a, &later(), |_| {}).await.unwrap();
    assert_eq!(table_rows(dir.path()), want);
}

#[tokio::test]
async fn the_object_choice_is_part_of_the_layout_guard() {
    let store = MemoryStore::default();
    let table = Lake::open_for_write(&store, "cdc", cfg(Objects::Table).layout)
        .await
        .unwrap();
    table
        .put_objects([("s/t/x.parquet", bytes::Bytes::from_static(b"x"))])
        .await
        .unwrap();
    let refused = Lake::open_for_write(&store, "cdc", cfg(Objects::Batch).layout).await;
    let e = refused
        .err()
        .expect("a batch writer is refused by a table lake")
        .to_string();
    assert!(
        e.contains("objects=table") && e.contains("objects=batch") && e.contains("--objects table"),
        "{e}"
    );
    let lake = Lake::open_for_read(&store, "cdc").await.unwrap();
    let e = compact(&lake, &later(), |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("nothing to compact"), "{e}");
    assert!(store.keys().iter().all(|k| !k.contains("_batches")));
}
