//! One DMS message (the payload of a Kinesis record), decoded without building a JSON tree.
//!
//! Both message formats (`json`, tab-indented; `json-unformatted`, one line) are plain JSON, so
//! one parser reads both. Unknown top-level and metadata keys are ignored. The before-image key
//! is configurable, so the top level is read with a seeded visitor rather than a derived struct.

use crate::decode::value::Text;
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
    /// When DMS handled the change, ISO 8601 (UTC when no zone is given).
    #[serde(borrow, default)]
    pub timestamp: Option<Text<'a>>,
    /// `data` or `control`.
    #[serde(rename = "record-type", borrow, default)]
    pub record_type: Option<Text<'a>>,
    /// `load`, `insert`, `update` or `delete` for data; `create-table`, `drop-table` etc. for control.
    #[serde(borrow, default)]
    pub operation: Option<Text<'a>>,
    /// How the Kinesis partition key was chosen (`schema-table` or `primary-key`).
    #[serde(rename = "partition-key-type", borrow, default)]
    pub partition_key_type: Option<Text<'a>>,
    /// Source schema of the table.
    #[serde(rename = "schema-name", borrow, default)]
    pub schema_name: Option<Text<'a>>,
    /// Source table name.
    #[serde(rename = "table-name", borrow, default)]
    pub table_name: Option<Text<'a>>,
    /// Source transaction id (CDC only).
    #[serde(rename = "transaction-id", default)]
    pub transaction_id: Option<Id>,
    /// Source commit time, ISO 8601 (CDC only: full-load records have none).
    #[serde(rename = "commit-timestamp", borrow, default)]
    pub commit_timestamp: Option<Text<'a>>,
    /// Source position of the change (the PostgreSQL LSN), CDC only.
    #[serde(rename = "stream-position", borrow, default)]
    pub stream_position: Option<Text<'a>>,
    /// Position of the record within its transaction (CDC only).
    #[serde(rename = "transaction-record-id", default)]
    pub transaction_record_id: Option<Id>,
}

/// One column of a row: its name and its raw JSON value, both borrowed from the message.
pub type Field<'a> = (Cow<'a, str>, &'a RawValue);

/// What the message's `data` key held. The fields of an object are read in the same pass as
/// the rest of the message, into the vector given to [`parse_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// No `data` key.
    Missing,
    /// A JSON object: its fields are in the caller's vector.
    Object,
    /// Another JSON value (named here), which no row can come from.
    NotObject(&'static str),
}

/// A decoded DMS message. The before-image and `control` stay raw JSON until needed.
#[derive(Debug)]
pub struct DmsMessage<'a> {
    /// The `metadata` object.
    pub metadata: Metadata<'a>,
    /// What the `data` key held; its fields are in the caller's vector.
    pub data: Data,
    /// The before-image under the configured key, as raw JSON.
    pub before_image: Option<&'a RawValue>,
    /// The `control` object of a control record (e.g. a `create-table`'s `table-def`), as raw JSON.
    pub control: Option<&'a RawValue>,
}

/// Why the bytes are not a usable DMS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes start with the KPL aggregation magic ([`KPL_MAGIC`]).
    Kpl,
    /// The bytes are not UTF-8.
    NotUtf8 {
        /// Length of the valid UTF-8 prefix, in bytes.
        valid_up_to: usize,
    },
    /// The bytes are not one JSON object (the parser's message).
    NotJson(String),
    /// The JSON has no `metadata` object.
    NoMetadata,
}

/// Decodes one DMS message from the record's (base64-decoded) bytes, in one pass. The row's
/// fields go into `fields` (cleared first; a caller reuses one vector for every record), in
/// message order with raw values; `data._doc` nesting (`map-record-to-document`) is unwrapped.
pub fn parse_message<'a>(
    bytes: &'a [u8],
    before_image_key: &str,
    fields: &mut Vec<Field<'a>>,
) -> Result<DmsMessage<'a>, DecodeError> {
    fields.clear();
    if bytes.starts_with(&KPL_MAGIC) {
        return Err(DecodeError::Kpl);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::NotUtf8 {
        valid_up_to: e.valid_up_to(),
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let msg = Seed {
        before_image_key,
        fields: &mut *fields,
    }
    .deserialize(&mut de)
    .and_then(|m| de.end().map(|_| m))
    .map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let metadata = msg.metadata.ok_or(DecodeError::NoMetadata)?;
    let data = msg.data.unwrap_or(Data::Missing);
    if data == Data::Object {
        unwrap_doc(fields).map_err(|e| DecodeError::NotJson(format!("data._doc: {e}")))?;
    }
    Ok(DmsMessage {
        metadata,
        data,
        before_image: msg.before_image,
        control: msg.control,
    })
}

/// The top level while it is being read; `metadata` is required afterwards.
struct Partial<'a> {
    metadata: Option<Metadata<'a>>,
    data: Option<Data>,
    before_image: Option<&'a RawValue>,
    control: Option<&'a RawValue>,
}

