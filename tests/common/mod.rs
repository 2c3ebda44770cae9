//! Helpers shared by the integration tests: sample files, running the pipeline, reading back.
#![allow(dead_code)]

use arrow::array::{Array, RecordBatch};
use cdc_sink::config::Config;
use cdc_sink::model::change::Counts;
use cdc_sink::pipeline::{build_batch, Batch};
use cdc_sink::schema::InferOnly;
use cdc_sink::store::local::LocalDir;
use cdc_sink::store::{PrefixStore, Store};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every sample event file in test-input/ with its expected counts (test-input/expected.json).
pub fn samples() -> Vec<(String, Counts)> {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("test-input/expected.json")).unwrap())
            .unwrap();
    let mut out = Vec::new();
    for (name, e) in expected.as_object().unwrap() {
        let n = |v: &serde_json::Value| v.as_u64().unwrap();
        out.push((
            name.clone(),
            Counts {
                records: n(&e["records"]),
                load: n(&e["rows"]["L"]),
                insert: n(&e["rows"]["I"]),
                update: n(&e["rows"]["U"]),
                delete: n(&e["rows"]["D"]),
                control: n(&e["control"]),
                skipped: n(&e["skipped"]),
                quarantined: n(&e["quarantined"]),
                ..Counts::default()
            },
        ));
    }
    assert!(out.len() >= 9, "test-input/expected.json lists the samples");
    out
}

pub fn sample_bytes(name: &str) -> Vec<u8> {
    std::fs::read(root().join("test-input").join(name)).unwrap()
}

pub fn batch(name: &str, cfg: &Config) -> Batch {
    build_batch(&sample_bytes(name), cfg, &InferOnly).unwrap()
}

/// Runs every sample through the pipeline into `sink` under `prefix`.
pub async fn replay_all<K: Store>(sink: &K, cfg: &Config, prefix: &str) -> Vec<Batch> {
    let store = PrefixStore::new(sink, prefix);
    let mut out = Vec::new();
    for (name, _) in samples() {
        let b = build_batch(&sample_bytes(&name), cfg, &InferOnly).unwrap();
        write_all(&store, &b).await.unwrap();
        out.push(b);
    }
    out
}

/// Writes a batch's objects, one after the other (the Lambda's writes without its layout guard).
pub async fn write_all<K: Store>(store: &K, b: &Batch) -> Result<(), StoreError> {
    for o in &b.objects {
        store.put(&o.key, o.body.clone()).await?;
    }
    Ok(())
}

/// All files under `dir`, as keys relative to it.
pub fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub fn read_parquet(bytes: Vec<u8>) -> RecordBatch {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// A batch's rows as JSON objects (via arrow-json), for value assertions that read naturally.
pub fn rows(batch: &RecordBatch) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
        w.write(batch).unwrap();
        w.finish().unwrap();
    }
    buf.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Rows per data object of a directory, keyed by object key.
pub fn parquet_rows(
    dir: &Path,
) -> BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>> {
    files(dir)
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
        .map(|k| {
            let b = read_parquet(std::fs::read(dir.join(&k)).unwrap());
            (k, rows(&b))
        })
        .collect()
}

pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_ref()
}
pub mod delivery;
pub mod lake_tables;
pub mod s3;
pub mod servers;
pub mod streams;
pub mod wal;

/// A small seeded generator (64-bit LCG), so schedules and workloads replay exactly.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..n` (0 when `n` is 0).
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// A Lambda Kinesis event of DMS messages, one shard, 56-digit ascending sequence numbers.
pub fn make_event(shard: &str, first: u64, msgs: &[serde_json::Value]) -> Vec<u8> {
    use base64::Engine;
    let records: Vec<serde_json::Value> = msgs
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let seq = format!("4966{:052}", first + i as u64);
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(m.to_string()),
                    "approximateArrivalTimestamp": 1_762_157_702.0 + i as f64},
                "eventSource": "aws:kinesis", "eventID": format!("{shard}:{seq}"),
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

/// A DMS data message.
pub fn dms_row(op: &str, schema: &str, table: &str, data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"data": data, "metadata": {"timestamp": "2025-11-03T08:15:02.104233Z", "record-type": "data",
        "operation": op, "partition-key-type": "schema-table", "schema-name": schema, "table-name": table,
        "transaction-id": 7, "commit-timestamp": "2025-11-03T08:15:01.000001Z"}})
}

