//! One DMS message (the payload of a Kinesis record), decoded without building a JSON tree.
//!
//! Both message formats (`json`, tab-indented; `json-unformatted`, one line) are plain JSON, so
//! one parser reads both. Unknown top-level and metadata keys are ignored. The before-image key
//! is configurable, so the top level is read with a seeded visitor rather than a derived struct.

use crate::value::Text;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// First bytes of a KPL-aggregated record (another producer's format; DMS never aggregates).
pub const KPL_MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

/// A transaction id or record id: a JSON number, or a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer id (number or string of digits)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                i64::try_from(v)
                    .map(Id)
                    .map_err(|_| E::custom("id out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                v.trim()
                    .parse()
                    .map(Id)
                    .map_err(|_| E::custom(format!("id {v:?} is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `metadata` object. Every field is optional here; the normaliser decides what is required.
#[derive(Debug, Default, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default)]
    pub timestamp: Option<Text<'a>>,
    #[serde(rename = "record-type", borrow, default)]
    pub record_type: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub operation: Option<Text<'a>>,
    #[serde(rename = "partition-key-type", borrow, default)]
    pub partition_key_type: Option<Text<'a>>,
    #[serde(rename = "schema-name", borrow, default)]
    pub schema_name: Option<Text<'a>>,
    #[serde(rename = "table-name", borrow, default)]
    pub table_name: Option<Text<'a>>,
    #[serde(rename = "transaction-id", default)]
    pub transaction_id: Option<Id>,
    #[serde(rename = "commit-timestamp", borrow, default)]
    pub commit_timestamp: Option<Text<'a>>,
    #[serde(rename = "stream-position", borrow, default)]
    pub stream_position: Option<Text<'a>>,
    #[serde(rename = "transaction-record-id", default)]
    pub transaction_record_id: Option<Id>,
}

/// A decoded DMS message. `data`, the before-image and `control` stay raw JSON until needed.
#[derive(Debug)]
pub struct DmsMessage<'a> {
    pub metadata: Metadata<'a>,
    pub data: Option<&'a RawValue>,
    pub before_image: Option<&'a RawValue>,
    pub control: Option<&'a RawValue>,
}

/// Why the bytes are not a usable DMS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    Kpl,
    NotUtf8 { valid_up_to: usize },
    NotJson(String),
    NoMetadata,
}

/// Decodes one DMS message from the record's (base64-decoded) bytes.
pub fn parse_message<'a>(
    bytes: &'a [u8],
    before_image_key: &str,
) -> Result<DmsMessage<'a>, DecodeError> {
    if bytes.starts_with(&KPL_MAGIC) {
        return Err(DecodeError::Kpl);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let msg = Seed { before_image_key }
        .deserialize(&mut de)
        .and_then(|m| de.end().map(|_| m))
        .map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let metadata = msg.metadata.ok_or(DecodeError::NoMetadata)?;
    Ok(DmsMessage {
        metadata,
        data: msg.data,
        before_image: msg.before_image,
        control: msg.control,
    })
}

struct Partial<'a> {
    metadata: Option<Metadata<'a>>,
    data: Option<&'a RawValue>,
    before_image: Option<&'a RawValue>,
    control: Option<&'a RawValue>,
}

struct Seed<'k> {
    before_image_key: &'k str,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Partial<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Partial<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

