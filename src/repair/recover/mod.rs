//! `recover`: brings batches the Kinesis event source mapping discarded into the lake.
//!
//! A failure record names a shard and a sequence range (SQS), or carries the batch itself (S3
//! on-failure destination). The batch is rebuilt exactly (the guards in [`range`]), run through
//! the same pipeline and key function as the Lambda, and written over the same keys: the lake
//! then holds what a successful retry would have left, whatever was written before the batch
//! failed. The source of the failure record (queue message) is released only after every write
//! succeeded.

pub mod destination;
pub mod failure;
pub mod lambda;
pub mod queue;
pub mod range;
pub mod stream;

use crate::config::Config;
use crate::ingest::registry::{RegistryError, SchemaRegistry, Snapshot};
use crate::ingest::wait::build_waiting;
use crate::lake::{keys, Lake, LakeError};
use crate::model::change::Counts;
use crate::pipeline::{build_batch, Batch, PipelineError};
use crate::store::Store;
use bytes::Bytes;
use failure::FailureRecord;
use range::RangeError;

/// Why one failure record was not recovered. Nothing of it was written, except with
/// [`RecoverError::Write`] (then part of it may be, and recovering it again completes it).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The records read back are not exactly the discarded batch.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// Reading the records back from the stream failed.
    #[error(transparent)]
    Stream(#[from] stream::StreamError),
    /// The failure record has no `streamArn` and no `--stream` was given.
    #[error("the failure record names no stream (streamArn is empty): pass --stream NAME")]
    NoStream,
    /// The payload (S3 destination) does not hold the discarded batch.
    #[error("the failure record's payload is not the discarded batch: {0}")]
    Payload(String),
    /// The registry could not be read or updated, or the batch could not be built.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The lake refused this writer (its layout guard) or could not be read: nothing written.
    #[error(transparent)]
    Lake(LakeError),
    #[error(
        "{0} (nothing is lost: recovering the same failure record again overwrites the same keys)"
    )]
    /// Writing the recovered objects failed; some may be written.
    Write(#[from] LakeError),
}

impl From<PipelineError> for RecoverError {
    fn from(e: PipelineError) -> RecoverError {
        RecoverError::Registry(RegistryError::Pipeline(e))
    }
}

/// What recovering one failure record did (or, with `dry_run`, would do).
#[derive(Debug, Clone)]
pub struct Recovered {
    /// The pipeline's counts over the recovered batch.
    pub counts: Counts,
    /// Keys written (or that would be written), sorted.
    pub keys: Vec<String>,
    /// The history document written under `_control/recover/` (None in a dry run).
    pub history_key: Option<String>,
}

/// Recovers failure records into one lake.
pub struct Recoverer<'a, K> {
    /// The lake written to (its layout guard refuses a lake laid out otherwise).
    pub lake: &'a Lake<K>,
    /// The pipeline settings the batch is built with, as the Lambda would.
    pub cfg: &'a Config,
    /// List the keys that would be written; write nothing, release nothing.
    pub dry_run: bool,
    /// The stream to read (name or ARN) instead of each record's `streamArn`.
    pub stream: Option<String>,
    registry: SchemaRegistry,
    kinesis: tokio::sync::OnceCell<aws_sdk_kinesis::Client>,
    dry: tokio::sync::OnceCell<Snapshot>,
}

