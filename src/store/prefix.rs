//! A store seen through a key prefix: callers use prefix-relative keys, the prefix is applied
//! here and nowhere else, and listings come back relative again.

use super::{Leftover, ObjectInfo, Precondition, PutOutcome, Store, StoreError};
use bytes::Bytes;

/// `key` under `prefix`: the one place a prefix meets a key.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else if key.is_empty() {
        format!("{prefix}/")
    } else {
        format!("{prefix}/{key}")
    }
}

/// `inner` under `prefix` (normalised: no leading or trailing `/`, may be empty).
#[derive(Clone)]
pub struct PrefixStore<S> {
    inner: S,
    prefix: String,
}

impl<S: Store> PrefixStore<S> {
    /// Wraps `inner`; `prefix` must already be normalised (see `config::Prefix`).
    pub fn new(inner: S, prefix: impl Into<String>) -> PrefixStore<S> {
        PrefixStore {
            inner,
            prefix: prefix.into(),
        }
    }

    /// The prefix, without a trailing `/` (empty for a store's root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The full key of a relative one.
    pub fn full_key(&self, key: &str) -> String {
        join(&self.prefix, key)
    }

    /// The relative key of a full one (keys outside the prefix are returned whole).
    fn relative(&self, key: String) -> String {
        if self.prefix.is_empty() {
            return key;
        }
        match key
            .strip_prefix(self.prefix.as_str())
            .and_then(|k| k.strip_prefix('/'))
        {
            Some(rest) => rest.to_string(),
            None => key,
        }
    }
}

impl<S: Store> Store for PrefixStore<S> {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        self.inner.put(&self.full_key(key), body).await
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.inner.get(&self.full_key(key)).await
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        self.inner.put_if(&self.full_key(key), body, pre).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = self.inner.list(&self.full_key(prefix)).await?;
        for o in &mut out {
            o.key = self.relative(std::mem::take(&mut o.key));
        }
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(&self.full_key(key)).await
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let out = self.inner.list_folders(&self.full_key(prefix)).await?;
        Ok(out.into_iter().map(|k| self.relative(k)).collect())
    }

    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        let mut out = self.inner.leftovers(&self.full_key(prefix)).await?;
        for o in &mut out {
            o.key = self.relative(std::mem::take(&mut o.key));
        }
        Ok(out)
    }

    fn location(&self, key: &str) -> String {
        self.inner.location(&self.full_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn keys_are_relative_on_both_sides() {
        let s = PrefixStore::new(MemoryStore::default(), "cdc");
        s.put("public/t/x.parquet", Bytes::from_static(b"1"))
            .await
            .unwrap();
        s.inner()
            .put("other/y", Bytes::from_static(b"2"))
            .await
            .unwrap();
        assert_eq!(s.inner().keys(), ["cdc/public/t/x.parquet", "other/y"]);
        let listed: Vec<String> = s
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        assert_eq!(listed, ["public/t/x.parquet"]);
        assert_eq!(s.list_folders("").await.unwrap(), ["public/"]);
        assert_eq!(s.location("a"), "memory:cdc/a");
        let root = PrefixStore::new(MemoryStore::default(), "");
        assert_eq!(root.full_key("a/b"), "a/b");
    }
}
