//! Rows spread over bucket files by a hash of their key, so that one bucket at a time is in
//! memory: both sides of a table are written out, then compared bucket by bucket. The files
//! live in a private directory under the system's temporary directory (or `--work-dir`) and
//! are removed when the [`Spill`] is dropped.

use super::compare::Key;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Bucket files of one side of one table.
pub(crate) struct Spill {
    dir: PathBuf,
    writers: Vec<Option<BufWriter<File>>>,
}

/// The bucket of `key` among `n`: FNV-1a of its JSON, so both sides agree.
pub(crate) fn bucket_of(key: &Key, n: usize) -> usize {
    let text = serde_json::to_vec(key).unwrap_or_default();
    let h = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    (h % n as u64) as usize
}

impl Spill {
    /// `n` empty buckets in a new directory under `root`.
    pub(crate) fn new(root: &Path, name: &str, n: usize) -> Result<Spill, String> {
        let dir = root.join(format!(
            "cdc-sink-reconcile-{}-{}-{name}",
            std::process::id(),
            crate::model::time::now_us()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e} (set --work-dir)", dir.display()))?;
        Ok(Spill {
            dir,
            writers: (0..n).map(|_| None).collect(),
        })
    }

    /// Appends one record to `key`'s bucket.
    pub(crate) fn push<T: serde::Serialize>(
        &mut self,
        key: &Key,
        record: &T,
    ) -> Result<(), String> {
        let b = bucket_of(key, self.writers.len());
        if self.writers[b].is_none() {
            let path = self.dir.join(format!("{b}.jsonl"));
            let f = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.writers[b] = Some(BufWriter::with_capacity(8 << 10, f));
        }
        let w = self.writers[b].as_mut().ok_or("no bucket writer")?;
        serde_json::to_writer(&mut *w, record).map_err(|e| e.to_string())?;
        w.write_all(b"\n")
            .map_err(|e| format!("writing under {}: {e}", self.dir.display()))
    }

    /// Number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.writers.len()
    }

    /// Reads bucket `b` back (after every push): each record to `each`.
    pub(crate) fn read<T: serde::de::DeserializeOwned>(
        &mut self,
        b: usize,
        mut each: impl FnMut(T),
    ) -> Result<(), String> {
        let Some(mut w) = self.writers[b].take() else {
            return Ok(());
        };
        w.flush().map_err(|e| e.to_string())?;
        drop(w);
        let path = self.dir.join(format!("{b}.jsonl"));
        let f = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        for line in BufReader::new(f).lines() {
            let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
            each(serde_json::from_str(&line).map_err(|e| format!("{}: {e}", path.display()))?);
        }
        let _ = std::fs::remove_file(&path);
        Ok(())
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        self.writers.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
