//! [`BatchBuilder::finish`]: each (table, partition) group encoded into one object, control
//! and quarantine entries into JSON Lines objects, all sorted by key.

use super::builder::{BatchBuilder, Group, TableState};
use super::{Batch, EncodedObject, ObjectKind, PipelineError};
use crate::config::{Config, Objects};
use crate::format::{batch, EncodeError, TableEncoder};
use crate::lake::keys::{self, Partition};
use crate::model::change::TableId;
use crate::pipeline::columns::lineage_fields;
use crate::pipeline::parallel;

use crate::schema::{Column, ColumnType, SchemaSource, TableSchema};
use arrow::array::{new_null_array, ArrayRef};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

impl<S: SchemaSource + ?Sized> BatchBuilder<'_, S> {
    pub(super) fn finish(
        self,
        first_seq: Option<String>,
        oldest_arrival_us: Option<i64>,
    ) -> Result<Batch, PipelineError> {
        let first_row = self.first_row.clone();
        let BatchBuilder {
            cfg,
            mut counts,
            tables,
            control,
            quarantine,
            table_defs,
            fallback_seq,
            newest_commit_us,
            ..
        } = self;
        let mut schemas = Vec::new();
        let mut plans = Vec::with_capacity(tables.len());
        let mut jobs = Vec::new();
        for t in tables {
            let TableState {
                id,
                columns,
                primary_key,
                groups,
                ..
            } = t;
            let typed: Vec<(usize, ColumnType)> = columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.ty.map(|ty| (i, ty)))
                .collect();
            let names: Vec<String> = typed
                .iter()
                .map(|&(ci, _)| columns[ci].name.clone())
                .collect();
            let left = AtomicUsize::new(groups.len());
            jobs.extend(groups.into_iter().map(|g| (plans.len(), g)));
            let columns = typed
                .iter()
                .map(|&(ci, ty)| {
                    let c = &columns[ci];
                    Column {
                        name: c.name.clone(),
                        ty,
                        nullable: c.nullable,
                        source: c.source,
                        renamed_from: (c.source_name != c.name).then(|| c.source_name.clone()),
                    }
                })
                .collect();
            plans.push(TablePlan {
                id: id.clone(),
                typed,
                names,
                shared: Mutex::new(None),
                left,
            });
            schemas.push((
                id,
                TableSchema {
                    columns,
                    primary_key,
                },
            ));
        }
        // Each (table, partition) group is one object, independent of the others: encoded on
        // up to CDC_ENCODE_THREADS threads, results in job order, so the objects and keys do
        // not depend on the thread count.
        let threads = parallel::threads(cfg.encode_threads);
        let mut objects = match cfg.layout.objects {
            Objects::Table => {
                parallel::map(jobs, threads, |(ti, g)| encode_group(&plans[ti], g, cfg))
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()?
            }
            Objects::Batch => batch_object(&plans, jobs, cfg, first_row)?
                .into_iter()
                .collect(),
        };
        let mut quarantine_reasons: Vec<(String, u64)> = Vec::new();
        for (_, e) in &quarantine {
            match quarantine_reasons
                .iter_mut()
                .find(|(c, _)| *c == e.reason_code)
            {
                Some((_, n)) => *n += 1,
                None => quarantine_reasons.push((e.reason_code.to_string(), 1)),
            }
        }
        quarantine_reasons.sort();
        log_objects(
            &mut objects,
            control,
            ObjectKind::Control,
            &fallback_seq,
            |e| (&e.origin.shard, &e.origin.seq),
        );
        log_objects(
            &mut objects,
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
            newest_commit_us,
            tables: schemas,
            quarantine_reasons,
            table_defs,
        })
    }
}

/// One table's objects: its typed columns (index into the table's columns, in file order)
/// and their names.
struct TablePlan {
    id: TableId,
    typed: Vec<(usize, ColumnType)>,
    names: Vec<String>,
    /// The Arrow schema and encoder all its objects share: built by the first of its groups
    /// to be encoded and dropped after the last (a batch of 500 tables would otherwise hold
    /// 500 encoders, about 9 MB, at once).
    shared: Mutex<Option<Arc<(SchemaRef, TableEncoder)>>>,
    /// Groups not encoded yet.
    left: AtomicUsize,
}

impl TablePlan {
    /// The table's typed columns, then the lineage columns.
    fn schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .typed
            .iter()
            .zip(&self.names)
            .map(|(&(_, ty), name)| Field::new(name.clone(), ty.arrow(), true))
            .chain(lineage_fields())
            .collect();
        Arc::new(Schema::new(fields))
    }

    fn shared(&self, cfg: &Config) -> Result<Arc<(SchemaRef, TableEncoder)>, EncodeError> {
        let mut slot = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = &*slot {
            return Ok(s.clone());
        }
        let schema = self.schema();
        let s = Arc::new((schema.clone(), TableEncoder::new(schema, cfg)?));
        *slot = Some(s.clone());
        Ok(s)
    }

    /// Called once per group, encoded or failed: the last one frees the shared encoder.
    fn group_done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}

