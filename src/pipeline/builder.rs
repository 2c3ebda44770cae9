//! [`BatchBuilder`]: the records of one event appended, row by row, into the Arrow builders of
//! their (table, partition) group, with control and quarantine entries collected aside.

use super::MAX_NAME_BYTES;
use crate::config::Config;
use crate::decode::dms::{self, DmsMessage};
use crate::decode::kinesis::{self, RawRecord};
use crate::decode::tabledef::{self, TableDef};
use crate::decode::value::infer_type;
use crate::decode::value::{convert, decimal_text, minify_json, Cell, Json, Warning};
use crate::lake::docs::{ControlEntry, Origin, QuarantineEntry};
use crate::lake::keys::{self, Partition};
use crate::lake::lineage::{column_name, same_column_name};
use crate::model::change::{is_dms_internal, Counts, Op, TableId, CONTROL_OPERATIONS};
use crate::model::time;
use crate::pipeline::columns::{ColBuilder, Lineage, LineageBuilders};
use crate::pipeline::quarantine::Reason;
use crate::schema::{ColumnType, SchemaSource, TableSchema, TypeSource};
use std::borrow::Cow;
use std::collections::HashMap;

/// Buffers reused for every record of a batch, so the per-record path does not allocate.
#[derive(Default)]
pub(super) struct Scratch {
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
    let too_long = |n: &str| keys::escape_segment(n).len() > MAX_NAME_BYTES;
    if too_long(schema) || too_long(table) {
        return Err(Reason::BadTableName(format!(
            "a name is longer than {MAX_NAME_BYTES} bytes once escaped for object keys"
        )));
    }
    Ok(())
}

/// A table's column during a batch: the type is `None` while only NULLs have been seen.
pub(super) struct ColState {
    pub(super) name: String,
    /// The DMS field name (differs from `name` when the column was renamed, see
    /// [`column_name`]).
    pub(super) source_name: String,
    pub(super) ty: Option<ColumnType>,
    pub(super) source: TypeSource,
    pub(super) nullable: bool,
}

/// Rows of one (table, partition) in this batch: one object.
pub(super) struct Group {
    pub(super) part: Partition,
    pub(super) shard: String,
    pub(super) first_seq: String,
    pub(super) rows: usize,
    pub(super) lineage: LineageBuilders,
    pub(super) cols: Vec<Option<ColBuilder>>,
}

pub(super) struct TableState {
    pub(super) id: TableId,
    pub(super) columns: Vec<ColState>,
    /// Column index by DMS field name.
    by_name: HashMap<String, usize>,
    pub(super) primary_key: Vec<String>,
    pub(super) groups: Vec<Group>,
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
                let source_name = c.source_name().to_string();
                t.add_column(
                    c.name.clone(),
                    source_name,
                    Some(c.ty),
                    c.source,
                    c.nullable,
                );
            }
            t.primary_key = s.primary_key.clone();
        }
        t
    }

    fn add_column(
        &mut self,
        name: String,
        source_name: String,
        ty: Option<ColumnType>,
        source: TypeSource,
        nullable: bool,
    ) -> usize {
        let i = self.columns.len();
        self.by_name.insert(source_name.clone(), i);
        self.columns.push(ColState {
            name,
            source_name,
            ty,
            source,
            nullable,
        });
        i
    }

    /// Column index by DMS field name; `hint` (the field's position in the message) is tried
    /// first, since DMS usually sends a table's columns in the same order.
    fn find(&self, name: &str, hint: usize) -> Option<usize> {
        match self.columns.get(hint) {
            Some(c) if c.source_name == name => Some(hint),
            _ => self.by_name.get(name).copied(),
        }
    }
}

/// The before-image as `cdc_before` holds it: compact JSON whose keys are the lake's column
/// names and whose integer, decimal and boolean values are written as their columns hold them
/// (DMS writes a bigint over 16 digits as `1.2345678901234568E+18`, which Trino's and Spark's
/// casts refuse). Other values, and fields of columns the table does not know yet, stay as DMS
/// wrote them. An empty before-image (`{}`: the key did not change) costs nothing.
fn before_image_text<'m>(raw: &'m serde_json::value::RawValue, t: &TableState) -> Cow<'m, str> {
    let text = raw.get();
    let fields = match dms::row_fields(raw) {
        Ok(f) if !f.is_empty() => f,
        _ => return minify_json(text),
    };
    let mut out = String::with_capacity(text.len());
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let col = t.by_name.get(name.as_ref()).map(|&ci| &t.columns[ci]);
        let key = col.map_or(name.as_ref(), |c| c.name.as_str());
        out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"\"".into()));
        out.push(':');
        match col.and_then(|c| c.ty).and_then(|ty| plain_value(value, ty)) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&minify_json(value.get())),
        }
    }
    out.push('}');
    Cow::Owned(out)
}

/// A before-image value as its column holds it, for the types whose DMS text some engine's
/// cast refuses; `None` keeps DMS's text.
fn plain_value(raw: &serde_json::value::RawValue, ty: ColumnType) -> Option<String> {
    let (cell, _) = convert(Json::from_raw(raw).ok()?, ty).ok()?;
    match (cell, ty) {
        (Cell::I32(v), _) => Some(v.to_string()),
        (Cell::I64(v), _) => Some(v.to_string()),
        (Cell::Bool(v), _) => Some(v.to_string()),
        (Cell::Dec(v), ColumnType::Decimal { scale, .. }) => Some(decimal_text(v, scale)),
        _ => None,
    }
}

