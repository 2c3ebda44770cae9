//! The lake's documents of records, as typed structs that their writer (the pipeline) and their
//! readers (redrive, status) share: one line of a quarantine object, one line of the control log.
//! The layout document's form is in [`super::layout`].

use crate::model::time;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Where a record came from: enough to find it again in the stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Origin {
    /// The Kinesis shard.
    pub shard: String,
    /// The Kinesis sequence number.
    pub seq: String,
    /// The Kinesis partition key.
    #[serde(default)]
    pub partition_key: String,
    /// Kinesis arrival time, ISO 8601 UTC.
    #[serde(default)]
    pub arrival_ts: String,
}

impl Origin {
    /// The origin of a record read from `shard` at `seq`.
    pub fn new(shard: &str, seq: &str, partition_key: &str, arrival_us: i64) -> Origin {
        Origin {
            shard: shard.to_string(),
            seq: seq.to_string(),
            partition_key: partition_key.to_string(),
            arrival_ts: time::format_timestamp(arrival_us),
        }
    }
}

/// One line of a quarantine object (`_quarantine/dt=.../{shard}-{seq}.jsonl`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineEntry {
    /// A short stable identifier of the reason, e.g. `bad_value`.
    pub reason_code: Cow<'static, str>,
    /// The reason, for people.
    #[serde(default)]
    pub reason: String,
    /// Where the record came from.
    #[serde(flatten)]
    pub origin: Origin,
    /// `kinesis.data` exactly as received (base64): the raw bytes, recoverable.
    #[serde(default)]
    pub data_base64: String,
    /// The decoded payload when it is UTF-8 text, for reading without a decoder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_text: Option<String>,
}

/// One line of a control-log object: a DMS control record (DDL, table announcements).
#[derive(Debug, Clone, Serialize)]
pub struct ControlEntry {
    /// The DMS operation, e.g. `create-table`.
    pub operation: String,
    /// The schema the record names.
    pub schema: String,
    /// The table the record names.
    pub table: String,
    /// When DMS built the message (`metadata.timestamp`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dms_ts: Option<String>,
    /// Where the record came from.
    #[serde(flatten)]
    pub origin: Origin,
    /// The record's `control` object (e.g. `table-def`), minified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control: Option<Box<RawValue>>,
}

/// Serialises entries as JSON Lines.
pub fn to_json_lines<T: Serialize>(entries: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        // Serialising these plain structs cannot fail (string keys, no maps with other keys).
        if serde_json::to_writer(&mut out, e).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// The entries of a quarantine object that parse (a damaged line is skipped, not fatal).
pub fn quarantine_entries(body: &[u8]) -> impl Iterator<Item = QuarantineEntry> + '_ {
    body.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarantine_entry_reads_back_as_written() {
        let e = QuarantineEntry {
            reason_code: Cow::Borrowed("bad_value"),
            reason: "value x of column s.t.c does not fit".into(),
            origin: Origin::new("shardId-1", "42", "pk", 0),
            data_base64: "eyJ9".into(),
            data_text: None,
        };
        let line = to_json_lines(std::slice::from_ref(&e));
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(
            text.starts_with("{\"reason_code\":\"bad_value\",\"reason\":"),
            "{text}"
        );
        let back: Vec<QuarantineEntry> = quarantine_entries(&line).collect();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].reason_code, "bad_value");
        assert_eq!(
            (back[0].origin.shard.as_str(), back[0].origin.seq.as_str()),
            ("shardId-1", "42")
        );
        assert_eq!(back[0].origin.arrival_ts, "1970-01-01T00:00:00.000000Z");
    }
}
