//! The pure half of reconcile: what a table's columns are on each side, how a row of either
//! side becomes comparable values, the lake's current state folded from its versions (the rule
//! in [`SourceOrder`]), and the comparison of one bucket of keys.

use crate::decode::value::{convert, Json};
use crate::format::read::{Value, VersionRow};
use crate::lake::lineage::SourceOrder;
use crate::model::types::ColumnType;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// A column compared: its lake name and registered type, its name in PostgreSQL, and whether
/// its values compare as JSON.
#[derive(Debug, Clone)]
pub struct Col {
    /// The lake's column name.
    pub lake: String,
    /// The registered type.
    pub ty: ColumnType,
    /// The PostgreSQL column it holds (the registry's `renamed_from`, or the same name).
    pub source: String,
    /// `json`/`jsonb` in PostgreSQL: compared as JSON values.
    pub json: bool,
    /// A type DMS treats as a LOB (text, json, bytea, arrays, ...): subject to truncation and to
    /// unchanged-TOAST omissions.
    pub lob: bool,
}

/// A table's comparison plan: the columns both sides hold, and which of them are the key.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Columns compared, in registry order.
    pub cols: Vec<Col>,
    /// Indexes into `cols` of the primary key, in key order.
    pub key: Vec<usize>,
}

/// A key: the primary-key values in key order.
pub type Key = Vec<Value>;

/// The lake's latest version of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LakeVersion {
    /// Where it stands in the source order.
    pub order: SourceOrder,
    /// A delete, or an update that moved the row to another key.
    pub gone: bool,
    /// The row's values (empty when gone).
    pub values: Vec<Value>,
}

impl Plan {
    /// The key of `values` (`None` when a key column is NULL: not a row a key can find).
    pub fn key_of(&self, values: &[Value]) -> Option<Key> {
        let k: Key = self.key.iter().map(|&i| values[i].clone()).collect();
        (!k.contains(&Value::Null)).then_some(k)
    }

    /// JSON values compare as JSON: one text per value (sorted keys, no spaces).
    fn normalise(&self, values: &mut [Value]) {
        for (c, v) in self.cols.iter().zip(values.iter_mut()) {
            if let (true, Value::Text(s)) = (c.json, &*v) {
                if let Ok(j) = serde_json::from_str::<serde_json::Value>(s) {
                    *v = Value::Text(j.to_string());
                }
            }
        }
    }

    /// One source row (a JSON array of the values as DMS renders them, in `cols` order) typed
    /// as the lake types a change record. A value that does not convert keeps its text, marked,
    /// so it shows as a difference.
    pub fn source_row(&self, json_array: &str) -> Result<Vec<Value>, String> {
        let raw: Vec<&RawValue> = serde_json::from_str(json_array).map_err(|e| e.to_string())?;
        if raw.len() != self.cols.len() {
            return Err(format!(
                "{} values for {} columns",
                raw.len(),
                self.cols.len()
            ));
        }
        let mut values: Vec<Value> = self
            .cols
            .iter()
            .zip(raw)
            .map(|(c, r)| {
                Json::from_raw(r)
                    .and_then(|j| convert(j, c.ty))
                    .map(|(cell, _)| Value::from_cell(&cell, c.ty))
                    .unwrap_or_else(|e| Value::Text(format!("<not a {}: {e}>", c.ty)))
            })
            .collect();
        self.normalise(&mut values);
        Ok(values)
    }

    /// The versions one lake row stands for: the row under its key, and for an update that
    /// changed the key, the end of the row under its old key (from the before-image).
    pub fn versions(&self, mut row: VersionRow) -> Vec<(Key, LakeVersion)> {
        self.normalise(&mut row.values);
        let Some(key) = self.key_of(&row.values) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(1);
        if row.op == "U" {
            if let Some(old) = row.before.as_deref().and_then(|b| self.before_key(b)) {
                if old != key {
                    out.push((
                        old,
                        LakeVersion {
                            order: row.order.clone(),
                            gone: true,
                            values: Vec::new(),
                        },
                    ));
                }
            }
        }
        let gone = row.op == "D";
        out.push((
            key,
            LakeVersion {
                order: row.order,
                gone,
                values: if gone { Vec::new() } else { row.values },
            },
        ));
        out
    }

