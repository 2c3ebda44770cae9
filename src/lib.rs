//! cdc-sink turns the change stream that AWS DMS writes to Kinesis (source: PostgreSQL) into an
//! append-only change lake that Athena queries: one folder per table, Hive-style time
//! partitions, Parquet or JSON Lines objects, lineage columns on every row.
//!
//! The same pipeline runs in the Lambda (`cdc-sink-lambda`) and the CLI (`cdc-sink replay`):
//! [`pipeline::build_batch`] turns one Lambda Kinesis event into encoded objects without I/O,
//! and [`pipeline::write_batch`] puts them to an [`sink::ObjectSink`] (a local directory or S3).

pub mod athena;
pub mod bench;
pub mod change;
pub mod cli;
pub mod columns;
pub mod config;
pub mod dms;
pub mod encode;
pub mod fuzzing;
pub mod generate;
pub mod handler;
pub mod kinesis;
pub mod layout;
pub mod metrics;
pub mod partition;
pub mod pipeline;
pub mod quarantine;
pub mod recover;
pub mod redrive;
pub mod schema;
pub mod sink;
pub mod source;
pub mod time;
pub mod value;
