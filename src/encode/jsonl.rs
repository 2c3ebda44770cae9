//! JSON Lines encoding (optionally gzip) from the same RecordBatch as Parquet.

use super::EncodeError;
use crate::config::Compression;
use arrow::json::LineDelimitedWriter;
use arrow::record_batch::RecordBatch;
use std::io::Write;

fn err(e: impl std::fmt::Display) -> EncodeError {
    EncodeError {
        format: "jsonl",
        message: e.to_string(),
    }
}

/// Encodes one batch as JSON Lines: one object per row, NULL columns omitted.
pub fn encode(batch: &RecordBatch, compression: Compression) -> Result<Vec<u8>, EncodeError> {
    let mut plain = Vec::with_capacity(batch.get_array_memory_size());
    {
        let mut w = LineDelimitedWriter::new(&mut plain);
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
