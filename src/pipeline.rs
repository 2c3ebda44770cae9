//! The pipeline: Lambda Kinesis event bytes in, encoded objects out ([`build_batch`], pure),
//! then the objects to a sink ([`write_batch`], the only I/O).
//!
//! Per record: base64 into one reused buffer, DMS message parsed borrowing from it, values
//! converted to their column's type, and the row appended straight into Arrow builders of its
//! (table, partition) group. A record is checked completely before anything is appended, so a
//! quarantined record never leaves half a row behind.

use crate::change::{is_dms_internal, Counts, Op, TableId, CONTROL_OPERATIONS};
use crate::columns::{is_reserved_name, ColBuilder, Lineage, LineageBuilders};
use crate::config::Config;
use crate::dms::{self, DmsMessage};
use crate::encode::{self, EncodeError};
use crate::kinesis::{self, EventError, RawRecord};
use crate::partition::{self, Partition};
use crate::quarantine::{self, ControlEntry, Origin, QuarantineEntry, Reason};
use crate::schema::tabledef::{self, TableDef};
use crate::schema::{infer_type, Column, ColumnType, SchemaSource, TableSchema, TypeSource};
use crate::sink::{ObjectSink, SinkError};
use crate::time;
use crate::value::{convert, minify_json, Cell, Json, Warning};
use arrow::array::{new_null_array, ArrayRef};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Objects written at once per invocation.
const WRITE_CONCURRENCY: usize = 16;
/// Longest schema or table name accepted once escaped for keys (PostgreSQL's limit is 63 bytes).
const MAX_NAME_BYTES: usize = 200;

/// What an object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Data,
    Control,
    Quarantine,
}

/// One object ready to write.
#[derive(Debug, Clone)]
pub struct EncodedObject {
    pub key: String,
    pub body: Bytes,
    pub kind: ObjectKind,
    /// Data rows, control entries or quarantine entries in the object.
    pub rows: usize,
}

