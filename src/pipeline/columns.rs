//! Arrow column builders for table columns and the lineage columns every data row carries.

use crate::decode::value::Cell;
use crate::lake::lineage::LINEAGE;
use crate::model::change::{Op, SEQ_WIDTH};
use crate::model::types::UTC;
use crate::schema::ColumnType;
use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::Field;
use std::fmt::Write;
use std::sync::Arc;

/// Initial rows per builder. Arrow's default (1024) preallocates ~10 KB per column, which
/// for an event spread over hundreds of tables (hundreds of groups, dozens of columns each)
/// costs more memory than the rows; builders grow by doubling instead.
const CAP: usize = 16;

/// A builder for one typed column; `append` takes a [`Cell`] already converted to that type.
pub(crate) enum ColBuilder {
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
}

impl ColBuilder {
    /// An empty builder for a column of type `ty` (decimals with its precision and scale, timestamps in UTC).
    pub(crate) fn new(ty: ColumnType) -> ColBuilder {
        match ty {
            ColumnType::Boolean => ColBuilder::Bool(BooleanBuilder::with_capacity(CAP)),
            ColumnType::Int32 => ColBuilder::I32(Int32Builder::with_capacity(CAP)),
            ColumnType::Int64 => ColBuilder::I64(Int64Builder::with_capacity(CAP)),
            ColumnType::Float64 => ColBuilder::F64(Float64Builder::with_capacity(CAP)),
            ColumnType::Decimal { precision, scale } => ColBuilder::Dec(
                Decimal128Builder::with_capacity(CAP)
                    .with_precision_and_scale(precision, scale as i8)
                    .unwrap_or_else(|_| Decimal128Builder::with_capacity(CAP)),
            ),
            ColumnType::Date => ColBuilder::Date(Date32Builder::with_capacity(CAP)),
            ColumnType::Timestamp => {
                ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(CAP).with_timezone(UTC))
            }
            ColumnType::String => ColBuilder::Str(StringBuilder::with_capacity(CAP, CAP * 16)),
            ColumnType::Binary => ColBuilder::Bin(BinaryBuilder::with_capacity(CAP, CAP * 16)),
        }
    }

    /// Appends `n` NULLs.
    pub(crate) fn append_nulls(&mut self, n: usize) {
        match self {
            ColBuilder::Bool(b) => b.append_nulls(n),
            ColBuilder::I32(b) => b.append_nulls(n),
            ColBuilder::I64(b) => b.append_nulls(n),
            ColBuilder::F64(b) => b.append_nulls(n),
            ColBuilder::Dec(b) => b.append_nulls(n),
            ColBuilder::Date(b) => b.append_nulls(n),
            ColBuilder::Ts(b) => b.append_nulls(n),
            ColBuilder::Str(b) => (0..n).for_each(|_| b.append_null()),
            ColBuilder::Bin(b) => (0..n).for_each(|_| b.append_null()),
        }
    }

    /// Appends a converted value. A cell of another type is a bug upstream; it is written as
    /// NULL rather than panicking on input.
    pub(crate) fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (ColBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (ColBuilder::I32(b), Cell::I32(v)) => b.append_value(*v),
            (ColBuilder::I64(b), Cell::I64(v)) => b.append_value(*v),
            (ColBuilder::I64(b), Cell::I32(v)) => b.append_value(*v as i64),
            (ColBuilder::F64(b), Cell::F64(v)) => b.append_value(*v),
            (ColBuilder::Dec(b), Cell::Dec(v)) => b.append_value(*v),
            (ColBuilder::Date(b), Cell::Date(v)) => b.append_value(*v),
            (ColBuilder::Ts(b), Cell::Ts(v)) => b.append_value(*v),
            (ColBuilder::Str(b), Cell::Str(v)) => b.append_value(v),
            (ColBuilder::Bin(b), Cell::Bin(v)) => b.append_value(v),
            (b, c) => {
                debug_assert!(
                    matches!(c, Cell::Null),
                    "cell {c:?} does not match its builder"
                );
                b.append_nulls(1)
            }
        }
    }

    /// The column built so far; the builder is left empty for the next object.
    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::I32(b) => Arc::new(b.finish()),
            ColBuilder::I64(b) => Arc::new(b.finish()),
            ColBuilder::F64(b) => Arc::new(b.finish()),
            ColBuilder::Dec(b) => Arc::new(b.finish()),
            ColBuilder::Date(b) => Arc::new(b.finish()),
            ColBuilder::Ts(b) => Arc::new(b.finish()),
            ColBuilder::Str(b) => Arc::new(b.finish()),
            ColBuilder::Bin(b) => Arc::new(b.finish()),
        }
    }
}

