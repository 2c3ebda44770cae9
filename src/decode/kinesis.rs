//! The Lambda Kinesis event: parsed in one pass, borrowing every string from the event bytes.
//!
//! A document that is not a Kinesis event at all is an [`EventError`]; a single record that
//! lacks what cdc-sink needs (shard, sequence number, data) becomes a quarantine entry instead,
//! so one odd record never blocks the rest of the batch.

use crate::decode::value::Text;
use crate::model::time;
use base64::engine::general_purpose::PAD;
use base64::engine::simd::Simd;
use base64::Engine;
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The document is not a Lambda Kinesis event.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The bytes are not a `{"Records": [...]}` of Kinesis records; the message says why.
    #[error("not a Lambda Kinesis event: {0}")]
    NotKinesis(String),
}

#[derive(Deserialize)]
struct EventDoc<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<RecordDoc<'a>>>,
}

#[derive(Deserialize)]
struct RecordDoc<'a> {
    #[serde(borrow, default)]
    kinesis: Option<KinesisDoc<'a>>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct KinesisDoc<'a> {
    #[serde(rename = "partitionKey", borrow, default)]
    partition_key: Option<Text<'a>>,
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Option<Text<'a>>,
    #[serde(borrow, default)]
    data: Option<Base64Text<'a>>,
    #[serde(rename = "approximateArrivalTimestamp", default)]
    arrival: Option<f64>,
}

/// One Kinesis record of the event, as received.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// The shard id (the part of `eventID` before the colon), if present.
    pub shard: Option<Cow<'a, str>>,
    /// The decimal sequence number, if present.
    pub seq: Option<Cow<'a, str>>,
    /// The record's partition key; empty when absent.
    pub partition_key: Cow<'a, str>,
    /// Approximate arrival time in µs since the epoch, if present.
    pub arrival_us: Option<i64>,
    /// The record's payload, still base64-encoded (the JSON string's bytes, not yet checked:
    /// decoding checks every byte).
    pub data_b64: Option<Cow<'a, [u8]>>,
}

/// `kinesis.data`, read as the bytes of the JSON string. serde_json finds the end of such a
/// string with a SIMD search and skips the UTF-8 and control-character checks, which the base64
/// decoder makes redundant (it accepts only its 65 ASCII symbols). About 20% of the envelope's
/// cost on a 6 MB event (BENCHMARKS.md).
struct Base64Text<'a>(Cow<'a, [u8]>);

