//! The benchmark harness behind `cdc-sink bench`: the in-process hot path (event bytes to
//! encoded objects, sink excluded) on generated full-size Lambda events, with the share of each
//! stage, plus peak RSS of `cdc-sink replay` and the Lambda's cold start, measured as processes.

use crate::config::{Compression, Config, Format};
use crate::decode::dms;
use crate::decode::kinesis;
use crate::ingest::registry::SchemaRegistry;
use crate::pipeline::build_batch;
use crate::sim::generate::{generate, GenOptions};
use crate::store::memory::MemoryStore;
use std::time::{Duration, Instant};

/// Lambda's payload limit for one event.
pub const EVENT_LIMIT: usize = 6 * 1024 * 1024;

/// A generated Lambda event of at most 6 MB, about 500-byte DMS messages.
pub fn full_event(seed: u64, tables: usize, unformatted_share: f64) -> Vec<u8> {
    let w = generate(&GenOptions {
        seed,
        tables,
        rows: 2,
        transactions: 4_000,
        shards: 1,
        records_per_event: 1_000_000,
        unformatted_share,
        name_bytes: 300,
    });
    let v: serde_json::Value = serde_json::from_slice(&w.events[0].bytes).unwrap_or_default();
    let mut recs = Vec::new();
    let mut size = 16;
    for r in v["Records"].as_array().into_iter().flatten() {
        size += r.to_string().len() + 1;
        if size > EVENT_LIMIT {
            break;
        }
        recs.push(r.clone());
    }
    serde_json::to_vec(&serde_json::json!({ "Records": recs })).unwrap_or_default()
}

/// Median of timed runs.
fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time<T>(iterations: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

/// Median times of several functions, run in turns (one run of each per round), so a drift
/// in the machine's speed hits them all alike: what ratios between them are taken from.
fn time_in_turns(iterations: usize, fs: &mut [&mut dyn FnMut() -> u64]) -> Vec<Duration> {
    let mut runs: Vec<Vec<Duration>> = vec![Vec::with_capacity(iterations); fs.len()];
    for _ in 0..iterations {
        for (f, r) in fs.iter_mut().zip(&mut runs) {
            let t = Instant::now();
            std::hint::black_box(f());
            r.push(t.elapsed());
        }
    }
    runs.into_iter().map(median).collect()
}

/// One measured case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name in the report.
    pub name: String,
    /// Size of the Lambda event, in bytes.
    pub bytes: usize,
    /// Kinesis records in the event.
    pub records: u64,
    /// Whole hot path per event (median).
    pub total: Duration,
    /// Stage times; `None` when only the whole hot path was timed.
    pub stages: Option<Stages>,
    /// Bytes of the objects the event produced.
    pub output_bytes: u64,
}

/// Cumulative stage times (median): envelope parse; + base64; + DMS message parse.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    /// Parsing the Lambda event envelope.
    pub envelope: Duration,
    /// Envelope plus base64 decoding of every record.
    pub base64: Duration,
    /// Envelope, base64 and parsing every DMS message.
    pub dms: Duration,
}

impl Case {
    /// Median time per record, in microseconds.
    pub fn per_record_us(&self) -> f64 {
        self.total.as_secs_f64() * 1e6 / self.records.max(1) as f64
    }
}

/// Measures one event with one output config. Schemas are registered first (a warm Lambda),
/// so the timed runs are the steady state: decode, convert, build columns, encode.
/// With `hot_path_only`, the stage timers are skipped (they re-parse the event, which would
/// skew a profile of the hot path).
pub fn measure(
    name: &str,
    event: &[u8],
    cfg: &Config,
    iterations: usize,
    hot_path_only: bool,
) -> Case {
    let store = MemoryStore::default();
    let reg = SchemaRegistry::new(Duration::from_secs(3600));
    let rt = tokio::runtime::Builder::new_current_thread().build();
    let warm = rt
        .ok()
        .and_then(|rt| rt.block_on(reg.build(&store, event, cfg)).ok());
    let records = warm.as_ref().map(|(b, _)| b.counts.records).unwrap_or(0);
    let output_bytes = warm.as_ref().map(|(b, _)| b.counts.bytes).unwrap_or(0);
    let snapshot = reg.snapshot_for_bench();
    let total = time(iterations, || {
        build_batch(event, cfg, &snapshot).map(|b| b.counts.objects)
    });
    Case {
        name: name.to_string(),
        bytes: event.len(),
        records,
        total,
        stages: (!hot_path_only).then(|| stages(event, cfg, iterations)),
        output_bytes,
    }
}

