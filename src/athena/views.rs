//! The views: `<table>_changes` (every change once), `<table>_current` (the latest version of
//! each primary-key row, from the state table and the recent tail of the change lake) and
//! `<table>_current_history` (the same, computed from the whole change history).

use super::names::{before_image_value, comment_name, qualified, table_name, trino_ident};
use super::table::partition_cols;
use super::DdlOptions;
use crate::schema::registry::Registered;
use crate::schema::TableSchema;

/// Lineage columns in the order the `_changes` view shows them around the source columns.
const LEAD: &[&str] = &["cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id"];
const TRAIL: &[&str] = &[
    "cdc_before",
    "cdc_dms_ts",
    "cdc_stream_position",
    "cdc_shard",
    "cdc_seq",
    "cdc_arrival_ts",
];

/// `<table>_changes`: every change once (de-duplicated on `cdc_shard`, `cdc_seq`), lineage
/// first, then the source columns, then the rest of the lineage. The copies of a change are
/// identical, so any order picks the same row; the ORDER BY is there because Spark refuses
/// `row_number()` without one.
pub fn changes_view(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let name = table_name(&d.schema, &d.table);
    let mut cols: Vec<String> = LEAD.iter().map(|c| trino_ident(c)).collect();
    cols.extend(s.columns.iter().map(|c| trino_ident(&c.name)));
    cols.extend(TRAIL.iter().map(|c| trino_ident(c)));
    cols.extend(partition_cols(o).into_iter().map(trino_ident));
    format!(
        "CREATE OR REPLACE VIEW {} AS\nSELECT {}\nFROM (\n  SELECT *, row_number() OVER (PARTITION BY \"cdc_shard\", \"cdc_seq\" ORDER BY \"cdc_arrival_ts\") AS \"cdc_copy\"\n  FROM {}\n) AS \"all_copies\"\nWHERE \"cdc_copy\" = 1",
        qualified(o, &format!("{name}_changes")),
        cols.join(", "),
        qualified(o, &name)
    )
}

/// `<table>_current_history`: the current state computed from the whole change history (every
/// query scans every change); or a comment saying why there is none (no known primary key).
pub fn current_history_view(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let name = table_name(&d.schema, &d.table);
    let view = qualified(o, &format!("{name}_current_history"));
    let pk: Vec<&crate::schema::Column> =
        d.primary_key.iter().filter_map(|k| s.column(k)).collect();
    if pk.is_empty() || pk.len() != d.primary_key.len() {
        return format!(
            "-- No view {view}: {} has no known primary key (DMS sends it in the create-table\n-- table-def, or set one with `cdc-sink schema set`). Without a key, the current state\n-- of a row cannot be told from the change history; query {} instead.",
            comment_name(&d.schema, &d.table),
            qualified(o, &format!("{name}_changes"))
        );
    }
    let source: Vec<String> = s.columns.iter().map(|c| trino_ident(&c.name)).collect();
    let is_pk = |n: &str| d.primary_key.iter().any(|k| k == n);
    // The old key of a primary-key change, from the before-image.
    let old = |c: &crate::schema::Column| before_image_value(&c.name, c.ty);
    let tomb_cols: Vec<String> = s
        .columns
        .iter()
        .map(|c| {
            if is_pk(&c.name) {
                format!("{} AS {}", old(c), trino_ident(&c.name))
            } else {
                trino_ident(&c.name)
            }
        })
        .collect();
    let lineage: Vec<String> = LEAD.iter().chain(TRAIL).map(|c| trino_ident(c)).collect();
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
    let partition_by = pk
        .iter()
        .map(|c| trino_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "CREATE OR REPLACE VIEW {view} AS\n\
         WITH \"versions\" AS (\n\
         \x20 -- Each change is a version of the row with its key; a delete ends the row.\n\
         \x20 SELECT {src}, {lin}, \"cdc_op\" = 'D' AS \"cdc_gone\"\n\
         \x20 FROM {changes}\n\
         \x20 UNION ALL\n\
         \x20 -- An update that changed the primary key also ends the row under its old key.\n\
         \x20 SELECT {tomb}, {lin}, TRUE AS \"cdc_gone\"\n\
         \x20 FROM {changes}\n\
         \x20 WHERE \"cdc_op\" = 'U' AND {has_old_key} AND ({key_changed})\n\
         )\n\
         SELECT {src}, \"cdc_op\", \"cdc_commit_ts\", \"cdc_txn_id\", \"cdc_txn_record_id\", \"cdc_stream_position\", \"cdc_shard\", \"cdc_seq\"\n\
         FROM (\n\
         \x20 SELECT *, row_number() OVER (\n\
         \x20   PARTITION BY {partition_by}\n\
         \x20   -- Source order: commit time (DMS time for full-load rows), transaction, position.\n\
         \x20   ORDER BY coalesce(\"cdc_commit_ts\", \"cdc_dms_ts\") DESC, \"cdc_txn_id\" DESC NULLS LAST,\n\
         \x20     \"cdc_txn_record_id\" DESC NULLS LAST, \"cdc_stream_position\" DESC NULLS LAST, \"cdc_seq\" DESC\n\
         \x20 ) AS \"cdc_rank\"\n\
         \x20 FROM \"versions\"\n\
         ) AS \"ranked\"\n\
         WHERE \"cdc_rank\" = 1 AND NOT \"cdc_gone\"",
        src = source.join(", "),
        lin = lineage.join(", "),
        changes = qualified(o, &format!("{name}_changes")),
        tomb = tomb_cols.join(", "),
    )
}

