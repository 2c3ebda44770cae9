//! `cdc-sink status`: the lake at a glance, as data (the CLI renders it). It reads listings
//! and small documents only (`_layout.json`, the registry under `_schemas/`, quarantine logs,
//! the recover and redrive history under `_control/`, and for an `objects = batch` lake the
//! listing of `_batches/`), so it stays fast on a large S3 lake;
//! rows by operation and exact commit times need the data objects themselves and are read
//! only on request (`--rows`).
//!
//! Each table folder is listed on its own, several at once: the listing of a lake costs one
//! request per 1,000 objects, spread over the tables.

use crate::config::{Layout as LakeLayout, Objects};
use crate::format::read::{lineage, Wanted};
use crate::lake::docs::QuarantineEntry;
use crate::lake::keys::{self, table_folder};
use crate::lake::Lake;
use crate::model::time;
use crate::schema::registry::Registered;
use crate::store::{ObjectInfo, Store, StoreError};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::collections::BTreeMap;

/// Table folders listed at once.
const LIST_CONCURRENCY: usize = 16;
/// Quarantine objects read for their reasons (the newest ones); the rest are only counted.
pub const QUARANTINE_READ_LIMIT: usize = 200;
/// Recover / redrive documents read (the newest ones).
const HISTORY_READ_LIMIT: usize = 20;

/// The whole picture, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The lake as the user named it (path or `s3://` URL).
    pub location: String,
    /// When the status was taken, in milliseconds since the epoch; ages are counted from it.
    pub now_ms: i64,
    /// The layout the lake was written with.
    pub layout: Layout,
    /// One entry per table folder, sorted by table.
    pub tables: Vec<TableStatus>,
    /// One entry per registered table schema.
    pub schemas: Vec<SchemaStatus>,
    /// Quarantined records: object counts and reasons.
    pub quarantine: Quarantine,
    /// The DDL and table-announcement log under `_control/dt=...`.
    pub control_log: Totals,
    /// Recover runs, from their documents under `_control/`.
    pub recover: History,
    /// Redrive runs, from their manifests under `_control/`.
    pub redrive: History,
    /// Temporary files (local) or incomplete multipart uploads (S3) left by stopped writers.
    pub temporary: Vec<Leftover>,
    /// Batch objects not compacted yet: only for a lake whose `_layout.json` says
    /// `objects = batch`.
    pub compaction: Option<Compaction>,
    /// What could not be looked at, and why.
    pub notes: Vec<String>,
}

/// How the lake is laid out, from `_layout.json` or, without it, from the object keys.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Layout {
    /// `from _layout.json`, `inferred from object keys`, or `empty lake`.
    pub source: String,
    /// Object format (`parquet` or `jsonl`), when known.
    pub format: Option<String>,
    /// Compression codec, when known.
    pub compression: Option<String>,
    /// Partitioning (none, daily or hourly), when known.
    pub partition: Option<String>,
    /// Which time picks the partition; only known from `_layout.json`.
    pub partition_time: Option<String>,
    /// Objects per batch (`table` or `batch`); only known from `_layout.json`.
    pub objects: Option<String>,
}

/// The compaction backlog of an `objects = batch` lake: batch objects under `_batches/` not
/// laid out per table yet, and the passes recorded under `_control/compaction/`.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Batch objects waiting.
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The oldest hour holding batch objects (`YYYY-MM-DDTHH`, the hour their batches arrived).
    pub oldest_hour: Option<String>,
    /// Milliseconds from the end of that hour to now: how long its rows have waited since
    /// their hour ended. A window is compacted once it is closed (its end plus the compactor's
    /// close-after, an hour by default), so this stays under about two hours plus the
    /// schedule's interval while compaction keeps up.
    pub lag_ms: Option<i64>,
    /// Compaction passes recorded.
    pub passes: u64,
    /// When the newest pass was recorded, in milliseconds since the epoch (as the store
    /// reports the record's last modification).
    pub last_pass_ms: Option<i64>,
}

/// Objects and bytes.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Totals {
    /// Number of objects.
    pub objects: u64,
    /// Sum of object sizes, in bytes.
    pub bytes: u64,
}

