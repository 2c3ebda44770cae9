//! The bad-input corpus (test-input/bad/, made by make_bad.py): each file gives its expected
//! quarantine reasons or a clear error, nothing panics, no object lands outside the prefix,
//! and every record is accounted for. Plus a full 6 MB event from the generator.

use crate::common;

use cdc_sink::config::Config;
use cdc_sink::ingest::registry::SchemaRegistry;
use cdc_sink::sim::generate::{generate, GenOptions};
use cdc_sink::store::local::LocalDir;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

fn corpus() -> Vec<(String, Value)> {
    let expected: Value = serde_json::from_slice(
        &std::fs::read(root().join("test-input/bad/expected.json")).unwrap(),
    )
    .unwrap();
    expected
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test]
async fn every_bad_input_is_quarantined_with_its_reason_or_rejected_clearly() {
    let (mut files, mut records, mut quarantined) = (0, 0, 0);
    let mut reasons_seen: BTreeMap<String, u64> = BTreeMap::new();
    for (name, want) in corpus() {
        let bytes = std::fs::read(root().join("test-input/bad").join(&name)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let sink = cdc_sink::store::PrefixStore::new(LocalDir::new(dir.path()), "lake");
        let reg = SchemaRegistry::new(Duration::ZERO);
        let result = reg.build(&sink, &bytes, &Config::default()).await;
        files += 1;
        if let Some(msg) = want.get("error").and_then(Value::as_str) {
            let e = result
                .err()
                .unwrap_or_else(|| panic!("{name}: expected an error containing {msg:?}"))
                .to_string();
            assert!(e.contains(msg), "{name}: {e}");
            // The CLI names the file and the problem, and writes nothing.
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
                .args(["replay", "--out"])
                .arg(dir.path().join("cli"))
                .arg(root().join("test-input/bad").join(&name))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success() && stderr.contains(&name) && stderr.contains(msg),
                "{name}: {stderr}"
            );
            assert!(
                !dir.path().join("cli").exists() || files_under(&dir.path().join("cli")).is_empty()
            );
            continue;
        }
        let (batch, _) = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        common::write_all(&sink, &batch).await.unwrap();
        let c = &batch.counts;
        let n = |k: &str| want[k].as_u64().unwrap();
        assert!(c.balanced(), "{name}: {c}");
        assert_eq!(
            (c.records, c.rows(), c.control, c.skipped, c.quarantined),
            (
                n("records"),
                n("rows"),
                n("control"),
                n("skipped"),
                n("quarantined")
            ),
            "{name}: {c}"
        );
        let got: BTreeMap<String, u64> = batch
            .quarantine_reasons
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let wanted: BTreeMap<String, u64> = want["reasons"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, wanted, "{name}: quarantine reasons");
        for k in files_under(dir.path()) {
            assert!(k.starts_with("lake/"), "{name}: {k} is outside the prefix");
            assert!(!k.split('/').any(|s| s == ".." || s == "."), "{name}: {k}");
        }
        // Every quarantine entry says why, with the record's identity and raw bytes.
        for o in batch
            .objects
            .iter()
            .filter(|o| o.kind == cdc_sink::pipeline::ObjectKind::Quarantine)
        {
            for line in o.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let e: Value = serde_json::from_slice(line).unwrap();
                assert!(!e["reason"].as_str().unwrap().is_empty(), "{name}");
                assert!(e.get("data_base64").is_some(), "{name}");
            }
        }
        records += c.records;
        quarantined += c.quarantined;
        for (k, v) in got {
            *reasons_seen.entry(k).or_default() += v;
        }
    }
    println!("corpus: {files} files, {records} records, {quarantined} quarantined by reason {reasons_seen:?}; no panic, every object under the prefix");
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    if dir.exists() {
        files(dir)
    } else {
        Vec::new()
    }
}

#[tokio::test]
async fn a_full_six_megabyte_event_is_processed_whole() {
    let w = generate(&GenOptions {
        seed: 6,
        tables: 5,
        rows: 400,
        transactions: 2_000,
        shards: 1,
        records_per_event: 100_000,
        name_bytes: 300,
        ..GenOptions::default()
    });
    let event = &w.events[0].bytes;
    // Trim to Lambda's 6 MB payload limit.
    let v: Value = serde_json::from_slice(event).unwrap();
    let all = v["Records"].as_array().unwrap();
    let mut recs = Vec::new();
    let mut size = 20;
    for r in all {
        size += r.to_string().len() + 1;
        if size > 6 * 1024 * 1024 {
            break;
        }
        recs.push(r.clone());
    }
    let bytes = serde_json::to_vec(&serde_json::json!({ "Records": recs })).unwrap();
    assert!(
        bytes.len() > 5_500_000 && bytes.len() <= 6 * 1024 * 1024,
        "{} bytes",
        bytes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let b = replay_registered(dir.path(), std::slice::from_ref(&bytes))
        .await
        .remove(0);
    assert!(b.counts.balanced());
    assert_eq!(b.counts.quarantined, 0);
    assert_eq!(b.counts.records as usize, recs.len());
    println!(
        "large event: {} bytes, {} records, {} objects written",
        bytes.len(),
        b.counts.records,
        b.counts.objects
    );
}
