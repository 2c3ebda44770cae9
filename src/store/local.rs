//! A local directory as the object store: same keys as S3, written atomically
//! (temporary file, fsync, rename), so a crash never leaves half an object.

use super::{etag_of, Leftover, ObjectInfo, Precondition, PutOutcome, Store, StoreError};
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
    /// A store whose keys are files under `root`; folders are created as needed.
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a key; refuses keys that could leave the root (defence in depth: keys are
    /// already escaped by [`crate::lake::keys`]).
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        if key.starts_with('/')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(StoreError {
                location: key.into(),
                message: "key would leave the output directory".into(),
            });
        }
        Ok(self.root.join(key))
    }
}

/// The temporary file an object is written to before its rename: `.{name}#{pid}-{n}.tmp` in the
/// same directory. The `#` is what no key can hold (escaping turns it into `%23`), so an object
/// whose escaped name starts with `.` (a table named `../x` is `..%2Fx`) is never taken for one.
/// [`is_temp_file_name`] recognises exactly these names; keep the two together.
fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}#{}-{n}.tmp", std::process::id()))
}

/// True for the name of a temporary file of [`write_atomically`] (see [`temp_path`]).
pub fn is_temporary_file(file_name: &str) -> bool {
    is_temp_file_name(file_name).is_some()
}

/// The writing process's id, when `name` is one of [`temp_path`]'s names. No object name can
/// match: escaped keys never hold a `#`.
pub fn is_temp_file_name(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (object, rest) = inner.rsplit_once('#')?;
    let (pid, counter) = rest.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if object.is_empty() || !digits(counter) || !digits(pid) {
        return None;
    }
    pid.parse().ok()
}