/// One table folder of the lake.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    /// `schema.table` as registered (or the escaped folder names when not registered).
    pub table: String,
    /// The table's folder under the prefix.
    pub folder: String,
    /// Data objects in the folder.
    pub objects: u64,
    /// Sum of the data objects' sizes, in bytes.
    pub bytes: u64,
    /// First and last partition folder (`dt=...[/hr=...]`), when partitioned.
    pub first_partition: Option<String>,
    /// Last partition folder, in key order.
    pub last_partition: Option<String>,
    /// Number of distinct partition folders.
    pub partitions: u64,
    /// Newest object write, ms since the epoch.
    pub last_write_ms: Option<i64>,
    /// Only with `--rows`: rows by operation and the commit time range.
    pub rows: Option<Rows>,
}

/// What the data objects of a table hold (read with `--rows`).
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Rows {
    /// Rows of the full load (operation `L`).
    pub load: u64,
    /// Inserted rows (operation `I`).
    pub insert: u64,
    /// Updated rows (operation `U`).
    pub update: u64,
    /// Deleted rows (operation `D`).
    pub delete: u64,
    /// µs since the epoch.
    pub first_commit_us: Option<i64>,
    /// Latest commit time, in microseconds since the epoch.
    pub last_commit_us: Option<i64>,
    /// Objects that could not be read.
    pub unreadable: u64,
}

/// The registered schema of one table.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    /// `schema.table`.
    pub table: String,
    /// Registry version of the schema (bumped on every change).
    pub version: u64,
    /// Number of registered columns.
    pub columns: usize,
    /// Primary key column names, in key order.
    pub primary_key: Vec<String>,
    /// Declared types not applied: (column, registered type, declared type, source).
    pub pending: Vec<PendingType>,
    /// What resolves the pending types.
    pub resolve: Option<String>,
}

/// A declared column type that the registry has not applied yet.
#[derive(Debug, Clone, Serialize)]
pub struct PendingType {
    /// The column's name.
    pub column: String,
    /// The type the column is registered with.
    pub registered: String,
    /// The type the source declared.
    pub declared: String,
    /// Where the declared type came from, as the registry spells it.
    pub source: String,
}

/// Quarantine objects of the lake: counts, and reasons from the newest ones.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Quarantine {
    /// Quarantine objects found.
    pub objects: u64,
    /// Sum of quarantine object sizes, in bytes.
    pub bytes: u64,
    /// Per arrival day: records per reason code (from the newest objects, see `complete`).
    pub by_day: BTreeMap<String, BTreeMap<String, u64>>,
    /// False when only the newest objects were read for reasons.
    pub complete: bool,
}

/// Recover or redrive runs: their documents under `_control/recover|redrive/`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct History {
    /// Documents found.
    pub documents: u64,
    /// The newest documents (key relative to the prefix, and the document).
    pub newest: Vec<(String, serde_json::Value)>,
}

/// An object left by a writer that stopped before finishing it.
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    /// Key relative to the prefix; an upload's kind follows in parentheses.
    pub key: String,
    /// Size in bytes, as the store reports it (0 when it does not know).
    pub bytes: u64,
    /// Last modification, in milliseconds since the epoch, when the store reports it.
    pub modified_ms: Option<i64>,
}

