//! Where objects live: the only I/O of the lake. One trait, [`Store`], with a local directory
//! ([`local`]), S3 ([`s3`]) and an in-memory twin ([`memory`]) behind it; [`PrefixStore`] applies
//! a key prefix once, and [`AnyStore`] is the one match over backends. A store knows keys and
//! bytes only: no schema, pipeline or lake rule.

pub mod any;
pub mod local;
pub mod memory;
pub mod prefix;
pub mod s3;

pub use any::AnyStore;
pub use prefix::PrefixStore;

use bytes::Bytes;
use std::future::Future;

/// A store operation that failed (after the SDK's retries, for S3). A batch whose write failed
/// must be retried.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{location}: {message}")]
pub struct StoreError {
    /// Where the object was, e.g. `s3://bucket/key` or a file path.
    pub location: String,
    /// What went wrong and what to check.
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
    /// Whether a write under this condition may replace an object whose current ETag is
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
    /// Stored; the new version's ETag.
    Written {
        /// The ETag of what was written.
        etag: String,
    },
    /// Another writer got there first: re-read and try again.
    Conflict,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The key, relative to the store (and to the prefix, through a [`PrefixStore`]).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, in milliseconds since the epoch, when the store says.
    pub modified_ms: Option<i64>,
}

/// A write that was started and never finished: a temporary file of a stopped process (local)
/// or an incomplete multipart upload (S3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The key (or the temporary file's key), relative like [`ObjectInfo::key`].
    pub key: String,
    /// Bytes it holds, when known.
    pub size: u64,
    /// When it was started or last written, in milliseconds since the epoch.
    pub modified_ms: Option<i64>,
    /// What kind of leftover, for messages ("temporary file", "incomplete multipart upload").
    pub kind: &'static str,
}

/// Stores whole objects under keys. A put either stores the complete object or fails; readers
/// never see a partial object, and a put with the same key replaces it. Conditional puts are
/// atomic per key (S3's `If-None-Match` / `If-Match`), which is what the registry and the
/// layout document rely on when several writers race.
pub trait Store: Send + Sync {
    /// Stores `body` under `key`, replacing what was there.
    fn put(&self, key: &str, body: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The object and its ETag, or `None` when it does not exist.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Vec<u8>, String)>, StoreError>> + Send;

    /// Stores `body` only if `pre` holds; [`PutOutcome::Conflict`] when it does not.
    fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Every object whose key starts with `prefix`, sorted by key. Writes in progress (and
    /// leftovers of stopped ones) are not objects and are not listed.
    fn list(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, StoreError>> + Send;

    /// Removes the object under `key`; removing one that does not exist succeeds (S3's
    /// `DeleteObject`), so a repeated removal is harmless. Only the compactor removes objects.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The "folders" directly under `prefix` (a prefix ending in `/`, or empty): key prefixes
    /// ending in `/`, sorted. One request per 1,000 folders on S3, not per object.
    fn list_folders(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Writes under `prefix` that were started and never finished (see [`Leftover`]).
    fn leftovers(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<Leftover>, StoreError>> + Send;

    /// Where a key is, for messages: `s3://bucket/key` or a file path.
    fn location(&self, key: &str) -> String;
}

/// The folders directly under `prefix` among `keys` (for stores without a native delimiter).
pub(crate) fn folders_of<'a>(prefix: &str, keys: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = keys
        .filter_map(|k| k.strip_prefix(prefix))
        .filter_map(|rest| rest.split_once('/'))
        .map(|(folder, _)| format!("{prefix}{folder}/"))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A content hash used as the ETag by the stores that have none of their own.
pub(crate) fn etag_of(body: &[u8]) -> String {
    let h = body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// A borrowed store is a store (a [`crate::lake::Lake`] or a test can hold `&S`).
impl<S: Store + ?Sized> Store for &S {
    fn put(&self, key: &str, body: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(key, body)
    }

    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Vec<u8>, String)>, StoreError>> + Send {
        (**self).get(key)
    }

    fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send {
        (**self).put_if(key, body, pre)
    }

    fn list(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, StoreError>> + Send {
        (**self).list(prefix)
    }

    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(key)
    }

    fn list_folders(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        (**self).list_folders(prefix)
    }

    fn leftovers(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<Leftover>, StoreError>> + Send {
        (**self).leftovers(prefix)
    }

    fn location(&self, key: &str) -> String {
        (**self).location(key)
    }
}
