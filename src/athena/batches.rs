//! `objects = batch`: the external table over the batch objects (`cdc_batches`) and, per source
//! table, the view `<table>` that every other view reads: the table's compacted objects
//! (`<table>_compacted`, the per-table layout) UNION ALL its rows in batch objects not yet
//! compacted, cast from `cdc_values` to the registered types.
//!
//! A change can be in both halves for a while (the compactor wrote its table object but has not
//! yet removed the batch object); `_changes`, the state MERGE and `_current` de-duplicate on
//! (`cdc_shard`, `cdc_seq`) as they do for Lambda retries, so each change counts once whatever
//! the compactor's progress.

use super::names::{
    external_table_name, hive_ident, json_path, literal, qualified, table_name, trino_ident,
    trino_type,
};
use super::table::{lineage_hive, partition_cols};
use super::DdlOptions;
use crate::config::{Format, Objects};
use crate::lake::keys::BATCHES;
use crate::lake::lineage::{batch, LINEAGE};
use crate::schema::registry::Registered;
use crate::schema::{ColumnType, TableSchema};

/// The Athena table over `_batches/` (one per lake; no source table can take this name, since
/// theirs all contain `__`).
pub const BATCHES_TABLE: &str = "cdc_batches";

/// `CREATE EXTERNAL TABLE cdc_batches` over `_batches/` (Parquet, partitioned by the batch's
/// arrival hour with partition projection), or `None` when the lake writes per-table objects.
pub fn create_batches_table(o: &DdlOptions) -> Option<String> {
    if o.layout.objects != Objects::Batch {
        return None;
    }
    let mut cols: Vec<String> = batch::LEAD
        .iter()
        .map(|c| format!("  {} string", hive_ident(c)))
        .collect();
    cols.extend(
        lineage_hive()
            .into_iter()
            .map(|(n, t)| format!("  {} {t}", hive_ident(n))),
    );
    let loc = format!("{}/{BATCHES}", o.location.trim_end_matches('/'));
    let props = [
        ("projection.enabled", "true".to_string()),
        ("projection.dt.type", "date".into()),
        ("projection.dt.format", "yyyy-MM-dd".into()),
        ("projection.dt.range", format!("{},NOW", o.since)),
        ("projection.dt.interval", "1".into()),
        ("projection.dt.interval.unit", "DAYS".into()),
        ("projection.hr.type", "integer".into()),
        ("projection.hr.range", "0,23".into()),
        ("projection.hr.digits", "2".into()),
        (
            "storage.location.template",
            format!("{loc}dt=${{dt}}/hr=${{hr}}/"),
        ),
        (
            "parquet.compression",
            o.layout.compression.as_str().to_ascii_uppercase(),
        ),
    ];
    let props: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("  {}={}", literal(k), literal(v)))
        .collect();
    Some(format!(
        "-- Every table's changes not yet compacted, one object per Lambda batch (objects = batch)\n\
         CREATE EXTERNAL TABLE IF NOT EXISTS {}.{} (\n{}\n)\n\
         PARTITIONED BY (`dt` string, `hr` string)\n\
         STORED AS PARQUET\n\
         LOCATION {}\n\
         TBLPROPERTIES (\n{}\n)",
        hive_ident(&o.database),
        hive_ident(BATCHES_TABLE),
        cols.join(",\n"),
        literal(&loc),
        props.join(",\n")
    ))
}

/// One column's value from a batch row's `cdc_values`, typed as the compacted table's column:
/// the JSON Lines writer's text cast to the registered type (exact decimal digits, six-digit
/// timestamps, NaN and infinities as strings), binary decoded from base64 (kept as base64 text
/// in a JSON Lines lake, whose table declares it `string`).
pub(crate) fn batch_value(col: &str, ty: ColumnType, format: Format) -> String {
    let text = format!(
        "json_extract_scalar({}, {})",
        trino_ident(batch::VALUES),
        literal(&json_path(col))
    );
    match (ty, format) {
        (ColumnType::String, _) | (ColumnType::Binary, Format::JsonLines) => text,
        (ColumnType::Binary, Format::Parquet) => format!("from_base64({text})"),
        _ => format!("CAST({text} AS {})", trino_type(ty)),
    }
}

