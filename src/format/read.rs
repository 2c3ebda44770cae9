//! Lineage columns read back from a data object, for the readers of the lake that need a few
//! of them and not the rows (`status --rows`: operation and commit time; redrive's lake index:
//! shard and sequence number). Parquet is read with only those columns projected; JSON Lines
//! (plain or gzipped) line by line. The one reader of lineage from lake files.

use crate::lake::lineage::{COMMIT_TS, OP, SEQ, SHARD};
use arrow::array::{Array, AsArray};
use arrow::datatypes::TimestampMicrosecondType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;

/// The lineage of one row, as far as it was asked for and present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    /// `cdc_op`: L, I, U or D.
    pub op: Option<String>,
    /// `cdc_commit_ts`, in microseconds since the epoch.
    pub commit_us: Option<i64>,
    /// `cdc_shard`.
    pub shard: Option<String>,
    /// `cdc_seq`, as written (zero-padded).
    pub seq: Option<String>,
}

/// Which lineage columns to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// `cdc_op` and `cdc_commit_ts`.
    OpAndCommit,
    /// `cdc_shard` and `cdc_seq` (control-log lines name them `shard` and `seq`).
    Identity,
}

impl Wanted {
    fn columns(self) -> [&'static str; 2] {
        match self {
            Wanted::OpAndCommit => [OP, COMMIT_TS],
            Wanted::Identity => [SHARD, SEQ],
        }
    }
}

/// The lineage of every row of the object `key` (its extension says the format).
pub fn lineage(key: &str, bytes: Vec<u8>, wanted: Wanted) -> Result<Vec<Lineage>, String> {
    if key.ends_with(".parquet") {
        parquet_lineage(bytes, wanted)
    } else if key.ends_with(".jsonl") || key.ends_with(".jsonl.gz") {
        let text = if key.ends_with(".gz") {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .map_err(|e| e.to_string())?;
            out
        } else {
            bytes
        };
        jsonl_lineage(&text, wanted)
    } else {
        Err(format!("{key} is neither Parquet nor JSON Lines"))
    }
}

fn parquet_lineage(bytes: Vec<u8>, wanted: Wanted) -> Result<Vec<Lineage>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| e.to_string())?;
    let names = wanted.columns();
    let schema = builder.parquet_schema();
    let leaves: Vec<usize> = (0..schema.num_columns())
        .filter(|&i| names.contains(&schema.column(i).name()))
        .collect();
    let mask = ProjectionMask::leaves(schema, leaves);
    let mut out = Vec::new();
    for batch in builder
        .with_projection(mask)
        .build()
        .map_err(|e| e.to_string())?
    {
        let batch = batch.map_err(|e| e.to_string())?;
        let text = |name: &str| -> Result<arrow::array::StringArray, String> {
            batch
                .column_by_name(name)
                .ok_or_else(|| format!("no {name} column"))?
                .as_string_opt::<i32>()
                .cloned()
                .ok_or_else(|| format!("{name} is not a string column"))
        };
        let value =
            |a: &arrow::array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        match wanted {
            Wanted::OpAndCommit => {
                let op = text(OP)?;
                let commit = batch
                    .column_by_name(COMMIT_TS)
                    .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>().cloned());
                for i in 0..batch.num_rows() {
                    out.push(Lineage {
                        op: value(&op, i),
                        commit_us: commit
                            .as_ref()
                            .and_then(|c| (!c.is_null(i)).then(|| c.value(i))),
                        ..Lineage::default()
                    });
                }
            }
            Wanted::Identity => {
                let (shard, seq) = (text(SHARD)?, text(SEQ)?);
                for i in 0..batch.num_rows() {
                    out.push(Lineage {
                        shard: value(&shard, i),
                        seq: value(&seq, i),
                        ..Lineage::default()
                    });
                }
            }
        }
    }
    Ok(out)
}

fn jsonl_lineage(text: &[u8], wanted: Wanted) -> Result<Vec<Lineage>, String> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| v.get(*n))
                .and_then(|x| x.as_str())
                .map(str::to_string)
        };
        out.push(match wanted {
            Wanted::OpAndCommit => Lineage {
                op: get(&[OP]),
                commit_us: get(&[COMMIT_TS])
                    .and_then(|t| crate::model::time::parse_timestamp(&t))
                    .map(|m| m.micros),
                ..Lineage::default()
            },
            Wanted::Identity => Lineage {
                shard: get(&[SHARD, "shard"]),
                seq: get(&[SEQ, "seq"]),
                ..Lineage::default()
            },
        });
    }
    Ok(out)
}
