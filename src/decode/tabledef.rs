//! The DMS `create-table` control record's `table-def`: declared column types, the most trusted
//! source after a user's override.
//!
//! Only INT32, INT64, STRING and TIMESTAMP have been seen from PostgreSQL; the rest of the
//! vocabulary is mapped from DMS's documented data types. Unknown types are kept as string and
//! reported, never guessed.

use crate::model::types::decimal;
use crate::schema::{Column, ColumnType, TableSchema, TypeSource};
use serde_json::value::RawValue;

/// A declared schema, and notes on types that had to be kept as string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// The declared columns and primary key.
    pub schema: TableSchema,
    /// One note per column kept as string or left out, naming the column and why.
    pub notes: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ColumnDef {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(default)]
    nullable: Option<bool>,
    #[serde(default)]
    precision: Option<u32>,
    #[serde(default)]
    scale: Option<u32>,
}

/// Maps one DMS type name (with precision and scale for numerics) to a column type.
pub fn map_dms_type(
    ty: &str,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Result<ColumnType, String> {
    let t = ty.trim().to_ascii_uppercase();
    Ok(match t.as_str() {
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "INT1" | "INT2" | "INT4" | "INT16" | "INT32" | "UINT1" | "UINT2" | "UINT16"
        | "SMALLINT" | "INTEGER" => ColumnType::Int32,
        // INT8 is 8 bytes in DMS's own type list (8 bits in the INT16/INT32/INT64 style); bigint
        // holds it either way.
        "INT8" | "INT64" | "UINT4" | "UINT32" | "BIGINT" => ColumnType::Int64,
        "UINT8" | "UINT64" => ColumnType::Decimal {
            precision: 20,
            scale: 0,
        },
        "REAL4" | "REAL8" | "FLOAT" | "FLOAT4" | "FLOAT8" | "FLOAT32" | "FLOAT64" | "DOUBLE" => {
            ColumnType::Float64
        }
        "NUMERIC" | "DECIMAL" => match (precision, scale.unwrap_or(0)) {
            (Some(p), s) if p > 0 => decimal(p, s)
                .ok_or_else(|| format!("NUMERIC({p},{s}) is beyond decimal(38); kept as string"))?,
            _ => return Err("NUMERIC without precision; kept as string".into()),
        },
        "DATE" => ColumnType::Date,
        "TIMESTAMP" | "DATETIME" => ColumnType::Timestamp,
        "BLOB" | "BYTES" | "BINARY" | "VARBINARY" => ColumnType::Binary,
        "STRING" | "WSTRING" | "CLOB" | "NCLOB" | "TIME" | "VARCHAR" | "TEXT" => ColumnType::String,
        other => return Err(format!("unknown DMS type {other}; kept as string")),
    })
}

/// Parses a `control` object that carries a `table-def`; `None` when it carries none.
pub fn parse(control: &RawValue) -> Option<TableDef> {
    #[derive(serde::Deserialize)]
    struct Control<'a> {
        #[serde(rename = "table-def", borrow, default)]
        table_def: Option<&'a RawValue>,
    }
    #[derive(serde::Deserialize)]
    struct Def<'a> {
        #[serde(borrow, default)]
        columns: Option<&'a RawValue>,
        #[serde(rename = "primary-key", default)]
        primary_key: Vec<String>,
    }
    let control: Control<'_> = serde_json::from_str(control.get()).ok()?;
    let def: Def<'_> = serde_json::from_str(control.table_def?.get()).ok()?;
    let mut out = TableDef {
        schema: TableSchema {
            columns: Vec::new(),
            primary_key: def.primary_key,
        },
        notes: Vec::new(),
    };
    // Columns in the order DMS listed them (a JSON map would sort them).
    for (name, raw) in crate::decode::dms::row_fields(def.columns?).ok()? {
        let Ok(c) = serde_json::from_str::<ColumnDef>(raw.get()) else {
            out.notes.push(format!(
                "column {name}: unreadable definition {}",
                raw.get()
            ));
            continue;
        };
        let ty = match map_dms_type(c.ty.as_deref().unwrap_or(""), c.precision, c.scale) {
            Ok(t) => t,
            Err(note) => {
                out.notes.push(format!("column {name}: {note}"));
                ColumnType::String
            }
        };
        out.schema.columns.push(Column {
            name: name.into_owned(),
            ty,
            nullable: c.nullable.unwrap_or(true),
            source: TypeSource::TableDef,
            renamed_from: None,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_table_def_in_order() {
        let raw = RawValue::from_string(r#"{"table-def":{"columns":{"id":{"type":"INT32","nullable":false},"total":{"type":"NUMERIC","precision":10,"scale":2},"at":{"type":"TIMESTAMP"},"geo":{"type":"GEOMETRY"},"big":{"type":"NUMERIC"}},"primary-key":["id"]}}"#.into()).unwrap();
        let d = parse(&raw).unwrap();
        let cols: Vec<_> = d
            .schema
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty, c.nullable))
            .collect();
        assert_eq!(
            cols,
            [
                ("id", ColumnType::Int32, false),
                (
                    "total",
                    ColumnType::Decimal {
                        precision: 10,
                        scale: 2
                    },
                    true
                ),
                ("at", ColumnType::Timestamp, true),
                ("geo", ColumnType::String, true),
                ("big", ColumnType::String, true),
            ]
        );
        assert_eq!(d.schema.primary_key, ["id"]);
        assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
        assert!(parse(&RawValue::from_string("{}".into()).unwrap()).is_none());
    }

    #[test]
    fn maps_the_dms_vocabulary() {
        assert_eq!(map_dms_type("INT64", None, None), Ok(ColumnType::Int64));
        assert_eq!(map_dms_type("BLOB", None, None), Ok(ColumnType::Binary));
        assert_eq!(map_dms_type("BOOLEAN", None, None), Ok(ColumnType::Boolean));
        assert_eq!(map_dms_type("DATE", None, None), Ok(ColumnType::Date));
        assert_eq!(map_dms_type("REAL8", None, None), Ok(ColumnType::Float64));
        assert!(map_dms_type("NUMERIC", Some(40), Some(2)).is_err());
    }
}
