//! `cdc-sink athena ddl|merge|sync`: Athena DDL and views for the registered tables, the MERGE
//! (and maintenance) statements that keep the Iceberg state tables, and running both on Athena.

use crate::common::{open_for_read, PipelineFlags};
use cdc_sink::athena::catalog::{catalog_from_csv, sync_statements, Statement};
use cdc_sink::athena::runner::{self, Runner, RunnerSettings, SyncPlan};
use cdc_sink::athena::{self, DdlOptions, TableDdl, Window};
use cdc_sink::ingest::registry::list_registered;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the lake and its catalog are.
#[derive(Args)]
pub struct LakeFlags {
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
    #[arg(long = "projection-since", default_value = "2020-01-01")]
    projection_since: String,
    /// Days of the change lake that <table>_current reads besides today, on top of the state
    /// table. Every change older than that must have been merged.
    #[arg(long, default_value_t = athena::DEFAULT_TAIL_DAYS)]
    tail_days: u32,
    #[command(flatten)]
    pipeline: PipelineFlags,
}

/// Which changes a MERGE reads.
#[derive(Args)]
pub struct WindowFlags {
    /// Merge the changes of partitions from this many days ago on (today included).
    #[arg(long, default_value_t = 2, conflicts_with_all = ["since", "all"])]
    lookback_days: u32,
    /// Merge the changes of partitions from this day on (YYYY-MM-DD), for backfills.
    #[arg(long, value_name = "YYYY-MM-DD", conflicts_with = "all")]
    since: Option<String>,
    /// With --since: merge only partitions up to this day (included).
    #[arg(long, value_name = "YYYY-MM-DD", requires = "since")]
    until: Option<String>,
    /// Merge every change (a full rebuild; scans the whole lake).
    #[arg(long)]
    all: bool,
}

impl WindowFlags {
    /// The window, with `--lookback-days` resolved to a date now (a literal prunes partitions).
    fn window(&self) -> Result<Window, String> {
        if self.all {
            return Ok(Window::All);
        }
        if let Some(d) = &self.since {
            if cdc_sink::model::time::parse_date(d).is_none() {
                return Err(format!("--since {d:?} is not a date (YYYY-MM-DD)"));
            }
            if let Some(u) = &self.until {
                if cdc_sink::model::time::parse_date(u).is_none() || u < d {
                    return Err(format!(
                        "--until {u:?} is not a date (YYYY-MM-DD) on or after --since {d}"
                    ));
                }
                return Ok(Window::Range(d.clone(), u.clone()));
            }
            return Ok(Window::Since(d.clone()));
        }
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64 / 86_400)
            .unwrap_or(0);
        Ok(Window::Since(cdc_sink::model::time::format_date(
            today - self.lookback_days as i64,
        )))
    }
}

/// State-table maintenance besides the MERGE.
#[derive(Args)]
pub struct MaintenanceFlags {
    /// Also delete tombstones set more than N days ago (keep N above --lookback-days and
    /// --tail-days plus the longest delay of a change, or a deleted row can come back).
    #[arg(long, value_name = "N")]
    purge_tombstones_days: Option<u32>,
    /// Also compact the state tables (OPTIMIZE ... REWRITE DATA USING BIN_PACK).
    #[arg(long)]
    optimize: bool,
    /// Also expire old snapshots and remove unused files (VACUUM).
    #[arg(long)]
    vacuum: bool,
}

