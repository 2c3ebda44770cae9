//! Lineage columns read back from a data object, for the readers of the lake that need a few
//! of them and not the rows (`status --rows`: operation and commit time; redrive's lake index:
//! shard and sequence number). Parquet is read with only those columns projected; JSON Lines
//! (plain or gzipped) line by line. The one reader of lineage from lake files.

use super::jsonl::read_value;
use crate::decode::value::{decimal_text, Cell};
use crate::lake::lineage::{
    SourceOrder, BEFORE, COMMIT_TS, DMS_TS, LINEAGE, OP, SEQ, SHARD, STREAM_POSITION, TXN_ID,
    TXN_RECORD_ID,
};
use crate::model::change::TableId;
use crate::model::types::ColumnType;
use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use serde_json::value::RawValue;

/// The lineage of one row, as far as it was asked for and present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    /// `cdc_op`: L, I, U or D.
    pub op: Option<String>,
    /// `cdc_commit_ts`, in microseconds since the epoch.
    pub commit_us: Option<i64>,
    /// `cdc_shard`.
    pub shard: Option<String>,
    /// `cdc_seq`, as written (zero-padded).
    pub seq: Option<String>,
}

/// Which lineage columns to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// `cdc_op` and `cdc_commit_ts`.
    OpAndCommit,
    /// `cdc_shard` and `cdc_seq` (control-log lines name them `shard` and `seq`).
    Identity,
}

impl Wanted {
    fn columns(self) -> [&'static str; 2] {
        match self {
            Wanted::OpAndCommit => [OP, COMMIT_TS],
            Wanted::Identity => [SHARD, SEQ],
        }
    }
}

/// The lineage of every row of the object `key` (its extension says the format).
pub fn lineage(key: &str, bytes: Vec<u8>, wanted: Wanted) -> Result<Vec<Lineage>, String> {
    if key.ends_with(".parquet") {
        parquet_lineage(bytes, wanted)
    } else if key.ends_with(".jsonl") || key.ends_with(".jsonl.gz") {
        let text = jsonl_text(key, bytes)?;
        jsonl_lineage(&text, wanted)
    } else {
        Err(format!("{key} is neither Parquet nor JSON Lines"))
    }
}

/// The text of a JSON Lines object, gunzipped when its key says `.gz`.
fn jsonl_text(key: &str, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if !key.ends_with(".gz") {
        return Ok(bytes);
    }
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn parquet_lineage(bytes: Vec<u8>, wanted: Wanted) -> Result<Vec<Lineage>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| e.to_string())?;
    let names = wanted.columns();
    let schema = builder.parquet_schema();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| names.contains(&schema.column(i).name()))
        .collect();
    let mask = ProjectionMask::leaves(schema, leaves);
    let mut out = Vec::new();
    for batch in builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?
    {
        let batch = batch.map_err(|e| e.to_string())?;
        let text = |name: &str| -> Result<arrow::array::StringArray, String> {
            batch
                .column_by_name(name)
                .ok_or_else(|| format!("no {name} column"))?
                .as_string_opt::<i32>()
                .cloned()
                .ok_or_else(|| format!("{name} is not a string column"))
        };
        let value =
            |a: &arrow::array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        match wanted {
            Wanted::OpAndCommit => {
                let op = text(OP)?;
                let commit = batch
                    .column_by_name(COMMIT_TS)
                    .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>().cloned());
                for i in 0..batch.num_rows() {
                    out.push(Lineage {
                        op: value(&op, i),
                        commit_us: commit
                            .as_ref()
                            .and_then(|c| (!c.is_null(i)).then(|| c.value(i))),
                        ..Lineage::default()
                    });
                }
            }
            Wanted::Identity => {
                let (shard, seq) = (text(SHARD)?, text(SEQ)?);
                for i in 0..batch.num_rows() {
                    out.push(Lineage {
                        shard: value(&shard, i),
                        seq: value(&seq, i),
                        ..Lineage::default()
                    });
                }
            }
        }
    }
    Ok(out)
}

fn jsonl_lineage(text: &[u8], wanted: Wanted) -> Result<Vec<Lineage>, String> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| v.get(*n))
                .and_then(|x| x.as_str())
                .map(str::to_string)
        };
        out.push(match wanted {
            Wanted::OpAndCommit => Lineage {
                op: get(&[OP]),
                commit_us: get(&[COMMIT_TS])
                    .and_then(|t| crate::model::time::parse_timestamp(&t))
                    .map(|m| m.micros),
                ..Lineage::default()
            },
            Wanted::Identity => Lineage {
                shard: get(&[SHARD, "shard"]),
                seq: get(&[SEQ, "seq"]),
                ..Lineage::default()
            },
        });
    }
    Ok(out)
}

