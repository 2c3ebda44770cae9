//! Failure records: what the Kinesis event source mapping sends to its on-failure destination
//! when it discards a batch. The SQS (and SNS) form carries only the shard and the sequence range
//! (`KinesisBatchInfo`); the S3 form also carries the batch itself (`payload`, the Lambda event).

use crate::model::change::{cmp_seq, SEQ_WIDTH};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The `KinesisBatchInfo` of a failure record: which records the discarded batch held.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct BatchInfo {
    /// Kinesis shard id of the batch (`shardId`).
    #[serde(rename = "shardId")]
    pub shard_id: String,
    /// Sequence number of the batch's first record (`startSequenceNumber`).
    #[serde(rename = "startSequenceNumber")]
    pub start_seq: String,
    /// Sequence number of the batch's last record (`endSequenceNumber`).
    #[serde(rename = "endSequenceNumber")]
    pub end_seq: String,
    /// Records the batch held (`batchSize`).
    #[serde(rename = "batchSize")]
    pub batch_size: u64,
    /// ARN of the stream (`streamArn`); empty when the record does not say.
    #[serde(rename = "streamArn", default)]
    pub stream_arn: String,
    #[serde(
        rename = "approximateArrivalOfFirstRecord",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// Arrival of the first record, ISO 8601, as the record gives it.
    pub first_arrival: Option<String>,
    #[serde(
        rename = "approximateArrivalOfLastRecord",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    /// Arrival of the last record, ISO 8601, as the record gives it.
    pub last_arrival: Option<String>,
}

impl BatchInfo {
    /// `shardId-000000000000 [start..=end] (N records)`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} [{}..={}] ({} records)",
            self.shard_id, self.start_seq, self.end_seq, self.batch_size
        )
    }

    /// The stream's name from `streamArn` (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
    pub fn stream_name(&self) -> Option<&str> {
        stream_name(&self.stream_arn)
    }

    fn check(&self) -> Result<(), String> {
        for (what, seq) in [
            ("startSequenceNumber", &self.start_seq),
            ("endSequenceNumber", &self.end_seq),
        ] {
            if seq.is_empty() || seq.len() > SEQ_WIDTH || !seq.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{what} {seq:?} is not 1 to 129 decimal digits"));
            }
        }
        if self.shard_id.is_empty() {
            return Err("shardId is empty".into());
        }
        if cmp_seq(&self.start_seq, &self.end_seq).is_gt() {
            return Err(format!(
                "startSequenceNumber {} is after endSequenceNumber {}",
                self.start_seq, self.end_seq
            ));
        }
        if self.batch_size == 0 {
            return Err("batchSize is 0".into());
        }
        Ok(())
    }
}

/// The stream name of a Kinesis stream ARN, or the argument itself when it is a plain name.
pub fn stream_name(arn_or_name: &str) -> Option<&str> {
    if arn_or_name.is_empty() {
        return None;
    }
    match arn_or_name.strip_prefix("arn:") {
        Some(_) => arn_or_name
            .split_once(":stream/")
            .map(|(_, name)| name.split('/').next().unwrap_or(name))
            .filter(|n| !n.is_empty()),
        None => Some(arn_or_name),
    }
}

/// One failure record: the batch's range, and the batch itself when the destination kept it.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    /// The discarded batch's shard and sequence range.
    pub info: BatchInfo,
    /// The Lambda Kinesis event of the discarded batch (S3 on-failure destination only).
    pub payload: Option<Vec<u8>>,
    /// What the invocation record says happened (`requestContext.condition`), if present.
    pub condition: Option<String>,
}

#[derive(Deserialize)]
struct RecordDoc<'a> {
    #[serde(rename = "KinesisBatchInfo", default)]
    info: Option<BatchInfo>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
    #[serde(rename = "requestContext", default)]
    request_context: Option<RequestContext>,
    // A bare KinesisBatchInfo object.
    #[serde(rename = "shardId", default)]
    shard_id: Option<String>,
}

#[derive(Deserialize)]
struct RequestContext {
    #[serde(default)]
    condition: Option<String>,
}

/// Why a failure record cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {why}")]
pub struct FailureRecordError {
    /// Which record (file and line or index, queue message id, S3 key).
    pub what: String,
    /// What is wrong with it.
    pub why: String,
}

/// Parses one failure record: the invocation record Lambda sends (with `KinesisBatchInfo`, and
/// `payload` from the S3 destination), or a bare `KinesisBatchInfo` object.
pub fn parse_record(json: &str, what: &str) -> Result<FailureRecord, FailureRecordError> {
    let err = |why: String| FailureRecordError {
        what: what.to_string(),
        why,
    };
    let doc: RecordDoc<'_> = serde_json::from_str(json).map_err(|e| {
        err(format!(
            "not a Lambda failure record ({{\"KinesisBatchInfo\": {{\"shardId\", \"startSequenceNumber\", \"endSequenceNumber\", \"batchSize\", \"streamArn\"}}, ...}}): {e}"
        ))
    })?;
    let info =
        match (doc.info, doc.shard_id) {
            (Some(info), _) => info,
            (None, Some(_)) => serde_json::from_str::<BatchInfo>(json)
                .map_err(|e| err(format!("not a KinesisBatchInfo object: {e}")))?,
            (None, None) => return Err(err(
                "no \"KinesisBatchInfo\": not a failure record of a Kinesis event source mapping"
                    .into(),
            )),
        };
    info.check().map_err(err)?;
    let payload = match doc.payload {
        None => None,
        Some(raw) => {
            let text = raw.get();
            // The payload is the Lambda event, as an object or as a JSON string holding it.
            let event = if text.starts_with('"') {
                serde_json::from_str::<String>(text)
                    .map_err(|e| err(format!("payload is not a JSON string: {e}")))?
            } else {
                text.to_string()
            };
            Some(event.into_bytes())
        }
    };
    Ok(FailureRecord {
        info,
        payload,
        condition: doc.request_context.and_then(|c| c.condition),
    })
}

