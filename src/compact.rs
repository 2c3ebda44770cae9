//! `cdc-sink compact`: batch objects (`objects = batch`) of closed time windows laid out per
//! table, in exactly the per-table layout `objects = table` writes.
//!
//! Why nothing is lost or written twice, whatever stops it and whenever:
//! - A window is compacted only once it is closed for good: its last hour ended `close_after`
//!   ago, longer than the event source mapping can still retry a batch into it (bound it by
//!   MaximumRecordAgeInSeconds).
//! - A pass reads a set of batch objects, writes the compacted objects under keys derived from
//!   the window and that set ([`keys::compacted_key`]), then records the pass under
//!   `_control/compaction/`, and only then removes its batch objects. A crash before the record
//!   leaves the batch objects in place: the next run makes the same keys again (same inputs,
//!   same bytes). A crash after it leaves the record: the next run finds it and finishes the
//!   removal. A batch object recovered into a window already compacted is a new set: new keys,
//!   nothing overwritten.
//! - One compactor works at a time: it holds a lease (`_control/compaction/lease.json`, a
//!   conditional create; taken over only once expired). A second one stops at once.
//! - Readers de-duplicate on (`cdc_shard`, `cdc_seq`) in any case, so a change present both in
//!   a batch object and in its compacted object is read once.

use crate::config::Objects;
use crate::format::batch;
use crate::ingest::registry::{RegistryError, Snapshot};
use crate::lake::keys::{self, COMPACTION_LEASE};
use crate::lake::{Lake, LakeError};
use crate::model::time;
use crate::pipeline::compact::{compact as compact_rows, CompactError};
use crate::store::{ObjectInfo, Precondition, PutOutcome, Store, StoreError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Hours a window may span: whole divisors of a day, so windows never straddle midnight.
pub const WINDOW_HOURS: &[u32] = &[1, 2, 3, 4, 6, 8, 12, 24];

/// The compactor's settings.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Hours per window (one of [`WINDOW_HOURS`]).
    pub window_hours: u32,
    /// How long after a window's end it is closed for good (no retried batch can land in it).
    pub close_after_secs: u64,
    /// Target size of a compacted object; a table's window beyond it is split.
    pub target_bytes: usize,
    /// Batch-object bytes read into memory by one pass; a window beyond it takes several.
    pub max_input_bytes: u64,
    /// How long the lease holds without being renewed.
    pub lease_secs: u64,
    /// Now, in microseconds since the epoch (a parameter so tests can move time).
    pub now_us: i64,
    /// Only report what would be compacted.
    pub dry_run: bool,
    /// Stop between passes once the clock reaches this (µs since the epoch; the Lambda's
    /// deadline less a reserve): what is left counts as waiting, for the next run.
    pub stop_before_us: Option<i64>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            window_hours: 1,
            close_after_secs: 3_600,
            target_bytes: 128 << 20,
            max_input_bytes: 256 << 20,
            lease_secs: 900,
            now_us: time::now_us(),
            dry_run: false,
            stop_before_us: None,
        }
    }
}

/// One pass: a set of batch objects of one window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PassRecord {
    /// The window, e.g. `2026-12-05T10_1h`.
    pub window: String,
    /// Names the set of inputs (a hash of their keys and sizes).
    pub inputs_id: String,
    /// The batch objects read, with their sizes.
    pub inputs: Vec<(String, u64)>,
    /// The compacted objects written, with their rows.
    pub objects: Vec<(String, usize)>,
    /// Rows read.
    pub rows_in: usize,
    /// Rows written (copies of a change once).
    pub rows_out: usize,
    /// When the pass was recorded (ISO 8601; information only).
    pub recorded_at: String,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct CompactReport {
    /// Passes done (or, in a dry run, that would be done).
    pub passes: Vec<PassRecord>,
    /// Batch objects an earlier run compacted and recorded but had not removed yet (removed now).
    pub finished_earlier: usize,
    /// Batch objects still waiting: in windows not closed yet, or left by a stop.
    pub open_objects: usize,
    /// Their bytes.
    pub open_bytes: u64,
    /// The first hour of the oldest window still waiting, in hours since the epoch.
    pub oldest_open_hour: Option<i64>,
    /// The run stopped at [`CompactOptions::stop_before_us`] with closed windows left.
    pub stopped_early: bool,
}

