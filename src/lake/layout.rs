//! The lake's layout document, `{prefix}/_layout.json`: the format, compression, partitioning
//! and partition time its data objects are written with.
//!
//! The first writer records it with a conditional create; every later writer compares its own
//! settings with it and refuses before writing anything when they differ (two layouts in one
//! table folder would hold every row twice, and readers would meet two partition schemes).
//! Readers (`athena ddl`, `status`) take the layout from it instead of from flags.

use crate::config::{Compression, Config, Format, PartitionTime, Partitioning};
use crate::schema::store::SchemaStore;
use crate::sink::{Precondition, PutOutcome, SinkError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;

/// File name of the layout document under the prefix.
pub const FILE: &str = "_layout.json";

/// How a lake's data objects are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    #[serde(with = "text")]
    pub format: Format,
    #[serde(with = "text")]
    pub compression: Compression,
    #[serde(with = "text")]
    pub partition: Partitioning,
    #[serde(with = "text")]
    pub partition_time: PartitionTime,
}

/// The layout document could not be used, or the lake is laid out differently.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("layout document: {0}")]
    Store(#[from] SinkError),
    #[error("the layout document {key} is unreadable ({why}); restore it from another copy of the lake's settings, or delete it to let the next writer record its own")]
    Corrupt { key: String, why: String },
    #[error("the lake at {location} is laid out as {lake}, but this writer is configured for {configured}. Nothing was written: two layouts in one lake would put every row in it twice. Use the lake's settings ({flags}), or write to another prefix (another --out, or CDC_PREFIX for the Lambda)")]
    Mismatch {
        location: String,
        lake: Layout,
        configured: Layout,
        /// The settings that match the lake, as flags.
        flags: String,
    },
}

impl Layout {
    /// The layout a writer with this configuration produces.
    pub fn of(cfg: &Config) -> Layout {
        Layout {
            format: cfg.format,
            compression: cfg.compression,
            partition: cfg.partition,
            partition_time: cfg.partition_time,
        }
    }

    /// Makes `cfg` write (or read) this layout.
    pub fn apply(&self, cfg: &mut Config) {
        cfg.format = self.format;
        cfg.compression = self.compression;
        cfg.partition = self.partition;
        cfg.partition_time = self.partition_time;
    }

    /// The CLI flags that select this layout.
    pub fn flags(&self) -> String {
        format!(
            "--format {} --compression {} --partition {} --partition-time {}",
            self.format, self.compression, self.partition, self.partition_time
        )
    }

    /// The stored form: one line of JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "format={} compression={} partition={} partition_time={}",
            self.format, self.compression, self.partition, self.partition_time
        )
    }
}

/// The key of the layout document under `prefix`.
pub fn key(prefix: &str) -> String {
    if prefix.is_empty() {
        FILE.to_string()
    } else {
        format!("{prefix}/{FILE}")
    }
}

/// The lake's recorded layout, or `None` when nothing has been written yet (or the lake was
/// written before layouts were recorded).
pub async fn read<St: SchemaStore>(
    store: &St,
    prefix: &str,
) -> Result<Option<Layout>, LayoutError> {
    let key = key(prefix);
    match store.get(&key).await? {
        None => Ok(None),
        Some((bytes, _)) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| LayoutError::Corrupt {
                    key,
                    why: e.to_string(),
                })
        }
    }
}

/// Checks that a writer configured with `cfg` may write under `prefix`: records the layout if
/// the lake has none yet (conditional create, so racing first writers agree on one), and fails
/// with [`LayoutError::Mismatch`] when the lake is laid out differently. `location` names the
/// lake in the message (e.g. `s3://bucket/prefix`).
pub async fn ensure<St: SchemaStore>(
    store: &St,
    prefix: &str,
    cfg: &Config,
    location: &str,
) -> Result<Layout, LayoutError> {
    let configured = Layout::of(cfg);
    let lake = match read(store, prefix).await? {
        Some(l) => l,
        None => match store
            .put_if(
                &key(prefix),
                Bytes::from(configured.to_json()),
                Precondition::Absent,
            )
            .await?
        {
            PutOutcome::Written { .. } => return Ok(configured),
            // Another first writer got there: its layout is the lake's.
            PutOutcome::Conflict => read(store, prefix).await?.unwrap_or(configured),
        },
    };
    check(&lake, &configured, location)?;
    Ok(lake)
}

/// Fails unless a writer with layout `configured` may write into a lake laid out as `lake`.
pub fn check(lake: &Layout, configured: &Layout, location: &str) -> Result<(), LayoutError> {
    if lake == configured {
        return Ok(());
    }
    Err(LayoutError::Mismatch {
        location: location.to_string(),
        lake: *lake,
        configured: *configured,
        flags: lake.flags(),
    })
}

/// Serialises the config enums as their canonical spelling.
mod text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::store::MemoryStore;

    #[tokio::test]
    async fn first_writer_records_it_and_a_different_one_is_refused() {
        let store = MemoryStore::default();
        let parquet = Config::default();
        assert_eq!(read(&store, "cdc").await.unwrap(), None);
        let l = ensure(&store, "cdc", &parquet, "lake").await.unwrap();
        assert_eq!(l, Layout::of(&parquet));
        let (doc, _) = store.get("cdc/_layout.json").await.unwrap().unwrap();
        assert_eq!(
            String::from_utf8(doc).unwrap(),
            "{\"format\":\"parquet\",\"compression\":\"snappy\",\"partition\":\"day\",\"partition_time\":\"commit\"}\n"
        );
        // The same settings again: fine.
        ensure(&store, "cdc", &parquet, "lake").await.unwrap();
        let mut hourly = parquet.clone();
        hourly.partition = Partitioning::Hour;
        let e = ensure(&store, "cdc", &hourly, "s3://b/cdc")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("partition=day") && e.contains("partition=hour"),
            "{e}"
        );
        assert!(
            e.contains("another prefix") && e.contains("--partition day"),
            "{e}"
        );
        // Another prefix is another lake.
        ensure(&store, "other", &hourly, "lake").await.unwrap();
    }
}
