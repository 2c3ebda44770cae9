//! The lake's contract, in one place: where every object goes ([`keys`], with the reserved
//! names), the lineage columns ([`lineage`]), the lake's documents ([`layout`]), and [`Lake`],
//! the one value through which commands read and write a lake: it applies the prefix once and
//! holds the layout guard.
//!
//! The layout guard, one policy for every writer (the Lambda's Kinesis and SQS recovery paths,
//! replay, recover, redrive): a writer compares its configured layout with the lake's recorded
//! one before it writes anything and refuses on a mismatch (two layouts in one table folder
//! would hold every row twice); the first write of a lake with no layout document records the
//! writer's layout with a conditional create, so racing first writers agree on one. Nothing is
//! recorded by a run that writes nothing (a dry run, a refused range). Readers (status, athena)
//! take the layout from the document.

pub mod docs;
pub mod keys;
pub mod layout;
pub mod lineage;

use crate::config::Layout;
use crate::store::{Precondition, PrefixStore, PutOutcome, Store, StoreError};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Objects written at once.
const WRITE_CONCURRENCY: usize = 16;

/// The lake could not be used: its store failed, a document is unreadable, or it is laid out
/// differently from this writer.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The store failed (after its retries).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The layout document is not one this version reads.
    #[error("the layout document {location} is unreadable ({why}); restore it from another copy of the lake's settings, or delete it to let the next writer record its own")]
    Corrupt {
        /// Where the document is.
        location: String,
        /// What is wrong with it.
        why: String,
    },
    /// The writer's layout is not the lake's.
    #[error("the lake at {location} is laid out as {lake}, but this writer is configured for {configured}. Nothing was written: two layouts in one lake would put every row in it twice. Use the lake's settings ({flags}), or write to another prefix (another --out, or CDC_PREFIX for the Lambda)")]
    Mismatch {
        /// The lake (its prefix's location).
        location: String,
        /// How the lake is laid out.
        lake: Layout,
        /// How this writer is configured.
        configured: Layout,
        /// The settings that match the lake, as flags.
        flags: String,
    },
}

/// What the guard knows of the lake's layout document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recorded {
    /// Not read yet (or the last read failed).
    Unknown,
    /// Read: there is none.
    Absent,
    /// Read (or written): this one.
    Present(Layout),
}

/// A lake: a store under a prefix, and the layout guard. Keys given to it are lake-relative
/// (see [`keys`]).
pub struct Lake<S> {
    store: PrefixStore<S>,
    /// The layout this process writes (`None`: a reader).
    writes: Option<Layout>,
    recorded: Mutex<Recorded>,
    /// Set once the layout document is known to match `writes` and to exist.
    write_checked: AtomicBool,
}

impl<S: Store> Lake<S> {
    /// A writer's lake, without any I/O yet; [`Lake::check`] or the first write runs the guard.
    /// The Lambda builds it at cold start, where a lake that cannot be read yet must not fail
    /// the function.
    pub fn for_writer(store: S, prefix: &str, layout: Layout) -> Lake<S> {
        Lake {
            store: PrefixStore::new(store, prefix),
            writes: Some(layout),
            recorded: Mutex::new(Recorded::Unknown),
            write_checked: AtomicBool::new(false),
        }
    }

    /// Opens a lake for writing with `layout`: refuses at once, before anything is written, when
    /// the lake is laid out otherwise. The layout is recorded with the first write.
    pub async fn open_for_write(
        store: S,
        prefix: &str,
        layout: Layout,
    ) -> Result<Lake<S>, LakeError> {
        let lake = Lake::for_writer(store, prefix, layout);
        lake.check().await?;
        Ok(lake)
    }

    /// Opens a lake for reading: its layout is the recorded one ([`Lake::recorded_layout`]).
    pub async fn open_for_read(store: S, prefix: &str) -> Result<Lake<S>, LakeError> {
        let lake = Lake {
            store: PrefixStore::new(store, prefix),
            writes: None,
            recorded: Mutex::new(Recorded::Unknown),
            write_checked: AtomicBool::new(false),
        };
        lake.read_layout().await?;
        Ok(lake)
    }