/// Times the decode stages cumulatively on the same event (each run parses it again).
fn stages(event: &[u8], cfg: &Config, iterations: usize) -> Stages {
    let envelope = time(iterations, || kinesis::parse_event(event).map(|r| r.len()));
    let mut buf = Vec::new();
    let base64 = time(iterations, || {
        let recs = kinesis::parse_event(event).unwrap_or_default();
        for r in &recs {
            buf.clear();
            let _ = kinesis::decode_payload(r.data_b64.as_deref().unwrap_or(b""), &mut buf);
        }
        recs.len()
    });
    let mut spare: Vec<dms::Field<'static>> = Vec::new();
    let dms = time(iterations, || {
        let recs = kinesis::parse_event(event).unwrap_or_default();
        let mut n = 0;
        for r in &recs {
            buf.clear();
            let _ = kinesis::decode_payload(r.data_b64.as_deref().unwrap_or(b""), &mut buf);
            let mut fields = dms::recycle(std::mem::take(&mut spare));
            if dms::parse_message(&buf, &cfg.before_image_key, &mut fields).is_ok() {
                n += fields.len();
            }
            spare = dms::recycle(fields);
        }
        n
    });
    Stages {
        envelope,
        base64,
        dms,
    }
}

/// The cases' output settings, encoding on one thread (comparable across rounds and
/// machines; [`scaling`] measures the threads).
fn config(format: Format, compression: Compression) -> Config {
    Config {
        layout: crate::config::Layout {
            format,
            compression,
            ..crate::config::Layout::default()
        },
        encode_threads: 1,
        ..Config::default()
    }
}

/// [`config`] with one object per batch (`objects = batch`).
fn batch_config(format: Format, compression: Compression) -> Config {
    let mut c = config(format, compression);
    c.layout.objects = crate::config::Objects::Batch;
    c
}

/// The generated events, each made on first use (`--only` then generates only what it needs).
#[derive(Default)]
pub struct Events(std::collections::HashMap<(u64, usize, bool), Vec<u8>>);

impl Events {
    /// The event of `tables` tables (seed by table count, as in every round so far).
    pub fn get(&mut self, tables: usize, unformatted: bool) -> &[u8] {
        let seed = match tables {
            4 => 1,
            10 => 2,
            500 => 3,
            _ => 4,
        };
        self.0
            .entry((seed, tables, unformatted))
            .or_insert_with(|| full_event(seed, tables, if unformatted { 1.0 } else { 0.0 }))
    }
}

/// The standard set of cases: (name, tables, json-unformatted, config).
fn cases() -> Vec<(&'static str, usize, bool, Config)> {
    let snappy = config(Format::Parquet, Compression::Snappy);
    vec![
        (
            "6 MB json-unformatted, 4 tables, Parquet snappy",
            4,
            true,
            snappy.clone(),
        ),
        (
            "6 MB json (tab-indented), 4 tables, Parquet snappy",
            4,
            false,
            snappy.clone(),
        ),
        (
            "6 MB json-unformatted, 4 tables, Parquet zstd",
            4,
            true,
            config(Format::Parquet, Compression::Zstd),
        ),
        (
            "6 MB json-unformatted, 4 tables, JSON Lines",
            4,
            true,
            config(Format::JsonLines, Compression::None),
        ),
        (
            "6 MB json-unformatted, 4 tables, JSON Lines gzip",
            4,
            true,
            config(Format::JsonLines, Compression::Gzip),
        ),
        (
            "6 MB json-unformatted, 10 tables, Parquet snappy",
            10,
            true,
            snappy.clone(),
        ),
        (
            "6 MB json-unformatted, 50 tables, Parquet snappy",
            50,
            true,
            snappy.clone(),
        ),
        (
            "6 MB json-unformatted, 500 tables, Parquet snappy",
            500,
            true,
            snappy,
        ),
        (
            "6 MB json-unformatted, 4 tables, Parquet snappy, objects=batch",
            4,
            true,
            batch_config(Format::Parquet, Compression::Snappy),
        ),
        (
            "6 MB json-unformatted, 500 tables, Parquet snappy, objects=batch",
            500,
            true,
            batch_config(Format::Parquet, Compression::Snappy),
        ),
    ]
}

/// Runs the standard cases (all, or those whose name contains `only`).
pub fn run(
    events: &mut Events,
    iterations: usize,
    only: Option<&str>,
    hot_path_only: bool,
    progress: &mut dyn FnMut(&str),
) -> Vec<Case> {
    cases()
        .into_iter()
        .filter(|(name, ..)| only.is_none_or(|o| name.contains(o)))
        .map(|(name, tables, unformatted, cfg)| {
            progress(name);
            let event = events.get(tables, unformatted);
            measure(name, event, &cfg, iterations, hot_path_only)
        })
        .collect()
}

