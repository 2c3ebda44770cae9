//! `cdc-sink generate`: a simulated DMS workload as Lambda events, with its true final state.

use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct GenerateArgs {
    /// Directory for events/*.json and truth.json. It must not hold events already (see --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Remove the events and truth.json already in --out first (only those files).
    #[arg(long)]
    pub force: bool,
    /// Seed of the random workload: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of source tables.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub tables: u64,
    /// Rows per table in the full load.
    #[arg(long, default_value_t = 20)]
    pub rows: usize,
    /// CDC transactions (1 to 4 changes each).
    #[arg(long, default_value_t = 60)]
    pub transactions: usize,
    /// Kinesis shards the records are spread over.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub shards: u64,
    /// Kinesis records per Lambda event file (at most).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub records_per_event: u64,
    /// Pad text values to about this many bytes (for ~500-byte messages, use 300).
    #[arg(long, default_value_t = 0)]
    pub name_bytes: usize,
}

/// Event files and truth.json already in `out` (what a new run would mix with).
fn existing_outputs(out: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(out.join("events"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    let truth = out.join("truth.json");
    if truth.is_file() {
        found.push(truth);
    }
    found.sort();
    found
}

pub fn run(a: GenerateArgs) -> Result<(), String> {
    let old = existing_outputs(&a.out);
    if !old.is_empty() && !a.force {
        return Err(format!(
            "{} already holds a workload ({} files: events/*.json, truth.json); new events would \
             mix with the old ones. Use another --out, or add --force to remove those files first",
            a.out.display(),
            old.len()
        ));
    }
    for path in &old {
        std::fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    let opts = cdc_sink::sim::generate::GenOptions {
        seed: a.seed,
        tables: a.tables as usize,
        rows: a.rows,
        transactions: a.transactions,
        shards: a.shards as usize,
        records_per_event: a.records_per_event as usize,
        name_bytes: a.name_bytes,
        ..Default::default()
    };
    let w = cdc_sink::sim::generate::generate(&opts);
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
