//! The pipeline on the sample events into a local directory: accounting, values, types,
//! lineage, partition paths, keys, idempotent replays, JSON Lines.

use crate::common;

use arrow::datatypes::{DataType, TimeUnit};
use cdc_sink::config::{Compression, Config, Format, PartitionTime, Partitioning};
use cdc_sink::pipeline::ObjectKind;
use cdc_sink::store::local::LocalDir;
use common::*;
use serde_json::json;
use std::collections::BTreeSet;

#[test]
fn every_sample_balances_and_matches_its_expected_counts() {
    for (name, expected) in samples() {
        let b = batch(&name, &Config::default());
        let c = &b.counts;
        assert!(c.balanced(), "{name}: {c}");
        let got = (
            c.records,
            c.load,
            c.insert,
            c.update,
            c.delete,
            c.control,
            c.skipped,
            c.quarantined,
        );
        let want = (
            expected.records,
            expected.load,
            expected.insert,
            expected.update,
            expected.delete,
            expected.control,
            expected.skipped,
            expected.quarantined,
        );
        assert_eq!(got, want, "{name}: {c}");
        // The objects hold exactly the counted rows and entries.
        let sum = |k| {
            b.objects
                .iter()
                .filter(|o| o.kind == k)
                .map(|o| o.rows as u64)
                .sum::<u64>()
        };
        assert_eq!(sum(ObjectKind::Data), c.rows(), "{name}");
        assert_eq!(sum(ObjectKind::Control), c.control, "{name}");
        assert_eq!(sum(ObjectKind::Quarantine), c.quarantined, "{name}");
    }
}