    /// The key in a before-image (DMS's JSON, by source column name), if it holds all of it.
    fn before_key(&self, before: &str) -> Option<Key> {
        let raw: &RawValue = serde_json::from_str(before).ok()?;
        let fields = crate::decode::dms::row_fields(raw).ok()?;
        self.key
            .iter()
            .map(|&i| {
                let c = &self.cols[i];
                let (_, r) = fields
                    .iter()
                    .find(|(k, _)| k == &c.source)
                    .or_else(|| fields.iter().find(|(k, _)| k == &c.lake))?;
                let (cell, _) = convert(Json::from_raw(r).ok()?, c.ty).ok()?;
                let v = Value::from_cell(&cell, c.ty);
                (v != Value::Null).then_some(v)
            })
            .collect()
    }
}

/// Keeps the later of two versions of a key (copies of one change are equal).
pub fn fold(into: &mut HashMap<Key, LakeVersion>, key: Key, v: LakeVersion) {
    match into.get_mut(&key) {
        Some(have) if have.order >= v.order => {}
        Some(have) => *have = v,
        None => {
            into.insert(key, v);
        }
    }
}

/// How one key compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Both sides hold the same row (or neither holds it).
    Same,
    /// The source has the row; the lake does not.
    Missing,
    /// The lake has a row the source does not.
    Extra,
    /// Both have it; these columns (indexes into the plan's columns) differ.
    Differ(Vec<usize>),
}

/// Compares one key's row on each side.
pub fn compare(source: Option<&[Value]>, lake: Option<&LakeVersion>) -> Outcome {
    let lake = lake.filter(|v| !v.gone).map(|v| v.values.as_slice());
    match (source, lake) {
        (None, None) => Outcome::Same,
        (Some(_), None) => Outcome::Missing,
        (None, Some(_)) => Outcome::Extra,
        (Some(s), Some(l)) => {
            let cols: Vec<usize> = (0..s.len()).filter(|&i| s.get(i) != l.get(i)).collect();
            if cols.is_empty() {
                Outcome::Same
            } else {
                Outcome::Differ(cols)
            }
        }
    }
}

/// Values this long are stored out of line (TOASTed) by PostgreSQL, about 2 KB.
const TOAST_BYTES: usize = 2000;

