//! The recovery function: the same Lambda binary, subscribed to the on-failure SQS queue. Each
//! message is recovered as `cdc-sink recover --queue-url` would; a message that fails is reported
//! in the SQS partial batch response, so it returns to the queue (and, after the queue's
//! maxReceiveCount, to its dead-letter queue) while the others are deleted by Lambda.

use super::queue::parse_message;
use super::{Recoverer, Summary};
use crate::store::Store;
use serde::Deserialize;

/// One SQS message of a Lambda SQS event.
#[derive(Debug, Clone, Deserialize)]
pub struct SqsMessage {
    /// SQS message id; a failed message is reported by it in the partial batch response.
    #[serde(rename = "messageId")]
    pub id: String,
    /// The message body: one failure record, as JSON.
    #[serde(default)]
    pub body: String,
    /// `aws:sqs` for a message of an SQS event.
    #[serde(rename = "eventSource", default)]
    pub event_source: String,
}

#[derive(Deserialize)]
struct SqsEvent {
    #[serde(rename = "Records")]
    records: Vec<SqsMessage>,
}

/// The messages of a Lambda SQS event; `None` when the event is not one (e.g. a Kinesis event).
pub fn sqs_messages(event: &[u8]) -> Option<Vec<SqsMessage>> {
    let ev: SqsEvent = serde_json::from_slice(event).ok()?;
    if ev.records.is_empty() || ev.records.iter().any(|m| m.event_source != "aws:sqs") {
        return None;
    }
    Some(ev.records)
}

/// Recovers every message; returns the SQS partial batch response (`batchItemFailures` naming
/// the messages that were not recovered) and the totals.
pub async fn handle_sqs<K: Store>(
    r: &Recoverer<'_, K>,
    messages: &[SqsMessage],
) -> (serde_json::Value, Summary) {
    let mut failures = Vec::new();
    let mut summary = Summary::default();
    for m in messages {
        summary.records += 1;
        let result = match parse_message(&m.body, &m.id) {
            Ok(rec) => r.recover(&rec, &format!("sqs-event#{}", m.id)).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(done) => {
                summary.recovered += 1;
                summary.counts.accumulate(&done.counts);
                tracing::info!(message_id = %m.id, objects = done.keys.len(), counts = %done.counts, "failed batch recovered");
            }
            Err(e) => {
                summary.failed += 1;
                tracing::error!(message_id = %m.id, error = %e, "failed batch not recovered; the message returns to the queue");
                failures.push(serde_json::json!({ "itemIdentifier": m.id }));
            }
        }
    }
    (
        serde_json::json!({ "batchItemFailures": failures }),
        summary,
    )
}
