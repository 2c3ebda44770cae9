//! The cost simulator behind `cdc-sink cost`: a simulated stretch of a DMS stream on one shard,
//! delivered as the Kinesis event source mapping would (batch size, batching window, Lambda's
//! 6 MB payload), through the real Lambda handler into a store that counts every request and
//! byte; in `objects = batch` then the real compactor over the same store. Priced with the
//! published prices ([`Prices`], sources in docs/research/prices.md) beside Amazon Data Firehose
//! with dynamic partitioning and Firehose to Iceberg tables, modelled from their billing rules.
//!
//! What is measured and what is a model:
//! - S3 requests and bytes: counted, every PUT, GET, LIST and DELETE the handler and the
//!   compactor make (registry reads included; a warm function keeps its registry cache).
//! - Lambda CPU: measured, the handler's and the compactor's time on one thread of this machine.
//!   Lambda gives a function `memory / 1,769 MB` of a vCPU, so billed time is the CPU time
//!   stretched by that share, plus waits on S3 modelled at [`S3_WAIT`] per round of 16
//!   concurrent requests (the handler's PUTs; the compactor's reads, writes and removals).
//! - Steady state: the tables are registered and the function warm before counting starts.
//! - Firehose: a model of its published billing rules (5 KB rounding per record from a Kinesis
//!   source, per-GB and per-object fees, one object per table per buffer interval).

use crate::compact::{compact, CompactOptions, CompactionError};
use crate::config::{Config, Layout, Objects};
use crate::ingest::lambda::Handler;
use crate::lake::Lake;
use crate::store::memory::MemoryStore;
use crate::store::{Leftover, ObjectInfo, Precondition, PutOutcome, Store, StoreError};
use base64::Engine;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Prices, us-east-1, read 2026-12-05 (docs/research/prices.md: row numbers in brackets).
#[derive(Debug, Clone, Copy)]
pub struct Prices {
    /// S3 PUT, COPY, POST, LIST per request [1].
    pub s3_put: f64,
    /// S3 GET per request [2].
    pub s3_get: f64,
    /// Lambda per GB-second, arm64 [7] (the template's functions are arm64).
    pub lambda_gb_s: f64,
    /// Lambda per request [8].
    pub lambda_request: f64,
    /// Firehose ingestion from a Kinesis source, per GB in 5 KB increments per record [12].
    pub firehose_ingest_gb: f64,
    /// Firehose dynamic partitioning, per GB delivered [15].
    pub firehose_dp_gb: f64,
    /// Firehose dynamic partitioning, per S3 object delivered [16].
    pub firehose_dp_object: f64,
    /// Firehose to Apache Iceberg tables, per GB ingested, no rounding. Issue 20 quotes
    /// $0.045 for a Kinesis source; the one published figure found is $0.075 [18]. The lower
    /// one is used: the comparison cdc-sink has to win.
    pub firehose_iceberg_gb: f64,
}

/// The prices used in BENCHMARKS.md.
pub const PRICES: Prices = Prices {
    s3_put: 0.005 / 1000.0,
    s3_get: 0.0004 / 1000.0,
    lambda_gb_s: 0.000_013_333_4,
    lambda_request: 0.20 / 1e6,
    firehose_ingest_gb: 0.029,
    firehose_dp_gb: 0.020,
    firehose_dp_object: 0.005 / 1000.0,
    firehose_iceberg_gb: 0.045,
};