impl CompactReport {
    /// Counts batch objects of the window starting at `start` as waiting.
    fn wait(&mut self, start: i64, objects: &[ObjectInfo]) {
        self.open_objects += objects.len();
        self.open_bytes += objects.iter().map(|x| x.size).sum::<u64>();
        self.oldest_open_hour = self.oldest_open_hour.or(Some(start));
    }
}

/// Why compaction stopped.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    /// The lake is not laid out in batch objects.
    #[error(
        "the lake at {0} writes one object per table (objects=table): there is nothing to compact"
    )]
    NotBatch(String),
    /// The lake has no layout document yet.
    #[error("the lake at {0} has no _layout.json yet: nothing has been written there")]
    Empty(String),
    /// Another compactor holds the lease.
    #[error("another compactor is at work on {location} (its lease, {key}, holds until {until}); this one stops. If none runs, wait for the lease to expire")]
    Busy {
        /// The lake.
        location: String,
        /// The lease document.
        key: String,
        /// When the lease expires.
        until: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Setting(String),
    /// The lake could not be read or written.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry could not be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A batch object could not be read.
    #[error("{location}: not a readable batch object ({why}); move it aside and compact again")]
    Unreadable {
        /// The object.
        location: String,
        /// What is wrong.
        why: String,
    },
    /// The rows could not be laid out.
    #[error("window {window}: {source}")]
    Rows {
        /// The window.
        window: String,
        /// Why.
        source: CompactError,
    },
}

#[derive(Serialize, Deserialize)]
struct Lease {
    owner: String,
    expires_us: i64,
}

/// The window an hour belongs to: its first hour.
fn window_start(hour: i64, window_hours: u32) -> i64 {
    hour - hour.rem_euclid(window_hours as i64)
}

/// `YYYY-MM-DDTHH_{n}h`: a window's name in keys.
pub fn window_name(start_hour: i64, window_hours: u32) -> String {
    format!(
        "{}T{:02}_{window_hours}h",
        time::format_date(start_hour.div_euclid(24)),
        start_hour.rem_euclid(24)
    )
}

