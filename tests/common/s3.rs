//! A real S3-compatible server on 127.0.0.1 for tests: the one tests/run.sh started
//! (CDC_TEST_S3_ENDPOINT), or an s3s-fs server started here and stopped on drop.
//!
//! s3s-fs (crates.io) rather than moto: moto 5.2.1 answers CompleteMultipartUpload with an XML
//! root the real SDK rejects. s3s-fs checks SigV4 signatures, so a wrong secret is refused.

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::Client;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Access key and secret the test server accepts.
pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "testtest";

pub struct S3Server {
    pub endpoint: String,
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl S3Server {
    /// The shared server of tests/run.sh, or a private one.
    pub fn shared_or_start() -> S3Server {
        match std::env::var("CDC_TEST_S3_ENDPOINT") {
            Ok(e) if !e.is_empty() => S3Server {
                endpoint: e,
                child: None,
                _data: None,
            },
            _ => S3Server::start_on(free_port()),
        }
    }

    /// Starts s3s-fs on `port` over a fresh directory (bounded lifetime: `timeout` ends it
    /// even if a test dies).
    pub fn start_on(port: u16) -> S3Server {
        let data = tempfile::tempdir().unwrap();
        let child = Command::new("timeout")
            .args(["900", "s3s-fs", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs (tests/run.sh installs it: cargo install s3s-fs@0.14.1 --features binary)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "s3s-fs did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            _data: Some(data),
        }
    }

    /// Starts a moto server on a free port (the registry concurrency test: s3s-fs checks
    /// If-Match and then writes without a lock, so racing conditional writes can both pass).
    pub fn start_moto() -> S3Server {
        let port = free_port();
        let moto = std::env::var("CDC_TEST_PYTHON")
            .ok()
            .map(|p| p.replace("/bin/python", "/bin/moto_server"))
            .filter(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| "moto_server".into());
        let child = Command::new("timeout")
            .args(["900", &moto, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server (tests/run.sh installs it: pip install 'moto[server]')");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            _data: None,
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM reaches `timeout`, which forwards it to the server.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

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
