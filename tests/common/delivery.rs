//! The Kinesis event source mapping as Lambda drives the handler, simulated: invocations whose
//! writes are cut off midway (failed or timed-out invocations), retries of the whole batch or
//! from the sequence number the response reports, bisection of a failing batch, and successful
//! responses lost (the batch comes again, possibly cut shorter). One simulator for every test
//! that replays events the way Lambda delivers them (tests/delivery.rs, tests/oracle.rs,
//! tests/iceberg_oracle.rs).

use super::{Flaky, Lcg};
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::sim::generate::Workload;
use cdc_sink::store::Store;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// A sink whose writes fail once its budget is spent: how an invocation is cut off.
pub trait Budget {
    fn budget(&self) -> &AtomicI64;
}

impl<S> Budget for Flaky<S> {
    fn budget(&self) -> &AtomicI64 {
        &self.budget
    }
}

/// How the simulated event source mapping treats a batch.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// One invocation in four is cut off after fewer than this many writes.
    pub cut_below: u64,
    /// A failed batch is retried from the sequence number the response reports (partial batch
    /// responses); otherwise the whole batch comes again.
    pub from_reported: bool,
    /// One successful response in eight is lost: the batch comes again from the same record,
    /// possibly cut shorter.
    pub lost_responses: bool,
}

/// Whole-batch retries and bisection, writes cut after 0 to 2 objects, no lost responses.
pub const WHOLE_BATCH: Retries = Retries {
    cut_below: 3,
    from_reported: false,
    lost_responses: false,
};

/// What the simulator did.
#[derive(Debug, Default)]
pub struct Tally {
    pub invocations: AtomicU64,
    pub failures: AtomicU64,
    pub bisections: AtomicU64,
    pub lost_responses: AtomicU64,
}

/// The records of a Lambda Kinesis event.
pub fn records(event: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(event).unwrap();
    v["Records"].as_array().unwrap().clone()
}

/// The Lambda Kinesis event of `records`.
pub fn event_of(records: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

/// The events of a workload in a consumption order Lambda could produce: each shard in order,
/// shards interleaved at random.
pub fn interleave(w: &Workload, r: &mut Lcg) -> Vec<Vec<u8>> {
    let mut shards: Vec<&str> = w.events.iter().map(|e| e.shard.as_str()).collect();
    shards.dedup();
    let mut queues: Vec<Vec<&Vec<u8>>> = shards
        .iter()
        .map(|s| {
            w.events
                .iter()
                .filter(|e| e.shard == *s)
                .map(|e| &e.bytes)
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        let live: Vec<usize> = (0..queues.len())
            .filter(|&i| !queues[i].is_empty())
            .collect();
        let q = live[r.next(live.len() as u64) as usize];
        out.push(queues[q].remove(0).clone());
    }
    out
}

/// One invocation; `None` on success, else the position of the record to retry from.
async fn invoke<K: Store + Store + Budget>(
    h: &Handler<K>,
    recs: &[Value],
    rng: &Mutex<Lcg>,
    how: &Retries,
    t: &Tally,
) -> Option<usize> {
    let cut = {
        let mut r = rng.lock().unwrap();
        if r.next(4) == 0 {
            r.next(how.cut_below) as i64
        } else {
            i64::MAX
        }
    };
    h.lake.store().inner().budget().store(cut, Ordering::SeqCst);
    t.invocations.fetch_add(1, Ordering::SeqCst);
    let (resp, _) = h.handle(&event_of(recs)).await.unwrap();
    let failed = resp.batch_item_failures.first()?;
    t.failures.fetch_add(1, Ordering::SeqCst);
    if !how.from_reported {
        return Some(0);
    }
    let id = failed.item_identifier.clone().unwrap_or_default();
    // Lambda retries from the reported record (an empty identifier means the whole batch).
    Some(
        recs.iter()
            .position(|r| r["kinesis"]["sequenceNumber"] == json!(id))
            .unwrap_or(0),
    )
}

/// Delivers `recs` until it is checkpointed, as the event source mapping does.
pub async fn deliver<K: Store + Store + Budget>(
    h: &Handler<K>,
    recs: &[Value],
    rng: &Mutex<Lcg>,
    how: &Retries,
    t: &Tally,
) {
    let mut start = 0;
    while start < recs.len() {
        match invoke(h, &recs[start..], rng, how, t).await {
            None => {
                // Success, but now and then the response is lost (a timeout after the writes):
                // the batch comes again from the same record, possibly cut shorter. The
                // checkpoint then lands after the re-delivered part, and the rest comes again.
                let again = how.lost_responses && rng.lock().unwrap().next(8) == 0;
                if !again {
                    return;
                }
                t.lost_responses.fetch_add(1, Ordering::SeqCst);
                let len = 1 + rng.lock().unwrap().next((recs.len() - start) as u64) as usize;
                Box::pin(deliver(h, &recs[start..start + len], rng, how, t)).await;
                start += len;
            }
            Some(pos) => {
                start += pos;
                let bisect = recs.len() - start > 1 && rng.lock().unwrap().next(2) == 0;
                if bisect {
                    t.bisections.fetch_add(1, Ordering::SeqCst);
                    let mid = start + (recs.len() - start) / 2;
                    Box::pin(deliver(h, &recs[start..mid], rng, how, t)).await;
                    Box::pin(deliver(h, &recs[mid..], rng, how, t)).await;
                    return;
                }
            }
        }
    }
}

/// [`deliver`] with a generator owned by one caller (no lanes run concurrently); returns the
/// failed invocations.
pub async fn deliver_one<K: Store + Store + Budget>(
    h: &Handler<K>,
    recs: &[Value],
    r: &mut Lcg,
    how: &Retries,
) -> u32 {
    let rng = Mutex::new(Lcg(r.0));
    let t = Tally::default();
    deliver(h, recs, &rng, how, &t).await;
    *r = rng.into_inner().unwrap();
    t.failures.load(Ordering::SeqCst) as u32
}