/// A column a row refers to: known to the table, or new in this row (index into `new_cols`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColRef {
    Known(usize),
    New(usize),
}

/// One event's rows, control entries and quarantine entries while its records are read.
pub(super) struct BatchBuilder<'c, S: ?Sized> {
    pub(super) cfg: &'c Config,
    schemas: &'c S,
    pub(super) counts: Counts,
    pub(super) tables: Vec<TableState>,
    table_index: HashMap<Vec<u8>, usize>,
    key_buf: Vec<u8>,
    pub(super) control: Vec<(Partition, ControlEntry)>,
    pub(super) quarantine: Vec<(Partition, QuarantineEntry)>,
    pub(super) table_defs: Vec<(TableId, TableDef)>,
    fallback_arrival: i64,
    pub(super) fallback_seq: String,
    /// The newest commit time of a data row so far (freshness).
    pub(super) newest_commit_us: Option<i64>,
    /// The first data row's shard, sequence number and arrival time: the batch object's key.
    pub(super) first_row: Option<(String, String, i64)>,
}

impl<'c, S: SchemaSource + ?Sized> BatchBuilder<'c, S> {
    /// An empty batch. `fallback_arrival` stands in for a record's missing arrival time, and
    /// `fallback_seq` keys log objects when no record identifies itself.
    pub(super) fn new(
        cfg: &'c Config,
        schemas: &'c S,
        fallback_arrival: i64,
        fallback_seq: String,
    ) -> Self {
        BatchBuilder {
            cfg,
            schemas,
            counts: Counts::default(),
            tables: Vec::new(),
            table_index: HashMap::new(),
            key_buf: Vec::new(),
            control: Vec::new(),
            quarantine: Vec::new(),
            table_defs: Vec::new(),
            fallback_arrival,
            fallback_seq,
            newest_commit_us: None,
            first_row: None,
        }
    }

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
            reason_code: reason.code().into(),
            reason: reason.to_string(),
            origin,
            data_base64: String::from_utf8_lossy(r.data_b64.as_deref().unwrap_or(b"")).into_owned(),
            data_text: decoded
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(str::to_string),
        };
        self.quarantine.push((Partition::log(arrival), entry));
    }

    pub(super) fn record(&mut self, r: &RawRecord<'_>, scratch: &mut Scratch) {
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
        // New columns: (DMS field name, lake name, type).
        let mut new_cols: Vec<(String, String, Option<ColumnType>)> = Vec::new();
        let mut opened: Vec<(usize, ColumnType)> = Vec::new();
        let mut warnings = 0;
        let mut explicit_null = false;
        for (pos, (name, raw)) in fields.iter().enumerate() {
            if name.is_empty() {
                return Err(Reason::BadRow("a column has an empty name".into()));
            }
            let json = Json::from_raw(raw).map_err(Reason::BadRow)?;
            explicit_null |= matches!(json, Json::Null);
            let (col, ty) = match t.find(name, pos) {
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
                    if new_cols.iter().any(|(n, _, _)| n == name) {
                        return Err(Reason::BadRow(format!("duplicate column {name:?}")));
                    }
                    let ty = infer_type(&json);
                    let lake_name = column_name(name, |n| {
                        t.columns.iter().any(|c| same_column_name(&c.name, n))
                            || new_cols.iter().any(|(_, w, _)| same_column_name(w, n))
                    });
                    new_cols.push((name.to_string(), lake_name, ty));
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
                            column: name.to_string(),
                            value: raw.get().to_string(),
                            column_type: ty.to_string(),
                            why,
                        })
                    }
                },
            };
            cells.push((col, cell));
        }
        // An update that leaves out a registered column while it writes NULLs out (the
        // endpoint's IncludeNullAndEmpty) is missing a value DMS did not send: an unchanged large
        // (TOASTed) value. The lake can only hold NULL for it; count it so it is said
        // (`cdc-sink reconcile` names the keys; README, "Is my lake right?").
        if op == Op::Update
            && explicit_null
            && cells
                .iter()
                .filter(|(c, _)| matches!(c, ColRef::Known(_)))
                .count()
                < t.columns.len()
        {
            warnings += 1;
        }
        cells.sort_by_key(|(c, _)| *c);
        if let Some(w) = cells.windows(2).find(|w| w[0].0 == w[1].0) {
            let (ColRef::Known(ci) | ColRef::New(ci)) = w[0].0;
            let name = match w[0].0 {
                ColRef::Known(_) => t.columns[ci].source_name.clone(),
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
        let before = msg.before_image.map(|b| before_image_text(b, t));
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
        if self.first_row.is_none() {
            self.first_row = Some((shard.to_string(), seq.to_string(), arrival_us));
        }

        let t = &mut self.tables[ti];
        let known = t.columns.len();
        for (ci, ty) in opened {
            t.columns[ci].ty = Some(ty);
        }
        for (source_name, name, ty) in new_cols {
            t.add_column(name, source_name, ty, TypeSource::Inferred, true);
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
}
