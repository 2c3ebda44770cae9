//! The lake's layout document, `_layout.json` under the prefix: the format, compression,
//! partitioning and partition time its data objects are written with ([`Layout`]).
//! [`crate::lake::Lake`] records and checks it (the layout guard); this file is its form.

use crate::config::{Compression, Format, Layout, Objects, PartitionTime, Partitioning};
use serde::{Deserialize, Serialize};

/// The document's form: the canonical spelling of each setting.
#[derive(Serialize, Deserialize)]
struct Doc {
    #[serde(with = "text")]
    format: Format,
    #[serde(with = "text")]
    compression: Compression,
    #[serde(with = "text")]
    partition: Partitioning,
    #[serde(with = "text")]
    partition_time: PartitionTime,
    /// Absent in lakes written before the choice existed (and in every `table` lake, so their
    /// document stays byte for byte what it was): `table`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_text")]
    objects: Option<Objects>,
}

/// The stored document, or why it cannot be used.
pub fn from_json(bytes: &[u8]) -> Result<Layout, String> {
    let d: Doc = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    Ok(Layout {
        format: d.format,
        compression: d.compression,
        partition: d.partition,
        partition_time: d.partition_time,
        objects: d.objects.unwrap_or(Objects::Table),
    })
}

/// The stored form: one line of JSON.
pub fn to_json(l: &Layout) -> Vec<u8> {
    let d = Doc {
        format: l.format,
        compression: l.compression,
        partition: l.partition,
        partition_time: l.partition_time,
        objects: (l.objects != Objects::Table).then_some(l.objects),
    };
    let mut v = serde_json::to_vec(&d).unwrap_or_default();
    v.push(b'\n');
    v
}

/// Serialises the config enums as their canonical spelling.
mod text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub(crate) fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// [`text`] for an optional setting.
mod opt_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub(crate) fn serialize<T: Display, S: Serializer>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        match Option::<String>::deserialize(d)? {
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_choice_is_recorded_only_when_it_is_batch() {
        let table = Layout::default();
        let text = String::from_utf8(to_json(&table)).unwrap();
        assert!(!text.contains("objects"), "{text}");
        assert_eq!(from_json(text.as_bytes()).unwrap(), table);
        let batch = Layout {
            objects: Objects::Batch,
            ..Layout::default()
        };
        let text = String::from_utf8(to_json(&batch)).unwrap();
        assert!(text.contains("\"objects\":\"batch\""), "{text}");
        assert_eq!(from_json(text.as_bytes()).unwrap(), batch);
    }
}
