//! A simulated PostgreSQL source under DMS: tables under random inserts, updates (some changing
//! the primary key), deletes and multi-row transactions, rendered as DMS writes them to Kinesis
//! (full load with its control records, then CDC; both message formats; omitted NULLs;
//! before-images), cut into Lambda Kinesis events by shard. It keeps the true final state of
//! every table, so tests can check what the lake's views return, and feeds the benchmarks.

use crate::model::change::TableId;
use crate::model::time::{format_timestamp, MICROS_PER_DAY};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Seed of the deterministic random generator: the same options give the same workload.
    pub seed: u64,
    /// Source tables simulated.
    pub tables: usize,
    /// Rows per table in the full load.
    pub rows: usize,
    /// CDC transactions after the full load.
    pub transactions: usize,
    /// Kinesis shards the records are spread over.
    pub shards: usize,
    /// Kinesis records per Lambda event (at most; the last event of a shard may hold fewer).
    pub records_per_event: usize,
    /// Share of messages in `json-unformatted` (the rest tab-indented `json`).
    pub unformatted_share: f64,
    /// Pad `name` values to about this many bytes (0: short names), for ~500-byte messages.
    pub name_bytes: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            seed: 1,
            tables: 3,
            rows: 20,
            transactions: 60,
            shards: 2,
            records_per_event: 25,
            unformatted_share: 0.5,
            name_bytes: 0,
        }
    }
}

/// One Lambda Kinesis event of the workload.
#[derive(Debug, Clone)]
pub struct GeneratedEvent {
    /// Kinesis shard id (`shardId-000000000000`).
    pub shard: String,
    /// `{shard}-{index:05}.json`, in delivery order per shard.
    pub name: String,
    /// The event as JSON (`{"Records": [...]}`), as Lambda delivers it.
    pub bytes: Vec<u8>,
    /// Kinesis records in the event.
    pub records: usize,
}

/// The true outcome of the simulation for one table.
#[derive(Debug, Clone)]
pub struct TableTruth {
    /// The source table.
    pub id: TableId,
    /// Final rows, canonical (see [`canonical`]), ordered by primary key.
    pub rows: Vec<Value>,
    /// Data records DMS emitted for the table (full load plus CDC).
    pub changes: u64,
}

/// A generated workload: the events, and what the lake must end up holding.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Every event, grouped by shard, in delivery order per shard.
    pub events: Vec<GeneratedEvent>,
    /// The final state of each table.
    pub tables: Vec<TableTruth>,
    /// Kinesis records in all events.
    pub records: u64,
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: i32,
    qty: i64,
    price_cents: i64,
    name: String,
    active: bool,
    updated_at: i64,
    note: Option<String>,
}

const NAMES: &[&str] = &[
    "Chloé Martin",
    "Åsa \"Ace\" Lindqvist",
    "O'Brien & Sons",
    "李雷",
    "tab\tinside",
    "plain",
];

fn price_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

impl Row {
    fn random(id: i32, now: i64, rng: &mut Rng, name_bytes: usize) -> Row {
        let mut name = NAMES[rng.below(NAMES.len() as u64) as usize].to_string();
        while name.len() < name_bytes {
            name.push_str(" lorem ipsum dolor");
        }
        Row {
            id,
            qty: rng.below(1_000_000_000_000) as i64 - 1_000,
            price_cents: rng.below(10_000_000) as i64 - 50_000,
            name,
            active: rng.chance(0.5),
            // Whole seconds sometimes, so DMS drops the fraction.
            updated_at: if rng.chance(0.3) {
                now - now % 1_000_000
            } else {
                now
            },
            note: if rng.chance(0.4) {
                None
            } else {
                Some(format!("note {}", rng.below(1000)))
            },
        }
    }

    /// The row as DMS sends it: booleans as "t"/"f", numeric as a JSON number, NULLs omitted
    /// (or JSON null with IncludeNullAndEmpty).
    fn dms(&self, include_null: bool) -> Value {
        let price: Value =
            serde_json::from_str(&price_text(self.price_cents)).unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("qty".into(), json!(self.qty));
        m.insert("price".into(), price);
        m.insert("name".into(), json!(self.name));
        m.insert("active".into(), json!(if self.active { "t" } else { "f" }));
        let ts = format_timestamp(self.updated_at);
        let ts = ts
            .strip_suffix(".000000Z")
            .map(|s| format!("{s}Z"))
            .unwrap_or(ts);
        m.insert("updated_at".into(), json!(ts));
        match (&self.note, include_null) {
            (Some(n), _) => {
                m.insert("note".into(), json!(n));
            }
            (None, true) => {
                m.insert("note".into(), Value::Null);
            }
            (None, false) => {}
        }
        Value::Object(m)
    }
}

