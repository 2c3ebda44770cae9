//! The Lambda's work for one invocation, independent of the runtime so tests can drive it:
//! event bytes in, the Kinesis partial batch response out.
//!
//! Failure semantics: a record that cannot be used is quarantined and the batch succeeds. When a
//! write fails after the SDK's retries (data or schema registry), the response names the batch's
//! first sequence number; Lambda then retries the whole batch, whose deterministic keys
//! overwrite what was written.
//!
//! Late table definitions: rows of a table with no registered schema wait, inside the
//! invocation, for another shard's `create-table` ([`build_waiting`]), never into the last
//! [`WAIT_RESERVE`] of the function's time. Waiting never reports a failure, so it spends none
//! of the event source mapping's retries.

use crate::config::Config;
use crate::ingest::metrics::Invocation;
use crate::ingest::registry::{RegistryError, SchemaRegistry};
use crate::ingest::wait::build_waiting;
pub use crate::ingest::wait::WAIT_RESERVE;
use crate::lake::{Lake, LakeError};
use crate::model::time::now_us;
use crate::pipeline::PipelineError;
use crate::store::Store;
use aws_lambda_events::streams::KinesisEventResponse;
use std::time::Instant;

/// Everything an invocation needs, built once at cold start.
pub struct Handler<K> {
    /// The pipeline settings, from the environment.
    pub config: Config,
    /// The lake: data objects and registry documents, behind the layout guard.
    pub lake: Lake<K>,
    /// Registered table schemas, cached while the Lambda is warm.
    pub registry: SchemaRegistry,
}

fn first_seq(event: &[u8]) -> String {
    crate::decode::kinesis::parse_event(event)
        .ok()
        .and_then(|r| r.first().and_then(|r| r.seq.as_deref().map(str::to_string)))
        .unwrap_or_default()
}

impl<K: Store> Handler<K> {
    /// Builds the handler without I/O: the layout guard runs at [`Handler::check_layout`] (cold
    /// start) and again before the first write.
    pub fn new(config: Config, prefix: &str, store: K) -> Handler<K> {
        let registry = SchemaRegistry::new(config.schema_refresh);
        let lake = Lake::for_writer(store, prefix, config.layout);
        Handler {
            config,
            lake,
            registry,
        }
    }

    /// Compares this configuration with the lake's recorded layout, if it has one, without
    /// writing (the Lambda's cold start: a mismatch fails the init with a message to act on).
    pub async fn check_layout(&self) -> Result<(), LakeError> {
        self.lake.check().await
    }

    /// Processes one event. `Err` only for a payload that is not a Kinesis event at all (the
    /// invocation then fails and Lambda retries it, as for any function error).
    pub async fn handle(
        &self,
        event: &[u8],
    ) -> Result<(KinesisEventResponse, Invocation), PipelineError> {
        self.handle_until(event, None).await
    }

    /// [`Self::handle`] with the invocation's deadline (epoch milliseconds, from the Lambda
    /// context), which bounds the wait for late table definitions.
    pub async fn handle_until(
        &self,
        event: &[u8],
        deadline_ms: Option<u64>,
    ) -> Result<(KinesisEventResponse, Invocation), PipelineError> {
        let start = Instant::now();
        let mut response = KinesisEventResponse::default();
        let mut inv = Invocation::default();
        if let Err(e) = self.lake.check().await {
            // A configuration problem (or S3 failing): nothing is written, the batch is retried.
            tracing::error!(error = %e, "reporting the whole batch for retry");
            response.add_failure(first_seq(event));
            inv.failed = true;
            inv.duration_ms = start.elapsed().as_secs_f64() * 1000.0;
            return Ok((response, inv));
        }
        let built = build_waiting(
            &self.registry,
            self.lake.store(),
            event,
            &self.config,
            deadline_ms,
        )
        .await
        .map(|(batch, report, waited)| {
            inv.table_def_wait_ms = waited.wait_ms;
            inv.inferred_without_declaration = waited.inferred_without_declaration;
            (batch, report)
        });
        match built {
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
                if let Err(e) = self.lake.put_objects(batch.puts()).await {
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
