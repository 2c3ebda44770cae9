//! The README stays true: its configuration table, .env.example and the code agree, and the
//! quick start's sample output is what the pipeline prints.

use crate::common;

use cdc_sink::config::env;
use common::*;
use std::collections::{BTreeMap, BTreeSet};

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

#[test]
fn configuration_table_env_example_and_code_agree() {
    let example: BTreeSet<String> = read(".env.example")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let readme = read("README.md");
    let table: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(k, _)| k.to_string()))
        .filter(|k| {
            k.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        })
        .collect();
    let code: BTreeSet<String> = env::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(example, code, ".env.example vs config::env::ALL");
    assert_eq!(
        table, code,
        "README configuration table vs config::env::ALL"
    );
    // The template sets the variables it passes from parameters.
    let template = read("template.yaml");
    for v in [
        env::BUCKET,
        env::PREFIX,
        env::FORMAT,
        env::COMPRESSION,
        env::PARTITION,
        env::PARTITION_TIME,
        env::OBJECTS,
        env::BEFORE_IMAGE_KEY,
        env::KMS_KEY_ID,
        env::COMPACT_WINDOW_HOURS,
    ] {
        assert!(
            template.contains(&format!("{v}:")),
            "template.yaml does not set {v}"
        );
    }
}

#[tokio::test]
async fn quick_start_output_in_the_readme_is_what_replay_prints() {
    // The quick start replays the sample full load (whose create-table records declare the
    // types) and then the changes, as `replay` does: through the schema registry.
    let dir = tempfile::tempdir().unwrap();
    let names = ["full_load.json", "kinesis_test_input.json"];
    let events: Vec<Vec<u8>> = names.iter().map(|n| sample_bytes(n)).collect();
    let batches = replay_registered(dir.path(), &events).await;
    for (name, b) in names.iter().zip(&batches) {
        let line = format!(
            "test-input/{name}: {}",
            cdc_sink::ingest::replay::describe(&b.counts)
        );
        assert!(
            read("README.md").contains(&line),
            "README quick start should show:\n{line}"
        );
    }
    let command = "cargo run --release -- replay test-input/full_load.json test-input/kinesis_test_input.json --out out/";
    assert!(read("README.md").contains(command));
    assert!(
        read("tests/run.sh").contains(command),
        "tests/run.sh runs the quick start"
    );
}

#[test]
fn the_recover_and_redrive_commands_in_the_readme_run_in_ci() {
    let readme = read("README.md");
    let run = read("tests/run.sh");
    let commands: Vec<&str> = readme
        .lines()
        .filter(|l| {
            l.starts_with("cargo run --release -- recover")
                || l.starts_with("cargo run --release -- redrive")
        })
        .collect();
    assert!(commands.len() >= 6, "{commands:?}");
    for c in commands {
        assert!(
            run.lines().any(|l| l.trim() == c),
            "tests/run.sh does not run the README command:\n{c}"
        );
    }
}

/// The dashboard's widgets (template.yaml) show every metric the issue asks for, and only
/// metrics the function emits (the names of `metrics::emf`).
#[test]
fn the_dashboard_shows_the_metrics_the_function_emits() {
    use cdc_sink::ingest::metrics::{compaction_emf, emf, Compaction, Invocation};
    let template = read("template.yaml");
    let start = template
        .find("DashboardBody: !Sub")
        .expect("template.yaml has a dashboard");
    let body: String = template[start..]
        .lines()
        .skip(2)
        .take_while(|l| !l.trim_start().starts_with("- Fn:"))
        .collect::<Vec<_>>()
        .join("\n");
    // Fill the !Sub placeholders, then the body must be JSON.
    let mut json = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("${") {
        json.push_str(&rest[..i]);
        let end = rest[i..].find('}').unwrap();
        json.push('x');
        rest = &rest[i + end + 1..];
    }
    json.push_str(rest);
    let doc: serde_json::Value = serde_json::from_str(&json).expect("DashboardBody is JSON");
    let mut shown = BTreeSet::new();
    for w in doc["widgets"].as_array().unwrap() {
        let mut prev: Vec<serde_json::Value> = Vec::new();
        for m in w["properties"]["metrics"].as_array().into_iter().flatten() {
            let row = m.as_array().unwrap();
            let mut cur = if row.first().and_then(|v| v.as_str()) == Some("...") {
                prev.clone()
            } else {
                row.iter().filter(|v| !v.is_object()).cloned().collect()
            };
            for (i, v) in cur.iter_mut().enumerate() {
                if v == "." {
                    *v = prev[i].clone();
                }
            }
            if cur[0] == "cdc-sink" {
                shown.insert(cur[1].as_str().unwrap().to_string());
            }
            prev = cur;
        }
    }
    let full = Invocation {
        iterator_age_ms: Some(1.0),
        freshness_ms: Some(1.0),
        ..Invocation::default()
    };
    // The ingest function's metrics and the compaction function's.
    let emitted: BTreeSet<String> = [
        emf("cdc-sink", "f", &full, 0),
        compaction_emf("cdc-sink", "f", &Compaction::default(), 0),
    ]
    .iter()
    .flat_map(|d| {
        d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    })
    .collect();
    assert!(
        shown.is_subset(&emitted),
        "not emitted: {:?}",
        shown.difference(&emitted)
    );
    for wanted in [
        "RowsLoad",
        "RowsInsert",
        "RowsUpdate",
        "RowsDelete",
        "Quarantined",
        "FailedBatches",
        "IteratorAge",
        "Freshness",
        "Duration",
        "Objects",
        "Bytes",
        "CompactionLag",
        "CompactionBacklogObjects",
    ] {
        assert!(shown.contains(wanted), "the dashboard lacks {wanted}");
    }
}

