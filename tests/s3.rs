//! The S3 sink against a real S3-compatible server on 127.0.0.1 (s3s-fs) with the real
//! aws-sdk-s3 client: same keys and rows as the local directory, the CLI's s3:// output,
//! multipart upload, and the failure response followed by a clean retry.

use crate::common;

use cdc_sink::config::Config;
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::store::local::LocalDir;
use cdc_sink::store::s3::{S3Settings, S3Store};
use cdc_sink::store::Store;
use common::s3;
use common::servers::{self, S3Server};
use common::*;
use std::collections::BTreeMap;

type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

/// Keys and decoded contents (Parquet rows, or JSON Lines entries) of every object.
async fn s3_contents(c: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> BTreeMap<String, Rows> {
    let mut out = BTreeMap::new();
    for key in s3::list(c, bucket, prefix).await {
        let body = s3::get(c, bucket, &key).await;
        out.insert(
            key.trim_start_matches(prefix).to_string(),
            decode(&key, body),
        );
    }
    out
}

fn decode(key: &str, body: Vec<u8>) -> Rows {
    if key.ends_with(".parquet") {
        rows(&read_parquet(body))
    } else {
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }
}

fn local_contents(dir: &std::path::Path) -> BTreeMap<String, Rows> {
    files(dir)
        .into_iter()
        .map(|k| (k.clone(), decode(&k, std::fs::read(dir.join(&k)).unwrap())))
        .collect()
}

fn sink(c: &aws_sdk_s3::Client, bucket: &str) -> S3Store {
    S3Store::from_client(c.clone(), &S3Settings::new(bucket))
}

#[tokio::test]
async fn s3_holds_the_same_objects_keys_and_rows_as_the_local_directory() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("same");
    s3::create_bucket(&c, &bucket).await;
    replay_all(&sink(&c, &bucket), &Config::default(), "lake").await;
    let dir = tempfile::tempdir().unwrap();
    replay_all(&LocalDir::new(dir.path()), &Config::default(), "").await;
    let local = local_contents(dir.path());
    let remote = s3_contents(&c, &bucket, "lake/").await;
    assert!(local.len() > 20, "{} objects", local.len());
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    assert_eq!(remote, local);
}

#[tokio::test]
async fn cli_replays_to_s3_through_the_standard_endpoint_variable() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("cli");
    s3::create_bucket(&c, &bucket).await;
    let input = root().join("test-input/kinesis_test_input.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(["replay", "--out", &format!("s3://{bucket}/some/prefix")])
        .arg(&input)
        .env("AWS_ENDPOINT_URL_S3", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "testtest")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    replay_registered(dir.path(), &[sample_bytes("kinesis_test_input.json")]).await;
    assert_eq!(
        s3_contents(&c, &bucket, "some/prefix/").await,
        local_contents(dir.path())
    );
}

#[tokio::test]
async fn large_objects_use_multipart_upload() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("multipart");
    s3::create_bucket(&c, &bucket).await;
    let mut settings = S3Settings::new(&bucket);
    settings.multipart_threshold = 5 * 1024 * 1024;
    let sink = S3Store::from_client(c.clone(), &settings);
    let body: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    sink.put("big/object.bin", bytes::Bytes::from(body.clone()))
        .await
        .unwrap();
    assert_eq!(s3::get(&c, &bucket, "big/object.bin").await, body);
    let head = c
        .head_object()
        .bucket(&bucket)
        .key("big/object.bin")
        .send()
        .await
        .unwrap();
    assert!(
        head.e_tag().unwrap_or("").trim_matches('"').ends_with("-3"),
        "multipart ETag: {:?}",
        head.e_tag()
    );
}

fn handler(c: &aws_sdk_s3::Client, bucket: &str) -> Handler<S3Store> {
    Handler::new(Config::default(), "cdc", sink(c, bucket))
}

fn first_seq(event: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(event).unwrap();
    v["Records"][0]["kinesis"]["sequenceNumber"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_refused_write_fails_the_batch_and_the_retry_yields_a_clean_run() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    // Signed with the wrong secret: every write is refused with 403, as for a missing grant.
    let refused = s3::client_with_secret(&server.endpoint, "wrong-secret");
    let clean = s3::unique_bucket("clean");
    s3::create_bucket(&c, &clean).await;
    let later = s3::unique_bucket("later");
    s3::create_bucket(&c, &later).await;
    for (name, _) in samples() {
        let event = sample_bytes(&name);
        let (ok, _) = handler(&c, &clean).handle(&event).await.unwrap();
        assert!(ok.batch_item_failures.is_empty(), "{name}");
        let (failed, inv) = handler(&refused, &later).handle(&event).await.unwrap();
        assert!(inv.failed);
        let ids: Vec<_> = failed
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec![first_seq(&event)],
            "{name}: the whole batch is reported for retry"
        );
    }
    assert!(
        s3::list(&c, &later, "").await.is_empty(),
        "nothing was written"
    );
    // Access restored: Lambda's retry of each batch yields exactly the clean run.
    for (name, _) in samples() {
        let (ok, _) = handler(&c, &later)
            .handle(&sample_bytes(&name))
            .await
            .unwrap();
        assert!(ok.batch_item_failures.is_empty(), "{name}");
    }
    assert_eq!(
        s3_contents(&c, &later, "cdc/").await,
        s3_contents(&c, &clean, "cdc/").await
    );
}

