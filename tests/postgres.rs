//! `cdc-sink schema import` against a real PostgreSQL 15, then a DMS workload rendered from the
//! same rows through the pipeline: every value in the lake equals what PostgreSQL holds, read
//! back with the Parquet reader and with DuckDB.
//!
//! The server: `CDC_TEST_PG_URL` (a postgres:// URL; password in `PGPASSWORD`) if set,
//! otherwise one started by tests/common/servers.rs on 127.0.0.1 (PostgreSQL 15 from
//! `/usr/lib/postgresql/15/bin`, or `CDC_TEST_PG_BIN`), with a temporary data directory owned
//! by the postgres user, password authentication and TLS (a throwaway CA), stopped at the end.

use crate::common;

use arrow::array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array,
    Int64Array, StringArray, TimestampMicrosecondArray,
};
use base64::Engine;
use cdc_sink::schema::registry::Registered;
use cdc_sink::schema::TypeSource;
use common::servers;
use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Instant;

/// (column, declaration, registered type, canonical kind, DMS rendering, PostgreSQL's value in
/// canonical form). The DMS rendering follows what DMS sends for a PostgreSQL source
/// (IncludeNullAndEmpty, UseLargeIntegerValue): see the project's dms-format notes.
pub(crate) const COLUMNS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("id", "int4 PRIMARY KEY", "int", "int", "id", "id"),
    ("small", "int2", "int", "int", "small", "small"),
    ("big", "int8", "bigint", "int", "big", "big"),
    (
        "exact",
        "numeric(12,3)",
        "decimal(12,3)",
        "decimal",
        "exact",
        "exact::text",
    ),
    (
        "unbounded",
        "numeric",
        "decimal(38,6)",
        "decimal",
        "round(unbounded, 6)",
        "round(unbounded, 6)::text",
    ),
    (
        "real4",
        "float4",
        "double",
        "double",
        "real4",
        "real4::text::float8",
    ),
    ("real8", "float8", "double", "double", "real8", "real8"),
    (
        "flag",
        "bool",
        "boolean",
        "bool",
        "CASE WHEN flag THEN 't' WHEN NOT flag THEN 'f' END",
        "flag",
    ),
    ("body", "text", "string", "string", "body", "body"),
    ("label", "varchar(20)", "string", "string", "label", "label"),
    ("code", "char(3)", "string", "string", "code", "code"),
    (
        "day",
        "date",
        "date",
        "date",
        "day::text",
        "day - DATE '1970-01-01'",
    ),
    (
        "at_time",
        "time",
        "string",
        "string",
        "at_time::text",
        "at_time::text",
    ),
    (
        "at",
        "timestamp",
        "timestamp",
        "ts",
        "to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        "(extract(epoch FROM at) * 1000000)::int8",
    ),
    (
        "at_tz",
        "timestamptz",
        "timestamp",
        "ts",
        "to_char(at_tz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        "(extract(epoch FROM at_tz) * 1000000)::int8",
    ),
    (
        "span",
        "interval",
        "string",
        "string",
        "span::text",
        "span::text",
    ),
    ("uid", "uuid", "string", "string", "uid::text", "uid::text"),
    ("doc", "json", "string", "string", "doc::text", "doc::text"),
    (
        "docb",
        "jsonb",
        "string",
        "string",
        "docb::text",
        "docb::text",
    ),
    (
        "raw",
        "bytea",
        "binary",
        "binary",
        "'0x' || upper(encode(raw, 'hex'))",
        "upper(encode(raw, 'hex'))",
    ),
    (
        "ints",
        "int4[]",
        "string",
        "string",
        "ints::text",
        "ints::text",
    ),
    (
        "tags",
        "text[]",
        "string",
        "string",
        "tags::text",
        "tags::text",
    ),
    (
        "feeling",
        "mood",
        "string",
        "string",
        "feeling::text",
        "feeling::text",
    ),
    ("qty", "posint", "int", "int", "qty", "qty"),
    (
        "cost",
        "price",
        "decimal(10,2)",
        "decimal",
        "cost",
        "cost::text",
    ),
    (
        "spot",
        "point",
        "string",
        "string",
        "spot::text",
        "spot::text",
    ),
];

pub(crate) const SETUP: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN money2 AS numeric(10,2);
CREATE DOMAIN price AS money2;
CREATE TABLE other (k text PRIMARY KEY, n int8 NOT NULL, w int4);
";

