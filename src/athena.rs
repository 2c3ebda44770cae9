//! Athena DDL and views from the schema registry: a `CREATE EXTERNAL TABLE` per table with
//! partition projection matching the object layout (no crawler, no MSCK REPAIR), and two views
//! in Athena's Trino SQL: `<table>_changes` (every change once) and `<table>_current` (the
//! latest version of each primary-key row, deletes removed, key changes followed through the
//! before-image).

use crate::config::{Compression, Format, Partitioning};
use crate::partition::{escape_segment, schema_segment};
use crate::schema::registry::Registered;
use crate::schema::{ColumnType, TableSchema};

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

/// A Hive DDL identifier: backticks, with backticks doubled.
pub fn hive_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// A Trino identifier: double quotes, with double quotes doubled.
pub fn trino_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The Athena table name of a source table: `{schema}__{table}` in lower case. Glue table
/// names allow only letters, digits and `_`; when a name had to be changed to fit, a short hash
/// of the original names is appended so that different tables never share an Athena name.
pub fn table_name(schema: &str, table: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    // Plain names cannot run into the `__` separator: no `__` inside, no `_` at either end.
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.contains("__")
            && !s.starts_with('_')
            && !s.ends_with('_')
    };
    let name = format!("{}__{}", clean(schema), clean(table));
    if plain(schema) && plain(table) {
        return name;
    }
    let h = format!("{schema}\u{0}{table}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{name}_{:08x}", h as u32)
}

/// A name as it may appear inside a `--` comment (quoted, control characters escaped).
fn comment_name(schema: &str, table: &str) -> String {
    format!("{schema:?}.{table:?}")
}

fn qualified(o: &DdlOptions, name: &str) -> String {
    format!("{}.{}", trino_ident(&o.database), trino_ident(name))
}

fn table_location(o: &DdlOptions, d: &Registered) -> String {
    format!(
        "{}/{}/{}/",
        o.location.trim_end_matches('/'),
        schema_segment(&d.schema),
        escape_segment(&d.table)
    )
}

/// The Trino type of a column (for casts in views).
fn trino_type(t: ColumnType) -> String {
    match t {
        ColumnType::Boolean => "boolean".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Float64 => "double".into(),
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        ColumnType::Date => "date".into(),
        ColumnType::Timestamp => "timestamp".into(),
        ColumnType::String => "varchar".into(),
        ColumnType::Binary => "varbinary".into(),
    }
}

fn lineage_hive() -> Vec<(&'static str, &'static str)> {
    crate::columns::LINEAGE
        .iter()
        .map(|(n, t)| {
            (
                *n,
                if *t == ColumnType::Timestamp {
                    "timestamp"
                } else if *t == ColumnType::Int64 {
                    "bigint"
                } else {
                    "string"
                },
            )
        })
        .collect()
}

