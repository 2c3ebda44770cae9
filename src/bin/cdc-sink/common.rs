//! What the commands share: the pipeline flags, `--out` resolved to a store, stdout that
//! survives a closed pipe, and `schema.table` arguments.

use cdc_sink::config::{env, non_empty, normalise_prefix, Config, Given, DEFAULT_PREFIX};
use cdc_sink::lake::Lake;
use cdc_sink::model::change::TableId;
use cdc_sink::store::local::LocalDir;
use cdc_sink::store::s3::{S3Settings, S3Store};
use cdc_sink::store::AnyStore;
use clap::Args;
use std::path::PathBuf;

/// Pipeline settings. Each flag falls back to the environment variable the Lambda reads; an
/// empty variable means the default, as in the Lambda. Values are checked by [`Config`], so an
/// error names the flag or the variable the user actually set.
#[derive(Args)]
pub struct PipelineFlags {
    /// Data object format: parquet or jsonl [default: parquet] [env: CDC_FORMAT]
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Compression: snappy, zstd, gzip or none for Parquet (default snappy); none or gzip for
    /// JSON Lines (default none) [env: CDC_COMPRESSION]
    #[arg(long, value_name = "CODEC")]
    pub compression: Option<String>,
    /// Time partitions of data objects: day (dt=YYYY-MM-DD), hour (dt=.../hr=HH) or none
    /// [default: day] [env: CDC_PARTITION]
    #[arg(long, value_name = "day|hour|none")]
    pub partition: Option<String>,
    /// Time that places a row in a partition: commit (source commit time, else DMS time) or
    /// arrival (Kinesis arrival time) [default: commit] [env: CDC_PARTITION_TIME]
    #[arg(long, value_name = "commit|arrival")]
    pub partition_time: Option<String>,
    /// Objects per batch: table (one per table and partition) or batch (one per batch, laid
    /// out per table later by `cdc-sink compact`); recorded in the lake's _layout.json
    /// [default: table] [env: CDC_OBJECTS]
    #[arg(long, value_name = "table|batch")]
    pub objects: Option<String>,
    /// Top-level key of the before-image in DMS messages (the task's
    /// BeforeImageSettings.FieldName) [default: before-image] [env: CDC_BEFORE_IMAGE_KEY]
    #[arg(long, value_name = "KEY")]
    pub before_image_key: Option<String>,
    /// Threads that encode a batch's objects: 0 is every core (the objects are the same
    /// whatever the count) [default: 0] [env: CDC_ENCODE_THREADS]
    #[arg(long, value_name = "N")]
    pub encode_threads: Option<String>,
}

impl PipelineFlags {
    /// The validated config: flags first, then the environment, then the defaults.
    pub fn config(&self) -> Result<Config, String> {
        config_from_flags(&[
            (env::FORMAT, "--format", &self.format),
            (env::COMPRESSION, "--compression", &self.compression),
            (env::PARTITION, "--partition", &self.partition),
            (
                env::PARTITION_TIME,
                "--partition-time",
                &self.partition_time,
            ),
            (env::OBJECTS, "--objects", &self.objects),
            (
                env::BEFORE_IMAGE_KEY,
                "--before-image-key",
                &self.before_image_key,
            ),
            (
                env::ENCODE_THREADS,
                "--encode-threads",
                &self.encode_threads,
            ),
        ])
    }
}

/// Builds a [`Config`] from the flags given (variable, flag, value) and the environment: a flag
/// wins over its variable, and unset or empty variables mean the default.
pub fn config_from_flags(flags: &[(&str, &str, &Option<String>)]) -> Result<Config, String> {
    let lookup = |k: &str| std::env::var(k).ok();
    Config::from_given(
        &|name| match flags.iter().find(|(var, _, _)| *var == name) {
            Some((_, flag, Some(value))) => Some(Given {
                name: flag.to_string(),
                value: value.clone(),
            }),
            _ => non_empty(&lookup, name).map(|value| Given {
                name: name.to_string(),
                value,
            }),
        },
    )
    .map_err(|e| e.to_string())
}

/// Splits `s3://bucket[/prefix]`; without a prefix the Lambda's default (`cdc`) is used and
/// said on stderr. `None` for a local path.
pub fn s3_location(out: &str) -> Option<Result<(String, String), String>> {
    let rest = out.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Some(Err(format!(
            "--out {out:?} has no bucket name (expected s3://bucket/prefix)"
        )));
    }
    Some(match normalise_prefix(prefix) {
        Err(e) => Err(format!("--out: {e}")),
        Ok(p) if p.is_empty() => {
            eprintln!(
                "note: --out {out} has no prefix; using the Lambda's default prefix: \
                 s3://{bucket}/{DEFAULT_PREFIX}/"
            );
            Ok((bucket.to_string(), DEFAULT_PREFIX.to_string()))
        }
        Ok(p) => Ok((bucket.to_string(), p)),
    })
}

/// `--out` opened for writing with `cfg`'s layout: a lake laid out otherwise is refused before
/// anything is written (see [`Lake`]).
pub async fn open_for_write(out: &str, cfg: &Config) -> Result<Lake<AnyStore>, String> {
    let (store, prefix) = open_store(out).await?;
    Lake::open_for_write(store, &prefix, cfg.layout)
        .await
        .map_err(|e| e.to_string())
}

/// `--out` opened for reading: its recorded layout is known.
pub async fn open_for_read(out: &str) -> Result<Lake<AnyStore>, String> {
    let (store, prefix) = open_store(out).await?;
    Lake::open_for_read(store, &prefix)
        .await
        .map_err(|e| e.to_string())
}

/// Resolves `--out` to a store and a key prefix. For S3, one quick request first checks that
/// the endpoint answers, the bucket exists and the credentials are accepted, so a mistake is
/// reported in seconds, before anything is written.
pub async fn open_store(out: &str) -> Result<(AnyStore, String), String> {
    if let Some(loc) = s3_location(out) {
        let (bucket, prefix) = loc?;
        let settings = S3Settings::from_lookup(&|k| std::env::var(k).ok(), Some(bucket))
            .map_err(|e| e.to_string())?;
        let sink = S3Store::connect(&settings).await;
        let quick = settings.read_timeout.min(PREFLIGHT_TIMEOUT);
        // A small folder: some S3-compatible servers walk everything under the prefix even
        // for one key (s3s-fs took over 5 s on 100,000 objects).
        let probe = cdc_sink::store::prefix::join(&prefix, cdc_sink::lake::keys::SCHEMAS);
        sink.check_access(&probe, quick)
            .await
            .map_err(|e| format!("cannot use --out {out}: {}", e.message))?;
        Ok((AnyStore::S3(sink), prefix))
    } else {
        let dir = PathBuf::from(out);
        if dir.exists() && !dir.is_dir() {
            return Err(format!("--out {out:?} exists and is not a directory"));
        }
        Ok((AnyStore::Local(LocalDir::new(dir)), String::new()))
    }
}

/// The longest the first check of an S3 output may take.
const PREFLIGHT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Prints to stdout; a closed pipe (`| head`) ends the output quietly instead of panicking.
pub fn print_stdout(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
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