/// Everything one event produces, before any I/O.
#[derive(Debug)]
pub struct Batch {
    pub counts: Counts,
    /// Sorted by key.
    pub objects: Vec<EncodedObject>,
    /// The sequence number of the event's first record: the item to report when the batch
    /// must be retried as a whole.
    pub first_seq: Option<String>,
    /// The oldest approximate arrival time in the batch (for iterator age).
    pub oldest_arrival_us: Option<i64>,
    /// The newest source commit time among the batch's data rows (for freshness).
    pub newest_commit_us: Option<i64>,
    /// Each table's columns as written in this batch (what a schema registry would record).
    pub tables: Vec<(TableId, TableSchema)>,
    /// Quarantined records per reason code, sorted by code.
    pub quarantine_reasons: Vec<(&'static str, u64)>,
    /// Table definitions carried by control records (`create-table` with IncludeControlDetails).
    pub table_defs: Vec<(TableId, TableDef)>,
}

/// The event could not be processed at all.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Decodes, normalises, partitions and encodes one Lambda Kinesis event. Object keys are
/// `prefix`-relative per the output contract and depend only on the event's content.
pub fn build_batch<S: SchemaSource + ?Sized>(
    event: &[u8],
    cfg: &Config,
    prefix: &str,
    schemas: &S,
) -> Result<Batch, PipelineError> {
    let records = kinesis::parse_event(event)?;
    let fallback_seq = records
        .iter()
        .find(|r| kinesis::identity_problem(r).is_none())
        .and_then(|r| r.seq.as_deref().map(str::to_string))
        .unwrap_or_else(|| format!("x{:016x}", fnv1a(event)));
    let mut b = BatchBuilder {
        cfg,
        schemas,
        counts: Counts::default(),
        tables: Vec::new(),
        table_index: HashMap::new(),
        key_buf: Vec::new(),
        control: Vec::new(),
        quarantine: Vec::new(),
        table_defs: Vec::new(),
        fallback_arrival: records
            .iter()
            .filter_map(|r| r.arrival_us)
            .min()
            .unwrap_or(0),
        fallback_seq,
        newest_commit_us: None,
    };
    let mut scratch = Scratch::default();
    for r in &records {
        b.record(r, &mut scratch);
    }
    let first_seq = records
        .first()
        .map(|r| r.seq.as_deref().unwrap_or("").to_string());
    let oldest_arrival_us = records.iter().filter_map(|r| r.arrival_us).min();
    b.finish(prefix, first_seq, oldest_arrival_us)
}

/// Writes a batch's objects, several at once. Any failure fails the batch: the caller reports
/// it to Lambda so the whole batch is retried, overwriting the same keys.
///
/// After a failure no new write starts, but every write already started is awaited before
/// returning: a write abandoned mid-flight could otherwise land after the retry rewrote the
/// same key, putting stale rows back.
pub async fn write_batch<K: ObjectSink>(batch: &Batch, sink: &K) -> Result<(), SinkError> {
    let failed = AtomicBool::new(false);
    // Futures collected first: a closure kept inside the stream would make the returned future
    // not provably Send for every lifetime (so not spawnable).
    let puts: Vec<_> = batch
        .objects
        .iter()
        .map(|o| put_unless_failed(sink, o, &failed))
        .collect();
    let results: Vec<Result<(), SinkError>> = stream::iter(puts)
        .buffer_unordered(WRITE_CONCURRENCY)
        .collect()
        .await;
    results
        .into_iter()
        .find_map(Result::err)
        .map_or(Ok(()), Err)
}

/// One write of [`write_batch`]; skipped once another write has failed.
async fn put_unless_failed<K: ObjectSink>(
    sink: &K,
    o: &EncodedObject,
    failed: &AtomicBool,
) -> Result<(), SinkError> {
    if failed.load(Ordering::SeqCst) {
        return Ok(());
    }
    let r = sink.put(&o.key, o.body.clone()).await;
    if r.is_err() {
        failed.store(true, Ordering::SeqCst);
    }
    r
}

/// Buffers reused for every record of a batch, so the per-record path does not allocate.
#[derive(Default)]
struct Scratch {
    /// The record's payload, base64-decoded.
    decoded: Vec<u8>,
    /// The row's fields and converted cells, which borrow from `decoded` while a record is
    /// processed; kept empty (lifetime `'static`) between records. See [`dms::recycle`].
    fields: Vec<dms::Field<'static>>,
    cells: Vec<(ColRef, Cell<'static>)>,
}

/// A table's schema and name must be non-empty and, escaped for object keys, at most
/// [`MAX_NAME_BYTES`]: keys stay within S3's 1024 bytes and each path segment within the 255
/// bytes of local file systems (escaping can triple a name).
fn check_table_name(schema: &str, table: &str) -> Result<(), Reason> {
    if schema.is_empty() || table.is_empty() {
        return Err(Reason::BadTableName(format!(
            "schema-name {schema:?}, table-name {table:?}: both must be non-empty"
        )));
    }
    let too_long = |n: &str| partition::escape_segment(n).len() > MAX_NAME_BYTES;
    if too_long(schema) || too_long(table) {
        return Err(Reason::BadTableName(format!(
            "a name is longer than {MAX_NAME_BYTES} bytes once escaped for object keys"
        )));
    }
    Ok(())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A table's column during a batch: the type is `None` while only NULLs have been seen.
struct ColState {
    name: String,
    ty: Option<ColumnType>,
    source: TypeSource,
    nullable: bool,
}

/// Rows of one (table, partition) in this batch: one object.
struct Group {
    part: Partition,
    shard: String,
    first_seq: String,
    rows: usize,
    lineage: LineageBuilders,
    cols: Vec<Option<ColBuilder>>,
}

struct TableState {
    id: TableId,
    columns: Vec<ColState>,
    by_name: HashMap<String, usize>,
    primary_key: Vec<String>,
    groups: Vec<Group>,
}

impl TableState {
    fn new(id: TableId, registered: Option<&TableSchema>) -> TableState {
        let mut t = TableState {
            id,
            columns: Vec::new(),
            by_name: HashMap::new(),
            primary_key: Vec::new(),
            groups: Vec::new(),
        };
        if let Some(s) = registered {
            for c in &s.columns {
                t.add_column(c.name.clone(), Some(c.ty), c.source, c.nullable);
            }
            t.primary_key = s.primary_key.clone();
        }
        t
    }

    fn add_column(
        &mut self,
        name: String,
        ty: Option<ColumnType>,
        source: TypeSource,
        nullable: bool,
    ) -> usize {
        let i = self.columns.len();
        self.by_name.insert(name.clone(), i);
        self.columns.push(ColState {
            name,
            ty,
            source,
            nullable,
        });
        i
    }

    /// Column index by name; `hint` (the field's position in the message) is tried first,
    /// since DMS usually sends a table's columns in the same order.
    fn find(&self, name: &str, hint: usize) -> Option<usize> {
        match self.columns.get(hint) {
            Some(c) if c.name == name => Some(hint),
            _ => self.by_name.get(name).copied(),
        }
    }
}

/// A column a row refers to: known to the table, or new in this row (index into `new_cols`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColRef {
    Known(usize),
    New(usize),
}

struct BatchBuilder<'c, S: ?Sized> {
    cfg: &'c Config,
    schemas: &'c S,
    counts: Counts,
    tables: Vec<TableState>,
    table_index: HashMap<Vec<u8>, usize>,
    key_buf: Vec<u8>,
    control: Vec<(Partition, ControlEntry)>,
    quarantine: Vec<(Partition, QuarantineEntry)>,
    table_defs: Vec<(TableId, TableDef)>,
    fallback_arrival: i64,
    fallback_seq: String,
    newest_commit_us: Option<i64>,
}

impl<S: SchemaSource + ?Sized> BatchBuilder<'_, S> {
    fn origin(&self, r: &RawRecord<'_>) -> (Origin, i64) {
        let arrival = r.arrival_us.unwrap_or(self.fallback_arrival);
        let o = Origin::new(
            r.shard.as_deref().unwrap_or(""),
            r.seq.as_deref().unwrap_or(""),
            &r.partition_key,
            arrival,
        );
        (o, arrival)
    }