/// Assumed time a function waits on one S3 request (or one round of concurrent PUTs).
pub const S3_WAIT: Duration = Duration::from_millis(25);
/// Memory of a Lambda function that gets one whole vCPU.
const FULL_VCPU_MB: f64 = 1769.0;
/// Bytes per GB as AWS bills data (GiB).
const GB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One simulated stream and its delivery.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Source tables, every change to a table drawn uniformly.
    pub tables: usize,
    /// Changes per second, evenly spaced.
    pub rate: u32,
    /// Simulated seconds.
    pub seconds: u32,
    /// The event source mapping's BatchSize.
    pub batch_size: usize,
    /// The event source mapping's MaximumBatchingWindowInSeconds (0: Lambda polls each second).
    pub window_secs: u32,
    /// The ingest function's memory (MB).
    pub memory_mb: u32,
    /// One object per table or per batch.
    pub objects: Objects,
    /// The compactor's window (hours) and its function's memory (MB).
    pub compaction_window_hours: u32,
    /// See `compaction_window_hours`.
    pub compaction_memory_mb: u32,
    /// Batch-object MiB one compaction pass reads (the template's `CDC_COMPACT_MAX_INPUT_MB`).
    pub compaction_max_input_mb: u64,
    /// Firehose's buffer interval (seconds) in the comparison.
    pub firehose_interval_secs: u32,
}

/// Requests and bytes a run made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requests {
    /// PUTs (conditional ones included).
    pub put: u64,
    /// GETs.
    pub get: u64,
    /// LIST requests (one per 1,000 keys listed, at least one).
    pub list: u64,
    /// DELETEs (free).
    pub delete: u64,
    /// Bytes written.
    pub put_bytes: u64,
    /// Bytes read.
    pub get_bytes: u64,
}

impl Requests {
    fn cost(&self, p: &Prices) -> f64 {
        (self.put + self.list) as f64 * p.s3_put + self.get as f64 * p.s3_get
    }
}

/// A [`MemoryStore`] that counts requests; data objects' bodies are dropped (only their sizes
/// are kept), reserved folders (`_batches/`, registry, control) are kept for the compactor.
#[derive(Default)]
pub struct CountingStore {
    inner: MemoryStore,
    requests: Mutex<Requests>,
    data: Mutex<BTreeMap<String, u64>>,
}

impl CountingStore {
    fn count(&self, f: impl FnOnce(&mut Requests)) {
        f(&mut self.requests.lock().unwrap_or_else(|p| p.into_inner()));
    }
    /// The requests so far, and the counter reset.
    pub fn take(&self) -> Requests {
        std::mem::take(&mut self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }
    /// Data objects written (key, bytes), outside reserved folders.
    pub fn data_objects(&self) -> BTreeMap<String, u64> {
        self.data.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn kept(key: &str) -> bool {
    key.starts_with('_')
}

impl Store for CountingStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.count(|r| {
            r.put += 1;
            r.put_bytes += body.len() as u64;
        });
        if kept(key) {
            self.inner.put(key, body).await
        } else {
            let mut d = self.data.lock().unwrap_or_else(|p| p.into_inner());
            d.insert(key.to_string(), body.len() as u64);
            Ok(())
        }
    }
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let got = self.inner.get(key).await?;
        self.count(|r| {
            r.get += 1;
            r.get_bytes += got.as_ref().map_or(0, |(b, _)| b.len() as u64);
        });
        Ok(got)
    }
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        self.count(|r| {
            r.put += 1;
            r.put_bytes += body.len() as u64;
        });
        self.inner.put_if(key, body, pre).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let out = self.inner.list(prefix).await?;
        self.count(|r| r.list += (out.len() as u64).div_ceil(1000).max(1));
        Ok(out)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.count(|r| r.delete += 1);
        self.inner.delete(key).await
    }
    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let out = self.inner.list_folders(prefix).await?;
        self.count(|r| r.list += (out.len() as u64).div_ceil(1000).max(1));
        Ok(out)
    }
    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        self.inner.leftovers(prefix).await
    }
    fn location(&self, key: &str) -> String {
        format!("memory://{key}")
    }
}

