//! Stable schemas and faithful PostgreSQL types: every file of a table has the registry's
//! column types, table-defs declare types, conflicts are recorded, and concurrent writers
//! never lose a registry update (against a real S3-compatible server).

use crate::common;

use arrow::datatypes::{DataType, TimeUnit};
use cdc_sink::config::Config;
use cdc_sink::ingest::registry::SchemaRegistry;
use cdc_sink::lake::keys::registry_key;
use cdc_sink::model::change::TableId;
use cdc_sink::pipeline::ObjectKind;
use cdc_sink::schema::registry::{evolve, Registered};
use cdc_sink::schema::{Column, ColumnType, TableSchema, TypeSource};
use cdc_sink::store::s3::{S3Settings, S3Store};
use cdc_sink::store::Store;
use common::s3;
use common::servers::S3Server;
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// Arrow type of every column, per data file of a table.
fn file_types(dir: &std::path::Path, table: &str) -> BTreeMap<String, BTreeMap<String, DataType>> {
    files(dir)
        .into_iter()
        .filter(|k| k.starts_with(table) && k.ends_with(".parquet"))
        .map(|k| {
            let b = read_parquet(std::fs::read(dir.join(&k)).unwrap());
            let types = b
                .schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect();
            (k, types)
        })
        .collect()
}

