//! The pipeline: Lambda Kinesis event bytes in, encoded objects out ([`build_batch`], pure;
//! [`crate::lake::Lake::put_objects`] writes them).
//!
//! Per record: base64 into one reused buffer, DMS message parsed borrowing from it, values
//! converted to their column's type, and the row appended straight into Arrow builders of its
//! (table, partition) group. A record is checked completely before anything is appended, so a
//! quarantined record never leaves half a row behind.
//!
//! [`builder`] reads the records into per-(table, partition) groups; [`finish`] encodes each
//! group into one object.

mod builder;
pub mod columns;
pub mod compact;
mod finish;
pub mod parallel;
pub mod quarantine;

use crate::config::Config;
use crate::decode::kinesis::{self, EventError};
use crate::decode::tabledef::TableDef;
use crate::format::EncodeError;
use crate::model::change::{Counts, TableId};
use crate::schema::{SchemaSource, TableSchema};
use builder::{BatchBuilder, Scratch};
use bytes::Bytes;

/// Longest schema or table name accepted once escaped for keys (PostgreSQL's limit is 63 bytes).
const MAX_NAME_BYTES: usize = 200;

/// What an object holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Rows of one table (Parquet or JSON Lines), under the table's folder.
    Data,
    /// Control entries (DDL, table announcements), JSON Lines under `_control/`.
    Control,
    /// Quarantine entries, JSON Lines under `_quarantine/`.
    Quarantine,
}

/// One object ready to write.
#[derive(Debug, Clone)]
pub struct EncodedObject {
    /// Key relative to the lake's prefix ([`crate::lake::keys`]).
    pub key: String,
    /// The encoded object.
    pub body: Bytes,
    /// What it holds.
    pub kind: ObjectKind,
    /// Data rows, control entries or quarantine entries in the object.
    pub rows: usize,
}

/// Everything one event produces, before any I/O.
#[derive(Debug)]
pub struct Batch {
    /// The event's counts; `objects` and `bytes` cover every object of [`Batch::objects`].
    pub counts: Counts,
    /// Sorted by key.
    pub objects: Vec<EncodedObject>,
    /// The sequence number of the event's first record: the item to report when the batch
    /// must be retried as a whole.
    pub first_seq: Option<String>,
    /// The oldest approximate arrival time in the batch (for iterator age).
    pub oldest_arrival_us: Option<i64>,
    /// The newest source commit time among the batch's data rows (for freshness).
    pub newest_commit_us: Option<i64>,
    /// Each table's columns as written in this batch (what a schema registry would record).
    pub tables: Vec<(TableId, TableSchema)>,
    /// Quarantined records per reason code, sorted by code.
    pub quarantine_reasons: Vec<(String, u64)>,
    /// Table definitions carried by control records (`create-table` with IncludeControlDetails).
    pub table_defs: Vec<(TableId, TableDef)>,
}

impl Batch {
    /// The objects as (lake-relative key, body) pairs, for [`crate::lake::Lake::put_objects`].
    pub fn puts(&self) -> impl Iterator<Item = (&str, Bytes)> {
        self.objects
            .iter()
            .map(|o| (o.key.as_str(), o.body.clone()))
    }
}

/// The event could not be processed at all.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The input is not a Lambda Kinesis event.
    #[error(transparent)]
    Event(#[from] EventError),
    /// An object could not be encoded (never a property of the input).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Decodes, normalises, partitions and encodes one Lambda Kinesis event. Object keys are
/// lake-relative per the output contract ([`crate::lake::keys`]) and depend only on the event's content.
pub fn build_batch<S: SchemaSource + ?Sized>(
    event: &[u8],
    cfg: &Config,
    schemas: &S,
) -> Result<Batch, PipelineError> {
    let records = kinesis::parse_event(event)?;
    let fallback_seq = records
        .iter()
        .find(|r| kinesis::identity_problem(r).is_none())
        .and_then(|r| r.seq.as_deref().map(str::to_string))
        .unwrap_or_else(|| format!("x{:016x}", fnv1a(event)));
    let fallback_arrival = records
        .iter()
        .filter_map(|r| r.arrival_us)
        .min()
        .unwrap_or(0);
    let mut b = BatchBuilder::new(cfg, schemas, fallback_arrival, fallback_seq);
    let mut scratch = Scratch::default();
    for r in &records {
        b.record(r, &mut scratch);
    }
    let first_seq = records
        .first()
        .map(|r| r.seq.as_deref().unwrap_or("").to_string());
    let oldest_arrival_us = records.iter().filter_map(|r| r.arrival_us).min();
    b.finish(first_seq, oldest_arrival_us)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
