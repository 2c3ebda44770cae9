//! The statements that keep a state table: the MERGE of a window of changes, the purge of old
//! tombstones, and the maintenance Athena runs on Iceberg tables (OPTIMIZE, VACUUM).
//!
//! The MERGE is idempotent: it applies the latest change per key of its window only when that
//! change is newer in source order than the stored row, so re-runs, overlapping windows and
//! late older changes never regress a row, and a tombstone keeps a deleted key from coming back.
//! It has one UPDATE and one INSERT action: Athena rejects a target row matched twice (the
//! source holds one row per key), and DuckDB's Iceberg MERGE allows a single UPDATE action.

use super::names::{qualified, trino_ident};
use super::state::{
    key_columns, newer, order_desc, state_columns, state_table_name, versions, Window, DELETED,
};
use super::DdlOptions;
use crate::schema::registry::Registered;
use crate::schema::TableSchema;

/// The MERGE source: the latest version per primary key among the window's changes (one row
/// per key). None when the table has no known primary key.
pub fn merge_source(d: &Registered, s: &TableSchema, o: &DdlOptions, w: &Window) -> Option<String> {
    let pk = key_columns(d, s)?;
    let cols: Vec<String> = state_columns(s)
        .iter()
        .map(|(n, _)| trino_ident(n))
        .collect();
    let partition_by: Vec<String> = pk.iter().map(|c| trino_ident(&c.name)).collect();
    Some(format!(
        "SELECT {cols}\nFROM (\n  SELECT *, row_number() OVER (PARTITION BY {pk} ORDER BY {order}) AS \"cdc_rank\"\n  FROM (\n{versions}\n  ) AS \"versions\"\n) AS \"ranked\"\nWHERE \"cdc_rank\" = 1",
        cols = cols.join(", "),
        pk = partition_by.join(", "),
        order = order_desc(),
        versions = indent(&versions(d, s, o, w), "    "),
    ))
}

/// `MERGE INTO <table>_state`: the window's latest change per key, applied when newer.
pub fn merge(d: &Registered, s: &TableSchema, o: &DdlOptions, w: &Window) -> Option<String> {
    let pk = key_columns(d, s)?;
    let source = merge_source(d, s, o, w)?;
    let is_pk = |n: &str| d.primary_key.iter().any(|k| k == n);
    let cols: Vec<String> = state_columns(s).into_iter().map(|(n, _)| n).collect();
    let on: Vec<String> = pk
        .iter()
        .map(|c| {
            let id = trino_ident(&c.name);
            format!("\"t\".{id} = \"s\".{id}")
        })
        .collect();
    let set: Vec<String> = cols
        .iter()
        .filter(|n| !is_pk(n))
        .map(|n| format!("{} = \"s\".{}", trino_ident(n), trino_ident(n)))
        .collect();
    let insert: Vec<String> = cols.iter().map(|n| trino_ident(n)).collect();
    let values: Vec<String> = cols
        .iter()
        .map(|n| format!("\"s\".{}", trino_ident(n)))
        .collect();
    Some(format!(
        "MERGE INTO {target} AS \"t\"\nUSING (\n{source}\n) AS \"s\"\nON {on}\n\
         WHEN MATCHED AND ({newer}) THEN\n  UPDATE SET {set}\n\
         WHEN NOT MATCHED THEN\n  INSERT ({insert})\n  VALUES ({values})",
        target = qualified(o, &state_table_name(&d.schema, &d.table)),
        source = indent(&source, "  "),
        on = on.join(" AND "),
        newer = newer("s", "t"),
        set = set.join(", "),
        insert = insert.join(", "),
        values = values.join(", "),
    ))
}

/// `DELETE` of tombstones set by changes older than `days` days. Safe once no MERGE window and
/// no `_current` tail reaches back that far (an older change of the key would bring it back):
/// keep `days` above both, plus the longest delay of a change reaching the lake.
pub fn purge_tombstones(
    d: &Registered,
    s: &TableSchema,
    o: &DdlOptions,
    days: u32,
) -> Option<String> {
    key_columns(d, s)?;
    Some(format!(
        "DELETE FROM {} WHERE {} AND coalesce(\"cdc_commit_ts\", \"cdc_dms_ts\") < CAST(current_date - INTERVAL '{days}' DAY AS timestamp)",
        qualified(o, &state_table_name(&d.schema, &d.table)),
        trino_ident(DELETED),
    ))
}

/// `OPTIMIZE ... REWRITE DATA USING BIN_PACK`: merges small data files and applies delete files.
pub fn optimize(d: &Registered, s: &TableSchema, o: &DdlOptions) -> Option<String> {
    key_columns(d, s)?;
    Some(format!(
        "OPTIMIZE {} REWRITE DATA USING BIN_PACK",
        qualified(o, &state_table_name(&d.schema, &d.table))
    ))
}

/// `VACUUM`: expires old snapshots (table property `vacuum_max_snapshot_age_seconds`, 5 days by
/// default) and removes the files no snapshot needs.
pub fn vacuum(d: &Registered, s: &TableSchema, o: &DdlOptions) -> Option<String> {
    key_columns(d, s)?;
    Some(format!(
        "VACUUM {}",
        qualified(o, &state_table_name(&d.schema, &d.table))
    ))
}

fn indent(text: &str, pad: &str) -> String {
    text.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
