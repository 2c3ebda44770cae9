//! The batch object (`objects = batch`): one Parquet file per Lambda batch holding the rows of
//! every table the batch touched, so a batch costs one PUT whatever its table count.
//!
//! Tables have different columns, so the file has one fixed schema: which table and partition
//! a row belongs to, its values as one JSON object ([`crate::lake::lineage::batch`]), and the
//! same typed lineage columns as every data object. Values are the JSON Lines writer's text
//! ([`super::jsonl`]): exact decimal digits, six-digit timestamps, base64 binary, NaN as a
//! string, so the views' casts and the compactor ([`read_rows`]) give back the registered type
//! exactly.
//!
//! Rows are ordered by (schema, table, partition), in record order within each, and the table
//! columns carry page statistics (a column index), so a reader of one table skips the pages of
//! the others.

use super::{jsonl, EncodeError};
use crate::config::Compression;
use crate::lake::lineage::batch::{DT, HR, SCHEMA, TABLE, VALUES};
use arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::EnabledStatistics;
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

/// Rows per data page: small enough that a table's rows span few pages another table's reader
/// must decode, large enough that page headers stay a small share of the file.
const PAGE_ROWS: usize = 512;

fn err(e: impl std::fmt::Display) -> EncodeError {
    EncodeError {
        format: "parquet",
        message: e.to_string(),
    }
}

/// The rows of one table and partition, for [`encode`].
pub struct TableRows<'a> {
    /// The source schema.
    pub schema: &'a str,
    /// The source table.
    pub table: &'a str,
    /// The partition the rows take in the table's folder: `dt` (`YYYY-MM-DD`) and `hr` (`HH`).
    pub dt: Option<String>,
    /// See `dt`.
    pub hr: Option<String>,
    /// The table's columns (the first `values` columns), then the lineage columns.
    pub rows: RecordBatch,
    /// How many leading columns of `rows` are the table's.
    pub values: usize,
}

/// Encodes the parts, in the order given, as one batch object; `None` when there are no rows.
/// Every part must have the same lineage columns.
pub fn encode(
    parts: &[TableRows<'_>],
    compression: Compression,
) -> Result<Option<Vec<u8>>, EncodeError> {
    let Some(first) = parts.first() else {
        return Ok(None);
    };
    let total: usize = parts.iter().map(|p| p.rows.num_rows()).sum();
    let mut schema_b = StringBuilder::with_capacity(total, total * 8);
    let mut table_b = StringBuilder::with_capacity(total, total * 8);
    let mut dt_b = StringBuilder::with_capacity(total, total * 10);
    let mut hr_b = StringBuilder::with_capacity(total, total * 2);
    let mut values_b = StringBuilder::with_capacity(total, total * 128);
    let lineage_fields: Vec<Field> = first.rows.schema().fields()[first.values..]
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut lineage: Vec<Vec<ArrayRef>> =
        vec![Vec::with_capacity(parts.len()); lineage_fields.len()];
    for p in parts {
        let n = p.rows.num_rows();
        if p.rows.num_columns() - p.values != lineage_fields.len() {
            return Err(err("a table's rows lack lineage columns"));
        }
        for _ in 0..n {
            schema_b.append_value(p.schema);
            table_b.append_value(p.table);
            dt_b.append_option(p.dt.as_deref());
            hr_b.append_option(p.hr.as_deref());
        }
        if p.values == 0 {
            (0..n).for_each(|_| values_b.append_value("{}"));
        } else {
            let cols: Vec<usize> = (0..p.values).collect();
            let table_cols = p.rows.project(&cols).map_err(err)?;
            let text = jsonl::encode(&table_cols, Compression::None)?;
            let mut lines = 0;
            for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                values_b.append_value(std::str::from_utf8(line).map_err(err)?);
                lines += 1;
            }
            if lines != n {
                return Err(err(format!("{n} rows gave {lines} JSON lines")));
            }
        }
        for (i, col) in lineage.iter_mut().enumerate() {
            col.push(p.rows.column(p.values + i).clone());
        }
    }
    let mut fields = vec![
        Field::new(SCHEMA, DataType::Utf8, false),
        Field::new(TABLE, DataType::Utf8, false),
        Field::new(DT, DataType::Utf8, true),
        Field::new(HR, DataType::Utf8, true),
        Field::new(VALUES, DataType::Utf8, false),
    ];
    fields.extend(lineage_fields);
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(schema_b.finish()),
        Arc::new(table_b.finish()),
        Arc::new(dt_b.finish()),
        Arc::new(hr_b.finish()),
        Arc::new(values_b.finish()),
    ];
    for cols in lineage {
        let refs: Vec<&dyn Array> = cols.iter().map(|a| a.as_ref()).collect();
        arrays.push(arrow::compute::concat(&refs).map_err(err)?);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(err)?;
    let page_stats = |b: parquet::file::properties::WriterPropertiesBuilder, c: &str| {
        b.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::Page)
    };
    let mut props = super::parquet::properties(compression, true)
        .into_builder()
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_column_dictionary_enabled(ColumnPath::from(VALUES), false);
    for c in [SCHEMA, TABLE, DT, HR] {
        props = page_stats(props, c);
    }
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props.build())).map_err(err)?;
    w.write(&batch).map_err(err)?;
    w.close().map_err(err)?;
    Ok(Some(out))
}

/// One batch object's rows as written: the table, partition and values columns as text, and
/// the lineage columns as they were (same names and types as in a data object).
pub struct BatchRows {
    /// `cdc_schema`.
    pub schema: StringArray,
    /// `cdc_table`.
    pub table: StringArray,
    /// `cdc_dt`.
    pub dt: StringArray,
    /// `cdc_hr`.
    pub hr: StringArray,
    /// `cdc_values`.
    pub values: StringArray,
    /// The lineage columns, with their fields.
    pub lineage: RecordBatch,
}

/// Reads a batch object back (the compactor's input).
pub fn read_rows(bytes: Vec<u8>) -> Result<BatchRows, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| e.to_string())?;
    let rows = builder.metadata().file_metadata().num_rows().max(1) as usize;
    let reader = builder
        .with_batch_size(rows)
        .build()
        .map_err(|e| e.to_string())?;
    let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let all = arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string())?;
    let text = |name: &str| -> Result<StringArray, String> {
        let col = all
            .column_by_name(name)
            .ok_or_else(|| format!("not a batch object: no column {name}"))?;
        col.as_string_opt::<i32>()
            .cloned()
            .ok_or_else(|| format!("not a batch object: {name} is not text"))
    };
    let lead = 5;
    if all.num_columns() < lead {
        return Err("not a batch object: too few columns".into());
    }
    let lineage_idx: Vec<usize> = (lead..all.num_columns()).collect();
    Ok(BatchRows {
        schema: text(SCHEMA)?,
        table: text(TABLE)?,
        dt: text(DT)?,
        hr: text(HR)?,
        values: text(VALUES)?,
        lineage: all.project(&lineage_idx).map_err(|e| e.to_string())?,
    })
}