/// What a scenario cost.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario.
    pub scenario: Scenario,
    /// Changes delivered.
    pub changes: u64,
    /// Source bytes (DMS messages) delivered.
    pub message_bytes: u64,
    /// Lambda invocations of the ingest function.
    pub invocations: u64,
    /// The ingest function's requests.
    pub ingest: Requests,
    /// The ingest function's measured CPU time.
    pub ingest_cpu: Duration,
    /// The ingest function's billed GB-seconds (model above).
    pub ingest_gb_s: f64,
    /// The compactor's requests (zero in `objects = table`).
    pub compaction: Requests,
    /// The compactor's measured CPU time.
    pub compaction_cpu: Duration,
    /// The compactor's billed GB-seconds.
    pub compaction_gb_s: f64,
    /// Per-table data objects at the end (after compaction in `objects = batch`).
    pub table_objects: u64,
    /// Their bytes.
    pub table_bytes: u64,
}

/// Dollars per million changes, by part.
#[derive(Debug, Clone, Copy)]
pub struct Bill {
    /// S3 requests of the ingest function.
    pub ingest_s3: f64,
    /// Lambda (GB-s and requests) of the ingest function.
    pub ingest_lambda: f64,
    /// S3 requests of the compactor.
    pub compaction_s3: f64,
    /// Lambda of the compactor (GB-s and scheduled invocations).
    pub compaction_lambda: f64,
}

impl Bill {
    /// The whole bill per million changes.
    pub fn total(&self) -> f64 {
        self.ingest_s3 + self.ingest_lambda + self.compaction_s3 + self.compaction_lambda
    }
}

impl Outcome {
    /// The bill per million changes.
    pub fn bill(&self, p: &Prices) -> Bill {
        let per_m = 1e6 / self.changes.max(1) as f64;
        // The compactor runs on a schedule: one invocation per window at least.
        let runs = (self.scenario.seconds as f64 / 3600.0).max(1.0);
        Bill {
            ingest_s3: self.ingest.cost(p) * per_m,
            ingest_lambda: (self.ingest_gb_s * p.lambda_gb_s
                + self.invocations as f64 * p.lambda_request)
                * per_m,
            compaction_s3: self.compaction.cost(p) * per_m,
            compaction_lambda: if self.scenario.objects == Objects::Batch {
                (self.compaction_gb_s * p.lambda_gb_s + runs * p.lambda_request) * per_m
            } else {
                0.0
            },
        }
    }

    /// Firehose with dynamic partitioning by table (JSON to S3, one object per table with data
    /// per buffer interval), per million changes: 5 KB-rounded ingestion, per-GB partitioning,
    /// per-object fee, and the S3 PUT of each object.
    pub fn firehose_dynamic_partitioning(&self, p: &Prices) -> f64 {
        let avg = self.message_bytes as f64 / self.changes.max(1) as f64;
        let billed = self.changes as f64 * (avg / 5120.0).ceil() * 5120.0 / GB;
        let objects = self.firehose_objects();
        let dollars = billed * p.firehose_ingest_gb
            + self.message_bytes as f64 / GB * p.firehose_dp_gb
            + objects * (p.firehose_dp_object + p.s3_put);
        dollars * 1e6 / self.changes.max(1) as f64
    }

    /// Firehose to Iceberg tables: per-GB ingestion without rounding, plus per table and
    /// buffer interval with data one data file and one commit (manifest, manifest list and
    /// metadata file written, the current metadata and manifest list read).
    pub fn firehose_iceberg(&self, p: &Prices) -> f64 {
        let commits = self.firehose_objects();
        let dollars = self.message_bytes as f64 / GB * p.firehose_iceberg_gb
            + commits * (4.0 * p.s3_put + 2.0 * p.s3_get);
        dollars * 1e6 / self.changes.max(1) as f64
    }

    /// Per-table data objects a table gets per day: a batch lake's compacted objects per window,
    /// times windows per day; a table lake's objects per hour simulated, times 24.
    pub fn objects_per_table_day(&self) -> f64 {
        let s = &self.scenario;
        let per_table = self.table_objects as f64 / s.tables as f64;
        match s.objects {
            Objects::Batch => {
                let window = s.compaction_window_hours.max(1) as f64 * 3600.0;
                let windows = (s.seconds as f64 / window).ceil().max(1.0);
                per_table / windows * 24.0 / s.compaction_window_hours.max(1) as f64
            }
            Objects::Table => per_table / (s.seconds as f64 / 3600.0) * 24.0,
        }
    }

