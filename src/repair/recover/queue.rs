//! The on-failure SQS queue: each message is one failure record. A message is deleted only after
//! its batch and history document are written; a crash before that leaves it in the queue (it
//! reappears after its visibility timeout) to be recovered again, which rewrites the same keys.

use super::failure::{parse_record, FailureRecord};
use super::{RecoverError, Recovered, Recoverer, Summary};
use crate::store::Store;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::Client;
use std::collections::HashSet;

/// The queue could not be read or a message could not be deleted.
#[derive(Debug, thiserror::Error)]
#[error("SQS queue {url}: {message}")]
pub struct QueueError {
    /// The queue URL.
    pub url: String,
    /// What failed, with the SQS error and its context.
    pub message: String,
}

/// An SQS client from aws-config's standard chain (`AWS_ENDPOINT_URL_SQS`, credentials, region).
pub async fn connect() -> Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    Client::new(&sdk)
}

/// One message's failure record, or why it is not one.
pub fn parse_message(body: &str, id: &str) -> Result<FailureRecord, RecoverError> {
    parse_record(body, &format!("SQS message {id}"))
        .map_err(|e| RecoverError::Payload(e.to_string()))
}

/// Makes a message visible again at once (a dry run takes nothing away).
async fn release(sqs: &Client, url: &str, receipt: &str) {
    let _ = sqs
        .change_message_visibility()
        .queue_url(url)
        .receipt_handle(receipt)
        .visibility_timeout(0)
        .send()
        .await;
}

/// Receives messages until the queue has no more (or `max` were handled), recovering each one.
/// `report` is told about every message as it is handled.
pub async fn drain<K: Store>(
    sqs: &Client,
    url: &str,
    r: &Recoverer<'_, K>,
    max: Option<u64>,
    visibility_timeout_secs: i32,
    report: &mut (dyn FnMut(&str, &Result<Recovered, RecoverError>) + Send),
) -> Result<Summary, QueueError> {
    let fail = |m: String| QueueError {
        url: url.to_string(),
        message: m,
    };
    let mut summary = Summary::default();
    let mut seen = HashSet::new();
    loop {
        let want = max.map_or(10, |m| m.saturating_sub(summary.records).min(10)) as i32;
        if want == 0 {
            break;
        }
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(want)
            .visibility_timeout(visibility_timeout_secs)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let messages = got.messages();
        if messages.is_empty() {
            break;
        }
        let mut new = 0;
        for m in messages {
            let id = m.message_id().unwrap_or("").to_string();
            let receipt = m.receipt_handle().unwrap_or("").to_string();
            if !seen.insert(id.clone()) {
                if r.dry_run {
                    release(sqs, url, &receipt).await;
                }
                continue;
            }
            new += 1;
            summary.records += 1;
            let result = match parse_message(m.body().unwrap_or(""), &id) {
                Ok(rec) => r.recover(&rec, &format!("sqs:{url}#{id}")).await,
                Err(e) => Err(e),
            };
            report(&id, &result);
            match &result {
                Ok(done) => {
                    summary.recovered += 1;
                    summary.counts.accumulate(&done.counts);
                    if r.dry_run {
                        release(sqs, url, &receipt).await;
                    } else {
                        sqs.delete_message()
                            .queue_url(url)
                            .receipt_handle(&receipt)
                            .send()
                            .await
                            .map_err(|e| {
                                fail(format!(
                                    "message {id} was recovered but could not be deleted (recovering it again is harmless): {}",
                                    DisplayErrorContext(e)
                                ))
                            })?;
                    }
                }
                // Left in the queue: it reappears after the visibility timeout.
                Err(_) => summary.failed += 1,
            }
        }
        if new == 0 {
            break;
        }
    }
    Ok(summary)
}
