//! The integration tests, one binary: each file of tests/ is a module here, so the AWS SDK and
//! the crate are linked once instead of once per file, and tests/common is compiled once.

mod common;

mod athena_cli;
mod athena_read;
mod athena_runner;
mod bad_input;
mod cli;
mod compact;
mod compaction_status;
mod delivery;
mod docs;
mod faults;
mod fuzz_regressions;
mod iceberg_oracle;
mod lambda_local;
mod layering;
mod objects_unchanged;
mod oracle;
mod pipeline;
mod postgres;
mod readers;
mod reconcile;
mod recover;
mod redrive;
mod s3;
mod schema;
mod store_conformance;
mod table_defs;
mod wal;
