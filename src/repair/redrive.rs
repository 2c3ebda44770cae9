//! `redrive`: quarantined records back through the pipeline once their cause is fixed (for
//! example a schema override), with the current schemas.
//!
//! Exactly once: records are de-duplicated by (shard, sequence number) across quarantine objects;
//! records whose row (or control entry) is already in the lake are skipped, found by reading the
//! `cdc_shard` / `cdc_seq` of every object in the partitions the redriven rows would go to (the
//! lake index); the rest are written under keys the normal path never produces
//! (`{shard}-{first_seq}.redrive.{ext}`), so no object of the normal path is ever overwritten.
//! A rerun finds the redriven rows in the lake and writes nothing. Records that still fail stay in
//! quarantine (their objects are not touched) and are reported.

use crate::config::{Config, Objects};
use crate::decode::kinesis::EventRecord;
use crate::format::read::{lineage, Wanted};
use crate::ingest::registry::{RegistryError, SchemaRegistry, Snapshot};
use crate::ingest::wait::build_waiting;
use crate::lake::docs::QuarantineEntry as Entry;
use crate::lake::{keys, Lake, LakeError};
use crate::model::change::{cmp_seq, Counts, TableId};
use crate::model::time::now_iso;
use crate::pipeline::{build_batch, Batch, ObjectKind};
use crate::store::{Store, StoreError};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Which quarantined records to redrive.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    /// The quarantine day (`dt=YYYY-MM-DD`, the records' arrival day).
    pub date: Option<String>,
    /// A reason code, e.g. `bad_value`.
    pub reason: Option<String>,
    /// The source table the record names.
    pub table: Option<TableId>,
}

/// Why a redrive stopped.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lake refused a write (layout guard) or could not be opened.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The registry could not be read or updated.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A quarantine object is not in a form cdc-sink wrote.
    #[error("{key} is not a lake object cdc-sink can read ({why})")]
    Unreadable {
        /// Key of the object, relative to the lake.
        key: String,
        /// What is wrong with it.
        why: String,
    },
}

impl From<crate::pipeline::PipelineError> for RedriveError {
    fn from(e: crate::pipeline::PipelineError) -> RedriveError {
        RedriveError::Registry(RegistryError::Pipeline(e))
    }
}

/// A record that still fails.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StillFailing {
    /// Kinesis shard id of the record.
    pub shard: String,
    /// Kinesis sequence number of the record.
    pub seq: String,
    /// Why it fails now, as a reason code (e.g. `bad_value`).
    pub reason_code: String,
    /// Why it fails now, in words.
    pub reason: String,
    /// The quarantine objects that hold it (left as they are).
    pub quarantine_objects: Vec<String>,
}

/// What a redrive did (or would do).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    /// Quarantine objects read.
    pub quarantine_objects: Vec<String>,
    /// Entries selected (before de-duplication).
    pub selected: u64,
    /// Entries that repeat a record already selected from another object (or line).
    pub duplicates: u64,
    /// Records whose row or control entry the lake already holds.
    pub already_in_lake: u64,
    /// Records that landed (or would land) in the lake.
    pub redriven: u64,
    /// The pipeline's counts over the records run again; objects and bytes count only what the lake gets.
    pub counts: Counts,
    /// Records that failed again, with their new reason.
    pub still_failing: Vec<StillFailing>,
    /// Keys written (or that would be written).
    pub objects: Vec<String>,
    /// The manifest under `_control/redrive/` (None when nothing was written).
    pub manifest: Option<String>,
}

impl Report {
    /// Names every key as the user knows it: with the lake's prefix.
    fn name_full_keys<K: Store>(&mut self, store: &crate::store::PrefixStore<K>) {
        let full = |k: &mut String| *k = store.full_key(k);
        self.quarantine_objects.iter_mut().for_each(full);
        self.objects.iter_mut().for_each(full);
        for f in &mut self.still_failing {
            f.quarantine_objects.iter_mut().for_each(full);
        }
        if let Some(m) = &mut self.manifest {
            full(m);
        }
    }
}

fn norm_seq(seq: &str) -> String {
    let t = seq.trim_start_matches('0');
    if t.is_empty() { "0" } else { t }.to_string()
}

