//! The Iceberg state table of a source table (`<schema>__<table>_state`): one row per primary
//! key ever seen, holding the table's columns as set by the newest change in source order, that
//! change's lineage, and a tombstone flag for deleted keys. Also the two pieces the MERGE and
//! the `_current` view share: source order, and the row versions a window of changes yields.

use super::names::{
    before_image_value, comment_name, hive_ident, literal, qualified, table_name, trino_ident,
};
use super::DdlOptions;
use crate::config::Partitioning;
use crate::lake::keys::{escape_segment, schema_segment};
use crate::schema::registry::Registered;
use crate::schema::{Column, ColumnType, TableSchema};

/// The lineage a state row keeps of the change that set it: enough to order changes.
pub const STATE_LINEAGE: [(&str, ColumnType); 8] = [
    ("cdc_op", ColumnType::String),
    ("cdc_commit_ts", ColumnType::Timestamp),
    ("cdc_dms_ts", ColumnType::Timestamp),
    ("cdc_txn_id", ColumnType::Int64),
    ("cdc_txn_record_id", ColumnType::Int64),
    ("cdc_stream_position", ColumnType::String),
    ("cdc_shard", ColumnType::String),
    ("cdc_seq", ColumnType::String),
];

/// The tombstone flag: TRUE when the key's newest change deleted it (or moved it to a new key).
pub const DELETED: &str = "cdc_deleted";

/// Source order, most significant first: commit time (DMS time for full-load rows), transaction
/// id, record id in the transaction, stream position, then the Kinesis position (which tells
/// apart copies of nothing but the same change). NULL sorts lowest.
const ORDER: [&str; 6] = [
    "coalesce(\"cdc_commit_ts\", \"cdc_dms_ts\")",
    "\"cdc_txn_id\"",
    "\"cdc_txn_record_id\"",
    "\"cdc_stream_position\"",
    "\"cdc_seq\"",
    "\"cdc_shard\"",
];

/// The Athena name of the state table.
pub fn state_table_name(schema: &str, table: &str) -> String {
    format!("{}_state", table_name(schema, table))
}

/// `{location}/_state/{schema}/{table}/`: beside the change lake, never inside a table folder
/// (the external tables would read the Iceberg files as changes).
pub fn state_location(o: &DdlOptions, d: &Registered) -> String {
    format!(
        "{}/_state/{}/{}/",
        o.location.trim_end_matches('/'),
        schema_segment(&d.schema),
        escape_segment(&d.table)
    )
}

/// The primary-key columns, or None when the key is unknown or names a missing column.
pub(crate) fn key_columns<'a>(d: &Registered, s: &'a TableSchema) -> Option<Vec<&'a Column>> {
    let pk: Vec<&Column> = d.primary_key.iter().filter_map(|k| s.column(k)).collect();
    (!pk.is_empty() && pk.len() == d.primary_key.len()).then_some(pk)
}

/// The state table's columns with their Athena (Hive DDL) types, in order.
pub fn state_columns(s: &TableSchema) -> Vec<(String, String)> {
    s.columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.athena()))
        .chain(
            STATE_LINEAGE
                .iter()
                .map(|(n, t)| (n.to_string(), t.athena())),
        )
        .chain([(DELETED.to_string(), "boolean".to_string())])
        .collect()
}

/// `CREATE TABLE ... TBLPROPERTIES ('table_type'='ICEBERG')`: Iceberg v2 in the Glue catalog,
/// or a `--` comment when the table has no known primary key.
pub fn create_state_table(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let name = state_table_name(&d.schema, &d.table);
    if key_columns(d, s).is_none() {
        return format!(
            "-- No state table {}: {} has no known primary key.",
            qualified(o, &name),
            comment_name(&d.schema, &d.table)
        );
    }
    let cols: Vec<String> = state_columns(s)
        .iter()
        .map(|(n, t)| format!("  {} {t}", hive_ident(n)))
        .collect();
    format!(
        "-- State of {} (registry version {}): one row per key, tombstones for deleted keys.\n\
         CREATE TABLE IF NOT EXISTS {}.{} (\n{}\n)\nLOCATION {}\nTBLPROPERTIES (\n  'table_type'='ICEBERG',\n  'format'='parquet',\n  'write_compression'='zstd'\n)",
        comment_name(&d.schema, &d.table),
        d.version,
        hive_ident(&o.database),
        hive_ident(&name),
        cols.join(",\n"),
        literal(&state_location(o, d))
    )
}