#[tokio::test]
async fn quick_start_rows_types_lineage_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch("kinesis_test_input.json", &Config::default());
    common::write_all(&LocalDir::new(dir.path()), &b)
        .await
        .unwrap();
    let keys = files(dir.path());
    let shard = "shardId-000000000000";
    for k in &keys {
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(parts.len(), 4, "{k}: schema/table/dt=/file");
        assert!(parts[2].starts_with("dt=2025-11-0"), "{k}");
        assert!(
            parts[3].starts_with(&format!("{shard}-")) && parts[3].ends_with(".parquet"),
            "{k}"
        );
    }
    let days: BTreeSet<&str> = keys.iter().map(|k| k.split('/').nth(2).unwrap()).collect();
    assert!(
        days.len() >= 2,
        "commits on both sides of midnight give two partitions: {days:?}"
    );

    // Every object is named after the first sequence number of its rows.
    let all = parquet_rows(dir.path());
    for (key, rows) in &all {
        let first = rows
            .iter()
            .map(|r| r["cdc_seq"].as_str().unwrap())
            .min()
            .unwrap();
        let seq = key
            .rsplit('/')
            .next()
            .unwrap()
            .trim_start_matches(&format!("{shard}-"))
            .trim_end_matches(".parquet");
        assert_eq!(first.trim_start_matches('0'), seq, "{key}");
        assert!(rows
            .iter()
            .all(|r| r["cdc_seq"].as_str().unwrap().len() == 129));
        assert!(rows.iter().all(|r| r["cdc_shard"] == json!(shard)));
    }

    // Values read back from Parquet, with their lineage.
    let customers: Vec<_> = all
        .iter()
        .filter(|(k, _)| k.starts_with("public/customers/"))
        .flat_map(|(_, r)| r.clone())
        .collect();
    let chloe = customers
        .iter()
        .find(|r| r["id"] == json!(9.0) && r["cdc_op"] == json!("I"))
        .expect("customer 9 inserted");
    assert_eq!(chloe["name"], json!("Chloé Martin"));
    assert_eq!(
        chloe["tier"],
        json!("{\"tier\": \"bronze\", \"since\": 2025}"),
        "jsonb stays JSON text"
    );
    assert_eq!(chloe["cdc_txn_id"], json!(48213377));
    assert_eq!(chloe["cdc_txn_record_id"], json!(1));
    assert_eq!(
        chloe["cdc_stream_position"],
        json!("00000003/5A0015A3.2.00000003/5A0015A3")
    );
    assert_eq!(chloe["cdc_commit_ts"], json!("2025-11-03T23:59:41.208813Z"));
    assert_eq!(chloe["cdc_dms_ts"], json!("2025-11-03T23:59:41.381165Z"));
    assert!(
        chloe.get("cdc_before").is_none(),
        "inserts carry no before-image"
    );
    let ops: BTreeSet<String> = all
        .values()
        .flatten()
        .map(|r| r["cdc_op"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ops, ["D", "I", "U"].iter().map(|s| s.to_string()).collect());
    let delete = all
        .values()
        .flatten()
        .find(|r| r["cdc_op"] == json!("D"))
        .unwrap();
    assert!(delete.contains_key("cdc_txn_id"));

    // Physical types: only what Athena reads.
    let (k, _) = all
        .iter()
        .find(|(k, _)| k.starts_with("public/orders/"))
        .unwrap();
    let rb = read_parquet(std::fs::read(dir.path().join(k)).unwrap());
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
    for (name, ty) in [
        ("cdc_commit_ts", &utc),
        ("cdc_arrival_ts", &utc),
        ("cdc_txn_id", &DataType::Int64),
        ("cdc_seq", &DataType::Utf8),
        ("total", &DataType::Float64),
    ] {
        assert_eq!(column(&rb, name).data_type(), ty, "{name}");
    }
    let meta = parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(
        std::fs::read(dir.path().join(k)).unwrap(),
    ))
    .unwrap();
    use parquet::file::reader::FileReader;
    let schema = meta.metadata().file_metadata().schema_descr();
    for c in schema.columns() {
        let t = c.physical_type();
        assert_ne!(t, parquet::basic::Type::INT96, "{}", c.name());
        if c.name().ends_with("_ts") {
            assert_eq!(t, parquet::basic::Type::INT64);
            assert_eq!(
                c.logical_type_ref(),
                Some(&parquet::basic::LogicalType::timestamp(
                    true,
                    parquet::basic::TimeUnit::MICROS
                )),
                "{}",
                c.name()
            );
        }
    }
    // Min/max per column chunk: what Athena uses to skip files and row groups.
    let rg = meta.metadata().row_group(0);
    for cc in rg.columns() {
        let stats = cc.statistics();
        assert!(stats.is_some(), "{} has no statistics", cc.column_path());
    }
    let commit = rg
        .columns()
        .iter()
        .find(|cc| cc.column_path().string() == "cdc_commit_ts")
        .and_then(|cc| cc.statistics())
        .unwrap();
    assert!(commit.min_bytes_opt().is_some() && commit.max_bytes_opt().is_some());
}

#[test]
fn before_images_primary_key_changes_and_deletes() {
    let b = batch("cdc_before_image.json", &Config::default());
    let updates: Vec<_> = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Data)
        .flat_map(|o| rows(&read_parquet(o.body.to_vec())))
        .collect();
    let rows = updates;
    let befores: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.get("cdc_before").and_then(|v| v.as_str()))
        .collect();
    assert!(
        befores.contains(&"{}"),
        "empty before-image kept as sent: {befores:?}"
    );
    assert!(
        befores.iter().any(|b| b.contains("\"id\":7")),
        "old key of a primary-key change: {befores:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r["cdc_op"] == json!("U") && r.get("cdc_before").is_none()),
        "update without before-image"
    );

    let d = batch("deletes_pk_only.json", &Config::default());
    let all: Vec<_> = d
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Data)
        .flat_map(|o| common::rows(&read_parquet(o.body.to_vec())))
        .collect();
    let deletes: Vec<_> = all.iter().filter(|r| r["cdc_op"] == json!("D")).collect();
    assert_eq!(deletes.len(), 7);
    for r in deletes {
        let source_cols: Vec<_> = r.keys().filter(|k| !k.starts_with("cdc_")).collect();
        assert!(
            !source_cols.is_empty() && source_cols.len() <= 2,
            "PK-only delete: {r:?}"
        );
    }
}

