//! `status` on an `objects = batch` lake shows the compaction backlog (batch objects, bytes,
//! oldest hour, lag, passes recorded), as data and as the terminal line, and shows it emptied
//! once `compact` has run; a compactor stopped at its deadline leaves the backlog as it was
//! and says so. A table lake shows no backlog at all.

use crate::common;

use cdc_sink::compact::{compact, CompactOptions};
use cdc_sink::config::{Config, Layout, Objects};
use cdc_sink::ingest::replay::replay;
use cdc_sink::lake::{keys, Lake};
use cdc_sink::model::time;
use cdc_sink::status::{status, Compaction};
use cdc_sink::store::local::LocalDir;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

fn sources() -> Vec<PathBuf> {
    [
        "full_load.json",
        "kinesis_test_input.json",
        "multi_table.json",
    ]
    .iter()
    .map(|n| root().join("test-input").join(n))
    .collect()
}

async fn replay_into(dir: &Path, objects: Objects) {
    let c = Config {
        layout: Layout {
            objects,
            ..Layout::default()
        },
        await_table_def: std::time::Duration::ZERO,
        ..Config::default()
    };
    let lake = Lake::open_for_write(LocalDir::new(dir), "", c.layout)
        .await
        .unwrap();
    let s = replay(&sources(), &lake, &c, &AtomicBool::new(false), &mut |_| {}).await;
    assert!(s.ok(), "{:?}", s.error);
}

async fn backlog(dir: &Path, now_ms: i64) -> Option<Compaction> {
    let lake = Lake::open_for_read(LocalDir::new(dir), "").await.unwrap();
    let s = status(&lake, &dir.to_string_lossy(), false, now_ms)
        .await
        .unwrap();
    assert_eq!(
        s.layout.objects.as_deref(),
        Some(lake.recorded_layout().unwrap().objects.as_str())
    );
    s.compaction
}

fn status_text(dir: &Path) -> String {
    let (ok, text, stderr) = run(cdc_sink().args(["status", "--out"]).arg(dir));
    assert!(ok, "{stderr}");
    text
}

#[tokio::test]
async fn status_shows_the_compaction_backlog_until_compact_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    replay_into(dir.path(), Objects::Batch).await;
    let now_ms = time::now_us() / 1000;

    // The backlog is every batch object on disk.
    let batch_files = files_under(dir.path(), keys::BATCHES);
    assert!(batch_files.len() >= 3, "{batch_files:?}");
    let bytes: u64 = batch_files
        .iter()
        .map(|k| std::fs::metadata(dir.path().join(k)).unwrap().len())
        .sum();
    let oldest = batch_files
        .iter()
        .filter_map(|k| keys::batch_key_hour(k))
        .min()
        .unwrap();
    let c = backlog(dir.path(), now_ms)
        .await
        .expect("a batch lake has a backlog");
    assert_eq!(c.objects, batch_files.len() as u64);
    assert_eq!(c.bytes, bytes);
    let oldest_hour = format!(
        "{}T{:02}",
        time::format_date(oldest.div_euclid(24)),
        oldest.rem_euclid(24)
    );
    assert_eq!(c.oldest_hour.as_deref(), Some(oldest_hour.as_str()));
    assert_eq!(c.lag_ms, Some(now_ms - (oldest + 1) * 3_600_000));
    assert_eq!((c.passes, c.last_pass_ms), (0, None));
    let text = status_text(dir.path());
    let line = format!("compaction: {} batch objects (", batch_files.len());
    assert!(text.contains(&line), "{line} missing from:\n{text}");
    assert!(
        text.contains(&format!(
            "not yet compacted, oldest hour {oldest_hour}, lag "
        )),
        "{text}"
    );
    assert!(text.contains("objects batch (from _layout.json)"), "{text}");

    // Every window is closed a day later.
    let later = CompactOptions {
        now_us: time::now_us() + 86_400_000_000,
        ..CompactOptions::default()
    };
    let lake = Lake::open_for_read(LocalDir::new(dir.path()), "")
        .await
        .unwrap();

    // A compactor past its stop time (the Lambda's deadline) starts no pass: the backlog stays,
    // counted as waiting from its oldest window.
    let stopped = CompactOptions {
        stop_before_us: Some(0),
        ..later.clone()
    };
    let r = compact(&lake, &stopped, |_| {}).await.unwrap();
    assert!(r.stopped_early && r.passes.is_empty());
    assert_eq!(r.open_objects, batch_files.len());
    assert_eq!(r.open_bytes, bytes);
    assert_eq!(r.oldest_open_hour, Some(oldest));
    assert_eq!(backlog(dir.path(), now_ms).await, Some(c));

    // Compacted: nothing waits, and the passes are counted.
    let r = compact(&lake, &later, |_| {}).await.unwrap();
    assert!(!r.stopped_early && !r.passes.is_empty());
    assert_eq!((r.open_objects, r.oldest_open_hour), (0, None));
    assert!(files_under(dir.path(), keys::BATCHES).is_empty());
    let c = backlog(dir.path(), now_ms).await.unwrap();
    assert_eq!(
        (c.objects, c.bytes, c.oldest_hour, c.lag_ms),
        (0, 0, None, None)
    );
    assert_eq!(c.passes, r.passes.len() as u64);
    assert!(c.last_pass_ms.is_some());
    let text = status_text(dir.path());
    let line = format!(
        "compaction: no batch objects waiting; {} passes recorded, the last ",
        r.passes.len()
    );
    assert!(text.contains(&line), "{line} missing from:\n{text}");
}

#[tokio::test]
async fn a_table_lake_has_no_compaction_backlog() {
    let dir = tempfile::tempdir().unwrap();
    replay_into(dir.path(), Objects::Table).await;
    assert_eq!(backlog(dir.path(), time::now_us() / 1000).await, None);
    let text = status_text(dir.path());
    assert!(!text.contains("compaction:"), "{text}");
    assert!(text.contains("objects table (from _layout.json)"), "{text}");
}