    /// Changes the compactor lays out per second of its CPU time (one thread).
    pub fn compaction_throughput(&self) -> f64 {
        self.changes as f64 / self.compaction_cpu.as_secs_f64().max(1e-9)
    }

    /// Objects Firehose delivers: per table, one per buffer interval that has a change of it.
    fn firehose_objects(&self) -> f64 {
        let s = &self.scenario;
        let intervals = (s.seconds as f64 / s.firehose_interval_secs as f64).ceil();
        let per_interval = self.changes as f64 / intervals / s.tables as f64;
        // Chance that a table has at least one change in an interval (uniform tables).
        let touched = 1.0 - (-per_interval).exp();
        intervals * s.tables as f64 * touched
    }
}

/// A pseudo-random sequence (splitmix64), so every run of a scenario sends the same changes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Start of the simulated stretch: 2026-11-02T00:00:00Z, a Monday (µs since the epoch).
const START_US: i64 = 1_762_041_600_000_000;

/// One DMS update message of about 1 KiB: an order-like row with a note of varying text.
fn message(r: &mut Rng, table: usize, at_us: i64) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "shipped",
        "pending",
        "refund",
        "warehouse",
        "express",
        "customer",
        "invoice",
        "returned",
        "priority",
        "standard",
        "gift",
        "address",
        "changed",
        "delayed",
        "pallet",
        "courier",
    ];
    let mut note = String::with_capacity(640);
    while note.len() < 600 {
        note.push_str(WORDS[(r.next() % 16) as usize]);
        note.push(' ');
    }
    let ts = crate::model::time::format_timestamp(at_us);
    let id = r.next() % 1_000_000;
    serde_json::to_vec(&serde_json::json!({
        "data": {
            "id": id, "customer_id": r.next() % 100_000, "status": WORDS[(r.next() % 4) as usize],
            "quantity": r.next() % 50, "amount": format!("{}.{:02}", r.next() % 10_000, r.next() % 100),
            "note": note, "updated_at": ts,
        },
        "metadata": {
            "timestamp": ts, "record-type": "data", "operation": "update",
            "partition-key-type": "schema-table", "schema-name": "public",
            "table-name": format!("table_{table:03}"), "transaction-id": id * 7 + 1,
        }
    }))
    .unwrap_or_default()
}

/// The simulated stream's one shard.
const SHARD: &str = "shardId-000000000000";

/// One Kinesis record of a Lambda event (`first`: no leading comma).
fn kinesis_record(
    shard: &str,
    seq: u64,
    table: usize,
    msg: &[u8],
    at_us: i64,
    first: bool,
) -> String {
    format!(
        "{}{{\"kinesis\":{{\"kinesisSchemaVersion\":\"1.0\",\"partitionKey\":\"public.table_{table:03}\",\"sequenceNumber\":\"{seq:056}\",\"data\":\"{}\",\"approximateArrivalTimestamp\":{}}},\"eventSource\":\"aws:kinesis\",\"eventID\":\"{shard}:{seq:056}\",\"eventSourceARN\":\"arn:aws:kinesis:us-east-1:111122223333:stream/cdc\",\"awsRegion\":\"us-east-1\"}}",
        if first { "" } else { "," },
        base64::engine::general_purpose::STANDARD.encode(msg),
        at_us as f64 / 1e6,
    )
}

/// Lambda's payload limit for one invocation.
const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

/// The Kinesis events the event source mapping makes of the stream, one at a time:
/// `(event bytes, records, message bytes, arrival of the last record)`.
struct Deliveries {
    s: Scenario,
    rng: Rng,
    next: u64,
    total: u64,
}