/// A DMS create-table control message with a table-def.
pub fn dms_create_table(
    schema: &str,
    table: &str,
    columns: serde_json::Value,
    pk: &[&str],
) -> serde_json::Value {
    serde_json::json!({"control": {"table-def": {"columns": columns, "primary-key": pk}},
        "metadata": {"timestamp": "2025-11-03T08:15:00.000000Z", "record-type": "control", "operation": "create-table",
        "partition-key-type": "task-id", "schema-name": schema, "table-name": table}})
}

/// Processes events through the schema registry into a local directory, as `cdc-sink replay`
/// does: the reference output for comparisons with the Lambda and S3 paths.
pub async fn replay_registered(dir: &Path, events: &[Vec<u8>]) -> Vec<Batch> {
    let layout = Config::default().layout;
    let lake = cdc_sink::lake::Lake::open_for_write(LocalDir::new(dir), "", layout)
        .await
        .unwrap();
    let reg = cdc_sink::ingest::registry::SchemaRegistry::new(std::time::Duration::ZERO);
    let mut out = Vec::new();
    for e in events {
        let (b, _) = reg
            .build(lake.store(), e, &Config::default())
            .await
            .unwrap();
        lake.put_objects(b.puts()).await.unwrap();
        out.push(b);
    }
    out
}

use bytes::Bytes;
use cdc_sink::store::{Leftover, ObjectInfo, Precondition, PutOutcome, StoreError};
use std::sync::atomic::{AtomicI64, Ordering};

/// A store (a local directory unless said otherwise) that accepts `budget` more writes, then
/// fails (like S3 failing after the SDK's retries, or the function timing out): the objects
/// written before the cut stay. Conditional writes (registry, layout) are not counted.
#[derive(Default)]
pub struct Flaky<S = LocalDir> {
    pub inner: S,
    pub budget: AtomicI64,
}

impl<S: Store> Store for Flaky<S> {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(StoreError {
                location: key.into(),
                message: "injected failure".into(),
            });
        }
        self.inner.put(key, body).await
    }
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.inner.get(key).await
    }
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        self.inner.put_if(key, body, pre).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(StoreError {
                location: key.into(),
                message: "injected failure".into(),
            });
        }
        self.inner.delete(key).await
    }
    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_folders(prefix).await
    }
    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        self.inner.leftovers(prefix).await
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}
pub mod proxy;

/// Runs one of the Python scripts in tests/py with the test venv's interpreter (tests/run.sh
/// sets CDC_TEST_PYTHON), asserts it succeeded, and returns its standard output as JSON.
/// The keys of the files under `dir` that start with `prefix`.
pub fn files_under(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    files(dir)
        .into_iter()
        .filter(|k| k.starts_with(prefix))
        .collect()
}

pub fn python_json(script: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let python = std::env::var("CDC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .arg(root().join("tests/py").join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {python} (tests/run.sh installs the test venv): {e}"));
    assert!(
        out.status.success(),
        "{script} failed (tests/run.sh installs duckdb, pyarrow, sqlglot):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `cdc-sink` binary with none of the `CDC_*` variables of the environment it runs in, so a
/// test sees only the settings it gives.
pub fn cdc_sink() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"));
    for v in cdc_sink::config::env::ALL {
        c.env_remove(v);
    }
    c
}

/// Runs a command: (succeeded, stdout, stderr).
pub fn run(c: &mut std::process::Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether a test that cannot run here fails instead of skipping: `CDC_TEST_STRICT=1`, which
/// tests/run.sh sets, so CI never skips silently.
pub fn strict() -> bool {
    std::env::var("CDC_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// The one way to skip a test, or a part of one, that cannot run here (a tool or server is
/// missing): prints "SKIP <test>: <why>", or panics with the reason under `CDC_TEST_STRICT=1`.
/// The caller returns (or goes on without the skipped part); [`require!`] does both.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    assert!(
        !strict(),
        "{test}: {why} (CDC_TEST_STRICT=1: no test may be skipped)"
    );
    println!("SKIP {test}: {why}");
}

/// `require!(result)`: the value of a `Result<T, String>`, or, on `Err(why)`, [`skip`] with
/// `why` and return from the calling test.
macro_rules! require {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(why) => {
                $crate::common::skip(&why);
                return;
            }
        }
    };
}
pub(crate) use require;
