//! Athena DDL and views from the schema registry: a `CREATE EXTERNAL TABLE` per table with
//! partition projection matching the object layout (no crawler, no MSCK REPAIR), an Iceberg
//! state table per table with a primary key, kept by a generated MERGE, and views in Athena's
//! Trino SQL: `<table>_changes` (every change once), `<table>_current` (the latest version of
//! each primary-key row: the state table plus the change lake's recent tail) and
//! `<table>_current_history` (the same from the whole history).
//!
//! Each statement is built by a small pure function: [`names`] (identifiers, quoting, Athena
//! table names), [`table`] (the external table over the change lake), [`state`] (the state
//! table, source order), [`merge`] (MERGE, tombstone purge, OPTIMIZE, VACUUM), [`views`] (the
//! views), [`catalog`] (what brings an existing catalog up to date); [`runner`] runs them.

pub mod batches;
pub mod catalog;
pub mod job;
pub mod merge;
pub mod names;
pub mod runner;
pub mod state;
pub mod table;
pub mod views;

use crate::config::Layout;
use crate::schema::registry::Registered;
pub use names::{hive_ident, table_name, trino_ident};
pub use state::Window;
pub use table::create_table;
pub use views::{changes_view, current_history_view, current_view};

/// Days of the change lake `<table>_current` reads besides the state table (and today).
pub const DEFAULT_TAIL_DAYS: u32 = 2;

/// What the DDL describes.
#[derive(Debug, Clone)]
pub struct DdlOptions {
    /// Glue / Athena database.
    pub database: String,
    /// `s3://bucket/prefix` the lake lives under.
    pub location: String,
    /// How the lake's data objects are laid out (its partition time does not change the DDL).
    pub layout: Layout,
    /// First day of the `dt` projection range (`YYYY-MM-DD`).
    pub since: String,
}

/// One table's statements: the table, then its two views.
pub struct TableDdl {
    /// Source schema.
    pub schema: String,
    /// Source table name.
    pub table: String,
    /// The Athena table name (`{schema}__{table}`, see [`names::table_name`]).
    pub athena_table: String,
    /// The external table over the table's folder: `athena_table`, or `<athena_table>_compacted`
    /// in a batch lake.
    pub external_table: String,
    /// `CREATE EXTERNAL TABLE` over the table's folder, with partition projection.
    pub create_table: String,
    /// In a batch lake, the view `<athena_table>`: compacted objects plus batch objects not yet
    /// compacted (see [`batches`]); every other view reads it.
    pub source_view: Option<String>,
    /// The `<table>_changes` view: every change once, de-duplicated on `cdc_shard`, `cdc_seq`.
    pub changes_view: String,
    /// A view over the state table and the lake's tail, or a `--` comment when there is no
    /// primary key.
    pub current_view: String,
    /// The current state from the whole history, or a `--` comment when there is no key.
    pub current_history_view: String,
    /// `CREATE TABLE` of the Iceberg state table, or a `--` comment when there is no key.
    pub state_table: String,
    /// The table's registered schema and columns, for MERGE and catalog updates.
    pub registered: Registered,
    /// The columns as [`crate::schema::TableSchema`], with the key.
    pub columns: crate::schema::TableSchema,
}

impl TableDdl {
    /// True when the table has a known primary key (state table, MERGE, `_current`).
    pub fn has_key(&self) -> bool {
        state::key_columns(&self.registered, &self.columns).is_some()
    }
}

/// Statements for every registered table (`_current` reads [`DEFAULT_TAIL_DAYS`] of the lake).
pub fn ddl(docs: &[Registered], o: &DdlOptions) -> Result<Vec<TableDdl>, String> {
    ddl_with_tail(docs, o, DEFAULT_TAIL_DAYS)
}

/// Statements for every registered table, `_current` reading `tail_days` of the lake.
pub fn ddl_with_tail(
    docs: &[Registered],
    o: &DdlOptions,
    tail_days: u32,
) -> Result<Vec<TableDdl>, String> {
    docs.iter()
        .map(|d| {
            let s = d
                .to_schema()
                .map_err(|e| format!("{}.{}: {e}", d.schema, d.table))?;
            Ok(TableDdl {
                schema: d.schema.clone(),
                table: d.table.clone(),
                athena_table: table_name(&d.schema, &d.table),
                external_table: names::external_table_name(&d.schema, &d.table, o),
                create_table: create_table(d, &s, o),
                source_view: batches::source_view(d, &s, o),
                changes_view: changes_view(d, &s, o),
                current_view: current_view(d, &s, o, tail_days),
                current_history_view: current_history_view(d, &s, o),
                state_table: state::create_state_table(d, &s, o),
                registered: d.clone(),
                columns: s,
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
    if let Some(b) = batches::create_batches_table(o) {
        out.push('\n');
        out.push_str(&b);
        out.push_str(";\n");
    }
    for t in tables {
        out.push('\n');
        out.push_str(&t.create_table);
        out.push_str(";\n\n");
        if let Some(v) = &t.source_view {
            out.push_str(v);
            out.push_str(";\n\n");
        }
        if t.has_key() {
            out.push_str(&t.state_table);
            out.push_str(";\n\n");
        }
        out.push_str(&t.changes_view);
        out.push_str(";\n\n");
        if t.has_key() {
            out.push_str(&t.current_history_view);
            out.push_str(";\n\n");
        }
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
    if let Some(b) = batches::create_batches_table(o) {
        out.push((format!("001-{}.sql", batches::BATCHES_TABLE), b));
    }
    for t in tables {
        let mut push = |suffix: &str, sql: &str| {
            let n = out.len();
            out.push((
                format!("{n:03}-{}{suffix}.sql", t.athena_table),
                sql.to_string(),
            ));
        };
        if let Some(v) = &t.source_view {
            push("_compacted", &t.create_table);
            push("", v);
        } else {
            push("", &t.create_table);
        }
        if t.has_key() {
            push("_state", &t.state_table);
        }
        push("_changes", &t.changes_view);
        if t.has_key() {
            push("_current_history", &t.current_history_view);
            push("_current", &t.current_view);
        }
    }
    out
}
