//! Amazon S3 (or any S3-compatible server) as the object store, through aws-sdk-s3.
//!
//! The SDK retries throttling and transient errors with exponential backoff; each attempt has
//! a timeout so a stalled connection cannot eat the Lambda's whole time budget. Objects at or
//! above the multipart threshold are uploaded in parts, and the upload is aborted on failure.

use super::{Leftover, ObjectInfo, Precondition, PutOutcome, Store, StoreError};
use crate::config::{
    env, non_empty, parse_number, parse_setting, ConfigError, ConfigErrors, Errors, Given,
};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_sdk_s3::Client;
use bytes::Bytes;
use std::time::Duration;

/// Default of `CDC_S3_CONNECT_TIMEOUT_SECS`.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 3;
/// Default of `CDC_S3_READ_TIMEOUT_SECS`.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 20;

/// Minimum S3 part size (except the last part).
const MIN_PART: usize = 5 * 1024 * 1024;

/// Settings of the S3 sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The bucket the objects go to.
    pub bucket: String,
    /// SSE-KMS key id or ARN; `None` leaves encryption to the bucket default.
    pub kms_key_id: Option<String>,
    /// Objects of this many bytes or more use multipart upload.
    pub multipart_threshold: usize,
    /// Total attempts per request, including the first (the SDK's standard retry mode).
    pub max_attempts: u32,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed from sending a request to the first byte of the answer: a server that
    /// accepts connections and never answers fails after this.
    pub read_timeout: Duration,
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
            connect_timeout: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT_SECS),
            read_timeout: Duration::from_secs(DEFAULT_READ_TIMEOUT_SECS),
            force_path_style: None,
        }
    }

    /// Reads the S3 settings from variables; `bucket` overrides `CDC_BUCKET` (the CLI's `--out`).
    /// Reports every bad variable at once.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
        bucket: Option<String>,
    ) -> Result<S3Settings, ConfigErrors> {
        let get = |name: &str| {
            non_empty(lookup, name).map(|value| Given {
                name: name.to_string(),
                value,
            })
        };
        let mut errs = Errors::default();
        let bucket = match bucket.or_else(|| get(env::BUCKET).map(|g| g.value)) {
            Some(b) => b,
            None => {
                errs.0.push(ConfigError {
                    name: env::BUCKET.into(),
                    value: String::new(),
                    why: "it is required: the name of the output bucket".into(),
                });
                String::new()
            }
        };
        let mut s = S3Settings::new(bucket);
        s.kms_key_id = get(env::KMS_KEY_ID).map(|g| g.value);
        let mut number = |name: &str, min: u64, max: u64, unit: &str| -> Option<u64> {
            let g = get(name)?;
            errs.take(parse_number(&g, min, max, unit).map(Some), None)
        };
        if let Some(mb) = number(env::MULTIPART_THRESHOLD_MB, 5, 5 * 1024, "") {
            s.multipart_threshold = mb as usize * 1024 * 1024;
        }
        if let Some(n) = number(env::S3_MAX_ATTEMPTS, 1, 20, "") {
            s.max_attempts = n as u32;
        }
        if let Some(n) = number(env::S3_ATTEMPT_TIMEOUT_SECS, 1, 900, "number of seconds ") {
            s.attempt_timeout = Duration::from_secs(n);
        }
        if let Some(n) = number(env::S3_CONNECT_TIMEOUT_SECS, 1, 300, "number of seconds ") {
            s.connect_timeout = Duration::from_secs(n);
        }
        if let Some(n) = number(env::S3_READ_TIMEOUT_SECS, 1, 900, "number of seconds ") {
            s.read_timeout = Duration::from_secs(n);
        }
        if let Some(g) = get(env::S3_FORCE_PATH_STYLE) {
            s.force_path_style = errs
                .take(parse_setting::<Bool>(&g.name, &g.value).map(Some), None)
                .map(|b| b.0);
        }
        errs.finish(s)
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
pub struct S3Store {
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

impl S3Store {
    /// Builds the client once (credentials, region and endpoint from aws-config's standard
    /// chain, e.g. `AWS_ENDPOINT_URL_S3`).
    pub async fn connect(settings: &S3Settings) -> S3Store {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.connect_timeout.min(settings.attempt_timeout))
                    .read_timeout(settings.read_timeout.min(settings.attempt_timeout))
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
        S3Store::from_client(Client::from_conf(conf), settings)
    }

    /// Uses an existing client (tests, or callers with their own SDK config).
    pub fn from_client(client: Client, settings: &S3Settings) -> S3Store {
        S3Store {
            client,
            bucket: settings.bucket.clone(),
            kms_key_id: settings.kms_key_id.clone(),
            multipart_threshold: settings.multipart_threshold.max(MIN_PART),
        }
    }

    fn sse(&self) -> (Option<ServerSideEncryption>, Option<String>) {
        match &self.kms_key_id {
            Some(k) => (Some(ServerSideEncryption::AwsKms), Some(k.clone())),
            None => (None, None),
        }
    }

    fn fail(&self, key: &str, e: impl std::error::Error) -> StoreError {
        StoreError {
            location: self.location(key),
            message: causes(&e),
        }
    }

    /// A failed SDK call, explained in a line or two: what failed and what to check.
    fn fail_sdk<E>(&self, key: &str, e: SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        StoreError {
            location: self.location(key),
            message: explain(&e, &self.bucket),
        }
    }

    /// One cheap request (list one key under `prefix`, a single attempt with short timeouts)
    /// that tells before any write whether the endpoint answers, the bucket exists and the
    /// credentials are accepted.
    pub async fn check_access(&self, prefix: &str, timeout: Duration) -> Result<(), StoreError> {
        let quick = aws_sdk_s3::config::Builder::default()
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout)
                    .read_timeout(timeout)
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        self.client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(1)
            .customize()
            .config_override(quick)
            .send()
            .await
            .map_err(|e| self.fail_sdk(prefix, e))?;
        Ok(())
    }

    async fn put_single(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
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
            .map_err(|e| self.fail_sdk(key, e))?;
        Ok(())
    }

    async fn put_multipart(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
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
            .map_err(|e| self.fail_sdk(key, e))?;
        let Some(upload_id) = created.upload_id().map(str::to_string) else {
            return Err(StoreError {
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

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        body: Bytes,
    ) -> Result<(), StoreError> {
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
                .map_err(|e| self.fail_sdk(key, e))?;
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
            .map_err(|e| self.fail_sdk(key, e))?;
        Ok(())
    }
}

/// Every cause of an error, outermost first, by their messages (never a Debug dump).
fn causes(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}

/// Where requests go, for messages: the configured endpoint, or AWS S3 in the region.
fn endpoint_label() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
        Some(url) => format!("the S3 endpoint {url} (AWS_ENDPOINT_URL_S3)"),
        None => match var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
            Some(r) => format!("Amazon S3 in {r}"),
            None => "Amazon S3".into(),
        },
    }
}

