//! `cdc-sink`: the command-line face of the pipeline. `replay` processes Lambda Kinesis event
//! files exactly as the Lambda does, into a local directory or an S3 bucket.

use cdc_sink::change::Counts;
use cdc_sink::config::{Compression, Config, Format, PartitionTime, Partitioning};
use cdc_sink::partition::normalise_prefix;
use cdc_sink::pipeline::{build_batch, write_batch};
use cdc_sink::schema::InferOnly;
use cdc_sink::sink::local::LocalDir;
use cdc_sink::sink::s3::{S3Settings, S3Sink};
use cdc_sink::sink::AnySink;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Turn AWS DMS change events from Kinesis into a Hive-partitioned Parquet / JSON Lines change
/// lake (local directory or S3) that Athena queries.
#[derive(Parser)]
#[command(name = "cdc-sink", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Process Lambda Kinesis event files exactly as the Lambda does and write the objects.
    ///
    /// Writes are idempotent: replaying the same event writes the same keys with the same rows.
    Replay(ReplayArgs),
}

/// Pipeline settings; each flag falls back to the environment variable the Lambda reads.
#[derive(Args)]
struct PipelineFlags {
    /// Data object format: parquet or jsonl.
    #[arg(long, env = "CDC_FORMAT", default_value = "parquet")]
    format: Format,
    /// Compression: snappy, zstd, gzip or none for Parquet (default snappy); none or gzip for
    /// JSON Lines (default none).
    #[arg(long, env = "CDC_COMPRESSION")]
    compression: Option<Compression>,
    /// Time partitions of data objects: day (dt=YYYY-MM-DD), hour (dt=.../hr=HH) or none.
    #[arg(long, env = "CDC_PARTITION", default_value = "day")]
    partition: Partitioning,
    /// Time that places a row in a partition: commit (source commit time, else DMS time) or
    /// arrival (Kinesis arrival time).
    #[arg(long, env = "CDC_PARTITION_TIME", default_value = "commit")]
    partition_time: PartitionTime,
    /// Top-level key of the before-image in DMS messages (the task's BeforeImageSettings.FieldName).
    #[arg(long, env = "CDC_BEFORE_IMAGE_KEY", default_value = "before-image")]
    before_image_key: String,
}

impl PipelineFlags {
    fn config(&self) -> Result<Config, String> {
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

#[derive(Args)]
struct ReplayArgs {
    /// Lambda Kinesis event files (JSON: {"Records": [...]}), processed in order.
    #[arg(required = true, value_name = "EVENT.json")]
    events: Vec<PathBuf>,
    /// Output: a local directory, or s3://bucket/prefix (endpoint and credentials from the
    /// standard AWS variables, e.g. AWS_ENDPOINT_URL_S3 for an S3-compatible server).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    out: String,
    #[command(flatten)]
    pipeline: PipelineFlags,
}

/// Resolves `--out` to a sink and a key prefix.
async fn open_sink(out: &str) -> Result<(AnySink, String), String> {
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

async fn replay(args: ReplayArgs) -> Result<(), String> {
    let cfg = args.pipeline.config()?;
    // Check every input before writing anything, so a typo does not leave a half-done replay.
    for path in &args.events {
        if !path.is_file() {
            return Err(format!("cannot read {}: no such file", path.display()));
        }
    }
    let (sink, prefix) = open_sink(&args.out).await?;
    let mut total = Counts::default();
    for path in &args.events {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let batch = build_batch(&bytes, &cfg, &prefix, &InferOnly)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        write_batch(&batch, &sink).await.map_err(|e| {
            format!("{}: {e}\n(nothing is lost: replaying the same events again overwrites the same keys)", path.display())
        })?;
        println!("{}: {}", path.display(), batch.counts);
        for (code, n) in &batch.quarantine_reasons {
            eprintln!(
                "  quarantined {n} x {code} (see _quarantine/ for each record and its reason)"
            );
        }
        total.accumulate(&batch.counts);
    }
    if args.events.len() > 1 {
        println!("total: {total}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Replay(args) => replay(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
