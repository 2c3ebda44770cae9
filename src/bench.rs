//! The benchmark harness behind `cdc-sink bench`: the in-process hot path (event bytes to
//! encoded objects, sink excluded) on generated full-size Lambda events, with the share of each
//! stage, plus peak RSS of `cdc-sink replay` and the Lambda's cold start, measured as processes.

use crate::config::{Compression, Config, Format};
use crate::dms;
use crate::generate::{generate, GenOptions};
use crate::kinesis;
use crate::pipeline::build_batch;
use crate::schema::store::MemoryStore;
use crate::schema::sync::SchemaRegistry;
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

/// One measured case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub bytes: usize,
    pub records: u64,
    /// Whole hot path per event (median).
    pub total: Duration,
    /// Stage times; `None` when only the whole hot path was timed.
    pub stages: Option<Stages>,
    pub output_bytes: u64,
}

/// Cumulative stage times (median): envelope parse; + base64; + DMS message parse.
#[derive(Debug, Clone, Copy)]
pub struct Stages {
    pub envelope: Duration,
    pub base64: Duration,
    pub dms: Duration,
}

impl Case {
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
    let reg = SchemaRegistry::new("", Duration::from_secs(3600));
    let rt = tokio::runtime::Builder::new_current_thread().build();
    let warm = rt
        .ok()
        .and_then(|rt| rt.block_on(reg.build(&store, event, cfg)).ok());
    let records = warm.as_ref().map(|(b, _)| b.counts.records).unwrap_or(0);
    let output_bytes = warm.as_ref().map(|(b, _)| b.counts.bytes).unwrap_or(0);
    let snapshot = reg.snapshot_for_bench();
    let total = time(iterations, || {
        build_batch(event, cfg, "", &snapshot).map(|b| b.counts.objects)
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

fn config(format: Format, compression: Compression) -> Config {
    Config {
        format,
        compression,
        ..Config::default()
    }
}

/// The standard set of cases.
pub fn run(
    iterations: usize,
    only: Option<&str>,
    hot_path_only: bool,
    progress: &mut dyn FnMut(&str),
) -> Vec<Case> {
    let unformatted = full_event(1, 4, 1.0);
    let tabbed = full_event(1, 4, 0.0);
    let ten = full_event(2, 10, 1.0);
    let five_hundred = full_event(3, 500, 1.0);
    let snappy = config(Format::Parquet, Compression::Snappy);
    let cases: Vec<(&str, &Vec<u8>, Config)> = vec![
        (
            "6 MB json-unformatted, 4 tables, Parquet snappy",
            &unformatted,
            snappy.clone(),
        ),
        (
            "6 MB json (tab-indented), 4 tables, Parquet snappy",
            &tabbed,
            snappy.clone(),
        ),
        (
            "6 MB json-unformatted, 4 tables, Parquet zstd",
            &unformatted,
            config(Format::Parquet, Compression::Zstd),
        ),
        (
            "6 MB json-unformatted, 4 tables, JSON Lines",
            &unformatted,
            config(Format::JsonLines, Compression::None),
        ),
        (
            "6 MB json-unformatted, 4 tables, JSON Lines gzip",
            &unformatted,
            config(Format::JsonLines, Compression::Gzip),
        ),
        (
            "6 MB json-unformatted, 10 tables, Parquet snappy",
            &ten,
            snappy.clone(),
        ),
        (
            "6 MB json-unformatted, 500 tables, Parquet snappy",
            &five_hundred,
            snappy,
        ),
    ];
    cases
        .into_iter()
        .filter(|(name, _, _)| only.is_none_or(|o| name.contains(o)))
        .map(|(name, event, cfg)| {
            progress(name);
            measure(name, event, &cfg, iterations, hot_path_only)
        })
        .collect()
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
