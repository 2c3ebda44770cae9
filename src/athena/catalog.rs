//! Bringing an existing catalog up to date: `CREATE ... IF NOT EXISTS` never changes a table
//! that exists, so a column the registry gained later would never reach Athena while the
//! regenerated views already name it. Given what the catalog holds (from
//! `information_schema.columns`), [`sync_statements`] creates what is missing, adds new columns
//! to the external and state tables, widens INT to BIGINT and FLOAT to DOUBLE, and replaces the
//! views.

use super::names::{hive_ident, literal};
use super::state::state_columns;
use super::table::partition_cols;
use super::{DdlOptions, TableDdl};
use std::collections::BTreeMap;

/// What the catalog holds: table name -> column name -> Trino type, all in lower case (as
/// Glue stores them and `information_schema.columns` returns them).
pub type Catalog = BTreeMap<String, BTreeMap<String, String>>;

/// The query that reads a database's [`Catalog`] (columns `table_name`, `column_name`,
/// `data_type`).
pub fn catalog_query(database: &str) -> String {
    format!(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = {}",
        literal(&database.to_ascii_lowercase())
    )
}

/// Builds a [`Catalog`] from rows of (table_name, column_name, data_type).
pub fn catalog_from_rows<I: IntoIterator<Item = (String, String, String)>>(rows: I) -> Catalog {
    let mut c = Catalog::new();
    for (t, col, ty) in rows {
        c.entry(t.to_ascii_lowercase())
            .or_default()
            .insert(col.to_ascii_lowercase(), ty.to_ascii_lowercase());
    }
    c
}

/// Reads the CSV Athena writes for [`catalog_query`] (header `table_name,column_name,data_type`).
pub fn catalog_from_csv(text: &str) -> Result<Catalog, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields = split_csv_line(line);
        if i == 0 || line.trim().is_empty() {
            continue;
        }
        if fields.len() != 3 {
            return Err(format!(
                "catalog CSV line {}: expected table_name,column_name,data_type, got {line:?}",
                i + 1
            ));
        }
        let mut f = fields.into_iter();
        rows.push((
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
            f.next().unwrap_or_default(),
        ));
    }
    Ok(catalog_from_rows(rows))
}

fn split_csv_line(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// A registered Athena type (Hive spelling) widened from the catalog's Trino type, when Athena
/// can read the old files under it (INT to BIGINT, FLOAT to DOUBLE).
fn widens(catalog_type: &str, registered: &str) -> bool {
    matches!(
        (catalog_type, registered),
        ("integer" | "int", "bigint") | ("real" | "float", "double")
    )
}

/// `ALTER TABLE ... ADD COLUMNS` / `CHANGE COLUMN` for one table: what `want` has that the
/// catalog's `have` lacks.
pub fn alter_table(
    database: &str,
    table: &str,
    want: &[(String, String)],
    have: &BTreeMap<String, String>,
) -> Vec<String> {
    let target = format!("{}.{}", hive_ident(database), hive_ident(table));
    let mut out = Vec::new();
    let missing: Vec<String> = want
        .iter()
        .filter(|(n, _)| !have.contains_key(&n.to_ascii_lowercase()))
        .map(|(n, t)| format!("{} {t}", hive_ident(n)))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "ALTER TABLE {target} ADD COLUMNS ({})",
            missing.join(", ")
        ));
    }
    for (n, t) in want {
        if let Some(old) = have.get(&n.to_ascii_lowercase()) {
            if widens(old, t) {
                let c = hive_ident(n);
                out.push(format!("ALTER TABLE {target} CHANGE COLUMN {c} {c} {t}"));
            }
        }
    }
    out
}

/// One statement to run, named for reports and `--split` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `public__orders`, `public__orders_state`, `public__orders_current`, ...
    pub object: String,
    /// The statement, ready to run.
    pub sql: String,
}