/// The lineage of one data row.
#[derive(Debug, Clone)]
pub(crate) struct Lineage<'a> {
    /// DMS operation of the row.
    pub(crate) op: Op,
    /// Source commit time, in microseconds since the epoch (`cdc_commit_ts`).
    pub(crate) commit_us: Option<i64>,
    /// DMS metadata timestamp (when DMS handled the change), in microseconds since the epoch.
    pub(crate) dms_us: Option<i64>,
    /// Source transaction id, when DMS reports it.
    pub(crate) txn_id: Option<i64>,
    /// Position of the record within its transaction, when DMS reports it.
    pub(crate) txn_record_id: Option<i64>,
    /// Source stream position (the PostgreSQL LSN), when DMS reports it.
    pub(crate) stream_position: Option<&'a str>,
    /// Kinesis shard id the record came from.
    pub(crate) shard: &'a str,
    /// Kinesis sequence number, unpadded; the column holds it zero-padded to `SEQ_WIDTH`.
    pub(crate) seq: &'a str,
    /// Kinesis arrival time, in microseconds since the epoch.
    pub(crate) arrival_us: i64,
    /// The before-image as JSON (`cdc_before`), when DMS sends one (updates, with BeforeImageSettings).
    pub(crate) before: Option<&'a str>,
}

/// `SEQ_WIDTH` zeros, sliced for padding `cdc_seq`.
const ZEROS: &str = "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

/// Builders of the lineage columns of one group of rows.
pub(crate) struct LineageBuilders {
    op: StringBuilder,
    commit_ts: TimestampMicrosecondBuilder,
    dms_ts: TimestampMicrosecondBuilder,
    txn_id: Int64Builder,
    txn_record_id: Int64Builder,
    stream_position: StringBuilder,
    shard: StringBuilder,
    seq: StringBuilder,
    arrival_ts: TimestampMicrosecondBuilder,
    before: StringBuilder,
}

impl Default for LineageBuilders {
    fn default() -> Self {
        let ts = || TimestampMicrosecondBuilder::with_capacity(CAP).with_timezone(UTC);
        LineageBuilders {
            op: StringBuilder::with_capacity(CAP, CAP * 16),
            commit_ts: ts(),
            dms_ts: ts(),
            txn_id: Int64Builder::with_capacity(CAP),
            txn_record_id: Int64Builder::with_capacity(CAP),
            stream_position: StringBuilder::with_capacity(CAP, CAP * 16),
            shard: StringBuilder::with_capacity(CAP, CAP * 16),
            seq: StringBuilder::with_capacity(CAP, CAP * 16),
            arrival_ts: ts(),
            before: StringBuilder::with_capacity(CAP, CAP * 16),
        }
    }
}

impl LineageBuilders {
    /// Appends one row's lineage.
    pub(crate) fn append(&mut self, l: &Lineage<'_>) {
        self.op.append_value(l.op.code());
        self.commit_ts.append_option(l.commit_us);
        self.dms_ts.append_option(l.dms_us);
        self.txn_id.append_option(l.txn_id);
        self.txn_record_id.append_option(l.txn_record_id);
        self.stream_position.append_option(l.stream_position);
        self.shard.append_value(l.shard);
        // Zero-pad without a temporary String or per-character formatting: the builder is a
        // fmt::Write, so the pad and the digits are appended as two slices.
        let pad = SEQ_WIDTH.saturating_sub(l.seq.len());
        let _ = self.seq.write_str(&ZEROS[..pad]);
        let _ = self.seq.write_str(l.seq);
        self.seq.append_value("");
        self.arrival_ts.append_value(l.arrival_us);
        self.before.append_option(l.before);
    }

    /// The lineage arrays, in [`LINEAGE`] order (their fields are [`lineage_fields`]).
    pub(crate) fn finish(&mut self) -> [ArrayRef; 10] {
        [
            Arc::new(self.op.finish()),
            Arc::new(self.commit_ts.finish()),
            Arc::new(self.dms_ts.finish()),
            Arc::new(self.txn_id.finish()),
            Arc::new(self.txn_record_id.finish()),
            Arc::new(self.stream_position.finish()),
            Arc::new(self.shard.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(self.arrival_ts.finish()),
            Arc::new(self.before.finish()),
        ]
    }
}

/// The lineage fields, in [`LINEAGE`] order: the same for every object, so a table's schema
/// is built once, not per object.
pub fn lineage_fields() -> impl Iterator<Item = Field> {
    LINEAGE.iter().map(|(name, ty)| {
        let nullable = !matches!(*name, "cdc_op" | "cdc_shard" | "cdc_seq" | "cdc_arrival_ts");
        Field::new(*name, ty.arrow(), nullable)
    })
}
