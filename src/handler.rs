//! The Lambda's work for one invocation, independent of the runtime so tests can drive it:
//! event bytes in, the Kinesis partial batch response out.
//!
//! Failure semantics: a record that cannot be used is quarantined and the batch succeeds. When a
//! write fails after the SDK's retries, the response names the batch's first sequence number;
//! Lambda then retries the whole batch, whose deterministic keys overwrite what was written.

use crate::config::Config;
use crate::metrics::Invocation;
use crate::pipeline::{build_batch, write_batch, PipelineError};
use crate::schema::SchemaSource;
use crate::sink::ObjectSink;
use aws_lambda_events::streams::KinesisEventResponse;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Everything an invocation needs, built once at cold start.
pub struct Handler<K, S> {
    pub config: Config,
    /// Key prefix of every object (normalised, may be empty).
    pub prefix: String,
    pub sink: K,
    pub schemas: S,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl<K: ObjectSink, S: SchemaSource> Handler<K, S> {
    /// Processes one event. `Err` only for a payload that is not a Kinesis event at all (the
    /// invocation then fails and Lambda retries it, as for any function error).
    pub async fn handle(
        &self,
        event: &[u8],
    ) -> Result<(KinesisEventResponse, Invocation), PipelineError> {
        let start = Instant::now();
        let mut response = KinesisEventResponse::default();
        let mut inv = Invocation::default();
        match build_batch(event, &self.config, &self.prefix, &self.schemas) {
            Ok(batch) => {
                inv.counts = batch.counts.clone();
                inv.iterator_age_ms = batch
                    .oldest_arrival_us
                    .map(|a| (now_us() - a).max(0) as f64 / 1000.0);
                if let Err(e) = write_batch(&batch, &self.sink).await {
                    tracing::error!(error = %e, first_seq = batch.first_seq.as_deref().unwrap_or(""), "write failed after retries; reporting the whole batch for retry");
                    response.add_failure(batch.first_seq.clone().unwrap_or_default());
                    inv.failed = true;
                }
                for (code, n) in &batch.quarantine_reasons {
                    tracing::warn!(reason = code, records = n, "records quarantined");
                }
            }
            Err(PipelineError::Event(e)) => return Err(PipelineError::Event(e)),
            Err(e @ PipelineError::Encode(_)) => {
                // Not a property of the input: retrying may succeed (e.g. after a memory spike).
                tracing::error!(error = %e, "encoding failed; reporting the whole batch for retry");
                response.add_failure(
                    crate::kinesis::parse_event(event)
                        .ok()
                        .and_then(|r| r.first().and_then(|r| r.seq.as_deref().map(str::to_string)))
                        .unwrap_or_default(),
                );
                inv.failed = true;
            }
        }
        inv.duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        Ok((response, inv))
    }
}
