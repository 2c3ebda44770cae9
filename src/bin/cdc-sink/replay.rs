//! `cdc-sink replay`: Lambda Kinesis event files through the pipeline, into a directory or S3.
//! The work is [`cdc_sink::ingest::replay`]; this module adds the flags, progress on a terminal, Ctrl-C and
//! the summaries.

use crate::common::{open_for_write, PipelineFlags};
use cdc_sink::ingest::replay::{self, describe, list_paths, Event, FileOutcome, Summary};
use cdc_sink::store::AnyStore;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args)]
pub struct ReplayArgs {
    /// Lambda Kinesis event files (JSON: {"Records": [...]}), replayed in the order given; a
    /// folder stands for the *.json files directly inside it, in file name order.
    #[arg(required = true, value_name = "EVENT.json|DIR")]
    pub events: Vec<PathBuf>,
    /// Output: a local directory, or s3://bucket/prefix (endpoint and credentials from the
    /// standard AWS variables, e.g. AWS_ENDPOINT_URL_S3 for an S3-compatible server; without a
    /// prefix, the Lambda's default prefix cdc is used).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    /// No progress and no line per file: only the total (and errors).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print one JSON document with every file's counts and the total, instead of text lines.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub pipeline: PipelineFlags,
}

/// Exit status after Ctrl-C (128 + SIGINT), as shells report it.
pub const INTERRUPTED: u8 = 130;

/// A failed or interrupted replay: the message is printed and the process exits with `code`.
pub struct ReplayFailure {
    pub message: String,
    pub code: u8,
}

pub async fn run(args: ReplayArgs) -> Result<(), ReplayFailure> {
    let fail = |message: String| ReplayFailure { message, code: 1 };
    let cfg = args.pipeline.config().map_err(fail)?;
    // Check every input before writing anything, so a typo does not leave a half-done replay.
    let files = replay::expand_inputs(&args.events).map_err(fail)?;
    let input_bytes = replay::check_inputs(&files).map_err(fail)?;
    // The lake's layout first: a replay configured differently stops before writing anything.
    let lake = open_for_write(&args.out, &cfg).await.map_err(fail)?;
    if let AnyStore::Local(dir) = lake.store().inner() {
        // Temporary files of a writer that crashed or was killed (their objects were never
        // renamed into place, so nothing else refers to them).
        match cdc_sink::store::local::remove_stale_temp_files(dir.root()) {
            Ok(removed) if !removed.is_empty() && !args.json => eprintln!(
                "removed {} temporary files left by an earlier run that was stopped",
                removed.len()
            ),
            Ok(_) => {}
            Err(e) => eprintln!("warning: cannot look for leftover temporary files: {e}"),
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_ctrl_c(stop.clone(), args.json));
    let bar = progress_bar(files.len(), input_bytes, args.quiet || args.json);
    let started = std::time::Instant::now();
    let mut records = 0u64;
    let per_file_lines = !args.quiet && !args.json;
    let mut on_event = |e: Event<'_>| {
        match e {
        Event::Done(o) => {
            records += o.counts.records;
            if per_file_lines {
                bar.suspend(|| print_file(o));
            }
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{:.0} records/s", records as f64 / secs));
            bar.inc(1);
        }
        Event::Deferred { file, tables } if !args.json => bar.suspend(|| {
            eprintln!(
                "{}: deferred: no declared schema yet for {} (waiting for their create-table in the other events)",
                file.display(),
                tables.join(", ")
            )
        }),
        Event::Inferring if !args.json => bar.suspend(|| {
            eprintln!("no declaration arrived for the deferred events' tables: inferring their types from values (enable IncludeControlDetails on the DMS endpoint, or run `cdc-sink schema import`)")
        }),
        _ => {}
    }
    };
    let summary = replay::replay(&files, &lake, &cfg, &stop, &mut on_event).await;
    bar.finish_and_clear();
    watcher.abort();

    if args.json {
        let doc = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
        crate::common::print_stdout(&doc).map_err(fail)?;
    } else if summary.files_total > 1 || args.quiet || !summary.ok() {
        println!(
            "total: {} files, {}",
            summary.files_done,
            describe(&summary.total)
        );
    }
    if std::env::var_os("CDC_REPORT_PEAK_RSS").is_some() {
        eprintln!("peak RSS KiB: {}", own_peak_rss_kib().unwrap_or(0));
    }
    outcome(&summary)
}

/// The per-file line, and what the user should know about it on stderr.
fn print_file(o: &FileOutcome) {
    for change in &o.schema_changes {
        eprintln!("  schema: {change}");
    }
    println!("{}: {}", o.file, describe(&o.counts));
    for (code, n) in &o.quarantined_by_reason {
        eprintln!(
            "  quarantined {n} x {code} (see {} for each record and its reason)",
            cdc_sink::lake::keys::QUARANTINE
        );
    }
}

/// Success, or which files were done and which were not, and how to continue.
fn outcome(s: &Summary) -> Result<(), ReplayFailure> {
    let done: Vec<String> = s.done.iter().map(|o| o.file.clone()).collect();
    let progress = format!(
        "replayed {} of {} files{}{}",
        s.files_done,
        s.files_total,
        if done.is_empty() {
            String::new()
        } else {
            format!(" ({})", list_paths(&done))
        },
        if s.not_done.is_empty() {
            String::new()
        } else {
            format!("; not replayed: {}", list_paths(&s.not_done))
        }
    );
    let again = "replaying a file again overwrites the same keys, so nothing is duplicated";
    if let Some(e) = &s.error {
        return Err(ReplayFailure {
            message: format!("{e}\n{progress}\n({again})"),
            code: 1,
        });
    }
    if s.interrupted {
        return Err(ReplayFailure {
            message: format!("interrupted: {progress}\n(replay the rest to continue; {again})"),
            code: INTERRUPTED,
        });
    }
    Ok(())
}

/// The first Ctrl-C asks the replay to stop after the file being written (so no object is left
/// half-written); a second one stops at once.
async fn watch_ctrl_c(stop: Arc<AtomicBool>, quiet: bool) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    stop.store(true, Ordering::SeqCst);
    if !quiet {
        eprintln!("\nstopping after the file being written (Ctrl-C again to stop at once)");
    }
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("stopped at once; the next replay into this output removes temporary files");
        std::process::exit(i32::from(INTERRUPTED));
    }
}

/// Files done of the total, records per second and time left, on stderr when it is a terminal.
fn progress_bar(files: usize, input_bytes: u64, off: bool) -> ProgressBar {
    if off || files < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:20} {pos}/{len} files of {prefix}, {msg}, ~{eta} left")
    {
        bar.set_style(style);
    }
    bar.set_prefix(replay::human_bytes(input_bytes));
    bar
}

/// This process's peak resident set size in KiB (`VmHWM`: the high-water mark of this
/// program's own address space, unlike a parent's rusage which counts memory from before exec).
pub(crate) fn own_peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
