//! `cdc-sink`: the command-line face of the pipeline. This file only parses the command line and
//! dispatches: each command's flags and its run function live in `cdc_sink::cli::<command>`.

use cdc_sink::cli;
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
    Replay(cli::replay::ReplayArgs),
    /// Show, set or infer table schemas (the registry under {prefix}/_schemas/).
    #[command(subcommand)]
    Schema(cli::schema::SchemaCommand),
    /// Athena DDL and views for the registered tables.
    #[command(subcommand)]
    Athena(cli::athena::AthenaCommand),
    /// Measure the hot path on generated full-size events, peak memory of replay and the
    /// Lambda's cold start (see BENCHMARKS.md). Run from a release build.
    Bench(cli::bench::BenchArgs),
    /// Simulate PostgreSQL tables under DMS and write Lambda Kinesis events, with the true
    /// final state of every table (truth.json), for tests, demos and benchmarks.
    Generate(cli::generate::GenerateArgs),
    /// Bring batches that Lambda gave up on into the lake: from the on-failure SQS queue, a file
    /// of failure records, or the S3 on-failure destination (README: "When Lambda gives up").
    Recover(cli::recover::RecoverArgs),
    /// Re-process quarantined records after their cause is fixed (e.g. a schema override).
    Redrive(cli::redrive::RedriveArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // The benchmark drives its own runtime per case; it must not run inside another one.
        Command::Bench(args) => cli::bench::run(args),
        Command::Generate(args) => cli::generate::run(args),
        command => match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Err(e) => Err(format!("cannot start the async runtime: {e}")),
            Ok(rt) => rt.block_on(async {
                match command {
                    Command::Replay(args) => cli::replay::run(args).await,
                    Command::Schema(cmd) => cli::schema::run(cmd).await,
                    Command::Athena(cmd) => cli::athena::run(cmd).await,
                    Command::Recover(args) => cli::recover::run(args).await,
                    Command::Redrive(args) => cli::redrive::run(args).await,
                    Command::Bench(_) | Command::Generate(_) => Ok(()),
                }
            }),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
