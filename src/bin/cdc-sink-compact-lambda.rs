//! The scheduled compaction as an AWS Lambda function (`objects = batch` lakes): EventBridge
//! Scheduler invokes it (the payload is ignored); each invocation runs `cdc_sink::compact` on
//! the lake, as `cdc-sink compact` does, stops between passes a minute before its deadline,
//! logs one line per pass and a summary, and prints one EMF document (CompactionLag,
//! CompactionBacklogObjects, CompactedRows, CompactedObjects). Settings come from environment
//! variables, read once at cold start.

use cdc_sink::compact::{compact, window_name, CompactOptions, CompactReport, CompactionError};
use cdc_sink::config::{
    env, non_empty, parse_number, prefix_from_lookup, ConfigError, ConfigErrors, Errors, Given,
};
use cdc_sink::ingest::metrics::{self, Compaction};
use cdc_sink::lake::{keys, Lake};
use cdc_sink::model::time;
use cdc_sink::store::s3::{S3Settings, S3Store};
use cdc_sink::store::{PrefixStore, Store};
use lambda_runtime::{service_fn, Error, LambdaEvent};

/// Time kept free before the deadline: no pass starts after it (a pass reads at most
/// `CDC_COMPACT_MAX_INPUT_MB` and writes its objects, record and removals). A quarter of the
/// invocation's time when that is less (a short timeout, a local emulator).
const STOP_RESERVE_US: i64 = 60_000_000;
/// Lambda's longest timeout.
const MAX_TIMEOUT_US: i64 = 900_000_000;
/// The lease outlives the invocation by this much, so a run cut off at its timeout still holds
/// it until it is surely over; a run that ends releases it.
const LEASE_MARGIN_SECS: u64 = 60;

/// The function's settings.
#[derive(Debug)]
struct Settings {
    s3: S3Settings,
    prefix: String,
    window_hours: u32,
    close_after_secs: u64,
    target_mb: u64,
    max_input_mb: u64,
}

impl Settings {
    /// From environment variables, through the same collectors as the other functions: every
    /// bad variable is reported at once, one line each, by name.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut errs = Errors::default();
        let mut number = |name: &str, min: u64, max: u64, unit: &str, default: u64| -> u64 {
            match non_empty(lookup, name) {
                Some(value) => {
                    let g = Given {
                        name: name.to_string(),
                        value,
                    };
                    errs.take(parse_number(&g, min, max, unit), default)
                }
                None => default,
            }
        };
        let window_hours = number(env::COMPACT_WINDOW_HOURS, 1, 24, "number of hours ", 1);
        let close_after_secs = number(
            env::COMPACT_CLOSE_AFTER_SECS,
            0,
            7 * 86_400,
            "number of seconds ",
            3_600,
        );
        let target_mb = number(env::COMPACT_TARGET_MB, 1, 5_120, "number of MiB ", 128);
        let max_input_mb = number(env::COMPACT_MAX_INPUT_MB, 1, 10_240, "number of MiB ", 256);
        let window_hours = window_hours as u32;
        if !cdc_sink::compact::WINDOW_HOURS.contains(&window_hours) {
            let accepted: Vec<String> = cdc_sink::compact::WINDOW_HOURS
                .iter()
                .map(u32::to_string)
                .collect();
            errs.0.push(ConfigError {
                name: env::COMPACT_WINDOW_HOURS.into(),
                value: window_hours.to_string(),
                why: format!(
                    "accepted values: {} (whole divisors of a day)",
                    accepted.join(", ")
                ),
            });
        }
        let prefix = errs.take(prefix_from_lookup(lookup).map(Some), None);
        let s3 = S3Settings::from_lookup(lookup, None)
            .map_err(|e| errs.0.extend(e.0))
            .ok();
        let (Some(prefix), Some(s3)) = (prefix, s3) else {
            return Err(ConfigErrors(errs.0).to_string());
        };
        errs.finish(Settings {
            s3,
            prefix,
            window_hours,
            close_after_secs,
            target_mb,
            max_input_mb,
        })
        .map_err(|e| e.to_string())
    }

    /// The compactor's options for one invocation that started at `now_us` and must end by
    /// `deadline_us` (both µs since the epoch).
    fn options(&self, now_us: i64, deadline_us: i64) -> CompactOptions {
        let remaining_us = (deadline_us - now_us).max(0);
        let remaining_secs = (remaining_us / 1_000_000) as u64;
        CompactOptions {
            window_hours: self.window_hours,
            close_after_secs: self.close_after_secs,
            target_bytes: (self.target_mb as usize) << 20,
            max_input_bytes: self.max_input_mb << 20,
            lease_secs: remaining_secs + LEASE_MARGIN_SECS,
            now_us,
            dry_run: false,
            stop_before_us: Some(deadline_us - STOP_RESERVE_US.min(remaining_us / 4)),
        }
    }
}