#[test]
fn both_message_formats_decode_to_the_same_values_and_doc_nesting_unwraps() {
    let b = batch("formats_mixed.json", &Config::default());
    assert_eq!(b.counts.quarantined, 0);
    let rows: Vec<_> = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Data)
        .flat_map(|o| rows(&read_parquet(o.body.to_vec())))
        .collect();
    assert_eq!(rows.len() as u64, b.counts.rows());
    // No column named _doc: the nested row was unwrapped; no value carries tab indentation.
    assert!(rows.iter().all(|r| !r.contains_key("_doc")));
    for r in &rows {
        for v in r.values() {
            if let Some(s) = v.as_str() {
                assert!(
                    !s.contains('\t'),
                    "tab-indented JSON leaked into a value: {s:?}"
                );
            }
        }
    }
}

#[test]
fn malformed_records_are_quarantined_with_reasons_and_raw_bytes() {
    let b = batch("malformed_mixed.json", &Config::default());
    let q: Vec<serde_json::Value> = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Quarantine)
        .flat_map(|o| {
            o.body
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(q.len() as u64, b.counts.quarantined);
    let codes: BTreeSet<&str> = q
        .iter()
        .map(|e| e["reason_code"].as_str().unwrap())
        .collect();
    for code in [
        "invalid_base64",
        "not_utf8",
        "not_json",
        "no_metadata",
        "unknown_record_type",
        "unknown_operation",
        "kpl_aggregated",
        "bad_table_name",
    ] {
        assert!(codes.contains(code), "missing {code} in {codes:?}");
    }
    let input: serde_json::Value =
        serde_json::from_slice(&sample_bytes("malformed_mixed.json")).unwrap();
    for e in &q {
        assert!(!e["reason"].as_str().unwrap().is_empty());
        assert_eq!(e["shard"], json!("shardId-000000000007"));
        // The raw payload is kept exactly as it arrived.
        let rec = input["Records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kinesis"]["sequenceNumber"] == e["seq"])
            .unwrap();
        assert_eq!(rec["kinesis"]["data"], e["data_base64"]);
        assert!(e["arrival_ts"].as_str().unwrap().starts_with("2025-11-"));
    }
    let control_keys: Vec<_> = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Control)
        .map(|o| o.key.clone())
        .collect();
    assert!(
        control_keys.iter().all(|k| k.starts_with("_control/dt=")),
        "{control_keys:?}"
    );
}

#[test]
fn full_load_control_records_go_to_the_control_log_and_dms_tables_are_skipped() {
    let b = batch("full_load.json", &Config::default());
    let entries: Vec<serde_json::Value> = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Control)
        .flat_map(|o| {
            o.body
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(entries.len(), 8);
    let create = entries
        .iter()
        .find(|e| e["operation"] == json!("create-table"))
        .unwrap();
    assert!(
        create["control"]["table-def"]["columns"].is_object(),
        "table-def kept: {create}"
    );
    assert!(b.objects.iter().all(|o| !o.key.contains("awsdms_")));
    let loads: u64 = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Data)
        .map(|o| o.rows as u64)
        .sum();
    assert_eq!(loads, b.counts.load);
}

#[tokio::test]
async fn replaying_the_same_events_twice_gives_the_same_keys_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDir::new(dir.path());
    replay_all(&sink, &Config::default(), "").await;
    let first_keys = files(dir.path());
    let first_rows = parquet_rows(dir.path());
    replay_all(&sink, &Config::default(), "").await;
    assert_eq!(files(dir.path()), first_keys);
    assert_eq!(parquet_rows(dir.path()), first_rows);
    assert!(
        first_keys.iter().all(|k| !k.contains(".tmp")),
        "no temporary files left"
    );
}

