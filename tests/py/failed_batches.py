"""Sets the scene for the README's "When Lambda gives up" commands in CI (tests/run.sh), on the
test servers: a Kinesis stream `cdc` (kinesalite) holding the quick-start records, an SQS queue
`cdc-failed` (moto) with the failure record of the stream's first five records, `failures.jsonl`
with the failure record of the other five, and an S3 on-failure destination object in bucket
`my-failed-batches` carrying the batch of test-input/malformed_mixed.json. Prints the queue URL.

usage: failed_batches.py  (endpoints from AWS_ENDPOINT_URL_KINESIS, _SQS, _S3)
"""
import base64
import json
import os
import time

import boto3


def client(service):
    return boto3.client(
        service,
        endpoint_url=os.environ[f"AWS_ENDPOINT_URL_{service.upper()}"],
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="testtest",
    )


def failure_record(arn, shard, recs):
    """The record Lambda's event source mapping sends for a discarded batch."""
    return {
        "requestContext": {"requestId": "c9b8", "condition": "RetryAttemptsExhausted",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:cdc-sink",
                           "approximateInvokeCount": 11},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None},
        "version": "1.0", "timestamp": "2025-11-04T00:20:00.000Z",
        "KinesisBatchInfo": {"shardId": shard, "startSequenceNumber": recs[0]["seq"],
                             "endSequenceNumber": recs[-1]["seq"], "batchSize": len(recs),
                             "streamArn": arn},
    }


def main():
    kinesis, sqs, s3 = client("kinesis"), client("sqs"), client("s3")
    kinesis.create_stream(StreamName="cdc", ShardCount=1)
    for _ in range(100):
        d = kinesis.describe_stream_summary(StreamName="cdc")["StreamDescriptionSummary"]
        if d["StreamStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    arn = d["StreamARN"]
    event = json.load(open("test-input/kinesis_test_input.json"))
    for r in event["Records"]:
        kinesis.put_record(StreamName="cdc", Data=base64.b64decode(r["kinesis"]["data"]),
                           PartitionKey=r["kinesis"]["partitionKey"])
    shard = "shardId-000000000000"
    it = kinesis.get_shard_iterator(StreamName="cdc", ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = [{"seq": r["SequenceNumber"]} for r in kinesis.get_records(ShardIterator=it)["Records"]]
    assert len(recs) == len(event["Records"]), recs
    url = sqs.create_queue(QueueName="cdc-failed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(failure_record(arn, shard, recs[:5])))
    with open("failures.jsonl", "w") as f:
        f.write(json.dumps(failure_record(arn, shard, recs[5:])) + "\n")
    # The S3 destination keeps the batch itself (here one that is not in the stream at all).
    batch = json.load(open("test-input/malformed_mixed.json"))
    b = batch["Records"]
    doc = failure_record(b[0]["eventSourceARN"], b[0]["eventID"].split(":")[0],
                         [{"seq": r["kinesis"]["sequenceNumber"]} for r in b])
    doc["payload"] = batch
    s3.put_object(Bucket="my-failed-batches",
                  Key="aws/lambda/esm-1/shardId-000000000007/2025/11/04/2025-11-04T00.20.00-1",
                  Body=json.dumps(doc).encode())
    print(url)


if __name__ == "__main__":
    main()
