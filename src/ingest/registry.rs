//! Keeps the registry and the data in step: a batch is built with the registered schemas, the
//! registry is evolved with what the batch saw (new columns, table-defs) using conditional
//! writes, and the batch is rebuilt until it matches the registry. Only then are data objects
//! written, so every file of a table has the registry's columns and types.

use crate::config::Config;
use crate::lake::keys;
use crate::model::change::TableId;
use crate::pipeline::{build_batch, Batch, PipelineError};
use crate::schema::registry::{evolve, Registered};
use crate::schema::{SchemaSource, TableSchema};
use crate::store::{Precondition, PutOutcome, Store, StoreError};
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rebuilds allowed per event before giving up (each needs a registry change or a conflict;
/// N writers racing on one table can make the last one lose N - 1 times).
const MAX_ROUNDS: usize = 32;

/// Why a registry read or update failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The batch could not be built.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Reading or writing a registry document failed.
    #[error("schema registry: {0}")]
    Store(#[from] StoreError),
    /// A registry document does not parse.
    #[error("schema registry document {key} is unreadable ({why}); fix it with `cdc-sink schema set` or delete it")]
    Corrupt {
        /// Which document: its location or its key.
        key: String,
        /// Why it does not parse.
        why: String,
    },
    /// Other writers kept changing the same documents; nothing was lost, a retry will do.
    #[error("schema registry: still conflicting with other writers after {MAX_ROUNDS} rounds; try again")]
    Contention,
    /// The change cannot be made (e.g. the table is not registered).
    #[error("{0}")]
    Refused(String),
}

#[derive(Clone)]
struct Cached {
    doc: Option<Registered>,
    schema: Option<Arc<TableSchema>>,
    etag: Option<String>,
    fetched: Instant,
}

/// Registered schemas as of one moment: what a batch is built with (a snapshot of the cache,
/// or of the whole registry for a dry run and for redrive).
pub struct Snapshot(HashMap<TableId, Arc<TableSchema>>);

impl Snapshot {
    /// Every registered table's schema, read once.
    pub async fn load<St: Store>(store: &St) -> Result<Snapshot, RegistryError> {
        let mut map = HashMap::new();
        for doc in list_registered(store).await? {
            let id = doc.id();
            let schema = doc.to_schema().map_err(|why| RegistryError::Corrupt {
                key: store.location(&keys::registry_key(&id)),
                why,
            })?;
            map.insert(id, Arc::new(schema));
        }
        Ok(Snapshot(map))
    }
}

impl SchemaSource for Snapshot {
    fn lookup(&self, table: &TableId) -> Option<Arc<TableSchema>> {
        self.0.get(table).cloned()
    }
}

/// A cache of registry documents, kept per warm Lambda (or per CLI run).
pub struct SchemaRegistry {
    /// Entries older than this are re-read before use, to notice other writers' changes.
    refresh_after: Duration,
    cache: Mutex<HashMap<TableId, Cached>>,
}

/// The outcome of [`SchemaRegistry::build_with`].
#[derive(Debug)]
// Built once per event and moved once: boxing the batch would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Built {
    /// The batch, built with the registry's schemas (evolved as needed).
    Ready(Batch, SchemaReport),
    /// Rows of these tables have no registered schema yet; nothing was registered.
    Undeclared {
        /// The undeclared tables.
        tables: Vec<TableId>,
        /// The oldest arrival time of the event's records (the wait is measured from it).
        oldest_arrival_us: Option<i64>,
    },
}

/// What changed in the registry while processing an event, for logs and the CLI.
#[derive(Debug, Default, Clone)]
pub struct SchemaReport {
    /// "schema.table v3: added column x double (inferred from values)" and the like.
    pub changes: Vec<String>,
    /// Notes on table-defs (types kept as string).
    pub notes: Vec<String>,
    /// Conditional writes that lost to another writer (and were redone on its version).
    pub conflicts: u32,
}