#[derive(Subcommand)]
pub enum AthenaCommand {
    /// Print CREATE EXTERNAL TABLE (with partition projection), the Iceberg state tables and the
    /// <table>_changes, <table>_current and <table>_current_history views for every table
    /// registered under --out. The format and partitioning come from the lake's layout document
    /// ({prefix}/_layout.json); the flags only serve lakes that have none.
    Ddl {
        #[command(flatten)]
        lake: LakeFlags,
        /// Bring an existing catalog up to date instead: FILE is the CSV Athena writes for
        /// `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE
        /// table_schema = '<database>'`; missing tables are created, new columns added, views
        /// replaced.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// Also write each statement to its own file in DIR (Athena runs one per query). DIR
        /// must be empty or hold only files an earlier --split wrote (they are removed first).
        #[arg(long, value_name = "DIR")]
        split: Option<PathBuf>,
        /// Same as --projection-since (the flag's earlier name).
        #[arg(long, value_name = "YYYY-MM-DD", hide = true)]
        since: Option<String>,
    },
    /// Print the MERGE that brings each table's Iceberg state table up to date with a window of
    /// changes (and, on request, the tombstone purge, OPTIMIZE and VACUUM).
    Merge {
        #[command(flatten)]
        lake: LakeFlags,
        #[command(flatten)]
        window: WindowFlags,
        #[command(flatten)]
        maintenance: MaintenanceFlags,
    },
    /// Run on Athena: bring the catalog up to date (tables, new columns, views), then MERGE each
    /// table's changes into its state table, one table at a time; reports per table.
    Sync {
        #[command(flatten)]
        lake: LakeFlags,
        #[command(flatten)]
        window: WindowFlags,
        #[command(flatten)]
        maintenance: MaintenanceFlags,
        /// Athena workgroup.
        #[arg(long, default_value = "primary")]
        workgroup: String,
        /// S3 location for query results, when the workgroup does not set one.
        #[arg(long, value_name = "s3://BUCKET/PREFIX")]
        output_location: Option<String>,
        /// Only update the catalog; no MERGE.
        #[arg(long)]
        no_merge: bool,
        /// Read the catalog, print the statements, run nothing that changes anything.
        #[arg(long)]
        dry_run: bool,
        /// Runs of a statement that lost an Iceberg commit race (ICEBERG_COMMIT_ERROR).
        #[arg(long, default_value_t = 6)]
        attempts: u32,
        /// Give up on a query still running after this many seconds.
        #[arg(long, default_value_t = 3600)]
        query_timeout_secs: u64,
    },
}

pub async fn run(cmd: AthenaCommand) -> Result<(), String> {
    match cmd {
        AthenaCommand::Ddl {
            mut lake,
            catalog,
            split,
            since,
        } => {
            if let Some(s) = since {
                lake.projection_since = s;
            }
            let (tables, opts) = load(&lake).await?;
            let statements = match &catalog {
                None => athena::statements(&tables, &opts),
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read --catalog {}: {e}", path.display()))?;
                    let catalog = catalog_from_csv(&text)?;
                    numbered(&sync_statements(&tables, &opts, &catalog))
                }
            };
            match catalog {
                None => print!("{}", athena::script(&tables, &opts)),
                Some(_) => {
                    for (_, sql) in &statements {
                        println!("{sql};\n");
                    }
                }
            }
            if let Some(dir) = split {
                write_split(&dir, &statements)?;
                eprintln!(
                    "{} statements written to {}",
                    statements.len(),
                    dir.display()
                );
            }
            Ok(())
        }
        AthenaCommand::Merge {
            lake,
            window,
            maintenance,
        } => {
            let (tables, opts) = load(&lake).await?;
            let plan = plan(Some(window.window()?), &maintenance);
            for t in &tables {
                if !t.has_key() {
                    println!("{}\n", t.state_table);
                }
            }
            let all = runner::plan_statements(&tables, &opts, &Default::default(), &plan);
            // Only the state statements: the catalog part is `athena ddl`'s.
            for st in all.iter().filter(|s| is_state_statement(&s.sql)) {
                println!("{};\n", st.sql);
            }
            Ok(())
        }
        AthenaCommand::Sync {
            lake,
            window,
            maintenance,
            workgroup,
            output_location,
            no_merge,
            dry_run,
            attempts,
            query_timeout_secs,
        } => {
            let (tables, opts) = load(&lake).await?;
            let merge = if no_merge {
                None
            } else {
                Some(window.window()?)
            };
            let plan = plan(merge, &maintenance);
            let settings = RunnerSettings {
                workgroup,
                output_location,
                attempts: attempts.max(1),
                timeout: Duration::from_secs(query_timeout_secs),
                ..Default::default()
            };
            let runner = Runner::from_env(&opts.database, settings).await;
            if dry_run {
                let catalog = runner.catalog().await.map_err(|e| e.to_string())?;
                for st in runner::plan_statements(&tables, &opts, &catalog, &plan) {
                    println!("-- {}\n{};\n", st.object, st.sql);
                }
                return Ok(());
            }
            let reports = runner::sync(&runner, &tables, &opts, &plan)
                .await
                .map_err(|e| e.to_string())?;
            print!("{}", report_table(&reports));
            let failed = reports.iter().filter(|r| r.error.is_some()).count();
            if failed > 0 {
                return Err(format!(
                    "{failed} of {} objects failed (see the report above)",
                    reports.len()
                ));
            }
            Ok(())
        }
    }
}