/// Everything that brings `catalog` to the registry's tables: missing tables created, new
/// columns added, views replaced (in the order to run them: tables before the views over them).
pub fn sync_statements(tables: &[TableDdl], o: &DdlOptions, catalog: &Catalog) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut push = |object: String, sql: &str| {
        out.push(Statement {
            object,
            sql: sql.to_string(),
        })
    };
    if let Some(sql) = super::batches::create_batches_table(o) {
        if !catalog.contains_key(super::batches::BATCHES_TABLE) {
            push(super::batches::BATCHES_TABLE.to_string(), &sql);
        }
    }
    for t in tables {
        let ext = t.external_table.clone();
        match catalog.get(&ext) {
            None => push(ext.clone(), &t.create_table),
            Some(have) => {
                let mut want: Vec<(String, String)> = state_columns(&t.columns)
                    .into_iter()
                    .filter(|(n, _)| n != super::state::DELETED)
                    .collect();
                // The external table has every lineage column, not only the state's.
                for (n, ty) in crate::lake::lineage::LINEAGE {
                    if !want.iter().any(|(w, _)| w == n) {
                        want.push((n.to_string(), ty.athena()));
                    }
                }
                want.retain(|(n, _)| !partition_cols(o).contains(&n.as_str()));
                for sql in alter_table(&o.database, &ext, &want, have) {
                    push(ext.clone(), &sql);
                }
            }
        }
        // The views below read `<table>`: in a batch lake, the view over both halves.
        if let Some(v) = &t.source_view {
            push(t.athena_table.clone(), v);
        }
        let ext = t.athena_table.clone();
        if t.has_key() {
            let state = format!("{ext}_state");
            match catalog.get(&state) {
                None => push(state, &t.state_table),
                Some(have) => {
                    for sql in alter_table(&o.database, &state, &state_columns(&t.columns), have) {
                        push(state.clone(), &sql);
                    }
                }
            }
        }
        push(format!("{ext}_changes"), &t.changes_view);
        if t.has_key() {
            push(format!("{ext}_current_history"), &t.current_history_view);
            push(format!("{ext}_current"), &t.current_view);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_missing_columns_and_widens() {
        let want = vec![
            ("id".to_string(), "bigint".to_string()),
            ("Note".to_string(), "string".to_string()),
            ("price".to_string(), "decimal(12,2)".to_string()),
        ];
        let have = catalog_from_csv(
            "\"table_name\",\"column_name\",\"data_type\"\n\"t\",\"id\",\"integer\"\n\"t\",\"price\",\"decimal(12,2)\"\n",
        )
        .unwrap();
        assert_eq!(
            alter_table("db", "t", &want, &have["t"]),
            vec![
                "ALTER TABLE `db`.`t` ADD COLUMNS (`Note` string)".to_string(),
                "ALTER TABLE `db`.`t` CHANGE COLUMN `id` `id` bigint".to_string(),
            ]
        );
        let all = [("id", "bigint"), ("note", "varchar"), ("price", "x")]
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        assert!(alter_table("db", "t", &want, &all).is_empty());
    }

    #[test]
    fn a_batch_lake_syncs_the_batches_table_and_the_compacted_table_before_the_views() {
        use crate::config::{Layout, Objects};
        use crate::schema::registry::Registered;
        let d = Registered::from_json(
            br#"{"schema":"public","table":"t","version":1,"primary_key":["id"],"columns":[
            {"name":"id","type":"int","nullable":false,"source":"table-def"}]}"#,
        )
        .unwrap();
        let o = DdlOptions {
            database: "db".into(),
            location: "s3://b/p".into(),
            layout: Layout {
                objects: Objects::Batch,
                ..Layout::default()
            },
            since: "2025-01-01".into(),
        };
        let tables = super::super::ddl(&[d], &o).unwrap();
        let objects = |c: &Catalog| -> Vec<String> {
            sync_statements(&tables, &o, c)
                .into_iter()
                .map(|s| s.object)
                .collect()
        };
        // An empty catalog: the batch table, the compacted table, the state table, then the
        // view `<table>` before every view that reads it.
        assert_eq!(
            objects(&Catalog::new()),
            [
                "cdc_batches",
                "public__t_compacted",
                "public__t",
                "public__t_state",
                "public__t_changes",
                "public__t_current_history",
                "public__t_current"
            ]
        );
        // A catalog that has them: nothing is created again, the views are replaced.
        let have = catalog_from_rows(
            ["cdc_batches", "public__t_compacted", "public__t_state"]
                .iter()
                .flat_map(|t| {
                    let mut cols = vec![(t.to_string(), "id".to_string(), "integer".to_string())];
                    cols.extend(
                        crate::lake::lineage::LINEAGE
                            .iter()
                            .map(|(n, ty)| (t.to_string(), n.to_string(), ty.athena())),
                    );
                    cols.push((
                        t.to_string(),
                        super::super::state::DELETED.to_string(),
                        "boolean".to_string(),
                    ));
                    cols
                }),
        );
        let again = sync_statements(&tables, &o, &have);
        assert!(
            again
                .iter()
                .all(|s| s.sql.starts_with("CREATE OR REPLACE VIEW")),
            "{again:?}"
        );
    }
}
