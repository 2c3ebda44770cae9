//! `cdc-sink recover` against real servers on 127.0.0.1: kinesalite (56-digit sequence numbers,
//! split shards), SQS (moto server) and S3 (s3s-fs, with the fault proxy in front). Records are
//! put into the stream and read back to build the Lambda events, so sequence numbers are real.
//! Each case compares the recovered lake with a fault-free run of the same events.

use crate::common;

use cdc_sink::config::{Config, Objects};
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::store::s3::{S3Settings, S3Store};
use common::proxy::{FaultPlan, Proxy};
use common::s3;
use common::servers::{self, S3Server};
use common::streams::{self, Rec};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

/// Batch size of the simulated event source mapping.
const BATCH: usize = 8;

/// DMS messages: a create-table, two tables over two commit days, and one undecodable record.
fn messages() -> Vec<serde_json::Value> {
    let mut out = vec![json!({"control": {"table-def": {"columns": {
            "id": {"type": "INT32", "nullable": false}, "status": {"type": "STRING", "nullable": true}},
            "primary-key": ["id"]}},
        "metadata": {"timestamp": "2025-11-03T08:15:00.000000Z", "record-type": "control",
            "operation": "create-table", "partition-key-type": "task-id", "schema-name": "public",
            "table-name": "orders"}})];
    for i in 0..36 {
        let (table, day) = if i % 3 == 0 {
            ("items", "04")
        } else {
            ("orders", if i < 18 { "03" } else { "04" })
        };
        let op = if i % 5 == 4 { "update" } else { "insert" };
        out.push(json!({
            "data": {"id": i, "status": format!("s{i}"), "total": i as f64 * 1.5},
            "metadata": {"timestamp": format!("2025-11-{day}T08:15:02.104233Z"), "record-type": "data",
                "operation": op, "partition-key-type": "schema-table", "schema-name": "public",
                "table-name": table, "transaction-id": 100 + i,
                "commit-timestamp": format!("2025-11-{day}T08:15:01.{i:06}Z")}}));
        if i == 20 {
            out.push(json!({"metadata": "not an object"}));
        }
    }
    out
}

struct Env {
    kinesis: servers::Server,
    sqs: servers::Server,
    s3: S3Server,
    k: aws_sdk_kinesis::Client,
    c: aws_sdk_s3::Client,
}

impl Env {
    fn start() -> Result<Env, String> {
        let kinesis = servers::kinesalite()?;
        let sqs = servers::moto_sqs()?;
        let s3 = S3Server::shared_or_start()?;
        let k = streams::kinesis_client(&kinesis.endpoint);
        let c = s3::client(&s3.endpoint);
        Ok(Env {
            kinesis,
            sqs,
            s3,
            k,
            c,
        })
    }

    /// A stream holding [`messages`], read back: (ARN, records).
    async fn stream(&self, name: &str) -> (String, Vec<Rec>) {
        // Unique per process: run.sh's kinesalite serves every test binary and the README step.
        let name = &format!("{name}-{}", std::process::id());
        let arn = streams::create_stream(&self.k, name, 1).await;
        streams::put(&self.k, name, &messages()).await;
        let recs = streams::read_shard(&self.k, name, "shardId-000000000000").await;
        assert_eq!(recs.len(), messages().len());
        assert!(
            recs.iter().all(|r| r.seq.len() == 56),
            "kinesalite sequence numbers"
        );
        (arn, recs)
    }

    fn handler(&self, bucket: &str) -> Handler<S3Store> {
        self.handler_as(bucket, Objects::Table)
    }

    fn handler_as(&self, bucket: &str, objects: Objects) -> Handler<S3Store> {
        let mut config = Config::default();
        config.layout.objects = objects;
        Handler::new(
            config,
            "cdc",
            S3Store::from_client(self.c.clone(), &S3Settings::new(bucket)),
        )
    }

    async fn bucket(&self, tag: &str) -> String {
        let b = s3::unique_bucket(tag);
        s3::create_bucket(&self.c, &b).await;
        b
    }

    /// The fault-free lake of these events.
    async fn reference(&self, events: &[Vec<u8>]) -> BTreeMap<String, s3::Rows> {
        self.reference_as(events, Objects::Table).await
    }