impl<'a, K: Store> Recoverer<'a, K> {
    /// A recoverer into `lake`; with `dry_run` it lists what it would write and writes nothing.
    pub fn new(lake: &'a Lake<K>, cfg: &'a Config, dry_run: bool) -> Recoverer<'a, K> {
        Recoverer {
            lake,
            cfg,
            dry_run,
            stream: None,
            // Always re-read registry documents: other writers may have changed them.
            registry: SchemaRegistry::new(std::time::Duration::ZERO),
            kinesis: tokio::sync::OnceCell::new(),
            dry: tokio::sync::OnceCell::new(),
        }
    }

    /// Uses this Kinesis client instead of one from the standard chain.
    pub fn with_kinesis(self, client: aws_sdk_kinesis::Client) -> Self {
        let _ = self.kinesis.set(client);
        self
    }

    /// The discarded batch as the Lambda event it was, checked against the failure record.
    async fn rebuild(&self, rec: &FailureRecord) -> Result<Vec<u8>, RecoverError> {
        let info = &rec.info;
        if let Some(payload) = &rec.payload {
            let records =
                range::from_event(payload, &info.shard_id).map_err(RecoverError::Payload)?;
            range::check(info, &records)?;
            return Ok(payload.clone());
        }
        let stream = self
            .stream
            .as_deref()
            .and_then(failure::stream_name)
            .or_else(|| info.stream_name())
            .ok_or(RecoverError::NoStream)?
            .to_string();
        let client = self.kinesis.get_or_init(stream::connect).await;
        let records = match stream::read_range(client, &stream, info).await? {
            stream::ReadBack::Refused(e) => return Err(e.into()),
            stream::ReadBack::Records(r) => r,
        };
        range::check(info, &records)?;
        let arn = if info.stream_arn.is_empty() {
            stream.clone()
        } else {
            info.stream_arn.clone()
        };
        Ok(range::to_event(&arn, &info.shard_id, &records))
    }

    /// Builds the batch: with the registry evolving as the Lambda would, or (dry run) with the
    /// registered schemas as they are.
    async fn build(&self, event: &[u8]) -> Result<Batch, RecoverError> {
        if self.dry_run {
            let snapshot = self
                .dry
                .get_or_try_init(|| Snapshot::load(self.lake.store()))
                .await?;
            return Ok(build_batch(event, self.cfg, snapshot)?);
        }
        let (batch, _, _) =
            build_waiting(&self.registry, self.lake.store(), event, self.cfg, None).await?;
        Ok(batch)
    }

    /// Recovers one failure record: rebuild, check, build, write every object, then the history
    /// document. `source` says where the record came from (for the history).
    pub async fn recover(
        &self,
        rec: &FailureRecord,
        source: &str,
    ) -> Result<Recovered, RecoverError> {
        // The layout guard first, as on the Kinesis path: a lake laid out otherwise is refused
        // before the registry or the lake is touched.
        if !self.dry_run {
            self.lake.check().await.map_err(RecoverError::Lake)?;
        }
        let event = self.rebuild(rec).await?;
        let batch = self.build(&event).await?;
        let keys: Vec<String> = batch
            .objects
            .iter()
            .map(|o| self.lake.store().full_key(&o.key))
            .collect();
        if self.dry_run {
            return Ok(Recovered {
                counts: batch.counts,
                keys,
                history_key: None,
            });
        }
        self.lake.put_objects(batch.puts()).await?;
        let key = keys::recover_history_key(&rec.info.shard_id, &rec.info.start_seq);
        let doc = serde_json::json!({
            "kind": "recover",
            "recovered_at": crate::model::time::now_iso(),
            "source": source,
            "condition": rec.condition,
            "batch": rec.info,
            "counts": batch.counts,
            "objects": keys,
        });
        self.lake
            .put_document(
                &key,
                Bytes::from(serde_json::to_vec_pretty(&doc).unwrap_or_default()),
            )
            .await?;
        Ok(Recovered {
            counts: batch.counts,
            keys,
            history_key: Some(self.lake.store().full_key(&key)),
        })
    }
}

/// Totals of a run over many failure records.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Failure records read.
    pub records: u64,
    /// Failure records recovered (or, in a dry run, that would be).
    pub recovered: u64,
    /// Failure records not recovered, each reported with its reason.
    pub failed: u64,
    /// The pipeline's counts, summed over the recovered records.
    pub counts: Counts,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failure records: {} recovered, {} failed; {}",
            self.records, self.recovered, self.failed, self.counts
        )
    }
}