/// Names a set of inputs: FNV-1a over their keys and sizes, 16 hex digits.
fn inputs_id(inputs: &[ObjectInfo]) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for o in inputs {
        for b in o.key.bytes().chain(o.size.to_le_bytes()).chain([0]) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Compacts every closed window of the lake, oldest first. `progress` is told of each pass.
pub async fn compact<S: Store>(
    lake: &Lake<S>,
    o: &CompactOptions,
    mut progress: impl FnMut(&PassRecord),
) -> Result<CompactReport, CompactionError> {
    if !WINDOW_HOURS.contains(&o.window_hours) {
        return Err(CompactionError::Setting(format!(
            "--window-hours {} is not valid: accepted values: {}",
            o.window_hours,
            WINDOW_HOURS
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    match lake.recorded_layout() {
        None => return Err(CompactionError::Empty(lake.location())),
        Some(l) if l.objects != Objects::Batch => {
            return Err(CompactionError::NotBatch(lake.location()))
        }
        Some(_) => {}
    }
    let store = lake.store();
    let owner = if o.dry_run {
        None
    } else {
        Some(take_lease(lake, o).await?)
    };
    let result = run(lake, o, &mut progress).await;
    if let Some(owner) = owner {
        release_lease(store, &owner).await;
    }
    result
}

async fn take_lease<S: Store>(
    lake: &Lake<S>,
    o: &CompactOptions,
) -> Result<String, CompactionError> {
    let store = lake.store();
    let owner = format!("{}-{}", std::process::id(), time::now_us());
    let lease = |owner: &str| {
        Bytes::from(
            serde_json::to_vec(&Lease {
                owner: owner.to_string(),
                expires_us: o.now_us + o.lease_secs as i64 * 1_000_000,
            })
            .unwrap_or_default(),
        )
    };
    match store
        .put_if(COMPACTION_LEASE, lease(&owner), Precondition::Absent)
        .await?
    {
        PutOutcome::Written { .. } => return Ok(owner),
        PutOutcome::Conflict => {}
    }
    let (body, etag) = store.get(COMPACTION_LEASE).await?.unwrap_or_default();
    let held: Option<Lease> = serde_json::from_slice(&body).ok();
    if let Some(h) = &held {
        if h.expires_us > o.now_us {
            return Err(CompactionError::Busy {
                location: lake.location(),
                key: lake.location_of(COMPACTION_LEASE),
                until: time::format_timestamp(h.expires_us),
            });
        }
    }
    // Expired (or unreadable): take it over, unless someone else just did.
    let pre = if etag.is_empty() {
        Precondition::Absent
    } else {
        Precondition::Match(etag)
    };
    match store.put_if(COMPACTION_LEASE, lease(&owner), pre).await? {
        PutOutcome::Written { .. } => Ok(owner),
        PutOutcome::Conflict => Err(CompactionError::Busy {
            location: lake.location(),
            key: lake.location_of(COMPACTION_LEASE),
            until: "it is renewed".into(),
        }),
    }
}

/// Removes the lease if it is still ours (a failure only delays the next run until it expires).
async fn release_lease<S: Store>(store: &S, owner: &str) {
    if let Ok(Some((body, _))) = store.get(COMPACTION_LEASE).await {
        if serde_json::from_slice::<Lease>(&body).is_ok_and(|l| l.owner == owner) {
            let _ = store.delete(COMPACTION_LEASE).await;
        }
    }
}

async fn run<S: Store>(
    lake: &Lake<S>,
    o: &CompactOptions,
    progress: &mut impl FnMut(&PassRecord),
) -> Result<CompactReport, CompactionError> {
    let store = lake.store();
    let mut report = CompactReport::default();
    let listed = store.list(keys::BATCHES).await?;
    // Windows, oldest first, each with its objects in key order.
    let mut windows: std::collections::BTreeMap<i64, Vec<ObjectInfo>> = Default::default();
    for obj in listed {
        let Some(hour) = keys::batch_key_hour(&obj.key) else {
            continue;
        };
        windows
            .entry(window_start(hour, o.window_hours))
            .or_default()
            .push(obj);
    }
    let close_us = o.close_after_secs as i64 * 1_000_000;
    // The lake's own layout: compacted objects are written exactly as `objects = table` would.
    let cfg = crate::config::Config {
        layout: lake.recorded_layout().unwrap_or_default(),
        ..crate::config::Config::default()
    };
    let mut schemas: Option<Snapshot> = None;
    // Checked between passes; once past, every window and pass not begun waits.
    let stop = |r: &mut CompactReport| {
        r.stopped_early |= o.stop_before_us.is_some_and(|s| time::now_us() >= s);
        r.stopped_early
    };
    for (start, objects) in windows {
        let end_us = (start + o.window_hours as i64) * 3_600_000_000;
        if end_us + close_us > o.now_us || stop(&mut report) {
            report.wait(start, &objects);
            continue;
        }
        let window = window_name(start, o.window_hours);
        // Batch objects an earlier pass recorded (a run stopped while removing them) are
        // compacted already: remove them, and plan passes over the rest only.
        let mut recorded: std::collections::HashSet<(String, u64)> = Default::default();
        for rec in store
            .list(&format!("{}{window}-", keys::COMPACTION))
            .await?
        {
            if let Some((body, _)) = store.get(&rec.key).await? {
                if let Ok(r) = serde_json::from_slice::<PassRecord>(&body) {
                    recorded.extend(r.inputs);
                }
            }
        }
        let mut objects = objects;
        let mut done_earlier = Vec::new();
        objects.retain(|x| {
            let seen = recorded.contains(&(x.key.clone(), x.size));
            if seen {
                done_earlier.push(x.key.clone());
            }
            !seen
        });
        if !o.dry_run {
            delete_all(store, done_earlier.iter().map(String::as_str)).await?;
        }
        report.finished_earlier += done_earlier.len();
        for inputs in passes(objects, o.max_input_bytes) {
            if stop(&mut report) {
                report.wait(start, &inputs);
                continue;
            }
            let id = inputs_id(&inputs);
            let record_key = keys::compaction_record_key(&window, &id);
            if schemas.is_none() {
                schemas = Some(Snapshot::load(store).await?);
            }
            let mut rows = Vec::with_capacity(inputs.len());
            for (obj, body) in inputs.iter().zip(get_all(store, &inputs).await?) {
                let Some(body) = body else {
                    // Gone since the listing: only another compactor removes batch objects,
                    // and the lease says there is none; leave the window to the next run.
                    tracing::warn!(key = %obj.key, "batch object vanished; window left for the next run");
                    rows.clear();
                    break;
                };
                rows.push(
                    batch::read_rows(body).map_err(|why| CompactionError::Unreadable {
                        location: lake.location_of(&obj.key),
                        why,
                    })?,
                );
            }
            if rows.len() != inputs.len() {
                continue;
            }
            let Some(snapshot) = schemas.as_ref() else {
                continue;
            };
            let done = compact_rows(&rows, snapshot, &cfg, &window, &id, o.target_bytes).map_err(
                |source| CompactionError::Rows {
                    window: window.clone(),
                    source,
                },
            )?;
            drop(rows);
            let rec = PassRecord {
                window: window.clone(),
                inputs_id: id,
                inputs: inputs.iter().map(|x| (x.key.clone(), x.size)).collect(),
                objects: done
                    .objects
                    .iter()
                    .map(|x| (x.key.clone(), x.rows))
                    .collect(),
                rows_in: done.rows_in,
                rows_out: done.rows_out,
                recorded_at: time::now_iso(),
            };
            if !o.dry_run {
                lake.put_objects(
                    done.objects
                        .iter()
                        .map(|x| (x.key.as_str(), x.body.clone())),
                )
                .await?;
                let body = serde_json::to_vec_pretty(&rec).unwrap_or_default();
                lake.put_document(&record_key, Bytes::from(body)).await?;
                delete_all(store, rec.inputs.iter().map(|(k, _)| k.as_str())).await?;
            }
            progress(&rec);
            report.passes.push(rec);
        }
    }
    Ok(report)
}

/// A window's objects cut into passes of at most `max_bytes` (at least one object each).
fn passes(objects: Vec<ObjectInfo>, max_bytes: u64) -> Vec<Vec<ObjectInfo>> {
    let mut out: Vec<Vec<ObjectInfo>> = Vec::new();
    let mut size = 0;
    for obj in objects {
        match out.last_mut() {
            Some(last) if size + obj.size <= max_bytes => {
                size += obj.size;
                last.push(obj);
            }
            _ => {
                size = obj.size;
                out.push(vec![obj]);
            }
        }
    }
    out
}

/// Requests in flight at once when reading or removing batch objects.
const CONCURRENCY: usize = 16;

/// The bodies of `objects`, in order (`None` for one gone since the listing), read
/// [`CONCURRENCY`] at a time.
async fn get_all<S: Store>(
    store: &S,
    objects: &[ObjectInfo],
) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(
        objects
            .iter()
            .map(|o| async move { store.get(&o.key).await.map(|got| got.map(|(body, _)| body)) }),
    )
    .buffered(CONCURRENCY)
    .try_collect()
    .await
}

/// Removes `keys`, [`CONCURRENCY`] at a time; the first failure fails the call (a removal is
/// idempotent, so the next run repeats it).
async fn delete_all<'k, S: Store>(
    store: &S,
    keys: impl Iterator<Item = &'k str>,
) -> Result<(), StoreError> {
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(keys.map(|k| store.delete(k)))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_named_by_their_first_hour() {
        let h = 20_395 * 24 + 13;
        assert_eq!(window_start(h, 6), 20_395 * 24 + 12);
        assert_eq!(window_name(window_start(h, 6), 6), "2025-11-03T12_6h");
        assert_eq!(window_name(h, 1), "2025-11-03T13_1h");
    }

    #[test]
    fn passes_stay_under_the_memory_budget() {
        let o = |k: &str, size| ObjectInfo {
            key: k.into(),
            size,
            modified_ms: None,
        };
        let p = passes(vec![o("a", 5), o("b", 5), o("c", 20), o("d", 1)], 10);
        let keys: Vec<Vec<&str>> = p
            .iter()
            .map(|v| v.iter().map(|x| x.key.as_str()).collect())
            .collect();
        assert_eq!(keys, [vec!["a", "b"], vec!["c"], vec!["d"]]);
        assert_ne!(inputs_id(&p[0]), inputs_id(&p[2]));
    }
}
