//! `cdc-sink redrive`: quarantined records back through the pipeline after their cause is fixed.

use crate::common::{open_for_write, table_arg, PipelineFlags};
use cdc_sink::repair::redrive::{redrive, Selectors};
use clap::Args;

#[derive(Args)]
pub struct RedriveArgs {
    /// The lake: a directory or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    /// Only the quarantine day YYYY-MM-DD (the records' arrival day: _quarantine/dt=...).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Only records quarantined for this reason code (e.g. bad_value).
    #[arg(long, value_name = "CODE")]
    pub reason: Option<String>,
    /// Only records of this source table.
    #[arg(long, value_name = "SCHEMA.TABLE")]
    pub table: Option<String>,
    /// Show what would land and what would still fail; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub pipeline: PipelineFlags,
}

pub async fn run(args: RedriveArgs) -> Result<(), String> {
    let cfg = args.pipeline.config()?;
    if let Some(d) = &args.date {
        if cdc_sink::model::time::parse_date(d).is_none() {
            return Err(format!("--date {d:?} is not YYYY-MM-DD"));
        }
    }
    let sel = Selectors {
        date: args.date.clone(),
        reason: args.reason.clone(),
        table: args.table.as_deref().map(table_arg).transpose()?,
    };
    // The lake's layout first: flags that would write another layout stop before anything.
    let lake = open_for_write(&args.out, &cfg).await?;
    let r = redrive(&lake, &cfg, &sel, args.dry_run)
        .await
        .map_err(|e| e.to_string())?;
    let verb = if args.dry_run { "would write" } else { "wrote" };
    for k in &r.objects {
        println!("  {verb} {k}");
    }
    for f in &r.still_failing {
        println!(
            "  still failing: {} {} {}: {} (stays in {})",
            f.shard,
            f.seq,
            f.reason_code,
            f.reason,
            f.quarantine_objects.join(", ")
        );
    }
    if let Some(m) = &r.manifest {
        println!("  manifest: {m}");
    }
    println!(
        "redrive{}: {} quarantine entries selected from {} objects ({} duplicates), {} already in the lake, {} redriven, {} still failing; {} objects",
        if args.dry_run { " (dry run)" } else { "" },
        r.selected,
        r.quarantine_objects.len(),
        r.duplicates,
        r.already_in_lake,
        r.redriven,
        r.still_failing.len(),
        r.objects.len()
    );
    Ok(())
}