impl SchemaRegistry {
    /// An empty cache; entries older than `refresh_after` are re-read before use.
    pub fn new(refresh_after: Duration) -> SchemaRegistry {
        SchemaRegistry {
            refresh_after,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<TableId, Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot(
            self.cache()
                .iter()
                .filter_map(|(t, c)| c.schema.clone().map(|s| (t.clone(), s)))
                .collect(),
        )
    }

    /// Reads a table's document into the cache; true when it differs from what was cached.
    async fn fetch<St: Store>(&self, store: &St, t: &TableId) -> Result<bool, RegistryError> {
        let key = keys::registry_key(t);
        let got = store.get(&key).await?;
        let key = store.location(&key);
        let (doc, etag) = match got {
            Some((bytes, etag)) => {
                let doc = Registered::from_json(&bytes).map_err(|why| RegistryError::Corrupt {
                    key: key.clone(),
                    why,
                })?;
                (Some(doc), Some(etag))
            }
            None => (None, None),
        };
        let schema = match &doc {
            Some(d) => Some(Arc::new(d.to_schema().map_err(|why| {
                RegistryError::Corrupt {
                    key: key.clone(),
                    why,
                }
            })?)),
            None => None,
        };
        let mut cache = self.cache();
        let changed = cache.get(t).map(|c| c.etag != etag).unwrap_or(true);
        cache.insert(
            t.clone(),
            Cached {
                doc,
                schema,
                etag,
                fetched: Instant::now(),
            },
        );
        Ok(changed)
    }

    /// The registered document of a table, read through the cache.
    pub async fn get<St: Store>(
        &self,
        store: &St,
        t: &TableId,
    ) -> Result<Option<Registered>, RegistryError> {
        self.fetch(store, t).await?;
        Ok(self.cache().get(t).and_then(|c| c.doc.clone()))
    }

    /// Writes a new version of a document if nobody else changed it since it was read.
    /// Returns false on conflict (the cache then holds the other writer's version).
    pub async fn publish<St: Store>(
        &self,
        store: &St,
        doc: &Registered,
    ) -> Result<bool, RegistryError> {
        let t = doc.id();
        let key = keys::registry_key(&t);
        let pre = match self.cache().get(&t).and_then(|c| c.etag.clone()) {
            Some(etag) => Precondition::Match(etag),
            None => Precondition::Absent,
        };
        match store.put_if(&key, Bytes::from(doc.to_json()), pre).await? {
            PutOutcome::Written { etag } => {
                let schema = doc.to_schema().map_err(|why| RegistryError::Corrupt {
                    key: store.location(&key),
                    why,
                })?;
                self.cache().insert(
                    t,
                    Cached {
                        doc: Some(doc.clone()),
                        schema: Some(Arc::new(schema)),
                        etag: Some(etag),
                        fetched: Instant::now(),
                    },
                );
                Ok(true)
            }
            PutOutcome::Conflict => {
                self.fetch(store, &t).await?;
                Ok(false)
            }
        }
    }

    /// Builds an event's batch with registered schemas, evolving the registry first if the
    /// event brings new columns or table definitions. Tables nobody declared are inferred.
    pub async fn build<St: Store>(
        &self,
        store: &St,
        event: &[u8],
        cfg: &Config,
    ) -> Result<(Batch, SchemaReport), RegistryError> {
        match self.build_with(store, event, cfg, true).await? {
            Built::Ready(batch, report) => Ok((batch, report)),
            Built::Undeclared { .. } => Err(RegistryError::Contention),
        }
    }

    /// Re-reads the given tables' documents (a waiting batch looks for declarations that other
    /// writers published meanwhile); true when at least one of them is registered now.
    pub async fn refresh<St: Store>(
        &self,
        store: &St,
        tables: &[TableId],
    ) -> Result<bool, RegistryError> {
        for t in tables {
            self.fetch(store, t).await?;
        }
        let cache = self.cache();
        Ok(tables
            .iter()
            .any(|t| cache.get(t).is_some_and(|c| c.doc.is_some())))
    }

    /// Like [`Self::build`], but with `infer_new == false` a batch holding rows of a table that
    /// has no registered schema (and no table-def in the batch) is not built: the registry is
    /// left untouched and the tables are returned, so the caller can wait for their declaration.
    pub async fn build_with<St: Store>(
        &self,
        store: &St,
        event: &[u8],
        cfg: &Config,
        infer_new: bool,
    ) -> Result<Built, RegistryError> {
        let mut report = SchemaReport::default();
        for round in 0..MAX_ROUNDS {
            let batch = build_batch(event, cfg, &self.snapshot())?;
            let touched: BTreeSet<TableId> = batch
                .tables
                .iter()
                .map(|(t, _)| t.clone())
                .chain(batch.table_defs.iter().map(|(t, _)| t.clone()))
                .collect();
            // Re-read what is missing, and (once per event) what is old; a change means the batch
            // must be rebuilt. Later rounds rely on the conditional writes to see other writers,
            // so racing writers cannot keep each other re-reading forever.
            let stale: Vec<TableId> = {
                let cache = self.cache();
                touched
                    .iter()
                    .filter(|t| {
                        cache
                            .get(*t)
                            .is_none_or(|c| round == 0 && c.fetched.elapsed() >= self.refresh_after)
                    })
                    .cloned()
                    .collect()
            };
            let mut rebuild = false;
            for t in &stale {
                rebuild |= self.fetch(store, t).await?;
            }
            if rebuild {
                continue;
            }
            if !infer_new {
                let cache = self.cache();
                let undeclared: Vec<TableId> = batch
                    .tables
                    .iter()
                    .map(|(t, _)| t)
                    .filter(|t| cache.get(*t).is_none_or(|c| c.doc.is_none()))
                    .filter(|t| !batch.table_defs.iter().any(|(d, _)| d == *t))
                    .cloned()
                    .collect();
                if !undeclared.is_empty() {
                    return Ok(Built::Undeclared {
                        tables: undeclared,
                        oldest_arrival_us: batch.oldest_arrival_us,
                    });
                }
            }
            for t in &touched {
                let current = self.cache().get(t).and_then(|c| c.doc.clone());
                let defs: Vec<&TableSchema> = batch
                    .table_defs
                    .iter()
                    .filter(|(id, _)| id == t)
                    .map(|(_, d)| &d.schema)
                    .collect();
                let observed = batch.tables.iter().find(|(id, _)| id == t).map(|(_, s)| s);
                if let Some(next) = evolve(current.as_ref(), t, &defs, observed) {
                    if self.publish(store, &next).await? {
                        for change in next
                            .history
                            .last()
                            .map(|h| h.changes.as_slice())
                            .unwrap_or_default()
                        {
                            report
                                .changes
                                .push(format!("{t} v{}: {change}", next.version));
                        }
                    } else {
                        // Another writer got there first.
                        report.conflicts += 1;
                        backoff(report.conflicts).await;
                    }
                    rebuild = true;
                }
            }
            if !rebuild {
                for (t, def) in &batch.table_defs {
                    report
                        .notes
                        .extend(def.notes.iter().map(|n| format!("{t} table-def: {n}")));
                }
                return Ok(Built::Ready(batch, report));
            }
        }
        Err(RegistryError::Contention)
    }
}

/// Every registered table of a lake, in key order.
pub async fn list_registered<St: Store>(store: &St) -> Result<Vec<Registered>, RegistryError> {
    let mut docs = Vec::new();
    for o in store.list(keys::SCHEMAS).await? {
        if !o.key.ends_with(".json") {
            continue;
        }
        if let Some((bytes, _)) = store.get(&o.key).await? {
            docs.push(
                Registered::from_json(&bytes).map_err(|why| RegistryError::Corrupt {
                    key: store.location(&o.key),
                    why,
                })?,
            );
        }
    }
    Ok(docs)
}

/// What [`update`] did.
#[derive(Debug, Clone)]
pub enum Updated {
    /// The new version was published.
    Published(Registered),
    /// Nothing to change: the document as it is (`None`: not registered).
    Unchanged(Option<Registered>),
}

/// The one optimistic update of a registry document: read it, let `change` compute the next
/// version (`None`: nothing to change), publish it with a conditional write, and on a conflict
/// re-read and try again, backing off a little, at most [`MAX_ROUNDS`] times. `cdc-sink schema
/// set`, `schema import` and the ingest loop's publish all go through this policy.
pub async fn update<St: Store>(
    registry: &SchemaRegistry,
    store: &St,
    table: &TableId,
    mut change: impl FnMut(Option<&Registered>) -> Result<Option<Registered>, RegistryError>,
) -> Result<Updated, RegistryError> {
    for conflicts in 0..MAX_ROUNDS as u32 {
        let current = registry.get(store, table).await?;
        let Some(next) = change(current.as_ref())? else {
            return Ok(Updated::Unchanged(current));
        };
        if registry.publish(store, &next).await? {
            return Ok(Updated::Published(next));
        }
        backoff(conflicts + 1).await;
    }
    Err(RegistryError::Contention)
}

/// After the `n`th lost conditional write: spread racing writers out a little.
async fn backoff(n: u32) {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos() % 5))
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(2 * u64::from(n) + jitter)).await;
}

impl SchemaRegistry {
    /// The cached schemas as a [`SchemaSource`] (benchmarks time the pure stage with it).
    pub fn snapshot_for_bench(&self) -> impl SchemaSource {
        self.snapshot()
    }
}
