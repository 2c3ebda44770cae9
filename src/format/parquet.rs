//! Parquet encoding with the types Athena reads (INT64 µs UTC timestamps, signed integers).
//!
//! A batch writes one file per (table, partition), which is about 1,000 files of about 5 rows
//! for an event spread over 500 tables. So everything that depends only on the table's schema
//! (the Parquet schema, the embedded Arrow schema, the writer properties) is built once per
//! table in [`ParquetTable`] and reused by each of its files; the bytes are the same as
//! building them per file.

use super::EncodeError;
use crate::config::Compression;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{add_encoded_arrow_schema_to_metadata, ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression as PqCompression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::{ColumnPath, SchemaDescriptor};
use std::sync::OnceLock;

/// Footer metadata that tells Spark 3 (Glue 4 and 5, EMR) that dates and timestamps are in the
/// proleptic Gregorian calendar, as every value here is. Without it Spark 3 refuses files with
/// dates before 1582-10-15 or timestamps before 1900 (PostgreSQL sentinels such as 0001-01-01),
/// because it cannot tell whether a legacy hybrid-calendar writer made them. Spark's rule
/// (DataSourceUtils.datetimeRebaseSpec): a file whose `org.apache.spark.version` is at least
/// "3.0.0" and that has no `org.apache.spark.legacyDateTime` key is read without rebasing.
pub const SPARK_CALENDAR_KEY: (&str, &str) = ("org.apache.spark.version", "3.0.0");

/// Files with fewer rows are written without dictionary encoding.
const DICTIONARY_MIN_ROWS: usize = 64;

fn err(e: impl std::fmt::Display) -> EncodeError {
    EncodeError {
        format: "parquet",
        message: e.to_string(),
    }
}

/// The writer properties of every file; the row group limit is never reached, so each file is
/// one row group.
pub(super) fn properties(compression: Compression, dictionary: bool) -> WriterProperties {
    let codec = match compression {
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::Zstd => PqCompression::ZSTD(ZstdLevel::default()),
        Compression::Gzip => PqCompression::GZIP(GzipLevel::default()),
        Compression::None => PqCompression::UNCOMPRESSED,
    };
    WriterProperties::builder()
        .set_compression(codec)
        // Version 1 data pages: the widest reader support (older Athena engine versions).
        .set_writer_version(WriterVersion::PARQUET_1_0)
        .set_max_row_group_row_count(Some(usize::MAX))
        // A dictionary pays off over many rows; for a handful it is a hash table built per
        // column and thrown away (the 500-table mix writes about 1,000 files of ~5 rows).
        .set_dictionary_enabled(dictionary)
        // Min/max per column chunk, which Athena uses to skip row groups, but no page index:
        // each file is one row group of a few pages, which the page index would only repeat.
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(concat!("cdc-sink ", env!("CARGO_PKG_VERSION")).to_string())
        .set_key_value_metadata(Some(vec![KeyValue::new(
            SPARK_CALENDAR_KEY.0.to_string(),
            SPARK_CALENDAR_KEY.1.to_string(),
        )]))
        // (Nearly) unique per row: a dictionary would be built, hashed and thrown away. The
        // three timestamps and ids below cost 4% of the hot path with one and are no smaller.
        .set_column_dictionary_enabled(ColumnPath::from("cdc_seq"), false)
        .set_column_dictionary_enabled(ColumnPath::from("cdc_stream_position"), false)
        .set_column_dictionary_enabled(ColumnPath::from("cdc_before"), false)
        .set_column_dictionary_enabled(ColumnPath::from("cdc_dms_ts"), false)
        .set_column_dictionary_enabled(ColumnPath::from("cdc_txn_record_id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("cdc_arrival_ts"), false)
        .build()
}

/// What every Parquet file of one table shares: its Arrow schema, the Parquet schema converted
/// from it, and the writer properties (with the Arrow schema already embedded), built once.
pub struct ParquetTable {
    schema: SchemaRef,
    parquet_schema: SchemaDescriptor,
    compression: Compression,
    /// Properties without and with dictionaries, built on first use.
    props: [OnceLock<WriterProperties>; 2],
}

impl ParquetTable {
    /// Prepares the files of a table whose batches all have `schema`.
    pub fn new(schema: SchemaRef, compression: Compression) -> Result<ParquetTable, EncodeError> {
        let parquet_schema = ArrowSchemaConverter::new().convert(&schema).map_err(err)?;
        Ok(ParquetTable {
            schema,
            parquet_schema,
            compression,
            props: [OnceLock::new(), OnceLock::new()],
        })
    }

    fn props(&self, dictionary: bool) -> &WriterProperties {
        self.props[usize::from(dictionary)].get_or_init(|| {
            let mut p = properties(self.compression, dictionary);
            add_encoded_arrow_schema_to_metadata(&self.schema, &mut p);
            p
        })
    }

    /// Encodes one batch (of this table's schema) as one Parquet file with one row group.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<u8>, EncodeError> {
        let same = std::sync::Arc::ptr_eq(batch.schema_ref(), &self.schema)
            || **batch.schema_ref() == *self.schema;
        if !same {
            return Err(err("the batch's schema is not its table's"));
        }
        let props = self.props(batch.num_rows() >= DICTIONARY_MIN_ROWS).clone();
        let options = ArrowWriterOptions::new()
            .with_properties(props)
            // Already in the properties' key-value metadata, encoded once.
            .with_skip_arrow_metadata(true)
            .with_parquet_schema(self.parquet_schema.clone());
        let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
        let mut w = ArrowWriter::try_new_with_options(&mut out, self.schema.clone(), options)
            .map_err(err)?;
        w.write(batch).map_err(err)?;
        w.close().map_err(err)?;
        Ok(out)
    }
}