    async fn reference_as(
        &self,
        events: &[Vec<u8>],
        objects: Objects,
    ) -> BTreeMap<String, s3::Rows> {
        let b = self.bucket("clean").await;
        let h = self.handler_as(&b, objects);
        for e in events {
            assert!(h.handle(e).await.unwrap().0.batch_item_failures.is_empty());
        }
        self.lake(&b).await
    }

    /// Data, control and quarantine objects (not registry or history documents).
    async fn lake(&self, bucket: &str) -> BTreeMap<String, s3::Rows> {
        let mut out = BTreeMap::new();
        for key in s3::list(&self.c, bucket, "cdc/").await {
            let rel = key.trim_start_matches("cdc/").to_string();
            if rel.starts_with("_schemas/") || rel.starts_with("_control/recover/") {
                continue;
            }
            let body = s3::get(&self.c, bucket, &key).await;
            out.insert(rel, s3::decode(&key, body));
        }
        out
    }

    /// Runs `cdc-sink recover ARGS` with the servers' endpoints; (success, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
            .arg("recover")
            .args(args)
            .env("AWS_ENDPOINT_URL_KINESIS", &self.kinesis.endpoint)
            .env("AWS_ENDPOINT_URL_SQS", &self.sqs.endpoint)
            .env("AWS_ENDPOINT_URL_S3", &self.s3.endpoint)
            .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn batches(recs: &[Rec]) -> Vec<&[Rec]> {
    recs.chunks(BATCH).collect()
}

/// Every (cdc_shard, cdc_seq) of the data rows, with how often it occurs.
fn row_ids(lake: &BTreeMap<String, s3::Rows>) -> BTreeMap<(String, String), usize> {
    let mut ids = BTreeMap::new();
    for (k, rows) in lake {
        if k.ends_with(".parquet") {
            for r in rows {
                let id = (
                    r["cdc_shard"].as_str().unwrap().to_string(),
                    r["cdc_seq"].as_str().unwrap().to_string(),
                );
                *ids.entry(id).or_insert(0) += 1;
            }
        }
    }
    ids
}

/// Asserts the recovered lake equals the fault-free one; returns (rows checked, lost, duplicated).
fn same_lake(
    got: &BTreeMap<String, s3::Rows>,
    want: &BTreeMap<String, s3::Rows>,
) -> (usize, usize, usize) {
    let (g, w) = (row_ids(got), row_ids(want));
    let lost = w.keys().filter(|k| !g.contains_key(*k)).count();
    let duplicated = g.values().filter(|n| **n > 1).count();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same objects"
    );
    assert_eq!(got, want, "the same rows in every object");
    assert_eq!((lost, duplicated), (0, 0));
    (w.len(), lost, duplicated)
}

