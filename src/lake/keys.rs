//! Partition values and object keys: pure functions of the input, so a retried batch writes
//! exactly the keys it wrote before.

use crate::config::{Config, PartitionTime, Partitioning};
use crate::model::change::TableId;
use crate::model::time::{self, MICROS_PER_DAY};

/// A time partition: days since the epoch, and the hour when partitioning hourly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// The `dt` day, in days since the epoch; `None` when not partitioned.
    pub day: Option<i64>,
    /// The `hr` hour (0 to 23), when partitioning hourly.
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
        let t = match cfg.layout.partition_time {
            PartitionTime::Commit => commit_us.or(dms_us).unwrap_or(arrival_us),
            PartitionTime::Arrival => arrival_us,
        };
        match cfg.layout.partition {
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

    /// The `dt` value (`YYYY-MM-DD`), when partitioned.
    pub fn dt(&self) -> Option<String> {
        self.day.map(time::format_date)
    }

    /// The `hr` value (`HH`), when partitioned hourly.
    pub fn hr(&self) -> Option<String> {
        self.hour.map(|h| format!("{h:02}"))
    }

    /// The partition named by [`Self::dt`] and [`Self::hr`] values; `None` when they are not.
    pub fn from_values(dt: Option<&str>, hr: Option<&str>) -> Option<Partition> {
        let day = match dt {
            Some(d) => Some(time::parse_date(d)? as i64),
            None => None,
        };
        let hour = match hr {
            Some(h) if h.len() == 2 => Some(h.parse::<u8>().ok().filter(|h| *h < 24)?),
            Some(_) => return None,
            None => None,
        };
        (day.is_some() || hour.is_none()).then_some(Partition { day, hour })
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
/// The folder of the schema registry: `_schemas/{schema}/{table}.json`.
pub const SCHEMAS: &str = "_schemas/";
/// The folder of records that could not be used: `_quarantine/dt=.../{shard}-{seq}.jsonl`.
pub const QUARANTINE: &str = "_quarantine/";
/// The folder of control records (DDL, table announcements) and of the recover and redrive
/// history: `_control/dt=...`, `_control/recover/`, `_control/redrive/`.
pub const CONTROL: &str = "_control/";
/// Recover's history documents, one per failure record.
pub const RECOVER_HISTORY: &str = "_control/recover/";
/// Redrive's manifests, one per run.
pub const REDRIVE_MANIFESTS: &str = "_control/redrive/";
/// The lake's layout document.
pub const LAYOUT: &str = "_layout.json";
/// The folder of batch objects (`objects = batch`): `_batches/dt=.../hr=.../{shard}-{seq}.parquet`,
/// one per Lambda batch, until the compactor lays them out per table.
pub const BATCHES: &str = "_batches/";
/// The compactor's records: one document per compacted set of batch objects, and its lease.
pub const COMPACTION: &str = "_control/compaction/";
/// The compactor's lease: held by the one compactor at work.
pub const COMPACTION_LEASE: &str = "_control/compaction/lease.json";

/// True for a top-level folder or file the lake reserves (a schema folder never is one: see
/// [`schema_segment`]).
pub fn is_reserved(top_level: &str) -> bool {
    top_level.starts_with('_')
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

/// `{schema}/{table}/`: the folder of a table's data objects.
pub fn table_folder(table: &TableId) -> String {
    format!(
        "{}/{}/",
        schema_segment(&table.schema),
        escape_segment(&table.table)
    )
}

/// `{schema}/{table}/dt=.../{shard}-{first_seq}.{ext}`
pub fn data_key(
    table: &TableId,
    part: &Partition,
    shard: &str,
    first_seq: &str,
    ext: &str,
) -> String {
    format!(
        "{}{}{}-{}.{ext}",
        table_folder(table),
        part.path(),
        escape_segment(shard),
        first_seq
    )
}

/// `_batches/dt=YYYY-MM-DD/hr=HH/{shard}-{first_seq}.parquet`: a batch object, in the hour its
/// first row arrived in Kinesis (so a retried batch, which starts with the same record,
/// writes the same key), whatever the lake's own partitioning.
pub fn batch_key(arrival_us: i64, shard: &str, first_seq: &str) -> String {
    format!(
        "{}{}-{first_seq}.parquet",
        batch_folder(arrival_us),
        escape_segment(shard)
    )
}

/// `_batches/dt=YYYY-MM-DD/hr=HH/`: the folder of the batch objects whose first row arrived in
/// the hour of `arrival_us`.
pub fn batch_folder(arrival_us: i64) -> String {
    format!("{BATCHES}{}", batch_hour(arrival_us).path())
}

/// The hour folder of a batch object that arrived at `arrival_us`.
pub fn batch_hour(arrival_us: i64) -> Partition {
    Partition {
        day: Some(arrival_us.div_euclid(MICROS_PER_DAY)),
        hour: Some((arrival_us.rem_euclid(MICROS_PER_DAY) / 3_600_000_000) as u8),
    }
}

/// The start of the hour of a batch object's key (`_batches/dt=.../hr=HH/...`), in hours since
/// the epoch; `None` for a key of another shape.
pub fn batch_key_hour(key: &str) -> Option<i64> {
    let rest = key.strip_prefix(BATCHES)?;
    let mut parts = rest.split('/');
    let day = time::parse_date(parts.next()?.strip_prefix("dt=")?)? as i64;
    let hour: i64 = parts.next()?.strip_prefix("hr=")?.parse().ok()?;
    (parts.next().is_some() && (0..24).contains(&hour)).then_some(day * 24 + hour)
}

/// `{schema}/{table}/dt=.../compacted-{window}-{inputs}-{part}.{ext}`: a compacted object.
/// `window` names the compacted time window and `inputs` the set of batch objects it was made
/// from, so a rerun over the same inputs writes the same keys, and a later pass over other
/// inputs (a batch recovered after its window was compacted) never overwrites an earlier one.
/// No Kinesis shard id starts with `compacted`, so it never meets a key a batch writes.
pub fn compacted_key(
    table: &TableId,
    part: &Partition,
    window: &str,
    inputs: &str,
    n: usize,
    ext: &str,
) -> String {
    format!(
        "{}{}compacted-{window}-{inputs}-{n:04}.{ext}",
        table_folder(table),
        part.path()
    )
}

/// `_control/compaction/{window}-{inputs}.json`: the record of one compaction pass, written
/// once its objects are durable and before its batch objects are removed.
pub fn compaction_record_key(window: &str, inputs: &str) -> String {
    format!("{COMPACTION}{window}-{inputs}.json")
}

/// `_control/dt=.../{shard}-{first_seq}.jsonl`
pub fn control_key(part: &Partition, shard: &str, first_seq: &str) -> String {
    format!(
        "{CONTROL}{}{}-{first_seq}.jsonl",
        part.path(),
        escape_segment(shard)
    )
}

/// `_quarantine/dt=.../{shard}-{first_seq}.jsonl`
pub fn quarantine_key(part: &Partition, shard: &str, first_seq: &str) -> String {
    format!(
        "{QUARANTINE}{}{}-{first_seq}.jsonl",
        part.path(),
        escape_segment(shard)
    )
}

/// `_quarantine/dt=YYYY-MM-DD/` for one day, or `_quarantine/` for every day.
pub fn quarantine_folder(day: Option<&str>) -> String {
    match day {
        Some(d) => format!("{QUARANTINE}dt={d}/"),
        None => QUARANTINE.to_string(),
    }
}

/// `_schemas/{schema}/{table}.json`: a table's registry document.
pub fn registry_key(t: &TableId) -> String {
    format!(
        "{SCHEMAS}{}/{}.json",
        escape_segment(&t.schema),
        escape_segment(&t.table)
    )
}

/// `_control/recover/{shard}-{start}.json`: one history document per failure record (a
/// discarded batch is known by its shard and first record; recovering it again rewrites it).
pub fn recover_history_key(shard: &str, start_seq: &str) -> String {
    format!(
        "{RECOVER_HISTORY}{}-{start_seq}.json",
        escape_segment(shard)
    )
}

/// `_control/redrive/{stamp}.json`: the manifest of one redrive run.
pub fn redrive_manifest_key(stamp: &str) -> String {
    format!("{REDRIVE_MANIFESTS}{stamp}.json")
}

/// The key a redriven object gets: `.redrive` before the extension of the normal key
/// (`.../{shard}-{seq}.redrive.parquet`). A normal key has only the extension after the
/// sequence number's digits, so the two can never be equal; readers of the table folder
/// (Athena's LOCATION, `**/*.parquet` globs) read both.
pub fn redrive_key(key: &str) -> String {
    let (dir, name) = match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    };
    let after_dash = name.rfind('-').map_or(0, |i| i + 1);
    match name[after_dash..].find('.') {
        Some(dot) => {
            let at = after_dash + dot;
            format!("{dir}{}.redrive{}", &name[..at], &name[at..])
        }
        None => format!("{dir}{name}.redrive"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn keys_follow_the_contract() {
        let cfg = Config {
            layout: crate::config::Layout {
                partition: Partitioning::Hour,
                ..crate::config::Layout::default()
            },
            ..Config::default()
        };
        let t = 20_395 * MICROS_PER_DAY + 8 * 3_600_000_000 + 5;
        let p = Partition::for_row(&cfg, Some(t), None, 0);
        assert_eq!(
            data_key(
                &TableId::new("public", "orders"),
                &p,
                "shardId-000000000003",
                "4965",
                "parquet"
            ),
            "public/orders/dt=2025-11-03/hr=08/shardId-000000000003-4965.parquet"
        );
        let none = Partition::for_row(
            &Config {
                layout: crate::config::Layout {
                    partition: Partitioning::None,
                    ..crate::config::Layout::default()
                },
                ..Config::default()
            },
            Some(t),
            None,
            0,
        );
        assert_eq!(
            data_key(&TableId::new("s", "t"), &none, "sh", "1", "jsonl"),
            "s/t/sh-1.jsonl"
        );
        assert_eq!(
            control_key(&Partition::log(t), "sh", "7"),
            "_control/dt=2025-11-03/sh-7.jsonl"
        );
    }

    #[test]
    fn batch_keys_are_by_arrival_hour_and_compacted_keys_never_meet_them() {
        let t = 20_395 * MICROS_PER_DAY + 8 * 3_600_000_000 + 5;
        let k = batch_key(t, "shardId-000000000003", "4965");
        assert_eq!(
            k,
            "_batches/dt=2025-11-03/hr=08/shardId-000000000003-4965.parquet"
        );
        assert_eq!(batch_key_hour(&k), Some(20_395 * 24 + 8));
        assert_eq!(batch_key_hour("_batches/dt=2025-11-03/x.parquet"), None);
        assert_eq!(batch_key_hour("s/t/dt=2025-11-03/hr=08/x.parquet"), None);
        let p = Partition::for_row(&Config::default(), Some(t), None, 0);
        let c = compacted_key(
            &TableId::new("s", "t"),
            &p,
            "2025-11-03T08_1h",
            "0123abcd",
            2,
            "parquet",
        );
        assert_eq!(
            c,
            "s/t/dt=2025-11-03/compacted-2025-11-03T08_1h-0123abcd-0002.parquet"
        );
        assert_eq!(
            Partition::from_values(p.dt().as_deref(), p.hr().as_deref()),
            Some(p)
        );
        assert_eq!(Partition::from_values(Some("2025-11-03"), Some("24")), None);
        assert_eq!(Partition::from_values(None, Some("01")), None);
        assert_eq!(
            compaction_record_key("2025-11-03T08_1h", "0123abcd"),
            "_control/compaction/2025-11-03T08_1h-0123abcd.json"
        );
    }

    #[test]
    fn redrive_keys_never_equal_normal_keys() {
        assert_eq!(
            redrive_key("public/orders/dt=2025-11-03/shardId-000000000001-4966123.parquet"),
            "public/orders/dt=2025-11-03/shardId-000000000001-4966123.redrive.parquet"
        );
        assert_eq!(
            redrive_key("s/t/dt=2025-11-03/hr=08/sh.1-42.jsonl.gz"),
            "s/t/dt=2025-11-03/hr=08/sh.1-42.redrive.jsonl.gz"
        );
        let control = control_key(&Partition::log(20_395 * MICROS_PER_DAY), "sh", "7");
        assert_eq!(
            redrive_key(&control),
            "_control/dt=2025-11-03/sh-7.redrive.jsonl"
        );
    }

    #[test]
    fn partition_time_falls_back_and_can_use_arrival() {
        let cfg = Config::default();
        let (c, d, a) = (MICROS_PER_DAY * 3, MICROS_PER_DAY * 2, MICROS_PER_DAY);
        assert_eq!(Partition::for_row(&cfg, Some(c), Some(d), a).day, Some(3));
        assert_eq!(Partition::for_row(&cfg, None, Some(d), a).day, Some(2));
        let arr = Config {
            layout: crate::config::Layout {
                partition_time: PartitionTime::Arrival,
                ..crate::config::Layout::default()
            },
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
    }
}
