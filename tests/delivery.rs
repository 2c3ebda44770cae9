//! A simulator of the Kinesis event source mapping driving the handler over thousands of
//! random schedules: batches of random size, writes cut off midway (failed or timed-out
//! invocations), retries from the reported sequence number, bisection, responses lost after
//! success (the batch comes again, possibly cut differently) and a parallelization factor of
//! 1 to 3 (lanes by partition key processed concurrently). In every schedule each input data
//! record must appear exactly once in the final output.

use crate::common;

use cdc_sink::config::Config;
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::sim::generate::{generate, GenOptions};
use cdc_sink::store::memory::MemoryStore;
use cdc_sink::store::Store;
use common::delivery::{deliver, Retries, Tally};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Objects in memory (S3 itself is proven by the S3 tests); writes fail once `budget` is spent.
type MemSink = Flaky<MemoryStore>;

/// One lane of a shard: consecutive batches of random size, each delivered until checkpointed.
async fn lane(h: &Handler<MemSink>, recs: Vec<Value>, rng: &Mutex<Lcg>, t: &Tally) {
    let how = Retries {
        cut_below: 4,
        from_reported: true,
        lost_responses: true,
    };
    let mut i = 0;
    while i < recs.len() {
        let len = 1 + rng.lock().unwrap().next(12) as usize;
        let end = (i + len).min(recs.len());
        deliver(h, &recs[i..end], rng, &how, t).await;
        i = end;
    }
}

fn lane_of(r: &Value, lanes: u64) -> u64 {
    let pk = r["kinesis"]["partitionKey"].as_str().unwrap_or("");
    pk.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    }) % lanes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_event_source_schedules_keep_every_record_exactly_once() {
    let schedules = 2_000u64;
    let tally = Tally::default();
    let mut checked = 0u64;
    for seed in 0..schedules {
        let w = generate(&GenOptions {
            seed,
            tables: 2,
            rows: 2,
            transactions: 6,
            shards: 1,
            records_per_event: 1000,
            ..GenOptions::default()
        });
        let recs: Vec<Value> = w
            .events
            .iter()
            .flat_map(|e| {
                serde_json::from_slice::<Value>(&e.bytes).unwrap()["Records"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .collect();
        let rng = Mutex::new(Lcg(seed));
        let factor = 1 + rng.lock().unwrap().next(3);
        let h = Handler::new(Config::default(), "", MemSink::default());
        // ParallelizationFactor: records of a shard split by partition key, lanes concurrent.
        let lanes: Vec<Vec<Value>> = (0..factor)
            .map(|l| {
                recs.iter()
                    .filter(|r| lane_of(r, factor) == l)
                    .cloned()
                    .collect()
            })
            .collect();
        futures::future::join_all(lanes.into_iter().map(|l| lane(&h, l, &rng, &tally))).await;

        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let memory = &h.lake.store().inner().inner;
        let keys = memory.keys();
        for key in keys.iter().filter(|k| k.ends_with(".parquet")) {
            let (body, _) = memory.get(key).await.unwrap().unwrap();
            for r in rows(&read_parquet(body.to_vec())) {
                let seq = r["cdc_seq"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('0')
                    .to_string();
                *seen.entry(seq).or_default() += 1;
                assert!(!key.is_empty());
            }
        }
        let data: Vec<String> = recs
            .iter()
            .filter(|r| {
                let m: Value =
                    serde_json::from_slice(&base64_decode(r["kinesis"]["data"].as_str().unwrap()))
                        .unwrap();
                m["metadata"]["record-type"] == "data"
            })
            .map(|r| {
                r["kinesis"]["sequenceNumber"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('0')
                    .to_string()
            })
            .collect();
        assert_eq!(
            data.len() as u64,
            w.tables.iter().map(|t| t.changes).sum::<u64>()
        );
        for s in &data {
            assert_eq!(
                seen.get(s),
                Some(&1),
                "seed {seed} (factor {factor}): record {s} appears {:?} times",
                seen.get(s)
            );
        }
        assert_eq!(
            seen.len(),
            data.len(),
            "seed {seed}: no row without an input record"
        );
        checked += data.len() as u64;
    }
    let g = |a: &AtomicU64| a.load(Ordering::SeqCst);
    println!(
        "simulator: {schedules} schedules, {} invocations, {} failed and retried from the reported sequence number, {} bisections, {} lost responses re-delivered, {checked} records checked exactly once",
        g(&tally.invocations), g(&tally.failures), g(&tally.bisections), g(&tally.lost_responses)
    );
    assert!(
        g(&tally.failures) > 1000 && g(&tally.bisections) > 100 && g(&tally.lost_responses) > 100
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