/// Parses a file of failure records: one JSON object, an array of them, or JSON Lines.
pub fn parse_file(text: &str, name: &str) -> Result<Vec<FailureRecord>, FailureRecordError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let items: Vec<&RawValue> =
            serde_json::from_str(trimmed).map_err(|e| FailureRecordError {
                what: name.to_string(),
                why: format!("not a JSON array of failure records: {e}"),
            })?;
        return items
            .iter()
            .enumerate()
            .map(|(i, r)| parse_record(r.get(), &format!("{name} item {}", i + 1)))
            .collect();
    }
    // One (possibly pretty-printed) object, or one object per line.
    if serde_json::from_str::<&RawValue>(trimmed).is_ok() {
        return Ok(vec![parse_record(trimmed, name)?]);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_record(l, &format!("{name} line {}", i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQS: &str = r#"{"requestContext": {"requestId": "c9b8", "functionArn": "arn:aws:lambda:eu-west-1:111122223333:function:cdc", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
      "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": null},
      "version": "1.0", "timestamp": "2025-11-03T08:20:00.000Z",
      "KinesisBatchInfo": {"shardId": "shardId-000000000001",
        "startSequenceNumber": "49661234567890123456789012345678901234567890123456789012",
        "endSequenceNumber": "49661234567890123456789012345678901234567890123456789099",
        "approximateArrivalOfFirstRecord": "2025-11-03T08:15:02.123Z",
        "approximateArrivalOfLastRecord": "2025-11-03T08:15:03.456Z",
        "batchSize": 3, "streamArn": "arn:aws:kinesis:eu-west-1:111122223333:stream/cdc"}}"#;

    #[test]
    fn reads_the_sqs_record_an_array_and_json_lines() {
        let r = parse_record(SQS, "m").unwrap();
        assert_eq!(r.info.shard_id, "shardId-000000000001");
        assert_eq!(r.info.batch_size, 3);
        assert_eq!(r.info.stream_name(), Some("cdc"));
        assert_eq!(r.condition.as_deref(), Some("RetryAttemptsExhausted"));
        assert!(r.payload.is_none());
        let one_line =
            serde_json::to_string(&serde_json::from_str::<serde_json::Value>(SQS).unwrap())
                .unwrap();
        assert_eq!(parse_file(SQS, "f").unwrap().len(), 1);
        assert_eq!(parse_file(&format!("[{SQS},{SQS}]"), "f").unwrap().len(), 2);
        assert_eq!(
            parse_file(&format!("{one_line}\n\n{one_line}\n"), "f")
                .unwrap()
                .len(),
            2
        );
        let bare =
            serde_json::from_str::<serde_json::Value>(SQS).unwrap()["KinesisBatchInfo"].to_string();
        assert_eq!(parse_file(&bare, "f").unwrap()[0].info, r.info);
    }

    #[test]
    fn reads_the_s3_destination_payload_as_object_or_string() {
        let event = r#"{"Records":[]}"#;
        let mut v: serde_json::Value = serde_json::from_str(SQS).unwrap();
        v["payload"] = serde_json::from_str(event).unwrap();
        let r = parse_record(&v.to_string(), "o").unwrap();
        assert_eq!(r.payload.as_deref(), Some(event.as_bytes()));
        v["payload"] = serde_json::Value::String(event.into());
        let r = parse_record(&v.to_string(), "o").unwrap();
        assert_eq!(r.payload.as_deref(), Some(event.as_bytes()));
    }

    #[test]
    fn refuses_what_is_not_a_usable_range() {
        let bad = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value = serde_json::from_str(SQS).unwrap();
            f(&mut v);
            parse_record(&v.to_string(), "x").unwrap_err().to_string()
        };
        assert!(
            bad(&|v| v["KinesisBatchInfo"]["startSequenceNumber"] = "12a".into())
                .contains("decimal digits")
        );
        // By number, not by string: 9 < 10.
        assert!(bad(&|v| {
            v["KinesisBatchInfo"]["startSequenceNumber"] = "10".into();
            v["KinesisBatchInfo"]["endSequenceNumber"] = "9".into();
        })
        .contains("after"));
        assert!(bad(&|v| v["KinesisBatchInfo"]["batchSize"] = 0.into()).contains("batchSize"));
        assert!(bad(&|v| {
            v.as_object_mut().unwrap().remove("KinesisBatchInfo");
        })
        .contains("no \"KinesisBatchInfo\""));
        assert!(parse_file("not json", "f").is_err());
    }

    #[test]
    fn stream_names_from_arns() {
        assert_eq!(
            stream_name("arn:aws:kinesis:us-east-1:000000000000:stream/s1"),
            Some("s1")
        );
        assert_eq!(stream_name("plain"), Some("plain"));
        assert_eq!(stream_name(""), None);
        assert_eq!(stream_name("arn:aws:sqs:x"), None);
    }
}
