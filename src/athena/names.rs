//! Identifiers, literals and Athena table names: how registry names become SQL text.

use super::DdlOptions;
use crate::lake::keys::{escape_segment, schema_segment};
use crate::schema::registry::Registered;
use crate::schema::ColumnType;

/// A Hive DDL identifier: backticks, with backticks doubled.
pub fn hive_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// A Trino identifier: double quotes, with double quotes doubled.
pub fn trino_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal.
pub(crate) fn literal(s: &str) -> String {
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

/// The name of the external table over a source table's folder: `<table>` when each batch
/// writes per-table objects, `<table>_compacted` in a batch lake (where `<table>` is the view
/// adding the batch objects not yet compacted, see [`super::batches`]).
pub fn external_table_name(schema: &str, table: &str, o: &DdlOptions) -> String {
    let name = table_name(schema, table);
    match o.layout.objects {
        crate::config::Objects::Table => name,
        crate::config::Objects::Batch => format!("{name}_compacted"),
    }
}

/// A name as it may appear inside a `--` comment (quoted, control characters escaped).
pub(crate) fn comment_name(schema: &str, table: &str) -> String {
    format!("{schema:?}.{table:?}")
}

pub(crate) fn qualified(o: &DdlOptions, name: &str) -> String {
    format!("{}.{}", trino_ident(&o.database), trino_ident(name))
}

pub(crate) fn table_location(o: &DdlOptions, d: &Registered) -> String {
    format!(
        "{}/{}/{}/",
        o.location.trim_end_matches('/'),
        schema_segment(&d.schema),
        escape_segment(&d.table)
    )
}

/// The Trino type of a column (for casts in views).
pub(crate) fn trino_type(t: ColumnType) -> String {
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

/// The JSON path of a key in `cdc_before`.
pub(crate) fn json_path(col: &str) -> String {
    if col.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !col.starts_with(|c: char| c.is_ascii_digit())
    {
        format!("$.{col}")
    } else {
        format!("$[\"{}\"]", col.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// A key column's old value from the before-image (`cdc_before`, JSON text), typed like the
/// column: the one place that turns JSON text into a typed SQL value, for every view and MERGE.
///
/// The pipeline writes each value there as the column holds it (integers as plain digits, see
/// `pipeline`), so a plain CAST works on every engine, except for timestamps: DMS writes
/// `2025-11-03T10:00:00.123456Z`, which Trino's CAST refuses (it wants a space and no zone), so
/// they go through `from_iso8601_timestamp` (Spark and DuckDB read the same text as the same
/// instant once sqlglot has transpiled it).
pub(crate) fn before_image_value(col: &str, ty: ColumnType) -> String {
    let text = format!(
        "json_extract_scalar(\"cdc_before\", {})",
        literal(&json_path(col))
    );
    match ty {
        ColumnType::Timestamp => format!("CAST(from_iso8601_timestamp({text}) AS timestamp)"),
        _ => format!("CAST({text} AS {})", trino_type(ty)),
    }
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