    /// The store, with lake-relative keys.
    pub fn store(&self) -> &PrefixStore<S> {
        &self.store
    }

    /// The prefix (normalised; empty for a store's root).
    pub fn prefix(&self) -> &str {
        self.store.prefix()
    }

    /// Where the lake is, for messages: `s3://bucket/prefix` or a directory.
    pub fn location(&self) -> String {
        let loc = self.store.location("");
        loc.strip_suffix('/').map(str::to_string).unwrap_or(loc)
    }

    /// Where a lake-relative key is, for messages.
    pub fn location_of(&self, key: &str) -> String {
        self.store.location(key)
    }

    /// The layout this lake is written with: the writer's, else the recorded one.
    pub fn layout(&self) -> Option<Layout> {
        self.writes.or_else(|| self.recorded_layout())
    }

    /// The layout the lake's document records, as last read (`None`: no document, or not read).
    pub fn recorded_layout(&self) -> Option<Layout> {
        match *self.recorded.lock().unwrap_or_else(|p| p.into_inner()) {
            Recorded::Present(l) => Some(l),
            _ => None,
        }
    }

    fn set_recorded(&self, r: Recorded) {
        *self.recorded.lock().unwrap_or_else(|p| p.into_inner()) = r;
    }

    /// Reads the layout document.
    async fn read_layout(&self) -> Result<Option<Layout>, LakeError> {
        let got = self.store.get(keys::LAYOUT).await?;
        let layout = match got {
            None => None,
            Some((bytes, _)) => {
                Some(layout::from_json(&bytes).map_err(|why| LakeError::Corrupt {
                    location: self.store.location(keys::LAYOUT),
                    why,
                })?)
            }
        };
        self.set_recorded(layout.map_or(Recorded::Absent, Recorded::Present));
        Ok(layout)
    }

    /// The guard without writing: reads the lake's layout (once it matched, not again) and
    /// fails with [`LakeError::Mismatch`] when this writer's differs. A reader passes.
    pub async fn check(&self) -> Result<(), LakeError> {
        let Some(configured) = self.writes else {
            return Ok(());
        };
        let recorded = match *self.recorded.lock().unwrap_or_else(|p| p.into_inner()) {
            Recorded::Unknown => None,
            known => Some(known),
        };
        let lake = match recorded {
            Some(Recorded::Present(l)) => Some(l),
            Some(_) => None,
            None => self.read_layout().await?,
        };
        match lake {
            Some(l) => check_layout(&l, &configured, &self.location()),
            None => Ok(()),
        }
    }

    /// The guard before a write: checks, and records this writer's layout if the lake has none
    /// (a conditional create: when another first writer wins, its layout is checked instead).
    async fn guard_write(&self) -> Result<(), LakeError> {
        let Some(configured) = self.writes else {
            return Ok(());
        };
        if self.write_checked.load(Ordering::Acquire) {
            return Ok(());
        }
        self.check().await?;
        if self.recorded_layout().is_none() {
            let doc = Bytes::from(layout::to_json(&configured));
            match self
                .store
                .put_if(keys::LAYOUT, doc, Precondition::Absent)
                .await?
            {
                PutOutcome::Written { .. } => self.set_recorded(Recorded::Present(configured)),
                PutOutcome::Conflict => {
                    self.set_recorded(Recorded::Unknown);
                    self.check().await?;
                }
            }
        }
        self.write_checked.store(true, Ordering::Release);
        Ok(())
    }

