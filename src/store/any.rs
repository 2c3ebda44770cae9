//! One store chosen at run time (`--out DIR`, `--out s3://...`, or a scratch lake in memory):
//! the only match over the backends.

use super::local::LocalDir;
use super::memory::MemoryStore;
use super::s3::S3Store;
use super::{Leftover, ObjectInfo, Precondition, PutOutcome, Store, StoreError};
use bytes::Bytes;

/// A local directory, an S3 bucket or memory.
pub enum AnyStore {
    /// Files under a directory.
    Local(LocalDir),
    /// Objects in one bucket.
    S3(S3Store),
    /// A scratch store that goes away with the process.
    Memory(MemoryStore),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyStore::Local($s) => $e,
            AnyStore::S3($s) => $e,
            AnyStore::Memory($s) => $e,
        }
    };
}

impl Store for AnyStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        each!(self, s => s.put(key, body).await)
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        each!(self, s => s.get(key).await)
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        each!(self, s => s.put_if(key, body, pre).await)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        each!(self, s => s.list(prefix).await)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        each!(self, s => s.delete(key).await)
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        each!(self, s => s.list_folders(prefix).await)
    }

    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        each!(self, s => s.leftovers(prefix).await)
    }

    fn location(&self, key: &str) -> String {
        each!(self, s => s.location(key))
    }
}
