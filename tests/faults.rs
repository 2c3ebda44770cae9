//! S3 faults between the processor and the S3-compatible server (tests/common/proxy.rs): 500,
//! 503 SlowDown, connection resets, slow responses and timeouts. The SDK retries; when retries
//! run out the handler answers with the failure response; replaying Lambda's retry protocol
//! until success leaves exactly the objects and rows of a fault-free run.

use crate::common;

use cdc_sink::config::Config;
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::store::s3::{S3Settings, S3Store};
use common::proxy::{FaultPlan, Proxy};
use common::s3;
use common::servers::S3Server;
use common::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn first_seq(event: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(event).unwrap();
    v["Records"][0]["kinesis"]["sequenceNumber"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_fault_kind_ends_in_exactly_the_fault_free_output() {
    let server = require!(S3Server::shared_or_start());
    let direct = s3::client(&server.endpoint);
    let events: Vec<Vec<u8>> = samples()
        .into_iter()
        .map(|(n, _)| sample_bytes(&n))
        .collect();
    let clean = s3::unique_bucket("clean");
    s3::create_bucket(&direct, &clean).await;
    let reference = Handler::new(
        Config::default(),
        "cdc",
        S3Store::from_client(direct.clone(), &S3Settings::new(&clean)),
    );
    for e in &events {
        assert!(reference
            .handle(e)
            .await
            .unwrap()
            .0
            .batch_item_failures
            .is_empty());
    }
    let expected = s3::contents(&direct, &clean, "cdc/").await;
    let records: usize = events
        .iter()
        .map(|e| {
            serde_json::from_slice::<serde_json::Value>(e).unwrap()["Records"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();

    let base = FaultPlan {
        slow_ms: 150,
        hang_ms: 2_500,
        ..FaultPlan::default()
    };
    let plans = [
        (
            "500 InternalError",
            FaultPlan {
                seed: 1,
                error_500: 0.4,
                ..base
            },
        ),
        (
            "503 SlowDown",
            FaultPlan {
                seed: 2,
                slow_down_503: 0.4,
                ..base
            },
        ),
        (
            "connection reset",
            FaultPlan {
                seed: 3,
                reset: 0.4,
                ..base
            },
        ),
        (
            "slow response",
            FaultPlan {
                seed: 4,
                slow: 0.5,
                ..base
            },
        ),
        (
            "timeout",
            FaultPlan {
                seed: 5,
                hang: 0.12,
                ..base
            },
        ),
        (
            "all at once",
            FaultPlan {
                seed: 6,
                error_500: 0.1,
                slow_down_503: 0.1,
                reset: 0.1,
                slow: 0.1,
                hang: 0.05,
                ..base
            },
        ),
    ];
    for (name, plan) in plans {
        let proxy = Proxy::start(&server.endpoint, plan).await;
        // Few attempts and a short attempt timeout, so retries run out now and then.
        let client = s3::client_with(&proxy.endpoint, s3::SECRET_KEY, 3, Duration::from_secs(1));
        let bucket = s3::unique_bucket("faults");
        s3::create_bucket(&direct, &bucket).await;
        let h = Handler::new(
            Config::default(),
            "cdc",
            S3Store::from_client(client, &S3Settings::new(&bucket)),
        );
        let mut redelivered = 0;
        for e in &events {
            // Lambda's protocol: a failure names the first sequence number; the batch comes again.
            let mut tries = 0;
            loop {
                let (resp, _) = h.handle(e).await.unwrap();
                if resp.batch_item_failures.is_empty() {
                    break;
                }
                assert_eq!(
                    resp.batch_item_failures[0].item_identifier.as_deref(),
                    Some(first_seq(e).as_str())
                );
                redelivered += 1;
                tries += 1;
                assert!(tries < 60, "{name}: a batch never succeeded");
            }
        }
        let got = s3::contents(&direct, &bucket, "cdc/").await;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}: same objects"
        );
        assert_eq!(got, expected, "{name}: same rows");
        let st = &proxy.stats;
        println!(
            "faults {name}: {} requests, {} faults injected (500 {}, 503 {}, reset {}, slow {}, timeout {}), {redelivered} batches failed after retries and were redelivered, {records} records and {} objects checked",
            st.requests.load(Ordering::SeqCst), st.faults(), st.e500.load(Ordering::SeqCst), st.e503.load(Ordering::SeqCst),
            st.resets.load(Ordering::SeqCst), st.slow.load(Ordering::SeqCst), st.hangs.load(Ordering::SeqCst), got.len()
        );
        assert!(st.faults() > 0, "{name}: faults were injected");
    }
}

/// The compactor behind the same faults, on its reads, writes and removals: rerun until a run
/// finishes (each stopped run's lease waited out), the lake holds exactly the per-table objects
/// and rows of a fault-free compaction, and no batch object is left.
#[tokio::test]
async fn the_compactor_through_s3_faults_ends_in_exactly_the_fault_free_layout() {
    use cdc_sink::compact::{compact, CompactOptions};
    use cdc_sink::config::Objects;
    use cdc_sink::lake::Lake;
    let server = require!(S3Server::shared_or_start());
    let direct = s3::client(&server.endpoint);
    let mut config = Config::default();
    config.layout.objects = Objects::Batch;
    let events: Vec<Vec<u8>> = samples()
        .into_iter()
        .map(|(n, _)| sample_bytes(&n))
        .collect();
    let fill = |bucket: &str| {
        Handler::new(
            config.clone(),
            "cdc",
            S3Store::from_client(direct.clone(), &S3Settings::new(bucket)),
        )
    };
    let later = CompactOptions {
        now_us: cdc_sink::model::time::now_us() + 86_400_000_000,
        target_bytes: 4096,
        ..CompactOptions::default()
    };
    // The per-table objects (outside the lake's reserved folders) and their rows.
    let tables = |bucket: String| {
        let direct = direct.clone();
        async move {
            let mut out = std::collections::BTreeMap::new();
            for key in s3::list(&direct, &bucket, "cdc/").await {
                if !key.starts_with("cdc/_") {
                    let body = s3::get(&direct, &bucket, &key).await;
                    out.insert(key.clone(), s3::decode(&key, body));
                }
            }
            out
        }
    };
    let clean = s3::unique_bucket("compact-clean");
    s3::create_bucket(&direct, &clean).await;
    let h = fill(&clean);
    for e in &events {
        assert!(h.handle(e).await.unwrap().0.batch_item_failures.is_empty());
    }
    let lake = Lake::open_for_read(
        S3Store::from_client(direct.clone(), &S3Settings::new(&clean)),
        "cdc",
    )
    .await
    .unwrap();
    compact(&lake, &later, |_| {}).await.unwrap();
    let expected = tables(clean.clone()).await;
    assert!(!expected.is_empty());

    let plan = FaultPlan {
        seed: 11,
        error_500: 0.12,
        slow_down_503: 0.1,
        reset: 0.06,
        hang: 0.02,
        slow_ms: 150,
        hang_ms: 2_500,
        ..FaultPlan::default()
    };
    let proxy = Proxy::start(&server.endpoint, plan).await;
    let client = s3::client_with(&proxy.endpoint, s3::SECRET_KEY, 2, Duration::from_secs(1));
    let bucket = s3::unique_bucket("compact-faults");
    s3::create_bucket(&direct, &bucket).await;
    let h = fill(&bucket);
    for e in &events {
        assert!(h.handle(e).await.unwrap().0.batch_item_failures.is_empty());
    }
    let store = S3Store::from_client(client, &S3Settings::new(&bucket));
    let (mut stopped, mut runs) = (0, 0);
    loop {
        runs += 1;
        assert!(runs < 300, "a compaction never finished");
        // Each run after a stopped one comes once the stopped run's lease has expired.
        let o = CompactOptions {
            now_us: later.now_us + runs * 3_600_000_000,
            ..later.clone()
        };
        let Ok(lake) = Lake::open_for_read(&store, "cdc").await else {
            stopped += 1;
            continue;
        };
        match compact(&lake, &o, |_| {}).await {
            Ok(r) if r.open_objects == 0 => break,
            _ => stopped += 1,
        }
    }
    assert!(
        s3::list(&direct, &bucket, "cdc/_batches/").await.is_empty(),
        "every batch object removed"
    );
    let got = tables(bucket.clone()).await;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "same compacted objects"
    );
    assert_eq!(got, expected, "same rows");
    let st = &proxy.stats;
    println!(
        "faults on the compactor: {} requests, {} faults injected, {stopped} runs stopped by them before one finished; {} table objects checked",
        st.requests.load(Ordering::SeqCst),
        st.faults(),
        got.len()
    );
    assert!(st.faults() > 0 && stopped > 0, "faults stopped some runs");
}