    /// Writes objects (lake-relative keys), several at once, after the layout guard. Any
    /// failure fails the whole call: the caller retries the batch, which rewrites the same keys.
    ///
    /// After a failure no new write starts, but every write already started is awaited before
    /// returning: a write abandoned mid-flight could otherwise land after the retry rewrote the
    /// same key, putting stale rows back.
    pub async fn put_objects<'o>(
        &self,
        objects: impl IntoIterator<Item = (&'o str, Bytes)>,
    ) -> Result<(), LakeError> {
        self.guard_write().await?;
        let failed = AtomicBool::new(false);
        // Futures collected first: a closure kept inside the stream would make the returned
        // future not provably Send for every lifetime (so not spawnable).
        let puts: Vec<_> = objects
            .into_iter()
            .map(|(key, body)| put_unless_failed(&self.store, key, body, &failed))
            .collect();
        let results: Vec<Result<(), StoreError>> = stream::iter(puts)
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect()
            .await;
        match results.into_iter().find_map(Result::err) {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Writes one document (recover history, redrive manifest) after the layout guard.
    pub async fn put_document(&self, key: &str, body: Bytes) -> Result<(), LakeError> {
        self.guard_write().await?;
        Ok(self.store.put(key, body).await?)
    }
}

/// Whether a writer with layout `configured` may write into a lake laid out as `lake`.
fn check_layout(lake: &Layout, configured: &Layout, location: &str) -> Result<(), LakeError> {
    if lake == configured {
        return Ok(());
    }
    Err(LakeError::Mismatch {
        location: location.to_string(),
        lake: *lake,
        configured: *configured,
        flags: lake.flags(),
    })
}

/// One write of [`Lake::put_objects`]; skipped once another write has failed.
async fn put_unless_failed<S: Store>(
    store: &S,
    key: &str,
    body: Bytes,
    failed: &AtomicBool,
) -> Result<(), StoreError> {
    if failed.load(Ordering::SeqCst) {
        return Ok(());
    }
    let r = store.put(key, body).await;
    if r.is_err() {
        failed.store(true, Ordering::SeqCst);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Partitioning};
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn first_write_records_the_layout_and_a_different_writer_is_refused() {
        let parquet = Config::default().layout;
        let lake = Lake::open_for_write(MemoryStore::default(), "cdc", parquet)
            .await
            .unwrap();
        assert_eq!(lake.recorded_layout(), None, "opening records nothing");
        lake.put_objects([("public/t/x.parquet", Bytes::from_static(b"x"))])
            .await
            .unwrap();
        let (doc, _) = lake.store().get(keys::LAYOUT).await.unwrap().unwrap();
        assert_eq!(
            String::from_utf8(doc).unwrap(),
            "{\"format\":\"parquet\",\"compression\":\"snappy\",\"partition\":\"day\",\"partition_time\":\"commit\"}\n"
        );
        let store = lake.store;
        let memory = store.inner();
        assert!(memory.keys().contains(&format!("cdc/{}", keys::LAYOUT)));
        let copy = MemoryStore::default();
        for k in memory.keys() {
            let (b, _) = memory.get(&k).await.unwrap().unwrap();
            copy.put(&k, Bytes::from(b)).await.unwrap();
        }
        // The same settings again: fine; hourly: refused before anything is written.
        Lake::open_for_write(&copy, "cdc", parquet).await.unwrap();
        let cfg = Config {
            layout: crate::config::Layout {
                partition: Partitioning::Hour,
                ..crate::config::Layout::default()
            },
            ..Config::default()
        };
        let e = Lake::open_for_write(&copy, "cdc", cfg.layout)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("partition=day") && e.contains("partition=hour"),
            "{e}"
        );
        assert!(
            e.contains("another prefix") && e.contains("--partition day"),
            "{e}"
        );
        // A writer built without a check (the Lambda's cold start) is refused at its first write.
        let lambda = Lake::for_writer(&copy, "cdc", cfg.layout);
        let e = lambda
            .put_objects([("public/t/y.parquet", Bytes::from_static(b"y"))])
            .await
            .unwrap_err();
        assert!(matches!(e, LakeError::Mismatch { .. }), "{e}");
        assert!(copy.get("cdc/public/t/y.parquet").await.unwrap().is_none());
        // Another prefix is another lake.
        Lake::open_for_write(&copy, "other", cfg.layout)
            .await
            .unwrap();
    }
}
