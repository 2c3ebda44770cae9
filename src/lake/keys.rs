//! Partition values and object keys: pure functions of the input, so a retried batch writes
//! exactly the keys it wrote before.

use crate::config::{Config, PartitionTime, Partitioning};
use crate::model::change::TableId;
use crate::model::time::{self, MICROS_PER_DAY};

/// A time partition: days since the epoch, and the hour when partitioning hourly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub day: Option<i64>,
    pub hour: Option<u8>,
}

impl Partition {
    /// The partition of a row, from its commit time (else DMS time) or its arrival time.
    pub fn for_row(
        cfg: &Config,
        commit_us: Option<i64>,
        dms_us: Option<i64>,
        arrival_us: i64,
    ) -> Partition {
        let t = match cfg.partition_time {
            PartitionTime::Commit => commit_us.or(dms_us).unwrap_or(arrival_us),
            PartitionTime::Arrival => arrival_us,
        };
        match cfg.partition {
            Partitioning::None => Partition {
                day: None,
                hour: None,
            },
            Partitioning::Day => Partition {
                day: Some(t.div_euclid(MICROS_PER_DAY)),
                hour: None,
            },
            Partitioning::Hour => Partition {
                day: Some(t.div_euclid(MICROS_PER_DAY)),
                hour: Some((t.rem_euclid(MICROS_PER_DAY) / 3_600_000_000) as u8),
            },
        }
    }

    /// The day partition of a log entry (control, quarantine): always by arrival day.
    pub fn log(arrival_us: i64) -> Partition {
        Partition {
            day: Some(arrival_us.div_euclid(MICROS_PER_DAY)),
            hour: None,
        }
    }

    /// `dt=YYYY-MM-DD[/hr=HH]/`, or empty.
    fn path(&self) -> String {
        let mut p = String::new();
        if let Some(d) = self.day {
            p.push_str("dt=");
            p.push_str(&time::format_date(d));
            p.push('/');
        }
        if let Some(h) = self.hour {
            p.push_str(&format!("hr={h:02}/"));
        }
        p
    }
}

/// The key prefix when none is given (`CDC_PREFIX` unset or empty, `--out s3://BUCKET`).
pub const DEFAULT_PREFIX: &str = "cdc";

/// Escapes one path segment the way Hive escapes partition values (`%XX` for `/`, `=`, `%`,
/// control characters, ...), and also `.`-only names, so no segment can climb out of the prefix.
/// Empty names become `%00` so that every segment is non-empty.
pub fn escape_segment(s: &str) -> String {
    if s.is_empty() {
        return "%00".into();
    }
    if s.bytes().all(|b| b == b'.') {
        return "%2E".repeat(s.len());
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let escape = matches!(
            c,
            '\u{0}'
                ..='\u{1F}'
                    | '\u{7F}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        );
        if escape {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Joins the configured prefix (may be empty) and a relative key.
fn under(prefix: &str, rel: String) -> String {
    if prefix.is_empty() {
        rel
    } else {
        format!("{prefix}/{rel}")
    }
}

/// Normalises a user-given key prefix: no leading or trailing `/`, no empty, `.` or `..` segments.
pub fn normalise_prefix(prefix: &str) -> Result<String, String> {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        return Ok(String::new());
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(format!(
            "prefix {prefix:?} has an empty, '.' or '..' segment"
        ));
    }
    Ok(p.to_string())
}

/// A schema's folder: escaped, and never one of the reserved `_control`, `_quarantine`,
/// `_schemas` folders (a leading `_` is escaped as `%5F`).
pub fn schema_segment(schema: &str) -> String {
    let e = escape_segment(schema);
    match e.strip_prefix('_') {
        Some(rest) => format!("%5F{rest}"),
        None => e,
    }
}

/// `{prefix}/{schema}/{table}/dt=.../{shard}-{first_seq}.{ext}`
pub fn data_key(
    prefix: &str,
    table: &TableId,
    part: &Partition,
    shard: &str,
    first_seq: &str,
    ext: &str,
) -> String {
    under(
        prefix,
        format!(
            "{}/{}/{}{}-{}.{ext}",
            schema_segment(&table.schema),
            escape_segment(&table.table),
            part.path(),
            escape_segment(shard),
            first_seq
        ),
    )
}

/// `{prefix}/_control/dt=.../{shard}-{first_seq}.jsonl`
pub fn control_key(prefix: &str, part: &Partition, shard: &str, first_seq: &str) -> String {
    under(
        prefix,
        format!(
            "_control/{}{}-{first_seq}.jsonl",
            part.path(),
            escape_segment(shard)
        ),
    )
}

/// `{prefix}/_quarantine/dt=.../{shard}-{first_seq}.jsonl`
pub fn quarantine_key(prefix: &str, part: &Partition, shard: &str, first_seq: &str) -> String {
    under(
        prefix,
        format!(
            "_quarantine/{}{}-{first_seq}.jsonl",
            part.path(),
            escape_segment(shard)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn keys_follow_the_contract() {
        let cfg = Config {
            partition: Partitioning::Hour,
            ..Config::default()
        };
        let t = 20_395 * MICROS_PER_DAY + 8 * 3_600_000_000 + 5;
        let p = Partition::for_row(&cfg, Some(t), None, 0);
        assert_eq!(
            data_key(
                "cdc",
                &TableId::new("public", "orders"),
                &p,
                "shardId-000000000003",
                "4965",
                "parquet"
            ),
            "cdc/public/orders/dt=2025-11-03/hr=08/shardId-000000000003-4965.parquet"
        );
        let none = Partition::for_row(
            &Config {
                partition: Partitioning::None,
                ..Config::default()
            },
            Some(t),
            None,
            0,
        );
        assert_eq!(
            data_key("", &TableId::new("s", "t"), &none, "sh", "1", "jsonl"),
            "s/t/sh-1.jsonl"
        );
        assert_eq!(
            control_key("p/q", &Partition::log(t), "sh", "7"),
            "p/q/_control/dt=2025-11-03/sh-7.jsonl"
        );
    }

    #[test]
    fn partition_time_falls_back_and_can_use_arrival() {
        let cfg = Config::default();
        let (c, d, a) = (MICROS_PER_DAY * 3, MICROS_PER_DAY * 2, MICROS_PER_DAY);
        assert_eq!(Partition::for_row(&cfg, Some(c), Some(d), a).day, Some(3));
        assert_eq!(Partition::for_row(&cfg, None, Some(d), a).day, Some(2));
        let arr = Config {
            partition_time: PartitionTime::Arrival,
            ..Config::default()
        };
        assert_eq!(Partition::for_row(&arr, Some(c), Some(d), a).day, Some(1));
    }

    #[test]
    fn hostile_names_stay_one_segment() {
        for name in [
            "..",
            ".",
            "../../etc",
            "a/b",
            "",
            "dt=x",
            "tab\tle",
            "100%",
            "ünï cødé",
        ] {
            let e = escape_segment(name);
            assert!(
                !e.contains('/') && !e.is_empty() && e != "." && e != "..",
                "{name:?} -> {e:?}"
            );
        }
        assert_eq!(escape_segment("../x"), "..%2Fx");
        assert_eq!(schema_segment("_quarantine"), "%5Fquarantine");
        assert_eq!(schema_segment("public"), "public");
        assert_eq!(escape_segment("a b"), "a b");
        assert!(normalise_prefix("a/../b").is_err());
        assert_eq!(normalise_prefix("/cdc/").unwrap(), "cdc");
    }
}
