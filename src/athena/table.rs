//! `CREATE EXTERNAL TABLE` over the change lake, with partition projection matching the layout.

use super::names::{comment_name, external_table_name, hive_ident, literal, table_location};
use super::DdlOptions;
use crate::config::{Format, Partitioning};
use crate::schema::registry::Registered;
use crate::schema::{ColumnType, TableSchema};

pub(crate) fn lineage_hive() -> Vec<(&'static str, &'static str)> {
    crate::lake::lineage::LINEAGE
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

/// `CREATE EXTERNAL TABLE` over a source table's folder, with partition projection (named
/// `<table>_compacted` in a batch lake, see [`super::batches`]).
pub fn create_table(d: &Registered, s: &TableSchema, o: &DdlOptions) -> String {
    let mut cols: Vec<String> = s
        .columns
        .iter()
        .map(|c| {
            format!(
                "  {} {}",
                hive_ident(&c.name),
                hive_type(c.ty, o.layout.format)
            )
        })
        .collect();
    cols.extend(
        lineage_hive()
            .into_iter()
            .map(|(n, t)| format!("  {} {t}", hive_ident(n))),
    );
    let name = external_table_name(&d.schema, &d.table, o);
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
    if o.layout.partition != Partitioning::None {
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
        if o.layout.partition == Partitioning::Hour {
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
    match o.layout.format {
        Format::Parquet => {
            sql.push_str("STORED AS PARQUET\n");
            props.push((
                "parquet.compression".into(),
                o.layout.compression.as_str().to_ascii_uppercase(),
            ));
        }
        Format::JsonLines => {
            // Timestamps are `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), which the Hive JSON SerDe reads
            // with java.sql.Timestamp when no `timestamp.formats` is set: all six digits (its Joda
            // patterns would stop at milliseconds). Gzip objects are read by their .gz extension.
            sql.push_str(
                "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n\
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

/// The DDL type of a column. JSON Lines holds binary as base64 text, declared `string` (the
/// Hive JSON SerDe would return the text's own bytes for `binary`); `from_base64` decodes it.
pub(crate) fn hive_type(ty: ColumnType, format: Format) -> String {
    match (ty, format) {
        (ColumnType::Binary, Format::JsonLines) => "string".into(),
        _ => ty.athena(),
    }
}

pub(crate) fn partition_cols(o: &DdlOptions) -> Vec<&'static str> {
    match o.layout.partition {
        Partitioning::None => vec![],
        Partitioning::Day => vec!["dt"],
        Partitioning::Hour => vec!["dt", "hr"],
    }
}
