//! The scheduled job (the `cdc-sink-athena-lambda` function that EventBridge Scheduler
//! invokes): settings from environment variables, the action from the schedule's input, then
//! [`runner::sync`](super::runner::sync) on the lake's registry.

use super::runner::{self, ObjectReport, Runner, RunnerSettings, SyncPlan};
use super::{ddl_with_tail, DdlOptions, Window, DEFAULT_TAIL_DAYS};
use crate::config::{env, Config};
use crate::ingest::registry::list_registered;
use crate::lake::keys::normalise_prefix;
use crate::sink::s3::{S3Settings, S3Sink};
use serde::Deserialize;

/// Environment variables of the job (besides the lake's `CDC_BUCKET`, `CDC_PREFIX`,
/// `CDC_FORMAT`, `CDC_COMPRESSION`, `CDC_PARTITION`).
pub mod vars {
    pub const DATABASE: &str = "CDC_ATHENA_DATABASE";
    pub const WORKGROUP: &str = "CDC_ATHENA_WORKGROUP";
    pub const OUTPUT_LOCATION: &str = "CDC_ATHENA_OUTPUT_LOCATION";
    pub const LOOKBACK_DAYS: &str = "CDC_MERGE_LOOKBACK_DAYS";
    pub const TAIL_DAYS: &str = "CDC_CURRENT_TAIL_DAYS";
    pub const PURGE_DAYS: &str = "CDC_PURGE_TOMBSTONES_DAYS";
}

/// What one invocation does: `{"action": "merge" | "optimize" | "vacuum"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Bring the catalog up to date, MERGE the lookback window, purge old tombstones.
    Merge,
    /// OPTIMIZE ... REWRITE DATA USING BIN_PACK on every state table.
    Optimize,
    /// VACUUM every state table.
    Vacuum,
}

#[derive(Debug, Deserialize)]
pub struct Input {
    pub action: Action,
}

/// The job's settings, read once at cold start.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub bucket: S3Settings,
    pub prefix: String,
    pub config: Config,
    pub database: String,
    pub runner: RunnerSettings,
    pub lookback_days: u32,
    pub tail_days: u32,
    pub purge_days: Option<u32>,
}

impl JobSettings {
    /// From environment variables, with errors that name the variable.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<JobSettings, String> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let days = |k: &str, default: Option<u32>| -> Result<Option<u32>, String> {
            match get(k) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| format!("{k}={v:?}: accepted: a whole number of days")),
            }
        };
        let prefix = normalise_prefix(&get(env::PREFIX).unwrap_or_else(|| "cdc".into()))
            .map_err(|e| format!("{}: {e}", env::PREFIX))?;
        let s = JobSettings {
            bucket: S3Settings::from_lookup(lookup, None).map_err(|e| e.to_string())?,
            prefix,
            config: Config::from_lookup(lookup).map_err(|e| e.to_string())?,
            database: get(vars::DATABASE).unwrap_or_else(|| "cdc_lake".into()),
            runner: RunnerSettings {
                workgroup: get(vars::WORKGROUP).unwrap_or_else(|| "primary".into()),
                output_location: get(vars::OUTPUT_LOCATION),
                // A Lambda invocation lasts 15 minutes at most.
                timeout: std::time::Duration::from_secs(780),
                ..Default::default()
            },
            lookback_days: days(vars::LOOKBACK_DAYS, Some(2))?.unwrap_or(2),
            tail_days: days(vars::TAIL_DAYS, Some(DEFAULT_TAIL_DAYS))?.unwrap_or(DEFAULT_TAIL_DAYS),
            purge_days: days(vars::PURGE_DAYS, None)?,
        };
        if let Some(p) = s.purge_days {
            if p <= s.lookback_days.max(s.tail_days) + 1 {
                return Err(format!(
                    "{}={p}: must exceed {} and {} by more than a day, or a purged key could come back",
                    vars::PURGE_DAYS,
                    vars::LOOKBACK_DAYS,
                    vars::TAIL_DAYS
                ));
            }
        }
        Ok(s)
    }
}

/// The plan of an action; `today` is days since 1970-01-01 (UTC).
pub fn plan(s: &JobSettings, action: Action, today: i64) -> SyncPlan {
    match action {
        Action::Merge => SyncPlan {
            merge: Some(Window::Since(crate::model::time::format_date(
                today - s.lookback_days as i64,
            ))),
            purge_days: s.purge_days,
            optimize: false,
            vacuum: false,
        },
        Action::Optimize | Action::Vacuum => SyncPlan {
            merge: None,
            purge_days: None,
            optimize: action == Action::Optimize,
            vacuum: action == Action::Vacuum,
        },
    }
}

/// Runs one action: reads the registry, then syncs the catalog and the state tables.
pub async fn run(
    s: &JobSettings,
    sink: &S3Sink,
    athena: &Runner,
    action: Action,
    today: i64,
) -> Result<Vec<ObjectReport>, String> {
    let docs = list_registered(sink, &s.prefix)
        .await
        .map_err(|e| e.to_string())?;
    // The lake's own layout wins over the environment.
    let mut config = s.config.clone();
    if let Some(layout) = crate::lake::layout::read(sink, &s.prefix)
        .await
        .map_err(|e| e.to_string())?
    {
        layout.apply(&mut config);
    }
    let location = if s.prefix.is_empty() {
        format!("s3://{}", s.bucket.bucket)
    } else {
        format!("s3://{}/{}", s.bucket.bucket, s.prefix)
    };
    let o = DdlOptions {
        database: s.database.clone(),
        location,
        format: config.format,
        compression: config.compression,
        partition: config.partition,
        since: "2020-01-01".into(),
    };
    let tables = ddl_with_tail(&docs, &o, s.tail_days)?;
    runner::sync(athena, &tables, &o, &plan(s, action, today))
        .await
        .map_err(|e| e.to_string())
}