/// What a differing value probably means, when the shapes say something (a NULL where the
/// source holds a large value; a value that is the start of the source's).
pub fn why(col: &Col, source: &Value, lake: &Value) -> Option<String> {
    let len = |v: &Value| match v {
        Value::Text(s) => Some(s.chars().count()),
        Value::Binary(b) => Some(b.len()),
        _ => None,
    };
    match (source, lake) {
        (s, Value::Null) if col.lob && len(s).is_some_and(|n| n >= TOAST_BYTES) => Some(format!(
            "the lake holds NULL where the source holds {} {}: an update that left a large (TOASTed) value unchanged, which DMS sends without it (set REPLICA IDENTITY FULL on the table and reload it)",
            len(s).unwrap_or(0),
            if matches!(s, Value::Binary(_)) { "bytes" } else { "characters" }
        )),
        (_, Value::Text(l)) if l == "unchanged-toast-datum" => Some(
            "the lake holds test_decoding's marker for an unchanged large (TOASTed) value, not the value: set REPLICA IDENTITY FULL on the table and reload it".into(),
        ),
        (Value::Text(s), Value::Text(l)) if l.len() < s.len() && s.starts_with(l.as_str()) => {
            Some(format!(
                "the lake holds the first {} of {} characters: cut at DMS's LOB limit (raise LobMaxSize, set FailTasksOnLobTruncation, and reload the table)",
                l.chars().count(),
                s.chars().count()
            ))
        }
        (Value::Binary(s), Value::Binary(l)) if l.len() < s.len() && s.starts_with(l) => {
            Some(format!(
                "the lake holds the first {} of {} bytes: cut at DMS's LOB limit (raise LobMaxSize, set FailTasksOnLobTruncation, and reload the table)",
                l.len(),
                s.len()
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let col = |n: &str, ty| Col {
            lake: n.into(),
            ty,
            source: n.into(),
            json: n == "doc",
            lob: n != "id",
        };
        Plan {
            cols: vec![
                col("id", ColumnType::Int32),
                col("body", ColumnType::String),
                col("doc", ColumnType::String),
            ],
            key: vec![0],
        }
    }

    fn row(op: &str, seq: &str, values: Vec<Value>, before: Option<&str>) -> VersionRow {
        VersionRow {
            values,
            op: op.into(),
            shard: "s".into(),
            order: SourceOrder {
                time_us: 1,
                seq: seq.into(),
                ..SourceOrder::default()
            },
            before: before.map(str::to_string),
        }
    }

    #[test]
    fn the_latest_version_wins_and_a_key_change_ends_the_old_key() {
        let p = plan();
        let t = |s: &str| Value::Text(s.into());
        let mut state = HashMap::new();
        for r in [
            row(
                "I",
                "2",
                vec![Value::Int(1), t("b"), t("{\"b\":1, \"a\":2}")],
                None,
            ),
            row("I", "1", vec![Value::Int(1), t("a"), Value::Null], None),
            row(
                "U",
                "3",
                vec![Value::Int(2), t("b"), Value::Null],
                Some("{\"id\": 1}"),
            ),
            row(
                "D",
                "4",
                vec![Value::Int(3), Value::Null, Value::Null],
                None,
            ),
            row("I", "0", vec![Value::Int(3), t("x"), Value::Null], None),
        ] {
            for (k, v) in p.versions(r) {
                fold(&mut state, k, v);
            }
        }
        assert!(state[&vec![Value::Int(1)]].gone, "moved to key 2");
        assert!(state[&vec![Value::Int(3)]].gone, "deleted");
        let two = &state[&vec![Value::Int(2)]];
        assert_eq!(two.values[1], t("b"));
        let src = p.source_row("[2, \"b\", null]").unwrap();
        assert_eq!(compare(Some(&src), Some(two)), Outcome::Same);
        let src = p
            .source_row("[2, \"c\", \"{\\\"a\\\": 2, \\\"b\\\": 1}\"]")
            .unwrap();
        assert_eq!(compare(Some(&src), Some(two)), Outcome::Differ(vec![1, 2]));
        assert_eq!(compare(None, Some(two)), Outcome::Extra);
        assert_eq!(
            compare(Some(&src), state.get(&vec![Value::Int(1)])),
            Outcome::Missing
        );
        assert_eq!(
            compare(None, state.get(&vec![Value::Int(3)])),
            Outcome::Same
        );
    }

    #[test]
    fn json_compares_as_json_and_the_reasons_name_the_dms_setting() {
        let p = plan();
        let a = p
            .source_row("[1, \"x\", \"{\\\"b\\\": 1, \\\"a\\\": [1, 2]}\"]")
            .unwrap();
        let b = p.versions(row(
            "I",
            "1",
            vec![
                Value::Int(1),
                Value::Text("x".into()),
                Value::Text("{\"a\":[1,2],\"b\":1}".into()),
            ],
            None,
        ));
        assert_eq!(compare(Some(&a), Some(&b[0].1)), Outcome::Same);
        let long = Value::Text("y".repeat(4000));
        assert!(why(&p.cols[1], &long, &Value::Null)
            .unwrap()
            .contains("REPLICA IDENTITY FULL"));
        assert!(why(&p.cols[1], &long, &Value::Text("y".repeat(32)))
            .unwrap()
            .contains("first 32 of 4000"));
        assert_eq!(why(&p.cols[0], &Value::Int(1), &Value::Int(2)), None);
    }
}
