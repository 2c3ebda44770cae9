//! `cdc-sink cost`: the cost simulator (see `cdc_sink::sim::cost` and BENCHMARKS.md).

use cdc_sink::config::Objects;
use cdc_sink::sim::cost::{simulate, table, Scenario, PRICES};
use clap::Args;

#[derive(Args)]
pub struct CostArgs {
    /// Table counts to simulate, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [4, 50, 500])]
    pub tables: Vec<usize>,
    /// Changes per second on the one shard, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 100, 1000])]
    pub rates: Vec<u32>,
    /// Simulated minutes of the stream [default: 60]
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub minutes: u32,
    /// The event source mapping's BatchSize [default: the template's]
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch_size: u64,
    /// The event source mapping's MaximumBatchingWindowInSeconds [default: the template's]
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=300))]
    pub window: u32,
    /// The ingest function's memory in MB [default: the template's]
    #[arg(long, default_value_t = 256)]
    pub memory_mb: u32,
    /// The compactor's window in hours [default: the template's]
    #[arg(long, default_value_t = 1)]
    pub compaction_window_hours: u32,
    /// Modes to simulate: table, batch or both.
    #[arg(long, value_delimiter = ',', default_values_t = ["table".to_string(), "batch".to_string()])]
    pub objects: Vec<String>,
    /// Firehose's buffer interval in seconds, for the comparison [default: its default, 300]
    #[arg(long, default_value_t = 300)]
    pub firehose_interval: u32,
}

pub async fn run(a: CostArgs) -> Result<(), String> {
    let modes: Vec<Objects> = a
        .objects
        .iter()
        .map(|m| match m.as_str() {
            "table" => Ok(Objects::Table),
            "batch" => Ok(Objects::Batch),
            other => Err(format!("--objects {other}: accepted values: table, batch")),
        })
        .collect::<Result<_, _>>()?;
    let mut outcomes = Vec::new();
    for &tables in &a.tables {
        for &rate in &a.rates {
            for &objects in &modes {
                let s = Scenario {
                    tables: tables.max(1),
                    rate: rate.max(1),
                    seconds: a.minutes * 60,
                    batch_size: a.batch_size as usize,
                    window_secs: a.window,
                    memory_mb: a.memory_mb.max(128),
                    objects,
                    compaction_window_hours: a.compaction_window_hours,
                    compaction_memory_mb: 1024,
                    compaction_max_input_mb: 48,
                    firehose_interval_secs: a.firehose_interval.max(60),
                };
                let name = format!(
                    "{tables} tables, {rate} changes/s, objects={}",
                    if objects == Objects::Batch {
                        "batch"
                    } else {
                        "table"
                    }
                );
                let started = std::time::Instant::now();
                let o = simulate(&s, &mut |share| {
                    eprint!("\r  {name}: {:.0}%", share * 100.0);
                })
                .await
                .map_err(|e| format!("{name}: {e}"))?;
                eprintln!(
                    "\r  {name}: {} changes in {} invocations, simulated in {:.1} s",
                    o.changes,
                    o.invocations,
                    started.elapsed().as_secs_f64()
                );
                outcomes.push(o);
            }
        }
    }
    println!(
        "Simulated {} min per row, one shard, BatchSize {}, window {} s, {} MB; compaction window {} h; prices of 2026-12-05 (us-east-1, docs/research/prices.md)\n",
        a.minutes, a.batch_size, a.window, a.memory_mb, a.compaction_window_hours
    );
    print!("{}", table(&outcomes, &PRICES));
    Ok(())
}
