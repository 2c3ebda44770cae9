//! Clients and helpers for the S3-compatible server of the tests (started or found by
//! tests/common/servers.rs).

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Access key and secret the test server accepts.
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "testtest";

/// A client for the test server: its credentials, path-style, few fast retries.
pub fn client(endpoint: &str) -> Client {
    client_with_secret(endpoint, SECRET_KEY)
}

/// A client signing with `secret` (a wrong one is refused with 403).
pub fn client_with_secret(endpoint: &str, secret: &str) -> Client {
    client_with(endpoint, secret, 2, Duration::from_secs(10))
}

/// A client with the given attempts per request and per-attempt timeout.
pub fn client_with(
    endpoint: &str,
    secret: &str,
    attempts: u32,
    attempt_timeout: Duration,
) -> Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
        .force_path_style(true)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

static N: AtomicU32 = AtomicU32::new(0);

/// A bucket name unique to this test run.
pub fn unique_bucket(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!(
        "{tag}-{}-{}-{}",
        std::process::id(),
        t % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn create_bucket(c: &Client, bucket: &str) {
    c.create_bucket().bucket(bucket).send().await.unwrap();
}

/// Every key under `prefix`, sorted.
pub async fn list(c: &Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = c
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page.unwrap()
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
    }
    keys.sort();
    keys
}

pub async fn get(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let o = c.get_object().bucket(bucket).key(key).send().await.unwrap();
    o.body.collect().await.unwrap().into_bytes().to_vec()
}

pub type Rows = Vec<serde_json::Map<String, serde_json::Value>>;

/// Decoded content of an object: Parquet rows, or JSON Lines entries.
pub fn decode(key: &str, body: Vec<u8>) -> Rows {
    if key.ends_with(".parquet") {
        super::rows(&super::read_parquet(body))
    } else {
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }
}

/// Keys (relative to `prefix`) and decoded contents of every object under `prefix`.
pub async fn contents(
    c: &Client,
    bucket: &str,
    prefix: &str,
) -> std::collections::BTreeMap<String, Rows> {
    let mut out = std::collections::BTreeMap::new();
    for key in list(c, bucket, prefix).await {
        let body = get(c, bucket, &key).await;
        out.insert(
            key.trim_start_matches(prefix).to_string(),
            decode(&key, body),
        );
    }
    out
}