fn queue_is_empty(sqs: &aws_sdk_sqs::Client, url: &str) -> bool {
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        rt.block_on(async {
            sqs.receive_message()
                .queue_url(url)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap()
                .messages()
                .is_empty()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_faults_until_retries_run_out_then_recover_from_the_queue() {
    let env = common::require!(Env::start());
    let (arn, recs) = env.stream("faults").await;
    let events: Vec<Vec<u8>> = batches(&recs)
        .iter()
        .map(|b| streams::lambda_event(&arn, b))
        .collect();
    let want = env.reference(&events).await;

    // The event source mapping: batches 2 and 3 meet an S3 outage (every request answers 500)
    // for all their retries and are discarded to the on-failure queue; the others succeed.
    let sqs = streams::sqs_client(&env.sqs.endpoint);
    let url = sqs
        .create_queue()
        .queue_name(format!("failed-{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let bucket = env.bucket("faulty").await;
    let proxy = Proxy::start(
        &env.s3.endpoint,
        FaultPlan {
            seed: 11,
            error_500: 1.0,
            ..FaultPlan::default()
        },
    )
    .await;
    let outage = Handler::new(
        Config::default(),
        "cdc",
        S3Store::from_client(
            s3::client_with(&proxy.endpoint, s3::SECRET_KEY, 2, Duration::from_secs(5)),
            &S3Settings::new(&bucket),
        ),
    );
    let healthy = env.handler(&bucket);
    let mut discarded = 0;
    for (i, (e, b)) in events.iter().zip(batches(&recs)).enumerate() {
        if i == 2 || i == 3 {
            for _retry in 0..3 {
                let (resp, _) = outage.handle(e).await.unwrap();
                assert_eq!(
                    resp.batch_item_failures.len(),
                    1,
                    "the outage fails the batch"
                );
            }
            sqs.send_message()
                .queue_url(&url)
                .message_body(streams::failure_record(&arn, b).to_string())
                .send()
                .await
                .unwrap();
            discarded += 1;
        } else {
            assert!(healthy
                .handle(e)
                .await
                .unwrap()
                .0
                .batch_item_failures
                .is_empty());
        }
    }
    assert!(proxy.stats.faults() > 0);
    assert_ne!(
        env.lake(&bucket).await,
        want,
        "the discarded batches are missing"
    );

    // A dry run lists the keys and leaves everything as it is.
    let out = format!("s3://{bucket}/cdc");
    let (ok, stdout, stderr) = env.cli(&["--queue-url", &url, "--out", &out, "--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("would write"), "{stdout}");
    assert!(
        stdout.contains("2 failure records: 2 recovered"),
        "{stdout}"
    );
    assert!(!queue_is_empty(&sqs, &url), "a dry run deletes no message");
    assert_ne!(env.lake(&bucket).await, want);

    let (ok, stdout, stderr) = env.cli(&["--queue-url", &url, "--out", &out]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("2 failure records: 2 recovered, 0 failed"),
        "{stdout}"
    );
    assert!(
        queue_is_empty(&sqs, &url),
        "messages are deleted once written"
    );
    let got = env.lake(&bucket).await;
    let (rows, lost, dup) = same_lake(&got, &want);
    // One history document per failure record.
    let history = s3::list(&env.c, &bucket, "cdc/_control/recover/").await;
    assert_eq!(history.len(), 2, "{history:?}");
    println!(
        "recover: {discarded} batches discarded after S3 faults, recovered from SQS + kinesalite; {rows} rows checked, lost {lost}, duplicated {dup}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recover_twice_and_after_a_partial_write_from_a_file() {
    recover_twice_after_a_partial_write(Objects::Table).await;
}

/// The same into a batch lake (`objects = batch`): recover writes the batch object the Lambda
/// would have written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recover_into_a_batch_lake_twice_and_after_a_partial_write() {
    recover_twice_after_a_partial_write(Objects::Batch).await;
}

async fn recover_twice_after_a_partial_write(objects: Objects) {
    let env = common::require!(Env::start());
    let mode = if objects == Objects::Batch {
        "batch"
    } else {
        "table"
    };
    let (arn, recs) = env.stream(&format!("partial-{mode}")).await;
    let events: Vec<Vec<u8>> = batches(&recs)
        .iter()
        .map(|b| streams::lambda_event(&arn, b))
        .collect();
    let want = env.reference_as(&events, objects).await;
    let bucket = env.bucket("partial").await;
    let h = env.handler_as(&bucket, objects);
    let failed = [1usize, 3];
    for (i, e) in events.iter().enumerate() {
        if failed.contains(&i) {
            // The batch wrote some objects, then failed for good.
            let (batch, _) = h
                .registry
                .build(h.lake.store(), e, &h.config)
                .await
                .unwrap();
            assert!(!batch.objects.is_empty());
            for o in &batch.objects[..batch.objects.len() / 2] {
                cdc_sink::store::Store::put(h.lake.store(), &o.key, o.body.clone())
                    .await
                    .unwrap();
            }
        } else {
            assert!(h.handle(e).await.unwrap().0.batch_item_failures.is_empty());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("failures.jsonl");
    let lines: Vec<String> = failed
        .iter()
        .map(|&i| streams::failure_record(&arn, batches(&recs)[i]).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    assert_ne!(
        env.lake(&bucket).await,
        want,
        "half of two batches is missing"
    );
    let out = format!("s3://{bucket}/cdc");
    if objects == Objects::Batch {
        assert!(
            want.keys().any(|k| k.starts_with("_batches/")),
            "batch objects written"
        );
        assert!(
            want.keys().all(|k| k.starts_with('_')),
            "and no per-table object"
        );
    }
    for round in 0..2 {
        let (ok, stdout, stderr) = env.cli(&[
            "--file",
            file.to_str().unwrap(),
            "--out",
            &out,
            "--objects",
            mode,
        ]);
        assert!(ok, "round {round}: {stdout}\n{stderr}");
        let (rows, lost, dup) = same_lake(&env.lake(&bucket).await, &want);
        if round == 1 {
            println!(
                "recover (objects = {mode}): partial writes of {} batches completed, recovered twice; {rows} rows checked, lost {lost}, duplicated {dup}",
                failed.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn recover_from_the_s3_destination_needs_no_stream() {
    let env = common::require!(Env::start());
    let (arn, recs) = env.stream("s3dest").await;
    let events: Vec<Vec<u8>> = batches(&recs)
        .iter()
        .map(|b| streams::lambda_event(&arn, b))
        .collect();
    let want = env.reference(&events).await;
    let bucket = env.bucket("lake").await;
    let dest = env.bucket("onfailure").await;
    let h = env.handler(&bucket);
    for (i, (e, b)) in events.iter().zip(batches(&recs)).enumerate() {
        if i % 2 == 1 {
            // The S3 destination keeps the failure record and the batch itself.
            let mut doc = streams::failure_record(&arn, b);
            doc["payload"] = serde_json::from_slice(e).unwrap();
            let key = format!(
                "aws/lambda/9f2c-esm/shardId-000000000000/2025/11/03/2025-11-03T08.20.0{i}-{i}"
            );
            env.c
                .put_object()
                .bucket(&dest)
                .key(key)
                .body(doc.to_string().into_bytes().into())
                .send()
                .await
                .unwrap();
        } else {
            assert!(h.handle(e).await.unwrap().0.batch_item_failures.is_empty());
        }
    }
    // No stream: a Kinesis endpoint where nothing listens.
    let out = Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(["recover", "--from", &format!("s3://{dest}/aws/lambda/")])
        .args(["--out", &format!("s3://{bucket}/cdc")])
        .env("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:9")
        .env("AWS_ENDPOINT_URL_S3", &env.s3.endpoint)
        .env("AWS_ACCESS_KEY_ID", s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3::SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = events.len() / 2;
    assert!(
        stdout.contains(&format!("{n} failure records: {n} recovered")),
        "{stdout}"
    );
    let (rows, lost, dup) = same_lake(&env.lake(&bucket).await, &want);
    println!(
        "recover: {n} batches from the S3 on-failure destination; {rows} rows checked, lost {lost}, duplicated {dup}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_range_in_the_closed_parent_of_a_split_shard() {
    let env = common::require!(Env::start());
    let name = &format!("split-{}", std::process::id());
    let arn = streams::create_stream(&env.k, name, 1).await;
    let msgs = messages();
    streams::put(&env.k, name, &msgs[..20]).await;
    env.k
        .split_shard()
        .stream_name(name)
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    streams::wait_active(&env.k, name).await;
    streams::put(&env.k, name, &msgs[20..]).await;
    let parent = streams::read_shard(&env.k, name, "shardId-000000000000").await;
    assert_eq!(parent.len(), 20, "the parent is closed after the split");
    // Lambda's batches of the parent; the last one reaches the parent's end.
    let events: Vec<Vec<u8>> = parent
        .chunks(BATCH)
        .map(|b| streams::lambda_event(&arn, b))
        .collect();
    let want = env.reference(&events).await;
    let bucket = env.bucket("split").await;
    let h = env.handler(&bucket);
    assert!(h
        .handle(&events[0])
        .await
        .unwrap()
        .0
        .batch_item_failures
        .is_empty());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("failures.json");
    let failures: Vec<serde_json::Value> = parent
        .chunks(BATCH)
        .skip(1)
        .map(|b| streams::failure_record(&arn, b))
        .collect();
    std::fs::write(&file, serde_json::to_string_pretty(&failures).unwrap()).unwrap();
    let (ok, stdout, stderr) = env.cli(&[
        "--file",
        file.to_str().unwrap(),
        "--out",
        &format!("s3://{bucket}/cdc"),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    let (rows, lost, dup) = same_lake(&env.lake(&bucket).await, &want);
    println!(
        "recover: {} batches of a closed parent shard after SplitShard; {rows} rows checked, lost {lost}, duplicated {dup}",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_forged_or_shared_ranges_write_nothing_and_name_the_range() {
    let env = common::require!(Env::start());
    let (arn, recs) = env.stream("forged").await;
    // A second stream's record: a sequence number of another shard and stream.
    let (_, other) = env.stream("other").await;
    let bucket = env.bucket("forged").await;
    let out = format!("s3://{bucket}/cdc");
    let b = &recs[8..16];
    let base = streams::failure_record(&arn, b);
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base.clone();
        f(&mut v["KinesisBatchInfo"]);
        v
    };
    let last_seq = recs.last().unwrap().seq.clone();
    let cases: Vec<(&str, serde_json::Value, String, String)> = vec![
        // Records before the batch's second one are gone: the first record found is not the start.
        (
            "start before the first record",
            with(&|i| i["startSequenceNumber"] = recs[7].seq.clone().into()),
            recs[7].seq.clone(),
            recs[15].seq.clone(),
        ),
        (
            "a record missing",
            with(&|i| i["batchSize"] = 9.into()),
            b[0].seq.clone(),
            b[7].seq.clone(),
        ),
        (
            "end past the shard's last record",
            with(&|i| {
                i["endSequenceNumber"] = format!("{}9", &last_seq[..55]).into();
                i["batchSize"] = (recs.len() - 8 + 1).into();
            }),
            last_seq.clone(),
            format!("{}9", &last_seq[..55]),
        ),
        (
            "a sequence number of another stream",
            with(&|i| i["startSequenceNumber"] = other[3].seq.clone().into()),
            other[3].seq.clone(),
            b[7].seq.clone(),
        ),
        (
            "a range shared with other partition keys",
            with(&|i| i["batchSize"] = 5.into()),
            b[0].seq.clone(),
            b[7].seq.clone(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, rec, from, to) in &cases {
        let file = dir.path().join("f.json");
        std::fs::write(&file, rec.to_string()).unwrap();
        let (ok, stdout, stderr) = env.cli(&["--file", file.to_str().unwrap(), "--out", &out]);
        assert!(!ok, "{what}: must fail\n{stdout}");
        assert!(
            stderr.contains(from.as_str()) && stderr.contains(to.as_str()),
            "{what}: the message names the range {from}..{to}:\n{stderr}"
        );
        assert!(
            s3::list(&env.c, &bucket, "").await.is_empty(),
            "{what}: nothing written"
        );
    }
    // The good record in the same run is recovered; the bad one is reported; exit non-zero.
    let file = dir.path().join("mixed.jsonl");
    std::fs::write(&file, format!("{}\n{}\n", base, cases[1].1)).unwrap();
    let (ok, stdout, stderr) = env.cli(&["--file", file.to_str().unwrap(), "--out", &out]);
    assert!(!ok);
    assert!(
        stdout.contains("2 failure records: 1 recovered, 1 failed"),
        "{stdout}\n{stderr}"
    );
    let keys: BTreeSet<String> = s3::list(&env.c, &bucket, "cdc/")
        .await
        .into_iter()
        .collect();
    assert!(
        keys.iter()
            .any(|k| k.ends_with(&format!("{}.parquet", b[0].seq))),
        "the good record's batch is written: {keys:?}"
    );
    println!(
        "recover guards: {} expired, forged or shared ranges refused, named, nothing written",
        cases.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recovery_function_reports_only_the_messages_it_could_not_recover() {
    let env = common::require!(Env::start());
    let (arn, recs) = env.stream("lambda").await;
    let events: Vec<Vec<u8>> = batches(&recs)
        .iter()
        .map(|b| streams::lambda_event(&arn, b))
        .collect();
    let want = env.reference(&events).await;
    let bucket = env.bucket("fn").await;
    let h = env.handler(&bucket);
    for (i, e) in events.iter().enumerate() {
        if i != 1 {
            assert!(h.handle(e).await.unwrap().0.batch_item_failures.is_empty());
        }
    }
    let good = streams::failure_record(&arn, batches(&recs)[1]);
    let mut forged = good.clone();
    forged["KinesisBatchInfo"]["batchSize"] = 99.into();
    // The Lambda SQS event the queue's event source mapping sends.
    let sqs_event = json!({"Records": [
        {"messageId": "m-good", "receiptHandle": "r1", "body": good.to_string(), "attributes": {},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:failed", "awsRegion": "us-east-1"},
        {"messageId": "m-forged", "receiptHandle": "r2", "body": forged.to_string(), "attributes": {},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:failed", "awsRegion": "us-east-1"}]});
    let bytes = serde_json::to_vec(&sqs_event).unwrap();
    let msgs = cdc_sink::repair::recover::lambda::sqs_messages(&bytes).expect("an SQS event");
    assert!(cdc_sink::repair::recover::lambda::sqs_messages(&events[0]).is_none());
    let cfg = Config::default();
    let r =
        cdc_sink::repair::recover::Recoverer::new(&h.lake, &cfg, false).with_kinesis(env.k.clone());
    let (resp, summary) = cdc_sink::repair::recover::lambda::handle_sqs(&r, &msgs).await;
    assert_eq!(
        resp,
        json!({"batchItemFailures": [{"itemIdentifier": "m-forged"}]})
    );
    assert_eq!((summary.recovered, summary.failed), (1, 1));
    let (rows, lost, dup) = same_lake(&env.lake(&bucket).await, &want);
    println!(
        "recover (Lambda on the failure queue): 1 batch recovered, 1 forged message returned to the queue; {rows} rows checked, lost {lost}, duplicated {dup}"
    );
}

/// The recovery function on the SQS queue meets the same layout guard as the Kinesis path: a
/// function configured for another layout than the lake's records nothing, and the message
/// returns to the queue with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_recovery_function_refuses_a_lake_laid_out_otherwise() {
    let env = common::require!(Env::start());
    let (arn, recs) = env.stream("guard").await;
    let events: Vec<Vec<u8>> = batches(&recs)
        .iter()
        .map(|b| streams::lambda_event(&arn, b))
        .collect();
    let bucket = env.bucket("guard").await;
    // The lake is recorded as day-partitioned by its first writer.
    let h = env.handler(&bucket);
    assert!(h
        .handle(&events[0])
        .await
        .unwrap()
        .0
        .batch_item_failures
        .is_empty());
    let before = s3::list(&env.c, &bucket, "").await;
    assert!(
        before.contains(&"cdc/_layout.json".to_string()),
        "{before:?}"
    );
    // The same function, redeployed with hourly partitions, receives a failure record.
    let hourly = Config {
        layout: cdc_sink::config::Layout {
            partition: cdc_sink::config::Partitioning::Hour,
            ..cdc_sink::config::Layout::default()
        },
        ..Config::default()
    };
    let wrong = Handler::new(
        hourly.clone(),
        "cdc",
        S3Store::from_client(env.c.clone(), &S3Settings::new(&bucket)),
    );
    let failure = streams::failure_record(&arn, batches(&recs)[1]);
    let sqs_event = json!({"Records": [
        {"messageId": "m-1", "receiptHandle": "r1", "body": failure.to_string(), "attributes": {},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:failed", "awsRegion": "us-east-1"}]});
    let msgs =
        cdc_sink::repair::recover::lambda::sqs_messages(&serde_json::to_vec(&sqs_event).unwrap())
            .expect("an SQS event");
    let r = cdc_sink::repair::recover::Recoverer::new(&wrong.lake, &hourly, false)
        .with_kinesis(env.k.clone());
    let (resp, summary) = cdc_sink::repair::recover::lambda::handle_sqs(&r, &msgs).await;
    assert_eq!(
        resp,
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]})
    );
    assert_eq!((summary.recovered, summary.failed), (0, 1));
    // Nothing new in the lake: no hourly partition, no history document.
    let after = s3::list(&env.c, &bucket, "").await;
    assert_eq!(after, before, "nothing written, not even the registry");
    // And the recoverer names the mismatch.
    let rec =
        cdc_sink::repair::recover::failure::parse_record(&failure.to_string(), "test").unwrap();
    let e = r.recover(&rec, "test").await.unwrap_err().to_string();
    assert!(
        e.contains("partition=day") && e.contains("partition=hour"),
        "{e}"
    );
    println!("recover guard (SQS path): a lake laid out otherwise refused, nothing written");
}
