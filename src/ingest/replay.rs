//! Replaying Lambda Kinesis event files through the pipeline, as `cdc-sink replay` does: the
//! inputs (files, or the `*.json` files of a folder in name order) are all checked before
//! anything is written, then replayed one by one. The caller sees each file's outcome (for
//! progress and summaries) and can stop between files (Ctrl-C); the result says which files
//! were done and which were not, and counts each written object once however often it was
//! rewritten.

use crate::config::Config;
use crate::decode::kinesis;
use crate::ingest::registry::{Built, SchemaRegistry};
use crate::lake::Lake;
use crate::model::change::Counts;
use crate::store::Store;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The event files named on the command line, folders expanded to the `*.json` files directly
/// inside them, sorted by file name (byte order). Every missing path is reported at once.
pub fn expand_inputs(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for arg in args {
        if arg.is_dir() {
            match std::fs::read_dir(arg) {
                Ok(entries) => {
                    let mut inside: Vec<PathBuf> = entries
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
                        .collect();
                    inside.sort();
                    if inside.is_empty() {
                        problems.push(format!(
                            "{}: the folder holds no *.json files",
                            arg.display()
                        ));
                    }
                    files.extend(inside);
                }
                Err(e) => problems.push(format!("cannot read {}: {e}", arg.display())),
            }
        } else if arg.is_file() {
            files.push(arg.clone());
        } else {
            problems.push(format!(
                "cannot read {}: no such file or folder",
                arg.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems.join("\n"))
    }
}

/// Reads every file and checks that it is a Lambda Kinesis event, reporting every bad file at
/// once (nothing is written until all pass). Returns the total size in bytes.
pub fn check_inputs(files: &[PathBuf]) -> Result<u64, String> {
    let mut problems = Vec::new();
    let mut total = 0;
    for path in files {
        match std::fs::read(path) {
            Ok(bytes) => {
                total += bytes.len() as u64;
                if let Err(e) = kinesis::parse_event(&bytes) {
                    problems.push(format!("{}: {e}", path.display()));
                }
            }
            Err(e) => problems.push(format!("cannot read {}: {e}", path.display())),
        }
    }
    if problems.is_empty() {
        Ok(total)
    } else {
        let n = problems.len();
        Err(format!(
            "{}\n{n} of {} input files cannot be replayed; nothing was written",
            problems.join("\n"),
            files.len()
        ))
    }
}

/// One replayed file.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    /// The file's path, as given.
    pub file: String,
    /// Size of the file, in bytes.
    pub input_bytes: u64,
    /// The pipeline's counts for the file's event.
    #[serde(flatten)]
    pub counts: Counts,
    /// Schema registry changes and notes this file caused.
    pub schema_changes: Vec<String>,
    /// Quarantined records per reason code.
    pub quarantined_by_reason: Vec<(String, u64)>,
}

/// What a replay did. `total` counts records over every file done, and each distinct object
/// once with its last size (a file replayed twice writes the same keys).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Files to replay, after folders were expanded.
    pub files_total: usize,
    /// Files replayed and written.
    pub files_done: usize,
    /// Outcome of each file replayed, in the order they were written.
    pub done: Vec<FileOutcome>,
    /// Files not replayed (after a failure or an interruption), in order.
    pub not_done: Vec<String>,
    /// Records and objects over every file done; an object rewritten counts once, at its last size.
    pub total: Counts,
    /// Stopped on request between two files.
    pub interrupted: bool,
    /// The failure that stopped the replay.
    pub error: Option<String>,
    /// Wall time of the whole replay, in seconds.
    pub elapsed_secs: f64,
}

impl Summary {
    /// True when every file was replayed: no failure and no interruption.
    pub fn ok(&self) -> bool {
        self.error.is_none() && !self.interrupted
    }
}

/// What a replay tells its caller as it goes.
pub enum Event<'a> {
    /// A file was replayed and its objects written.
    Done(&'a FileOutcome),
    /// A file waits: rows of tables nobody declared yet (their `create-table` may be in a later
    /// event); it and the rest of its shard are retried after the other files, as Lambda would.
    Deferred {
        /// The event file.
        file: &'a Path,
        /// The undeclared tables (`schema.table`).
        tables: Vec<String>,
    },
    /// Nothing else can declare the deferred files' tables: their types are now inferred.
    Inferring,
}

