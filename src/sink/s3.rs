//! Amazon S3 (or any S3-compatible server) as the object store, through aws-sdk-s3.
//!
//! The SDK retries throttling and transient errors with exponential backoff; each attempt has
//! a timeout so a stalled connection cannot eat the Lambda's whole time budget. Objects at or
//! above the multipart threshold are uploaded in parts, and the upload is aborted on failure.

use super::{ObjectSink, SinkError};
use crate::config::{env, non_empty, parse_setting, ConfigError};
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_sdk_s3::Client;
use bytes::Bytes;
use std::time::Duration;

/// Minimum S3 part size (except the last part).
const MIN_PART: usize = 5 * 1024 * 1024;

/// Settings of the S3 sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    /// SSE-KMS key id or ARN; `None` leaves encryption to the bucket default.
    pub kms_key_id: Option<String>,
    /// Objects of this many bytes or more use multipart upload.
    pub multipart_threshold: usize,
    /// Total attempts per request, including the first (the SDK's standard retry mode).
    pub max_attempts: u32,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Path-style addressing; `None` means "when an endpoint URL is configured".
    pub force_path_style: Option<bool>,
}

impl S3Settings {
    /// Defaults for a bucket.
    pub fn new(bucket: impl Into<String>) -> S3Settings {
        S3Settings {
            bucket: bucket.into(),
            kms_key_id: None,
            multipart_threshold: 16 * 1024 * 1024,
            max_attempts: 5,
            attempt_timeout: Duration::from_secs(30),
            force_path_style: None,
        }
    }

    /// Reads the S3 settings from variables; `bucket` overrides `CDC_BUCKET` (the CLI's `--out`).
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        bucket: Option<String>,
    ) -> Result<S3Settings, ConfigError> {
        let get = |name: &str| non_empty(lookup, name);
        let bucket = bucket
            .or_else(|| get(env::BUCKET))
            .ok_or_else(|| ConfigError {
                name: env::BUCKET.into(),
                value: String::new(),
                why: "it is required: the name of the output bucket".into(),
            })?;
        let mut s = S3Settings::new(bucket);
        s.kms_key_id = get(env::KMS_KEY_ID);
        let number = |name: &str, min: u64, max: u64| -> Result<Option<u64>, ConfigError> {
            let Some(v) = get(name) else { return Ok(None) };
            match v.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(ConfigError {
                    name: name.into(),
                    value: v,
                    why: format!("accepted: an integer from {min} to {max}"),
                }),
            }
        };
        if let Some(mb) = number(env::MULTIPART_THRESHOLD_MB, 5, 5 * 1024)? {
            s.multipart_threshold = mb as usize * 1024 * 1024;
        }
        if let Some(n) = number(env::S3_MAX_ATTEMPTS, 1, 20)? {
            s.max_attempts = n as u32;
        }
        if let Some(n) = number(env::S3_ATTEMPT_TIMEOUT_SECS, 1, 900)? {
            s.attempt_timeout = Duration::from_secs(n);
        }
        if let Some(v) = get(env::S3_FORCE_PATH_STYLE) {
            s.force_path_style = Some(parse_setting::<Bool>(env::S3_FORCE_PATH_STYLE, &v)?.0);
        }
        Ok(s)
    }
}

struct Bool(bool);
impl std::str::FromStr for Bool {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Bool(true)),
            "false" | "0" | "no" => Ok(Bool(false)),
            _ => Err("accepted values: true, false".into()),
        }
    }
}

/// Writes objects to one bucket.
#[derive(Clone)]
pub struct S3Sink {
    client: Client,
    bucket: String,
    kms_key_id: Option<String>,
    multipart_threshold: usize,
}

fn endpoint_configured() -> bool {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
}

