//! Independent jobs run on several threads, results in job order: what [`crate::pipeline`]
//! uses to encode a batch's objects on every core the function has.
//!
//! Plain `std::thread::scope` with a shared job counter: the jobs of one event are a few to a
//! few thousand objects, encoded in one burst, so a thread pool crate would add a dependency
//! for no measurable gain (see BENCHMARKS.md).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The number of threads to use for a setting of `CDC_ENCODE_THREADS`: 0 means every core
/// this process may use (`std::thread::available_parallelism`, which honours cgroup quotas
/// and CPU affinity), read once per process.
pub fn threads(setting: usize) -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    match setting {
        0 => *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        n => n,
    }
}

/// Applies `f` to every item on up to `threads` threads (the calling thread is one of them)
/// and returns the results in the items' order, whatever the thread count. Items are taken
/// in order, one at a time, so a long job does not hold up the others.
pub fn map<T: Send, R: Send>(items: Vec<T>, threads: usize, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = items.len();
    let threads = threads.clamp(1, n.max(1));
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(i) else { break };
            let item = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(item) = item {
                done.push((i, f(item)));
            }
        }
        done
    };
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = vec![work()];
        for h in helpers {
            match h.join() {
                Ok(done) => all.push(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, r) in all.into_iter().flatten() {
            results[i] = Some(r);
        }
    });
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_whatever_the_thread_count() {
        let items: Vec<u64> = (0..1000).collect();
        let expected: Vec<u64> = items.iter().map(|i| i * i).collect();
        for threads in [1, 2, 3, 8, 5000] {
            // Uneven job lengths, so threads finish out of order.
            let got = map(items.clone(), threads, |i| {
                if i % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                i * i
            });
            assert_eq!(got, expected, "{threads} threads");
        }
        assert!(map(Vec::<u8>::new(), 4, |i| i).is_empty());
        assert!(threads(0) >= 1);
        assert_eq!(threads(3), 3);
    }
}