impl Iterator for Deliveries {
    type Item = (Vec<u8>, u64, u64, i64);
    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.total {
            return None;
        }
        let step_us = 1_000_000 / self.s.rate.max(1) as i64;
        let first_us = START_US + self.next as i64 * step_us;
        // The batch closes at the window's end (1 s polling without a window), at BatchSize
        // records, or before the payload would pass 6 MB.
        let close_us = first_us + self.s.window_secs.max(1) as i64 * 1_000_000;
        let mut out = Vec::with_capacity(PAYLOAD_LIMIT);
        out.extend_from_slice(b"{\"Records\":[");
        let (mut n, mut bytes, mut last) = (0u64, 0u64, first_us);
        while self.next < self.total && (n as usize) < self.s.batch_size {
            let at = START_US + self.next as i64 * step_us;
            if at >= close_us {
                break;
            }
            let table = (self.rng.next() % self.s.tables as u64) as usize;
            let msg = message(&mut self.rng, table, at);
            let record = kinesis_record(SHARD, self.next + 1, table, &msg, at, n == 0);
            if out.len() + record.len() + 2 > PAYLOAD_LIMIT && n > 0 {
                break;
            }
            out.extend_from_slice(record.as_bytes());
            n += 1;
            bytes += msg.len() as u64;
            last = at;
            self.next += 1;
        }
        out.extend_from_slice(b"]}");
        Some((out, n, bytes, last))
    }
}

