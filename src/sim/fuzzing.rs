//! The invariants the fuzz target (fuzz/) and the regression test of its findings check on
//! any input: no panic, every record accounted for, every key under the prefix.

use crate::config::Config;
use crate::pipeline::build_batch;
use crate::schema::InferOnly;

/// Runs one input through the pure pipeline and asserts the invariants (panics on violation,
/// which is what a fuzzer reports).
pub fn check_event(data: &[u8]) {
    let Ok(batch) = build_batch(data, &Config::default(), &InferOnly) else {
        return; // not a Kinesis event: a clear error, not a panic
    };
    assert!(batch.counts.balanced(), "accounting: {}", batch.counts);
    for o in &batch.objects {
        // Keys are lake-relative: under any prefix they stay inside it.
        let key = crate::store::prefix::join("lake", &o.key);
        assert!(key.starts_with("lake/"), "key outside the prefix: {key}");
        assert!(!o.key.starts_with('/'), "absolute key: {}", o.key);
        assert!(
            !o.key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == ".."),
            "unsafe key: {}",
            o.key
        );
    }
}
