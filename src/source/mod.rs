//! The source database's own catalog: declared table schemas for `cdc-sink schema import`,
//! the most trusted source after a user's override.

pub mod postgres;
pub mod rows;

use crate::ingest::registry::{update, RegistryError, SchemaRegistry, Updated};
use crate::model::change::TableId;
use crate::schema::registry::{evolve, Registered};
use crate::schema::TableSchema;
use crate::store::Store;

/// One table as the source catalog declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTable {
    /// The source table (schema and name).
    pub id: TableId,
    /// Columns in the table's order, each with `source: Catalog`.
    pub schema: TableSchema,
    /// What could not be mapped exactly (types kept as string, and why).
    pub notes: Vec<String>,
}

/// What registering one catalog table did.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The source table (schema and name).
    pub id: TableId,
    /// The registry document after the import.
    pub doc: Registered,
    /// History entries this import added (empty when nothing changed).
    pub changes: Vec<String>,
}

/// Registers catalog tables as declared schemas, ranked below an override and above DMS
/// table-defs and inference. Safe to re-run: compatible changes apply, incompatible ones are
/// recorded as pending conflicts (conditional writes, redone when another writer races).
pub async fn register<St: Store>(
    store: &St,
    tables: &[CatalogTable],
) -> Result<Vec<Imported>, RegistryError> {
    let reg = SchemaRegistry::new(std::time::Duration::ZERO);
    let mut out = Vec::new();
    for t in tables {
        let change = |current: Option<&Registered>| Ok(evolve(current, &t.id, &[&t.schema], None));
        out.push(match update(&reg, store, &t.id, change).await? {
            Updated::Published(doc) => Imported {
                id: t.id.clone(),
                changes: doc
                    .history
                    .last()
                    .map(|h| h.changes.clone())
                    .unwrap_or_default(),
                doc,
            },
            Updated::Unchanged(doc) => Imported {
                id: t.id.clone(),
                doc: doc.unwrap_or_else(|| Registered::empty(&t.id)),
                changes: Vec::new(),
            },
        });
    }
    Ok(out)
}
