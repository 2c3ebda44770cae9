//! cdc-sink turns the change stream that AWS DMS writes to Kinesis (source: PostgreSQL) into an
//! append-only change lake that Athena queries: one folder per table, Hive-style time
//! partitions, Parquet or JSON Lines objects, lineage columns on every row.
//!
//! The same pipeline runs in the Lambda (`cdc-sink-lambda`) and the CLI (`cdc-sink replay`):
//! [`pipeline::build_batch`] turns one Lambda Kinesis event into encoded objects without I/O,
//! and [`pipeline::write_batch`] puts them to a store (a local directory or S3).

pub mod athena;
pub mod config;
pub mod decode;
pub mod format;
pub mod ingest;
pub mod lake;
pub mod model;
pub mod pipeline;
pub mod repair;
pub mod schema;
pub mod sim;
pub mod source;
pub mod status;
pub mod store;