fn is_no_such_bucket<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(e, SdkError::ServiceError(_)) && e.code() == Some("NoSuchBucket")
}

/// Turns an SDK error into one or two lines that say what failed and what to check (bucket,
/// region, credentials, endpoint), with the underlying cause last.
pub fn explain<E>(e: &SdkError<E, HttpResponse>, bucket: &str) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    const CREDENTIALS: &str = "check the credentials: AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
        AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)";
    let chain = causes(e);
    let lower = chain.to_ascii_lowercase();
    let endpoint = endpoint_label();
    if let Some(code) = status(e) {
        let name = e.code().unwrap_or("");
        let detail = e.message().map(|m| format!(": {m}")).unwrap_or_default();
        let what = format!("{endpoint} answered {code} {name}{detail}");
        return match (code, name) {
            (
                _,
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "InvalidToken"
                | "TokenRefreshRequired",
            ) => format!("{what}\nthe credentials were refused; {CREDENTIALS}"),
            (_, "NoSuchBucket") | (404, "") => format!(
                "{what}\nbucket {bucket:?} does not exist there: check the bucket name (--out \
                 s3://BUCKET/... or CDC_BUCKET), AWS_REGION and the endpoint"
            ),
            (
                301 | 400,
                "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException",
            )
            | (301, _) => format!(
                "{what}\nbucket {bucket:?} is in another region: set AWS_REGION to the bucket's region"
            ),
            (403, _) => format!(
                "{what}\naccess denied: check that these credentials may read, list and write \
                 under this bucket and prefix (and use the KMS key, if CDC_KMS_KEY_ID is set); {CREDENTIALS}"
            ),
            (500..=599, _) => format!(
                "{what}\nthe service failed after the retries (CDC_S3_MAX_ATTEMPTS); try again later"
            ),
            _ => what,
        };
    }
    let root = chain.rsplit(": ").next().unwrap_or(&chain).to_string();
    if matches!(e, SdkError::TimeoutError(_))
        || lower.contains("timed out")
        || lower.contains("timeout")
    {
        format!(
            "no answer from {endpoint} in time ({root})\ncheck the endpoint, the network and \
             AWS_REGION; CDC_S3_CONNECT_TIMEOUT_SECS and CDC_S3_READ_TIMEOUT_SECS set the limits"
        )
    } else if lower.contains("credential") {
        format!("no usable AWS credentials ({root})\n{CREDENTIALS}")
    } else if lower.contains("region") {
        format!("no AWS region ({root})\nset AWS_REGION, e.g. AWS_REGION=us-east-1")
    } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        format!(
            "cannot resolve the host of {endpoint} ({root})\ncheck AWS_ENDPOINT_URL_S3 and AWS_REGION"
        )
    } else if matches!(e, SdkError::DispatchFailure(_)) {
        format!(
            "cannot reach {endpoint} ({root})\ncheck that the server runs and the endpoint URL \
             (AWS_ENDPOINT_URL_S3), the network and AWS_REGION"
        )
    } else {
        chain
    }
}

