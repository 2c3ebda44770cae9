//! The Athena runner's orchestration against moto's Athena API (real aws-sdk-athena client,
//! real HTTP; moto runs no SQL and answers canned results): it reads the catalog with one
//! information_schema query, then runs, one at a time and each waited for, the statements that
//! bring that catalog up to date (a missing column added, the missing state table created, the
//! views replaced) and the MERGE, and reports per object.

use crate::common;

use aws_sdk_athena::config::{BehaviorVersion, Credentials, Region};
use cdc_sink::athena::runner::{self, Runner, RunnerSettings, SyncPlan};
use cdc_sink::athena::{self, DdlOptions, Window};
use cdc_sink::config::{Compression, Format, Partitioning};
use cdc_sink::schema::registry::Registered;
use common::servers::S3Server;
use serde_json::json;
use std::time::Duration;

fn client(endpoint: &str) -> aws_sdk_athena::Client {
    let conf = aws_sdk_athena::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "testtest", None, None, "test"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_athena::Client::from_conf(conf)
}

#[tokio::test]
async fn sync_reads_the_catalog_then_updates_it_and_merges_one_query_at_a_time() {
    let moto = common::require!(S3Server::start_moto());
    // The catalog as information_schema.columns returns it: the external table exists without
    // the column `note` the registry gained since; no state table yet.
    let row = |cells: &[&str]| json!({"Data": cells.iter().map(|c| json!({"VarCharValue": c})).collect::<Vec<_>>()});
    let mut rows = vec![row(&["table_name", "column_name", "data_type"])];
    for (c, t) in [
        ("id", "integer"),
        ("cdc_op", "varchar"),
        ("cdc_commit_ts", "timestamp(3)"),
        ("cdc_dms_ts", "timestamp(3)"),
        ("cdc_txn_id", "bigint"),
        ("cdc_txn_record_id", "bigint"),
        ("cdc_stream_position", "varchar"),
        ("cdc_shard", "varchar"),
        ("cdc_seq", "varchar"),
        ("cdc_arrival_ts", "timestamp(3)"),
        ("cdc_before", "varchar"),
        ("dt", "varchar"),
    ] {
        rows.push(row(&["public__orders", c, t]));
    }
    let http = reqwest_like_post(
        &format!("{}/moto-api/static/athena/query-results", moto.endpoint),
        &json!({"results": [{"rows": rows}]}).to_string(),
    );
    assert!(http.starts_with("HTTP/1.1 201"), "{http}");

    let doc = Registered::from_json(
        br#"{"schema":"public","table":"orders","version":2,"primary_key":["id"],"columns":[
        {"name":"id","type":"int","nullable":false,"source":"table-def"},
        {"name":"note","type":"string","nullable":true,"source":"table-def"}]}"#,
    )
    .unwrap();
    let o = DdlOptions {
        database: "cdc_lake".into(),
        location: "s3://lake/cdc".into(),
        layout: cdc_sink::config::Layout {
            format: Format::Parquet,
            compression: Compression::Snappy,
            partition: Partitioning::Day,
            ..cdc_sink::config::Layout::default()
        },
        since: "2020-01-01".into(),
    };
    let tables = athena::ddl(&[doc], &o).unwrap();
    let runner = Runner {
        client: client(&moto.endpoint),
        database: "cdc_lake".into(),
        settings: RunnerSettings {
            output_location: Some("s3://results/".into()),
            poll: Duration::from_millis(10),
            ..Default::default()
        },
    };
    let plan = SyncPlan {
        merge: Some(Window::Since("2025-11-01".into())),
        purge_days: Some(7),
        optimize: false,
        vacuum: false,
    };
    let reports = runner::sync(&runner, &tables, &o, &plan).await.unwrap();
    let objects: Vec<(&str, u32)> = reports
        .iter()
        .map(|r| (r.object.as_str(), r.statements))
        .collect();
    assert_eq!(
        objects,
        vec![
            ("cdc_lake", 1),
            ("public__orders", 1),
            ("public__orders_state", 3),
            ("public__orders_changes", 1),
            ("public__orders_current_history", 1),
            ("public__orders_current", 1),
        ]
    );
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");

    // What moto received, in order: the catalog query, then the plan.
    let listed = runner
        .client
        .list_query_executions()
        .work_group("primary")
        .send()
        .await
        .unwrap();
    let mut queries = Vec::new();
    for id in listed.query_execution_ids() {
        let q = runner
            .client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .unwrap();
        let q = q.query_execution().unwrap();
        assert_eq!(
            q.query_execution_context().unwrap().database(),
            Some("cdc_lake")
        );
        queries.push(q.query().unwrap_or_default().to_string());
    }
    let firsts: Vec<String> = queries
        .iter()
        .map(|q| {
            q.lines()
                .find(|l| !l.starts_with("--"))
                .unwrap_or_default()
                .chars()
                .take(60)
                .collect()
        })
        .collect();
    let has = |p: &str| queries.iter().any(|q| q.lines().any(|l| l.starts_with(p)));
    assert_eq!(queries.len(), 9, "{firsts:#?}");
    assert!(has(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
    ));
    assert!(has(
        "ALTER TABLE `cdc_lake`.`public__orders` ADD COLUMNS (`note` string)"
    ));
    assert!(has(
        "CREATE TABLE IF NOT EXISTS `cdc_lake`.`public__orders_state`"
    ));
    assert!(has("MERGE INTO \"cdc_lake\".\"public__orders_state\""));
    assert!(has("DELETE FROM \"cdc_lake\".\"public__orders_state\""));
    assert!(!has("CREATE EXTERNAL TABLE"), "the external table exists");
    println!(
        "athena runner (moto): {} queries, {} objects reported",
        queries.len(),
        reports.len()
    );
}

/// A bare HTTP POST (moto's control API; no HTTP client crate is a dependency).
fn reqwest_like_post(url: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