#[test]
fn hourly_none_and_arrival_partitioning() {
    let hourly = Config {
        layout: cdc_sink::config::Layout {
            partition: Partitioning::Hour,
            ..cdc_sink::config::Layout::default()
        },
        ..Config::default()
    };
    let b = batch("multi_table.json", &hourly);
    for o in b.objects.iter().filter(|o| o.kind == ObjectKind::Data) {
        let segs: Vec<&str> = o.key.split('/').collect();
        assert!(
            segs[2].starts_with("dt=") && segs[3].starts_with("hr=") && segs[3].len() == 5,
            "{}",
            o.key
        );
    }
    let none = Config {
        layout: cdc_sink::config::Layout {
            partition: Partitioning::None,
            ..cdc_sink::config::Layout::default()
        },
        ..Config::default()
    };
    let b = batch("multi_table.json", &none);
    let tables: BTreeSet<_> = b
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Data)
        .map(|o| o.key.split('/').take(2).collect::<Vec<_>>().join("/"))
        .collect();
    assert_eq!(
        b.objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Data)
            .count(),
        tables.len(),
        "one object per table"
    );
    let arrival = Config {
        layout: cdc_sink::config::Layout {
            partition_time: PartitionTime::Arrival,
            ..cdc_sink::config::Layout::default()
        },
        ..Config::default()
    };
    let input: serde_json::Value =
        serde_json::from_slice(&sample_bytes("multi_table.json")).unwrap();
    let arrival_days: BTreeSet<String> = input["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let us = (r["kinesis"]["approximateArrivalTimestamp"]
                .as_f64()
                .unwrap()
                * 1e6)
                .round() as i64;
            format!(
                "dt={}",
                cdc_sink::model::time::format_date(us.div_euclid(86_400_000_000))
            )
        })
        .collect();
    let b = batch("multi_table.json", &arrival);
    for o in b.objects.iter().filter(|o| o.kind == ObjectKind::Data) {
        assert!(
            arrival_days.contains(o.key.split('/').nth(2).unwrap()),
            "{}",
            o.key
        );
    }
}

#[test]
fn json_lines_from_the_same_batch() {
    for gzip in [false, true] {
        let cfg = Config::new(
            Format::JsonLines,
            Some(if gzip {
                Compression::Gzip
            } else {
                Compression::None
            }),
            Partitioning::Day,
            PartitionTime::Commit,
            "before-image".into(),
        )
        .unwrap();
        let b = batch("kinesis_test_input.json", &cfg);
        let parquet = batch("kinesis_test_input.json", &Config::default());
        let data: Vec<_> = b
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Data)
            .collect();
        assert_eq!(
            data.len(),
            parquet
                .objects
                .iter()
                .filter(|o| o.kind == ObjectKind::Data)
                .count()
        );
        for o in data {
            assert!(
                o.key.ends_with(if gzip { ".jsonl.gz" } else { ".jsonl" }),
                "{}",
                o.key
            );
            let text = if gzip {
                let mut s = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&o.body[..]),
                    &mut s,
                )
                .unwrap();
                s
            } else {
                String::from_utf8(o.body.to_vec()).unwrap()
            };
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len(), o.rows);
            let pq_key = o
                .key
                .replace(if gzip { ".jsonl.gz" } else { ".jsonl" }, ".parquet");
            let pq = parquet
                .objects
                .iter()
                .find(|p| p.key == pq_key)
                .expect("same key stem as parquet");
            // The Parquet object's values, written in the JSON Lines encodings (README, JSON
            // Lines): timestamps, decimals, binary and NaN have their own forms there.
            let pq_json =
                cdc_sink::format::jsonl::encode(&read_parquet(pq.body.to_vec()), Compression::None)
                    .unwrap();
            let pq_rows: Vec<serde_json::Value> = String::from_utf8(pq_json)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(pq_rows.len(), lines.len());
            for (l, p) in lines.iter().zip(&pq_rows) {
                assert_eq!(l, p, "same values in both formats");
            }
        }
    }
}

/// The batch of one insert per (schema, table).
fn inserts_into<'a>(tables: impl Iterator<Item = (&'a str, &'a str)>) -> cdc_sink::pipeline::Batch {
    let msgs: Vec<_> = tables
        .enumerate()
        .map(|(i, (schema, table))| dms_row("insert", schema, table, json!({"id": i})))
        .collect();
    cdc_sink::pipeline::build_batch(
        &make_event("shardId-000000000001", 100, &msgs),
        &Config::default(),
        &cdc_sink::schema::InferOnly,
    )
    .unwrap()
}

