//! The scheduled job (the `cdc-sink-athena-lambda` function that EventBridge Scheduler
//! invokes): settings from environment variables, the action from the schedule's input, then
//! [`runner::sync`](super::runner::sync) on the lake's registry.

use super::runner::{self, ObjectReport, Runner, RunnerSettings, SyncPlan};
use super::{ddl_with_tail, DdlOptions, Window, DEFAULT_TAIL_DAYS};
use crate::config::{non_empty, prefix_from_lookup, Config, ConfigError, ConfigErrors, Errors};
use crate::ingest::registry::list_registered;
use crate::lake::Lake;
use crate::store::s3::S3Settings;
use crate::store::Store;
use serde::Deserialize;

/// Environment variables of the job (besides the lake's `CDC_BUCKET`, `CDC_PREFIX`,
/// `CDC_FORMAT`, `CDC_COMPRESSION`, `CDC_PARTITION`).
pub mod vars {
    /// Glue database of the tables and views, default `cdc_lake`.
    pub const DATABASE: &str = "CDC_ATHENA_DATABASE";
    /// Athena workgroup the queries run in, default `primary`.
    pub const WORKGROUP: &str = "CDC_ATHENA_WORKGROUP";
    /// `s3://` location for query results, when the workgroup does not set one.
    pub const OUTPUT_LOCATION: &str = "CDC_ATHENA_OUTPUT_LOCATION";
    /// Days of partitions a MERGE reads back from today, default 2.
    pub const LOOKBACK_DAYS: &str = "CDC_MERGE_LOOKBACK_DAYS";
    /// Days of the change lake `<table>_current` reads besides the state table, default [`DEFAULT_TAIL_DAYS`](super::super::DEFAULT_TAIL_DAYS).
    pub const TAIL_DAYS: &str = "CDC_CURRENT_TAIL_DAYS";
    /// The merge action purges tombstones set more than this many days ago; unset keeps them.
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

/// The event the schedule sends.
#[derive(Debug, Deserialize)]
pub struct Input {
    /// What to run.
    pub action: Action,
}

/// The job's settings, read once at cold start.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// The lake's bucket and S3 client settings.
    pub bucket: S3Settings,
    /// Key prefix of the lake in the bucket.
    pub prefix: String,
    /// The lake's layout and pipeline settings (the recorded layout wins when the lake has one).
    pub config: Config,
    /// Glue database of the tables and views.
    pub database: String,
    /// Workgroup, result location and retries; a query may run 13 minutes, within the Lambda's 15.
    pub runner: RunnerSettings,
    /// Days a MERGE reads back from today (`CDC_MERGE_LOOKBACK_DAYS`).
    pub lookback_days: u32,
    /// Days of the change lake `<table>_current` reads (`CDC_CURRENT_TAIL_DAYS`).
    pub tail_days: u32,
    /// Purge tombstones older than this many days (`CDC_PURGE_TOMBSTONES_DAYS`); `None` keeps them.
    pub purge_days: Option<u32>,
}

impl JobSettings {
    /// From environment variables, through the same collector as the ingest Lambda: every bad
    /// variable is reported at once, one line each, by name.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<JobSettings, String> {
        let get = |k: &str| non_empty(lookup, k);
        let mut errs = Errors::default();
        let mut days = |k: &str, default: Option<u32>| -> Option<u32> {
            let v = get(k)?;
            let parsed = v.trim().parse::<u32>().map_err(|_| ConfigError {
                name: k.to_string(),
                value: v.clone(),
                why: "accepted: a whole number of days".into(),
            });
            errs.take(parsed.map(Some), default)
        };
        let lookback_days = days(vars::LOOKBACK_DAYS, Some(2)).unwrap_or(2);
        let tail_days = days(vars::TAIL_DAYS, Some(DEFAULT_TAIL_DAYS)).unwrap_or(DEFAULT_TAIL_DAYS);
        let purge_days = days(vars::PURGE_DAYS, None);
        let prefix = errs.take(prefix_from_lookup(lookup).map(Some), None);
        let bucket = S3Settings::from_lookup(lookup, None)
            .map_err(|e| errs.0.extend(e.0))
            .ok();
        let config = Config::from_lookup(lookup)
            .map_err(|e| errs.0.extend(e.0))
            .ok();
        if let Some(p) = purge_days {
            if p <= lookback_days.max(tail_days) + 1 {
                errs.0.push(ConfigError {
                    name: vars::PURGE_DAYS.into(),
                    value: p.to_string(),
                    why: format!(
                        "must exceed {} and {} by more than a day, or a purged key could come back",
                        vars::LOOKBACK_DAYS,
                        vars::TAIL_DAYS
                    ),
                });
            }
        }
        let (Some(prefix), Some(bucket), Some(config)) = (prefix, bucket, config) else {
            return Err(ConfigErrors(errs.0).to_string());
        };
        errs.finish(JobSettings {
            bucket,
            prefix,
            config,
            database: get(vars::DATABASE).unwrap_or_else(|| "cdc_lake".into()),
            runner: RunnerSettings {
                workgroup: get(vars::WORKGROUP).unwrap_or_else(|| "primary".into()),
                output_location: get(vars::OUTPUT_LOCATION),
                // A Lambda invocation lasts 15 minutes at most.
                timeout: std::time::Duration::from_secs(780),
                ..Default::default()
            },
            lookback_days,
            tail_days,
            purge_days,
        })
        .map_err(|e| e.to_string())
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

/// Runs one action on `lake` (opened for reading: its recorded layout wins over the
/// environment's): reads the registry, then syncs the catalog and the state tables.
pub async fn run<K: Store>(
    s: &JobSettings,
    lake: &Lake<K>,
    athena: &Runner,
    action: Action,
    today: i64,
) -> Result<Vec<ObjectReport>, String> {
    let docs = list_registered(lake.store())
        .await
        .map_err(|e| e.to_string())?;
    let mut config = s.config.clone();
    if let Some(layout) = lake.recorded_layout() {
        config.layout = layout;
    }
    let o = DdlOptions {
        database: s.database.clone(),
        location: lake.location(),
        layout: config.layout,
        since: "2020-01-01".into(),
    };
    let tables = ddl_with_tail(&docs, &o, s.tail_days)?;
    runner::sync(athena, &tables, &o, &plan(s, action, today))
        .await
        .map_err(|e| e.to_string())
}
