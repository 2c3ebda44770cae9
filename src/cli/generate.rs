//! `cdc-sink generate`: a simulated DMS workload as Lambda events, with its true final state.

use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    /// Directory for events/*.json and truth.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 3)]
    pub tables: usize,
    /// Rows per table in the full load.
    #[arg(long, default_value_t = 20)]
    pub rows: usize,
    /// CDC transactions (1 to 4 changes each).
    #[arg(long, default_value_t = 60)]
    pub transactions: usize,
    #[arg(long, default_value_t = 2)]
    pub shards: usize,
    #[arg(long, default_value_t = 25)]
    pub records_per_event: usize,
    /// Pad text values to about this many bytes (for ~500-byte messages, use 300).
    #[arg(long, default_value_t = 0)]
    pub name_bytes: usize,
}

pub fn run(a: GenerateArgs) -> Result<(), String> {
    let opts = crate::generate::GenOptions {
        seed: a.seed,
        tables: a.tables.max(1),
        rows: a.rows,
        transactions: a.transactions,
        shards: a.shards.max(1),
        records_per_event: a.records_per_event.max(1),
        name_bytes: a.name_bytes,
        ..Default::default()
    };
    let w = crate::generate::generate(&opts);
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