#[test]
fn hostile_table_names_stay_under_the_prefix() {
    let names = [
        "..",
        "../../etc",
        "a/b",
        "dt=2020-01-01",
        "spaced name",
        "ünï",
        "tab\tname",
        "%2F",
    ];
    let b = inserts_into(names.iter().map(|n| (*n, *n)));
    assert_eq!(b.counts.insert, names.len() as u64);
    let mut dirs = BTreeSet::new();
    for o in &b.objects {
        // Keys are lake-relative; under the prefix `lake` they stay inside it.
        let key = cdc_sink::store::prefix::join("lake", &o.key);
        assert!(key.starts_with("lake/"), "{key}");
        let segs: Vec<&str> = key.split('/').collect();
        assert_eq!(segs.len(), 5, "{key}");
        assert!(
            segs.iter()
                .all(|s| !s.is_empty() && *s != "." && *s != ".."),
            "{key}"
        );
        dirs.insert((segs[1].to_string(), segs[2].to_string()));
    }
    assert_eq!(dirs.len(), names.len(), "distinct names stay distinct");
}

/// Names that would run together in a naive "schema NUL table" key stay two tables, and names
/// too long for object keys are each refused, whichever side of the pair is long.
#[test]
fn tables_whose_names_run_together_stay_apart() {
    let long = "x".repeat(300);
    let pairs = [
        ("a".to_string(), "b\u{0}c".to_string()),
        ("a\u{0}b".to_string(), "c".to_string()),
        ("s".to_string(), format!("{long}t")),
        (format!("s{long}"), "t".to_string()),
    ];
    let b = inserts_into(pairs.iter().map(|(s, t)| (s.as_str(), t.as_str())));
    let tables: Vec<(String, String)> = b
        .tables
        .iter()
        .map(|(id, _)| (id.schema.to_string(), id.table.to_string()))
        .collect();
    assert_eq!(tables, pairs[..2].to_vec());
    assert_eq!(b.counts.insert, 2);
    // Both long names are too long once escaped: each is refused on its own.
    assert_eq!(
        b.quarantine_reasons,
        vec![("bad_table_name".to_string(), 2)]
    );
}

/// The same event gives the same objects, byte for byte, run after run and whatever the number
/// of encoding threads (CDC_ENCODE_THREADS), in every format: 50 tables, so about 100 objects
/// are encoded in parallel, with per-table encoders shared across threads.
#[test]
fn objects_are_byte_identical_across_runs_and_thread_counts() {
    let event = cdc_sink::sim::bench::full_event(4, 50, 1.0);
    let formats = [
        (Format::Parquet, Compression::Snappy),
        (Format::Parquet, Compression::Zstd),
        (Format::JsonLines, Compression::Gzip),
    ];
    for (format, compression) in formats {
        let run = |threads: usize| {
            let cfg = Config {
                layout: cdc_sink::config::Layout {
                    format,
                    compression,
                    ..cdc_sink::config::Layout::default()
                },
                encode_threads: threads,
                ..Config::default()
            };
            let b = cdc_sink::pipeline::build_batch(&event, &cfg, &cdc_sink::schema::InferOnly)
                .unwrap();
            b.objects
                .iter()
                .map(|o| (o.key.clone(), o.body.clone()))
                .collect::<Vec<_>>()
        };
        let one = run(1);
        assert!(
            one.len() > 50,
            "{format} {compression}: {} objects",
            one.len()
        );
        assert_eq!(
            one,
            run(1),
            "{format} {compression}: two runs on one thread differ"
        );
        for threads in [2, 3, 8, 0] {
            assert_eq!(
                one,
                run(threads),
                "{format} {compression}: {threads} threads differ from 1"
            );
        }
    }
    // The bytes hold the rows: every data row of the batch is read back from its Parquet file.
    let b =
        cdc_sink::pipeline::build_batch(&event, &Config::default(), &cdc_sink::schema::InferOnly)
            .unwrap();
    let mut rows = 0;
    for o in b.objects.iter().filter(|o| o.kind == ObjectKind::Data) {
        let r =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(o.body.clone())
                .unwrap()
                .build()
                .unwrap();
        rows += r.map(|b| b.unwrap().num_rows()).sum::<usize>();
    }
    let c = &b.counts;
    assert_eq!(rows as u64, c.load + c.insert + c.update + c.delete);
}
