//! `cdc-sink`: the command-line face of the pipeline. This file only parses the command line and
//! dispatches: each command's flags and its run function live in a module of its own beside it.

mod athena;
mod bench;
mod common;
mod compact;
mod cost;
mod generate;
mod reconcile;
mod recover;
mod redrive;
mod replay;
mod schema;
mod status;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Turn AWS DMS change events from Kinesis into a Hive-partitioned Parquet / JSON Lines change
/// lake (local directory or S3) that Athena queries.
#[derive(Parser)]
#[command(name = "cdc-sink", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Process Lambda Kinesis event files exactly as the Lambda does and write the objects.
    ///
    /// Writes are idempotent: replaying the same event writes the same keys with the same rows.
    Replay(replay::ReplayArgs),
    /// Show, set or infer table schemas (the registry under {prefix}/_schemas/).
    #[command(subcommand)]
    Schema(schema::SchemaCommand),
    /// Athena DDL and views for the registered tables.
    #[command(subcommand)]
    Athena(athena::AthenaCommand),
    /// Measure the hot path on generated full-size events, peak memory of replay and the
    /// Lambda's cold start (see BENCHMARKS.md). Run from a release build.
    Bench(bench::BenchArgs),
    /// Simulate PostgreSQL tables under DMS and write Lambda Kinesis events, with the true
    /// final state of every table (truth.json), for tests, demos and benchmarks.
    Generate(generate::GenerateArgs),
    /// Bring batches that Lambda gave up on into the lake: from the on-failure SQS queue, a file
    /// of failure records, or the S3 on-failure destination (README: "When Lambda gives up").
    Recover(recover::RecoverArgs),
    /// Re-process quarantined records after their cause is fixed (e.g. a schema override).
    Redrive(redrive::RedriveArgs),
    /// Lays the batch objects of closed time windows (a lake written with --objects batch) out
    /// per table, then removes them. Safe to rerun or to stop at any point.
    Compact(compact::CompactArgs),
    /// Simulate a DMS stream through the Lambda handler (and the compactor) into a store that
    /// counts every S3 request, and price it beside Amazon Data Firehose (see BENCHMARKS.md).
    Cost(cost::CostArgs),
    /// The lake at a glance: layout, tables (objects, bytes, partitions, last write), schema
    /// versions and pending conflicts, quarantine by reason and day, recover and redrive
    /// history, leftover temporary files. Reads listings and small documents only.
    Status(status::StatusArgs),
    /// Compare the lake with the live PostgreSQL it is fed from, key by key: rows missing from
    /// the lake, rows only in it, and values that differ. Exit 0 when every table agrees, 3
    /// when differences were found, 1 when a table could not be compared.
    Reconcile(reconcile::ReconcileArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), (String, u8)> = match cli.command {
        // The benchmark drives its own runtime per case; it must not run inside another one.
        Command::Bench(args) => bench::run(args).map_err(failed),
        Command::Generate(args) => generate::run(args).map_err(failed),
        command => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Err(e) => Err(failed(format!("cannot start the async runtime: {e}"))),
            Ok(rt) => rt.block_on(async {
                match command {
                    Command::Replay(args) => {
                        replay::run(args).await.map_err(|f| (f.message, f.code))
                    }
                    Command::Schema(cmd) => schema::run(cmd).await.map_err(failed),
                    Command::Athena(cmd) => athena::run(cmd).await.map_err(failed),
                    Command::Status(args) => status::run(args).await.map_err(failed),
                    Command::Recover(args) => recover::run(args).await.map_err(failed),
                    Command::Redrive(args) => redrive::run(args).await.map_err(failed),
                    Command::Compact(args) => compact::run(args).await.map_err(failed),
                    Command::Cost(args) => cost::run(args).await.map_err(failed),
                    Command::Reconcile(args) => match reconcile::run(args).await {
                        Ok(0) => Ok(()),
                        // Differences found: the report said it all.
                        Ok(code) => Err((String::new(), code)),
                        Err(e) => Err(failed(e)),
                    },
                    Command::Bench(_) | Command::Generate(_) => Ok(()),
                }
            }),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((message, code)) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::from(code)
        }
    }
}

/// An ordinary failure: exit status 1.
fn failed(message: String) -> (String, u8) {
    (message, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command and every flag has help text.
    #[test]
    fn every_flag_has_help() {
        fn check(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    arg.get_help().is_some() || arg.get_long_help().is_some(),
                    "{path} {id} has no help text"
                );
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "{path} {} has no help",
                    sub.get_name()
                );
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        check(&cmd, "cdc-sink");
    }
}
