//! cdc-sink turns the change stream that AWS DMS writes to Kinesis (source: PostgreSQL) into an
//! append-only change lake that Athena queries: one folder per table, Hive-style time
//! partitions, Parquet or JSON Lines objects, lineage columns on every row.
//!
//! The modules stand on floors, and every import runs downward (`tests/layering.rs` holds it):
//!
//! 1. [`model`]: the vocabulary, importing nothing of the crate; [`config`]: every setting.
//! 2. [`lake::keys`], [`lake::lineage`], [`lake::layout`], [`lake::docs`]: the lake's
//!    contract, pure.
//! 3. [`schema`] (pure registry rules), [`decode`] (bytes to borrowed records).
//! 4. [`store`]: one [`store::Store`] trait over a local directory, S3 and memory; no lake rule.
//! 5. [`format`], [`pipeline`]: [`pipeline::build_batch`] turns one Lambda Kinesis event into
//!    encoded objects with lake-relative keys, without I/O.
//! 6. [`lake::Lake`]: a store under a prefix with the layout guard; the only writer of a lake.
//! 7. [`ingest`] (the Lambda, replay, the registry loop); then the commands [`repair`],
//!    [`status`], [`source`], [`athena`], which reach the registry through
//!    [`ingest::registry`]; then [`reconcile`] (the lake against the live source, using
//!    [`source`]); then [`sim`] (generator, benchmark, fuzzing).
//!
//! The binaries (`src/bin/`) compose these; only they know clap, terminals and exit codes.

#![warn(missing_docs, unreachable_pub)]

pub mod athena;
pub mod compact;
pub mod config;
pub mod decode;
pub mod format;
pub mod ingest;
pub mod lake;
pub mod model;
pub mod pipeline;
pub mod reconcile;
pub mod repair;
pub mod schema;
pub mod sim;
pub mod source;
pub mod status;
pub mod store;
