//! `cdc-sink`: the command-line face of the pipeline. `replay` processes Lambda Kinesis event
//! files exactly as the Lambda does, into a local directory or an S3 bucket.

use cdc_sink::change::Counts;
use cdc_sink::change::TableId;
use cdc_sink::config::{Compression, Config, Format, PartitionTime, Partitioning};
use cdc_sink::partition::normalise_prefix;
use cdc_sink::pipeline::write_batch;
use cdc_sink::schema::registry::{apply_override, Registered};
use cdc_sink::schema::store::{MemoryStore, SchemaStore};
use cdc_sink::schema::sync::{list_registered, SchemaRegistry};
use cdc_sink::schema::{Column, ColumnType, TableSchema, TypeSource};
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
    /// Show, set or infer table schemas (the registry under {prefix}/_schemas/).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Athena DDL and views for the registered tables.
    #[command(subcommand)]
    Athena(AthenaCommand),
    /// Measure the hot path on generated full-size events, peak memory of replay and the
    /// Lambda's cold start (see BENCHMARKS.md). Run from a release build.
    Bench(BenchArgs),
    /// Simulate PostgreSQL tables under DMS and write Lambda Kinesis events, with the true
    /// final state of every table (truth.json), for tests, demos and benchmarks.
    Generate(GenerateArgs),
}

#[derive(Subcommand)]
enum AthenaCommand {
    /// Print CREATE EXTERNAL TABLE (with partition projection) and the <table>_changes and
    /// <table>_current views for every table registered under --out.
    Ddl {
        /// Where the lake is (its registry is read): a directory, or s3://bucket/prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        out: String,
        /// Glue / Athena database.
        #[arg(long, default_value = "cdc_lake")]
        database: String,
        /// S3 location of the lake for the tables (default: --out when it is s3://...).
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        location: Option<String>,
        /// First day of the dt partition projection range (YYYY-MM-DD).
        #[arg(long, default_value = "2020-01-01")]
        since: String,
        /// Also write each statement to its own file in DIR (Athena runs one per query).
        #[arg(long, value_name = "DIR")]
        split: Option<PathBuf>,
        #[command(flatten)]
        pipeline: PipelineFlags,
    },
}

#[derive(Args)]
struct BenchArgs {
    /// Timed runs per case (the median is reported).
    #[arg(long, default_value_t = 15)]
    iterations: usize,
    /// Only the cases whose name contains this text (e.g. "4 tables, Parquet snappy").
    #[arg(long)]
    only: Option<String>,
    /// Time only the whole hot path: no stage timers, no replay or cold-start processes
    /// (for running under a profiler).
    #[arg(long)]
    hot_path_only: bool,
}

#[derive(Args)]
struct GenerateArgs {
    /// Directory for events/*.json and truth.json.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 3)]
    tables: usize,
    /// Rows per table in the full load.
    #[arg(long, default_value_t = 20)]
    rows: usize,
    /// CDC transactions (1 to 4 changes each).
    #[arg(long, default_value_t = 60)]
    transactions: usize,
    #[arg(long, default_value_t = 2)]
    shards: usize,
    #[arg(long, default_value_t = 25)]
    records_per_event: usize,
    /// Pad text values to about this many bytes (for ~500-byte messages, use 300).
    #[arg(long, default_value_t = 0)]
    name_bytes: usize,
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Print registered schemas as JSON: every table, or the SCHEMA.TABLE names given.
    Show {
        /// The output location the schemas belong to: a directory, or s3://bucket/prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        out: String,
        #[arg(value_name = "SCHEMA.TABLE")]
        tables: Vec<String>,
    },
    /// Override a table's column types (and primary key) from a JSON file, even where the change
    /// is incompatible with files already written: {"columns": [{"name": "total", "type":
    /// "decimal(10,2)", "nullable": true}], "primary_key": ["id"]}. Types: boolean, int, bigint,
    /// double, decimal(p,s), date, timestamp, string, binary.
    Set {
        #[arg(value_name = "SCHEMA.TABLE")]
        table: String,
        /// The override document.
        #[arg(long, value_name = "FILE.json")]
        file: PathBuf,
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        out: String,
    },
    /// Infer schemas from Lambda Kinesis event files, as the pipeline would register them on an
    /// empty registry, and print them. Nothing is written.
    Infer {
        #[arg(required = true, value_name = "EVENT.json")]
        events: Vec<PathBuf>,
        #[command(flatten)]
        pipeline: PipelineFlags,
    },
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
    let registry = SchemaRegistry::new(&prefix, cfg.schema_refresh);
    let mut total = Counts::default();
    for path in &args.events {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (batch, report) = registry
            .build(&sink, &bytes, &cfg)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for change in report.changes.iter().chain(&report.notes) {
            eprintln!("  schema: {change}");
        }
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
    if std::env::var_os("CDC_REPORT_PEAK_RSS").is_some() {
        eprintln!("peak RSS KiB: {}", own_peak_rss_kib().unwrap_or(0));
    }
    Ok(())
}

/// Parses `schema.table` (the first dot separates them).
fn table_arg(s: &str) -> Result<TableId, String> {
    match s.split_once('.') {
        Some((schema, table)) if !schema.is_empty() && !table.is_empty() => {
            Ok(TableId::new(schema, table))
        }
        _ => Err(format!("{s:?} is not SCHEMA.TABLE (e.g. public.orders)")),
    }
}

fn pretty(doc: &Registered) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    columns: Vec<OverrideColumn>,
    #[serde(default)]
    primary_key: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default = "yes")]
    nullable: bool,
}

