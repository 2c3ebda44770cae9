//! Reads a failure record's range back from the Kinesis stream: GetShardIterator
//! AT_SEQUENCE_NUMBER its start, then GetRecords until past its end (or until a closed parent
//! shard is drained). Only reads: records are never put back into the stream, since new sequence
//! numbers would defeat de-duplication.

use super::failure::BatchInfo;
use super::range::{RangeError, StreamRecord};
use crate::model::change::cmp_seq;
use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use std::time::Duration;

/// GetRecords calls per failure record before giving up on reaching its end (a batch is at most
/// 10,000 records, which one call can return; empty answers on an open shard can come first).
const MAX_CALLS: usize = 200;

/// The stream could not be read (not a property of the range).
#[derive(Debug, thiserror::Error)]
#[error("reading {what} from Kinesis failed: {message}")]
pub struct StreamError {
    /// The range and stream being read (shard, sequence range, stream name).
    pub what: String,
    /// The Kinesis error, with its context.
    pub message: String,
}

/// What a read-back found.
pub enum ReadBack {
    /// The records from `startSequenceNumber` up to `endSequenceNumber` (inclusive) that the
    /// stream still holds, ascending.
    Records(Vec<StreamRecord>),
    /// The stream refused the range itself (e.g. a sequence number of another shard).
    Refused(RangeError),
}

/// A Kinesis client from aws-config's standard chain (`AWS_ENDPOINT_URL_KINESIS`, credentials,
/// region).
pub async fn connect() -> Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Client::new(&sdk)
}

/// Reads the records of `info`'s range from stream `stream` (a name).
pub async fn read_range(
    client: &Client,
    stream: &str,
    info: &BatchInfo,
) -> Result<ReadBack, StreamError> {
    let what = format!("{} of stream {stream}", info.describe());
    let fail = |m: String| StreamError {
        what: what.clone(),
        message: m,
    };
    let iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(&info.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&info.start_seq)
        .send()
        .await;
    let mut iterator = match iterator {
        Ok(o) => o.shard_iterator,
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            if matches!(
                code.as_str(),
                "InvalidArgumentException" | "ResourceNotFoundException"
            ) {
                return Ok(ReadBack::Refused(RangeError::Lost {
                    shard: info.shard_id.clone(),
                    from: info.start_seq.clone(),
                    to: info.end_seq.clone(),
                    why: format!(
                        "the stream refuses startSequenceNumber ({code}: {}); the shard or the records expired past the stream's retention, or the range is not of this shard",
                        e.message().unwrap_or("")
                    ),
                }));
            }
            return Err(fail(DisplayErrorContext(e).to_string()));
        }
    };
    let mut out = Vec::new();
    for call in 0..MAX_CALLS {
        let Some(it) = iterator.take() else {
            // A closed (parent) shard, drained.
            break;
        };
        if call > 0 {
            // GetRecords allows 5 calls per second per shard.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let page = client
            .get_records()
            .shard_iterator(it)
            .limit(10_000)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let mut past_end = false;
        for r in page.records() {
            let seq = r.sequence_number();
            if cmp_seq(seq, &info.end_seq).is_gt() {
                past_end = true;
                break;
            }
            out.push(StreamRecord {
                seq: seq.to_string(),
                partition_key: r.partition_key().unwrap_or("").to_string(),
                data: r.data().as_ref().to_vec(),
                arrival_ms: r
                    .approximate_arrival_timestamp()
                    .map(|t| t.secs() * 1000 + i64::from((t.subsec_nanos() + 500_000) / 1_000_000))
                    .unwrap_or(0),
            });
        }
        let reached = out
            .last()
            .is_some_and(|r| cmp_seq(&r.seq, &info.end_seq).is_ge());
        // At the tip of an open shard with nothing more to read: the rest does not exist.
        let at_tip = page.records().is_empty() && page.millis_behind_latest() == Some(0);
        if past_end || reached || at_tip {
            break;
        }
        iterator = page.next_shard_iterator;
    }
    Ok(ReadBack::Records(out))
}
