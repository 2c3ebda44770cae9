//! The guards of a recovery (pure): the records found for a failure record must be exactly the
//! discarded batch, and they become the Lambda Kinesis event the Lambda itself received.

use super::failure::BatchInfo;
use crate::decode::kinesis::{self, EventRecord};
use crate::model::change::cmp_seq;
use base64::Engine;

/// One record read back from the stream (or from the S3 destination's payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// Kinesis sequence number (decimal digits).
    pub seq: String,
    /// The partition key the producer gave the record.
    pub partition_key: String,
    /// The record's payload, as Kinesis holds it (not base64).
    pub data: Vec<u8>,
    /// Approximate arrival time in milliseconds since the epoch (Kinesis keeps milliseconds).
    pub arrival_ms: i64,
}

/// Why a failure record's batch cannot be rebuilt exactly. Nothing is written for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Records of the range are gone (expired past the stream's retention) or never existed.
    #[error("records of {shard} from {from} to {to} are lost: {why}")]
    Lost {
        /// Kinesis shard id.
        shard: String,
        /// First sequence number of the range (the batch's `startSequenceNumber`).
        from: String,
        /// Last sequence number of the range (the batch's `endSequenceNumber`).
        to: String,
        /// What is missing.
        why: String,
    },
    /// The range holds more records than the batch: other partition keys shared it
    /// (ParallelizationFactor above 1).
    #[error(
        "{shard} holds {found} records from {from} to {to}, but the discarded batch held {batch_size}: \
         the event source mapping's ParallelizationFactor is above 1, so records of other partition keys, \
         which other batches wrote, share this range, and the batch itself cannot be told apart from them. \
         Nothing was written. With ParallelizationFactor above 1, use the S3 on-failure destination \
         (template parameter OnFailureDestination=s3), whose records carry the batch itself, and \
         `cdc-sink recover --from s3://BUCKET/PREFIX/`; or set ParallelizationFactor to 1"
    )]
    Shared {
        /// Kinesis shard id.
        shard: String,
        /// First sequence number of the range.
        from: String,
        /// Last sequence number of the range.
        to: String,
        /// Records the stream holds in the range.
        found: u64,
        /// Records the discarded batch held (`batchSize`).
        batch_size: u64,
    },
}

/// Checks that `records` (ascending, all of the failure record's shard, none after its end) are
/// exactly the discarded batch: the first is `startSequenceNumber`, the last `endSequenceNumber`,
/// and there are `batchSize` of them.
pub fn check(info: &BatchInfo, records: &[StreamRecord]) -> Result<(), RangeError> {
    let lost = |from: &str, to: &str, why: String| RangeError::Lost {
        shard: info.shard_id.clone(),
        from: from.to_string(),
        to: to.to_string(),
        why,
    };
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(lost(
            &info.start_seq,
            &info.end_seq,
            format!(
                "none of the {} records is in the stream (expired past the stream's retention, or the range does not exist)",
                info.batch_size
            ),
        ));
    };
    if let Some(w) = records
        .windows(2)
        .find(|w| cmp_seq(&w[0].seq, &w[1].seq).is_ge())
    {
        return Err(lost(
            &info.start_seq,
            &info.end_seq,
            format!("records out of order ({} then {})", w[0].seq, w[1].seq),
        ));
    }
    if cmp_seq(&first.seq, &info.start_seq).is_ne() {
        return Err(lost(
            &info.start_seq,
            &first.seq,
            format!(
                "the first record at or after startSequenceNumber is {} (the records before it expired past the stream's retention, or startSequenceNumber does not exist)",
                first.seq
            ),
        ));
    }
    if cmp_seq(&last.seq, &info.end_seq).is_ne() {
        return Err(lost(
            &last.seq,
            &info.end_seq,
            format!(
                "the last record found is {}, not endSequenceNumber (the rest is missing from the stream)",
                last.seq
            ),
        ));
    }
    let found = records.len() as u64;
    if found < info.batch_size {
        return Err(lost(
            &info.start_seq,
            &info.end_seq,
            format!(
                "the stream holds {found} of the batch's {} records in this range",
                info.batch_size
            ),
        ));
    }
    if found > info.batch_size {
        return Err(RangeError::Shared {
            shard: info.shard_id.clone(),
            from: info.start_seq.clone(),
            to: info.end_seq.clone(),
            found,
            batch_size: info.batch_size,
        });
    }
    Ok(())
}

