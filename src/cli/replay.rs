//! `cdc-sink replay`: Lambda Kinesis event files through the pipeline, into a directory or S3.

use super::{open_sink, PipelineFlags};
use crate::change::Counts;
use crate::pipeline::write_batch;
use crate::schema::sync::{Built, SchemaRegistry};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct ReplayArgs {
    /// Lambda Kinesis event files (JSON: {"Records": [...]}), processed in order.
    #[arg(required = true, value_name = "EVENT.json")]
    pub events: Vec<PathBuf>,
    /// Output: a local directory, or s3://bucket/prefix (endpoint and credentials from the
    /// standard AWS variables, e.g. AWS_ENDPOINT_URL_S3 for an S3-compatible server).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    #[command(flatten)]
    pub pipeline: PipelineFlags,
}

pub async fn run(args: ReplayArgs) -> Result<(), String> {
    let cfg = args.pipeline.config()?;
    // Check every input before writing anything, so a typo does not leave a half-done replay.
    for path in &args.events {
        if !path.is_file() {
            return Err(format!("cannot read {}: no such file", path.display()));
        }
    }
    // Every event must parse before anything is written (the layout document included); each
    // is read again when it runs, so a long replay does not hold every file in memory.
    let mut pending: Vec<(&PathBuf, String)> = Vec::new();
    for path in &args.events {
        let bytes = read_event(path)?;
        let records =
            crate::kinesis::parse_event(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let shard = records
            .first()
            .and_then(|r| r.shard.as_deref().map(str::to_string))
            .unwrap_or_default();
        pending.push((path, shard));
    }
    let (sink, prefix) = open_sink(&args.out).await?;
    // The lake's layout first: a replay configured differently stops before writing anything.
    crate::layout::ensure(&sink, &prefix, &cfg, &args.out)
        .await
        .map_err(|e| e.to_string())?;
    let registry = SchemaRegistry::new(&prefix, cfg.schema_refresh);
    let mut total = Counts::default();
    // As Lambda would: an event whose tables nobody declared yet waits (with the rest of its
    // shard, which Lambda would not deliver meanwhile) until the other events have run; those
    // may hold the `create-table` records. Only what is still undeclared then is inferred.
    let mut infer = cfg.await_table_def.is_zero();
    while !pending.is_empty() {
        let mut deferred = Vec::new();
        let mut blocked: Vec<String> = Vec::new();
        let mut progress = false;
        for (path, shard) in pending {
            if blocked.contains(&shard) {
                deferred.push((path, shard));
                continue;
            }
            let bytes = read_event(path)?;
            let built = registry
                .build_with(&sink, &bytes, &cfg, infer)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let (batch, report) = match built {
                Built::Ready(batch, report) => (batch, report),
                Built::Undeclared { tables, .. } => {
                    let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
                    eprintln!(
                        "{}: deferred: no declared schema yet for {} (waiting for their create-table in the other events)",
                        path.display(),
                        names.join(", ")
                    );
                    blocked.push(shard.clone());
                    deferred.push((path, shard));
                    continue;
                }
            };
            progress = true;
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
        if !progress && !deferred.is_empty() {
            // Nothing else can declare these tables: infer, as the Lambda does past its bound.
            eprintln!("no declaration arrived for the deferred events' tables: inferring their types from values (enable IncludeControlDetails on the DMS endpoint, or run `cdc-sink schema import`)");
            infer = true;
        }
        pending = deferred;
    }
    if args.events.len() > 1 {
        println!("total: {total}");
    }
    if std::env::var_os("CDC_REPORT_PEAK_RSS").is_some() {
        eprintln!("peak RSS KiB: {}", own_peak_rss_kib().unwrap_or(0));
    }
    Ok(())
}

/// This process's peak resident set size in KiB (`VmHWM`: the high-water mark of this
/// program's own address space, unlike a parent's rusage which counts memory from before exec).
pub(crate) fn own_peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn read_event(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}