/// Replays `files` into `lake`, in order except that an event whose tables are
/// not declared yet waits (with the rest of its shard) until the other files have run. `on_event`
/// sees each file's outcome as soon as it is written; `stop` is checked between files.
pub async fn replay<K: Store>(
    files: &[PathBuf],
    lake: &Lake<K>,
    cfg: &Config,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Summary {
    let start = Instant::now();
    let registry = SchemaRegistry::new(cfg.schema_refresh);
    let mut objects: HashMap<String, u64> = HashMap::new();
    let mut total = Counts::default();
    let mut done: Vec<FileOutcome> = Vec::new();
    let mut done_paths = std::collections::HashSet::new();
    let mut error = None;
    let mut interrupted = false;
    let mut infer = cfg.await_table_def.is_zero();
    let mut pending: Vec<&PathBuf> = files.iter().collect();
    'passes: while !pending.is_empty() {
        let mut deferred = Vec::new();
        let mut blocked: Vec<String> = Vec::new();
        let mut progress = false;
        for path in pending {
            if stop.load(Ordering::SeqCst) {
                interrupted = true;
                break 'passes;
            }
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    error = Some(format!("cannot read {}: {e}", path.display()));
                    break 'passes;
                }
            };
            let shard = shard_of(&bytes);
            if blocked.contains(&shard) {
                deferred.push(path);
                continue;
            }
            match replay_one(path, &bytes, lake, &registry, cfg, infer).await {
                Ok(Ok((outcome, written))) => {
                    progress = true;
                    for (key, size) in written {
                        objects.insert(key, size);
                    }
                    total.accumulate(&outcome.counts);
                    on_event(Event::Done(&outcome));
                    done_paths.insert(path.clone());
                    done.push(outcome);
                }
                Ok(Err(tables)) => {
                    on_event(Event::Deferred { file: path, tables });
                    blocked.push(shard);
                    deferred.push(path);
                }
                Err(e) => {
                    error = Some(e);
                    break 'passes;
                }
            }
        }
        if !progress && !deferred.is_empty() {
            on_event(Event::Inferring);
            infer = true;
        }
        pending = deferred;
    }
    total.objects = objects.len() as u64;
    total.bytes = objects.values().sum();
    Summary {
        files_total: files.len(),
        files_done: done.len(),
        not_done: files
            .iter()
            .filter(|p| !done_paths.contains(*p))
            .map(|p| p.display().to_string())
            .collect(),
        done,
        total,
        interrupted,
        error,
        elapsed_secs: start.elapsed().as_secs_f64(),
    }
}

/// The shard of an event's first record (events of one shard wait together).
fn shard_of(event: &[u8]) -> String {
    kinesis::parse_event(event)
        .ok()
        .and_then(|r| {
            r.first()
                .and_then(|r| r.shard.as_deref().map(str::to_string))
        })
        .unwrap_or_default()
}

/// Written objects (key, size) of one replayed file.
type Written = Vec<(String, u64)>;

/// One file: build, write, and the keys written with their sizes; or the undeclared tables the
/// file must wait for.
async fn replay_one<K: Store>(
    path: &Path,
    bytes: &[u8],
    lake: &Lake<K>,
    registry: &SchemaRegistry,
    cfg: &Config,
    infer: bool,
) -> Result<Result<(FileOutcome, Written), Vec<String>>, String> {
    let built = registry
        .build_with(lake.store(), bytes, cfg, infer)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (batch, report) = match built {
        Built::Ready(batch, report) => (batch, report),
        Built::Undeclared { tables, .. } => {
            return Ok(Err(tables.iter().map(ToString::to_string).collect()))
        }
    };
    lake.put_objects(batch.puts())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let written = batch
        .objects
        .iter()
        .map(|o| (o.key.clone(), o.body.len() as u64))
        .collect();
    let outcome = FileOutcome {
        file: path.display().to_string(),
        input_bytes: bytes.len() as u64,
        counts: batch.counts.clone(),
        schema_changes: report
            .changes
            .iter()
            .chain(&report.notes)
            .map(ToString::to_string)
            .collect(),
        quarantined_by_reason: batch
            .quarantine_reasons
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect(),
    };
    Ok(Ok((outcome, written)))
}

/// A byte count for people: `25417 B` stays exact below 10 KiB, then KiB, MiB, GiB with one
/// decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 10 * 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// The one-line summary of some counts, with a human-readable size.
pub fn describe(c: &Counts) -> String {
    format!(
        "{} records: rows L={} I={} U={} D={}, control {}, skipped {}, quarantined {}, warnings {}; {} objects, {}",
        c.records,
        c.load,
        c.insert,
        c.update,
        c.delete,
        c.control,
        c.skipped,
        c.quarantined,
        c.warnings,
        c.objects,
        human_bytes(c.bytes)
    )
}

/// Lists paths for a message: all of them when few, else the first and last few.
pub fn list_paths(paths: &[String]) -> String {
    if paths.len() <= 6 {
        paths.join(", ")
    } else {
        format!(
            "{}, ... ({} more) ..., {}",
            paths[..3].join(", "),
            paths.len() - 5,
            paths[paths.len() - 2..].join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(10 * 1024 - 1), "10239 B");
        assert_eq!(human_bytes(25_417_000), "24.2 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn folders_expand_to_their_json_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.json", "a.json", "c.txt", "10.json"] {
            std::fs::write(dir.path().join(name), "{}").unwrap();
        }
        let files = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["10.json", "a.json", "b.json"]);
        let e = expand_inputs(&[dir.path().join("nope"), dir.path().join("nope2")]).unwrap_err();
        assert_eq!(e.lines().count(), 2, "{e}");
    }
}
