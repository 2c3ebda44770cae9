//! JSON Lines encoding (optionally gzip) from the same RecordBatch as Parquet.
//!
//! Values are written in forms every reader types the same way (README, "JSON Lines"):
//! - timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, always 26 characters: the form Hive's
//!   JSON SerDe (Athena) parses without a pattern and with all six digits (`java.sql.Timestamp`),
//!   and that DuckDB's `read_json` detects as a timestamp whatever the fraction;
//! - binary as standard base64 (with padding), which Spark's JSON reader and Hive's newer JSON
//!   SerDe decode for `binary` columns; the DDL declares it `string`, decoded with `from_base64`;
//! - decimals as strings of their exact digits (`"12345678901234.5678"`): Hive, Spark and
//!   DuckDB read a string into a decimal column exactly, where a JSON number goes through a
//!   double in some of them;
//! - NaN and ±Infinity as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON has no such
//!   numbers), which Hive, Spark and DuckDB read into a double column; finite doubles as numbers.

use super::EncodeError;
use crate::config::Compression;
use crate::decode::value::{convert, Cell, Json};
use crate::model::types::ColumnType;
use arrow::array::{Array, AsArray, BinaryArray, Decimal128Array, Float64Array};
use arrow::datatypes::{DataType, FieldRef};
use arrow::error::ArrowError;
use arrow::json::writer::{
    Encoder, EncoderFactory, EncoderOptions, LineDelimited, NullableEncoder, WriterBuilder,
};
use arrow::record_batch::RecordBatch;
use base64::Engine;
use std::io::Write;
use std::sync::Arc;

/// The chrono format of every timestamp (UTC, six fraction digits, no zone suffix).
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

fn err(e: impl std::fmt::Display) -> EncodeError {
    EncodeError {
        format: "jsonl",
        message: e.to_string(),
    }
}

/// Reads one value written in the JSON Lines form back into `ty` (the inverse of [`encode`]
/// for one cell): binary is base64 text, every other type reads as the decoder reads DMS's
/// rendering. Batch objects' `cdc_values` use the same form.
pub fn read_value(raw: &serde_json::value::RawValue, ty: ColumnType) -> Result<Cell<'_>, String> {
    let v = Json::from_raw(raw)?;
    match (ty, v) {
        (_, Json::Null) => Ok(Cell::Null),
        (ColumnType::Binary, Json::Str(s)) => base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Cell::Bin)
            .map_err(|e| format!("binary is not base64 text: {e}")),
        (ColumnType::Binary, _) => Err("binary is not base64 text".into()),
        (_, v) => convert(v, ty).map(|(c, _)| c),
    }
}

/// Encodes one batch as JSON Lines: one object per row, NULL columns omitted.
pub fn encode(batch: &RecordBatch, compression: Compression) -> Result<Vec<u8>, EncodeError> {
    let mut plain = Vec::with_capacity(batch.get_array_memory_size());
    {
        let mut w = WriterBuilder::new()
            .with_timestamp_tz_format(TIMESTAMP_FORMAT.to_string())
            .with_timestamp_format(TIMESTAMP_FORMAT.to_string())
            .with_encoder_factory(Arc::new(PortableValues))
            .build::<_, LineDelimited>(&mut plain);
        w.write(batch).map_err(err)?;
        w.finish().map_err(err)?;
    }
    match compression {
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(plain.len() / 4),
                flate2::Compression::default(),
            );
            gz.write_all(&plain).map_err(err)?;
            gz.finish().map_err(err)
        }
        _ => Ok(plain),
    }
}

/// Binary as base64 and non-finite doubles as strings (see the module docs); every other type
/// keeps arrow-json's encoder.
#[derive(Debug)]
struct PortableValues;

impl EncoderFactory for PortableValues {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> Result<Option<NullableEncoder<'a>>, ArrowError> {
        Ok(match array.data_type() {
            DataType::Binary => {
                let a: &BinaryArray = array.as_binary();
                Some(NullableEncoder::new(
                    Box::new(Base64Encoder(a)),
                    a.nulls().cloned(),
                ))
            }
            DataType::Decimal128(_, scale) => {
                let a: &Decimal128Array = array.as_primitive();
                Some(NullableEncoder::new(
                    Box::new(DecimalEncoder(a, (*scale).max(0) as u8)),
                    a.nulls().cloned(),
                ))
            }
            DataType::Float64 => {
                let a: &Float64Array = array.as_primitive();
                Some(NullableEncoder::new(
                    Box::new(DoubleEncoder(a)),
                    a.nulls().cloned(),
                ))
            }
            _ => None,
        })
    }
}

struct Base64Encoder<'a>(&'a BinaryArray);

impl Encoder for Base64Encoder<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.push(b'"');
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.0.value(idx));
        out.extend_from_slice(b64.as_bytes());
        out.push(b'"');
    }
}

struct DecimalEncoder<'a>(&'a Decimal128Array, u8);

impl Encoder for DecimalEncoder<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(
            crate::decode::value::decimal_text(self.0.value(idx), self.1).as_bytes(),
        );
        out.push(b'"');
    }
}

struct DoubleEncoder<'a>(&'a Float64Array);

impl Encoder for DoubleEncoder<'_> {
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let v = self.0.value(idx);
        if v.is_nan() {
            out.extend_from_slice(b"\"NaN\"");
        } else if v == f64::INFINITY {
            out.extend_from_slice(b"\"Infinity\"");
        } else if v == f64::NEG_INFINITY {
            out.extend_from_slice(b"\"-Infinity\"");
        } else {
            // serde_json writes the shortest text that reads back as the same double.
            let _ = serde_json::to_writer(&mut *out, &v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::types::UTC;
    use arrow::array::{ArrayRef, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn values_every_reader_types_the_same_way() {
        let ts = TimestampMicrosecondArray::from(vec![
            Some(1_762_157_702_000_000),
            Some(1_762_157_702_120_000),
            Some(-62_135_596_800_000_000),
        ])
        .with_timezone(UTC);
        let bin = BinaryArray::from_opt_vec(vec![Some(&[0xde, 0xad, 0xbe, 0xef]), Some(&[]), None]);
        let dbl = Float64Array::from(vec![f64::NAN, f64::NEG_INFINITY, 0.1]);
        let dec = Decimal128Array::from(vec![Some(123_456_789_012_345_678), Some(-1), None])
            .with_precision_and_scale(20, 4)
            .unwrap();
        let cols: Vec<ArrayRef> = vec![Arc::new(ts), Arc::new(bin), Arc::new(dbl), Arc::new(dec)];
        let schema = Schema::new(vec![
            Field::new("t", cols[0].data_type().clone(), true),
            Field::new("b", DataType::Binary, true),
            Field::new("d", DataType::Float64, true),
            Field::new("n", DataType::Decimal128(20, 4), true),
        ]);
        let batch = RecordBatch::try_new(Arc::new(schema), cols).unwrap();
        let text = String::from_utf8(encode(&batch, Compression::None).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                r#"{"t":"2025-11-03 08:15:02.000000","b":"3q2+7w==","d":"NaN","n":"12345678901234.5678"}"#,
                r#"{"t":"2025-11-03 08:15:02.120000","b":"","d":"-Infinity","n":"-0.0001"}"#,
                r#"{"t":"0001-01-01 00:00:00.000000","d":0.1}"#,
            ]
        );
    }
}
