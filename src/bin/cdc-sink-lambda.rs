//! The AWS Lambda function: settings and the S3 client are built once at cold start; each
//! invocation runs the shared pipeline and returns the Kinesis partial batch response. Invoked by
//! the on-failure SQS queue instead, it recovers the discarded batches (`cdc-sink recover`).

use aws_lambda_events::streams::KinesisEventResponse;
use cdc_sink::config::{env, non_empty, prefix_from_lookup, Config, ConfigErrors};
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::ingest::metrics;
use cdc_sink::lake::LakeError;
use cdc_sink::pipeline::PipelineError;
use cdc_sink::repair::recover::{self, Recoverer};
use cdc_sink::store::s3::{S3Settings, S3Store};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde_json::value::RawValue;
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads every setting and reports every bad one at once (one line each), so a deployment is
/// fixed in one round.
async fn init() -> Result<Handler<S3Store>, String> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut errors = Vec::new();
    let config = Config::from_env().map_err(|e| errors.extend(e.0)).ok();
    let s3 = S3Settings::from_lookup(&lookup, None)
        .map_err(|e| errors.extend(e.0))
        .ok();
    let prefix = prefix_from_lookup(&lookup).map_err(|e| errors.push(e)).ok();
    let (Some(config), Some(s3), Some(prefix)) = (config, s3, prefix) else {
        return Err(ConfigErrors(errors).to_string());
    };
    let store = S3Store::connect(&s3).await;
    tracing::info!(bucket = %s3.bucket, prefix = %prefix, format = %config.layout.format, compression = %config.layout.compression,
        partition = %config.layout.partition, partition_time = %config.layout.partition_time, objects = %config.layout.objects, "cdc-sink initialised");
    let handler = Handler::new(config, &prefix, store);
    // A lake laid out differently refuses this function before its first event.
    if let Err(e) = handler.check_layout().await {
        if matches!(e, LakeError::Mismatch { .. }) {
            return Err(e.to_string());
        }
        tracing::warn!(error = %e, "could not read the lake's layout document; it is checked again before the first write");
    }
    Ok(handler)
}

/// Reports a failed init to the Lambda Runtime API (`/runtime/init/error`), so the function's
/// error says what to fix instead of a bare exit. lambda_runtime does not expose this call.
async fn report_init_error(message: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    // Lambda sets `host:port`; cargo-lambda sets `http://host:port/.rt`.
    let api = api.strip_prefix("http://").unwrap_or(&api);
    let (host, base) = match api.split_once('/') {
        Some((h, b)) => (h.to_string(), format!("/{}", b.trim_end_matches('/'))),
        None => (api.to_string(), String::new()),
    };
    let body = serde_json::json!({"errorMessage": message, "errorType": "Runtime.ConfigError"})
        .to_string();
    let request = format!(
        "POST {base}/2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let send = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(())
    };
    if let Err(e) = tokio::time::timeout(std::time::Duration::from_secs(2), send)
        .await
        .unwrap_or(Ok(()))
    {
        tracing::warn!(error = %e, "could not report the init error to the Runtime API");
    }
}

/// An invocation error whose `Debug` is its message: lambda_runtime logs a handler's error with
/// `{:?}`, and the function's JSON log should hold a plain sentence, not a Rust Debug dump.
struct PlainError {
    kind: &'static str,
    message: String,
}

impl From<PipelineError> for PlainError {
    fn from(e: PipelineError) -> Self {
        let kind = match e {
            PipelineError::Event(_) => "cdc-sink.NotKinesisEvent",
            PipelineError::Encode(_) => "cdc-sink.EncodeError",
        };
        PlainError {
            kind,
            message: e.to_string(),
        }
    }
}

impl PlainError {
    fn other(e: impl std::fmt::Display) -> Self {
        PlainError {
            kind: "cdc-sink.Error",
            message: e.to_string(),
        }
    }
}

impl std::fmt::Debug for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<PlainError> for Diagnostic {
    fn from(e: PlainError) -> Self {
        Diagnostic {
            error_type: e.kind.into(),
            error_message: e.message,
        }
    }
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
    let handler = match init().await {
        Ok(h) => &*Box::leak(Box::new(h)),
        Err(e) => {
            tracing::error!(error = %e, "configuration is invalid; fix the function's environment variables");
            report_init_error(&e).await;
            std::process::exit(1);
        }
    };
    let lookup = |k: &str| std::env::var(k).ok();
    let namespace = non_empty(&lookup, env::METRICS_NAMESPACE).unwrap_or_else(|| "cdc-sink".into());
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "cdc-sink".into());
    let namespace = &*namespace.leak();
    let function = &*function.leak();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            let payload = event.payload.get().as_bytes();
            // The recovery function: the same binary on the on-failure SQS queue.
            if let Some(messages) = recover::lambda::sqs_messages(payload) {
                let r = Recoverer::new(&handler.lake, &handler.config, false);
                let (response, summary) = recover::lambda::handle_sqs(&r, &messages).await;
                tracing::info!(
                    records = summary.records,
                    recovered = summary.recovered,
                    failed = summary.failed,
                    rows = summary.counts.rows(),
                    "recovery summary"
                );
                return serde_json::to_value(response).map_err(PlainError::other);
            }
            let (response, inv): (KinesisEventResponse, _) = handler
                .handle_until(payload, Some(event.context.deadline))
                .await
                .map_err(PlainError::from)?;
            let c = &inv.counts;
            tracing::info!(
                records = c.records,
                rows_load = c.load,
                rows_insert = c.insert,
                rows_update = c.update,
                rows_delete = c.delete,
                control = c.control,
                skipped = c.skipped,
                quarantined = c.quarantined,
                warnings = c.warnings,
                objects = c.objects,
                bytes = c.bytes,
                duration_ms = inv.duration_ms,
                iterator_age_ms = inv.iterator_age_ms,
                freshness_ms = inv.freshness_ms,
                failed = inv.failed,
                table_def_wait_ms = inv.table_def_wait_ms,
                inferred_without_declaration = inv.inferred_without_declaration,
                "invocation summary"
            );
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            println!("{}", metrics::emf(namespace, function, &inv, ts));
            serde_json::to_value(response).map_err(PlainError::other)
        },
    ))
    .await
}
