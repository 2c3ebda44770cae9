//! Why a record could not be used: the reasons, kept as data with the record (never dropped,
//! never retried forever). The entries themselves are lake documents ([`crate::lake::docs`]).

use crate::decode::dms::DecodeError;
use std::fmt;

/// Why a record was quarantined. `code()` is stable for queries; `Display` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The Kinesis record lacks a shard, a valid sequence number, an arrival time or data.
    BadKinesisRecord(String),
    /// `kinesis.data` is not valid base64 (the decoder's message).
    InvalidBase64(String),
    /// The payload is not a usable DMS message.
    Decode(DecodeError),
    /// `metadata.record-type` is neither `data` nor `control`.
    UnknownRecordType(String),
    /// An `operation` the record type does not have.
    UnknownOperation {
        /// The record type, `data` or `control`.
        record_type: String,
        /// The operation given.
        operation: String,
    },
    /// A data record without a usable schema or table name.
    BadTableName(String),
    /// A data record whose `data` is missing or not an object of columns.
    BadRow(String),
    /// A value that does not fit its column's type without loss.
    BadValue {
        /// `schema.table` of the record.
        table: String,
        /// The column's name as DMS sent it.
        column: String,
        /// The raw JSON value.
        value: String,
        /// The type the column has (registered or inferred), in Athena spelling.
        column_type: String,
        /// Why the value does not fit.
        why: String,
    },
}

impl Reason {
    /// A short stable identifier, e.g. `invalid_base64`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::BadKinesisRecord(_) => "bad_kinesis_record",
            Reason::InvalidBase64(_) => "invalid_base64",
            Reason::Decode(DecodeError::Kpl) => "kpl_aggregated",
            Reason::Decode(DecodeError::NotUtf8 { .. }) => "not_utf8",
            Reason::Decode(DecodeError::NotJson(_)) => "not_json",
            Reason::Decode(DecodeError::NoMetadata) => "no_metadata",
            Reason::UnknownRecordType(_) => "unknown_record_type",
            Reason::UnknownOperation { .. } => "unknown_operation",
            Reason::BadTableName(_) => "bad_table_name",
            Reason::BadRow(_) => "bad_row",
            Reason::BadValue { .. } => "bad_value",
        }
    }
}

/// Caps how much of a value is repeated inside a reason.
fn excerpt(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &s[..end], s.len())
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BadKinesisRecord(why) => write!(f, "unusable Kinesis record: {why}"),
            Reason::InvalidBase64(why) => write!(f, "kinesis.data is not valid base64: {why}"),
            Reason::Decode(DecodeError::Kpl) => f.write_str(
                "KPL-aggregated record (magic bytes F3 89 9A C2): DMS never aggregates, so another producer writes to this stream; de-aggregation is not supported",
            ),
            Reason::Decode(DecodeError::NotUtf8 { valid_up_to }) => {
                write!(f, "payload is not UTF-8 (invalid byte at offset {valid_up_to})")
            }
            Reason::Decode(DecodeError::NotJson(why)) => write!(f, "payload is not a DMS JSON message: {why}"),
            Reason::Decode(DecodeError::NoMetadata) => f.write_str("DMS message has no \"metadata\" object"),
            Reason::UnknownRecordType(t) => {
                write!(f, "unknown metadata.record-type {:?} (expected data or control)", excerpt(t))
            }
            Reason::UnknownOperation { record_type, operation } => {
                write!(f, "unknown metadata.operation {:?} for record-type {record_type}", excerpt(operation))
            }
            Reason::BadTableName(why) => write!(f, "data record has no usable table: {why}"),
            Reason::BadRow(why) => write!(f, "data record has no usable row: {why}"),
            Reason::BadValue { table, column, value, column_type, why } => write!(
                f,
                "value {} of column {table}.{column} {why}: the column is registered as {column_type}",
                excerpt(value)
            ),
        }
    }
}