/// The Lambda Kinesis event of a batch: the same fields Lambda sends, so the pipeline and the key
/// function see what they saw when the batch failed.
pub fn to_event(stream_arn: &str, shard: &str, records: &[StreamRecord]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    kinesis::write_event(
        stream_arn,
        shard,
        records.iter().map(|r| EventRecord {
            partition_key: &r.partition_key,
            seq: &r.seq,
            data_base64: b64.encode(&r.data).into(),
            arrival_s: r.arrival_ms as f64 / 1000.0,
        }),
    )
}

/// The records of a Lambda Kinesis event (the S3 destination's payload), for [`check`]: every
/// record must belong to `shard` and carry a sequence number.
pub fn from_event(event: &[u8], shard: &str) -> Result<Vec<StreamRecord>, String> {
    let records = crate::decode::kinesis::parse_event(event).map_err(|e| e.to_string())?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let seq = r
                .seq
                .as_deref()
                .ok_or_else(|| format!("payload record {} has no sequenceNumber", i + 1))?;
            if r.shard.as_deref() != Some(shard) {
                return Err(format!(
                    "payload record {seq} is of shard {:?}, not {shard}",
                    r.shard.as_deref().unwrap_or("")
                ));
            }
            Ok(StreamRecord {
                seq: seq.to_string(),
                partition_key: r.partition_key.to_string(),
                data: Vec::new(),
                arrival_ms: r.arrival_us.unwrap_or(0) / 1000,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(start: &str, end: &str, n: u64) -> BatchInfo {
        BatchInfo {
            shard_id: "shardId-000000000000".into(),
            start_seq: start.into(),
            end_seq: end.into(),
            batch_size: n,
            stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/s".into(),
            first_arrival: None,
            last_arrival: None,
        }
    }

    fn recs(seqs: &[&str]) -> Vec<StreamRecord> {
        seqs.iter()
            .map(|s| StreamRecord {
                seq: s.to_string(),
                partition_key: "k".into(),
                data: b"{}".to_vec(),
                arrival_ms: 1_762_157_702_123,
            })
            .collect()
    }

    #[test]
    fn accepts_exactly_the_batch() {
        // 9 < 10 < 100: numeric order, not string order.
        assert_eq!(
            check(&info("9", "100", 3), &recs(&["9", "10", "100"])),
            Ok(())
        );
    }

    #[test]
    fn names_the_lost_range() {
        let e = check(&info("9", "100", 3), &recs(&["10", "100"])).unwrap_err();
        assert_eq!(
            e,
            RangeError::Lost {
                shard: "shardId-000000000000".into(),
                from: "9".into(),
                to: "10".into(),
                why: e.to_string().split(": ").nth(1).unwrap().into()
            }
        );
        assert!(e
            .to_string()
            .starts_with("records of shardId-000000000000 from 9 to 10 are lost"));
        let e = check(&info("9", "100", 3), &recs(&["9", "10"])).unwrap_err();
        assert!(e.to_string().contains("from 10 to 100"), "{e}");
        let e = check(&info("9", "100", 4), &recs(&["9", "10", "100"])).unwrap_err();
        assert!(e.to_string().contains("3 of the batch's 4"), "{e}");
        let e = check(&info("9", "100", 4), &[]).unwrap_err();
        assert!(e.to_string().contains("from 9 to 100 are lost"), "{e}");
        let e = check(&info("9", "100", 2), &recs(&["9", "10", "100"])).unwrap_err();
        assert!(matches!(e, RangeError::Shared { found: 3, .. }), "{e}");
        assert!(e.to_string().contains("ParallelizationFactor"));
    }

    #[test]
    fn the_event_reads_back_as_the_records() {
        let r = recs(&["49660000000000000000000000000000000000000000000000000001"]);
        let ev = to_event(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            "shardId-000000000000",
            &r,
        );
        let parsed = crate::decode::kinesis::parse_event(&ev).unwrap();
        assert_eq!(parsed[0].arrival_us, Some(1_762_157_702_123_000));
        assert_eq!(parsed[0].shard.as_deref(), Some("shardId-000000000000"));
        let back = from_event(&ev, "shardId-000000000000").unwrap();
        assert_eq!(back[0].seq, r[0].seq);
        assert_eq!(back[0].arrival_ms, r[0].arrival_ms);
        assert!(from_event(&ev, "shardId-000000000001").is_err());
    }
}