/// A value read back from a data object, in one form whatever the file type (Parquet, JSON
/// Lines, a batch object's `cdc_values`) and whichever registered type an older file was
/// written with (an `int` file read under a `bigint` registration compares equal). Doubles are
/// kept as bits with one NaN, so equality is exact and NaN equals NaN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer column.
    Int(i64),
    /// A double, as bits (see [`Value::float`]).
    Float(u64),
    /// A decimal's exact text at its scale (`decode::value::decimal_text`).
    Decimal(String),
    /// Days since the epoch.
    Date(i32),
    /// µs since the epoch, UTC.
    Timestamp(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Binary(Vec<u8>),
}

impl Value {
    /// A double: every NaN is the same value.
    pub fn float(f: f64) -> Value {
        Value::Float(if f.is_nan() {
            f64::NAN.to_bits()
        } else {
            f.to_bits()
        })
    }

    /// A converted cell of a column of type `ty`.
    pub fn from_cell(cell: &Cell<'_>, ty: ColumnType) -> Value {
        match cell {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::I32(i) => Value::Int(*i as i64),
            Cell::I64(i) => Value::Int(*i),
            Cell::F64(f) => Value::float(*f),
            Cell::Dec(d) => {
                let scale = match ty {
                    ColumnType::Decimal { scale, .. } => scale,
                    _ => 0,
                };
                Value::Decimal(decimal_text(*d, scale))
            }
            Cell::Date(d) => Value::Date(*d),
            Cell::Ts(t) => Value::Timestamp(*t),
            Cell::Str(s) => Value::Text(s.to_string()),
            Cell::Bin(b) => Value::Binary(b.clone()),
        }
    }

    /// Row `i` of an Arrow array of any type the lake writes.
    pub fn from_arrow(a: &dyn Array, i: usize) -> Result<Value, String> {
        if a.is_null(i) {
            return Ok(Value::Null);
        }
        Ok(match a.data_type() {
            DataType::Boolean => Value::Bool(a.as_boolean().value(i)),
            DataType::Int32 => Value::Int(a.as_primitive::<Int32Type>().value(i) as i64),
            DataType::Int64 => Value::Int(a.as_primitive::<Int64Type>().value(i)),
            DataType::Float64 => Value::float(a.as_primitive::<Float64Type>().value(i)),
            DataType::Decimal128(_, s) => Value::Decimal(decimal_text(
                a.as_primitive::<Decimal128Type>().value(i),
                (*s).max(0) as u8,
            )),
            DataType::Date32 => Value::Date(a.as_primitive::<Date32Type>().value(i)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Value::Timestamp(a.as_primitive::<TimestampMicrosecondType>().value(i))
            }
            DataType::Utf8 => Value::Text(a.as_string::<i32>().value(i).to_string()),
            DataType::Binary => Value::Binary(a.as_binary::<i32>().value(i).to_vec()),
            other => {
                return Err(format!(
                    "a column of type {other} is not one the lake writes"
                ))
            }
        })
    }

    /// The value as JSON for reports: numbers for integers, text for the rest.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => json!(b),
            Value::Int(i) => json!(i),
            Value::Float(b) => {
                let f = f64::from_bits(*b);
                if f.is_finite() {
                    json!(f)
                } else {
                    json!(f.to_string())
                }
            }
            Value::Decimal(d) => json!(d),
            Value::Date(d) => json!(crate::model::time::format_date(*d as i64)),
            Value::Timestamp(t) => json!(crate::model::time::format_timestamp(*t)),
            Value::Text(s) => json!(s),
            Value::Binary(b) => json!(format!(
                "0x{}",
                b.iter().map(|x| format!("{x:02X}")).collect::<String>()
            )),
        }
    }
}

/// One row of a data object as a version of its source row: the registered columns' values
/// (in the order asked for; NULL where the object has no such column), the operation, where it
/// stands in the source order, and the before-image as written.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    /// Values of the columns asked for.
    pub values: Vec<Value>,
    /// `cdc_op`.
    pub op: String,
    /// `cdc_shard`: with `order.seq`, the change's identity (copies share it).
    pub shard: String,
    /// The change's place in the source order.
    pub order: SourceOrder,
    /// `cdc_before`, the JSON text of the before-image, if any.
    pub before: Option<String>,
}