impl S3Sink {
    /// Builds the client once (credentials, region and endpoint from aws-config's standard
    /// chain, e.g. `AWS_ENDPOINT_URL_S3`).
    pub async fn connect(settings: &S3Settings) -> S3Sink {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5).min(settings.attempt_timeout))
                    .operation_attempt_timeout(settings.attempt_timeout)
                    .build(),
            )
            .load()
            .await;
        let path_style = settings
            .force_path_style
            .unwrap_or_else(endpoint_configured);
        let conf = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .build();
        S3Sink::from_client(Client::from_conf(conf), settings)
    }

    /// Uses an existing client (tests, or callers with their own SDK config).
    pub fn from_client(client: Client, settings: &S3Settings) -> S3Sink {
        S3Sink {
            client,
            bucket: settings.bucket.clone(),
            kms_key_id: settings.kms_key_id.clone(),
            multipart_threshold: settings.multipart_threshold.max(MIN_PART),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn sse(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        match &self.kms_key_id {
            Some(k) => (Some(ServerSideEncryption::AwsKms), Some(k.clone())),
            None => (None, None),
        }
    }

    fn fail(&self, key: &str, e: impl std::error::Error) -> SinkError {
        SinkError {
            location: self.location(key),
            message: DisplayErrorContext(e).to_string(),
        }
    }

    async fn put_single(&self, key: &str, body: Bytes) -> Result<(), SinkError> {
        let (sse, kms) = self.sse();
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| self.fail(key, e))?;
        Ok(())
    }

    async fn put_multipart(&self, key: &str, body: Bytes) -> Result<(), SinkError> {
        let (sse, kms) = self.sse();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| self.fail(key, e))?;
        let Some(upload_id) = created.upload_id().map(str::to_string) else {
            return Err(SinkError {
                location: self.location(key),
                message: "CreateMultipartUpload returned no UploadId".into(),
            });
        };
        let result = self.upload_parts(key, &upload_id, body).await;
        if result.is_err() {
            // Best effort: the bucket's lifecycle rule also aborts stale uploads after a day.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(&self, key: &str, upload_id: &str, body: Bytes) -> Result<(), SinkError> {
        let part_size = (self.multipart_threshold / 2).max(MIN_PART);
        let mut parts = Vec::new();
        let mut start = 0;
        let mut number = 1;
        while start < body.len() {
            let end = (start + part_size).min(body.len());
            let out = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(body.slice(start..end)))
                .send()
                .await
                .map_err(|e| self.fail(key, e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .build(),
            );
            start = end;
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| self.fail(key, e))?;
        Ok(())
    }
}

/// The HTTP status of a failed call, if a response arrived.
fn status<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Sink {
    /// Reads an object and its ETag; `None` when it does not exist.
    pub async fn get_object(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, SinkError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => {
                let etag = o.e_tag().unwrap_or_default().to_string();
                let body = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.fail(key, e))?
                    .into_bytes()
                    .to_vec();
                Ok(Some((body, etag)))
            }
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.fail(key, e)),
        }
    }

    /// Writes only if the precondition holds (`If-None-Match: *` or `If-Match: etag`).
    pub async fn put_conditional(
        &self,
        key: &str,
        body: Bytes,
        pre: crate::sink::Precondition,
    ) -> Result<crate::sink::PutOutcome, SinkError> {
        use crate::sink::{Precondition, PutOutcome};
        let (sse, kms) = self.sse();
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms);
        let req = match pre {
            Precondition::Absent => req.if_none_match("*"),
            Precondition::Match(etag) => req.if_match(etag),
        };
        match req.send().await {
            Ok(o) => Ok(PutOutcome::Written {
                etag: o.e_tag().unwrap_or_default().to_string(),
            }),
            // 412 Precondition Failed; 409 ConditionalRequestConflict when writes race.
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(PutOutcome::Conflict),
            Err(e) => Err(self.fail(key, e)),
        }
    }

    /// Keys under a prefix, sorted.
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.fail(prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        Ok(keys)
    }
}

impl ObjectSink for S3Sink {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), SinkError> {
        if body.len() >= self.multipart_threshold {
            self.put_multipart(key, body).await
        } else {
            self.put_single(key, body).await
        }
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }
}
