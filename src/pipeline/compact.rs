//! Compaction's pure step: the rows of some batch objects (`objects = batch`) laid out per
//! table and partition, exactly as `objects = table` lays them out (same columns, types,
//! partitions and lineage), under keys derived from the window and the set of inputs
//! ([`keys::compacted_key`]). The I/O around it (which windows, records, removal) is in
//! [`crate::compact`].

use super::columns::{lineage_fields, ColBuilder};
use crate::config::Config;
use crate::decode::dms;
use crate::format::batch::BatchRows;
use crate::format::jsonl::read_value;
use crate::format::TableEncoder;
use crate::lake::keys::{self, Partition};
use crate::model::change::TableId;
use crate::schema::{ColumnType, SchemaSource};
use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A compacted object: its lake-relative key, body and rows.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// Key relative to the lake's prefix.
    pub key: String,
    /// The encoded object.
    pub body: Bytes,
    /// Rows in it.
    pub rows: usize,
}

/// What compaction produced from its inputs.
#[derive(Debug, Default)]
pub struct Compaction {
    /// The per-table objects, sorted by key.
    pub objects: Vec<Compacted>,
    /// Rows read from the inputs.
    pub rows_in: usize,
    /// Rows written: `rows_in` less the copies of a change found twice among the inputs.
    pub rows_out: usize,
}

/// Why a set of batch objects cannot be compacted (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    /// A table has rows but no registered schema.
    #[error("{0} has rows in batch objects but no registered schema under _schemas/: register it (cdc-sink schema set or import) and compact again")]
    Unregistered(String),
    /// A row's values do not fit its table's registered schema.
    #[error("{table}: {why}")]
    BadRow {
        /// `schema.table`.
        table: String,
        /// What is wrong.
        why: String,
    },
    /// Encoding failed.
    #[error(transparent)]
    Encode(#[from] crate::format::EncodeError),
}

/// (schema, table, dt, hr) of a row in a batch object.
type GroupKey<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Lays the rows of `inputs` out per table and partition. Copies of one change (same shard and
/// sequence number, as a redriven or recovered batch can make) are written once. Rows are in
/// sequence order; a (table, partition) whose rows exceed `target_bytes` (estimated from their
/// text) is split into several objects, at the same places on every run over the same inputs.
pub fn compact<S: SchemaSource + ?Sized>(
    inputs: &[BatchRows],
    schemas: &S,
    cfg: &Config,
    window: &str,
    inputs_id: &str,
    target_bytes: usize,
) -> Result<Compaction, CompactError> {
    // (schema, table, dt, hr) -> rows as (input, row).
    let mut groups: BTreeMap<GroupKey<'_>, Vec<(usize, usize)>> = BTreeMap::new();
    let mut out = Compaction::default();
    for (i, b) in inputs.iter().enumerate() {
        for r in 0..b.values.len() {
            let dt = (!b.dt.is_null(r)).then(|| b.dt.value(r));
            let hr = (!b.hr.is_null(r)).then(|| b.hr.value(r));
            groups
                .entry((b.schema.value(r), b.table.value(r), dt, hr))
                .or_default()
                .push((i, r));
            out.rows_in += 1;
        }
    }
    for ((schema, table, dt, hr), mut rows) in groups {
        let id = TableId::new(schema, table);
        let bad = |why: String| CompactError::BadRow {
            table: id.to_string(),
            why,
        };
        let part = Partition::from_values(dt, hr)
            .ok_or_else(|| bad(format!("partition dt={dt:?} hr={hr:?} is not one")))?;
        let reg = schemas
            .lookup(&id)
            .ok_or_else(|| CompactError::Unregistered(id.to_string()))?;
        // Sequence order, copies of a change once.
        let seq = |&(i, r): &(usize, usize)| {
            let l = &inputs[i].lineage;
            let text = |name: &str| {
                l.column_by_name(name)
                    .and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
                    .map(|c| c.value(r).to_string())
                    .unwrap_or_default()
            };
            (
                text(crate::lake::lineage::SEQ),
                text(crate::lake::lineage::SHARD),
            )
        };
        let mut keyed: Vec<((String, String), (usize, usize))> =
            rows.drain(..).map(|x| (seq(&x), x)).collect();
        keyed.sort();
        keyed.dedup_by(|a, b| a.0 == b.0);
        let rows: Vec<(usize, usize)> = keyed.into_iter().map(|(_, x)| x).collect();

        let fields: Vec<Field> = reg
            .columns
            .iter()
            .map(|c| Field::new(c.name.clone(), c.ty.arrow(), true))
            .chain(lineage_fields())
            .collect();
        let arrow_schema = Arc::new(Schema::new(fields));
        let encoder = TableEncoder::new(arrow_schema.clone(), cfg)?;
        let by_name: BTreeMap<&str, (usize, ColumnType)> = reg
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), (i, c.ty)))
            .collect();

        // Split points: by the rows' text size, deterministic for the same inputs.
        let mut chunks: Vec<&[(usize, usize)]> = Vec::new();
        let (mut start, mut size) = (0, 0);
        for (k, &(i, r)) in rows.iter().enumerate() {
            let row_bytes = inputs[i].values.value(r).len() + 160;
            if size > 0 && size + row_bytes > target_bytes {
                chunks.push(&rows[start..k]);
                start = k;
                size = 0;
            }
            size += row_bytes;
        }
        chunks.push(&rows[start..]);

        for (n, chunk) in chunks.into_iter().enumerate() {
            let mut builders: Vec<ColBuilder> =
                reg.columns.iter().map(|c| ColBuilder::new(c.ty)).collect();
            let mut filled = vec![false; builders.len()];
            for &(i, r) in chunk {
                filled.iter_mut().for_each(|f| *f = false);
                let text = inputs[i].values.value(r);
                let raw: &serde_json::value::RawValue =
                    serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
                let fields = dms::row_fields(raw).map_err(bad)?;
                for (name, value) in &fields {
                    let Some(&(ci, ty)) = by_name.get(name.as_ref()) else {
                        return Err(bad(format!(
                            "column {name:?} is not in the registered schema"
                        )));
                    };
                    let cell = read_value(value, ty).map_err(|e| bad(format!("{name}: {e}")))?;
                    if filled[ci] {
                        return Err(bad(format!("duplicate column {name:?}")));
                    }
                    builders[ci].append(&cell);
                    filled[ci] = true;
                }
                for (ci, b) in builders.iter_mut().enumerate() {
                    if !filled[ci] {
                        b.append_nulls(1);
                    }
                }
            }
            let mut arrays: Vec<ArrayRef> = builders.iter_mut().map(|b| b.finish()).collect();
            let lineage_cols = inputs[0].lineage.num_columns();
            for lc in 0..lineage_cols {
                let sources: Vec<&dyn Array> = inputs
                    .iter()
                    .map(|b| b.lineage.column(lc).as_ref())
                    .collect();
                arrays.push(
                    arrow::compute::interleave(&sources, chunk).map_err(|e| bad(e.to_string()))?,
                );
            }
            let batch = RecordBatch::try_new(arrow_schema.clone(), arrays)
                .map_err(|e| bad(e.to_string()))?;
            let body = encoder.encode(&batch)?;
            out.rows_out += chunk.len();
            out.objects.push(Compacted {
                key: keys::compacted_key(&id, &part, window, inputs_id, n, cfg.extension()),
                body: Bytes::from(body),
                rows: chunk.len(),
            });
        }
    }
    out.objects.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}