/// The schema and table a DMS payload names (for `--table`).
fn table_of(data_base64: &str) -> Option<TableId> {
    let mut buf = Vec::new();
    crate::decode::kinesis::decode_payload(data_base64.as_bytes(), &mut buf).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&buf).ok()?;
    let md = v.get("metadata")?;
    Some(TableId::new(
        md.get("schema-name")?.as_str()?,
        md.get("table-name")?.as_str()?,
    ))
}

/// A Lambda Kinesis event of quarantined records of one shard, as they were received.
fn event_of(shard: &str, entries: &[&Entry]) -> Vec<u8> {
    let records = entries.iter().map(|e| EventRecord {
        partition_key: &e.origin.partition_key,
        seq: &e.origin.seq,
        data_base64: e.data_base64.as_str().into(),
        arrival_s: crate::model::time::parse_timestamp(&e.origin.arrival_ts)
            .map(|t| t.micros as f64 / 1_000_000.0)
            .unwrap_or(0.0),
    });
    crate::decode::kinesis::write_event("", shard, records)
}

/// (shard, sequence number) of every row or entry in the objects directly under `dir`.
async fn index_dir<St: Store>(
    store: &St,
    dir: &str,
    out: &mut HashSet<(String, String)>,
) -> Result<(), RedriveError> {
    for key in store.list(dir).await?.into_iter().map(|o| o.key) {
        let rest = &key[dir.len().min(key.len())..];
        if rest.contains('/') {
            continue;
        }
        let Some((body, _)) = store.get(&key).await? else {
            continue;
        };
        let bad = |why: String| RedriveError::Unreadable {
            key: key.clone(),
            why,
        };
        if !(key.ends_with(".parquet") || key.ends_with(".jsonl") || key.ends_with(".jsonl.gz")) {
            continue;
        }
        for l in lineage(&key, body, Wanted::Identity).map_err(bad)? {
            if let (Some(shard), Some(seq)) = (l.shard, l.seq) {
                out.insert((shard, norm_seq(&seq)));
            }
        }
    }
    Ok(())
}

/// The folder of a key, with its trailing `/`.
fn dir_of(key: &str) -> &str {
    key.rfind('/').map_or("", |i| &key[..=i])
}

