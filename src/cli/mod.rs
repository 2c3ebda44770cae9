//! The CLI's commands, one module each: the flags of a command and the function that runs it.
//! `src/bin/cdc-sink.rs` only parses the command line and dispatches here; the work itself lives
//! in the library modules these call (pipeline, schema, athena, generate, bench).

pub mod athena;
pub mod bench;
pub mod generate;
pub mod recover;
pub mod redrive;
pub mod replay;
pub mod schema;

use crate::change::TableId;
use crate::config::{Compression, Config, Format, PartitionTime, Partitioning};
use crate::partition::normalise_prefix;
use crate::sink::local::LocalDir;
use crate::sink::s3::{S3Settings, S3Sink};
use crate::sink::AnySink;
use clap::Args;
use std::path::PathBuf;

/// Pipeline settings; each flag falls back to the environment variable the Lambda reads.
#[derive(Args)]
pub struct PipelineFlags {
    /// Data object format: parquet or jsonl.
    #[arg(long, env = "CDC_FORMAT", default_value = "parquet")]
    pub format: Format,
    /// Compression: snappy, zstd, gzip or none for Parquet (default snappy); none or gzip for
    /// JSON Lines (default none).
    #[arg(long, env = "CDC_COMPRESSION")]
    pub compression: Option<Compression>,
    /// Time partitions of data objects: day (dt=YYYY-MM-DD), hour (dt=.../hr=HH) or none.
    #[arg(long, env = "CDC_PARTITION", default_value = "day")]
    pub partition: Partitioning,
    /// Time that places a row in a partition: commit (source commit time, else DMS time) or
    /// arrival (Kinesis arrival time).
    #[arg(long, env = "CDC_PARTITION_TIME", default_value = "commit")]
    pub partition_time: PartitionTime,
    /// Top-level key of the before-image in DMS messages (the task's BeforeImageSettings.FieldName).
    #[arg(long, env = "CDC_BEFORE_IMAGE_KEY", default_value = "before-image")]
    pub before_image_key: String,
}

impl PipelineFlags {
    pub fn config(&self) -> Result<Config, String> {
        Config::new(
            self.format,
            self.compression,
            self.partition,
            self.partition_time,
            self.before_image_key.clone(),
        )
        .map_err(|e| e.to_string())
    }
}

/// Resolves `--out` to a sink and a key prefix.
pub async fn open_sink(out: &str) -> Result<(AnySink, String), String> {
    if let Some(rest) = out.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!(
                "--out {out:?} has no bucket name (expected s3://bucket/prefix)"
            ));
        }
        let prefix = normalise_prefix(prefix).map_err(|e| format!("--out: {e}"))?;
        let settings =
            S3Settings::from_lookup(&|k| std::env::var(k).ok(), Some(bucket.to_string()))
                .map_err(|e| e.to_string())?;
        Ok((AnySink::S3(S3Sink::connect(&settings).await), prefix))
    } else {
        let dir = PathBuf::from(out);
        if dir.exists() && !dir.is_dir() {
            return Err(format!("--out {out:?} exists and is not a directory"));
        }
        Ok((AnySink::Local(LocalDir::new(dir)), String::new()))
    }
}

/// Parses `schema.table` (the first dot separates them).
pub fn table_arg(s: &str) -> Result<TableId, String> {
    match s.split_once('.') {
        Some((schema, table)) if !schema.is_empty() && !table.is_empty() => {
            Ok(TableId::new(schema, table))
        }
        _ => Err(format!("{s:?} is not SCHEMA.TABLE (e.g. public.orders)")),
    }
}
