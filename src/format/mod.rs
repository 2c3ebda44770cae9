//! Encoders: one Arrow RecordBatch in, the bytes of one object out.

pub mod batch;
pub mod jsonl;
pub mod parquet;
pub mod read;

use crate::config::{Compression, Config, Format};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// A batch could not be encoded (a bug or resource problem, never a property of the input).
#[derive(Debug, thiserror::Error)]
#[error("encoding {format} failed: {message}")]
pub struct EncodeError {
    /// `parquet` or `jsonl`.
    pub format: &'static str,
    /// The encoder's error.
    pub message: String,
}

/// The encoder of one table's objects: what depends only on the table's schema is prepared
/// once (see [`parquet::ParquetTable`]) and shared by its objects, across threads.
pub enum TableEncoder {
    /// Parquet: what every file of the table shares, built once.
    Parquet(Box<parquet::ParquetTable>),
    /// JSON Lines, with this compression (`gzip` or none).
    JsonLines(Compression),
}

impl TableEncoder {
    /// Prepares the encoding of batches of `schema` in the configured format.
    pub fn new(schema: SchemaRef, cfg: &Config) -> Result<TableEncoder, EncodeError> {
        Ok(match cfg.layout.format {
            Format::Parquet => TableEncoder::Parquet(Box::new(parquet::ParquetTable::new(
                schema,
                cfg.layout.compression,
            )?)),
            Format::JsonLines => TableEncoder::JsonLines(cfg.layout.compression),
        })
    }

    /// Encodes one batch of the table's schema into the bytes of one object.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<u8>, EncodeError> {
        match self {
            TableEncoder::Parquet(t) => t.encode(batch),
            TableEncoder::JsonLines(c) => jsonl::encode(batch, *c),
        }
    }
}