pub(crate) const ROWS: &str = "
INSERT INTO every_type VALUES
 (1, 7, 42, 1234.5, 3.14159265358979, 3.14, 2.718281828459045, true, 'Chloé Martin', 'gold', 'ab',
  '2025-11-03', '08:15:02.104233', '2025-11-03 08:15:02.104233', '2025-11-03 23:59:59.999999+02',
  '1 day 02:03:04', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"tier\": \"gold\", \"since\": 2021}',
  '{\"b\": [1, 2], \"a\": null}', '\\x80057d942e', '{1,2,3}', '{a,\"b c\"}', 'happy', 5, 19.99, '(1,2)'),
 (2, -32768, 9223372036854775807, -999999999.999, 12345678901234567890.123456789, -1.5e-7, 1e300,
  false, E'quote \" tab\\t newline\\n and ''apostrophe''', '', 'x', '1900-02-28', '00:00:00',
  '1969-07-20 20:17:40.5', '2038-01-19 03:14:08+00', '-1 mons +2 days -00:00:01',
  '00000000-0000-0000-0000-000000000000', '[1, 2.50, \"x\"]', '{}', '\\x00ff10', '{}', '{\"a,b\",NULL}',
  'sad', 1, -0.01, '(0.5,-1)'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, -1, 0, 0, 0, -0.25, true, '李雷', 'tab', 'abc', '2000-02-29', '23:59:59.999999',
  '2000-01-01 00:00:00', '1970-01-01 00:00:00+00', '0 seconds', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'null', '[]', '\\x', '{{1,2},{3,4}}', '{\"\"}', 'ok', 2147483647, 99999999.99, '(0,0)');
";

