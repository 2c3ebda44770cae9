//! The Lambda's work for one invocation, independent of the runtime so tests can drive it:
//! event bytes in, the Kinesis partial batch response out.
//!
//! Failure semantics: a record that cannot be used is quarantined and the batch succeeds. When a
//! write fails after the SDK's retries (data or schema registry), the response names the batch's
//! first sequence number; Lambda then retries the whole batch, whose deterministic keys
//! overwrite what was written.

use crate::config::Config;
use crate::metrics::Invocation;
use crate::pipeline::{write_batch, PipelineError};
use crate::schema::store::SchemaStore;
use crate::schema::sync::{RegistryError, SchemaRegistry};
use crate::sink::ObjectSink;
use aws_lambda_events::streams::KinesisEventResponse;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Everything an invocation needs, built once at cold start.
pub struct Handler<K> {
    pub config: Config,
    /// Key prefix of every object (normalised, may be empty).
    pub prefix: String,
    /// Where data objects and registry documents go.
    pub sink: K,
    /// Registered table schemas, cached while the Lambda is warm.
    pub registry: SchemaRegistry,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn first_seq(event: &[u8]) -> String {
    crate::kinesis::parse_event(event)
        .ok()
        .and_then(|r| r.first().and_then(|r| r.seq.as_deref().map(str::to_string)))
        .unwrap_or_default()
}

impl<K: ObjectSink + SchemaStore> Handler<K> {
    pub fn new(config: Config, prefix: String, sink: K) -> Handler<K> {
        let registry = SchemaRegistry::new(&prefix, config.schema_refresh);
        Handler {
            config,
            prefix,
            sink,
            registry,
        }
    }

    /// Processes one event. `Err` only for a payload that is not a Kinesis event at all (the
    /// invocation then fails and Lambda retries it, as for any function error).
    pub async fn handle(
        &self,
        event: &[u8],
    ) -> Result<(KinesisEventResponse, Invocation), PipelineError> {
        let start = Instant::now();
        let mut response = KinesisEventResponse::default();
        let mut inv = Invocation::default();
        match self.registry.build(&self.sink, event, &self.config).await {
            Ok((batch, report)) => {
                inv.counts = batch.counts.clone();
                inv.iterator_age_ms = batch
                    .oldest_arrival_us
                    .map(|a| (now_us() - a).max(0) as f64 / 1000.0);
                for change in &report.changes {
                    tracing::info!(change = %change, "schema registry updated");
                }
                for note in &report.notes {
                    tracing::warn!(note = %note, "table-def type kept as string");
                }
                if let Err(e) = write_batch(&batch, &self.sink).await {
                    tracing::error!(error = %e, first_seq = batch.first_seq.as_deref().unwrap_or(""), "write failed after retries; reporting the whole batch for retry");
                    response.add_failure(batch.first_seq.clone().unwrap_or_default());
                    inv.failed = true;
                } else {
                    // Measured once the objects are written: what a reader of the lake sees.
                    inv.freshness_ms = batch
                        .newest_commit_us
                        .map(|c| (now_us() - c).max(0) as f64 / 1000.0);
                }
                for (code, n) in &batch.quarantine_reasons {
                    tracing::warn!(reason = code, records = n, "records quarantined");
                }
            }
            Err(RegistryError::Pipeline(PipelineError::Event(e))) => {
                return Err(PipelineError::Event(e))
            }
            Err(e) => {
                // Registry I/O, contention or an encoding failure: not a property of one record,
                // so the whole batch is retried.
                tracing::error!(error = %e, "reporting the whole batch for retry");
                response.add_failure(first_seq(event));
                inv.failed = true;
            }
        }
        inv.duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        Ok((response, inv))
    }
}
