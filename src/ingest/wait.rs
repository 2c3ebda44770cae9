//! One meaning of `CDC_AWAIT_TABLE_DEF_SECS` for every writer (the Lambda, recover, redrive;
//! replay defers instead, see [`crate::ingest::replay`]): rows of a table with no registered
//! schema wait for its declaration (another shard's `create-table`, or `schema import`),
//! re-reading the registry, until the records' arrival plus the setting (and, in the Lambda,
//! the function's deadline less [`WAIT_RESERVE`]). Then their types are inferred, and the log
//! and the metrics say so. Zero infers at once. Records older than the bound (a recovered
//! batch, a quarantined record) are therefore inferred at once, as the Lambda would.

use crate::config::Config;
use crate::ingest::registry::{Built, RegistryError, SchemaRegistry, SchemaReport};
use crate::model::time::now_us;
use crate::pipeline::Batch;
use crate::store::Store;
use std::time::Duration;

/// Time kept free before the function's deadline: a waiting batch stops waiting when less than
/// this remains, so that it can still be encoded and written.
pub const WAIT_RESERVE: Duration = Duration::from_secs(15);
/// How often a waiting batch re-reads the registry.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// What waiting cost, for the invocation's metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct Waited {
    /// Milliseconds spent waiting for declarations (0 when nothing waited).
    pub wait_ms: f64,
    /// Tables whose types were inferred because no declaration came in time.
    pub inferred_without_declaration: u64,
}

/// Builds the batch, waiting for the declaration of tables nobody declared yet (see the module
/// docs). `deadline_ms`: the invocation's deadline in epoch milliseconds, if there is one.
pub async fn build_waiting<S: Store>(
    registry: &SchemaRegistry,
    store: &S,
    event: &[u8],
    cfg: &Config,
    deadline_ms: Option<u64>,
) -> Result<(Batch, SchemaReport, Waited), RegistryError> {
    let bound = cfg.await_table_def;
    let started = now_us();
    let mut waited = false;
    let mut w = Waited::default();
    let outcome = 'build: loop {
        let infer = bound.is_zero();
        let (tables, oldest_arrival_us) =
            match registry.build_with(store, event, cfg, infer).await? {
                Built::Ready(batch, report) => break Some((batch, report)),
                Built::Undeclared {
                    tables,
                    oldest_arrival_us,
                } => (tables, oldest_arrival_us),
            };
        let mut until = oldest_arrival_us.unwrap_or(started) + bound.as_micros() as i64;
        if let Some(d) = deadline_ms {
            until = until.min(d as i64 * 1000 - WAIT_RESERVE.as_micros() as i64);
        }
        let names: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
        // Sleep and re-read the registry; rebuild the batch only once a declaration is there.
        loop {
            let now = now_us();
            if now >= until {
                if waited {
                    tracing::warn!(tables = %names.join(", "), waited_ms = (now - started) / 1000,
                        "no declared schema arrived within CDC_AWAIT_TABLE_DEF_SECS (or the function's time); inferring types from values. Enable IncludeControlDetails on the DMS endpoint or run `cdc-sink schema import`");
                } else {
                    tracing::warn!(tables = %names.join(", "),
                        "no declared schema for these tables, and the records are older than CDC_AWAIT_TABLE_DEF_SECS; inferring types from values. Enable IncludeControlDetails on the DMS endpoint or run `cdc-sink schema import`");
                }
                w.inferred_without_declaration = tables.len() as u64;
                break 'build None;
            }
            if !waited {
                tracing::info!(tables = %names.join(", "), "waiting for the tables' declared schemas (create-table of another shard, or schema import)");
                waited = true;
            }
            let pause = Duration::from_micros((until - now) as u64).min(WAIT_POLL);
            tokio::time::sleep(pause).await;
            if registry.refresh(store, &tables).await? {
                continue 'build;
            }
        }
    };
    if waited {
        w.wait_ms = (now_us() - started).max(0) as f64 / 1000.0;
    }
    let (batch, report) = match outcome {
        Some(done) => done,
        None => registry.build(store, event, cfg).await?,
    };
    Ok((batch, report, w))
}
