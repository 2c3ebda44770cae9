//! `cdc-sink reconcile`: does the lake hold what PostgreSQL holds, key by key?
//!
//! For each table: the lake's current state (every version of every key in the table's data
//! objects and, with `objects = batch`, in the batch objects not yet compacted, folded by the
//! rule in [`crate::lake::lineage::SourceOrder`]) against the live table, read as DMS renders
//! it and typed by the lake's own decoder, so a value compares exactly as the lake promises it
//! (decimals exactly, timestamps to the microsecond, bytes, JSON as JSON).
//!
//! Memory does not grow with the table: both sides are written to bucket files by a hash of
//! the key ([`spill`]) and compared one bucket at a time. The source keeps changing while this
//! runs, so a key that differs is read again on both sides until `settle` has passed; keys that
//! come to agree are counted as in flight, not reported.

pub mod compare;
mod spill;

use crate::format::read::{batch_table_rows, table_rows, Value, VersionRow};
use crate::ingest::registry::list_registered;
use crate::lake::{keys, Lake};
use crate::model::change::TableId;
use crate::model::time;
use crate::schema::registry::Registered;
use crate::source::postgres::SourceError;
use crate::source::rows::{self as source_rows, SourceColumn};
use crate::store::Store;
use compare::{compare, fold, why, Col, Key, LakeVersion, Outcome, Plan};
use futures::StreamExt;
use serde::Serialize;
use spill::Spill;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tables to compare; empty compares every table the lake's registry holds.
    pub tables: Vec<TableId>,
    /// How long a differing key may take to agree (the lake catching up) before it is reported.
    pub settle: Duration,
    /// Keys listed per kind of difference and table; the rest are counted.
    pub max_keys: usize,
    /// Where the bucket files go.
    pub work_dir: PathBuf,
    /// Rows per bucket, which bounds memory (the bucket count follows the table's size).
    pub bucket_rows: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tables: Vec::new(),
            settle: Duration::from_secs(30),
            max_keys: 1000,
            work_dir: std::env::temp_dir(),
            bucket_rows: 50_000,
        }
    }
}

/// The comparison, one entry per table, and how fresh the lake was.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// One entry per table, in (schema, table) order.
    pub tables: Vec<TableReport>,
    /// The lake's newest change against the source's clock.
    pub freshness: Freshness,
    /// PostgreSQL tables the lake holds nothing of (when no `--table` was named): excluded by a
    /// DMS table-mapping rule, or not changed since the task started. Not compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_in_lake: Vec<String>,
}

/// How far behind the source the lake was when compared.
#[derive(Debug, Clone, Serialize)]
pub struct Freshness {
    /// The source's clock when the comparison started.
    pub source_now: String,
    /// The newest change found in the lake's compared tables.
    pub lake_newest_change: Option<String>,
    /// `source_now` less `lake_newest_change`, in seconds.
    pub behind_seconds: Option<f64>,
}

/// One table's comparison. Keys are objects of primary-key column (PostgreSQL's name) to value.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableReport {
    /// `schema.table`.
    pub table: String,
    /// Rows in PostgreSQL.
    pub source_rows: u64,
    /// Rows in the lake's current state.
    pub lake_rows: u64,
    /// Keys PostgreSQL has and the lake does not (at most `max_keys`).
    pub missing: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Keys the lake has and PostgreSQL does not (at most `max_keys`).
    pub extra: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Keys whose values differ, with the columns (at most `max_keys`).
    pub differ: Vec<Differ>,
    /// All keys missing, listed or not.
    pub missing_count: u64,
    /// All keys extra, listed or not.
    pub extra_count: u64,
    /// All keys that differ, listed or not.
    pub differ_count: u64,
    /// Keys that differed at first and agreed once read again (changes on their way).
    pub in_flight: u64,
    /// Columns not compared, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why the table could not be compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TableReport {
    /// True when the table was compared and both sides agree.
    pub fn agrees(&self) -> bool {
        self.error.is_none()
            && self.missing_count == 0
            && self.extra_count == 0
            && self.differ_count == 0
    }
}