fn plan(merge: Option<Window>, m: &MaintenanceFlags) -> SyncPlan {
    SyncPlan {
        merge,
        purge_days: m.purge_tombstones_days,
        optimize: m.optimize,
        vacuum: m.vacuum,
    }
}

fn is_state_statement(sql: &str) -> bool {
    ["MERGE ", "DELETE ", "OPTIMIZE ", "VACUUM "]
        .iter()
        .any(|p| sql.starts_with(p))
}

/// The report: one line per object.
pub fn report_table(reports: &[runner::ObjectReport]) -> String {
    let mut out =
        String::from("object\tstatements\trows\tbytes scanned\tseconds\tretries\tresult\n");
    for r in reports {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{:.1}\t{}\t{}\n",
            r.object,
            r.statements,
            r.rows,
            r.bytes_scanned,
            r.millis as f64 / 1000.0,
            r.retries,
            r.error.as_deref().unwrap_or("ok")
        ));
    }
    out
}

fn numbered(statements: &[Statement]) -> Vec<(String, String)> {
    statements
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("{:03}-{}.sql", i + 1, s.object), s.sql.clone()))
        .collect()
}

async fn load(lake: &LakeFlags) -> Result<(Vec<TableDdl>, DdlOptions), String> {
    let mut cfg = lake.pipeline.config()?;
    if cdc_sink::model::time::parse_date(&lake.projection_since).is_none() {
        return Err(format!(
            "--projection-since {:?} is not a date (YYYY-MM-DD)",
            lake.projection_since
        ));
    }
    let out = &lake.out;
    let location = match (&lake.location, out.starts_with("s3://")) {
        (Some(l), _) if l.starts_with("s3://") => l.clone(),
        (Some(l), _) => return Err(format!("--location {l:?} must be s3://bucket/prefix")),
        (None, true) => out.clone(),
        (None, false) => {
            return Err(
                "--location s3://bucket/prefix is needed when --out is a local directory".into(),
            )
        }
    };
    let opened = open_for_read(out).await?;
    // The lake's own layout wins over the flags, which only serve lakes written before
    // layouts were recorded.
    match opened.recorded_layout() {
        Some(layout) => cfg.layout = layout,
        None => eprintln!(
            "note: {out} records no layout ({}); using {}",
            cdc_sink::lake::keys::LAYOUT,
            cfg.layout
        ),
    }
    let docs = list_registered(opened.store())
        .await
        .map_err(|e| e.to_string())?;
    if docs.is_empty() {
        return Err(format!(
            "no schemas registered under {out}: replay some events first"
        ));
    }
    let opts = DdlOptions {
        database: lake.database.clone(),
        location,
        layout: cfg.layout,
        since: lake.projection_since.clone(),
    };
    let tables = athena::ddl_with_tail(&docs, &opts, lake.tail_days)?;
    Ok((tables, opts))
}

/// True for a file name `--split` writes: `NNN-<name>.sql`.
fn split_file(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 8 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b'-' && name.ends_with(".sql")
}

/// Writes each statement to its own file in `dir`, which must be empty or hold only files an
/// earlier run wrote (those are removed first, so a statement of a dropped table never runs).
pub fn write_split(dir: &Path, files: &[(String, String)]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let foreign: Vec<String> = entries
        .iter()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !split_file(n))
        .collect();
    if !foreign.is_empty() {
        return Err(format!(
            "--split {}: the folder holds files this command did not write ({}); give an empty or new folder",
            dir.display(),
            foreign.join(", ")
        ));
    }
    for e in &entries {
        let path = e.path();
        if path.is_dir() {
            return Err(format!(
                "--split {}: {} is a folder",
                dir.display(),
                path.display()
            ));
        }
        std::fs::remove_file(&path)
            .map_err(|err| format!("cannot remove {}: {err}", path.display()))?;
    }
    for (name, sql) in files {
        let path = dir.join(name);
        std::fs::write(&path, sql).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