/// The canonical form of a row, shared with the test's reading of the lake: integers as
/// numbers, numeric as its decimal text, timestamps as epoch microseconds.
pub fn canonical(
    id: i32,
    qty: i64,
    price: &str,
    name: &str,
    active: bool,
    updated_at_us: i64,
    note: Option<&str>,
) -> Value {
    json!({"id": id, "qty": qty, "price": price, "name": name, "active": active, "updated_at": updated_at_us, "note": note})
}

/// The table definition DMS sends with `create-table` (serde_json orders the columns by name).
fn table_def() -> Value {
    json!({"table-def": {"columns": {
        "id": {"type": "INT32", "nullable": false},
        "qty": {"type": "INT64", "nullable": false},
        "price": {"type": "NUMERIC", "precision": 12, "scale": 2, "nullable": false},
        "name": {"type": "STRING", "length": 200, "nullable": false},
        "active": {"type": "BOOLEAN", "nullable": false},
        "updated_at": {"type": "TIMESTAMP", "nullable": false},
        "note": {"type": "STRING", "nullable": true}
    }, "primary-key": ["id"]}})
}

/// A message in one of DMS's two formats: one line, or tab-indented with a tab after colons.
fn render(msg: &Value, unformatted: bool) -> Vec<u8> {
    if unformatted {
        return serde_json::to_vec(msg).unwrap_or_default();
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = serde::Serialize::serialize(msg, &mut ser);
    // DMS writes a tab after each colon.
    String::from_utf8(out)
        .unwrap_or_default()
        .replace("\": ", "\":\t")
        .into_bytes()
}

fn shard_of(partition_key: &str, shards: usize) -> usize {
    let h = partition_key
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
    (h % shards.max(1) as u64) as usize
}

struct Emitter {
    opts: GenOptions,
    /// Per shard: (partition key, time µs, message bytes).
    shards: Vec<Vec<(String, i64, Vec<u8>)>>,
}

impl Emitter {
    fn emit(&mut self, rng: &mut Rng, partition_key: String, t: i64, msg: &Value) {
        let s = shard_of(&partition_key, self.opts.shards);
        let bytes = render(msg, rng.chance(self.opts.unformatted_share));
        self.shards[s].push((partition_key, t, bytes));
    }
}

fn metadata(op: &str, record_type: &str, table: &TableId, dms_ts: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("timestamp".into(), json!(format_timestamp(dms_ts)));
    m.insert("record-type".into(), json!(record_type));
    m.insert("operation".into(), json!(op));
    m.insert(
        "partition-key-type".into(),
        json!(if record_type == "control" {
            "task-id"
        } else {
            "schema-table"
        }),
    );
    m.insert("schema-name".into(), json!(table.schema));
    m.insert("table-name".into(), json!(table.table));
    m
}

/// Runs the simulation.
pub fn generate(o: &GenOptions) -> Workload {
    let mut rng = Rng(o.seed ^ 0x5EED);
    let mut em = Emitter {
        opts: o.clone(),
        shards: vec![Vec::new(); o.shards.max(1)],
    };
    let ids: Vec<TableId> = (0..o.tables)
        .map(|i| TableId::new("public", format!("t{i}")))
        .collect();
    let mut state: Vec<BTreeMap<i32, Row>> = vec![BTreeMap::new(); o.tables];
    let mut next_id: Vec<i32> = vec![1; o.tables];
    let mut changes = vec![0u64; o.tables];
    // Start shortly before midnight so the changes span two days.
    let mut now = 20_395 * MICROS_PER_DAY + 23 * 3_600_000_000 + 55 * 60_000_000;
    let include_null = rng.chance(0.5);

    // Full load: drop-table and create-table per table, then the rows.
    for (ti, t) in ids.iter().enumerate() {
        for (op, control) in [("drop-table", json!({})), ("create-table", table_def())] {
            let mut m = metadata(op, "control", t, now);
            m.insert("partition-key-value".into(), json!("TASKID"));
            em.emit(
                &mut rng,
                "TASKID".into(),
                now,
                &json!({"control": control, "metadata": m}),
            );
            now += 1_000;
        }
        for _ in 0..o.rows {
            let id = next_id[ti];
            next_id[ti] += 1;
            let row = Row::random(id, now, &mut rng, o.name_bytes);
            let mut m = metadata("load", "data", t, now);
            m.insert("partition-key-type".into(), json!("primary-key"));
            m.insert("partition-key-value".into(), json!(format!("{t}.{id}")));
            em.emit(
                &mut rng,
                format!("{t}.{id}"),
                now,
                &json!({"data": row.dms(include_null), "metadata": m}),
            );
            state[ti].insert(id, row);
            changes[ti] += 1;
            now += 137;
        }
    }

    // CDC: transactions of 1 to 4 changes.
    let mut txn: i64 = 48_000_000;
    let mut lsn: u64 = 0x5A00_0000;
    for _ in 0..o.transactions {
        txn += 1 + rng.below(3) as i64;
        now += 1 + rng.below(20_000_000) as i64;
        let commit = now;
        let first_lsn = lsn;
        for rec in 1..=(1 + rng.below(4) as i64) {
            let ti = rng.below(o.tables as u64) as usize;
            let t = &ids[ti];
            let existing: Vec<i32> = state[ti].keys().copied().collect();
            let roll = rng.below(100);
            let (op, data, before) = if existing.is_empty() || roll < 35 {
                let id = next_id[ti];
                next_id[ti] += 1;
                let row = Row::random(id, commit, &mut rng, o.name_bytes);
                let d = row.dms(include_null);
                state[ti].insert(id, row);
                ("insert", d, None)
            } else if roll < 80 {
                let old = existing[rng.below(existing.len() as u64) as usize];
                let mut row = Row::random(old, commit, &mut rng, o.name_bytes);
                let before = if rng.chance(0.2) {
                    // A primary-key change: DMS sends the new row and the old key.
                    row.id = next_id[ti];
                    next_id[ti] += 1;
                    state[ti].remove(&old);
                    Some(json!({"id": old}))
                } else if rng.chance(0.5) {
                    Some(json!({}))
                } else {
                    None
                };
                let d = row.dms(include_null);
                state[ti].insert(row.id, row);
                ("update", d, before)
            } else {
                let id = existing[rng.below(existing.len() as u64) as usize];
                state[ti].remove(&id);
                ("delete", json!({"id": id}), None)
            };
            lsn += 1 + rng.below(0x400);
            let dms_ts = commit + 50_000 + rec * 10;
            let mut m = metadata(op, "data", t, dms_ts);
            m.insert("transaction-id".into(), json!(txn));
            m.insert("commit-timestamp".into(), json!(format_timestamp(commit)));
            m.insert(
                "stream-position".into(),
                json!(format!("{:08X}/{lsn:08X}.2.{:08X}/{first_lsn:08X}", 3, 3)),
            );
            m.insert("transaction-record-id".into(), json!(rec));
            let mut msg = Map::new();
            msg.insert("data".into(), data);
            if let Some(b) = before {
                msg.insert("before-image".into(), b);
            }
            msg.insert("metadata".into(), Value::Object(m));
            em.emit(&mut rng, t.to_string(), dms_ts, &Value::Object(msg));
            changes[ti] += 1;
        }
    }

    // Kinesis: sequence numbers per shard, then events of at most records_per_event.
    let mut events = Vec::new();
    let mut records = 0;
    for (s, recs) in em.shards.iter().enumerate() {
        let shard = format!("shardId-{s:012}");
        let mut arrival = 0i64;
        let with_seq: Vec<Value> = recs
            .iter()
            .enumerate()
            .map(|(i, (pk, t, bytes))| {
                arrival = arrival.max(t + 150_000);
                let seq = format!("4966{s:04}{:048}", i + 1);
                json!({
                    "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": pk, "sequenceNumber": seq,
                        "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                        "approximateArrivalTimestamp": (arrival / 1000) as f64 / 1000.0},
                    "eventSource": "aws:kinesis", "eventVersion": "1.0",
                    "eventID": format!("{shard}:{seq}"), "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::111122223333:role/cdc", "awsRegion": "eu-west-1",
                    "eventSourceARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/cdc"
                })
            })
            .collect();
        for (i, chunk) in with_seq.chunks(o.records_per_event.max(1)).enumerate() {
            records += chunk.len() as u64;
            events.push(GeneratedEvent {
                shard: shard.clone(),
                name: format!("{shard}-{i:05}.json"),
                bytes: serde_json::to_vec(&json!({ "Records": chunk })).unwrap_or_default(),
                records: chunk.len(),
            });
        }
    }
    let tables = ids
        .into_iter()
        .zip(state)
        .zip(changes)
        .map(|((id, rows), changes)| TableTruth {
            id,
            rows: rows
                .values()
                .map(|r| {
                    canonical(
                        r.id,
                        r.qty,
                        &price_text(r.price_cents),
                        &r.name,
                        r.active,
                        r.updated_at,
                        r.note.as_deref(),
                    )
                })
                .collect(),
            changes,
        })
        .collect();
    Workload {
        events,
        tables,
        records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_decodable() {
        let o = GenOptions::default();
        let (a, b) = (generate(&o), generate(&o));
        assert_eq!(a.events.len(), b.events.len());
        assert!(a
            .events
            .iter()
            .zip(&b.events)
            .all(|(x, y)| x.bytes == y.bytes));
        let total: u64 = a.tables.iter().map(|t| t.changes).sum();
        let control = 2 * o.tables as u64;
        assert_eq!(a.records, total + control);
        let cfg = crate::config::Config::default();
        let mut rows = 0;
        for e in &a.events {
            let batch =
                crate::pipeline::build_batch(&e.bytes, &cfg, &crate::schema::InferOnly).unwrap();
            assert_eq!(batch.counts.quarantined, 0, "{}", e.name);
            rows += batch.counts.rows();
        }
        assert_eq!(rows, total);
        assert!(
            a.events.iter().any(|e| e.shard.ends_with('1')),
            "several shards"
        );
    }
}