/// Lineage of one row, by name, as read.
fn version_row(
    values: Vec<Value>,
    lin: impl Fn(&str) -> Result<Value, String>,
) -> Result<VersionRow, String> {
    let text = |n: &str| -> Result<Option<String>, String> {
        Ok(match lin(n)? {
            Value::Text(s) => Some(s),
            _ => None,
        })
    };
    let int = |n: &str| -> Result<Option<i64>, String> {
        Ok(match lin(n)? {
            Value::Int(i) => Some(i),
            _ => None,
        })
    };
    let ts = |n: &str| -> Result<Option<i64>, String> {
        Ok(match lin(n)? {
            Value::Timestamp(t) => Some(t),
            _ => None,
        })
    };
    Ok(VersionRow {
        values,
        op: text(OP)?.ok_or("a row without cdc_op")?,
        shard: text(SHARD)?.unwrap_or_default(),
        order: SourceOrder {
            time_us: ts(COMMIT_TS)?.or(ts(DMS_TS)?).unwrap_or(i64::MIN),
            txn_id: int(TXN_ID)?,
            txn_record_id: int(TXN_RECORD_ID)?,
            stream_position: text(STREAM_POSITION)?,
            seq: text(SEQ)?.ok_or("a row without cdc_seq")?,
        },
        before: text(BEFORE)?,
    })
}

/// The rows of a per-table data object (`key`'s extension says the format) as versions, with
/// the values of `columns` (lake name and registered type).
pub fn table_rows(
    key: &str,
    bytes: Vec<u8>,
    columns: &[(String, ColumnType)],
) -> Result<Vec<VersionRow>, String> {
    if key.ends_with(".parquet") {
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .map_err(|e| e.to_string())?
            .build()
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            let cols: Vec<Option<&ArrayRef>> = columns
                .iter()
                .map(|(n, _)| batch.column_by_name(n))
                .collect();
            for i in 0..batch.num_rows() {
                let values = cols
                    .iter()
                    .map(|c| c.map_or(Ok(Value::Null), |a| Value::from_arrow(a.as_ref(), i)))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(version_row(values, |n| {
                    batch
                        .column_by_name(n)
                        .map_or(Ok(Value::Null), |a| Value::from_arrow(a.as_ref(), i))
                })?);
            }
        }
        Ok(out)
    } else if key.ends_with(".jsonl") || key.ends_with(".jsonl.gz") {
        let text = jsonl_text(key, bytes)?;
        let mut out = Vec::new();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = std::str::from_utf8(line).map_err(|e| e.to_string())?;
            out.push(json_row(line, columns, None)?);
        }
        Ok(out)
    } else {
        Err(format!("{key} is neither Parquet nor JSON Lines"))
    }
}

/// A lineage value by column name.
type LineageOf<'a> = dyn Fn(&str) -> Result<Value, String> + 'a;

/// A row whose values are one JSON object in the JSON Lines form; its lineage from `lin`, or
/// from the same object when `lin` is `None` (a JSON Lines data object's line).
fn json_row(
    values_json: &str,
    columns: &[(String, ColumnType)],
    lin: Option<&LineageOf<'_>>,
) -> Result<VersionRow, String> {
    let raw: &RawValue = serde_json::from_str(values_json).map_err(|e| e.to_string())?;
    let fields = crate::decode::dms::row_fields(raw)?;
    let value = |n: &str, ty: ColumnType| match fields.iter().find(|(k, _)| k == n) {
        Some((_, raw)) => read_value(raw, ty)
            .map(|c| Value::from_cell(&c, ty))
            .map_err(|e| format!("{n}: {e}")),
        None => Ok(Value::Null),
    };
    let values = columns
        .iter()
        .map(|(n, ty)| value(n, *ty))
        .collect::<Result<Vec<_>, _>>()?;
    match lin {
        Some(lin) => version_row(values, lin),
        None => version_row(values, |n| {
            let ty = LINEAGE
                .iter()
                .find(|(l, _)| *l == n)
                .map_or(ColumnType::String, |(_, t)| *t);
            value(n, ty)
        }),
    }
}

/// The rows of one table in a batch object (`objects = batch`) as versions, with the values of
/// `columns`.
pub fn batch_table_rows(
    bytes: Vec<u8>,
    table: &TableId,
    columns: &[(String, ColumnType)],
) -> Result<Vec<VersionRow>, String> {
    let rows = super::batch::read_rows(bytes)?;
    let mut out = Vec::new();
    for r in 0..rows.values.len() {
        if rows.schema.value(r) != table.schema || rows.table.value(r) != table.table {
            continue;
        }
        let lin = |n: &str| {
            rows.lineage
                .column_by_name(n)
                .map_or(Ok(Value::Null), |a| Value::from_arrow(a.as_ref(), r))
        };
        out.push(json_row(rows.values.value(r), columns, Some(&lin))?);
    }
    Ok(out)
}
