//! Kinesis (kinesalite: realistic 56-digit sequence numbers, closed parent shards after a split)
//! and SQS (moto server) clients and helpers for the recover tests; the servers come from
//! tests/common/servers.rs.

use super::s3::{ACCESS_KEY, SECRET_KEY};
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use std::time::Duration;

fn creds() -> Credentials {
    Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test")
}

pub fn kinesis_client(endpoint: &str) -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(creds())
            .build(),
    )
}

pub fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "test",
            ))
            .build(),
    )
}

/// A record as read back from the stream.
#[derive(Debug, Clone)]
pub struct Rec {
    pub shard: String,
    pub seq: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// Approximate arrival, milliseconds since the epoch.
    pub arrival_ms: i64,
}

/// Creates a stream and waits until it is ACTIVE; returns its ARN.
pub async fn create_stream(k: &aws_sdk_kinesis::Client, name: &str, shards: i32) -> String {
    k.create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap();
    wait_active(k, name).await
}

pub async fn wait_active(k: &aws_sdk_kinesis::Client, name: &str) -> String {
    for _ in 0..100 {
        let d = k
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap();
        let s = d.stream_description_summary().unwrap();
        if s.stream_status().as_str() == "ACTIVE" {
            return s.stream_arn().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stream {name} never became ACTIVE");
}

/// Puts DMS messages with PutRecords (partition key = schema.table, as DMS does).
pub async fn put(k: &aws_sdk_kinesis::Client, stream: &str, msgs: &[serde_json::Value]) {
    for chunk in msgs.chunks(100) {
        let entries: Vec<_> = chunk
            .iter()
            .map(|m| {
                let md = &m["metadata"];
                let pk = format!(
                    "{}.{}",
                    md["schema-name"].as_str().unwrap_or(""),
                    md["table-name"].as_str().unwrap_or("")
                );
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .data(aws_sdk_kinesis::primitives::Blob::new(m.to_string()))
                    .partition_key(pk)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = k
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
}

/// Every record of a shard, from its start.
pub async fn read_shard(k: &aws_sdk_kinesis::Client, stream: &str, shard: &str) -> Vec<Rec> {
    let mut it = k
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator;
    let mut out = Vec::new();
    while let Some(i) = it.take() {
        let page = k.get_records().shard_iterator(i).send().await.unwrap();
        for r in page.records() {
            let t = r.approximate_arrival_timestamp().unwrap();
            out.push(Rec {
                shard: shard.to_string(),
                seq: r.sequence_number().to_string(),
                partition_key: r.partition_key().unwrap_or("").to_string(),
                data: r.data().as_ref().to_vec(),
                arrival_ms: t.secs() * 1000 + (t.subsec_nanos() as i64 + 500_000) / 1_000_000,
            });
        }
        if page.records().is_empty() && page.millis_behind_latest() == Some(0) {
            break;
        }
        it = page.next_shard_iterator;
    }
    out
}

/// The Lambda Kinesis event of consecutive records of one shard (written here independently of
/// the library's own event builder, so the two are checked against each other).
pub fn lambda_event(stream_arn: &str, recs: &[Rec]) -> Vec<u8> {
    use base64::Engine;
    let records: Vec<serde_json::Value> = recs
        .iter()
        .map(|r| {
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r.partition_key,
                    "sequenceNumber": r.seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                    "approximateArrivalTimestamp": r.arrival_ms as f64 / 1000.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("{}:{}", r.shard, r.seq),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": stream_arn,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}

/// The failure record the event source mapping sends to SQS for a discarded batch.
pub fn failure_record(stream_arn: &str, recs: &[Rec]) -> serde_json::Value {
    let iso = |ms: i64| cdc_sink::model::time::format_timestamp(ms * 1000);
    serde_json::json!({
        "requestContext": {"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:cdc-sink",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": null},
        "version": "1.0", "timestamp": "2025-11-03T08:20:00.000Z",
        "KinesisBatchInfo": {"shardId": recs[0].shard,
            "startSequenceNumber": recs[0].seq,
            "endSequenceNumber": recs[recs.len() - 1].seq,
            "approximateArrivalOfFirstRecord": iso(recs[0].arrival_ms),
            "approximateArrivalOfLastRecord": iso(recs[recs.len() - 1].arrival_ms),
            "batchSize": recs.len(), "streamArn": stream_arn}
    })
}
