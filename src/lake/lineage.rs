//! The lineage columns every data row carries, and the naming rules that keep source columns
//! from clashing with them (see DESIGN.md, output contract).

use crate::model::types::ColumnType;

/// `cdc_op`: L (full load), I, U, D.
pub const OP: &str = "cdc_op";
/// `cdc_commit_ts`: the source commit time.
pub const COMMIT_TS: &str = "cdc_commit_ts";
/// `cdc_dms_ts`: when DMS built the message (full-load rows have no commit time).
pub const DMS_TS: &str = "cdc_dms_ts";
/// `cdc_txn_id`: the source transaction.
pub const TXN_ID: &str = "cdc_txn_id";
/// `cdc_txn_record_id`: the change's place in its transaction.
pub const TXN_RECORD_ID: &str = "cdc_txn_record_id";
/// `cdc_stream_position`: DMS's position in the source log.
pub const STREAM_POSITION: &str = "cdc_stream_position";
/// `cdc_before`: the before-image as JSON text.
pub const BEFORE: &str = "cdc_before";
/// `cdc_shard`: the Kinesis shard.
pub const SHARD: &str = "cdc_shard";
/// `cdc_seq`: the Kinesis sequence number, zero-padded so that string order is numeric order.
pub const SEQ: &str = "cdc_seq";

/// The lineage columns, in file order, with their types (see DESIGN.md, output contract).
pub const LINEAGE: [(&str, ColumnType); 10] = [
    (OP, ColumnType::String),
    (COMMIT_TS, ColumnType::Timestamp),
    (DMS_TS, ColumnType::Timestamp),
    (TXN_ID, ColumnType::Int64),
    (TXN_RECORD_ID, ColumnType::Int64),
    (STREAM_POSITION, ColumnType::String),
    (SHARD, ColumnType::String),
    (SEQ, ColumnType::String),
    ("cdc_arrival_ts", ColumnType::Timestamp),
    (BEFORE, ColumnType::String),
];

/// The columns of a batch object (`objects = batch`, under `_batches/`) besides [`LINEAGE`]:
/// which table a row belongs to, the partition it takes in that table's folder, and its values
/// as one JSON object (every table's rows share the object, so they cannot share typed
/// columns). Values are written as the JSON Lines format writes them (see `format::jsonl`),
/// which the views cast to the registered type and the compactor reads back exactly.
pub mod batch {
    /// The source schema.
    pub const SCHEMA: &str = "cdc_schema";
    /// The source table.
    pub const TABLE: &str = "cdc_table";
    /// The row's `dt` partition in its table (`YYYY-MM-DD`), NULL when not partitioned.
    pub const DT: &str = "cdc_dt";
    /// The row's `hr` partition in its table (`HH`), NULL unless partitioned hourly.
    pub const HR: &str = "cdc_hr";
    /// The row's values: one JSON object keyed by lake column name, NULLs left out.
    pub const VALUES: &str = "cdc_values";
    /// The leading columns, in file order (the lineage columns follow).
    pub const LEAD: [&str; 5] = [SCHEMA, TABLE, DT, HR, VALUES];
}

/// Where a change stands in the source's order: the rule that makes a row's current state
/// (`<table>_current_history`, the state tables' MERGE and `cdc-sink reconcile` all apply it).
/// Versions of a key compare by commit time (DMS time for full-load rows, which have none),
/// then transaction id, record within the transaction, DMS's stream position and the Kinesis
/// sequence number; a missing part sorts first (`DESC NULLS LAST` in the views). The greatest
/// version is the current one; if it is a delete, or an update that moved the row to another
/// key, the key has no row.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
pub struct SourceOrder {
    /// `coalesce(cdc_commit_ts, cdc_dms_ts)`, µs since the epoch.
    pub time_us: i64,
    /// `cdc_txn_id`.
    pub txn_id: Option<i64>,
    /// `cdc_txn_record_id`.
    pub txn_record_id: Option<i64>,
    /// `cdc_stream_position`.
    pub stream_position: Option<String>,
    /// `cdc_seq` (zero-padded, so text order is numeric order).
    pub seq: String,
}

/// True when a source column would clash with a lineage column or a partition column (`dt`,
/// `hr`), in any case (Spark, Glue and Hive compare column names case-insensitively); such
/// columns are written as `src_<name>`.
pub fn is_reserved_name(name: &str) -> bool {
    LINEAGE.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        || name.eq_ignore_ascii_case("dt")
        || name.eq_ignore_ascii_case("hr")
}

/// True when two column names are the same to Spark, Glue and Hive (case-insensitive).
pub fn same_column_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// The name a source column is written under, given a test for the names its table already
/// has (`taken` compares with [`same_column_name`]). Applied once, when the column is
/// registered; the registry then remembers it (`renamed_from`):
/// - a lineage or partition name becomes `src_<name>`;
/// - a name that another column already has in another case (PostgreSQL allows `"id"` and
///   `"ID"`; Spark, Glue and Hive do not tell them apart) gets `_` and 8 hex digits of a hash of
///   the source name, like table names do: the same source name always gets the same suffix.
pub fn column_name(source: &str, taken: impl Fn(&str) -> bool) -> String {
    let base = if is_reserved_name(source) {
        format!("src_{source}")
    } else {
        source.to_string()
    };
    if !taken(&base) {
        return base;
    }
    let h = source.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    }) as u32;
    let mut name = format!("{base}_{h:08x}");
    let mut k = 2;
    while taken(&name) {
        name = format!("{base}_{h:08x}_{k}");
        k += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashing_names_are_renamed_stably() {
        let none = |_: &str| false;
        assert_eq!(column_name("id", none), "id");
        assert_eq!(column_name("cdc_op", none), "src_cdc_op");
        assert_eq!(column_name("CDC_OP", none), "src_CDC_OP");
        assert_eq!(column_name("Dt", none), "src_Dt");
        let have = ["id", "src_cdc_op"];
        let taken = |n: &str| have.iter().any(|h| same_column_name(h, n));
        let upper = column_name("ID", taken);
        assert!(upper.starts_with("ID_") && upper.len() == 11, "{upper}");
        assert_eq!(column_name("ID", taken), upper, "same input, same name");
        assert_ne!(column_name("Id", taken), upper);
        assert!(column_name("cdc_op", taken).starts_with("src_cdc_op_"));
        assert!(same_column_name("Ünï", "üNÏ") && !same_column_name("a", "b"));
    }
}