/// `<table>_current`: the state table (tombstones filtered out) together with the change lake's
/// tail (partitions from `current_date` minus `tail_days` on), latest version per key in source
/// order. Exact up to the last Lambda write as long as every change older than the tail has been
/// merged; reads the state table and the tail's partitions only. A comment when there is no key.
pub fn current_view(d: &Registered, s: &TableSchema, o: &DdlOptions, tail_days: u32) -> String {
    use super::state::{
        key_columns, order_desc, state_table_name, versions, Window, STATE_LINEAGE,
    };
    let name = table_name(&d.schema, &d.table);
    let view = qualified(o, &format!("{name}_current"));
    let Some(pk) = key_columns(d, s) else {
        return no_key_comment(d, o, &view);
    };
    let source: Vec<String> = s.columns.iter().map(|c| trino_ident(&c.name)).collect();
    let state_cols: Vec<String> = source
        .iter()
        .cloned()
        .chain(STATE_LINEAGE.iter().map(|(n, _)| trino_ident(n)))
        .chain([trino_ident(super::state::DELETED)])
        .collect();
    let partition_by: Vec<String> = pk.iter().map(|c| trino_ident(&c.name)).collect();
    let tail = versions(d, s, o, &Window::LastDays(tail_days))
        .lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "CREATE OR REPLACE VIEW {view} AS\n\
         SELECT {src}, \"cdc_op\", \"cdc_commit_ts\", \"cdc_txn_id\", \"cdc_txn_record_id\", \"cdc_stream_position\", \"cdc_shard\", \"cdc_seq\"\n\
         FROM (\n\
         \x20 SELECT *, row_number() OVER (PARTITION BY {pk} ORDER BY {order}) AS \"cdc_rank\"\n\
         \x20 FROM (\n\
         \x20   -- Merged: one row per key, tombstones included (an older change must not win).\n\
         \x20   SELECT {state_cols}\n\
         \x20   FROM {state}\n\
         \x20   UNION ALL\n\
         \x20   -- Not yet merged, or merged again: the change lake's last {tail_days} days and today.\n\
         {tail}\n\
         \x20 ) AS \"versions\"\n\
         ) AS \"ranked\"\n\
         WHERE \"cdc_rank\" = 1 AND NOT \"cdc_deleted\"",
        src = source.join(", "),
        pk = partition_by.join(", "),
        order = order_desc(),
        state_cols = state_cols.join(", "),
        state = qualified(o, &state_table_name(&d.schema, &d.table)),
    )
}

fn no_key_comment(d: &Registered, o: &DdlOptions, view: &str) -> String {
    let name = table_name(&d.schema, &d.table);
    format!(
        "-- No view {view}: {} has no known primary key (DMS sends it in the create-table\n-- table-def, or set one with `cdc-sink schema set`). Without a key, the current state\n-- of a row cannot be told from the change history; query {} instead.",
        comment_name(&d.schema, &d.table),
        qualified(o, &format!("{name}_changes"))
    )
}
