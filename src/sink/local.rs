//! A local directory as the object store: same keys as S3, written atomically
//! (temporary file, fsync, rename), so a crash never leaves half an object.

use super::{ObjectSink, SinkError};
use bytes::Bytes;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Objects stored as files under a root directory.
pub struct LocalDir {
    root: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a key; refuses keys that could leave the root (defence in depth: keys are
    /// already escaped by [`crate::partition`]).
    pub fn path_of(&self, key: &str) -> Result<PathBuf, SinkError> {
        if key.starts_with('/')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(SinkError {
                location: key.into(),
                message: "key would leave the output directory".into(),
            });
        }
        Ok(self.root.join(key))
    }
}

/// True for the name of a temporary file of [`write_atomically`]: `.{name}#{pid}-{n}.tmp`. The
/// `#` is what no key can hold (escaping turns it into `%23`), so an object whose escaped name
/// starts with `.` (a table named `../x` is `..%2Fx`) is never taken for one.
pub fn is_temporary_file(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.ends_with(".tmp") && file_name.contains('#')
}

/// Writes a file atomically: temporary file in the same directory, fsync, rename. The
/// temporary name starts with `.`, so Hive-style readers skip it while it exists.
pub(crate) fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}#{}-{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl ObjectSink for LocalDir {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), SinkError> {
        let path = self.path_of(key)?;
        let location = path.display().to_string();
        let p = path.clone();
        match tokio::task::spawn_blocking(move || write_atomically(&p, &body)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SinkError {
                location,
                message: e.to_string(),
            }),
            Err(e) => Err(SinkError {
                location,
                message: format!("writer task failed: {e}"),
            }),
        }
    }

    fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_replaces_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalDir::new(dir.path());
        sink.put("a/b/c.jsonl", Bytes::from_static(b"one"))
            .await
            .unwrap();
        sink.put("a/b/c.jsonl", Bytes::from_static(b"two"))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("a/b/c.jsonl")).unwrap(),
            b"two"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary files remain");
        for bad in ["../x", "a/../../x", "/etc/x", "a//b"] {
            assert!(sink.put(bad, Bytes::new()).await.is_err(), "{bad}");
        }
    }
}