/// Every group's rows as the one batch object of `objects = batch`, keyed by the batch's
/// first data row (its shard, sequence number and arrival hour); `None` without data rows.
fn batch_object(
    plans: &[TablePlan],
    jobs: Vec<(usize, Group)>,
    cfg: &Config,
    first_row: Option<(String, String, i64)>,
) -> Result<Option<EncodedObject>, PipelineError> {
    let Some((shard, seq, arrival_us)) = first_row else {
        return Ok(None);
    };
    let mut parts = Vec::with_capacity(jobs.len());
    for (ti, mut g) in jobs {
        let plan = &plans[ti];
        let schema = plan.schema();
        let rows =
            RecordBatch::try_new(schema, group_arrays(plan, &mut g)).map_err(|e| EncodeError {
                format: "arrow",
                message: e.to_string(),
            })?;
        parts.push((ti, g.part, rows));
    }
    // By table, then partition: a reader of one table finds its rows together.
    parts.sort_by(|a, b| {
        let (x, y) = (&plans[a.0].id, &plans[b.0].id);
        (&x.schema, &x.table, a.1).cmp(&(&y.schema, &y.table, b.1))
    });
    let rows: usize = parts.iter().map(|p| p.2.num_rows()).sum();
    let tables: Vec<batch::TableRows<'_>> = parts
        .into_iter()
        .map(|(ti, part, rows)| batch::TableRows {
            schema: &plans[ti].id.schema,
            table: &plans[ti].id.table,
            dt: part.dt(),
            hr: part.hr(),
            rows,
            values: plans[ti].typed.len(),
        })
        .collect();
    let Some(body) = batch::encode(&tables, cfg.layout.compression)? else {
        return Ok(None);
    };
    Ok(Some(EncodedObject {
        key: keys::batch_key(arrival_us, &shard, &seq),
        body: Bytes::from(body),
        kind: ObjectKind::Data,
        rows,
    }))
}

/// A group's columns: the table's typed columns (NULL where the group has no value), then
/// the lineage columns.
fn group_arrays(plan: &TablePlan, g: &mut Group) -> Vec<ArrayRef> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(plan.typed.len() + 10);
    for &(ci, ty) in &plan.typed {
        arrays.push(match g.cols.get_mut(ci).and_then(Option::as_mut) {
            Some(b) => b.finish(),
            None => new_null_array(&ty.arrow(), g.rows),
        });
    }
    arrays.extend(g.lineage.finish());
    arrays
}

/// One (table, partition) group's rows, as one encoded object.
fn encode_group(plan: &TablePlan, g: Group, cfg: &Config) -> Result<EncodedObject, PipelineError> {
    let r = encode_rows(plan, g, cfg);
    plan.group_done();
    r
}

fn encode_rows(
    plan: &TablePlan,
    mut g: Group,
    cfg: &Config,
) -> Result<EncodedObject, PipelineError> {
    let shared = plan.shared(cfg)?;
    let (schema, encoder) = &*shared;
    let arrays = group_arrays(plan, &mut g);
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| EncodeError {
        format: "arrow",
        message: e.to_string(),
    })?;
    let body = encoder.encode(&batch)?;
    drop(batch);
    Ok(EncodedObject {
        key: keys::data_key(&plan.id, &g.part, &g.shard, &g.first_seq, cfg.extension()),
        body: Bytes::from(body),
        kind: ObjectKind::Data,
        rows: g.rows,
    })
}

/// Groups log entries (control or quarantine) by day into one JSON Lines object each, keyed by
/// the shard and sequence number of the group's first identifiable record.
fn log_objects<T: serde::Serialize>(
    objects: &mut Vec<EncodedObject>,
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
                && seq.len() <= crate::model::change::SEQ_WIDTH
                && seq.bytes().all(|b| b.is_ascii_digit())
        });
        let (shard, seq) = match ident {
            Some((sh, seq)) => (sh.as_str(), seq.as_str()),
            None => ("unknown-shard", fallback_seq),
        };
        let key = match kind {
            ObjectKind::Control => keys::control_key(&part, shard, seq),
            _ => keys::quarantine_key(&part, shard, seq),
        };
        objects.push(EncodedObject {
            key,
            body: Bytes::from(crate::lake::docs::to_json_lines(&entries)),
            kind,
            rows: entries.len(),
        });
    }
}