#[tokio::test]
async fn a_stopped_server_fails_the_batch_and_after_it_is_back_the_retry_is_clean() {
    let port = servers::free_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = s3::client(&endpoint);
    let event = sample_bytes("multi_table.json");
    // Nothing listens: connection refused on every attempt.
    let (failed, _) = handler(&c, "lake").handle(&event).await.unwrap();
    assert_eq!(failed.batch_item_failures.len(), 1);
    assert_eq!(
        failed.batch_item_failures[0].item_identifier.as_deref(),
        Some(first_seq(&event).as_str())
    );

    let _server = require!(S3Server::start_on(port));
    s3::create_bucket(&c, "lake").await;
    let (ok, _) = handler(&c, "lake").handle(&event).await.unwrap();
    assert!(ok.batch_item_failures.is_empty());
    let dir = tempfile::tempdir().unwrap();
    replay_registered(dir.path(), &[event]).await;
    assert_eq!(
        s3_contents(&c, "lake", "cdc/").await,
        local_contents(dir.path())
    );
}

/// The CLI with the test server's endpoint and credentials (`env` overrides them).
fn cli_s3(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"));
    c.args(args)
        .env("AWS_ENDPOINT_URL_S3", endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "testtest")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A message a person can act on: a few lines, no Rust Debug dump.
fn assert_plain(stderr: &str) {
    assert!(stderr.lines().count() <= 4, "too long:\n{stderr}");
    for debug in [
        "DispatchFailure",
        "ServiceError {",
        "ConnectorError",
        "Some(",
        "source:",
    ] {
        assert!(!stderr.contains(debug), "Debug dump in:\n{stderr}");
    }
}

#[tokio::test]
async fn s3_failures_say_what_failed_and_what_to_check() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("errors");
    s3::create_bucket(&c, &bucket).await;
    let input = root().join("test-input/kinesis_test_input.json");
    let input = input.to_str().unwrap();
    let out = format!("s3://{bucket}/cdc");

    let (ok, _, stderr) = cli_s3(
        &server.endpoint,
        &["replay", input, "--out", &out],
        &[("AWS_SECRET_ACCESS_KEY", "wrong-secret")],
    );
    assert!(!ok);
    assert!(stderr.contains("credentials were refused"), "{stderr}");
    assert!(stderr.contains("AWS_SECRET_ACCESS_KEY"), "{stderr}");
    assert_plain(&stderr);

    let missing = format!("s3://{bucket}-missing/cdc");
    let (ok, _, stderr) = cli_s3(&server.endpoint, &["replay", input, "--out", &missing], &[]);
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains(&format!("{bucket}-missing")), "{stderr}");
    assert_plain(&stderr);

    let nobody = format!("http://127.0.0.1:{}", servers::free_port());
    let (ok, _, stderr) = cli_s3(&nobody, &["status", "--out", &out], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot reach") && stderr.contains(&nobody),
        "{stderr}"
    );
    assert_plain(&stderr);
    assert!(
        s3::list(&c, &bucket, "").await.is_empty(),
        "nothing written"
    );
}

#[test]
fn a_server_that_never_answers_fails_within_seconds() {
    // Accepts connections and never answers (nor closes them).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    let input = root().join("test-input/kinesis_test_input.json");
    let start = std::time::Instant::now();
    let (ok, _, stderr) = cli_s3(
        &endpoint,
        &["replay", input.to_str().unwrap(), "--out", "s3://lake/cdc"],
        &[],
    );
    let took = start.elapsed();
    assert!(!ok);
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
    assert!(
        stderr.contains("no answer from") && stderr.contains(&endpoint),
        "{stderr}"
    );
    assert!(stderr.contains("CDC_S3_READ_TIMEOUT_SECS"), "{stderr}");
    assert_plain(&stderr);
    println!(
        "silent server: replay failed after {:.1} s",
        took.as_secs_f64()
    );
}

#[tokio::test]
async fn status_reads_an_s3_lake_as_it_reads_a_local_one() {
    let server = require!(S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("status");
    s3::create_bucket(&c, &bucket).await;
    let inputs: Vec<String> = [
        "full_load.json",
        "kinesis_test_input.json",
        "malformed_mixed.json",
    ]
    .iter()
    .map(|n| root().join("test-input").join(n).display().to_string())
    .collect();
    // Without a prefix, the Lambda's default prefix (cdc) is used, and said.
    let s3_out = format!("s3://{bucket}");
    let mut args = vec!["replay", "--quiet", "--out", &s3_out];
    args.extend(inputs.iter().map(String::as_str));
    let (ok, _, stderr) = cli_s3(&server.endpoint, &args, &[]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains(&format!("s3://{bucket}/cdc/")), "{stderr}");
    assert!(!s3::list(&c, &bucket, "cdc/public/orders/").await.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let local_out = dir.path().display().to_string();
    let mut args = vec!["replay", "--quiet", "--out", &local_out];
    args.extend(inputs.iter().map(String::as_str));
    assert!(cli_s3(&server.endpoint, &args, &[]).0);

    let status = |out: &str| {
        let (ok, stdout, stderr) = cli_s3(
            &server.endpoint,
            &["status", "--json", "--rows", "--out", out],
            &[],
        );
        assert!(ok, "{stderr}");
        let mut v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for t in v["tables"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("last_write_ms");
        }
        (
            v["tables"].clone(),
            v["quarantine"].clone(),
            v["schemas"].clone(),
        )
    };
    let remote = status(&s3_out);
    assert_eq!(remote, status(&local_out));
    assert!(remote.0.as_array().unwrap().len() >= 3, "{:?}", remote.0);
}
