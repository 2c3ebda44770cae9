//! Candidate crates for the hot path, measured on the benchmark's own 6 MB event
//! (`cdc_sink::sim::bench::full_event`, json-unformatted, 4 tables). Each line is the median of the
//! timed runs, per event and per record. The results and the choices made from them are in
//! BENCHMARKS.md.
//!
//! Run: `cargo run --release --manifest-path compare/Cargo.toml [-- ITERATIONS]`; add
//! `RUSTFLAGS="-C target-cpu=x86-64-v3"` to let sonic-rs and simd-json use AVX2 at compile time
//! (they do not detect it at run time).

use cdc_sink::decode::value::Text;
use serde::de::{self, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::hint::black_box;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

/// The Lambda event; `D` is how `kinesis.data` is read (`Text` or `Bytes`).
#[derive(Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct EventDoc<'a, D> {
    #[serde(rename = "Records", borrow)]
    records: Vec<RecordDoc<'a, D>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct RecordDoc<'a, D> {
    #[serde(borrow)]
    kinesis: KinesisDoc<'a, D>,
    #[serde(rename = "eventID", borrow)]
    event_id: Text<'a>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "D: Deserialize<'de>"))]
struct KinesisDoc<'a, D> {
    #[serde(rename = "partitionKey", borrow)]
    partition_key: Text<'a>,
    #[serde(rename = "sequenceNumber", borrow)]
    sequence_number: Text<'a>,
    data: D,
    #[serde(rename = "approximateArrivalTimestamp")]
    arrival: f64,
}

/// The payload's length, whichever way it was read.
trait Payload {
    fn len(&self) -> usize;
}

impl Payload for Text<'_> {
    fn len(&self) -> usize {
        str::len(self)
    }
}

impl Payload for Bytes<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Adds up what each record holds, so every parser is checked to read the same event.
fn checksum<D: Payload>(d: &EventDoc<'_, D>) -> usize {
    d.records
        .iter()
        .map(|r| {
            r.kinesis.data.len()
                + r.kinesis.partition_key.len()
                + r.kinesis.sequence_number.len()
                + r.event_id.len()
                + (r.kinesis.arrival > 0.0) as usize
        })
        .sum()
}

/// A JSON string read with `deserialize_bytes`: escapes processed, no UTF-8 or control-character
/// check, found with memchr2.
struct Bytes<'a>(std::borrow::Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Bytes<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Bytes<'a>, E> {
                Ok(Bytes(v.into()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes<'a>, E> {
                Ok(Bytes(v.to_vec().into()))
            }
        }
        d.deserialize_bytes(V(PhantomData))
    }
}

/// A DMS message parsed in one pass: metadata, and the row's fields with their raw values.
#[derive(Deserialize)]
struct Message<'a, V> {
    #[serde(borrow)]
    metadata: cdc_sink::decode::dms::Metadata<'a>,
    #[serde(borrow)]
    data: Option<Fields<'a, V>>,
}

/// The earlier decoder's shape: `data` kept raw, its fields parsed in a second pass.
#[derive(Deserialize)]
struct TwoPass<'a> {
    #[serde(borrow)]
    metadata: cdc_sink::decode::dms::Metadata<'a>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

struct Fields<'a, V>(Vec<(Text<'a>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Fields<'a, V> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct F<'a, V>(PhantomData<(&'a (), V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for F<'a, V> {
            type Value = Fields<'a, V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(16);
                while let Some(e) = m.next_entry()? {
                    v.push(e);
                }
                Ok(Fields(v))
            }
        }
        d.deserialize_map(F(PhantomData))
    }
}

fn median(iterations: usize, mut f: impl FnMut() -> usize) -> Duration {
    let mut runs: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}