/// A map key, borrowed when it has no escapes.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Partial<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a DMS message object with a \"metadata\" key")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Partial<'de>, A::Error> {
        let mut p = Partial {
            metadata: None,
            data: None,
            before_image: None,
            control: None,
        };
        fn set<T, E: de::Error>(slot: &mut Option<T>, v: T, key: &str) -> Result<(), E> {
            if slot.replace(v).is_some() {
                return Err(E::custom(format!("duplicate key {key:?}")));
            }
            Ok(())
        }
        while let Some(Key(k)) = map.next_key()? {
            match k.as_ref() {
                "metadata" => {
                    let m: Metadata<'de> = map
                        .next_value()
                        .map_err(|e: A::Error| de::Error::custom(format!("metadata: {e}")))?;
                    set(&mut p.metadata, m, "metadata")?
                }
                "data" => set(&mut p.data, map.next_value()?, "data")?,
                "control" => set(&mut p.control, map.next_value()?, "control")?,
                key if key == self.before_image_key => {
                    set(&mut p.before_image, map.next_value()?, key)?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(p)
    }
}

/// The columns of a row object (`data` or a before-image), in message order, values raw.
/// With `map-record-to-document` the row is nested under `data._doc`; that is unwrapped here.
pub fn row_fields(row: &RawValue) -> Result<Vec<(Cow<'_, str>, &RawValue)>, String> {
    struct Fields;
    impl<'de> Visitor<'de> for Fields {
        type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object of column values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
            while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                out.push((k, v));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(row.get());
    let fields = de::Deserializer::deserialize_map(&mut de, Fields).map_err(|e| e.to_string())?;
    if let [(k, inner)] = fields.as_slice() {
        if k == "_doc" && inner.get().starts_with('{') {
            return row_fields(inner);
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNFORMATTED: &str = r#"{"data":{"id":8,"note":"hi"},"before-image":{"id":7},"metadata":{"timestamp":"2025-11-03T08:15:02.104233Z","record-type":"data","operation":"update","partition-key-type":"schema-table","schema-name":"public","table-name":"orders","transaction-id":"4711","commit-timestamp":"2025-11-03T08:15:01.5Z","stream-position":"00000003/5A0012C8.2.00000003/5A0012C8","transaction-record-id":2,"brand-new-key":{"x":1}},"future":1}"#;

    #[test]
    fn decodes_both_formats_alike() {
        let tabbed = "{\n\t\"metadata\":\t{\n\t\t\"record-type\":\t\"data\",\n\t\t\"operation\":\t\"insert\",\n\t\t\"transaction-id\":\t42\n\t},\n\t\"data\":\t{\n\t\t\"id\":\t1\n\t}\n}";
        let m = parse_message(tabbed.as_bytes(), "before-image").unwrap();
        assert_eq!(m.metadata.operation.as_deref(), Some("insert"));
        assert_eq!(m.metadata.transaction_id, Some(Id(42)));
        let fields = row_fields(m.data.unwrap()).unwrap();
        assert_eq!((fields[0].0.as_ref(), fields[0].1.get()), ("id", "1"));

        let m = parse_message(UNFORMATTED.as_bytes(), "before-image").unwrap();
        assert_eq!(m.metadata.transaction_id, Some(Id(4711)));
        assert_eq!(m.metadata.transaction_record_id, Some(Id(2)));
        assert_eq!(m.before_image.unwrap().get(), r#"{"id":7}"#);
        assert!(parse_message(UNFORMATTED.as_bytes(), "old")
            .unwrap()
            .before_image
            .is_none());
    }

    #[test]
    fn unwraps_doc_nesting() {
        let m = parse_message(
            br#"{"metadata":{},"data":{"_doc":{"id":3,"x":"y"}}}"#,
            "before-image",
        )
        .unwrap();
        let f = row_fields(m.data.unwrap()).unwrap();
        assert_eq!(
            f.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>(),
            ["id", "x"]
        );
    }

    #[test]
    fn says_why_bytes_are_unusable() {
        let d = |b: &[u8]| parse_message(b, "before-image").unwrap_err();
        assert_eq!(d(&[0xF3, 0x89, 0x9A, 0xC2, 1, 2]), DecodeError::Kpl);
        assert_eq!(
            d(b"{\"a\":\"\xff\"}"),
            DecodeError::NotUtf8 { valid_up_to: 6 }
        );
        assert!(matches!(d(b"{\"metadata\":{}"), DecodeError::NotJson(_)));
        assert!(matches!(d(b"{\"x\":NaN}"), DecodeError::NotJson(_)));
        assert!(
            matches!(d(b"{\"metadata\":{},\"metadata\":{}}"), DecodeError::NotJson(e) if e.contains("duplicate"))
        );
        assert!(
            matches!(d(br#"{"metadata":{"record-type":5}}"#), DecodeError::NotJson(e) if e.starts_with("metadata:"))
        );
        assert_eq!(d(br#"{"data":{}}"#), DecodeError::NoMetadata);
        // Deep nesting neither overflows the stack nor is mistaken for a row: raw values are
        // skipped without recursion, and a deep array is not an object of columns.
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let msg = format!("{{\"metadata\":{{}},\"data\":{deep}}}");
        let m = parse_message(msg.as_bytes(), "before-image").unwrap();
        assert!(row_fields(m.data.unwrap()).is_err());
        let unclosed = "[".repeat(1000);
        assert!(matches!(
            d(format!("{{\"metadata\":{{}},\"data\":{unclosed}").as_bytes()),
            DecodeError::NotJson(_)
        ));
    }
}
