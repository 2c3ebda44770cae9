//! The normalised vocabulary between decoding and encoding: tables, operations, lineage.

use std::fmt;

/// A source table: PostgreSQL schema and table name, exactly as DMS sent them (untrusted).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TableId {
    /// PostgreSQL schema (namespace).
    pub schema: String,
    /// Table name.
    pub table: String,
}

impl TableId {
    /// The table `schema.table`.
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> TableId {
        TableId {
            schema: schema.into(),
            table: table.into(),
        }
    }
}

impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// The kind of change a data row records; written as `cdc_op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A full-load row (DMS `load`).
    Load,
    /// An inserted row.
    Insert,
    /// An updated row (its new values).
    Update,
    /// A deleted row.
    Delete,
}

impl Op {
    /// Parses a DMS data `operation`.
    pub fn from_dms(operation: &str) -> Option<Op> {
        match operation {
            "load" => Some(Op::Load),
            "insert" => Some(Op::Insert),
            "update" => Some(Op::Update),
            "delete" => Some(Op::Delete),
            _ => None,
        }
    }

    /// The `cdc_op` letter.
    pub fn code(self) -> &'static str {
        match self {
            Op::Load => "L",
            Op::Insert => "I",
            Op::Update => "U",
            Op::Delete => "D",
        }
    }
}

/// The DMS control operations (`record-type: control`).
pub const CONTROL_OPERATIONS: &[&str] = &[
    "create-table",
    "drop-table",
    "rename-table",
    "change-columns",
    "add-column",
    "drop-column",
    "rename-column",
    "column-type-change",
];

/// Tables DMS creates for itself (`awsdms_apply_exceptions`, ...): skipped, never data.
pub fn is_dms_internal(table: &str) -> bool {
    table.starts_with("awsdms_")
}

/// Fixed width of `cdc_seq`: Kinesis sequence numbers have up to 129 decimal digits, so
/// zero-padding to 129 makes string order equal numeric order.
pub const SEQ_WIDTH: usize = 129;

/// Zero-pads a validated decimal sequence number to [`SEQ_WIDTH`].
pub fn padded_seq(seq: &str) -> String {
    format!("{seq:0>SEQ_WIDTH$}")
}

/// Orders two decimal sequence numbers numerically (by length, then lexicographically).
pub fn cmp_seq(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Per-event counts: the accounting invariant is `records == rows() + control + skipped + quarantined`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Kinesis records in the event.
    pub records: u64,
    /// Full-load rows written.
    pub load: u64,
    /// Inserted rows written.
    pub insert: u64,
    /// Updated rows written.
    pub update: u64,
    /// Deleted rows written.
    pub delete: u64,
    /// Control records (DDL and table announcements), logged under `_control/`.
    pub control: u64,
    /// Records of DMS's own `awsdms_*` tables, dropped.
    pub skipped: u64,
    /// Records written to quarantine instead of the lake.
    pub quarantined: u64,
    /// Values kept with a caveat: a bigint DMS sent in scientific notation, or an update that
    /// leaves out a column while it writes NULLs out (an unchanged large value DMS did not send,
    /// held as NULL).
    pub warnings: u64,
    /// Objects the event produced: data, control log and quarantine objects.
    pub objects: u64,
    /// Total size of those objects, in bytes (as stored, after compression).
    pub bytes: u64,
}

impl Counts {
    /// All data rows.
    pub fn rows(&self) -> u64 {
        self.load + self.insert + self.update + self.delete
    }

    pub(crate) fn add_row(&mut self, op: Op) {
        match op {
            Op::Load => self.load += 1,
            Op::Insert => self.insert += 1,
            Op::Update => self.update += 1,
            Op::Delete => self.delete += 1,
        }
    }

    /// True when every input record is accounted for exactly once.
    pub fn balanced(&self) -> bool {
        self.records == self.rows() + self.control + self.skipped + self.quarantined
    }

    /// Adds another event's counts (for totals over many events).
    pub fn accumulate(&mut self, o: &Counts) {
        self.records += o.records;
        self.load += o.load;
        self.insert += o.insert;
        self.update += o.update;
        self.delete += o.delete;
        self.control += o.control;
        self.skipped += o.skipped;
        self.quarantined += o.quarantined;
        self.warnings += o.warnings;
        self.objects += o.objects;
        self.bytes += o.bytes;
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records: rows L={} I={} U={} D={}, control {}, skipped {}, quarantined {}, warnings {}; {} objects, {} bytes",
            self.records, self.load, self.insert, self.update, self.delete, self.control,
            self.skipped, self.quarantined, self.warnings, self.objects, self.bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_order_is_numeric() {
        assert!(cmp_seq("9", "10").is_lt());
        assert!(cmp_seq("0010", "9").is_gt());
        assert!(padded_seq("9") < padded_seq("10"));
        assert_eq!(padded_seq("42").len(), SEQ_WIDTH);
    }
}