/// A key whose values differ.
#[derive(Debug, Clone, Serialize)]
pub struct Differ {
    /// The key.
    pub key: serde_json::Map<String, serde_json::Value>,
    /// The differing columns (PostgreSQL's names).
    pub columns: Vec<String>,
    /// What a difference probably means, by column, where its shape says.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub why: BTreeMap<String, String>,
}

/// Why reconcile could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The source could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The lake could not be read.
    #[error("{0}")]
    Lake(String),
}

/// A difference being watched: the key and both sides' latest rows.
struct Pending {
    key: Key,
    source: Option<Vec<Value>>,
    lake: Option<LakeVersion>,
}

/// Compares the lake's tables with PostgreSQL; `progress` hears about long work.
pub async fn reconcile<S: Store>(
    lake: &Lake<S>,
    client: &mut tokio_postgres::Client,
    opts: &Options,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Report, ReconcileError> {
    source_rows::prepare_session(client).await?;
    let source_now = source_rows::now_us(client).await?;
    let registered = list_registered(lake.store())
        .await
        .map_err(|e| ReconcileError::Lake(e.to_string()))?;
    let mut wanted: Vec<&Registered> = registered
        .iter()
        .filter(|r| {
            opts.tables.is_empty()
                || opts
                    .tables
                    .iter()
                    .any(|t| t.schema == r.schema && t.table == r.table)
        })
        .collect();
    wanted.sort_by(|a, b| (&a.schema, &a.table).cmp(&(&b.schema, &b.table)));
    let mut tables = Vec::new();
    for t in &opts.tables {
        if !wanted
            .iter()
            .any(|r| r.schema == t.schema && r.table == t.table)
        {
            tables.push(TableReport {
                table: t.to_string(),
                error: Some(format!(
                    "the lake has no table {t} (no registry document under _schemas/; see cdc-sink status)"
                )),
                ..TableReport::default()
            });
        }
    }
    let mut newest: Option<i64> = None;
    for reg in wanted {
        let id = TableId::new(&reg.schema, &reg.table);
        progress(&format!("{id}: reading"));
        let report = match table(lake, client, reg, opts, &mut newest, progress).await {
            Ok(r) => r,
            Err(TableError::Cannot(why)) => TableReport {
                table: id.to_string(),
                error: Some(why),
                ..TableReport::default()
            },
            Err(TableError::Source(e)) => return Err(e.into()),
        };
        tables.push(report);
    }
    tables.sort_by(|a, b| a.table.cmp(&b.table));
    let not_in_lake = if opts.tables.is_empty() {
        source_rows::user_tables(client)
            .await?
            .into_iter()
            .filter(|t| {
                !registered
                    .iter()
                    .any(|r| r.schema == t.schema && r.table == t.table)
            })
            .map(|t| t.to_string())
            .collect()
    } else {
        Vec::new()
    };
    Ok(Report {
        not_in_lake,
        tables,
        freshness: Freshness {
            source_now: time::format_timestamp(source_now),
            lake_newest_change: newest.map(time::format_timestamp),
            behind_seconds: newest.map(|n| (source_now - n) as f64 / 1e6),
        },
    })
}

enum TableError {
    /// This table cannot be compared (the others can).
    Cannot(String),
    /// The source failed: nothing more can be compared.
    Source(SourceError),
}

impl From<SourceError> for TableError {
    fn from(e: SourceError) -> Self {
        TableError::Source(e)
    }
}

/// PostgreSQL types DMS migrates as LOBs (see docs/research/dms-lob.md).
fn is_lob(c: &SourceColumn) -> bool {
    c.ty.category == 'A'
        || matches!(
            c.ty.name.as_str(),
            "text" | "json" | "jsonb" | "bytea" | "xml" | "hstore" | "tsvector" | "tsquery"
        )
}

/// The columns both sides hold, and notes on the others.
fn plan(
    reg: &Registered,
    source: &[SourceColumn],
) -> Result<(Plan, Vec<SourceColumn>, Vec<String>), String> {
    let mut cols = Vec::new();
    let mut src = Vec::new();
    let mut notes = Vec::new();
    for c in &reg.columns {
        let name = c.source_name();
        let Some(s) = source.iter().find(|s| s.name == name) else {
            notes.push(format!(
                "column {} is in the lake but not in PostgreSQL (dropped or renamed there): not compared",
                c.name
            ));
            continue;
        };
        let ty =
            c.ty.parse()
                .map_err(|e| format!("column {}: registered type {}: {e}", c.name, c.ty))?;
        cols.push(Col {
            lake: c.name.clone(),
            ty,
            source: s.name.clone(),
            json: s.is_json(),
            lob: is_lob(s),
        });
        src.push(s.clone());
    }
    for s in source {
        if !src.iter().any(|c| c.name == s.name) {
            notes.push(format!(
                "column {} is in PostgreSQL but not in the lake's registry (no change has carried it yet, or schema import was not run): not compared",
                s.name
            ));
        }
    }
    let key = reg
        .primary_key
        .iter()
        .map(|k| {
            cols.iter().position(|c| &c.lake == k).ok_or_else(|| {
                format!(
                    "primary-key column {k} is not in PostgreSQL's table: cannot compare by key"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if key.is_empty() {
        return Err("the lake knows no primary key for this table (DMS sends it in the table-def; or set one with cdc-sink schema set): cannot compare key by key".into());
    }
    Ok((Plan { cols, key }, src, notes))
}

/// The lake's data objects that can hold rows of `id`: the batch objects, then its folder (in
/// that order: a batch object compacted after the first listing has its compacted objects in
/// the second).
async fn lake_objects<S: Store>(
    lake: &Lake<S>,
    id: &TableId,
) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    for prefix in [keys::BATCHES.to_string(), keys::table_folder(id)] {
        for o in lake
            .store()
            .list(&prefix)
            .await
            .map_err(|e| e.to_string())?
        {
            if o.key.ends_with(".parquet")
                || o.key.ends_with(".jsonl")
                || o.key.ends_with(".jsonl.gz")
            {
                out.push((o.key, o.size));
            }
        }
    }
    Ok(out)
}

/// Reads `objects` (16 at a time) and hands each one's rows of `id` to `each`; returns how many
/// were gone by the time they were read (removed by the compactor).
async fn read_objects<S: Store>(
    lake: &Lake<S>,
    id: &TableId,
    cols: &[(String, crate::model::types::ColumnType)],
    objects: &[(String, u64)],
    mut each: impl FnMut(VersionRow) -> Result<(), String>,
) -> Result<usize, String> {
    let mut gone = 0;
    let mut reads = futures::stream::iter(objects.iter().map(|(k, _)| async move {
        let got = lake.store().get(k).await;
        (k, got)
    }))
    .buffered(16);
    while let Some((key, got)) = reads.next().await {
        let bytes = match got.map_err(|e| e.to_string())? {
            Some((b, _)) => b,
            // Removed since the listing (compacted): its rows are in the compacted objects,
            // which a later listing finds.
            None => {
                gone += 1;
                continue;
            }
        };
        let rows = if key.starts_with(keys::BATCHES) {
            batch_table_rows(bytes, id, cols)
        } else {
            table_rows(key, bytes, cols)
        }
        .map_err(|e| format!("cannot read {}: {e}", lake.location_of(key)))?;
        for r in rows {
            each(r)?;
        }
    }
    Ok(gone)
}

/// The text a key's value is cast from in a query.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(b) => f64::from_bits(*b).to_string(),
        Value::Decimal(d) | Value::Text(d) => d.clone(),
        Value::Date(d) => time::format_date(*d as i64),
        Value::Timestamp(t) => time::format_timestamp(*t),
        Value::Binary(b) => format!(
            "\\x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

async fn table<S: Store>(
    lake: &Lake<S>,
    client: &mut tokio_postgres::Client,
    reg: &Registered,
    opts: &Options,
    newest: &mut Option<i64>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<TableReport, TableError> {
    let id = TableId::new(&reg.schema, &reg.table);
    let Some(source_cols) = source_rows::table_columns(client, &id).await? else {
        return Err(TableError::Cannot(format!(
            "PostgreSQL has no table {id} (or this user cannot see it)"
        )));
    };
    let (plan, src, notes) = plan(reg, &source_cols).map_err(TableError::Cannot)?;
    let cols: Vec<(String, crate::model::types::ColumnType)> =
        plan.cols.iter().map(|c| (c.lake.clone(), c.ty)).collect();
    // The lake side.
    let started = Instant::now();
    let objects = lake_objects(lake, &id).await.map_err(TableError::Cannot)?;
    // Buckets from the larger of PostgreSQL's estimate and the lake's bytes (a row is rarely
    // under 16 bytes in a data object).
    let estimate = source_rows::estimated_rows(client, &id)
        .await?
        .max(objects.iter().map(|(_, size)| size / 16).sum());
    let buckets = ((estimate / opts.bucket_rows.max(1)) as usize + 1).clamp(1, 1024);
    let mut seen: HashSet<String> = objects.iter().map(|(k, _)| k.clone()).collect();
    let mut lake_spill = Spill::new(&opts.work_dir, "lake", buckets).map_err(TableError::Cannot)?;
    let mut versions = 0u64;
    let mut batch = objects;
    // Objects compacted away while being read: their rows are in objects listed again.
    for _ in 0..10 {
        let gone = read_objects(lake, &id, &cols, &batch, |row| {
            if row.order.time_us != i64::MIN {
                *newest = Some(newest.map_or(row.order.time_us, |n| n.max(row.order.time_us)));
            }
            for (k, v) in plan.versions(row) {
                lake_spill.push(&k, &(&k, &v))?;
                versions += 1;
            }
            Ok(())
        })
        .await
        .map_err(TableError::Cannot)?;
        if gone == 0 {
            break;
        }
        batch = lake_objects(lake, &id)
            .await
            .map_err(TableError::Cannot)?
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect();
    }
    progress(&format!(
        "{id}: {versions} changes in {} objects read in {:.1} s",
        seen.len(),
        started.elapsed().as_secs_f64()
    ));

    // The source side.
    let started = Instant::now();
    let mut source_spill =
        Spill::new(&opts.work_dir, "source", buckets).map_err(TableError::Cannot)?;
    let mut bad: Option<String> = None;
    let n = source_rows::rows(client, &id, &src, 5_000, |text| {
        let values = plan.source_row(text)?;
        match plan.key_of(&values) {
            Some(k) => source_spill.push(&k, &(&k, &values)),
            None => {
                bad.get_or_insert_with(|| "a source row with a NULL key column".into());
                Ok(())
            }
        }
    })
    .await?;
    progress(&format!(
        "{id}: {n} source rows read in {:.1} s",
        started.elapsed().as_secs_f64()
    ));

    // Bucket by bucket.
    let mut report = TableReport {
        table: id.to_string(),
        notes,
        ..TableReport::default()
    };
    let cap = opts.max_keys.max(1) * 3;
    let mut pending: Vec<Pending> = Vec::new();
    let mut overflow = (0u64, 0u64, 0u64);
    for b in 0..lake_spill.buckets() {
        let mut state: HashMap<Key, LakeVersion> = HashMap::new();
        lake_spill
            .read(b, |(k, v): (Key, LakeVersion)| fold(&mut state, k, v))
            .map_err(TableError::Cannot)?;
        let mut source: HashMap<Key, Vec<Value>> = HashMap::new();
        source_spill
            .read(b, |(k, v): (Key, Vec<Value>)| {
                source.insert(k, v);
            })
            .map_err(TableError::Cannot)?;
        report.source_rows += source.len() as u64;
        report.lake_rows += state.values().filter(|v| !v.gone).count() as u64;
        let mut keys: Vec<&Key> = source.keys().chain(state.keys()).collect();
        keys.sort_by_cached_key(|k| serde_json::to_string(k).unwrap_or_default());
        keys.dedup();
        for k in keys {
            let (s, l) = (source.get(k), state.get(k));
            let outcome = compare(s.map(Vec::as_slice), l);
            if outcome == Outcome::Same {
                continue;
            }
            if pending.len() < cap {
                pending.push(Pending {
                    key: k.clone(),
                    source: s.cloned(),
                    lake: l.cloned(),
                });
            } else {
                match outcome {
                    Outcome::Missing => overflow.0 += 1,
                    Outcome::Extra => overflow.1 += 1,
                    _ => overflow.2 += 1,
                }
            }
        }
    }
    drop((lake_spill, source_spill));

    // Differences read again until they agree or `settle` has passed.
    let deadline = Instant::now() + opts.settle;
    let mut known = seen;
    while !pending.is_empty() && Instant::now() < deadline {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(2));
        progress(&format!(
            "{id}: {} keys differ; reading them again (until --settle passes)",
            pending.len()
        ));
        tokio::time::sleep(wait).await;
        let before = pending.len();
        pending = recheck(lake, client, &id, &plan, &src, &cols, pending, &mut known).await?;
        report.in_flight += (before - pending.len()) as u64;
    }

    for p in pending {
        let key: serde_json::Map<String, serde_json::Value> = plan
            .key
            .iter()
            .zip(&p.key)
            .map(|(&i, v)| (plan.cols[i].source.clone(), v.to_json()))
            .collect();
        match compare(p.source.as_deref(), p.lake.as_ref()) {
            Outcome::Same => report.in_flight += 1,
            Outcome::Missing => {
                report.missing_count += 1;
                if report.missing.len() < opts.max_keys {
                    report.missing.push(key);
                }
            }
            Outcome::Extra => {
                report.extra_count += 1;
                if report.extra.len() < opts.max_keys {
                    report.extra.push(key);
                }
            }
            Outcome::Differ(cols) => {
                report.differ_count += 1;
                if report.differ.len() < opts.max_keys {
                    let (s, l) = (
                        p.source.unwrap_or_default(),
                        p.lake.map(|l| l.values).unwrap_or_default(),
                    );
                    report.differ.push(Differ {
                        key,
                        columns: cols.iter().map(|&i| plan.cols[i].source.clone()).collect(),
                        why: cols
                            .iter()
                            .filter_map(|&i| {
                                let c = &plan.cols[i];
                                why(c, s.get(i)?, l.get(i)?).map(|w| (c.source.clone(), w))
                            })
                            .collect(),
                    });
                }
            }
        }
    }
    report.missing_count += overflow.0;
    report.extra_count += overflow.1;
    report.differ_count += overflow.2;
    if let Some(b) = bad {
        report.notes.push(format!("{b}: not compared"));
    }
    Ok(report)
}

/// Reads the pending keys again on both sides (the lake: objects that appeared since); returns
/// those that still differ.
#[allow(clippy::too_many_arguments)]
async fn recheck<S: Store>(
    lake: &Lake<S>,
    client: &tokio_postgres::Client,
    id: &TableId,
    plan: &Plan,
    src: &[SourceColumn],
    cols: &[(String, crate::model::types::ColumnType)],
    mut pending: Vec<Pending>,
    known: &mut HashSet<String>,
) -> Result<Vec<Pending>, TableError> {
    let literals: Vec<Vec<String>> = pending
        .iter()
        .map(|p| p.key.iter().map(literal).collect())
        .collect();
    let mut fresh: HashMap<Key, Vec<Value>> = HashMap::new();
    for text in source_rows::rows_by_key(client, id, src, &plan.key, &literals).await? {
        let values = plan.source_row(&text).map_err(TableError::Cannot)?;
        if let Some(k) = plan.key_of(&values) {
            fresh.insert(k, values);
        }
    }
    let objects: Vec<(String, u64)> = lake_objects(lake, id)
        .await
        .map_err(TableError::Cannot)?
        .into_iter()
        .filter(|(k, _)| !known.contains(k))
        .collect();
    let mut state: HashMap<Key, LakeVersion> = pending
        .iter()
        .filter_map(|p| Some((p.key.clone(), p.lake.clone()?)))
        .collect();
    let wanted: HashSet<Key> = pending.iter().map(|p| p.key.clone()).collect();
    read_objects(lake, id, cols, &objects, |row| {
        for (k, v) in plan.versions(row) {
            if wanted.contains(&k) {
                fold(&mut state, k, v);
            }
        }
        Ok(())
    })
    .await
    .map_err(TableError::Cannot)?;
    known.extend(objects.into_iter().map(|(k, _)| k));
    for p in &mut pending {
        p.source = fresh.remove(&p.key);
        p.lake = state.remove(&p.key);
    }
    pending.retain(|p| compare(p.source.as_deref(), p.lake.as_ref()) != Outcome::Same);
    Ok(pending)
}