#[tokio::test]
async fn drifting_values_never_change_a_column_type_between_files() {
    // amount: absent, null, integer-looking, fractional, absent again; flag: "t"/"f" strings.
    let amounts = [
        None,
        Some(json!(null)),
        Some(json!(42)),
        Some(json!(42.5)),
        None,
        Some(json!(7)),
        Some(json!(-0.25)),
        None,
    ];
    let mut events = Vec::new();
    for (i, a) in amounts.iter().enumerate() {
        let mut data = json!({"id": i, "flag": if i % 2 == 0 { "t" } else { "f" }});
        if let Some(a) = a {
            data["amount"] = a.clone();
        }
        if i == 5 {
            data["late"] = json!("appears later");
        }
        events.push(make_event(
            "shardId-000000000001",
            i as u64 * 10,
            &[dms_row("insert", "public", "drift", data)],
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    replay_registered(dir.path(), &events).await;
    let per_file = file_types(dir.path(), "public/drift/");
    assert_eq!(per_file.len(), events.len());
    let mut by_column: BTreeMap<String, Vec<DataType>> = BTreeMap::new();
    for types in per_file.values() {
        for (c, t) in types {
            by_column.entry(c.clone()).or_default().push(t.clone());
        }
    }
    for (c, types) in &by_column {
        assert!(
            types.windows(2).all(|w| w[0] == w[1]),
            "column {c} changes type between files: {types:?}"
        );
    }
    assert_eq!(by_column["amount"][0], DataType::Float64);
    assert_eq!(
        by_column["flag"][0],
        DataType::Utf8,
        "undeclared t/f stay strings (no flip later)"
    );
    // Once registered, a column is in every later file, NULL where the batch lacked it.
    assert_eq!(
        by_column["amount"].len(),
        6,
        "files from the first numeric amount on"
    );
    // DuckDB and pyarrow read all the files as one table.
    let report = python_json("read_lake.py", &[dir.path().as_os_str()]);
    assert_eq!(report["public.drift"]["rows"], 8);
    assert_eq!(report["public.drift"]["pyarrow_rows"], 8);
    assert_eq!(report["public.drift"]["types"]["amount"], "DOUBLE");

    // With a table-def declaring flag boolean, t/f become booleans in every file.
    let def = dms_create_table(
        "public",
        "flags",
        json!({"id": {"type": "INT32", "nullable": false}, "flag": {"type": "BOOLEAN"}}),
        &["id"],
    );
    let mut events = vec![make_event("shardId-000000000002", 0, &[def])];
    for (i, f) in [
        json!("t"),
        json!("f"),
        json!(true),
        json!("false"),
        json!(null),
    ]
    .iter()
    .enumerate()
    {
        events.push(make_event(
            "shardId-000000000002",
            10 + i as u64,
            &[dms_row(
                "insert",
                "public",
                "flags",
                json!({"id": i, "flag": f}),
            )],
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    replay_registered(dir.path(), &events).await;
    let mut values = Vec::new();
    for (k, types) in file_types(dir.path(), "public/flags/") {
        assert_eq!(types["flag"], DataType::Boolean, "{k}");
        assert_eq!(types["id"], DataType::Int32, "{k}");
        let b = read_parquet(std::fs::read(dir.path().join(&k)).unwrap());
        values.extend(
            rows(&b)
                .into_iter()
                .map(|r| (r["id"].as_i64().unwrap(), r.get("flag").cloned())),
        );
    }
    values.sort_by_key(|(id, _)| *id);
    let flags: Vec<_> = values.into_iter().map(|(_, f)| f).collect();
    assert_eq!(
        flags,
        [
            Some(json!(true)),
            Some(json!(false)),
            Some(json!(true)),
            Some(json!(false)),
            None
        ]
    );
}

#[tokio::test]
async fn postgres_types_keep_their_meaning() {
    let columns = json!({
        "small": {"type": "INT32"}, "big": {"type": "INT64"}, "sci": {"type": "INT64"},
        "price": {"type": "NUMERIC", "precision": 10, "scale": 2}, "ratio": {"type": "REAL8"},
        "ok_t": {"type": "BOOLEAN"}, "ok_true": {"type": "BOOLEAN"}, "ok_json": {"type": "BOOLEAN"},
        "label": {"type": "STRING"}, "uid": {"type": "STRING"}, "tags": {"type": "STRING"}, "doc": {"type": "STRING"},
        "blob": {"type": "BLOB"}, "day": {"type": "DATE"}, "at": {"type": "TIMESTAMP"}, "at0": {"type": "TIMESTAMP"},
        "at9": {"type": "TIMESTAMP"}, "id": {"type": "INT32", "nullable": false}
    });
    let row = json!({
        "id": 1, "small": -32768, "big": 9007199254740993i64, "sci": "__SCI__", "price": 19.99, "ratio": 0.1,
        "ok_t": "t", "ok_true": "true", "ok_json": false, "label": "Chloé", "uid": "5b2e2d6e-8f6a-4c1e-9d55-0c1b2f0e3a77",
        "tags": "{1,2,3}", "doc": "{\"tier\": \"gold\"}", "blob": "0x80057D942E", "day": "2025-11-03",
        "at": "2025-11-03T08:15:02.104233Z", "at0": "2025-11-03T08:15:00Z", "at9": "2025-11-03T08:15:02.123456000Z"
    });
    // Scientific notation must reach the decoder as a JSON number, not a string.
    let text = dms_row("insert", "public", "types", row)
        .to_string()
        .replace("\"__SCI__\"", "1.2345678901234568E+18");
    let msg: serde_json::Value = serde_json::from_str(&text).unwrap();
    let misfit = dms_row(
        "insert",
        "public",
        "types",
        json!({"id": 2, "price": 1.005}),
    );
    let event = make_event(
        "shardId-000000000003",
        0,
        &[
            dms_create_table("public", "types", columns, &["id"]),
            msg,
            misfit,
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let batches = replay_registered(dir.path(), &[event]).await;
    let b = &batches[0];
    assert_eq!(
        (
            b.counts.insert,
            b.counts.control,
            b.counts.quarantined,
            b.counts.warnings
        ),
        (1, 1, 1, 1),
        "{}",
        b.counts
    );

    let (k, _) = file_types(dir.path(), "public/types/")
        .into_iter()
        .next()
        .unwrap();
    let rb = read_parquet(std::fs::read(dir.path().join(&k)).unwrap());
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
    for (c, t) in [
        ("id", DataType::Int32),
        ("small", DataType::Int32),
        ("big", DataType::Int64),
        ("sci", DataType::Int64),
        ("price", DataType::Decimal128(10, 2)),
        ("ratio", DataType::Float64),
        ("ok_t", DataType::Boolean),
        ("label", DataType::Utf8),
        ("doc", DataType::Utf8),
        ("blob", DataType::Binary),
        ("day", DataType::Date32),
        ("at", ts.clone()),
        ("at9", ts),
    ] {
        assert_eq!(column(&rb, c).data_type(), &t, "{c}");
    }
    let r = &rows(&rb)[0];
    assert_eq!(r["small"], json!(-32768));
    assert_eq!(
        r["big"],
        json!(9007199254740993i64),
        "bigint exact beyond 2^53"
    );
    assert_eq!(
        r["sci"],
        json!(1234567890123456800i64),
        "scientific notation kept as written, counted as a warning"
    );
    let price = column(&rb, "price")
        .as_any()
        .downcast_ref::<arrow::array::Decimal128Array>()
        .unwrap();
    assert_eq!(
        (price.value(0), price.scale()),
        (1999, 2),
        "numeric exact: 19.99 as decimal(10,2)"
    );
    assert_eq!(r["ratio"], json!(0.1));
    assert_eq!(
        (&r["ok_t"], &r["ok_true"], &r["ok_json"]),
        (&json!(true), &json!(true), &json!(false))
    );
    assert_eq!(r["label"], json!("Chloé"));
    assert_eq!(r["tags"], json!("{1,2,3}"));
    assert_eq!(
        r["doc"],
        json!("{\"tier\": \"gold\"}"),
        "jsonb stays its JSON text"
    );
    let blob = column(&rb, "blob")
        .as_any()
        .downcast_ref::<arrow::array::BinaryArray>()
        .unwrap();
    assert_eq!(
        blob.value(0),
        [0x80, 0x05, 0x7d, 0x94, 0x2e],
        "bytea decoded from 0x hex"
    );
    assert_eq!(r["day"], json!("2025-11-03"));
    assert_eq!(r["at"], json!("2025-11-03T08:15:02.104233Z"));
    assert_eq!(r["at0"], json!("2025-11-03T08:15:00Z"));
    assert_eq!(r["at9"], json!("2025-11-03T08:15:02.123456Z"));

    // The value that does not fit: quarantined with table, column, value and type.
    let q = b
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::Quarantine)
        .unwrap();
    let entry: serde_json::Value =
        serde_json::from_slice(q.body.split(|&c| c == b'\n').next().unwrap()).unwrap();
    assert_eq!(entry["reason_code"], "bad_value");
    let reason = entry["reason"].as_str().unwrap();
    for part in ["public.types", "price", "1.005", "decimal(10,2)"] {
        assert!(reason.contains(part), "{part} missing from {reason}");
    }
}

#[tokio::test]
async fn a_table_def_after_inference_is_recorded_not_applied_until_set() {
    let dir = tempfile::tempdir().unwrap();
    let first = make_event(
        "shardId-000000000004",
        0,
        &[dms_row(
            "insert",
            "public",
            "late",
            json!({"id": 1, "note": "x"}),
        )],
    );
    let def = dms_create_table(
        "public",
        "late",
        json!({"id": {"type": "INT32"}, "note": {"type": "STRING"}}),
        &["id"],
    );
    let second = make_event(
        "shardId-000000000004",
        10,
        &[def, dms_row("insert", "public", "late", json!({"id": 2}))],
    );
    replay_registered(dir.path(), &[first, second]).await;
    let doc = Registered::from_json(
        &std::fs::read(dir.path().join("_schemas/public/late.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc.columns[0].ty, "double", "inferred type kept");
    assert_eq!(
        (
            doc.pending.len(),
            doc.pending[0].ty.as_str(),
            doc.primary_key.clone()
        ),
        (1, "int", vec!["id".to_string()])
    );
    for types in file_types(dir.path(), "public/late/").values() {
        assert_eq!(types["id"], DataType::Float64);
    }

    // The user forces the declared type with `schema set`; later files use it.
    let file = dir.path().join("override.json");
    std::fs::write(
        &file,
        r#"{"columns": [{"name": "id", "type": "int", "nullable": false}]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(["schema", "set", "public.late", "--file"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let third = make_event(
        "shardId-000000000004",
        20,
        &[dms_row("insert", "public", "late", json!({"id": 3}))],
    );
    let b = replay_registered(dir.path(), &[third]).await;
    let key = &b[0]
        .objects
        .iter()
        .find(|o| o.kind == ObjectKind::Data)
        .unwrap()
        .key;
    assert_eq!(
        column(
            &read_parquet(std::fs::read(dir.path().join(key)).unwrap()),
            "id"
        )
        .data_type(),
        &DataType::Int32
    );
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(["schema", "show", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let docs: Vec<Registered> = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(docs[0].columns[0].source, TypeSource::Override);
    assert!(docs[0].pending.is_empty());
    // A bad override names the problem.
    std::fs::write(&file, r#"{"columns": [{"name": "id", "type": "uint64"}]}"#).unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(["schema", "set", "public.late", "--file"])
        .arg(&file)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("accepted: boolean, int, bigint"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn schema_infer_prints_what_would_be_registered() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"))
        .args(["schema", "infer"])
        .arg(root().join("test-input/full_load.json"))
        .arg(root().join("test-input/kinesis_test_input.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Registered> = serde_json::from_slice(&out.stdout).unwrap();
    let orders = docs.iter().find(|d| d.table == "orders").unwrap();
    let ty = |c: &str| {
        orders
            .columns
            .iter()
            .find(|x| x.name == c)
            .unwrap()
            .ty
            .clone()
    };
    assert_eq!(
        (ty("id"), ty("total"), ty("placed_at"), ty("shipped_on")),
        (
            "int".into(),
            "decimal(10,2)".into(),
            "timestamp".into(),
            "date".into()
        )
    );
    assert_eq!(orders.primary_key, ["id"]);
}

fn column_schema(name: &str) -> TableSchema {
    TableSchema {
        columns: vec![Column {
            name: name.into(),
            ty: ColumnType::String,
            nullable: true,
            source: TypeSource::Inferred,
            renamed_from: None,
        }],
        primary_key: vec![],
    }
}

/// Sequential conditional-write semantics, on the given server.
async fn conditional_writes_refuse_stale_versions(endpoint: &str) {
    let c = s3::client(endpoint);
    let bucket = s3::unique_bucket("registry");
    s3::create_bucket(&c, &bucket).await;
    let sink = cdc_sink::store::PrefixStore::new(
        S3Store::from_client(c.clone(), &S3Settings::new(&bucket)),
        "cdc",
    );
    let t = TableId::new("public", "shared");

    // Deterministic: two writers read the same (absent) version; the second write must lose.
    let (a, b) = (
        SchemaRegistry::new(Duration::ZERO),
        SchemaRegistry::new(Duration::ZERO),
    );
    assert!(a.get(&sink, &t).await.unwrap().is_none());
    assert!(b.get(&sink, &t).await.unwrap().is_none());
    let va = evolve(None, &t, &[], Some(&column_schema("from_a"))).unwrap();
    let vb = evolve(None, &t, &[], Some(&column_schema("from_b"))).unwrap();
    assert!(a.publish(&sink, &va).await.unwrap());
    assert!(
        !b.publish(&sink, &vb).await.unwrap(),
        "If-None-Match: * refused the second create"
    );
    // b now holds a's version; its retry builds on it (If-Match) and keeps both columns.
    let current = b.get(&sink, &t).await.unwrap();
    let vb2 = evolve(current.as_ref(), &t, &[], Some(&column_schema("from_b"))).unwrap();
    assert!(b.publish(&sink, &vb2).await.unwrap());
    let va_stale = evolve(Some(&va), &t, &[], Some(&column_schema("from_a_again"))).unwrap();
    assert!(
        !a.publish(&sink, &va_stale).await.unwrap(),
        "If-Match on a stale ETag is refused"
    );
    let (bytes, _) = Store::get(&sink, &registry_key(&t)).await.unwrap().unwrap();
    let names: Vec<String> = Registered::from_json(&bytes)
        .unwrap()
        .columns
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["from_a", "from_b"]);
}

#[tokio::test]
async fn conditional_writes_refuse_stale_versions_on_s3s_fs() {
    let server = require!(S3Server::shared_or_start());
    conditional_writes_refuse_stale_versions(&server.endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_registry_writers_lose_no_update() {
    let server = require!(S3Server::start_moto());
    conditional_writes_refuse_stale_versions(&server.endpoint).await;
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("concurrent");
    s3::create_bucket(&c, &bucket).await;
    let sink = cdc_sink::store::PrefixStore::new(
        S3Store::from_client(c.clone(), &S3Settings::new(&bucket)),
        "cdc",
    );
    let t = TableId::new("public", "shared");

    // 8 writers (like Lambdas on 8 shards) each add their own column at once.
    let writers = 8;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(writers));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let sink = sink.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let reg = SchemaRegistry::new(Duration::ZERO);
            let event = make_event(
                &format!("shardId-{w:012}"),
                0,
                &[dms_row(
                    "insert",
                    "public",
                    "shared",
                    json!({"id": w, format!("col_{w}"): "v"}),
                )],
            );
            barrier.wait().await;
            // A failed invocation is retried, as Lambda does (s3s-fs can serve a torn read of
            // an object being overwritten; the SDK's checksum check turns it into an error).
            let mut retries = 0;
            loop {
                match reg.build(&sink, &event, &Config::default()).await {
                    Ok((batch, report)) => {
                        common::write_all(&sink, &batch).await.unwrap();
                        return (report.conflicts, retries);
                    }
                    Err(e) => {
                        eprintln!("writer {w}: invocation failed, retrying: {e}");
                        retries += 1;
                        assert!(retries < 5, "writer {w}: {e}");
                    }
                }
            }
        }));
    }
    let (mut conflicts, mut retries) = (0, 0);
    for t in tasks {
        let (c, r) = t.await.unwrap();
        conflicts += c;
        retries += r;
    }
    let (bytes, _) = Store::get(&sink, &registry_key(&t)).await.unwrap().unwrap();
    let doc = Registered::from_json(&bytes).unwrap();
    let names: Vec<&str> = doc.columns.iter().map(|c| c.name.as_str()).collect();
    for w in 0..writers {
        assert!(
            names.contains(&format!("col_{w}").as_str()),
            "col_{w} lost: {names:?}"
        );
    }
    assert!(names.contains(&"id"));
    assert!(conflicts + retries > 0, "the writers raced");
    println!("registry: {writers} concurrent writers, {conflicts} conditional-write conflicts redone, {retries} failed invocations retried, version {}", doc.version);
    // Every data file agrees with the registry on the types of the columns it holds.
    let registered: BTreeMap<&str, &str> = doc
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty.as_str()))
        .collect();
    for k in s3::list(&c, &bucket, "cdc/public/shared/").await {
        let b = read_parquet(s3::get(&c, &bucket, &k).await);
        for f in b
            .schema()
            .fields()
            .iter()
            .filter(|f| !f.name().starts_with("cdc_"))
        {
            let want: ColumnType = registered[f.name().as_str()].parse().unwrap();
            assert_eq!(f.data_type(), &want.arrow(), "{k}: {}", f.name());
        }
    }
}
