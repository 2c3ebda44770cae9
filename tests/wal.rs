//! A real PostgreSQL 15's WAL, decoded by its `test_decoding` plugin (what DMS reads), rendered
//! as DMS messages by tests/common/wal.rs and replayed into a lake: inserts, a plain update, a
//! primary-key change, a delete and an update that leaves a TOASTed column untouched.

use crate::common;

use common::servers;
use common::*;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

const TABLE: &str = "
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN money2 AS numeric(10,2);
CREATE DOMAIN price AS money2;
CREATE TABLE t (id int4 PRIMARY KEY, body text, exact numeric(12,3), unbounded numeric,
  real8 float8, flag bool, raw bytea, at timestamp, at_tz timestamptz, day date, docb jsonb,
  ints int4[], uid uuid, qty posint, cost price, note text);
ALTER TABLE t ALTER COLUMN body SET STORAGE EXTERNAL;
CREATE TABLE \"Full\" (k text PRIMARY KEY, v int8);
ALTER TABLE \"Full\" REPLICA IDENTITY FULL;
";

/// One transaction per statement group; the first inserts three rows.
const WORKLOAD: &[&str] = &[
    "INSERT INTO t VALUES
      (1, 'it''s', 1234.5, 12345678901234567890.123456789, 2.718281828459045, true,
       '\\x80057d942e', '2025-11-03 08:15:02.104233', '2025-11-03 23:59:59.999999+02',
       '2025-11-03', '{\"tier\": \"gold\", \"n\": 1.50}', '{1,2,3}',
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 5, 19.99, 'first'),
      (2, E'tab\\t \"quote\" newline\\n', -999999999.999, 0.0000005, 'NaN', false, '\\x',
       '2000-01-01 00:00:00', '1969-07-20 20:17:40.5+00', '1900-02-28', '[]', '{}',
       '00000000-0000-0000-0000-000000000000', 2147483647, -0.01, NULL),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
    "UPDATE t SET note = 'second', exact = 0.001 WHERE id = 1",
    "UPDATE t SET id = 20 WHERE id = 2",
    "DELETE FROM t WHERE id = 3",
    "INSERT INTO t (id, body, note) VALUES (4, repeat('x', 100000), 'big')",
    "UPDATE t SET note = 'body untouched' WHERE id = 4",
    "INSERT INTO \"Full\" VALUES ('a', 9223372036854775807)",
    "UPDATE \"Full\" SET v = -1",
];

/// A message's parts: `data` and `before-image` as raw JSON text per column (numbers exactly as
/// written), and `metadata` as a Value.
struct Msg {
    data: HashMap<String, String>,
    before: Option<HashMap<String, String>>,
    meta: Value,
}