/// Runs one scenario: the stream through the handler, then (in `objects = batch`) the compactor
/// once every window has closed. `progress` is told the share of the stream delivered.
pub async fn simulate(s: &Scenario, progress: &mut dyn FnMut(f64)) -> Result<Outcome, String> {
    let store = CountingStore::default();
    let config = Config {
        layout: Layout {
            objects: s.objects,
            ..Layout::default()
        },
        await_table_def: Duration::ZERO,
        encode_threads: 1,
        ..Config::default()
    };
    let handler = Handler::new(config, "", &store);
    // Steady state: the tables are registered and the function is warm (its registry cached),
    // so the first change of each table costs no registration here. The warm-up's own objects
    // are removed and its requests not counted.
    let mut warm_rng = Rng(7);
    let warm: Vec<String> = (0..s.tables)
        .map(|t| {
            let at = START_US - 86_400_000_000;
            let msg = message(&mut warm_rng, t, at);
            kinesis_record("shardId-999999999999", t as u64 + 1, t, &msg, at, t == 0)
        })
        .collect();
    let warm = format!("{{\"Records\":[{}]}}", warm.concat());
    handler
        .handle(warm.as_bytes())
        .await
        .map_err(|e| format!("warm-up: {e}"))?;
    for key in store.inner.keys() {
        if !key.starts_with(crate::lake::keys::SCHEMAS) && key != crate::lake::keys::LAYOUT {
            store.inner.remove(&key);
        }
    }
    store.data.lock().unwrap_or_else(|p| p.into_inner()).clear();
    store.take();
    let deliveries = Deliveries {
        s: s.clone(),
        rng: Rng(s.tables as u64 * 1_000 + s.rate as u64),
        next: 0,
        total: s.rate as u64 * s.seconds as u64,
    };
    let total = s.rate as u64 * s.seconds as u64;
    let (mut changes, mut message_bytes, mut invocations) = (0, 0, 0);
    let (mut cpu, mut gb_s) = (Duration::ZERO, 0.0);
    let mut last_arrival = START_US;
    let stretch = (FULL_VCPU_MB / s.memory_mb as f64).max(1.0);
    for (event, n, bytes, last) in deliveries {
        let puts_before = store.requests.lock().map(|r| r.put).unwrap_or(0);
        let t = Instant::now();
        let (resp, _) = handler.handle(&event).await.map_err(|e| e.to_string())?;
        let took = t.elapsed();
        if !resp.batch_item_failures.is_empty() {
            return Err(format!("a batch failed: {:?}", resp.batch_item_failures));
        }
        let puts = store.requests.lock().map(|r| r.put).unwrap_or(0) - puts_before;
        let waits = puts.div_ceil(16) as f64 * S3_WAIT.as_secs_f64();
        // Billed in 1 ms steps.
        let billed = ((took.as_secs_f64() * stretch + waits) * 1000.0).ceil() / 1000.0;
        gb_s += billed * s.memory_mb as f64 / 1024.0;
        cpu += took;
        changes += n;
        message_bytes += bytes;
        invocations += 1;
        last_arrival = last;
        if invocations % 50 == 0 {
            progress(changes as f64 / total.max(1) as f64);
        }
    }
    let ingest = store.take();

    let (mut compaction, mut compaction_cpu, mut compaction_gb_s) =
        (Requests::default(), Duration::ZERO, 0.0);
    if s.objects == Objects::Batch {
        let lake = Lake::open_for_read(&store, "")
            .await
            .map_err(|e| e.to_string())?;
        let o = CompactOptions {
            window_hours: s.compaction_window_hours,
            // The template's setting for its 1,024 MB function.
            max_input_bytes: s.compaction_max_input_mb << 20,
            // Every window closed: a day after the last arrival.
            now_us: last_arrival + 86_400_000_000 + 3_600_000_000,
            ..CompactOptions::default()
        };
        let t = Instant::now();
        match compact(&lake, &o, |_| {}).await {
            Ok(r) if r.open_objects == 0 => {}
            Ok(r) => return Err(format!("compaction left {} objects", r.open_objects)),
            Err(CompactionError::Empty(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        compaction_cpu = t.elapsed();
        compaction = store.take();
        let requests = compaction.put + compaction.get + compaction.list + compaction.delete;
        let stretch = (FULL_VCPU_MB / s.compaction_memory_mb as f64).max(1.0);
        // The compactor reads and removes 16 objects at a time.
        let seconds = compaction_cpu.as_secs_f64() * stretch
            + requests.div_ceil(16) as f64 * S3_WAIT.as_secs_f64();
        compaction_gb_s = seconds * s.compaction_memory_mb as f64 / 1024.0;
    }
    let data = store.data_objects();
    Ok(Outcome {
        scenario: s.clone(),
        changes,
        message_bytes,
        invocations,
        ingest,
        ingest_cpu: cpu,
        ingest_gb_s: gb_s,
        compaction,
        compaction_cpu,
        compaction_gb_s,
        table_objects: data.len() as u64,
        table_bytes: data.values().sum(),
    })
}

/// The markdown table of outcomes: per scenario, both modes' bill per million changes beside
/// Firehose's, and the read side (objects per table per day, rows per object).
pub fn table(outcomes: &[Outcome], p: &Prices) -> String {
    let mut out = String::from(
        "| tables | changes/s | objects | invocations /h | PUT+LIST /h (ingest + compaction) | GET /h | Lambda GB-s /h | ingest $/M | compaction $/M | **total $/M** | Firehose DP $/M | Firehose Iceberg $/M | objects /table/day | rows /object |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for o in outcomes {
        let s = &o.scenario;
        let hours = s.seconds as f64 / 3600.0;
        let b = o.bill(p);
        let per_h = |v: u64| v as f64 / hours;
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0} + {:.0} | {:.0} + {:.0} | {:.1} + {:.1} | {:.4} | {:.4} | **{:.4}** | {:.4} | {:.4} | {:.0} | {:.0} |\n",
            s.tables,
            s.rate,
            match s.objects {
                Objects::Table => "table",
                Objects::Batch => "batch",
            },
            per_h(o.invocations),
            per_h(o.ingest.put + o.ingest.list),
            per_h(o.compaction.put + o.compaction.list),
            per_h(o.ingest.get),
            per_h(o.compaction.get),
            o.ingest_gb_s / hours,
            o.compaction_gb_s / hours,
            b.ingest_s3 + b.ingest_lambda,
            b.compaction_s3 + b.compaction_lambda,
            b.total(),
            o.firehose_dynamic_partitioning(p),
            o.firehose_iceberg(p),
            o.objects_per_table_day(),
            o.changes as f64 / o.table_objects.max(1) as f64,
        ));
    }
    out
}
