//! Athena's view of the output, approximated by DuckDB and pyarrow (tests/py/read_lake.py):
//! each source table reads as one Hive-partitioned table with every row once.

use crate::common;

use cdc_sink::config::Config;
use cdc_sink::store::local::LocalDir;
use common::*;
use std::collections::BTreeMap;

#[tokio::test]
async fn duckdb_and_pyarrow_read_each_table_as_one_hive_partitioned_table() {
    let dir = tempfile::tempdir().unwrap();
    let batches = replay_all(&LocalDir::new(dir.path()), &Config::default(), "").await;
    let report: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(python_json("read_lake.py", &[dir.path().as_os_str()])).unwrap();

    // Expected rows and days per table, from the parquet crate's reading of the same files.
    let mut expected: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    for (key, rows) in parquet_rows(dir.path()) {
        let segs: Vec<&str> = key.split('/').collect();
        let e = expected
            .entry(format!("{}.{}", segs[0], segs[1]))
            .or_default();
        e.0 += rows.len() as u64;
        let dt = segs[2].trim_start_matches("dt=").to_string();
        if !e.1.contains(&dt) {
            e.1.push(dt);
        }
    }
    assert_eq!(
        report.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    let total_rows: u64 = batches.iter().map(|b| b.counts.rows()).sum();
    assert_eq!(expected.values().map(|e| e.0).sum::<u64>(), total_rows);
    for (table, (rows, mut days)) in expected {
        days.sort();
        let r = &report[&table];
        assert_eq!(r["rows"], rows, "{table}");
        assert_eq!(r["pyarrow_rows"], rows, "{table}");
        assert_eq!(r["distinct_changes"], rows, "{table}: every change once");
        assert_eq!(r["dt"], serde_json::json!(days), "{table}");
        assert_eq!(
            r["types"]["cdc_commit_ts"], "TIMESTAMP WITH TIME ZONE",
            "{table}"
        );
        assert_eq!(r["types"]["cdc_txn_id"], "BIGINT", "{table}");
        assert_eq!(r["types"]["dt"], "VARCHAR", "{table}");
    }
}
