//! `cdc-sink reconcile`: the lake against the live PostgreSQL, key by key (see
//! [`cdc_sink::reconcile`]). Exit 0 when every table agrees, 3 when differences were found, 1
//! when a table could not be compared.

use crate::common::{open_for_read, print_stdout, table_arg};
use cdc_sink::reconcile::{reconcile, Options, Report};
use cdc_sink::source::postgres;
use clap::Args;
use std::time::Duration;

#[derive(Args)]
pub struct ReconcileArgs {
    /// The PostgreSQL database the lake is fed from: a postgres:// URL or key=value string;
    /// libpq's variables (PGHOST, PGUSER, PGPASSWORD, PGSSLMODE, PGSSLROOTCERT, ...) fill in
    /// the rest. Use a read replica for large tables: every row is read once.
    #[arg(long, value_name = "URL")]
    pub source: String,
    /// The lake: a directory, or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    /// Compare only this table (schema.table); repeat for more. Default: every table the lake
    /// holds.
    #[arg(long = "table", value_name = "SCHEMA.TABLE")]
    pub tables: Vec<String>,
    /// Print one JSON document instead of a line per table.
    #[arg(long)]
    pub json: bool,
    /// Seconds a differing key may take to agree before it is reported: the source keeps
    /// changing while reconcile runs, and the lake is behind it by the stream's delay. Keys that
    /// come to agree count as in flight.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub settle: u64,
    /// Keys listed per kind of difference and table (all are counted).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_keys: usize,
    /// Directory for the temporary bucket files (about the size of the table on each side).
    /// Default: the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<std::path::PathBuf>,
}

/// Exit status when differences were found.
pub const DIFFERENCES: u8 = 3;

pub async fn run(args: ReconcileArgs) -> Result<u8, String> {
    if !args.out.starts_with("s3://") && !std::path::Path::new(&args.out).is_dir() {
        return Err(format!("--out {:?} is not a directory", args.out));
    }
    let tables = args
        .tables
        .iter()
        .map(|t| table_arg(t))
        .collect::<Result<Vec<_>, _>>()?;
    let settings = postgres::Settings::resolve(&args.source, &|k| std::env::var(k).ok())
        .map_err(|e| e.to_string())?;
    if settings.password_in_url {
        eprintln!("note: the password in --source is visible to other users of this machine; PGPASSWORD is the better place for it");
    }
    let mut client = postgres::connect(&settings)
        .await
        .map_err(|e| e.to_string())?;
    let lake = open_for_read(&args.out).await?;
    let mut opts = Options {
        tables,
        settle: Duration::from_secs(args.settle),
        max_keys: args.max_keys,
        ..Options::default()
    };
    if let Some(dir) = args.work_dir {
        opts.work_dir = dir;
    }
    let quiet = args.json;
    let progress = move |line: &str| {
        if !quiet {
            eprintln!("  {line}");
        }
    };
    let report = reconcile(&lake, &mut client, &opts, &progress)
        .await
        .map_err(|e| e.to_string())?;
    let text = if args.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        render(&report)
    };
    print_stdout(&text)?;
    Ok(exit_code(&report))
}

/// 1 when a table could not be compared, else 3 when any differs, else 0.
fn exit_code(r: &Report) -> u8 {
    if r.tables.iter().any(|t| t.error.is_some()) || r.tables.is_empty() {
        1
    } else if r.tables.iter().all(|t| t.agrees()) {
        0
    } else {
        DIFFERENCES
    }
}

fn key_text(k: &serde_json::Map<String, serde_json::Value>) -> String {
    k.iter()
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A line per table, then the keys that differ (a few per kind), then freshness.
fn render(r: &Report) -> String {
    let mut out = String::new();
    if r.tables.is_empty() {
        out.push_str("no tables to compare: the lake's registry (_schemas/) is empty\n");
    }
    for t in &r.tables {
        if let Some(e) = &t.error {
            out.push_str(&format!("{}: NOT COMPARED: {e}\n", t.table));
            continue;
        }
        let verdict = if t.agrees() { "agrees" } else { "DIFFERS" };
        out.push_str(&format!(
            "{}: {verdict}: {} rows in PostgreSQL, {} in the lake; {} missing, {} extra, {} differ{}\n",
            t.table,
            t.source_rows,
            t.lake_rows,
            t.missing_count,
            t.extra_count,
            t.differ_count,
            if t.in_flight > 0 {
                format!(" ({} in flight, now agree)", t.in_flight)
            } else {
                String::new()
            }
        ));
        const SHOWN: usize = 5;
        for k in t.missing.iter().take(SHOWN) {
            out.push_str(&format!("  missing from the lake: {}\n", key_text(k)));
        }
        for k in t.extra.iter().take(SHOWN) {
            out.push_str(&format!("  only in the lake: {}\n", key_text(k)));
        }
        for d in t.differ.iter().take(SHOWN) {
            out.push_str(&format!(
                "  differs at {}: {}\n",
                key_text(&d.key),
                d.columns.join(", ")
            ));
            for (c, w) in &d.why {
                out.push_str(&format!("    {c}: {w}\n"));
            }
        }
        let listed =
            t.missing.len().min(SHOWN) + t.extra.len().min(SHOWN) + t.differ.len().min(SHOWN);
        let all = (t.missing_count + t.extra_count + t.differ_count) as usize;
        if all > listed {
            out.push_str(&format!(
                "  ... {} more (--json lists them)\n",
                all - listed
            ));
        }
        for n in &t.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    if !r.not_in_lake.is_empty() {
        out.push_str(&format!(
            "Not in the lake, not compared: {} (a DMS table-mapping rule that excludes them, or no change since the task started?)\n",
            r.not_in_lake.join(", ")
        ));
    }
    let f = &r.freshness;
    match (&f.lake_newest_change, f.behind_seconds) {
        (Some(newest), Some(behind)) => out.push_str(&format!(
            "The lake's newest change: {newest}, {behind:.0} s before PostgreSQL's clock ({}).\n",
            f.source_now
        )),
        _ => out.push_str(&format!(
            "The lake holds no change of these tables (PostgreSQL's clock: {}).\n",
            f.source_now
        )),
    }
    out
}