/// `ORDER BY` items for "newest first" in source order.
pub(crate) fn order_desc() -> String {
    ORDER
        .iter()
        .map(|e| format!("{e} DESC NULLS LAST"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A condition: the row aliased `a` is newer in source order than the row aliased `b`
/// (NULL lowest, as in [`order_desc`]); false when both are the same change.
pub(crate) fn newer(a: &str, b: &str) -> String {
    let on = |alias: &str, e: &str| e.replace("\"cdc_", &format!("{}.\"cdc_", trino_ident(alias)));
    let mut cond = String::new();
    for e in ORDER.iter().rev() {
        let (x, y) = (on(a, e), on(b, e));
        let gt = format!("({x} > {y} OR ({x} IS NOT NULL AND {y} IS NULL))");
        cond = if cond.is_empty() {
            gt
        } else {
            format!("{gt} OR ({x} IS NOT DISTINCT FROM {y} AND ({cond}))")
        };
    }
    cond
}

/// Which changes a statement reads: those of partitions from a day on (pruned on `dt`), or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// Partitions from this day (`YYYY-MM-DD`) on.
    Since(String),
    /// Partitions from the first day to the second, both included (`YYYY-MM-DD`), for
    /// backfills of a range: it may hold an older change of a key without its newer ones.
    Range(String, String),
    /// Partitions from `current_date` minus this many days on (evaluated by Athena).
    LastDays(u32),
    /// Every change (a full rebuild).
    All,
}

/// The WHERE condition of a window. With day or hour partitions it prunes on `dt`; an
/// unpartitioned lake has no partition to prune and filters on the arrival time instead.
pub(crate) fn window_predicate(w: &Window, o: &DdlOptions) -> String {
    let day = match w {
        Window::All => return "TRUE".into(),
        Window::Range(from, to) if o.layout.partition == Partitioning::None => {
            return format!(
                "\"cdc_arrival_ts\" >= CAST(CAST({} AS date) AS timestamp) AND \"cdc_arrival_ts\" < CAST(CAST({} AS date) + INTERVAL '1' DAY AS timestamp)",
                literal(from),
                literal(to)
            )
        }
        Window::Range(from, to) => {
            return format!("\"dt\" BETWEEN {} AND {}", literal(from), literal(to))
        }
        Window::Since(d) => literal(d),
        Window::LastDays(n) => {
            format!("date_format(current_date - INTERVAL '{n}' DAY, '%Y-%m-%d')")
        }
    };
    if o.layout.partition == Partitioning::None {
        let ts = match w {
            Window::LastDays(n) => format!("CAST(current_date - INTERVAL '{n}' DAY AS timestamp)"),
            _ => format!("CAST(CAST({day} AS date) AS timestamp)"),
        };
        return format!("\"cdc_arrival_ts\" >= {ts}");
    }
    format!("\"dt\" >= {day}")
}

/// The row versions a window of changes yields, one scan of the external table: each change
/// (copies removed on `cdc_shard`, `cdc_seq`) is a version of the row under its key, a delete
/// a tombstone; an update that changed the primary key also yields a tombstone for the old key,
/// read from the before-image. Columns: the table's, [`STATE_LINEAGE`], [`DELETED`].
pub(crate) fn versions(d: &Registered, s: &TableSchema, o: &DdlOptions, w: &Window) -> String {
    let pk = key_columns(d, s).unwrap_or_default();
    let is_pk = |n: &str| d.primary_key.iter().any(|k| k == n);
    let old = |c: &Column| before_image_value(&c.name, c.ty);
    let cols: Vec<String> = s
        .columns
        .iter()
        .map(|c| {
            let id = trino_ident(&c.name);
            let then = if is_pk(&c.name) {
                old(c)
            } else {
                "NULL".into()
            };
            format!("CASE WHEN \"cdc_old_key\" THEN {then} ELSE {id} END AS {id}")
        })
        .chain(STATE_LINEAGE.iter().map(|(n, _)| trino_ident(n)))
        .chain([format!(
            "\"cdc_old_key\" OR \"cdc_op\" = 'D' AS {}",
            trino_ident(DELETED)
        )])
        .collect();
    let has_old_key = pk
        .iter()
        .map(|c| format!("{} IS NOT NULL", old(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let key_changed = pk
        .iter()
        .map(|c| format!("{} <> {}", old(c), trino_ident(&c.name)))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "SELECT {cols}\n\
         FROM (\n\
         \x20 SELECT *, row_number() OVER (PARTITION BY \"cdc_shard\", \"cdc_seq\" ORDER BY \"cdc_seq\") AS \"cdc_copy\"\n\
         \x20 FROM {table}\n\
         \x20 WHERE {window}\n\
         ) AS \"changes\"\n\
         CROSS JOIN (VALUES FALSE, TRUE) AS \"ends\" (\"cdc_old_key\")\n\
         WHERE \"cdc_copy\" = 1\n\
         \x20 AND (NOT \"cdc_old_key\" OR (\"cdc_op\" = 'U' AND {has_old_key} AND ({key_changed})))",
        cols = cols.join(", "),
        table = qualified(o, &table_name(&d.schema, &d.table)),
        window = window_predicate(w, o),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_is_lexicographic_with_null_lowest() {
        let c = newer("s", "t");
        assert!(c.starts_with(
            "(coalesce(\"s\".\"cdc_commit_ts\", \"s\".\"cdc_dms_ts\") > coalesce(\"t\".\"cdc_commit_ts\", \"t\".\"cdc_dms_ts\")"
        ));
        assert!(c.contains("(\"s\".\"cdc_shard\" > \"t\".\"cdc_shard\" OR (\"s\".\"cdc_shard\" IS NOT NULL AND \"t\".\"cdc_shard\" IS NULL))"));
        assert_eq!(c.matches("IS NOT DISTINCT FROM").count(), 5);
    }
}
