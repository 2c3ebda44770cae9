//! Delivery semantics: under Lambda's whole-batch retries, bisection and writes cut off midway
//! (a failed or timed-out invocation), every data record ends up in exactly one row.

mod common;

use cdc_sink::config::Config;
use cdc_sink::handler::Handler;
use cdc_sink::sink::local::LocalDir;
use common::Flaky;
use common::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};

/// A small deterministic generator for schedules.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn sub_event(records: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

/// Delivers `records[range]` the way the event source mapping does after failures: the whole
/// batch is retried (sometimes bisected) until it succeeds.
async fn deliver(
    h: &Handler<Flaky>,
    records: &[serde_json::Value],
    rng: &mut Lcg,
    depth: u32,
) -> u32 {
    let mut failures = 0;
    loop {
        // Sometimes the invocation is cut off after a few writes.
        let budget = if rng.next(3) == 0 {
            rng.next(4) as i64
        } else {
            i64::MAX
        };
        h.sink.budget.store(budget, Ordering::SeqCst);
        let (resp, _) = h.handle(&sub_event(records)).await.unwrap();
        if resp.batch_item_failures.is_empty() {
            return failures;
        }
        failures += 1;
        let first = records[0]["kinesis"]["sequenceNumber"].as_str().unwrap();
        assert_eq!(
            resp.batch_item_failures[0].item_identifier.as_deref(),
            Some(first)
        );
        if records.len() > 1 && depth < 6 && rng.next(2) == 0 {
            // BisectBatchOnFunctionError: each half is delivered on its own, in order.
            let mid = records.len() / 2;
            failures += Box::pin(deliver(h, &records[..mid], rng, depth + 1)).await;
            failures += Box::pin(deliver(h, &records[mid..], rng, depth + 1)).await;
            return failures;
        }
    }
}

#[tokio::test]
async fn retries_bisection_and_cut_off_writes_leave_every_record_exactly_once() {
    let mut schedules = 0;
    let mut failures = 0;
    for (name, expected) in samples() {
        let event: serde_json::Value = serde_json::from_slice(&sample_bytes(&name)).unwrap();
        let records = event["Records"].as_array().unwrap().clone();
        for seed in 0..40u64 {
            let dir = tempfile::tempdir().unwrap();
            let sink = Flaky {
                inner: LocalDir::new(dir.path()),
                budget: AtomicI64::new(i64::MAX),
            };
            let h = Handler::new(Config::default(), String::new(), sink);
            let mut rng = Lcg(seed * 7919 + name.len() as u64);
            // The shard is consumed in batches of random size, each retried until it succeeds.
            let mut start = 0;
            while start < records.len() {
                let len = 1 + rng.next(records.len() as u64) as usize;
                let end = (start + len).min(records.len());
                failures += deliver(&h, &records[start..end], &mut rng, 0).await;
                start = end;
            }
            schedules += 1;
            let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (key, rows) in parquet_rows(dir.path()) {
                for r in rows {
                    seen.entry(
                        r["cdc_seq"]
                            .as_str()
                            .unwrap()
                            .trim_start_matches('0')
                            .to_string(),
                    )
                    .or_default()
                    .push(key.clone());
                }
            }
            let dups: Vec<_> = seen.iter().filter(|(_, keys)| keys.len() > 1).collect();
            assert!(
                dups.is_empty(),
                "{name} seed {seed}: rows in more than one object: {dups:#?}"
            );
            assert_eq!(
                seen.len() as u64,
                expected.rows(),
                "{name} seed {seed}: every data record once"
            );
        }
    }
    println!("delivery: {schedules} schedules, {failures} failed invocations retried, every record exactly once");
    assert!(
        failures > 150,
        "the schedules exercise failures ({failures})"
    );
}