impl<'de: 'a, 'a> Deserialize<'de> for Base64Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Base64Text<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Base64Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Base64Text<'a>, E> {
                Ok(Base64Text(Cow::Borrowed(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Base64Text<'a>, E> {
                Ok(Base64Text(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Base64Text<'a>, E> {
                Ok(Base64Text(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Base64Text<'a>, E> {
                Ok(Base64Text(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        d.deserialize_bytes(V(std::marker::PhantomData))
    }
}

/// Why a Kinesis record cannot be identified (it then goes to quarantine).
pub fn identity_problem(r: &RawRecord<'_>) -> Option<String> {
    let seq = match &r.seq {
        None => return Some("record has no kinesis.sequenceNumber".into()),
        Some(s) => s,
    };
    if seq.is_empty()
        || seq.len() > crate::model::change::SEQ_WIDTH
        || !seq.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(format!(
            "sequence number {seq:?} is not 1 to 129 decimal digits"
        ));
    }
    match &r.shard {
        None => Some("record has no eventID (shard id)".into()),
        Some(s) if s.is_empty() => Some("eventID has an empty shard id".into()),
        Some(_) if r.arrival_us.is_none() => {
            Some("record has no valid kinesis.approximateArrivalTimestamp".into())
        }
        Some(_) if r.data_b64.is_none() => Some("record has no kinesis.data".into()),
        _ => None,
    }
}

/// The base64 engine for record payloads: AVX2 (x86-64) or NEON (arm64) when the CPU has it,
/// detected once, else the scalar engine. Same alphabet and strictness as
/// `general_purpose::STANDARD` (canonical padding required), about 2.7 times as fast here.
static PAYLOAD_BASE64: LazyLock<Simd> = LazyLock::new(|| Simd::standard(PAD));

/// Decodes a record's `kinesis.data` (base64) into `out`, appending.
pub fn decode_payload(data_b64: &[u8], out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    PAYLOAD_BASE64.decode_vec(data_b64, out)
}

/// What to wrap each record in, for messages about documents that are almost an event.
const EXPECTED: &str = "a Lambda Kinesis event is {\"Records\": [{\"kinesis\": {\"data\": BASE64, \
    \"sequenceNumber\": ..., \"partitionKey\": ..., \"approximateArrivalTimestamp\": SECONDS}, \
    \"eventID\": \"SHARD_ID:SEQUENCE_NUMBER\"}]}";

/// Names documents that people mistake for a Lambda Kinesis event (a GetRecords response, an
/// array), to say what they are and what was expected. Runs only on the error path.
fn diagnose(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let is_get_records_record =
        |r: &serde_json::Value| r.get("SequenceNumber").is_some() || r.get("Data").is_some();
    match &v {
        serde_json::Value::Array(a) if a.is_empty() => {
            Some(format!("the event is an empty JSON array; {EXPECTED}"))
        }
        serde_json::Value::Array(a) => Some(format!(
            "the event is a JSON array of {} items, not an object; {EXPECTED}",
            a.len()
        )),
        serde_json::Value::Object(o)
            if o.contains_key("NextShardIterator")
                || o.contains_key("MillisBehindLatest")
                || o.get("Records")
                    .and_then(|r| r.as_array())
                    .is_some_and(|r| r.iter().any(is_get_records_record)) =>
        {
            Some(format!(
                "this is a Kinesis GetRecords API response (\"Data\", \"SequenceNumber\" per \
                 record), not the event Lambda passes to a function; {EXPECTED}"
            ))
        }
        _ => None,
    }
}

/// One record to write into a Lambda Kinesis event ([`write_event`]): what a stream read-back
/// or a quarantine entry knows of it.
#[derive(Debug, Clone)]
pub struct EventRecord<'a> {
    /// The Kinesis partition key.
    pub partition_key: &'a str,
    /// The Kinesis sequence number.
    pub seq: &'a str,
    /// The record's data, base64-encoded as Lambda delivers it.
    pub data_base64: std::borrow::Cow<'a, str>,
    /// Approximate arrival time, in seconds since the epoch (Lambda's form).
    pub arrival_s: f64,
}

/// The Lambda Kinesis event Lambda would deliver for `records` of `shard` (the inverse of
/// [`parse_event`]): how recover and redrive run records through the same pipeline again.
pub fn write_event<'a>(
    stream_arn: &str,
    shard: &str,
    records: impl IntoIterator<Item = EventRecord<'a>>,
) -> Vec<u8> {
    let region = stream_arn.split(':').nth(3).unwrap_or("");
    let records: Vec<serde_json::Value> = records
        .into_iter()
        .map(|r| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.seq,
                    "data": r.data_base64,
                    "approximateArrivalTimestamp": r.arrival_s,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{shard}:{}", r.seq),
                "eventName": "aws:kinesis:record",
                "awsRegion": region,
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap_or_default()
}

/// Parses a Lambda Kinesis event.
pub fn parse_event(bytes: &[u8]) -> Result<Vec<RawRecord<'_>>, EventError> {
    // UTF-8 is validated once for the whole event (fast on ASCII), so the parser can skip
    // validating each string it borrows.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        EventError::NotKinesis(format!(
            "the event is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let doc: EventDoc<'_> = serde_json::from_str(text).map_err(|e| {
        EventError::NotKinesis(diagnose(text).unwrap_or_else(|| {
            format!("expected a JSON object {{\"Records\": [{{\"kinesis\": {{...}}, \"eventID\": ...}}]}}; {e}")
        }))
    })?;
    let records = doc.records.ok_or_else(|| {
        EventError::NotKinesis(
            diagnose(text).unwrap_or_else(|| "the JSON object has no \"Records\" array".into()),
        )
    })?;
    if !records.is_empty() && records.iter().all(|r| r.kinesis.is_none()) {
        return Err(EventError::NotKinesis(diagnose(text).unwrap_or_else(
            || "no record has a \"kinesis\" object (is this an SQS, SNS or DynamoDB event?)".into(),
        )));
    }
    Ok(records
        .into_iter()
        .map(|r| {
            let shard = r.event_id.map(|id| match id.0 {
                Cow::Borrowed(s) => Cow::Borrowed(s.split(':').next().unwrap_or("")),
                Cow::Owned(s) => Cow::Owned(s.split(':').next().unwrap_or("").to_string()),
            });
            let k = r.kinesis.unwrap_or(KinesisDoc {
                partition_key: None,
                sequence_number: None,
                data: None,
                arrival: None,
            });
            RawRecord {
                shard,
                seq: k.sequence_number.map(|t| t.0),
                partition_key: k.partition_key.map(|t| t.0).unwrap_or(Cow::Borrowed("")),
                arrival_us: k.arrival.and_then(time::epoch_seconds_to_micros),
                data_b64: k.data.map(|t| t.0),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD engine against the scalar one on valid and corrupted payloads of every length
    /// near the vector widths: the same bytes, or an error from both.
    #[test]
    fn simd_base64_agrees_with_scalar() {
        let scalar = base64::engine::general_purpose::STANDARD;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut simd_out, mut scalar_out) = (Vec::new(), Vec::new());
        for len in 0..300 {
            for round in 0..8 {
                let raw: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let mut text = scalar.encode(&raw).into_bytes();
                if round > 0 && !text.is_empty() {
                    // Corrupt one byte: another symbol, padding, whitespace, a quote or non-ASCII.
                    let at = next() as usize % text.len();
                    text[at] = b"A+/=\n \"\xff-_"[next() as usize % 10];
                }
                let text = String::from_utf8_lossy(&text);
                simd_out.clear();
                scalar_out.clear();
                let a = decode_payload(text.as_bytes(), &mut simd_out);
                let b = scalar.decode_vec(text.as_bytes(), &mut scalar_out);
                assert_eq!(a.is_ok(), b.is_ok(), "{text:?}: {a:?} vs {b:?}");
                assert_eq!(simd_out, scalar_out, "{text:?}");
                if round == 0 {
                    assert_eq!(simd_out, raw);
                }
            }
        }
    }

    #[test]
    fn reads_the_lambda_shape() {
        let ev = br#"{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"public.orders",
            "sequenceNumber":"49651234567890123456789012345678901234567890123456789012","data":"e30=",
            "approximateArrivalTimestamp":1763712000.123},"eventSource":"aws:kinesis",
            "eventID":"shardId-000000000003:49651234567890123456789012345678901234567890123456789012"}]}"#;
        let recs = parse_event(ev).unwrap();
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(r.shard.as_deref(), Some("shardId-000000000003"));
        assert_eq!(r.arrival_us, Some(1_763_712_000_123_000));
        assert!(matches!(r.data_b64, Some(Cow::Borrowed(b"e30="))));
        assert_eq!(identity_problem(r), None);
    }

    #[test]
    fn reads_data_as_the_json_strings_bytes() {
        let ev = |data: &str| {
            format!(
                r#"{{"Records":[{{"kinesis":{{"sequenceNumber":"1","data":"{data}",
                "approximateArrivalTimestamp":1}},"eventID":"s:1"}}]}}"#
            )
        };
        let decoded = |data: &str| {
            let ev = ev(data);
            let recs = parse_event(ev.as_bytes()).unwrap();
            let mut out = Vec::new();
            decode_payload(recs[0].data_b64.as_deref().unwrap(), &mut out).map(|_| out)
        };
        // JSON escapes are processed; the result is base64-decoded as usual.
        assert_eq!(decoded(r"e30\u003d").unwrap(), b"{}");
        assert_eq!(decoded(r"e\/8=").unwrap(), [0x7b, 0xff]);
        // Anything outside the base64 alphabet is a per-record base64 error, not an event error.
        assert!(decoded("e30\t=").is_err());
        assert!(decoded(r"e30=\u00e9").is_err());
        assert!(decoded(r"e30\u0000").is_err());
        // A lone surrogate escape is not valid UTF-8 once decoded: still one bad record.
        assert!(decoded(r"e30\uD800").is_err());
    }

    #[test]
    fn rejects_documents_that_are_not_kinesis_events() {
        for doc in [
            &b"[]"[..],
            b"{}",
            b"not json",
            br#"{"Records":[{"body":"sqs"}]}"#,
            b"{\"Records\":[\"\xff\"]}",
        ] {
            let e = parse_event(doc).unwrap_err().to_string();
            assert!(e.starts_with("not a Lambda Kinesis event"), "{e}");
        }
        assert!(parse_event(br#"{"Records":[]}"#).unwrap().is_empty());
        let e = parse_event(b" [ ] ").unwrap_err().to_string();
        assert!(
            e.contains("empty JSON array") && e.contains("\"Records\""),
            "{e}"
        );
        let get_records = br#"{"Records":[{"SequenceNumber":"1","ApproximateArrivalTimestamp":1.0,
            "Data":"e30=","PartitionKey":"k"}],"NextShardIterator":"AAA","MillisBehindLatest":0}"#;
        let e = parse_event(get_records).unwrap_err().to_string();
        assert!(e.contains("GetRecords API response"), "{e}");
        let e = parse_event(b"{\"Records\":[\"\xff\"]}").unwrap_err();
        assert!(e.to_string().ends_with("invalid byte at offset 13)"), "{e}");
    }

    #[test]
    fn flags_records_it_cannot_identify() {
        let ev = br#"{"Records":[{"kinesis":{"sequenceNumber":"12a","data":"","approximateArrivalTimestamp":1}, "eventID":"s:12a"},
                                 {"kinesis":{"sequenceNumber":"12","approximateArrivalTimestamp":1}, "eventID":"s:12"}]}"#;
        let recs = parse_event(ev).unwrap();
        assert!(identity_problem(&recs[0]).unwrap().contains("decimal"));
        assert!(identity_problem(&recs[1]).unwrap().contains("kinesis.data"));
    }
}