fn yes() -> bool {
    true
}

async fn schema(cmd: SchemaCommand) -> Result<(), String> {
    match cmd {
        SchemaCommand::Show { out, tables } => {
            let (sink, prefix) = open_sink(&out).await?;
            let ids: Vec<TableId> = if tables.is_empty() {
                list_registered(&sink, &prefix)
                    .await
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(Registered::id)
                    .collect()
            } else {
                tables
                    .iter()
                    .map(|t| table_arg(t))
                    .collect::<Result<_, _>>()?
            };
            if ids.is_empty() {
                return Err(format!("no schemas registered under {out}"));
            }
            let reg = SchemaRegistry::new(&prefix, std::time::Duration::ZERO);
            let mut docs = Vec::new();
            for id in &ids {
                match reg.get(&sink, id).await.map_err(|e| e.to_string())? {
                    Some(d) => docs.push(d),
                    None => return Err(format!("no schema registered for {id} under {out}")),
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(())
        }
        SchemaCommand::Set { table, file, out } => {
            let id = table_arg(&table)?;
            let text =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let o: OverrideFile =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let columns = o
                .columns
                .into_iter()
                .map(|c| {
                    let ty: ColumnType =
                        c.ty.parse()
                            .map_err(|e| format!("{}: column {}: {e}", file.display(), c.name))?;
                    Ok(Column {
                        name: c.name,
                        ty,
                        nullable: c.nullable,
                        source: TypeSource::Override,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let wanted = TableSchema {
                columns,
                primary_key: o.primary_key,
            };
            let (sink, prefix) = open_sink(&out).await?;
            let reg = SchemaRegistry::new(&prefix, std::time::Duration::ZERO);
            for _ in 0..5 {
                let current = reg.get(&sink, &id).await.map_err(|e| e.to_string())?;
                let next = apply_override(current.as_ref(), &id, &wanted);
                if reg.publish(&sink, &next).await.map_err(|e| e.to_string())? {
                    println!("{}", pretty(&next));
                    return Ok(());
                }
            }
            Err(format!(
                "{id}: the schema kept changing under concurrent writers; try again"
            ))
        }
        SchemaCommand::Infer { events, pipeline } => {
            let cfg = pipeline.config()?;
            let store = MemoryStore::default();
            let reg = SchemaRegistry::new("", std::time::Duration::ZERO);
            for path in &events {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let (_, report) = reg
                    .build(&store, &bytes, &cfg)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                for note in &report.notes {
                    eprintln!("  {note}");
                }
            }
            let mut docs = Vec::new();
            for key in store.list("_schemas/").await.map_err(|e| e.to_string())? {
                if let Some((bytes, _)) = store.get(&key).await.map_err(|e| e.to_string())? {
                    docs.push(Registered::from_json(&bytes)?);
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(())
        }
    }
}

async fn athena(cmd: AthenaCommand) -> Result<(), String> {
    let AthenaCommand::Ddl {
        out,
        database,
        location,
        since,
        split,
        pipeline,
    } = cmd;
    let cfg = pipeline.config()?;
    if cdc_sink::time::parse_date(&since).is_none() {
        return Err(format!("--since {since:?} is not a date (YYYY-MM-DD)"));
    }
    let location = match (location, out.starts_with("s3://")) {
        (Some(l), _) if l.starts_with("s3://") => l,
        (Some(l), _) => return Err(format!("--location {l:?} must be s3://bucket/prefix")),
        (None, true) => out.clone(),
        (None, false) => {
            return Err(
                "--location s3://bucket/prefix is needed when --out is a local directory".into(),
            )
        }
    };
    let (sink, prefix) = open_sink(&out).await?;
    let docs = list_registered(&sink, &prefix)
        .await
        .map_err(|e| e.to_string())?;
    if docs.is_empty() {
        return Err(format!(
            "no schemas registered under {out}: replay some events first"
        ));
    }
    let opts = cdc_sink::athena::DdlOptions {
        database,
        location,
        format: cfg.format,
        compression: cfg.compression,
        partition: cfg.partition,
        since,
    };
    let tables = cdc_sink::athena::ddl(&docs, &opts)?;
    print!("{}", cdc_sink::athena::script(&tables, &opts));
    if let Some(dir) = split {
        let files = cdc_sink::athena::statements(&tables, &opts);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for (name, sql) in &files {
            let path = dir.join(name);
            std::fs::write(&path, sql)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        eprintln!("{} statements written to {}", files.len(), dir.display());
    }
    Ok(())
}

fn generate(a: GenerateArgs) -> Result<(), String> {
    let opts = cdc_sink::generate::GenOptions {
        seed: a.seed,
        tables: a.tables.max(1),
        rows: a.rows,
        transactions: a.transactions,
        shards: a.shards.max(1),
        records_per_event: a.records_per_event.max(1),
        name_bytes: a.name_bytes,
        ..Default::default()
    };
    let w = cdc_sink::generate::generate(&opts);
    let events = a.out.join("events");
    std::fs::create_dir_all(&events)
        .map_err(|e| format!("cannot create {}: {e}", events.display()))?;
    for e in &w.events {
        let path = events.join(&e.name);
        std::fs::write(&path, &e.bytes)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    }
    let truth: Vec<serde_json::Value> = w
        .tables
        .iter()
        .map(|t| serde_json::json!({"schema": t.id.schema, "table": t.id.table, "changes": t.changes, "rows": t.rows}))
        .collect();
    let path = a.out.join("truth.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&truth).unwrap_or_default())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "{} events, {} records over {} shards in {}; true final state in {}",
        w.events.len(),
        w.records,
        opts.shards,
        events.display(),
        path.display()
    );
    Ok(())
}

/// This process's peak resident set size in KiB (`VmHWM`: the high-water mark of this
/// program's own address space, unlike a parent's rusage which counts memory from before exec).
fn own_peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `cdc-sink replay` with CDC_REPORT_PEAK_RSS=1 and returns the peak RSS it reports (KiB).
fn replay_peak_rss_kib(
    exe: &std::path::Path,
    event: &std::path::Path,
    out: &std::path::Path,
) -> Result<u64, String> {
    let o = std::process::Command::new(exe)
        .arg("replay")
        .arg(event)
        .arg("--out")
        .arg(out)
        .env("CDC_REPORT_PEAK_RSS", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        return Err(format!("replay failed: {stderr}"));
    }
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS KiB: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("replay did not report its peak RSS: {stderr}"))
}

/// Process start to the first `GET /runtime/invocation/next`, against a stub Runtime API.
fn cold_start(lambda: &std::path::Path) -> Result<std::time::Duration, String> {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let start = std::time::Instant::now();
    let mut child = std::process::Command::new(lambda)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .envs([
            ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ])
        .envs([
            ("CDC_BUCKET", "bench"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "x"),
            ("AWS_SECRET_ACCESS_KEY", "y"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", lambda.display()))?;
    let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let n = conn.read(&mut buf).map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let line = String::from_utf8_lossy(&buf[..n]);
    if !line.contains("/runtime/invocation/next") {
        return Err(format!("unexpected first request: {line}"));
    }
    Ok(elapsed)
}

fn bench(a: BenchArgs) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run `cargo run --release -- bench` for meaningful numbers"
        );
    }
    let cases = cdc_sink::bench::run(
        a.iterations.max(1),
        a.only.as_deref(),
        a.hot_path_only,
        &mut |name| eprintln!("measuring: {name}"),
    );
    println!("{}", cdc_sink::bench::table(&cases));
    if a.hot_path_only {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = tempfile_dir()?;
    for (name, tables) in [("4 tables", 4), ("500 tables", 500)] {
        let path = dir.join(format!("event-{tables}.json"));
        let event = cdc_sink::bench::full_event(if tables == 4 { 1 } else { 3 }, tables, 1.0);
        std::fs::write(&path, &event).map_err(|e| e.to_string())?;
        let out = dir.join(format!("out-{tables}"));
        let kib = replay_peak_rss_kib(&exe, &path, &out)?;
        println!(
            "peak RSS of `cdc-sink replay` on one {:.2} MB event ({name}): {:.1} MB",
            event.len() as f64 / 1_048_576.0,
            kib as f64 / 1024.0
        );
    }
    let lambda = exe.with_file_name("cdc-sink-lambda");
    if lambda.exists() {
        let mut runs: Vec<std::time::Duration> = (0..7)
            .map(|_| cold_start(&lambda))
            .collect::<Result<_, _>>()?;
        runs.sort();
        println!("cold start of cdc-sink-lambda (process start to first /next request, median of 7): {:.1} ms", runs[3].as_secs_f64() * 1e3);
        let size = std::fs::metadata(&lambda).map(|m| m.len()).unwrap_or(0);
        println!(
            "cdc-sink-lambda binary: {:.1} MB ({}, not stripped)",
            size as f64 / 1_048_576.0,
            std::env::consts::ARCH
        );
    } else {
        println!(
            "cold start: {} not found (cargo build --release builds it)",
            lambda.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("cdc-sink-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The benchmark drives its own runtime per case; it must not run inside this one.
    if let Command::Bench(args) = cli.command {
        return match bench(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
            Command::Schema(cmd) => schema(cmd).await,
            Command::Athena(cmd) => athena(cmd).await,
            Command::Generate(args) => generate(args),
            Command::Bench(_) => Ok(()),
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
