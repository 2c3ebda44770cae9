//! Table schemas: the columns and types each table's files are written with.
//!
//! The pipeline asks a [`SchemaSource`] for a table's registered schema and infers the columns
//! it does not know from the values it sees. Inference never picks a type that a later value
//! could break in a way Athena cannot read (JSON numbers become `double`, never `bigint`).

pub mod registry;

pub use crate::model::types::ColumnType;
use std::sync::Arc;

use crate::model::change::TableId;

/// Where a column's type came from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TypeSource {
    /// Set by the user (`cdc-sink schema set`).
    Override,
    /// From the source database's own catalog (`cdc-sink schema import`).
    Catalog,
    /// From a DMS `create-table` control record's `table-def`.
    TableDef,
    /// Inferred from the first non-null value seen.
    Inferred,
}

impl TypeSource {
    /// Lower is more trusted: override, catalog, table-def, inference.
    pub fn rank(self) -> u8 {
        match self {
            TypeSource::Override => 0,
            TypeSource::Catalog => 1,
            TypeSource::TableDef => 2,
            TypeSource::Inferred => 3,
        }
    }

    /// The name used in history entries and messages (the document's spelling).
    pub fn label(self) -> &'static str {
        match self {
            TypeSource::Override => "override",
            TypeSource::Catalog => "catalog",
            TypeSource::TableDef => "table-def",
            TypeSource::Inferred => "inferred",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The name the lake's files and tables use.
    pub name: String,
    /// The column's logical type.
    pub ty: ColumnType,
    /// Whether the column may hold NULL.
    pub nullable: bool,
    /// Where the type came from.
    pub source: TypeSource,
    /// The source's own name (the DMS field name), when the column is written under another
    /// name: a clash with a lineage or partition column, or with another column's name in
    /// another case (see [`crate::lake::lineage::column_name`]).
    pub renamed_from: Option<String>,
}

impl Column {
    /// The name DMS uses for the column.
    pub fn source_name(&self) -> &str {
        self.renamed_from.as_deref().unwrap_or(&self.name)
    }
}

/// A table's columns in order, and its primary key when known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableSchema {
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// Primary key column names, in key order; empty when unknown.
    pub primary_key: Vec<String>,
}

impl TableSchema {
    /// A column by the name the lake uses.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A column by the name DMS uses for it.
    pub fn column_by_source(&self, source_name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.source_name() == source_name)
    }
}

/// Supplies the registered schema of a table to the pipeline. The pipeline is generic over it
/// so the CLI, the Lambda and tests can share one code path with different registries.
pub trait SchemaSource {
    /// The registered schema of `table`, or `None` when nothing is registered yet.
    fn lookup(&self, table: &TableId) -> Option<Arc<TableSchema>>;
}

/// No registry: every column is inferred from the values of the event being processed.
#[derive(Debug, Clone, Copy, Default)]
pub struct InferOnly;

impl SchemaSource for InferOnly {
    fn lookup(&self, _table: &TableId) -> Option<Arc<TableSchema>> {
        None
    }
}