/// CompactionLag: now minus the end of the oldest window that is past its close-after and
/// still holds batch objects after the run, in milliseconds; 0 when there is none. A window
/// still open is not late; a closed one left waiting is (the run stopped before it, or every
/// run fails).
fn lag_ms(r: &CompactReport, o: &CompactOptions) -> i64 {
    let Some(start) = r.oldest_open_hour else {
        return 0;
    };
    let end_us = (start + o.window_hours as i64) * 3_600_000_000;
    if end_us + o.close_after_secs as i64 * 1_000_000 > o.now_us {
        return 0;
    }
    (o.now_us - end_us) / 1_000
}

/// The metrics of a run.
fn measure(r: &CompactReport, o: &CompactOptions) -> Compaction {
    Compaction {
        lag_ms: lag_ms(r, o) as f64,
        backlog_objects: r.open_objects as u64,
        rows: r.passes.iter().map(|p| p.rows_out as u64).sum(),
        objects: r.passes.iter().map(|p| p.inputs.len() as u64).sum(),
    }
}

/// One invocation: compacts what is closed, within the deadline.
async fn run_once(
    settings: &Settings,
    store: &S3Store,
    namespace: &str,
    function: &str,
    deadline_ms: u64,
) -> Result<serde_json::Value, Error> {
    let started_us = time::now_us();
    let mut deadline_us = deadline_ms as i64 * 1_000;
    if deadline_us <= started_us {
        // Lambda always sends one ahead; a local emulator may not (cargo lambda sends none
        // usable): count on Lambda's longest timeout.
        tracing::warn!(
            deadline_ms,
            "the invocation's deadline is not in the future; assuming 15 minutes"
        );
        deadline_us = started_us + MAX_TIMEOUT_US;
    }
    let o = settings.options(started_us, deadline_us);
    let emit = |m: &Compaction| {
        let ts = (time::now_us() / 1_000).max(0) as u64;
        println!("{}", metrics::compaction_emf(namespace, function, m, ts));
    };
    // Nothing written yet (the stream has been quiet since the stack was created). Listed, not
    // read: S3 answers a GET of a missing key with 404 only to a role allowed to list it, and
    // this role's s3:ListBucket holds only with an s3:prefix condition (a GET may get 403).
    let probe = PrefixStore::new(store, settings.prefix.as_str());
    let listed = probe.list(keys::LAYOUT).await?;
    if !listed.iter().any(|o| o.key == keys::LAYOUT) {
        tracing::info!(
            lake = %probe.location(""),
            "the lake has no _layout.json yet: nothing has been written, nothing to compact"
        );
        emit(&Compaction::default());
        return Ok(serde_json::json!({"passes": 0}));
    }
    let lake = Lake::open_for_read(store, &settings.prefix).await?;
    let report = compact(&lake, &o, |p| {
        tracing::info!(
            window = %p.window,
            inputs = p.inputs.len(),
            input_bytes = p.inputs.iter().map(|(_, n)| n).sum::<u64>(),
            rows_in = p.rows_in,
            rows_out = p.rows_out,
            objects = p.objects.len(),
            record = %keys::compaction_record_key(&p.window, &p.inputs_id),
            "compaction pass"
        );
    })
    .await;
    let report = match report {
        Ok(r) => r,
        Err(CompactionError::Busy {
            location,
            key,
            until,
        }) => {
            // The schedule fired while a run still works (or one was cut off and its lease has
            // not expired): that run, or the next one, does the work.
            tracing::info!(lake = %location, lease = %key, until = %until,
                "another compactor holds the lease; this run stops");
            return Ok(serde_json::json!({"busy": true}));
        }
        Err(CompactionError::Empty(location)) => {
            tracing::info!(lake = %location, "the lake has no _layout.json yet: nothing to compact");
            emit(&Compaction::default());
            return Ok(serde_json::json!({"passes": 0}));
        }
        Err(e @ CompactionError::NotBatch(_)) => {
            let message = format!(
                "{e}. The compaction function is only for lakes written with {}=batch (the template's Objects=batch; a lake records its choice in {}): redeploy with Objects=table, which creates no compaction function, or point {} at the batch lake",
                env::OBJECTS,
                keys::LAYOUT,
                env::PREFIX
            );
            tracing::error!(error = %message, "compaction refused");
            return Err(Error::from(message));
        }
        Err(e) => {
            tracing::error!(error = %e, "compaction failed; the next run takes over where it stopped");
            return Err(Error::from(e.to_string()));
        }
    };
    let m = measure(&report, &o);
    tracing::info!(
        passes = report.passes.len(),
        batch_objects = m.objects,
        table_objects = report.passes.iter().map(|p| p.objects.len()).sum::<usize>(),
        rows = m.rows,
        finished_earlier = report.finished_earlier,
        waiting_objects = report.open_objects,
        waiting_bytes = report.open_bytes,
        oldest_waiting_window = %report
            .oldest_open_hour
            .map(|h| window_name(h, o.window_hours))
            .unwrap_or_default(),
        stopped_early = report.stopped_early,
        lag_ms = m.lag_ms as i64,
        duration_ms = (time::now_us() - started_us) / 1_000,
        time_limit_ms = (deadline_us - started_us) / 1_000,
        "compaction summary"
    );
    emit(&m);
    Ok(serde_json::json!({
        "passes": report.passes.len(),
        "waiting_objects": report.open_objects,
        "stopped_early": report.stopped_early,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
    let lookup = |k: &str| std::env::var(k).ok();
    let settings = Settings::from_lookup(&lookup).map_err(|e| {
        tracing::error!(error = %e, "configuration is invalid; fix the function's environment variables");
        e
    })?;
    tracing::info!(bucket = %settings.s3.bucket, prefix = %settings.prefix,
        window_hours = settings.window_hours, close_after_secs = settings.close_after_secs,
        target_mb = settings.target_mb, max_input_mb = settings.max_input_mb,
        "cdc-sink compaction initialised");
    let store = S3Store::connect(&settings.s3).await;
    let namespace = non_empty(&lookup, env::METRICS_NAMESPACE).unwrap_or_else(|| "cdc-sink".into());
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "cdc-sink-compact".into());
    let (settings, store, namespace, function) = (&settings, &store, &namespace, &function);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            run_once(settings, store, namespace, function, event.context.deadline).await
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn settings_default_and_every_bad_one_is_named() {
        let s = from(&[(env::BUCKET, "lake")]).unwrap();
        assert_eq!(
            (
                s.prefix.as_str(),
                s.window_hours,
                s.close_after_secs,
                s.target_mb,
                s.max_input_mb
            ),
            ("cdc", 1, 3_600, 128, 256)
        );
        let e = from(&[
            (env::COMPACT_WINDOW_HOURS, "5"),
            (env::COMPACT_TARGET_MB, "0"),
            (env::COMPACT_CLOSE_AFTER_SECS, "soon"),
        ])
        .unwrap_err();
        for name in [
            "CDC_COMPACT_WINDOW_HOURS=\"5\"",
            "CDC_COMPACT_TARGET_MB",
            "CDC_COMPACT_CLOSE_AFTER_SECS",
            "CDC_BUCKET",
        ] {
            assert!(e.contains(name), "{name} missing from:\n{e}");
        }
        assert_eq!(e.lines().count(), 4, "{e}");
        let s = from(&[(env::BUCKET, "lake"), (env::COMPACT_WINDOW_HOURS, "6")]).unwrap();
        assert_eq!(s.window_hours, 6);
    }

    #[test]
    fn options_stop_a_minute_before_the_deadline_and_the_lease_outlives_it() {
        let s = from(&[(env::BUCKET, "lake")]).unwrap();
        let now = 1_000_000_000_000_000;
        let o = s.options(now, now + 900_000_000);
        assert_eq!(o.stop_before_us, Some(now + 840_000_000));
        assert_eq!(o.lease_secs, 960);
        assert_eq!((o.target_bytes, o.max_input_bytes), (128 << 20, 256 << 20));
        // A 30 s timeout keeps a quarter free, not a minute (which would leave no time at all).
        let o = s.options(now, now + 30_000_000);
        assert_eq!(o.stop_before_us, Some(now + 22_500_000));
    }

    #[test]
    fn lag_counts_only_closed_windows_left_waiting() {
        let s = from(&[(env::BUCKET, "lake")]).unwrap();
        let hour_us = 3_600_000_000;
        let now = 500_000 * hour_us + hour_us / 2; // 30 minutes into hour 500000
        let o = s.options(now, now + 900_000_000);
        let mut r = CompactReport::default();
        assert_eq!(lag_ms(&r, &o), 0);
        // The previous hour: ended 30 minutes ago, closes after 60: not late.
        r.oldest_open_hour = Some(499_999);
        assert_eq!(lag_ms(&r, &o), 0);
        // Three hours back: ended 2 h 30 min ago, closed 1 h 30 min ago, still waiting.
        r.oldest_open_hour = Some(499_997);
        assert_eq!(lag_ms(&r, &o), 150 * 60_000);
    }
}