fn report(what: &str, d: Duration, records: usize) {
    println!(
        "| {what} | {:.2} ms | {:.3} µs |",
        d.as_secs_f64() * 1e3,
        d.as_secs_f64() * 1e6 / records as f64
    );
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(31);
    let event = cdc_sink::sim::bench::full_event(1, 4, 1.0);
    let doc: EventDoc<Text> = serde_json::from_slice(&event).expect("the generated event parses");
    let n = doc.records.len();
    let expected = checksum(&doc);
    println!(
        "event: {:.2} MB, {n} records; target-cpu features: avx2={}\n",
        event.len() as f64 / 1_048_576.0,
        cfg!(target_feature = "avx2")
    );
    println!("| candidate | per event | per record |\n|---|---|---|");

    // Envelope: the Lambda event into borrowed records.
    report(
        "envelope: serde_json 1 (from_slice, borrowed)",
        median(iterations, || {
            let d: EventDoc<Text> = serde_json::from_slice(&event).unwrap();
            assert_eq!(checksum(&d), expected);
            d.records.len()
        }),
        n,
    );
    report(
        "envelope: serde_json 1 (from_str after one from_utf8 of the event)",
        median(iterations, || {
            let text = std::str::from_utf8(&event).unwrap();
            let d: EventDoc<Text> = serde_json::from_str(text).unwrap();
            assert_eq!(checksum(&d), expected);
            d.records.len()
        }),
        n,
    );
    report(
        "envelope: serde_json 1 (from_str after from_utf8; data read as bytes, memchr2 scan)",
        median(iterations, || {
            let text = std::str::from_utf8(&event).unwrap();
            let d: EventDoc<Bytes> = serde_json::from_str(text).unwrap();
            assert_eq!(checksum(&d), expected);
            d.records.len()
        }),
        n,
    );
    report(
        "envelope: serde_json 1 (from_slice; data read as bytes, memchr2 scan)",
        median(iterations, || {
            let d: EventDoc<Bytes> = serde_json::from_slice(&event).unwrap();
            assert_eq!(checksum(&d), expected);
            d.records.len()
        }),
        n,
    );
    report(
        "envelope: sonic-rs 0.5 (from_slice, borrowed)",
        median(iterations, || {
            let d: EventDoc<Text> = sonic_rs::from_slice(&event).unwrap();
            assert_eq!(checksum(&d), expected);
            d.records.len()
        }),
        n,
    );
    let mut copy = event.clone();
    report(
        "envelope: simd-json 0.19 (serde, in place; copy of the event included)",
        median(iterations, || {
            copy.copy_from_slice(&event);
            let d: EventDoc<Text> = simd_json::serde::from_slice(&mut copy).unwrap();
            assert_eq!(checksum(&d), expected);
            d.records.len()
        }),
        n,
    );

    // Base64: every record's data into one reused buffer.
    let datas: Vec<&str> = doc.records.iter().map(|r| &*r.kinesis.data).collect();
    let mut buf = Vec::with_capacity(1 << 16);
    let decoded_total = |buf: &mut Vec<u8>, f: &mut dyn FnMut(&str, &mut Vec<u8>)| {
        let mut total = 0;
        for d in &datas {
            buf.clear();
            f(d, buf);
            total += buf.len();
        }
        total
    };
    let expected_len = decoded_total(&mut buf, &mut |d, b| {
        use base64_022::Engine;
        base64_022::engine::general_purpose::STANDARD
            .decode_vec(d, b)
            .unwrap()
    });
    report(
        "base64: base64 0.22 (GeneralPurpose, scalar)",
        median(iterations, || {
            use base64_022::Engine;
            let t = decoded_total(&mut buf, &mut |d, b| {
                base64_022::engine::general_purpose::STANDARD
                    .decode_vec(d, b)
                    .unwrap()
            });
            assert_eq!(t, expected_len);
            t
        }),
        n,
    );
    report(
        "base64: base64 0.23 (GeneralPurpose, scalar)",
        median(iterations, || {
            use base64_023::Engine;
            let t = decoded_total(&mut buf, &mut |d, b| {
                base64_023::engine::general_purpose::STANDARD
                    .decode_vec(d, b)
                    .unwrap()
            });
            assert_eq!(t, expected_len);
            t
        }),
        n,
    );
    let simd =
        base64_023::engine::simd::Simd::standard(base64_023::engine::GeneralPurposeConfig::new());
    report(
        "base64: base64 0.23 (Simd, runtime-detected AVX2/NEON)",
        median(iterations, || {
            use base64_023::Engine;
            let t = decoded_total(&mut buf, &mut |d, b| simd.decode_vec(d, b).unwrap());
            assert_eq!(t, expected_len);
            t
        }),
        n,
    );
    report(
        "base64: base64-simd 0.8 (decode_append, runtime-detected)",
        median(iterations, || {
            let t = decoded_total(&mut buf, &mut |d, b| {
                base64_simd::STANDARD.decode_append(d, b).unwrap()
            });
            assert_eq!(t, expected_len);
            t
        }),
        n,
    );

    // DMS message: metadata plus the row's fields (raw values), one pass over each message.
    let messages: Vec<Vec<u8>> = datas
        .iter()
        .map(|d| {
            use base64_022::Engine;
            base64_022::engine::general_purpose::STANDARD
                .decode(d)
                .unwrap()
        })
        .collect();
    let fields_total = |f: &dyn Fn(&[u8]) -> usize| messages.iter().map(|m| f(m)).sum::<usize>();
    let expected_fields = fields_total(&|m| {
        let msg: Message<&serde_json::value::RawValue> = serde_json::from_slice(m).unwrap();
        msg.data.map_or(0, |f| f.0.len()) + msg.metadata.operation.is_some() as usize
    });
    report(
        "DMS message: serde_json, two passes (data as &RawValue, then its fields re-parsed)",
        median(iterations, || {
            let t = fields_total(&|m| {
                let msg: TwoPass = serde_json::from_slice(m).unwrap();
                msg.data
                    .map_or(0, |d| cdc_sink::decode::dms::row_fields(d).unwrap().len())
                    + msg.metadata.operation.is_some() as usize
            });
            assert_eq!(t, expected_fields);
            t
        }),
        n,
    );
    let mut spare: Vec<cdc_sink::decode::dms::Field<'static>> = Vec::new();
    report(
        "DMS message: cdc-sink's dms::parse_message (serde_json, one pass, reused field vector)",
        median(iterations, || {
            let mut t = 0;
            for m in &messages {
                let mut fields = cdc_sink::decode::dms::recycle(std::mem::take(&mut spare));
                let msg = cdc_sink::decode::dms::parse_message(m, "before-image", &mut fields).unwrap();
                t += fields.len() + msg.metadata.operation.is_some() as usize;
                spare = cdc_sink::decode::dms::recycle(fields);
            }
            assert_eq!(t, expected_fields);
            t
        }),
        n,
    );
    report(
        "DMS message: serde_json, one pass (fields as &RawValue)",
        median(iterations, || {
            let t = fields_total(&|m| {
                let msg: Message<&serde_json::value::RawValue> = serde_json::from_slice(m).unwrap();
                msg.data.map_or(0, |f| f.0.len()) + msg.metadata.operation.is_some() as usize
            });
            assert_eq!(t, expected_fields);
            t
        }),
        n,
    );
    report(
        "DMS message: sonic-rs, one pass (fields as LazyValue)",
        median(iterations, || {
            let t = fields_total(&|m| {
                let msg: Message<sonic_rs::LazyValue> = sonic_rs::from_slice(m).unwrap();
                msg.data.map_or(0, |f| f.0.len()) + msg.metadata.operation.is_some() as usize
            });
            assert_eq!(t, expected_fields);
            t
        }),
        n,
    );
}