/// Temporary files under `root` left by writers (a crash, a kill), as paths.
pub fn find_temp_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for e in std::fs::read_dir(d)? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                walk(&p, out)?;
            } else if is_temp_file_name(&e.file_name().to_string_lossy()).is_some() {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if root.is_dir() {
        walk(root, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Whether the process that wrote a temporary file may still be writing it. On Linux the pid is
/// checked; elsewhere a file younger than an hour is left alone.
fn writer_may_be_alive(path: &Path, pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age.as_secs() < 3600)
}

/// Removes the temporary files under `root` whose writer is gone (left by a crash or a kill),
/// and returns them.
pub fn remove_stale_temp_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for path in find_temp_files(root)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(pid) = is_temp_file_name(&name) else {
            continue;
        };
        if !writer_may_be_alive(&path, pid) {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Writes a file atomically: temporary file in the same directory, fsync, rename.
pub(crate) fn write_atomically(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = temp_path(path);
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

/// Conditional writes are serialised within this process (the CLI), not across processes: a
/// local directory has one writer at a time.
static LOCAL_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl LocalDir {
    fn fail(&self, path: &Path, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            location: path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Every file under `prefix` (temporary files included), with size and modification time.
    fn walk(&self, prefix: &str) -> Result<Vec<(ObjectInfo, bool)>, StoreError> {
        fn walk(root: &Path, d: &Path, out: &mut Vec<(ObjectInfo, bool)>) -> std::io::Result<()> {
            for e in std::fs::read_dir(d)? {
                let e = e?;
                let p = e.path();
                let meta = e.metadata()?;
                if meta.is_dir() {
                    walk(root, &p, out)?;
                } else if let Ok(rel) = p.strip_prefix(root) {
                    let modified_ms = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64);
                    let temporary = is_temporary_file(&e.file_name().to_string_lossy());
                    let info = ObjectInfo {
                        key: rel.to_string_lossy().into_owned(),
                        size: meta.len(),
                        modified_ms,
                    };
                    out.push((info, temporary));
                }
            }
            Ok(())
        }
        // A key prefix may end inside a file name (`dir/x-`): walk its folder, then filter.
        let folder = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        let dir = self.root.join(folder);
        let mut out = Vec::new();
        if dir.is_dir() {
            walk(&self.root, &dir, &mut out).map_err(|e| self.fail(&dir, e))?;
        }
        out.retain(|(o, _)| o.key.starts_with(prefix));
        out.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        Ok(out)
    }
}

impl Store for LocalDir {
    async fn put(&self, key: &str, body: Bytes) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let location = path.display().to_string();
        let p = path.clone();
        match tokio::task::spawn_blocking(move || write_atomically(&p, &body)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError {
                location,
                message: e.to_string(),
            }),
            Err(e) => Err(StoreError {
                location,
                message: format!("writer task failed: {e}"),
            }),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
        let path = self.path_of(key)?;
        match std::fs::read(&path) {
            Ok(b) => {
                let e = etag_of(&b);
                Ok(Some((b, e)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.fail(&path, e)),
        }
    }

    async fn put_if(
        &self,
        key: &str,
        body: Bytes,
        pre: Precondition,
    ) -> Result<PutOutcome, StoreError> {
        let path = self.path_of(key)?;
        let _guard = LOCAL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let current = match std::fs::read(&path) {
            Ok(b) => Some(etag_of(&b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.fail(&path, e)),
        };
        if !pre.holds(current.as_deref()) {
            return Ok(PutOutcome::Conflict);
        }
        write_atomically(&path, &body).map_err(|e| self.fail(&path, e))?;
        Ok(PutOutcome::Written {
            etag: etag_of(&body),
        })
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StoreError> {
        Ok(self
            .walk(prefix)?
            .into_iter()
            .filter(|(_, temporary)| !temporary)
            .map(|(o, _)| o)
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let _guard = LOCAL_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.fail(&path, e)),
        }
    }

    async fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join(prefix);
        let mut out = Vec::new();
        if !dir.is_dir() {
            return Ok(out);
        }
        for e in std::fs::read_dir(&dir).map_err(|e| self.fail(&dir, e))? {
            let e = e.map_err(|e| self.fail(&dir, e))?;
            if e.file_type().map_err(|e| self.fail(&dir, e))?.is_dir() {
                out.push(format!("{prefix}{}/", e.file_name().to_string_lossy()));
            }
        }
        out.sort();
        Ok(out)
    }

    async fn leftovers(&self, prefix: &str) -> Result<Vec<Leftover>, StoreError> {
        Ok(self
            .walk(prefix)?
            .into_iter()
            .filter(|(_, temporary)| *temporary)
            .map(|(o, _)| Leftover {
                key: o.key,
                size: o.size,
                modified_ms: o.modified_ms,
                kind: "temporary file",
            })
            .collect())
    }

    fn location(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temp_files_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("public/t/dt=2025-01-01");
        std::fs::create_dir_all(&d).unwrap();
        // pid 0 is never a user process: its writer is gone.
        let stale = d.join(".x-1.parquet#0-7.tmp");
        let live = temp_path(&d.join("y.parquet"));
        let object = d.join("x-1.parquet");
        for p in [&stale, &live, &object] {
            std::fs::write(p, b"x").unwrap();
        }
        assert_eq!(find_temp_files(dir.path()).unwrap().len(), 2);
        assert_eq!(
            remove_stale_temp_files(dir.path()).unwrap(),
            vec![stale.clone()]
        );
        assert!(!stale.exists() && live.exists() && object.exists());
    }

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
        let tmp = temp_path(&dir.path().join("a/b/c.parquet"));
        let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(is_temp_file_name(&tmp_name), Some(std::process::id()));
        for object in [
            "c.parquet",
            ".c.parquet",
            "%2Ex.1.2.json",
            ".x.1.tmp",
            ".x.a.2.tmp",
            ".1.2.tmp",
            "..%2Fx#1-2.parquet",
            ".x#1.tmp",
        ] {
            assert_eq!(is_temp_file_name(object), None, "{object}");
        }
        for bad in ["../x", "a/../../x", "/etc/x", "a//b"] {
            assert!(sink.put(bad, Bytes::new()).await.is_err(), "{bad}");
        }
    }
}