/// A failure to read the lake.
#[derive(Debug, thiserror::Error)]
#[error("reading {} failed: {}", .0.location, .0.message)]
pub struct StatusError(#[from] StoreError);

async fn read<K: Store>(store: &K, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(store.get(key).await?.map(|(b, _)| b))
}

/// The partition folders of a key relative to its table folder (`dt=...`, `hr=...`).
fn partition_of(rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel
        .split('/')
        .take_while(|s| s.starts_with("dt=") || s.starts_with("hr="))
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn is_hidden(key: &str) -> bool {
    key.rsplit('/').next().is_some_and(|n| n.starts_with('.'))
}

/// Reads the state of `lake`; `location` names it in the output (as the user gave it).
pub async fn status<K: Store>(
    lake: &Lake<K>,
    location: &str,
    with_rows: bool,
    now_ms: i64,
) -> Result<Status, StatusError> {
    let sink = lake.store();

    // Registered schemas: one small document per table.
    let mut registered: Vec<Registered> = Vec::new();
    for o in sink.list(keys::SCHEMAS).await? {
        if o.key.ends_with(".json") && !is_hidden(&o.key) {
            if let Some(bytes) = read(sink, &o.key).await? {
                if let Ok(doc) = Registered::from_json(&bytes) {
                    registered.push(doc);
                }
            }
        }
    }
    let names: BTreeMap<String, String> = registered
        .iter()
        .map(|r| (table_folder(&r.id()), r.id().to_string()))
        .collect();

    // Table folders: every folder under a schema folder (reserved folders start with `_`).
    let mut table_folders = Vec::new();
    for schema in sink.list_folders("").await? {
        if keys::is_reserved(&schema) || schema.starts_with('.') {
            continue;
        }
        table_folders.extend(sink.list_folders(&schema).await?);
    }
    let listed: Vec<Result<(String, Vec<ObjectInfo>), StoreError>> = stream::iter(table_folders)
        .map(|f| async move { sink.list(&f).await.map(|o| (f, o)) })
        .buffered(LIST_CONCURRENCY)
        .collect()
        .await;

    let mut tables = Vec::new();
    let mut temporary = Vec::new();
    let mut extensions: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut partition_kind: Option<&'static str> = None;
    for item in listed {
        let (folder, objs) = item?;
        let folder_rel = folder.clone();
        let mut t = TableStatus {
            table: names
                .get(&folder_rel)
                .cloned()
                .unwrap_or_else(|| folder_rel.trim_end_matches('/').replacen('/', ".", 1)),
            folder: folder_rel,
            objects: 0,
            bytes: 0,
            first_partition: None,
            last_partition: None,
            partitions: 0,
            last_write_ms: None,
            rows: None,
        };
        let mut parts = std::collections::BTreeSet::new();
        let mut data_keys = Vec::new();
        for o in objs {
            let name = o.key.rsplit('/').next().unwrap_or("");
            if is_hidden(&o.key) {
                continue;
            }
            let ext = if name.ends_with(".parquet") {
                "parquet"
            } else if name.ends_with(".jsonl.gz") {
                "jsonl.gz"
            } else if name.ends_with(".jsonl") {
                "jsonl"
            } else {
                "other"
            };
            *extensions.entry(ext).or_default() += 1;
            t.objects += 1;
            t.bytes += o.size;
            t.last_write_ms = t.last_write_ms.max(o.modified_ms);
            let within = o.key.strip_prefix(&folder).unwrap_or(&o.key);
            let p = partition_of(within);
            partition_kind.get_or_insert(match &p {
                Some(p) if p.contains("hr=") => "hour",
                Some(_) => "day",
                None => "none",
            });
            if let Some(p) = p {
                parts.insert(p);
            }
            data_keys.push(o.key);
        }
        t.partitions = parts.len() as u64;
        t.first_partition = parts.first().cloned();
        t.last_partition = parts.last().cloned();
        if with_rows {
            t.rows = Some(read_rows(sink, &data_keys).await);
        }
        tables.push(t);
    }
    tables.sort_by(|a, b| a.table.cmp(&b.table));

    // The layout document, or what the keys say.
    let layout = match lake.recorded_layout() {
        Some(l) => Layout::recorded(&l),
        None => infer_layout(&extensions, partition_kind),
    };

    let schemas = registered
        .iter()
        .map(|r| schema_status(r, location))
        .collect();

    // Quarantine: counted from the listing; reasons read from the newest objects.
    let mut quarantine = Quarantine {
        complete: true,
        ..Quarantine::default()
    };
    let mut q_objects: Vec<ObjectInfo> = sink
        .list(keys::QUARANTINE)
        .await?
        .into_iter()
        .filter(|o| !is_hidden(&o.key))
        .collect();
    quarantine.objects = q_objects.len() as u64;
    quarantine.bytes = q_objects.iter().map(|o| o.size).sum();
    q_objects.sort_by(|a, b| b.key.cmp(&a.key));
    if q_objects.len() > QUARANTINE_READ_LIMIT {
        quarantine.complete = false;
        q_objects.truncate(QUARANTINE_READ_LIMIT);
    }
    for o in &q_objects {
        let day = partition_of(&o.key.clone().replacen(keys::QUARANTINE, "", 1))
            .map(|p| p.trim_start_matches("dt=").to_string())
            .unwrap_or_else(|| "-".into());
        let reasons = quarantine.by_day.entry(day).or_default();
        let Some(bytes) = read(sink, &o.key).await? else {
            continue;
        };
        for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let code = serde_json::from_slice::<QuarantineEntry>(line)
                .map(|e| e.reason_code.into_owned())
                .unwrap_or_else(|_| "unreadable".into());
            *reasons.entry(code).or_default() += 1;
        }
    }

    // The control log (DDL and table announcements), and the recover / redrive history.
    let control: Vec<ObjectInfo> = sink.list(keys::CONTROL).await?;
    let log = format!("{}dt=", keys::CONTROL);
    let control_log = Totals {
        objects: control.iter().filter(|o| o.key.starts_with(&log)).count() as u64,
        bytes: control
            .iter()
            .filter(|o| o.key.starts_with(&log))
            .map(|o| o.size)
            .sum(),
    };
    let recover = history(sink, &control, keys::RECOVER_HISTORY).await?;
    let redrive = history(sink, &control, keys::REDRIVE_MANIFESTS).await?;

    // The compaction backlog, for a lake that writes batch objects.
    let compaction = match lake.recorded_layout() {
        Some(l) if l.objects == Objects::Batch => Some(compaction(
            &sink.list(keys::BATCHES).await?,
            &control,
            now_ms,
        )),
        _ => None,
    };

    // Writes that never finished: temporary files (local), incomplete multipart uploads (S3).
    let mut notes = Vec::new();
    match sink.leftovers("").await {
        Ok(found) => temporary.extend(found.into_iter().map(|l| Leftover {
            key: if l.kind == "temporary file" {
                l.key
            } else {
                format!("{} ({})", l.key, l.kind)
            },
            bytes: l.size,
            modified_ms: l.modified_ms,
        })),
        // Some S3-compatible servers do not implement ListMultipartUploads (s3s-fs 0.14).
        Err(e) => notes.push(format!(
            "incomplete multipart uploads not listed: {}",
            e.message.lines().next().unwrap_or_default()
        )),
    }
    temporary.sort_by(|a, b| a.key.cmp(&b.key));

    Ok(Status {
        location: location.to_string(),
        now_ms,
        layout,
        tables,
        schemas,
        quarantine,
        control_log,
        recover,
        redrive,
        temporary,
        notes,
        compaction,
    })
}

/// The backlog from the listing of `_batches/` and the records in the `_control/` listing.
fn compaction(batches: &[ObjectInfo], control: &[ObjectInfo], now_ms: i64) -> Compaction {
    let mut c = Compaction::default();
    let mut oldest: Option<i64> = None;
    for o in batches.iter().filter(|o| !is_hidden(&o.key)) {
        let Some(hour) = keys::batch_key_hour(&o.key) else {
            continue;
        };
        c.objects += 1;
        c.bytes += o.size;
        oldest = Some(oldest.map_or(hour, |h| h.min(hour)));
    }
    if let Some(h) = oldest {
        c.oldest_hour = Some(format!(
            "{}T{:02}",
            time::format_date(h.div_euclid(24)),
            h.rem_euclid(24)
        ));
        c.lag_ms = Some((now_ms - (h + 1) * 3_600_000).max(0));
    }
    for o in control.iter().filter(|o| {
        o.key.starts_with(keys::COMPACTION) && o.key != keys::COMPACTION_LEASE && !is_hidden(&o.key)
    }) {
        c.passes += 1;
        c.last_pass_ms = c.last_pass_ms.max(o.modified_ms);
    }
    c
}

impl Layout {
    /// The layout the lake's document records.
    fn recorded(l: &LakeLayout) -> Layout {
        Layout {
            source: format!("from {}", keys::LAYOUT),
            format: Some(l.format.to_string()),
            compression: Some(l.compression.to_string()),
            partition: Some(l.partition.to_string()),
            partition_time: Some(l.partition_time.to_string()),
            objects: Some(l.objects.to_string()),
        }
    }
}

fn infer_layout(extensions: &BTreeMap<&'static str, u64>, partition: Option<&str>) -> Layout {
    let Some((&ext, _)) = extensions.iter().max_by_key(|(_, n)| **n) else {
        return Layout {
            source: "empty lake".into(),
            ..Layout::default()
        };
    };
    let (format, compression) = match ext {
        "parquet" => ("parquet", None),
        "jsonl.gz" => ("jsonl", Some("gzip")),
        "jsonl" => ("jsonl", Some("none")),
        _ => ("unknown", None),
    };
    Layout {
        source: if extensions.len() > 1 {
            "inferred from object keys (several formats found)".into()
        } else {
            "inferred from object keys".into()
        },
        format: Some(format.into()),
        compression: compression.map(str::to_string),
        partition: partition.map(str::to_string),
        partition_time: None,
        objects: None,
    }
}

fn schema_status(r: &Registered, location: &str) -> SchemaStatus {
    let table = r.id().to_string();
    SchemaStatus {
        resolve: (!r.pending.is_empty()).then(|| {
            format!(
                "cdc-sink schema set {table} --accept-pending --out {location} \
                 (files already written keep their old types: replay the events again to rewrite them)"
            )
        }),
        table,
        version: r.version,
        columns: r.columns.len(),
        primary_key: r.primary_key.clone(),
        pending: r
            .pending
            .iter()
            .map(|p| PendingType {
                column: p.column.clone(),
                registered: p.registered.clone(),
                declared: p.ty.clone(),
                source: serde_json::to_value(p.source)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

async fn history<K: Store>(
    sink: &K,
    control: &[ObjectInfo],
    key_prefix: &str,
) -> Result<History, StoreError> {
    let mut docs: Vec<&ObjectInfo> = control
        .iter()
        .filter(|o| o.key.starts_with(key_prefix) && !is_hidden(&o.key))
        .collect();
    let mut h = History {
        documents: docs.len() as u64,
        newest: Vec::new(),
    };
    docs.sort_by(|a, b| (b.modified_ms, &b.key).cmp(&(a.modified_ms, &a.key)));
    for o in docs.into_iter().take(HISTORY_READ_LIMIT) {
        if let Some(bytes) = read(sink, &o.key).await? {
            let v = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| serde_json::Value::String("(not JSON)".into()));
            h.newest.push((o.key.clone(), v));
        }
    }
    Ok(h)
}

/// Rows by operation and the commit time range of data objects (Parquet: two columns read;
/// JSON Lines: every line).
async fn read_rows<K: Store>(sink: &K, keys: &[String]) -> Rows {
    let mut rows = Rows::default();
    for key in keys {
        let Ok(Some(bytes)) = read(sink, key).await else {
            rows.unreadable += 1;
            continue;
        };
        if count_rows(key, bytes, &mut rows).is_err() {
            rows.unreadable += 1;
        }
    }
    rows
}

fn add_row(rows: &mut Rows, op: &str, commit_us: Option<i64>) {
    match op {
        "L" => rows.load += 1,
        "I" => rows.insert += 1,
        "U" => rows.update += 1,
        "D" => rows.delete += 1,
        _ => {}
    }
    if let Some(t) = commit_us {
        rows.first_commit_us = Some(rows.first_commit_us.map_or(t, |f| f.min(t)));
        rows.last_commit_us = Some(rows.last_commit_us.map_or(t, |l| l.max(t)));
    }
}

fn count_rows(key: &str, bytes: Vec<u8>, rows: &mut Rows) -> Result<(), String> {
    for l in lineage(key, bytes, Wanted::OpAndCommit)? {
        add_row(rows, l.op.as_deref().unwrap_or(""), l.commit_us);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(
            partition_of("dt=2025-01-01/hr=03/x.parquet").unwrap(),
            "dt=2025-01-01/hr=03"
        );
        assert_eq!(partition_of("x.parquet"), None);
    }
}
