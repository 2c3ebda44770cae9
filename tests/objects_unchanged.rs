//! The objects cdc-sink writes do not change under a refactoring: the sample events (as Parquet
//! and as gzipped JSON Lines) and a generated stream are replayed with the `cdc-sink` binary,
//! and every object of the lakes (data, control, quarantine, registry, layout) is compared, by
//! key, size and FNV-1a 64 digest, with tests/snapshots/objects.fnv, which the release before
//! the lake/store step wrote.

use crate::common;

use common::{cdc_sink, root, run};
use std::collections::BTreeMap;
use std::path::Path;

const SAMPLES: [&str; 9] = [
    "cdc_before_image.json",
    "deletes_pk_only.json",
    "formats_mixed.json",
    "full_load.json",
    "kinesis_test_input.json",
    "large_bigint.json",
    "malformed_mixed.json",
    "multi_table.json",
    "nulls_omitted.json",
];

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `{digest} {size} {case}/{key}` for every file under `dir/case`.
fn digests(dir: &Path, case: &str, out: &mut BTreeMap<String, String>) {
    for key in common::files(&dir.join(case)) {
        let bytes = std::fs::read(dir.join(case).join(&key)).unwrap();
        out.insert(
            format!("{case}/{key}"),
            format!("{:016x} {:8}", fnv(&bytes), bytes.len()),
        );
    }
}

#[test]
fn objects_are_byte_identical_to_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: Vec<_> = SAMPLES
        .iter()
        .map(|s| root().join("test-input").join(s))
        .collect();
    for (case, flags) in [
        ("samples-parquet", &["--format", "parquet"][..]),
        (
            "samples-jsonl",
            &["--format", "jsonl", "--compression", "gzip"][..],
        ),
    ] {
        let (ok, _, err) = run(cdc_sink()
            .arg("replay")
            .args(&inputs)
            .arg("--out")
            .arg(dir.path().join(case))
            .args(flags)
            .arg("--quiet"));
        assert!(ok, "{case}: {err}");
    }
    let (ok, _, err) = run(cdc_sink()
        .args([
            "generate",
            "--seed",
            "7",
            "--tables",
            "3",
            "--transactions",
            "200",
            "--out",
        ])
        .arg(dir.path().join("gen")));
    assert!(ok, "{err}");
    let (ok, _, err) = run(cdc_sink()
        .arg("replay")
        .arg(dir.path().join("gen/events"))
        .arg("--out")
        .arg(dir.path().join("gen-lake"))
        .arg("--quiet"));
    assert!(ok, "{err}");

    let mut got = BTreeMap::new();
    for case in ["samples-parquet", "samples-jsonl", "gen-lake"] {
        digests(dir.path(), case, &mut got);
    }
    let text = std::fs::read_to_string(root().join("tests/snapshots/objects.fnv")).unwrap();
    let want: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| (l[26..].to_string(), l[..25].to_string()))
        .collect();
    assert_eq!(want.len(), 130, "the snapshot lists every object");
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let changed: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "objects differ from tests/snapshots/objects.fnv:\nmissing {missing:?}\nextra {extra:?}\nchanged {changed:?}"
    );
    println!(
        "objects unchanged: {} objects byte-identical to the snapshot",
        got.len()
    );
}
