//! How the Python readers (tests/py/oracle.py, cross_read.py) stand in for Athena's external
//! tables: a manifest entry per source table naming the folders to read and, for a folder with
//! no object yet, an empty relation of the DDL's types.

use cdc_sink::athena::batches::BATCHES_TABLE;
use cdc_sink::athena::{DdlOptions, TableDdl};
use cdc_sink::config::{Objects, Partitioning};
use cdc_sink::lake::keys::{escape_segment, schema_segment, BATCHES};
use cdc_sink::lake::lineage::{batch, LINEAGE};
use serde_json::{json, Value};
use std::path::Path;

/// A Hive `SELECT CAST(NULL AS type) AS col, ... WHERE FALSE`: an empty table of these columns.
fn empty(cols: &[(String, String)]) -> String {
    let cols: Vec<String> = cols
        .iter()
        .map(|(n, t)| format!("CAST(NULL AS {t}) AS `{}`", n.replace('`', "``")))
        .collect();
    format!("SELECT {} WHERE FALSE", cols.join(", "))
}

fn lineage() -> impl Iterator<Item = (String, String)> {
    LINEAGE.iter().map(|(n, t)| (n.to_string(), t.athena()))
}

/// The manifest fields that register `t`'s relations for a lake under `dir`: `path` (table
/// lake), or `relations` + `source_view` (batch lake: the compacted table, `cdc_batches`).
pub fn relations(t: &TableDdl, o: &DdlOptions, dir: &Path) -> Value {
    let folder = dir
        .join(schema_segment(&t.schema))
        .join(escape_segment(&t.table));
    let Some(view) = &t.source_view else {
        return json!({ "path": folder });
    };
    let mut table: Vec<(String, String)> = t
        .columns
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.athena()))
        .chain(lineage())
        .collect();
    let parts: &[&str] = match o.layout.partition {
        Partitioning::None => &[],
        Partitioning::Day => &["dt"],
        Partitioning::Hour => &["dt", "hr"],
    };
    table.extend(parts.iter().map(|p| (p.to_string(), "string".to_string())));
    let batches: Vec<(String, String)> = batch::LEAD
        .iter()
        .map(|c| (c.to_string(), "string".to_string()))
        .chain(lineage())
        .chain(["dt", "hr"].map(|p| (p.to_string(), "string".to_string())))
        .collect();
    assert_eq!(o.layout.objects, Objects::Batch);
    json!({
        "relations": [
            {"name": t.external_table, "path": folder, "empty": empty(&table)},
            {"name": BATCHES_TABLE, "path": dir.join(BATCHES.trim_end_matches('/')), "empty": empty(&batches)},
        ],
        "source_view": view,
    })
}
