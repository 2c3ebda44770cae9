//! [`BatchBuilder::finish`]: each (table, partition) group encoded into one object, control
//! and quarantine entries into JSON Lines objects, all sorted by key.

use super::builder::BatchBuilder;
use super::{Batch, EncodedObject, ObjectKind, PipelineError};
use crate::encode::{self, EncodeError};
use crate::partition::{self, Partition};
use crate::quarantine;
use crate::schema::{Column, ColumnType, SchemaSource, TableSchema};
use arrow::array::{new_null_array, ArrayRef};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use std::sync::Arc;

impl<S: SchemaSource + ?Sized> BatchBuilder<'_, S> {
    pub(super) fn finish(
        self,
        prefix: &str,
        first_seq: Option<String>,
        oldest_arrival_us: Option<i64>,
    ) -> Result<Batch, PipelineError> {
        let BatchBuilder {
            cfg,
            mut counts,
            tables,
            control,
            quarantine,
            table_defs,
            fallback_seq,
            ..
        } = self;
        let mut objects = Vec::new();
        let mut schemas = Vec::new();
        for mut t in tables {
            let typed: Vec<(usize, ColumnType)> = t
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.ty.map(|ty| (i, ty)))
                .collect();
            for g in &mut t.groups {
                let mut fields = Vec::with_capacity(typed.len() + 10);
                let mut arrays: Vec<ArrayRef> = Vec::with_capacity(typed.len() + 10);
                for &(ci, ty) in &typed {
                    fields.push(Field::new(t.columns[ci].name.clone(), ty.arrow(), true));
                    arrays.push(match g.cols.get_mut(ci).and_then(Option::as_mut) {
                        Some(b) => b.finish(),
                        None => new_null_array(&ty.arrow(), g.rows),
                    });
                }
                for (f, a) in g.lineage.finish() {
                    fields.push(f);
                    arrays.push(a);
                }
                let batch =
                    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| {
                        EncodeError {
                            format: "arrow",
                            message: e.to_string(),
                        }
                    })?;
                let body = encode::encode(&batch, cfg)?;
                objects.push(EncodedObject {
                    key: partition::data_key(
                        prefix,
                        &t.id,
                        &g.part,
                        &g.shard,
                        &g.first_seq,
                        cfg.extension(),
                    ),
                    body: Bytes::from(body),
                    kind: ObjectKind::Data,
                    rows: g.rows,
                });
            }
            let columns = typed
                .iter()
                .map(|&(ci, ty)| {
                    let c = &t.columns[ci];
                    Column {
                        name: c.name.clone(),
                        ty,
                        nullable: c.nullable,
                        source: c.source,
                        renamed_from: (c.source_name != c.name).then(|| c.source_name.clone()),
                    }
                })
                .collect();
            schemas.push((
                t.id,
                TableSchema {
                    columns,
                    primary_key: t.primary_key,
                },
            ));
        }
        let mut quarantine_reasons: Vec<(&'static str, u64)> = Vec::new();
        for (_, e) in &quarantine {
            match quarantine_reasons
                .iter_mut()
                .find(|(c, _)| *c == e.reason_code)
            {
                Some((_, n)) => *n += 1,
                None => quarantine_reasons.push((e.reason_code, 1)),
            }
        }
        quarantine_reasons.sort();
        log_objects(
            &mut objects,
            prefix,
            control,
            ObjectKind::Control,
            &fallback_seq,
            |e| (&e.origin.shard, &e.origin.seq),
        );
        log_objects(
            &mut objects,
            prefix,
            quarantine,
            ObjectKind::Quarantine,
            &fallback_seq,
            |e| (&e.origin.shard, &e.origin.seq),
        );
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        counts.objects = objects.len() as u64;
        counts.bytes = objects.iter().map(|o| o.body.len() as u64).sum();
        Ok(Batch {
            counts,
            objects,
            first_seq,
            oldest_arrival_us,
            tables: schemas,
            quarantine_reasons,
            table_defs,
        })
    }
}

/// Groups log entries (control or quarantine) by day into one JSON Lines object each, keyed by
/// the shard and sequence number of the group's first identifiable record.
fn log_objects<T: serde::Serialize>(
    objects: &mut Vec<EncodedObject>,
    prefix: &str,
    entries: Vec<(Partition, T)>,
    kind: ObjectKind,
    fallback_seq: &str,
    origin: impl Fn(&T) -> (&String, &String),
) {
    let mut groups: Vec<(Partition, Vec<T>)> = Vec::new();
    for (p, e) in entries {
        match groups.iter_mut().find(|(gp, _)| *gp == p) {
            Some((_, v)) => v.push(e),
            None => groups.push((p, vec![e])),
        }
    }
    for (part, entries) in groups {
        let ident = entries.iter().map(&origin).find(|(sh, seq)| {
            !sh.is_empty()
                && !seq.is_empty()
                && seq.len() <= crate::change::SEQ_WIDTH
                && seq.bytes().all(|b| b.is_ascii_digit())
        });
        let (shard, seq) = match ident {
            Some((sh, seq)) => (sh.as_str(), seq.as_str()),
            None => ("unknown-shard", fallback_seq),
        };
        let key = match kind {
            ObjectKind::Control => partition::control_key(prefix, &part, shard, seq),
            _ => partition::quarantine_key(prefix, &part, shard, seq),
        };
        objects.push(EncodedObject {
            key,
            body: Bytes::from(quarantine::to_json_lines(&entries)),
            kind,
            rows: entries.len(),
        });
    }
}
