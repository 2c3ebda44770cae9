//! The scheduled Athena job as an AWS Lambda function: EventBridge Scheduler invokes it with
//! `{"action": "merge" | "optimize" | "vacuum"}`; settings come from environment variables
//! (see `cdc_sink::athena::job`). It brings the catalog up to date and keeps the Iceberg state
//! tables, one table at a time, and logs one line per table.

use cdc_sink::athena::job::{self, Input, JobSettings};
use cdc_sink::athena::runner::Runner;
use cdc_sink::lake::Lake;
use cdc_sink::store::s3::S3Store;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use std::time::{SystemTime, UNIX_EPOCH};

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
    let settings = JobSettings::from_lookup(&|k| std::env::var(k).ok()).map_err(|e| {
        tracing::error!(error = %e, "configuration is invalid; fix the function's environment variables");
        e
    })?;
    let sink = S3Store::connect(&settings.bucket).await;
    let athena = Runner::from_env(&settings.database, settings.runner.clone()).await;
    let (settings, sink, athena) = (&settings, &sink, &athena);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Input>| async move {
        let today = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64 / 86_400)
            .unwrap_or(0);
        let action = event.payload.action;
        // Read per invocation: the first writer may record the lake's layout after this cold start.
        let lake = Lake::open_for_read(sink, &settings.prefix).await?;
        let reports = job::run(settings, &lake, athena, action, today).await?;
        let mut failed = 0;
        for r in &reports {
            failed += r.error.is_some() as usize;
            tracing::info!(?action, object = %r.object, statements = r.statements, rows = r.rows,
                bytes_scanned = r.bytes_scanned, millis = r.millis as u64, retries = r.retries,
                error = r.error.as_deref().unwrap_or(""), "athena sync");
        }
        if failed > 0 {
            return Err(Error::from(format!(
                "{failed} of {} objects failed",
                reports.len()
            )));
        }
        Ok::<_, Error>(serde_json::json!({"objects": reports.len()}))
    }))
    .await
}