/// The 500-table and 4-table events at 1 thread and at every core, measured in turns.
#[derive(Debug, Clone)]
pub struct Scaling {
    /// Threads used by "all": every core this process may use.
    pub threads: usize,
    /// Records in the 4-table and the 500-table event.
    pub records: [u64; 2],
    /// Per event: [4 tables, 500 tables] x [1 thread, all threads].
    pub times: [[Duration; 2]; 2],
    /// Per event with one object per batch (`objects = batch`), 1 thread: [4, 500 tables].
    pub batch: [Duration; 2],
}

impl Scaling {
    /// Per record, µs.
    pub fn per_record_us(&self, event: usize, threads: usize) -> f64 {
        self.times[event][threads].as_secs_f64() * 1e6 / self.records[event].max(1) as f64
    }

    /// The 500-table event's cost per record over the 4-table event's, on one thread (the
    /// issue's target: at most 3).
    pub fn many_table_ratio(&self) -> f64 {
        self.per_record_us(1, 0) / self.per_record_us(0, 0).max(1e-9)
    }

    /// With `objects = batch`, per record, µs: event 0 (4 tables) or 1 (500 tables).
    pub fn batch_per_record_us(&self, event: usize) -> f64 {
        self.batch[event].as_secs_f64() * 1e6 / self.records[event].max(1) as f64
    }

    /// The many-table ratio with `objects = batch` (the target: at most 1.5).
    pub fn batch_ratio(&self) -> f64 {
        self.batch_per_record_us(1) / self.batch_per_record_us(0).max(1e-9)
    }

    /// Time on one thread over time on all threads, for event 0 (4 tables) or 1 (500).
    pub fn speedup(&self, event: usize) -> f64 {
        self.times[event][0].as_secs_f64() / self.times[event][1].as_secs_f64().max(1e-9)
    }
}

/// Measures [`Scaling`]: four functions in turns, so the ratios do not depend on the machine's
/// drift or load between them.
pub fn scaling(events: &mut Events, iterations: usize) -> Scaling {
    let one = config(Format::Parquet, Compression::Snappy);
    let all = Config {
        encode_threads: 0,
        ..one.clone()
    };
    let batch = batch_config(Format::Parquet, Compression::Snappy);
    let four = events.get(4, true).to_vec();
    let many = events.get(500, true).to_vec();
    let store = MemoryStore::default();
    let reg = SchemaRegistry::new(Duration::from_secs(3600));
    let mut records = [0; 2];
    if let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() {
        for (i, e) in [&four, &many].into_iter().enumerate() {
            records[i] = rt
                .block_on(reg.build(&store, e, &one))
                .map(|(b, _)| b.counts.records)
                .unwrap_or(0);
        }
    }
    let snap = reg.snapshot_for_bench();
    let run = |e: &[u8], cfg: &Config| {
        build_batch(e, cfg, &snap)
            .map(|b| b.counts.objects)
            .unwrap_or(0)
    };
    let t = time_in_turns(
        iterations,
        &mut [
            &mut || run(&four, &one),
            &mut || run(&four, &all),
            &mut || run(&many, &one),
            &mut || run(&many, &all),
            &mut || run(&four, &batch),
            &mut || run(&many, &batch),
        ],
    );
    Scaling {
        threads: crate::pipeline::parallel::threads(0),
        records,
        times: [[t[0], t[1]], [t[2], t[3]]],
        batch: [t[4], t[5]],
    }
}

/// A markdown table of the cases.
pub fn table(cases: &[Case]) -> String {
    let mut out = String::from(
        "| case | event | records | per event | per record | envelope | + base64 | + DMS parse | rest: convert, build, encode | output |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let share = |d: Duration, c: &Case| {
        format!(
            "{:.0}%",
            100.0 * d.as_secs_f64() / c.total.as_secs_f64().max(1e-9)
        )
    };
    for c in cases {
        let shares = match c.stages {
            Some(s) => [
                share(s.envelope, c),
                share(s.base64.saturating_sub(s.envelope), c),
                share(s.dms.saturating_sub(s.base64), c),
                share(c.total.saturating_sub(s.dms), c),
            ],
            None => ["-".to_string(), "-".into(), "-".into(), "-".into()],
        };
        out.push_str(&format!(
            "| {} | {:.2} MB | {} | {} | {:.2} µs | {} | {:.2} MB |\n",
            c.name,
            c.bytes as f64 / 1_048_576.0,
            c.records,
            ms(c.total),
            c.per_record_us(),
            shares.join(" | "),
            c.output_bytes as f64 / 1_048_576.0,
        ));
    }
    out
}
