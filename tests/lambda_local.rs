//! The local Lambda loop a user runs: `cargo lambda watch`, then `cargo lambda invoke
//! cdc-sink-lambda --data-file test-input/kinesis_test_input.json`, against a real
//! S3-compatible server on 127.0.0.1. cargo-lambda comes from PyPI (tests/run.sh installs it).

use crate::common;

use common::s3;
use common::servers::{self, S3Server};
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `cargo lambda watch` in the background, stopped with SIGINT (it ignores SIGTERM).
struct Watch(Child);

impl Watch {
    fn start(port: u16, env: &[(&str, &str)], log: &std::path::Path) -> Watch {
        let log = std::fs::File::create(log).unwrap();
        let mut cmd = Command::new("cargo");
        cmd.args([
            "lambda",
            "watch",
            "--release",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ]);
        for (k, v) in env {
            cmd.arg("--env-var").arg(format!("{k}={v}"));
        }
        let child = cmd
            .current_dir(root())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("run `cargo lambda` (tests/run.sh installs cargo-lambda from PyPI)");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "cargo lambda watch did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Watch(child)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo lambda invoke` with the quick-start sample; the first call waits for the build.
fn invoke(port: u16) -> String {
    invoke_with(port, "test-input/kinesis_test_input.json")
}

/// `cargo lambda invoke` with an event file (relative to the crate root).
fn invoke_with(port: u16, data_file: &str) -> String {
    let out = Command::new("timeout")
        .args([
            "600",
            "cargo",
            "lambda",
            "invoke",
            "cdc-sink-lambda",
            "--data-file",
            data_file,
        ])
        .args(["-A", "127.0.0.1", "-P", &port.to_string()])
        .current_dir(root())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cargo lambda watch`, then `cargo lambda invoke` with the quick-start sample.
#[tokio::test]
async fn cargo_lambda_watch_and_invoke_write_the_expected_objects() {
    watch_invoke_and_compare(cdc_sink::config::Objects::Table).await;
}

/// The same with `CDC_OBJECTS=batch`: one batch object holding every table's rows.
#[tokio::test]
async fn cargo_lambda_in_batch_mode_writes_the_expected_batch_object() {
    watch_invoke_and_compare(cdc_sink::config::Objects::Batch).await;
}

async fn watch_invoke_and_compare(objects: cdc_sink::config::Objects) {
    use cdc_sink::config::Objects;
    require!(servers::tool("cargo-lambda", "pip install cargo-lambda"));
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("lambda");
    s3::create_bucket(&c, &bucket).await;
    let logs = tempfile::tempdir().unwrap();
    let port = servers::free_port();
    let env = [
        ("CDC_BUCKET", bucket.as_str()),
        ("CDC_PREFIX", "cdc"),
        (
            "CDC_OBJECTS",
            if objects == Objects::Batch {
                "batch"
            } else {
                "table"
            },
        ),
        ("AWS_ENDPOINT_URL_S3", server.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "testtest"),
        ("AWS_REGION", "us-east-1"),
    ];
    let _watch = Watch::start(port, &env, &logs.path().join("watch.log"));
    let response = invoke(port);
    let log = std::fs::read_to_string(logs.path().join("watch.log")).unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(response.trim()).unwrap_or_else(|e| {
        panic!("invoke did not answer JSON ({e}): {response}\nwatch log:\n{log}")
    });
    assert_eq!(parsed, serde_json::json!({"batchItemFailures": []}));

    if objects == Objects::Table {
        // A document that is not a Kinesis event fails the invocation with a plain message in
        // the function's JSON log (lambda_runtime logs a handler error with `{:?}`). (An SQS
        // event is not such a document: the same function recovers failure records from the
        // SQS queue.)
        let other = logs.path().join("s3_notification.json");
        std::fs::write(
            &other,
            r#"{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}"#,
        )
        .unwrap();
        let response = invoke_with(port, other.to_str().unwrap());
        assert!(response.contains("cdc-sink.NotKinesisEvent"), "{response}");
        let log = std::fs::read_to_string(logs.path().join("watch.log")).unwrap_or_default();
        let line = log
            .lines()
            .find(|l| l.contains("\"ERROR\"") && l.contains("not a Lambda Kinesis event"))
            .unwrap_or_else(|| panic!("no plain error line in:\n{log}"));
        assert!(!line.contains("NotKinesis("), "a Debug dump: {line}");
    }

    // The objects equal a local replay of the same event under the same prefix.
    let mut config = cdc_sink::config::Config::default();
    config.layout.objects = objects;
    let b = cdc_sink::pipeline::build_batch(
        &sample_bytes("kinesis_test_input.json"),
        &config,
        &cdc_sink::schema::InferOnly,
    )
    .unwrap();
    let keys: Vec<String> = s3::list(&c, &bucket, "")
        .await
        .into_iter()
        .filter(|k| !k.starts_with("cdc/_schemas/") && k != "cdc/_layout.json")
        .collect();
    assert!(
        !s3::list(&c, &bucket, "cdc/_schemas/public/")
            .await
            .is_empty(),
        "schemas registered"
    );
    let full = |k: &str| cdc_sink::store::prefix::join("cdc", k);
    assert_eq!(
        keys,
        b.objects.iter().map(|o| full(&o.key)).collect::<Vec<_>>()
    );
    if objects == Objects::Batch {
        let data: Vec<&String> = keys
            .iter()
            .filter(|k| k.starts_with("cdc/_batches/"))
            .collect();
        assert_eq!(data.len(), 1, "one batch object: {keys:?}");
        let layout = s3::get(&c, &bucket, "cdc/_layout.json").await;
        assert!(
            String::from_utf8_lossy(&layout).contains("\"batch\""),
            "the layout records objects = batch"
        );
    }
    for o in &b.objects {
        let got = read_parquet(s3::get(&c, &bucket, &full(&o.key)).await);
        assert_eq!(
            rows(&got),
            rows(&read_parquet(o.body.to_vec())),
            "{}",
            o.key
        );
    }
}

#[test]
fn a_bad_setting_fails_the_init_with_a_message_naming_the_variable() {
    require!(servers::tool("cargo-lambda", "pip install cargo-lambda"));
    let logs = tempfile::tempdir().unwrap();
    let port = servers::free_port();
    let _watch = Watch::start(
        port,
        &[
            ("CDC_BUCKET", "lake"),
            ("CDC_PARTITION", "weekly"),
            ("CDC_S3_MAX_ATTEMPTS", "0"),
            ("CDC_PREFIX", "a//b"),
        ],
        &logs.path().join("watch.log"),
    );
    let response = invoke(port);
    assert!(response.contains("Runtime.ConfigError"), "{response}");
    assert!(
        response.contains(
            "CDC_PARTITION=\\\"weekly\\\" is not valid: accepted values: day, hour, none"
        ),
        "{response}"
    );
    // Every bad variable at once (cargo-lambda cannot pass an empty value; the unit tests of
    // config.rs check that one means the default).
    assert!(
        response.contains("CDC_S3_MAX_ATTEMPTS=\\\"0\\\""),
        "{response}"
    );
    assert!(response.contains("CDC_PREFIX=\\\"a//b\\\""), "{response}");
}
