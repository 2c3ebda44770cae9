//! Inputs kept from fuzzing (fuzz/regressions/) and a bounded mutation pass over the samples,
//! both checked with the fuzz target's invariants: no panic, every record accounted for, every
//! key under the prefix. The libFuzzer run itself is `cargo fuzz run decode` (README).

use crate::common;

use cdc_sink::sim::fuzzing::check_event;
use common::*;

#[test]
fn kept_fuzz_inputs_still_hold_the_invariants() {
    let dir = root().join("fuzz/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if path.is_file() && !hidden {
            check_event(&std::fs::read(&path).unwrap());
            n += 1;
        }
    }
    println!("fuzz regressions: {n} kept inputs checked");
}

/// Byte-level mutations (flips, truncations, splices, insertions) of every sample event and of
/// decoded payloads, deterministic and bounded.
#[test]
fn mutated_samples_hold_the_invariants() {
    use base64::Engine;
    let mut seed: u64 = 0x5EED;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n.max(1)
    };
    let mut inputs = 0;
    let samples: Vec<Vec<u8>> = samples()
        .into_iter()
        .map(|(n, _)| sample_bytes(&n))
        .collect();
    for s in &samples {
        let v: serde_json::Value = serde_json::from_slice(s).unwrap();
        let payloads: Vec<Vec<u8>> = v["Records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                base64::engine::general_purpose::STANDARD
                    .decode(r["kinesis"]["data"].as_str()?)
                    .ok()
            })
            .collect();
        for _ in 0..300 {
            // A mutated whole event.
            let mut e = s.clone();
            mutate(&mut e, &mut next);
            check_event(&e);
            // A mutated payload inside an intact envelope.
            let mut p = payloads[next(payloads.len())].clone();
            mutate(&mut p, &mut next);
            let mut rec = v["Records"][0].clone();
            rec["kinesis"]["data"] =
                serde_json::json!(base64::engine::general_purpose::STANDARD.encode(&p));
            check_event(&serde_json::to_vec(&serde_json::json!({ "Records": [rec] })).unwrap());
            inputs += 2;
        }
    }
    println!("fuzz mutations: {inputs} mutated inputs checked, no panic, accounting and keys held");
}

fn mutate(b: &mut Vec<u8>, next: &mut impl FnMut(usize) -> usize) {
    const INTERESTING: &[&[u8]] = &[
        b"\"",
        b"\\",
        b"{",
        b"}",
        b"[",
        b"]",
        b"NaN",
        b"1e999999999",
        b"-",
        b"..",
        b"/",
        b"\xff",
        b"\x00",
        b"null",
        b"\"record-type\":\"data\"",
    ];
    for _ in 0..1 + next(4) {
        if b.is_empty() {
            b.push(b'{');
        }
        let at = next(b.len());
        match next(5) {
            0 => b[at] ^= 1 << next(8),
            1 => b.truncate(at),
            2 => {
                let s = INTERESTING[next(INTERESTING.len())];
                b.splice(at..at, s.iter().copied());
            }
            3 => {
                let end = (at + next(16)).min(b.len());
                b.drain(at..end);
            }
            _ => {
                let from = next(b.len());
                let len = next(32).min(b.len() - from);
                let chunk: Vec<u8> = b[from..from + len].to_vec();
                b.splice(at..at, chunk);
            }
        }
    }
}