    fn quarantine(&mut self, r: &RawRecord<'_>, decoded: Option<&[u8]>, reason: Reason) {
        let (origin, arrival) = self.origin(r);
        self.counts.quarantined += 1;
        let entry = QuarantineEntry {
            reason_code: reason.code(),
            reason: reason.to_string(),
            origin,
            data_base64: String::from_utf8_lossy(r.data_b64.as_deref().unwrap_or(b"")).into_owned(),
            data_text: decoded
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::to_string),
        };
        self.quarantine.push((Partition::log(arrival), entry));
    }

    fn record(&mut self, r: &RawRecord<'_>, scratch: &mut Scratch) {
        self.counts.records += 1;
        if let Some(why) = kinesis::identity_problem(r) {
            return self.quarantine(r, None, Reason::BadKinesisRecord(why));
        }
        let buf = &mut scratch.decoded;
        buf.clear();
        let data = r.data_b64.as_deref().unwrap_or(b"");
        if let Err(e) = kinesis::decode_payload(data, buf) {
            return self.quarantine(r, None, Reason::InvalidBase64(e.to_string()));
        }
        let buf = &scratch.decoded;
        let mut fields = dms::recycle(std::mem::take(&mut scratch.fields));
        let mut cells = dms::recycle(std::mem::take(&mut scratch.cells));
        let outcome = match dms::parse_message(buf, &self.cfg.before_image_key, &mut fields) {
            Err(e) => Err(Reason::Decode(e)),
            Ok(msg) => match msg.metadata.record_type.as_deref() {
                Some("data") => self.data_record(r, &msg, &fields, &mut cells),
                Some("control") => self.control_record(r, &msg),
                Some(other) => Err(Reason::UnknownRecordType(other.to_string())),
                None => Err(Reason::UnknownRecordType("(missing)".into())),
            },
        };
        scratch.fields = dms::recycle(fields);
        scratch.cells = dms::recycle(cells);
        if let Err(reason) = outcome {
            self.quarantine(r, Some(buf), reason);
        }
    }

    fn control_record(&mut self, r: &RawRecord<'_>, msg: &DmsMessage<'_>) -> Result<(), Reason> {
        let md = &msg.metadata;
        let table = md.table_name.as_deref().unwrap_or("");
        if is_dms_internal(table) {
            self.counts.skipped += 1;
            return Ok(());
        }
        let op = md.operation.as_deref().unwrap_or("");
        if !CONTROL_OPERATIONS.contains(&op) {
            return Err(Reason::UnknownOperation {
                record_type: "control".into(),
                operation: op.into(),
            });
        }
        if let Some(def) = msg.control.and_then(tabledef::parse) {
            let id = TableId::new(md.schema_name.as_deref().unwrap_or(""), table);
            if !id.schema.is_empty() && !id.table.is_empty() {
                self.table_defs.push((id, def));
            }
        }
        let (origin, arrival) = self.origin(r);
        let control = msg.control.and_then(|c| {
            serde_json::value::RawValue::from_string(minify_json(c.get()).into_owned()).ok()
        });
        self.control.push((
            Partition::log(arrival),
            ControlEntry {
                operation: op.into(),
                schema: md.schema_name.as_deref().unwrap_or("").into(),
                table: table.into(),
                dms_ts: md.timestamp.as_deref().map(str::to_string),
                origin,
                control,
            },
        ));
        self.counts.control += 1;
        Ok(())
    }

    /// The table's index if this batch has seen it; leaves its key in `key_buf` for
    /// [`Self::add_table`]. The key is the schema's length, the schema, then the table: no two
    /// (schema, table) pairs share one, whatever bytes the names hold.
    fn known_table(&mut self, schema: &str, table: &str) -> Option<usize> {
        self.key_buf.clear();
        self.key_buf
            .extend_from_slice(&(schema.len() as u64).to_le_bytes());
        self.key_buf.extend_from_slice(schema.as_bytes());
        self.key_buf.extend_from_slice(table.as_bytes());
        self.table_index.get(self.key_buf.as_slice()).copied()
    }

    /// Adds the table whose key [`Self::known_table`] just missed.
    fn add_table(&mut self, schema: &str, table: &str) -> usize {
        let id = TableId::new(schema, table);
        let registered = self.schemas.lookup(&id);
        self.tables.push(TableState::new(id, registered.as_deref()));
        self.table_index
            .insert(self.key_buf.clone(), self.tables.len() - 1);
        self.tables.len() - 1
    }

    fn data_record<'m>(
        &mut self,
        r: &RawRecord<'_>,
        msg: &DmsMessage<'m>,
        fields: &[dms::Field<'m>],
        cells: &mut Vec<(ColRef, Cell<'m>)>,
    ) -> Result<(), Reason> {
        let md = &msg.metadata;
        let operation = md.operation.as_deref().unwrap_or("");
        let op = Op::from_dms(operation).ok_or_else(|| Reason::UnknownOperation {
            record_type: "data".into(),
            operation: operation.into(),
        })?;
        let schema = md.schema_name.as_deref().unwrap_or("");
        let table = md.table_name.as_deref().unwrap_or("");
        if is_dms_internal(table) {
            self.counts.skipped += 1;
            return Ok(());
        }
        // Names are checked once per table and batch: a table already seen has valid names.
        let known = self.known_table(schema, table);
        if known.is_none() {
            check_table_name(schema, table)?;
        }
        match msg.data {
            dms::Data::Object => {}
            dms::Data::Missing => return Err(Reason::BadRow("no \"data\" object".into())),
            dms::Data::NotObject(what) => {
                return Err(Reason::BadRow(format!(
                    "\"data\" is {what}, not a JSON object of column values"
                )))
            }
        }

        let ti = match known {
            Some(ti) => ti,
            None => self.add_table(schema, table),
        };
        let t = &self.tables[ti];
        cells.clear();
        let mut new_cols: Vec<(String, Option<ColumnType>)> = Vec::new();
        let mut opened: Vec<(usize, ColumnType)> = Vec::new();
        let mut warnings = 0;
        for (pos, (name, raw)) in fields.iter().enumerate() {
            let name: Cow<'_, str> = if is_reserved_name(name) {
                Cow::Owned(format!("src_{name}"))
            } else {
                Cow::Borrowed(name)
            };
            if name.is_empty() {
                return Err(Reason::BadRow("a column has an empty name".into()));
            }
            let json = Json::from_raw(raw).map_err(Reason::BadRow)?;
            let (col, ty) = match t.find(&name, pos) {
                Some(ci) => match t.columns[ci].ty {
                    Some(ty) => (ColRef::Known(ci), Some(ty)),
                    None => {
                        let ty = infer_type(&json);
                        if let Some(ty) = ty {
                            opened.push((ci, ty));
                        }
                        (ColRef::Known(ci), ty)
                    }
                },
                None => {
                    if new_cols.iter().any(|(n, _)| *n == name) {
                        return Err(Reason::BadRow(format!("duplicate column {name:?}")));
                    }
                    let ty = infer_type(&json);
                    new_cols.push((name.to_string(), ty));
                    (ColRef::New(new_cols.len() - 1), ty)
                }
            };
            let cell = match ty {
                None => Cell::Null,
                Some(ty) => match convert(json, ty) {
                    Ok((cell, w)) => {
                        warnings += usize::from(w == Some(Warning::ScientificInteger));
                        cell
                    }
                    Err(why) => {
                        return Err(Reason::BadValue {
                            table: t.id.to_string(),
                            column: name.into_owned(),
                            value: raw.get().to_string(),
                            column_type: ty.to_string(),
                            why,
                        })
                    }
                },
            };
            cells.push((col, cell));
        }
        cells.sort_by_key(|(c, _)| *c);
        if let Some(w) = cells.windows(2).find(|w| w[0].0 == w[1].0) {
            let (ColRef::Known(ci) | ColRef::New(ci)) = w[0].0;
            let name = match w[0].0 {
                ColRef::Known(_) => t.columns[ci].name.clone(),
                ColRef::New(_) => new_cols[ci].0.clone(),
            };
            return Err(Reason::BadRow(format!("duplicate column {name:?}")));
        }

        // The record is valid: from here on nothing can fail.
        let commit_us = md
            .commit_timestamp
            .as_deref()
            .and_then(time::parse_timestamp)
            .map(|t| t.micros);
        let dms_us = md
            .timestamp
            .as_deref()
            .and_then(time::parse_timestamp)
            .map(|t| t.micros);
        let before = msg.before_image.map(|b| minify_json(b.get()));
        let (shard, seq, arrival_us) = (
            r.shard.as_deref().unwrap_or(""),
            r.seq.as_deref().unwrap_or(""),
            r.arrival_us.unwrap_or(0),
        );
        let lineage = Lineage {
            op,
            commit_us,
            dms_us,
            txn_id: md.transaction_id.map(|i| i.0),
            txn_record_id: md.transaction_record_id.map(|i| i.0),
            stream_position: md.stream_position.as_deref(),
            shard,
            seq,
            arrival_us,
            before: before.as_deref(),
        };
        let part = Partition::for_row(self.cfg, commit_us, dms_us, arrival_us);
        self.newest_commit_us = self.newest_commit_us.max(commit_us);

        let t = &mut self.tables[ti];
        let known = t.columns.len();
        for (ci, ty) in opened {
            t.columns[ci].ty = Some(ty);
        }
        for (name, ty) in new_cols {
            t.add_column(name, ty, TypeSource::Inferred, true);
        }
        let gi = match t.groups.iter().position(|g| g.part == part) {
            Some(gi) => gi,
            None => {
                t.groups.push(Group {
                    part,
                    shard: shard.to_string(),
                    first_seq: seq.to_string(),
                    rows: 0,
                    lineage: LineageBuilders::default(),
                    cols: Vec::new(),
                });
                t.groups.len() - 1
            }
        };
        let g = &mut t.groups[gi];
        g.cols.resize_with(t.columns.len(), || None);
        let mut next = cells.iter().peekable();
        for (ci, col) in t.columns.iter().enumerate() {
            let cell = match next.peek() {
                Some((ColRef::Known(k), _)) if *k == ci => next.next().map(|(_, c)| c),
                Some((ColRef::New(k), _)) if known + *k == ci => next.next().map(|(_, c)| c),
                _ => None,
            };
            let builder = &mut g.cols[ci];
            if builder.is_none() {
                match (col.ty, cell) {
                    (Some(ty), Some(c)) if !matches!(c, Cell::Null) => {
                        let mut b = ColBuilder::new(ty);
                        b.append_nulls(g.rows);
                        *builder = Some(b);
                    }
                    _ => continue,
                }
            }
            if let Some(b) = builder {
                match cell {
                    Some(c) => b.append(c),
                    None => b.append_nulls(1),
                }
            }
        }
        g.lineage.append(&lineage);
        g.rows += 1;
        self.counts.add_row(op);
        self.counts.warnings += warnings as u64;
        Ok(())
    }

    fn finish(
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
            newest_commit_us,
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
            newest_commit_us,
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
