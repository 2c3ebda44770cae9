//! `cdc-sink compact`: the batch objects of closed windows laid out per table.

use crate::common::open_for_read;
use cdc_sink::compact::{compact, window_name, CompactOptions};
use cdc_sink::ingest::replay::human_bytes;
use clap::Args;

#[derive(Args)]
pub struct CompactArgs {
    /// The lake: a directory or s3://bucket/prefix (written with --objects batch).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    /// Hours per window: 1, 2, 3, 4, 6, 8, 12 or 24. Each window's tables get their own
    /// objects, so longer windows make fewer, larger objects but fresh rows wait longer in
    /// batch objects [default: 1]
    #[arg(long, value_name = "HOURS", default_value_t = 1)]
    pub window_hours: u32,
    /// Seconds after a window's end before it is compacted: longer than a batch can still be
    /// retried into it (the event source mapping's MaximumRecordAgeInSeconds) [default: 3600]
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub close_after: u64,
    /// Target size of a compacted object in MiB; a table's window beyond it is split [default: 128]
    #[arg(long, value_name = "MIB", default_value_t = 128)]
    pub target_mb: usize,
    /// Batch-object MiB read into memory at once; a larger window takes several passes [default: 256]
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub max_input_mb: u64,
    /// Show what would be compacted; write and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(args: CompactArgs) -> Result<(), String> {
    let lake = open_for_read(&args.out).await?;
    let o = CompactOptions {
        window_hours: args.window_hours,
        close_after_secs: args.close_after,
        target_bytes: args.target_mb.max(1) << 20,
        max_input_bytes: args.max_input_mb.max(1) << 20,
        dry_run: args.dry_run,
        ..CompactOptions::default()
    };
    let verb = if args.dry_run {
        "would compact"
    } else {
        "compacted"
    };
    let r = compact(&lake, &o, |p| {
        eprintln!(
            "  {verb} {}: {} batch objects, {} rows -> {} objects ({} rows)",
            p.window,
            p.inputs.len(),
            p.rows_in,
            p.objects.len(),
            p.rows_out
        );
    })
    .await
    .map_err(|e| e.to_string())?;
    let rows: usize = r.passes.iter().map(|p| p.rows_out).sum();
    let objects: usize = r.passes.iter().map(|p| p.objects.len()).sum();
    let inputs: usize = r.passes.iter().map(|p| p.inputs.len()).sum();
    println!(
        "compact{}: {} passes, {inputs} batch objects -> {objects} table objects, {rows} rows; {} batch objects removed that an earlier run had compacted; waiting: {} batch objects ({}){}",
        if args.dry_run { " (dry run)" } else { "" },
        r.passes.len(),
        r.finished_earlier,
        r.open_objects,
        human_bytes(r.open_bytes),
        r.oldest_open_hour
            .map(|h| format!(", oldest window {}", window_name(h, o.window_hours)))
            .unwrap_or_default()
    );
    Ok(())
}