/// The HTTP status of a failed call, if a response arrived.
fn status<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

impl S3Store {
    /// Reads an object and its ETag; `None` when it does not exist.
    async fn get_object(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
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
            Err(e) if status(&e) == Some(404) && !is_no_such_bucket(&e) => Ok(None),
            Err(e) => Err(self.fail_sdk(key, e)),
        }
    }

    /// Writes only if the precondition holds (`If-None-Match: *` or `If-Match: etag`).
    async fn put_conditional(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
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
            Err(e) => Err(self.fail_sdk(key, e)),
        }
    }
}

impl S3Store {
    /// The "folders" directly under `prefix` (common prefixes with delimiter `/`), sorted.
    async fn list_folders_(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.fail_sdk(prefix, e))?;
            out.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string)),
            );
        }
        out.sort();
        Ok(out)
    }

    /// Every object under `prefix`, with size and last modification time.
    async fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.fail_sdk(prefix, e))?;
            out.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    modified_ms: o.last_modified().and_then(|t| t.to_millis().ok()),
                })
            }));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Multipart uploads under `prefix` that were started and never completed nor aborted
    /// (the S3 form of a leftover temporary file), as (key, initiated ms).
    async fn list_incomplete_uploads(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        let out = self
            .client
            .list_multipart_uploads()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| self.fail_sdk(prefix, e))?;
        Ok(out
            .uploads()
            .iter()
            .filter_map(|u| {
                Some((
                    u.key()?.to_string(),
                    u.initiated().and_then(|t| t.to_millis().ok()),
                ))
            })
            .collect())
    }
}

impl Store for S3Store {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        if body.len() >= self.multipart_threshold {
            self.put_multipart(key, body).await
        } else {
            self.put_single(key, body).await
        }
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        self.get_object(key).await
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        self.put_conditional(key, body, pre).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        self.list_objects(prefix).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(404) && !is_no_such_bucket(&e) => Ok(()),
            Err(e) => Err(self.fail_sdk(key, e)),
        }
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.list_folders_(prefix).await
    }

    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        Ok(self
            .list_incomplete_uploads(prefix)
            .await?
            .into_iter()
            .map(|(key, modified_ms)| Leftover {
                key,
                size: 0,
                modified_ms,
                kind: "incomplete multipart upload",
            })
            .collect())
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }
}