/// The template's resources, by logical id, each as its block of text.
fn resources(template: &str) -> BTreeMap<String, String> {
    let start = template
        .find("\nResources:\n")
        .expect("a Resources section");
    let end = template.find("\nOutputs:\n").expect("an Outputs section");
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in template[start..end].lines().skip(2) {
        let top = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with([' ', '#']));
        if let Some(name) = top.and_then(|l| l.strip_suffix(':')) {
            current = Some(name.to_string());
        }
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(name) = &current {
            let block = out.entry(name.clone()).or_default();
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

/// Objects per batch in the template: every writer and the Athena job get `CDC_OBJECTS` from
/// the `Objects` parameter; the compaction function, its role, log group and alarms exist only
/// with `Objects=batch`; its role removes nothing but batch objects and the compactor's lease
/// (the keys of `lake::keys`), and lists only under the prefix; the lag alarm watches the
/// metric the function emits.
#[test]
fn the_template_deploys_compaction_only_for_batch_lakes_with_least_privilege() {
    use cdc_sink::lake::keys;
    let template = read("template.yaml");
    assert!(template.contains("  CompactBatches: !Equals [!Ref Objects, batch]\n"));
    let res = resources(&template);
    for writer in ["CdcSinkFunction", "RecoverFunction", "AthenaJobFunction"] {
        assert!(
            res[writer].contains("          CDC_OBJECTS: !Ref Objects\n"),
            "{writer} does not get CDC_OBJECTS"
        );
    }
    let compaction: Vec<&String> = res.keys().filter(|k| k.starts_with("Compaction")).collect();
    assert_eq!(
        compaction,
        [
            "CompactionErrorsAlarm",
            "CompactionFunction",
            "CompactionLagAlarm",
            "CompactionLogGroup",
            "CompactionRole"
        ]
    );
    for name in compaction {
        assert!(
            res[name].contains("\n    Condition: CompactBatches\n"),
            "{name} is not conditional on Objects=batch"
        );
    }
    // Nothing else refers to them (an unconditional reference would fail the stack when
    // Objects=table); the dashboard names the function by its name, which needs no resource.
    for (name, block) in &res {
        if [
            "!Ref Compaction",
            "!GetAtt Compaction",
            "cdc-sink-compact-lambda",
        ]
        .iter()
        .any(|r| block.contains(r))
        {
            assert!(
                name.starts_with("Compaction"),
                "{name} refers to a compaction resource"
            );
        }
    }
    let f = &res["CompactionFunction"];
    for needle in [
        "Binary: cdc-sink-compact-lambda",
        "ReservedConcurrentExecutions: 1",
        "Type: ScheduleV2",
        "ScheduleExpression: !Ref CompactionSchedule",
        "Role: !GetAtt CompactionRole.Arn",
    ] {
        assert!(f.contains(needle), "CompactionFunction lacks {needle}");
    }

    // The role, statement by statement.
    let role = &res["CompactionRole"];
    let statements: Vec<&str> = role.split("\n              - ").skip(1).collect();
    let deleting: Vec<&&str> = statements
        .iter()
        .filter(|s| s.contains("s3:Delete"))
        .collect();
    assert_eq!(deleting.len(), 1, "{role}");
    let arns: Vec<&str> = deleting[0]
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- \"arn:${AWS::Partition}:s3:::${Bucket}/")
        })
        .map(|l| l.trim_end_matches('"'))
        .collect();
    assert_eq!(
        arns,
        [
            format!("${{OutputPrefix}}/{}*", keys::BATCHES),
            format!("${{OutputPrefix}}/{}", keys::COMPACTION_LEASE),
        ],
        "{}",
        deleting[0]
    );
    assert!(
        deleting[0].contains("Action: s3:DeleteObject\n"),
        "{}",
        deleting[0]
    );
    assert!(
        !role.contains("s3:*") && !role.contains("Resource: \"*\""),
        "{role}"
    );
    let listing: Vec<&&str> = statements
        .iter()
        .filter(|s| s.contains("s3:ListBucket"))
        .collect();
    assert_eq!(listing.len(), 1);
    assert!(
        listing[0].contains("s3:prefix: !Sub \"${OutputPrefix}/*\""),
        "{}",
        listing[0]
    );

    // The lag alarm reads the metric the function emits, under its name.
    let alarm = &res["CompactionLagAlarm"];
    for needle in [
        "Namespace: cdc-sink",
        "MetricName: CompactionLag",
        "Value: !Ref CompactionFunction",
        "Threshold: !Ref CompactionLagAlarmMinutes",
        "Expression: lag / 60000",
        "TreatMissingData: notBreaching",
        "AlarmActions: !If [UseAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]",
    ] {
        assert!(alarm.contains(needle), "CompactionLagAlarm lacks {needle}");
    }
}

#[test]
fn the_code_map_names_every_module_and_only_paths_that_exist() {
    let readme = read("README.md");
    let start = readme.find("## Code map").expect("a code map");
    let block = &readme[start..];
    let block = &block[block.find("```\n").unwrap() + 4..];
    let block = &block[..block.find("```").unwrap()];
    let named: Vec<&str> = block
        .split_whitespace()
        .filter(|w| w.starts_with("src/"))
        .collect();
    for path in &named {
        assert!(
            common::root().join(path).exists(),
            "the code map names {path}, which does not exist"
        );
    }
    for entry in std::fs::read_dir(common::root().join("src")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "lib.rs" {
            continue;
        }
        let shown = named
            .iter()
            .any(|p| p.trim_start_matches("src/").split('/').next() == Some(name.as_str()));
        assert!(shown, "src/{name} is missing from the README's code map");
    }
}