fn output(c: &mut Command) -> (bool, String, String) {
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A cell of the lake read with the parquet crate, in the canonical form of `kind`.
fn canonical_cell(col: &dyn Array, i: usize, kind: &str) -> Value {
    if col.is_null(i) {
        return Value::Null;
    }
    let any = col.as_any();
    match kind {
        "int" => match (
            any.downcast_ref::<Int32Array>(),
            any.downcast_ref::<Int64Array>(),
        ) {
            (Some(a), _) => json!(a.value(i)),
            (_, Some(a)) => json!(a.value(i)),
            _ => panic!("not an integer column: {:?}", col.data_type()),
        },
        "decimal" => json!(any
            .downcast_ref::<Decimal128Array>()
            .unwrap()
            .value_as_string(i)),
        "double" => json!(any.downcast_ref::<Float64Array>().unwrap().value(i)),
        "bool" => json!(any.downcast_ref::<BooleanArray>().unwrap().value(i)),
        "date" => json!(any.downcast_ref::<Date32Array>().unwrap().value(i)),
        "ts" => json!(any
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .value(i)),
        "string" => json!(any.downcast_ref::<StringArray>().unwrap().value(i)),
        "binary" => json!(any
            .downcast_ref::<BinaryArray>()
            .unwrap()
            .value(i)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()),
        other => panic!("kind {other}"),
    }
}

/// Numbers compared as numbers (1 and 1.0 are the same double).
fn norm(kind: &str, v: &Value) -> Value {
    match (kind, v) {
        ("double", Value::Number(n)) => json!(n.as_f64()),
        ("int", Value::Number(n)) => json!(n.as_i64()),
        _ => v.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_types_round_trip_through_import_and_the_lake() {
    let t0 = Instant::now();
    let pg = require!(servers::postgres());
    let admin = pg.client("postgres").await;
    let db = format!("cdc_types_{}", std::process::id());
    for sql in [
        format!("DROP DATABASE IF EXISTS {db}"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).await.unwrap();
    }
    let client = pg.client(&db).await;
    let cols: Vec<String> = COLUMNS.iter().map(|c| format!("{} {}", c.0, c.1)).collect();
    client
        .batch_execute(&format!(
            "{SETUP} CREATE TABLE every_type ({}); {ROWS}",
            cols.join(", ")
        ))
        .await
        .unwrap();

    // 1. schema import registers the declared types.
    let lake = tempfile::tempdir().unwrap();
    let (ok, out, err) = output(
        pg.cdc_sink()
            .args(["schema", "import", "--schema", "public", "--source"])
            .arg(pg.url(&db))
            .arg("--out")
            .arg(lake.path()),
    );
    assert!(ok, "{err}");
    assert!(out.contains("public.every_type (v1)"), "{out}");
    assert!(
        out.contains("public.other (v1): k string, n bigint, w int"),
        "{out}"
    );
    assert!(
        err.contains("spot: type point has no exact lake type; kept as string"),
        "{err}"
    );
    assert!(err.contains("numeric without precision"), "{err}");
    let doc = Registered::from_json(
        &std::fs::read(lake.path().join("_schemas/public/every_type.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc.primary_key, ["id"]);
    let registered: Vec<(&str, &str)> = doc
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.ty.as_str()))
        .collect();
    let expected: Vec<(&str, &str)> = COLUMNS.iter().map(|c| (c.0, c.2)).collect();
    assert_eq!(registered, expected);
    assert!(doc.columns.iter().all(|c| c.source == TypeSource::Catalog));
    assert!(!doc.columns[0].nullable && doc.columns[1].nullable);

    // Re-running is safe; an incompatible change is pending, a widening applies.
    client
        .batch_execute("ALTER TABLE other ALTER COLUMN n TYPE text, ALTER COLUMN w TYPE int8")
        .await
        .unwrap();
    let (ok, out, err) = output(
        pg.cdc_sink()
            .args([
                "schema",
                "import",
                "--table",
                "public.other",
                "--table",
                "public.every_type",
                "--source",
            ])
            .arg(pg.url(&db))
            .arg("--out")
            .arg(lake.path()),
    );
    assert!(ok, "{err}");
    assert!(out.contains("public.every_type (unchanged)"), "{out}");
    assert!(
        out.contains("public.other (v2): k string, n bigint, w bigint"),
        "{out}"
    );
    assert!(
        err.contains("catalog declares column n as string but it is registered as bigint"),
        "{err}"
    );
    assert!(err.contains("--accept-pending"), "{err}");
    let (ok, _, err) = output(
        pg.cdc_sink()
            .args(["schema", "set", "public.other", "--accept-pending", "--out"])
            .arg(lake.path()),
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("Files already written keep their old types"),
        "{err}"
    );
    let other = Registered::from_json(
        &std::fs::read(lake.path().join("_schemas/public/other.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (other.columns[1].ty.as_str(), other.pending.len()),
        ("string", 0)
    );

    // TLS: verify-full against the server's CA (by IP and by name), require without a CA; a
    // wrong CA is refused.
    if let (Some(ca), Some(other_ca)) = (&pg.ca, &pg.other_ca) {
        for host in ["127.0.0.1", "localhost"] {
            let url = format!(
                "postgres://{}@{host}:{}/{db}?sslmode=verify-full&sslrootcert={}",
                pg.user,
                pg.port,
                ca.display()
            );
            let (ok, _, err) = output(
                pg.cdc_sink()
                    .args([
                        "schema",
                        "import",
                        "--table",
                        "public.other",
                        "--source",
                        &url,
                        "--out",
                    ])
                    .arg(lake.path()),
            );
            assert!(ok, "{url}: {err}");
        }
        let (ok, _, err) = output(
            pg.cdc_sink()
                .env("PGSSLMODE", "require")
                .args(["schema", "import", "--table", "public.other", "--source"])
                .arg(pg.url(&db))
                .arg("--out")
                .arg(lake.path()),
        );
        assert!(ok, "require: {err}");
        let (ok, _, err) = output(
            pg.cdc_sink()
                .env("PGSSLMODE", "verify-ca")
                .env("PGSSLROOTCERT", other_ca)
                .args(["schema", "import", "--table", "public.other", "--source"])
                .arg(pg.url(&db))
                .arg("--out")
                .arg(lake.path()),
        );
        assert!(!ok, "an untrusted certificate is refused");
        assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    }
    // A wrong password names the problem.
    let (ok, _, err) = output(
        pg.cdc_sink()
            .env("PGPASSWORD", "wrong")
            .args(["schema", "import", "--source"])
            .arg(pg.url(&db))
            .arg("--out")
            .arg(lake.path()),
    );
    assert!(!ok);
    assert!(err.contains("PGPASSWORD"), "{err}");

    // 2. A DMS full load of the same rows, as DMS renders them (NULLs as JSON null for odd
    // ids, omitted for even ones), then a CDC insert.
    let dms_cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("'{}', {}", c.0, c.4))
        .collect();
    // The JSON text goes into the message as PostgreSQL wrote it (a serde_json::Value would
    // round numerics through f64).
    let rendered = client
        .query(
            &format!(
                "SELECT id, CASE WHEN id % 2 = 0 THEN json_strip_nulls(j) ELSE j END::text
                 FROM (SELECT id, json_build_object({}) AS j FROM every_type) r ORDER BY id",
                dms_cols.join(", ")
            ),
            &[],
        )
        .await
        .unwrap();
    let mut records = Vec::new();
    for (i, r) in rendered.iter().enumerate() {
        let id: i32 = r.get(0);
        let data: &str = r.get(1);
        let mut meta = dms_row(
            if id == 4 { "insert" } else { "load" },
            "public",
            "every_type",
            json!({}),
        )["metadata"]
            .clone();
        meta["transaction-id"] = json!(100 + i);
        let msg = format!("{{\"data\": {data}, \"metadata\": {meta}}}");
        let seq = format!("4966{:052}", i + 1);
        records.push(json!({
            "kinesis": {"partitionKey": "public.every_type", "sequenceNumber": seq,
                "data": base64::engine::general_purpose::STANDARD.encode(msg),
                "approximateArrivalTimestamp": 1_762_157_702.0},
            "eventSource": "aws:kinesis", "eventID": format!("shardId-000000000000:{seq}"),
        }));
    }
    let events = tempfile::tempdir().unwrap();
    let event = events.path().join("every_type.json");
    std::fs::write(&event, json!({ "Records": records }).to_string()).unwrap();
    let (ok, out, err) = output(
        pg.cdc_sink()
            .args(["replay", "--out"])
            .arg(lake.path())
            .arg(&event),
    );
    assert!(ok, "{err}");
    assert!(out.contains("quarantined 0"), "{out}\n{err}");
    assert!(!err.contains("deferred"), "declared by the import: {err}");

    // 3. What PostgreSQL holds, canonical.
    let want_cols: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("'{}', {}", c.0, c.5))
        .collect();
    let want: Vec<Value> = client
        .query(
            &format!(
                "SELECT json_build_object({})::text FROM every_type ORDER BY id",
                want_cols.join(", ")
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r.get::<_, &str>(0)).unwrap())
        .collect();

    // 4a. The Parquet reader.
    let table_dir = lake.path().join("public/every_type");
    let mut got: Vec<(i32, Value)> = Vec::new();
    for k in files(&table_dir)
        .into_iter()
        .filter(|k| k.ends_with(".parquet"))
    {
        let b = read_parquet(std::fs::read(table_dir.join(&k)).unwrap());
        for (name, _, ty, _, _, _) in COLUMNS {
            let want_ty: cdc_sink::schema::ColumnType = ty.parse().unwrap();
            assert_eq!(
                column(&b, name).data_type(),
                &want_ty.arrow(),
                "{k}: {name}"
            );
        }
        for i in 0..b.num_rows() {
            let mut row = serde_json::Map::new();
            for (name, _, _, kind, _, _) in COLUMNS {
                row.insert(name.to_string(), canonical_cell(column(&b, name), i, kind));
            }
            got.push((row["id"].as_i64().unwrap() as i32, Value::Object(row)));
        }
    }
    got.sort_by_key(|(id, _)| *id);
    assert_eq!(got.len(), want.len());
    let mut cells = 0;
    for ((_, g), w) in got.iter().zip(&want) {
        for (name, _, _, kind, _, _) in COLUMNS {
            assert_eq!(
                norm(kind, &g[*name]),
                norm(kind, &w[*name]),
                "parquet: id {} column {name}",
                w["id"]
            );
            cells += 1;
        }
    }

    // 4b. DuckDB, as Athena would read the table.
    let spec: serde_json::Map<String, Value> = COLUMNS
        .iter()
        .map(|c| (c.0.to_string(), json!(c.3)))
        .collect();
    let duck = python_json(
        "canonical_rows.py",
        &[
            table_dir.as_os_str(),
            std::ffi::OsStr::new(&Value::Object(spec).to_string()),
        ],
    );
    let duck_rows = duck["rows"].as_array().unwrap();
    assert_eq!(duck_rows.len(), want.len());
    for (d, w) in duck_rows.iter().zip(&want) {
        for (name, _, _, kind, _, _) in COLUMNS {
            assert_eq!(
                norm(kind, &d[*name]),
                norm(kind, &w[*name]),
                "duckdb: id {} column {name}",
                w["id"]
            );
        }
    }
    println!(
        "postgres types: {} columns of {} PostgreSQL types imported as declared; {} rows, {cells} values equal to PostgreSQL's via the Parquet reader and DuckDB; TLS verify-full/require checked: {}; {:.1} s",
        COLUMNS.len(),
        COLUMNS.len(),
        want.len(),
        pg.ca.is_some(),
        t0.elapsed().as_secs_f64()
    );
    drop(client);
    drop(admin);
}
