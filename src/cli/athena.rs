//! `cdc-sink athena ddl`: Athena DDL and views for the registered tables.

use super::{open_sink, PipelineFlags};
use crate::schema::sync::list_registered;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AthenaCommand {
    /// Print CREATE EXTERNAL TABLE (with partition projection) and the <table>_changes and
    /// <table>_current views for every table registered under --out. The format and
    /// partitioning come from the lake's layout document ({prefix}/_layout.json); the flags
    /// below only serve lakes that have none.
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

pub async fn run(cmd: AthenaCommand) -> Result<(), String> {
    let AthenaCommand::Ddl {
        out,
        database,
        location,
        since,
        split,
        pipeline,
    } = cmd;
    let mut cfg = pipeline.config()?;
    if crate::time::parse_date(&since).is_none() {
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
    // The lake's own layout wins over the flags, which only serve lakes written before
    // layouts were recorded.
    match crate::layout::read(&sink, &prefix)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(layout) => layout.apply(&mut cfg),
        None => eprintln!(
            "note: {out} records no layout (_layout.json); using {}",
            crate::layout::Layout::of(&cfg)
        ),
    }
    let docs = list_registered(&sink, &prefix)
        .await
        .map_err(|e| e.to_string())?;
    if docs.is_empty() {
        return Err(format!(
            "no schemas registered under {out}: replay some events first"
        ));
    }
    let opts = crate::athena::DdlOptions {
        database,
        location,
        format: cfg.format,
        compression: cfg.compression,
        partition: cfg.partition,
        since,
    };
    let tables = crate::athena::ddl(&docs, &opts)?;
    print!("{}", crate::athena::script(&tables, &opts));
    if let Some(dir) = split {
        let files = crate::athena::statements(&tables, &opts);
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