struct Seed<'k, 'f, 'de> {
    before_image_key: &'k str,
    fields: &'f mut Vec<Field<'de>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, 'de> {
    type Value = Partial<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Partial<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

/// A map key, borrowed unless it has escapes.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de> Visitor<'de> for Seed<'_, '_, 'de> {
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
                "data" => {
                    if p.data.is_some() {
                        return Err(de::Error::custom("duplicate key \"data\""));
                    }
                    p.data = Some(map.next_value_seed(DataSeed(&mut *self.fields))?);
                }
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

/// Reads `data`: an object's fields into the vector; any other value is consumed and named.
struct DataSeed<'f, 'de>(&'f mut Vec<Field<'de>>);

impl<'de> DeserializeSeed<'de> for DataSeed<'_, 'de> {
    type Value = Data;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Data, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, 'de> {
    type Value = Data;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of column values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
        push_fields(&mut map, self.0)?;
        Ok(Data::Object)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
        // Elements are skipped as raw values: serde_json skips those without recursion, so a
        // deeply nested array is still a row problem, not an unreadable message.
        while seq.next_element::<&'de RawValue>()?.is_some() {}
        Ok(Data::NotObject("an array"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Data, E> {
        Ok(Data::NotObject("a string"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Data, E> {
        Ok(Data::NotObject("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Data, E> {
        Ok(Data::NotObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Data, E> {
        Ok(Data::NotObject("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Data, E> {
        Ok(Data::NotObject("a number"))
    }
    fn visit_unit<E>(self) -> Result<Data, E> {
        Ok(Data::NotObject("null"))
    }
}

/// The columns of a row object (a before-image, a table definition), in message order, values
/// raw. With `map-record-to-document` the row is nested under `_doc`; that is unwrapped here.
pub fn row_fields(row: &RawValue) -> Result<Vec<Field<'_>>, String> {
    let mut fields = Vec::new();
    fields_into(row, &mut fields)?;
    unwrap_doc(&mut fields)?;
    Ok(fields)
}

/// Replaces a row that is only `{"_doc": {...}}` by the inner object's fields, at every level.
fn unwrap_doc<'a>(fields: &mut Vec<Field<'a>>) -> Result<(), String> {
    while let [(k, inner)] = fields.as_slice() {
        if k != "_doc" || !inner.get().starts_with('{') {
            break;
        }
        let inner: &'a RawValue = inner;
        fields.clear();
        fields_into(inner, fields)?;
    }
    Ok(())
}

/// Appends the entries of the map being read to `out`, keys borrowed, values raw.
fn push_fields<'de, A: MapAccess<'de>>(
    map: &mut A,
    out: &mut Vec<Field<'de>>,
) -> Result<(), A::Error> {
    while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
        out.push((k, v));
    }
    Ok(())
}

/// The same allocation, emptied, for elements of another lifetime. A caller of
/// [`parse_message`] reuses one field vector for every record, but the fields of one record
/// cannot outlive its decoded bytes: between records the vector is kept empty as
/// `Vec<Field<'static>>`, and an emptied vector collected in place (same element size and
/// alignment) keeps its buffer.
pub fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Appends the fields of a JSON object to `out`.
fn fields_into<'a>(row: &'a RawValue, out: &mut Vec<Field<'a>>) -> Result<(), String> {
    struct Fields<'o, 'a>(&'o mut Vec<Field<'a>>);
    impl<'de> Visitor<'de> for Fields<'_, 'de> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object of column values")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            push_fields(&mut map, self.0)
        }
    }
    let mut de = serde_json::Deserializer::from_str(row.get());
    de::Deserializer::deserialize_map(&mut de, Fields(out)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNFORMATTED: &str = r#"{"data":{"id":8,"note":"hi"},"before-image":{"id":7},"metadata":{"timestamp":"2025-11-03T08:15:02.104233Z","record-type":"data","operation":"update","partition-key-type":"schema-table","schema-name":"public","table-name":"orders","transaction-id":"4711","commit-timestamp":"2025-11-03T08:15:01.5Z","stream-position":"00000003/5A0012C8.2.00000003/5A0012C8","transaction-record-id":2,"brand-new-key":{"x":1}},"future":1}"#;

    #[test]
    fn decodes_both_formats_alike() {
        let tabbed = "{\n\t\"metadata\":\t{\n\t\t\"record-type\":\t\"data\",\n\t\t\"operation\":\t\"insert\",\n\t\t\"transaction-id\":\t42\n\t},\n\t\"data\":\t{\n\t\t\"id\":\t1\n\t}\n}";
        let mut fields = Vec::new();
        let m = parse_message(tabbed.as_bytes(), "before-image", &mut fields).unwrap();
        assert_eq!(m.metadata.operation.as_deref(), Some("insert"));
        assert_eq!(m.metadata.transaction_id, Some(Id(42)));
        assert_eq!(m.data, Data::Object);
        assert_eq!((fields[0].0.as_ref(), fields[0].1.get()), ("id", "1"));

        let mut fields = Vec::new();
        let m = parse_message(UNFORMATTED.as_bytes(), "before-image", &mut fields).unwrap();
        assert_eq!(m.metadata.transaction_id, Some(Id(4711)));
        assert_eq!(m.metadata.transaction_record_id, Some(Id(2)));
        assert_eq!(m.before_image.unwrap().get(), r#"{"id":7}"#);
        let got: Vec<_> = fields.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
        assert_eq!(got, [("id", "8"), ("note", r#""hi""#)]);
        assert!(parse_message(UNFORMATTED.as_bytes(), "old", &mut fields)
            .unwrap()
            .before_image
            .is_none());
    }

    #[test]
    fn recycle_keeps_the_allocation() {
        let text = String::from("{\"id\":1}");
        let raw: &RawValue = serde_json::from_str(&text).unwrap();
        let mut v: Vec<Field<'_>> = Vec::with_capacity(64);
        v.push((Cow::Borrowed("id"), raw));
        let ptr = v.as_ptr() as usize;
        let kept: Vec<Field<'static>> = recycle(v);
        assert!(kept.is_empty());
        assert_eq!((kept.capacity(), kept.as_ptr() as usize), (64, ptr));
    }

    #[test]
    fn unwraps_doc_nesting() {
        let mut f = Vec::new();
        let m = parse_message(
            br#"{"metadata":{},"data":{"_doc":{"id":3,"x":"y"}}}"#,
            "before-image",
            &mut f,
        )
        .unwrap();
        assert_eq!(m.data, Data::Object);
        assert_eq!(
            f.iter().map(|(k, _)| k.as_ref()).collect::<Vec<_>>(),
            ["id", "x"]
        );
        let raw: &RawValue = serde_json::from_str(r#"{"_doc":{"a":1}}"#).unwrap();
        assert_eq!(row_fields(raw).unwrap()[0].0, "a");
        parse_message(
            br#"{"metadata":{},"data":{"_doc":{"_doc":{"id":4}}}}"#,
            "before-image",
            &mut f,
        )
        .unwrap();
        assert_eq!((f.len(), f[0].0.as_ref()), (1, "id"));
        // A lone `_doc` that is not an object is an ordinary column.
        parse_message(
            br#"{"metadata":{},"data":{"_doc":5}}"#,
            "before-image",
            &mut f,
        )
        .unwrap();
        assert_eq!(f[0].0, "_doc");
    }

    #[test]
    fn names_a_data_value_that_is_not_an_object() {
        let data = |d: &str| {
            let msg = format!(r#"{{"metadata":{{}},"data":{d}}}"#);
            parse_message(msg.as_bytes(), "before-image", &mut Vec::new()).map(|m| m.data)
        };
        let mut f = Vec::new();
        assert_eq!(data("[1,[2]]"), Ok(Data::NotObject("an array")));
        assert_eq!(data(r#""x""#), Ok(Data::NotObject("a string")));
        assert_eq!(data("-1.5"), Ok(Data::NotObject("a number")));
        assert_eq!(data("true"), Ok(Data::NotObject("a boolean")));
        assert_eq!(data("null"), Ok(Data::NotObject("null")));
        assert_eq!(
            parse_message(br#"{"metadata":{}}"#, "before-image", &mut f).map(|m| m.data),
            Ok(Data::Missing)
        );
        assert!(matches!(
            parse_message(br#"{"metadata":{},"data":{},"data":[]}"#, "before-image", &mut f),
            Err(DecodeError::NotJson(e)) if e.contains("duplicate")
        ));
    }

    #[test]
    fn says_why_bytes_are_unusable() {
        let d = |b: &[u8]| parse_message(b, "before-image", &mut Vec::new()).unwrap_err();
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
        let m = parse_message(msg.as_bytes(), "before-image", &mut Vec::new()).unwrap();
        assert_eq!(m.data, Data::NotObject("an array"));
        let unclosed = "[".repeat(1000);
        assert!(matches!(
            d(format!("{{\"metadata\":{{}},\"data\":{unclosed}").as_bytes()),
            DecodeError::NotJson(_)
        ));
    }
}