/// Redrives the selected quarantined records of `lake`.
pub async fn redrive<K: Store>(
    lake: &Lake<K>,
    cfg: &Config,
    sel: &Selectors,
    dry_run: bool,
) -> Result<Report, RedriveError> {
    let mut report = Report::default();
    let sink = lake.store();
    let root = keys::quarantine_folder(sel.date.as_deref());
    // Every selected entry, once per (shard, seq), with the objects holding it.
    let mut chosen: BTreeMap<(String, String), (Entry, Vec<String>)> = BTreeMap::new();
    for key in sink.list(&root).await?.into_iter().map(|o| o.key) {
        if !key.ends_with(".jsonl") {
            continue;
        }
        let Some((body, _)) = sink.get(&key).await? else {
            continue;
        };
        let mut used = false;
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(e) = serde_json::from_slice::<Entry>(line) else {
                continue;
            };
            if sel.reason.as_ref().is_some_and(|r| *r != e.reason_code) {
                continue;
            }
            if sel
                .table
                .as_ref()
                .is_some_and(|t| table_of(&e.data_base64).as_ref() != Some(t))
            {
                continue;
            }
            // Records without a usable identity cannot be de-duplicated: they stay.
            if e.origin.shard.is_empty()
                || e.origin.seq.is_empty()
                || e.origin.seq.len() > crate::model::change::SEQ_WIDTH
                || !e.origin.seq.bytes().all(|b| b.is_ascii_digit())
            {
                continue;
            }
            report.selected += 1;
            used = true;
            let id = (e.origin.shard.clone(), norm_seq(&e.origin.seq));
            match chosen.get_mut(&id) {
                Some((_, objs)) => {
                    report.duplicates += 1;
                    if !objs.contains(&key) {
                        objs.push(key.clone());
                    }
                }
                None => {
                    chosen.insert(id, (e, vec![key.clone()]));
                }
            }
        }
        if used {
            report.quarantine_objects.push(key);
        }
    }
    let snapshot = Snapshot::load(sink).await?;
    let registry = SchemaRegistry::new(std::time::Duration::ZERO);
    let shards: BTreeSet<String> = chosen.keys().map(|(s, _)| s.clone()).collect();
    for shard in shards {
        let mut entries: Vec<&(Entry, Vec<String>)> = chosen
            .iter()
            .filter(|((s, _), _)| *s == shard)
            .map(|(_, v)| v)
            .collect();
        entries.sort_by(|a, b| cmp_seq(&a.0.origin.seq, &b.0.origin.seq));
        // Where would these rows go, and which of them are there already?
        let all: Vec<&Entry> = entries.iter().map(|(e, _)| e).collect();
        let probe = build_batch(&event_of(&shard, &all), cfg, &snapshot)?;
        let mut dirs: BTreeSet<String> = probe
            .objects
            .iter()
            .filter(|o| o.kind != ObjectKind::Quarantine)
            .map(|o| dir_of(&o.key).to_string())
            .collect();
        if cfg.layout.objects == Objects::Batch {
            // A row already redriven is in a batch object (in the hour folder of its batch's
            // first row: one of these records' arrival hours) or, once compacted, in its
            // table's partition folder, where `objects = table` would have put it.
            let mut per_table = cfg.clone();
            per_table.layout.objects = Objects::Table;
            let probe = build_batch(&event_of(&shard, &all), &per_table, &snapshot)?;
            dirs.extend(
                probe
                    .objects
                    .iter()
                    .filter(|o| o.kind == ObjectKind::Data)
                    .map(|o| dir_of(&o.key).to_string()),
            );
            dirs.extend(all.iter().filter_map(|e| {
                crate::model::time::parse_timestamp(&e.origin.arrival_ts)
                    .map(|t| keys::batch_folder(t.micros))
            }));
        }
        let mut present = HashSet::new();
        for d in &dirs {
            index_dir(sink, d, &mut present).await?;
        }
        let todo: Vec<&(Entry, Vec<String>)> = entries
            .into_iter()
            .filter(|(e, _)| {
                let here = present.contains(&(e.origin.shard.clone(), norm_seq(&e.origin.seq)));
                if here {
                    report.already_in_lake += 1;
                }
                !here
            })
            .collect();
        if todo.is_empty() {
            continue;
        }
        let event = event_of(&shard, &todo.iter().map(|(e, _)| e).collect::<Vec<_>>());
        let mut batch: Batch = if dry_run {
            build_batch(&event, cfg, &snapshot)?
        } else {
            build_waiting(&registry, sink, &event, cfg, None).await?.0
        };
        // Records that fail again stay where they are: report them, write no new quarantine.
        for o in batch
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Quarantine)
        {
            for line in o.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                if let Ok(e) = serde_json::from_slice::<Entry>(line) {
                    let objs = todo
                        .iter()
                        .find(|(t, _)| t.origin.seq == e.origin.seq)
                        .map(|(_, o)| o.clone())
                        .unwrap_or_default();
                    report.still_failing.push(StillFailing {
                        shard: e.origin.shard,
                        seq: e.origin.seq,
                        reason_code: e.reason_code.into_owned(),
                        reason: e.reason,
                        quarantine_objects: objs,
                    });
                }
            }
        }
        batch.objects.retain(|o| o.kind != ObjectKind::Quarantine);
        for o in &mut batch.objects {
            o.key = keys::redrive_key(&o.key);
        }
        let c = &batch.counts;
        report.redriven += c.records - c.quarantined;
        let mut counts = batch.counts.clone();
        counts.objects = batch.objects.len() as u64;
        counts.bytes = batch.objects.iter().map(|o| o.body.len() as u64).sum();
        report.counts.accumulate(&counts);
        report
            .objects
            .extend(batch.objects.iter().map(|o| o.key.clone()));
        if !dry_run {
            lake.put_objects(batch.puts()).await?;
        }
    }
    if !dry_run && !report.objects.is_empty() {
        let when = now_iso();
        let stamp: String = when.chars().filter(|c| c.is_ascii_digit()).collect();
        let key = keys::redrive_manifest_key(&stamp);
        report.manifest = Some(key.clone());
        report.name_full_keys(sink);
        let doc = serde_json::json!({
            "kind": "redrive",
            "redriven_at": when,
            "selectors": {"date": sel.date, "reason": sel.reason,
                "table": sel.table.as_ref().map(|t| t.to_string())},
            "report": report,
        });
        lake.put_document(
            &key,
            Bytes::from(serde_json::to_vec_pretty(&doc).unwrap_or_default()),
        )
        .await?;
    } else {
        report.name_full_keys(sink);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(dir_of("a/b/c.parquet"), "a/b/");
        assert_eq!(norm_seq("000120"), "120");
    }
}