/// The view `<table>` of a batch lake: every stored copy of every change of the table, from its
/// compacted objects and from the batch objects not yet compacted, with the columns (and
/// partition columns) of the per-table external table. `None` when the lake writes per-table
/// objects (then `<table>` is the external table itself).
pub fn source_view(d: &Registered, s: &TableSchema, o: &DdlOptions) -> Option<String> {
    if o.layout.objects != Objects::Batch {
        return None;
    }
    let names: Vec<String> = s
        .columns
        .iter()
        .map(|c| trino_ident(&c.name))
        .chain(LINEAGE.iter().map(|(n, _)| trino_ident(n)))
        .chain(partition_cols(o).into_iter().map(trino_ident))
        .collect();
    let from_batches: Vec<String> = s
        .columns
        .iter()
        .map(|c| {
            format!(
                "{} AS {}",
                batch_value(&c.name, c.ty, o.layout.format),
                trino_ident(&c.name)
            )
        })
        .chain(LINEAGE.iter().map(|(n, _)| trino_ident(n)))
        .chain(partition_cols(o).into_iter().map(|p| {
            let from = if p == "dt" { batch::DT } else { batch::HR };
            format!("{} AS {}", trino_ident(from), trino_ident(p))
        }))
        .collect();
    Some(format!(
        "CREATE OR REPLACE VIEW {view} AS\n\
         -- Compacted: the per-table objects the compactor wrote.\n\
         SELECT {names}\n\
         FROM {compacted}\n\
         UNION ALL\n\
         -- Not yet compacted (or compacted, not yet removed: the views above count each change once).\n\
         SELECT {from_batches}\n\
         FROM {batches}\n\
         WHERE {schema_col} = {schema} AND {table_col} = {table}",
        view = qualified(o, &table_name(&d.schema, &d.table)),
        names = names.join(", "),
        compacted = qualified(o, &external_table_name(&d.schema, &d.table, o)),
        from_batches = from_batches.join(", "),
        batches = qualified(o, BATCHES_TABLE),
        schema_col = trino_ident(batch::SCHEMA),
        table_col = trino_ident(batch::TABLE),
        schema = literal(&d.schema),
        table = literal(&d.table),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Layout;

    fn opts(objects: Objects) -> DdlOptions {
        DdlOptions {
            database: "db".into(),
            location: "s3://b/p/".into(),
            layout: Layout {
                objects,
                ..Layout::default()
            },
            since: "2025-01-01".into(),
        }
    }

    #[test]
    fn only_a_batch_lake_has_the_batches_table_and_source_views() {
        let d = Registered::from_json(
            br#"{"schema":"public","table":"t","version":1,"columns":[
            {"name":"id","type":"int","nullable":false,"source":"table-def"},
            {"name":"blob","type":"binary","nullable":true,"source":"table-def"},
            {"name":"at","type":"timestamp","nullable":true,"source":"table-def"}]}"#,
        )
        .unwrap();
        let s = d.to_schema().unwrap();
        let table = opts(Objects::Table);
        assert!(create_batches_table(&table).is_none());
        assert!(source_view(&d, &s, &table).is_none());
        assert_eq!(external_table_name("public", "t", &table), "public__t");

        let o = opts(Objects::Batch);
        assert_eq!(
            external_table_name("public", "t", &o),
            "public__t_compacted"
        );
        let ddl = create_batches_table(&o).unwrap();
        assert!(ddl.contains("LOCATION 's3://b/p/_batches/'"));
        assert!(ddl.contains("'storage.location.template'='s3://b/p/_batches/dt=${dt}/hr=${hr}/'"));
        let v = source_view(&d, &s, &o).unwrap();
        assert!(v.contains("FROM \"db\".\"public__t_compacted\""));
        assert!(
            v.contains("CAST(json_extract_scalar(\"cdc_values\", '$.id') AS integer) AS \"id\"")
        );
        assert!(
            v.contains("from_base64(json_extract_scalar(\"cdc_values\", '$.blob')) AS \"blob\"")
        );
        assert!(v.contains("WHERE \"cdc_schema\" = 'public' AND \"cdc_table\" = 't'"));
        assert!(v.contains("\"cdc_dt\" AS \"dt\""));
    }
}
