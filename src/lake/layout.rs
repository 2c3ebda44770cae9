//! The lake's layout document, `_layout.json` under the prefix: the format, compression,
//! partitioning and partition time its data objects are written with. [`crate::lake::Lake`]
//! records and checks it (the layout guard); this file is the document and its comparison.

use crate::config::{Compression, Config, Format, PartitionTime, Partitioning};
use serde::{Deserialize, Serialize};
use std::fmt;

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

    /// The stored document, or why it cannot be used.
    pub fn from_json(bytes: &[u8]) -> Result<Layout, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
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