fn split(m: &str) -> Msg {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        data: HashMap<String, &'a RawValue>,
        #[serde(rename = "before-image", borrow)]
        before: Option<HashMap<String, &'a RawValue>>,
        metadata: Value,
    }
    let r: Raw = serde_json::from_str(m).unwrap_or_else(|e| panic!("{e}: {m}"));
    let text = |h: HashMap<String, &RawValue>| {
        h.into_iter()
            .map(|(k, v)| (k, v.get().to_string()))
            .collect::<HashMap<_, _>>()
    };
    Msg {
        data: text(r.data),
        before: r.before.map(text),
        meta: r.metadata,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_decodes_into_the_events_dms_would_send() {
    let t0 = Instant::now();
    let pg = require!(servers::postgres());
    let admin = pg.client("postgres").await;
    let level: String = admin.query_one("SHOW wal_level", &[]).await.unwrap().get(0);
    if level != "logical" {
        skip(&format!(
            "the PostgreSQL server runs with wal_level={level}, logical decoding needs logical"
        ));
        return;
    }
    let db = format!("cdc_wal_{}", std::process::id());
    let slot = format!("cdc_wal_{}", std::process::id());
    admin
        .execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap();
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let client = pg.client(&db).await;
    client.batch_execute(TABLE).await.unwrap();

    wal::create_slot(&client, &slot).await;
    for sql in WORKLOAD {
        client.batch_execute(sql).await.unwrap();
    }
    let messages = wal::drain_as_dms(&client, &slot).await;
    assert!(
        wal::drain_as_dms(&client, &slot).await.is_empty(),
        "drained"
    );
    wal::drop_slot(&client, &slot).await;

    let m: Vec<Msg> = messages.iter().map(|s| split(s)).collect();
    let ops: Vec<&str> = m
        .iter()
        .map(|x| x.meta["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "insert", "insert", "insert", "update", "update", "delete", "insert", "update",
            "insert", "update"
        ],
        "{messages:#?}"
    );

    // Metadata: one transaction for the first three rows, counted from 1, chained.
    for (i, x) in m.iter().enumerate() {
        let meta = &x.meta;
        assert_eq!(meta["record-type"], "data");
        assert_eq!(meta["partition-key-type"], "schema-table");
        let table = if i < 8 { "t" } else { "Full" };
        assert_eq!(
            (&meta["schema-name"], &meta["table-name"]),
            (&json!("public"), &json!(table))
        );
        assert!(meta["transaction-id"].is_u64(), "{meta}");
        let ts = meta["commit-timestamp"].as_str().unwrap();
        assert!(
            ts.len() == 27 && ts.ends_with('Z') && &ts[10..11] == "T",
            "{ts}"
        );
        assert_eq!(meta["timestamp"], meta["commit-timestamp"]);
        assert!(meta["stream-position"].as_str().unwrap().contains(".2."));
        if i == 0 {
            assert!(meta.get("prev-transaction-id").is_none());
        } else {
            assert_eq!(meta["prev-transaction-id"], m[i - 1].meta["transaction-id"]);
            assert_eq!(
                meta["prev-transaction-record-id"],
                m[i - 1].meta["transaction-record-id"]
            );
        }
    }
    let rec: Vec<u64> = m
        .iter()
        .map(|x| x.meta["transaction-record-id"].as_u64().unwrap())
        .collect();
    assert_eq!(rec, [1, 2, 3, 1, 1, 1, 1, 1, 1, 1]);
    assert_eq!(m[0].meta["transaction-id"], m[2].meta["transaction-id"]);
    assert_ne!(m[2].meta["transaction-id"], m[3].meta["transaction-id"]);

    // Values as DMS renders them: numbers exactly as PostgreSQL printed them.
    let d = &m[0].data;
    let want = [
        ("id", "1"),
        ("body", r#""it's""#),
        ("exact", "1234.500"),
        ("unbounded", "12345678901234567890.123457"),
        ("real8", "2.718281828459045"),
        ("flag", "true"),
        ("raw", r#""0x80057D942E""#),
        ("at", r#""2025-11-03T08:15:02.104233Z""#),
        ("at_tz", r#""2025-11-03T21:59:59.999999Z""#),
        ("day", r#""2025-11-03""#),
        ("docb", r#""{\"n\": 1.50, \"tier\": \"gold\"}""#),
        ("ints", r#""{1,2,3}""#),
        ("uid", r#""a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11""#),
        ("qty", "5"),
        ("cost", "19.99"),
        ("note", r#""first""#),
    ];
    for (k, v) in want {
        assert_eq!(d[k], v, "row 1 column {k}");
    }
    assert_eq!(d.len(), want.len());
    let d = &m[1].data;
    for (k, v) in [
        ("body", r#""tab\t \"quote\" newline\n""#),
        ("exact", "-999999999.999"),
        ("unbounded", "0.000001"),
        ("real8", r#""NaN""#),
        ("flag", "false"),
        ("raw", r#""0x""#),
        ("at", r#""2000-01-01T00:00:00Z""#),
        ("at_tz", r#""1969-07-20T20:17:40.500000Z""#),
        ("day", r#""1900-02-28""#),
        ("ints", r#""{}""#),
        ("qty", "2147483647"),
        ("cost", "-0.01"),
        ("note", "null"),
    ] {
        assert_eq!(d[k], v, "row 2 column {k}");
    }
    assert!(
        m[2].data.iter().all(|(k, v)| k == "id" || v == "null"),
        "NULLs are explicit: {:?}",
        m[2].data
    );
    assert_eq!(m[2].data.len(), 16);
    assert!(m[..3].iter().all(|x| x.before.is_none()));

    // An update that kept its key: the full new row, an empty before-image.
    assert_eq!(m[3].before.as_ref().unwrap().len(), 0);
    assert_eq!(
        (m[3].data["exact"].as_str(), m[3].data.len()),
        ("0.001", 16)
    );
    assert_eq!(m[3].data["note"], r#""second""#);
    // A key change: the old key in the before-image.
    assert_eq!(m[4].data["id"], "20");
    assert_eq!(
        m[4].before.as_ref().unwrap(),
        &HashMap::from([("id".to_string(), "2".to_string())])
    );
    assert_eq!(m[4].data["unbounded"], "0.000001");
    // A delete: the key, the rest null.
    assert_eq!(m[5].data["id"], "3");
    assert!(m[5].data.iter().all(|(k, v)| k == "id" || v == "null"));
    assert_eq!(m[5].data.len(), 16);
    // TOAST: the insert carries the whole value; the update that left it alone does not.
    assert_eq!(m[6].data["body"].len(), 100_002);
    assert!(
        !m[7].data.contains_key("body"),
        "an unchanged TOAST value is absent: {:?}",
        m[7].data.keys()
    );
    assert_eq!(m[7].data["note"], r#""body untouched""#);
    assert_eq!(m[7].data.len(), 15);
    // REPLICA IDENTITY FULL: test_decoding gives the whole old row; the before-image keeps the
    // key (ColumnFilter pk-only). A quoted table name; bigint verbatim.
    assert_eq!(m[8].data["v"], "9223372036854775807");
    assert_eq!(
        m[9].before.as_ref().unwrap(),
        &HashMap::from([("k".to_string(), r#""a""#.to_string())])
    );
    assert_eq!(m[9].data["v"], "-1");

    // Replayed into a lake whose types `schema import` declared: nothing quarantined.
    let lake = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(pg
        .cdc_sink()
        .args(["schema", "import", "--schema", "public", "--source"])
        .arg(pg.url(&db))
        .arg("--out")
        .arg(lake.path()));
    assert!(ok, "{err}");
    assert!(out.contains("public.t (v1)"), "{out}");
    assert!(out.contains("public.Full (v1)"), "{out}");
    let events = tempfile::tempdir().unwrap();
    let files = wal::write_events(events.path(), &messages, 3);
    assert_eq!(files.len(), 4);
    let (ok, out, err) = run(pg
        .cdc_sink()
        .args(["replay", "--out"])
        .arg(lake.path())
        .args(&files));
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("total: 4 files, 10 records"), "{out}\n{err}");
    assert!(out.contains("I=5 U=4 D=1"), "{out}\n{err}");
    assert!(out.contains("quarantined 0"), "{out}\n{err}");
    assert!(!err.contains("deferred"), "declared by the import: {err}");
    println!(
        "wal: {} messages from test_decoding replayed, quarantined 0; {:.1} s",
        messages.len(),
        t0.elapsed().as_secs_f64()
    );
    drop(client);
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .await
        .unwrap();
}
