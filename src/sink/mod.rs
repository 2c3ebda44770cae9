//! Where objects go: the only stage that does I/O. The pipeline is generic over [`ObjectSink`],
//! so the CLI, the Lambda and the tests share one code path.

pub mod local;
pub mod s3;

use bytes::Bytes;
use std::future::Future;

/// A write that failed (after the SDK's retries, for S3). The batch must then be retried.
#[derive(Debug, thiserror::Error)]
#[error("writing {location} failed: {message}")]
pub struct SinkError {
    /// Where the object was going, e.g. `s3://bucket/key` or a file path.
    pub location: String,
    pub message: String,
}

/// The condition of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Create only (S3 `If-None-Match: *`).
    Absent,
    /// Replace only this version (S3 `If-Match: <etag>`).
    Match(String),
}

impl Precondition {
    /// Whether a write under this condition may replace a document whose current ETag is
    /// `current` (`None`: absent). S3 checks this itself; the local and memory stores use it.
    pub fn holds(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (Precondition::Absent, None) => true,
            (Precondition::Match(want), Some(have)) => want == have,
            _ => false,
        }
    }
}

/// The result of a conditional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Written {
        etag: String,
    },
    /// Another writer got there first: re-read and try again.
    Conflict,
}

/// One object of a listing (`cdc-sink status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Last modification, in milliseconds since the epoch, when the store says.
    pub modified_ms: Option<i64>,
}

/// Stores whole objects under keys. A put either stores the complete object or fails; readers
/// never see a partial object, and a put with the same key replaces it.
pub trait ObjectSink: Send + Sync {
    fn put(&self, key: &str, body: Bytes) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Human-readable location of a key, for messages.
    fn location(&self, key: &str) -> String;
}

/// Either sink, chosen at run time by the CLI from `--out`.
pub enum AnySink {
    Local(local::LocalDir),
    S3(s3::S3Sink),
}

impl ObjectSink for AnySink {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), SinkError> {
        match self {
            AnySink::Local(s) => s.put(key, body).await,
            AnySink::S3(s) => s.put(key, body).await,
        }
    }

    fn location(&self, key: &str) -> String {
        match self {
            AnySink::Local(s) => s.location(key),
            AnySink::S3(s) => s.location(key),
        }
    }
}
