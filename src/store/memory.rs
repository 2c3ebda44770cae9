//! An in-memory store: the whole [`Store`] contract without a disk or a server, for tests and
//! for commands that need a scratch lake (`cdc-sink schema infer`). It passes the same
//! conformance suite as the local and S3 stores.

use super::{
    etag_of, folders_of, Leftover, ObjectInfo, Precondition, PutOutcome, Store, StoreError,
};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Objects in a sorted map, guarded by one lock (conditional writes are atomic).
#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, Bytes>>,
}

impl MemoryStore {
    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key, sorted (tests look at what a run wrote).
    pub fn keys(&self) -> Vec<String> {
        self.objects().keys().cloned().collect()
    }

    /// Removes an object (tests damage a lake on purpose).
    pub fn remove(&self, key: &str) -> Option<Bytes> {
        self.objects().remove(key)
    }
}

impl Store for MemoryStore {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.objects().insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        Ok(self.objects().get(key).map(|b| (b.to_vec(), etag_of(b))))
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        let mut objects = self.objects();
        if !pre.holds(objects.get(key).map(|b| etag_of(b)).as_deref()) {
            return Ok(PutOutcome::Conflict);
        }
        let etag = etag_of(&body);
        objects.insert(key.to_string(), body);
        Ok(PutOutcome::Written { etag })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        Ok(self
            .objects()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, b)| ObjectInfo {
                key: k.clone(),
                size: b.len() as u64,
                modified_ms: None,
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.objects().remove(key);
        Ok(())
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let objects = self.objects();
        Ok(folders_of(prefix, objects.keys().map(String::as_str)))
    }

    async fn leftovers(&self, _prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        Ok(Vec::new())
    }

    fn location(&self, key: &str) -> String {
        format!("memory:{key}")
    }
}
