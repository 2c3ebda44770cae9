//! Encoders: one Arrow RecordBatch in, the bytes of one object out.

pub mod jsonl;
pub mod parquet;

use crate::config::{Config, Format};
use arrow::record_batch::RecordBatch;

/// A batch could not be encoded (a bug or resource problem, never a property of the input).
#[derive(Debug, thiserror::Error)]
#[error("encoding {format} failed: {message}")]
pub struct EncodeError {
    pub format: &'static str,
    pub message: String,
}

/// Encodes a batch in the configured format and compression.
pub fn encode(batch: &RecordBatch, cfg: &Config) -> Result<Vec<u8>, EncodeError> {
    match cfg.format {
        Format::Parquet => parquet::encode(batch, cfg.compression),
        Format::JsonLines => jsonl::encode(batch, cfg.compression),
    }
}
