//! Athena DDL and views from the schema registry: a `CREATE EXTERNAL TABLE` per table with
//! partition projection matching the object layout (no crawler, no MSCK REPAIR), and two views
//! in Athena's Trino SQL: `<table>_changes` (every change once) and `<table>_current` (the
//! latest version of each primary-key row, deletes removed, key changes followed through the
//! before-image).
//!
//! Each statement is built by a small pure function: [`names`] (identifiers, quoting, Athena
//! table names), [`table`] (the external table over the change lake), [`views`] (the views).

pub mod names;
pub mod table;
pub mod views;

use crate::config::{Compression, Format, Partitioning};
use crate::schema::registry::Registered;
pub use names::{hive_ident, table_name, trino_ident};
pub use table::create_table;
pub use views::{changes_view, current_view};

/// What the DDL describes.
#[derive(Debug, Clone)]
pub struct DdlOptions {
    /// Glue / Athena database.
    pub database: String,
    /// `s3://bucket/prefix` the lake lives under.
    pub location: String,
    pub format: Format,
    pub compression: Compression,
    pub partition: Partitioning,
    /// First day of the `dt` projection range (`YYYY-MM-DD`).
    pub since: String,
}

/// One table's statements: the table, then its two views.
pub struct TableDdl {
    pub schema: String,
    pub table: String,
    pub athena_table: String,
    pub create_table: String,
    pub changes_view: String,
    /// A view, or a `--` comment when there is no primary key.
    pub current_view: String,
}

/// Statements for every registered table.
pub fn ddl(docs: &[Registered], o: &DdlOptions) -> Result<Vec<TableDdl>, String> {
    docs.iter()
        .map(|d| {
            let s = d
                .to_schema()
                .map_err(|e| format!("{}.{}: {e}", d.schema, d.table))?;
            Ok(TableDdl {
                schema: d.schema.clone(),
                table: d.table.clone(),
                athena_table: table_name(&d.schema, &d.table),
                create_table: create_table(d, &s, o),
                changes_view: changes_view(d, &s, o),
                current_view: current_view(d, &s, o),
            })
        })
        .collect()
}

/// All statements as one script, each ending with `;`.
pub fn script(tables: &[TableDdl], o: &DdlOptions) -> String {
    let mut out = format!(
        "-- cdc-sink Athena DDL for database {}, lake at {}\n-- Run each statement on its own (aws athena start-query-execution takes one at a time).\n\nCREATE DATABASE IF NOT EXISTS {};\n",
        o.database,
        o.location,
        hive_ident(&o.database)
    );
    for t in tables {
        out.push('\n');
        out.push_str(&t.create_table);
        out.push_str(";\n\n");
        out.push_str(&t.changes_view);
        out.push_str(";\n\n");
        out.push_str(&t.current_view);
        out.push_str(if t.current_view.starts_with("--") {
            "\n"
        } else {
            ";\n"
        });
    }
    out
}

/// Each statement on its own, named in the order to run them: `000-database.sql`,
/// `001-public__orders.sql`, `002-public__orders_changes.sql`, ...
pub fn statements(tables: &[TableDdl], o: &DdlOptions) -> Vec<(String, String)> {
    let mut out = vec![(
        "000-database.sql".to_string(),
        format!("CREATE DATABASE IF NOT EXISTS {}", hive_ident(&o.database)),
    )];
    for t in tables {
        let mut push = |suffix: &str, sql: &str| {
            let n = out.len();
            out.push((
                format!("{n:03}-{}{suffix}.sql", t.athena_table),
                sql.to_string(),
            ));
        };
        push("", &t.create_table);
        push("_changes", &t.changes_view);
        if !t.current_view.starts_with("--") {
            push("_current", &t.current_view);
        }
    }
    out
}
