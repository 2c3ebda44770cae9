//! CloudWatch Embedded Metric Format: one JSON line per invocation that CloudWatch Logs turns
//! into metrics, with no API calls from the function.

use crate::model::change::Counts;
use serde_json::json;

/// What one invocation did, for the summary log line and the metrics.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    /// The event's counts.
    pub counts: Counts,
    /// Time the handler took, in milliseconds.
    pub duration_ms: f64,
    /// Now minus the oldest arrival time in the batch.
    pub iterator_age_ms: Option<f64>,
    /// Time from the newest source commit in the batch to the end of its write: how far the
    /// lake is behind the source. `None` when no row carried a commit time (full load).
    pub freshness_ms: Option<f64>,
    /// True when the batch was reported as failed (to be retried).
    pub failed: bool,
    /// Time spent waiting for late table definitions (0 when the batch did not wait).
    pub table_def_wait_ms: f64,
    /// Tables whose types were inferred because no declaration came within the bound.
    pub inferred_without_declaration: u64,
}

/// The EMF document for one invocation (`timestamp_ms`: when the invocation ended).
pub fn emf(
    namespace: &str,
    function: &str,
    inv: &Invocation,
    timestamp_ms: u64,
) -> serde_json::Value {
    let c = &inv.counts;
    let counts = [
        ("Records", c.records),
        ("RowsLoad", c.load),
        ("RowsInsert", c.insert),
        ("RowsUpdate", c.update),
        ("RowsDelete", c.delete),
        ("Control", c.control),
        ("Skipped", c.skipped),
        ("Quarantined", c.quarantined),
        ("Warnings", c.warnings),
        ("Objects", c.objects),
        ("FailedBatches", u64::from(inv.failed)),
        (
            "InferredWithoutDeclaration",
            inv.inferred_without_declaration,
        ),
    ];
    let mut metrics = vec![
        json!({"Name": "Bytes", "Unit": "Bytes"}),
        json!({"Name": "Duration", "Unit": "Milliseconds"}),
    ];
    let mut doc = serde_json::Map::new();
    for (name, v) in counts {
        metrics.push(json!({"Name": name, "Unit": "Count"}));
        doc.insert(name.into(), json!(v));
    }
    doc.insert("Bytes".into(), json!(c.bytes));
    doc.insert("Duration".into(), json!(inv.duration_ms));
    metrics.push(json!({"Name": "TableDefWait", "Unit": "Milliseconds"}));
    doc.insert("TableDefWait".into(), json!(inv.table_def_wait_ms));
    if let Some(age) = inv.iterator_age_ms {
        metrics.push(json!({"Name": "IteratorAge", "Unit": "Milliseconds"}));
        doc.insert("IteratorAge".into(), json!(age));
    }
    if let Some(f) = inv.freshness_ms {
        metrics.push(json!({"Name": "Freshness", "Unit": "Milliseconds"}));
        doc.insert("Freshness".into(), json!(f));
    }
    doc.insert("FunctionName".into(), json!(function));
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [["FunctionName"]], "Metrics": metrics}]
        }),
    );
    serde_json::Value::Object(doc)
}

/// What one run of the compaction function did, for its metrics.
#[derive(Debug, Clone, Default)]
pub struct Compaction {
    /// Now minus the end of the oldest window that is past its close-after and still holds
    /// batch objects after the run; 0 when there is none (compaction keeps up).
    pub lag_ms: f64,
    /// Batch objects left under `_batches/` (windows still open, or left by a stop).
    pub backlog_objects: u64,
    /// Rows written to compacted objects.
    pub rows: u64,
    /// Batch objects compacted (and removed).
    pub objects: u64,
}

/// The EMF document of one compaction run (`timestamp_ms`: when it ended). Same namespace and
/// dimension as [`emf`]; `function` is the compaction function's name.
pub fn compaction_emf(
    namespace: &str,
    function: &str,
    c: &Compaction,
    timestamp_ms: u64,
) -> serde_json::Value {
    json!({
        "CompactionLag": c.lag_ms,
        "CompactionBacklogObjects": c.backlog_objects,
        "CompactedRows": c.rows,
        "CompactedObjects": c.objects,
        "FunctionName": function,
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [["FunctionName"]], "Metrics": [
                {"Name": "CompactionLag", "Unit": "Milliseconds"},
                {"Name": "CompactionBacklogObjects", "Unit": "Count"},
                {"Name": "CompactedRows", "Unit": "Count"},
                {"Name": "CompactedObjects", "Unit": "Count"},
            ]}]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_compaction_metric_has_a_value() {
        let c = Compaction {
            lag_ms: 7_200_000.0,
            backlog_objects: 12,
            rows: 340,
            objects: 8,
        };
        let d = compaction_emf("cdc-sink", "fn-compact", &c, 1);
        let defs = d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert_eq!(defs.len(), 4);
        for m in defs {
            assert!(d[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
        assert_eq!(d["CompactionLag"], 7_200_000.0);
        assert_eq!(d["FunctionName"], "fn-compact");
    }

    #[test]
    fn every_metric_has_a_value() {
        let inv = Invocation {
            counts: Counts {
                records: 3,
                insert: 2,
                quarantined: 1,
                ..Counts::default()
            },
            duration_ms: 1.5,
            iterator_age_ms: Some(20.0),
            freshness_ms: Some(1500.0),
            failed: false,
            ..Invocation::default()
        };
        let d = emf("cdc-sink", "fn", &inv, 1);
        let defs = d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        // 16 as on main, plus Freshness.
        assert_eq!(defs.len(), 17);
        for m in defs {
            assert!(d[m["Name"].as_str().unwrap()].is_number(), "{m}");
        }
        assert_eq!(d["Records"], 3);
        assert_eq!(d["RowsInsert"], 2);
        assert_eq!(d["Freshness"], 1500.0);
        // Without a commit time (full load) there is no freshness value, not a zero.
        let d = emf("cdc-sink", "fn", &Invocation::default(), 1);
        assert!(d.get("Freshness").is_none());
    }
}