/// `CREATE EXTERNAL TABLE` with partition projection.
pub fn create_table(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let mut cols: Vec<String> = s
        .columns
        .iter()
        .map(|c| format!("  {} {}", hive_ident(&c.name), c.ty.athena()))
        .collect();
    cols.extend(
        lineage_hive()
            .into_iter()
            .map(|(n, t)| format!("  {} {t}", hive_ident(n))),
    );
    let name = table_name(&d.schema, &d.table);
    let loc = table_location(o, d);
    let mut sql = format!(
        "-- {} (registry version {})\nCREATE EXTERNAL TABLE IF NOT EXISTS {}.{} (\n{}\n)\n",
        comment_name(&d.schema, &d.table),
        d.version,
        hive_ident(&o.database),
        hive_ident(&name),
        cols.join(",\n")
    );
    let mut props: Vec<(String, String)> = Vec::new();
    let mut template = loc.clone();
    if o.partition != Partitioning::None {
        let mut parts = vec![format!("{} string", hive_ident("dt"))];
        props.extend([
            ("projection.enabled".into(), "true".into()),
            ("projection.dt.type".into(), "date".into()),
            ("projection.dt.format".into(), "yyyy-MM-dd".into()),
            ("projection.dt.range".into(), format!("{},NOW", o.since)),
            ("projection.dt.interval".into(), "1".into()),
            ("projection.dt.interval.unit".into(), "DAYS".into()),
        ]);
        template.push_str("dt=${dt}/");
        if o.partition == Partitioning::Hour {
            parts.push(format!("{} string", hive_ident("hr")));
            props.extend([
                ("projection.hr.type".into(), "integer".into()),
                ("projection.hr.range".into(), "0,23".into()),
                ("projection.hr.digits".into(), "2".into()),
            ]);
            template.push_str("hr=${hr}/");
        }
        props.push(("storage.location.template".into(), template));
        sql.push_str(&format!("PARTITIONED BY ({})\n", parts.join(", ")));
    }
    match o.format {
        Format::Parquet => {
            sql.push_str("STORED AS PARQUET\n");
            props.push((
                "parquet.compression".into(),
                o.compression.as_str().to_ascii_uppercase(),
            ));
        }
        Format::JsonLines => {
            // Timestamps are ISO 8601 in UTC with 0 to 6 fraction digits and a Z; the Hive JSON
            // SerDe parses them with the Joda patterns in timestamp.formats. (Gzip objects are
            // read transparently by their .gz extension.)
            sql.push_str(
                "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n\
                 WITH SERDEPROPERTIES ('timestamp.formats'='yyyy-MM-dd\\'T\\'HH:mm:ss.SSSSSS\\'Z\\',yyyy-MM-dd\\'T\\'HH:mm:ss.SSS\\'Z\\',yyyy-MM-dd\\'T\\'HH:mm:ss\\'Z\\'')\n\
                 STORED AS TEXTFILE\n",
            );
        }
    }
    sql.push_str(&format!("LOCATION {}\n", literal(&loc)));
    if !props.is_empty() {
        let p: Vec<String> = props
            .iter()
            .map(|(k, v)| format!("  {}={}", literal(k), literal(v)))
            .collect();
        sql.push_str(&format!("TBLPROPERTIES (\n{}\n)", p.join(",\n")));
    }
    sql
}

fn partition_cols(o: &DdlOptions) -> Vec<&'static str> {
    match o.partition {
        Partitioning::None => vec![],
        Partitioning::Day => vec!["dt"],
        Partitioning::Hour => vec!["dt", "hr"],
    }
}

/// `<table>_changes`: every change once (de-duplicated on `cdc_shard`, `cdc_seq`), lineage
/// first, then the source columns, then the rest of the lineage.
pub fn changes_view(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let name = table_name(&d.schema, &d.table);
    let mut cols: Vec<String> = LEAD.iter().map(|c| trino_ident(c)).collect();
    cols.extend(s.columns.iter().map(|c| trino_ident(&c.name)));
    cols.extend(TRAIL.iter().map(|c| trino_ident(c)));
    cols.extend(partition_cols(o).into_iter().map(trino_ident));
    format!(
        "CREATE OR REPLACE VIEW {} AS\nSELECT {}\nFROM (\n  SELECT *, row_number() OVER (PARTITION BY \"cdc_shard\", \"cdc_seq\") AS \"cdc_copy\"\n  FROM {}\n) AS \"all_copies\"\nWHERE \"cdc_copy\" = 1",
        qualified(o, &format!("{name}_changes")),
        cols.join(", "),
        qualified(o, &name)
    )
}

/// The JSON path of a key in `cdc_before`.
fn json_path(col: &str) -> String {
    if col.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !col.starts_with(|c: char| c.is_ascii_digit())
    {
        format!("$.{col}")
    } else {
        format!("$[\"{}\"]", col.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `<table>_current`, or a comment saying why there is none (no known primary key).
pub fn current_view(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let name = table_name(&d.schema, &d.table);
    let view = qualified(o, &format!("{name}_current"));
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
    let old = |c: &crate::schema::Column| {
        format!(
            "CAST(json_extract_scalar(\"cdc_before\", {}) AS {})",
            literal(&json_path(&c.name)),
            trino_type(c.ty)
        )
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_names() {
        assert_eq!(hive_ident("we`ird"), "`we``ird`");
        assert_eq!(trino_ident("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(table_name("public", "orders"), "public__orders");
        // Changed names carry a hash of the originals, so they never collide.
        let (a, b, c) = (
            table_name("a", "b c"),
            table_name("a", "b_c"),
            table_name("a", "b/c"),
        );
        assert!(a.starts_with("a__b_c_") && a != b && a != c && b == "a__b_c");
        assert_ne!(table_name("a", "_b"), table_name("a_", "b"));
        assert_eq!(json_path("id"), "$.id");
        assert_eq!(json_path("Order \"Id\""), "$[\"Order \\\"Id\\\"\"]");
    }
}
