//! Where registry documents live: next to the data, read and written with conditional writes
//! so that concurrent writers (one Lambda per shard) never lose each other's updates.

use crate::sink::local::{write_atomically, LocalDir};
use crate::sink::s3::S3Sink;
use crate::sink::{AnySink, SinkError};
/// Re-exported from [`crate::sink`], where the conditional-put types live.
pub use crate::sink::{Precondition, PutOutcome};
use bytes::Bytes;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// Reads and conditionally writes small documents.
pub trait SchemaStore: Send + Sync {
    /// The document and its ETag, or `None` when absent.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Vec<u8>, String)>, SinkError>> + Send;
    fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send;
    /// Keys under a prefix, sorted.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<String>, SinkError>> + Send;
}

fn etag_of(body: &[u8]) -> String {
    let h = body.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// In a local directory the ETag is a hash of the content; conditional writes are serialised
/// within this process (the CLI), not across processes.
static LOCAL_LOCK: Mutex<()> = Mutex::new(());

impl SchemaStore for LocalDir {
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, SinkError> {
        let path = self.path_of(key)?;
        match std::fs::read(&path) {
            Ok(b) => {
                let e = etag_of(&b);
                Ok(Some((b, e)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SinkError {
                location: path.display().to_string(),
                message: e.to_string(),
            }),
        }
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, SinkError> {
        let path = self.path_of(key)?;
        let fail = |e: std::io::Error| SinkError {
            location: path.display().to_string(),
            message: e.to_string(),
        };
        let _guard = LOCAL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let current = match std::fs::read(&path) {
            Ok(b) => Some(etag_of(&b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(fail(e)),
        };
        if !pre.holds(current.as_deref()) {
            return Ok(PutOutcome::Conflict);
        }
        write_atomically(&path, &body).map_err(fail)?;
        Ok(PutOutcome::Written {
            etag: etag_of(&body),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        fn walk(
            root: &std::path::Path,
            d: &std::path::Path,
            out: &mut Vec<String>,
        ) -> std::io::Result<()> {
            for e in std::fs::read_dir(d)? {
                let p = e?.path();
                if p.is_dir() {
                    walk(root, &p, out)?;
                } else if let Ok(rel) = p.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        let dir = self.root().join(prefix);
        if dir.is_dir() {
            walk(self.root(), &dir, &mut out).map_err(|e| SinkError {
                location: dir.display().to_string(),
                message: e.to_string(),
            })?;
        }
        // Only this sink's temporary files are skipped: an escaped table name may start with `.`.
        out.retain(|k| !crate::sink::local::is_temporary_file(k.rsplit('/').next().unwrap_or("")));
        out.sort();
        Ok(out)
    }
}

/// An in-memory store: `cdc-sink schema infer` and tests.
#[derive(Default)]
pub struct MemoryStore {
    docs: Mutex<HashMap<String, Vec<u8>>>,
}

impl SchemaStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, SinkError> {
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        Ok(docs.get(key).map(|b| (b.clone(), etag_of(b))))
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, SinkError> {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        if !pre.holds(docs.get(key).map(|b| etag_of(b)).as_deref()) {
            return Ok(PutOutcome::Conflict);
        }
        docs.insert(key.to_string(), body.to_vec());
        Ok(PutOutcome::Written {
            etag: etag_of(&body),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        let docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<String> = docs
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        Ok(keys)
    }
}

impl SchemaStore for S3Sink {
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, SinkError> {
        self.get_object(key).await
    }
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, SinkError> {
        self.put_conditional(key, body, pre).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        self.list_keys(prefix).await
    }
}

impl SchemaStore for AnySink {
    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, SinkError> {
        match self {
            AnySink::Local(s) => SchemaStore::get(s, key).await,
            AnySink::S3(s) => SchemaStore::get(s, key).await,
        }
    }
    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, SinkError> {
        match self {
            AnySink::Local(s) => s.put_if(key, body, pre).await,
            AnySink::S3(s) => s.put_if(key, body, pre).await,
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        match self {
            AnySink::Local(s) => SchemaStore::list(s, prefix).await,
            AnySink::S3(s) => SchemaStore::list(s, prefix).await,
        }
    }
}
