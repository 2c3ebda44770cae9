//! Every setting of cdc-sink, parsed and validated once: from environment variables in the
//! Lambda, from flags (falling back to the same variables) in the CLI.
//!
//! Errors name the variable or flag and list the accepted values, so a bad deployment fails at
//! cold start with a message the operator can act on, not on the first event.

use std::fmt;
use std::str::FromStr;

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}{}{value:?} is not valid: {why}", if name.starts_with("--") { " " } else { "=" })]
pub struct ConfigError {
    /// The environment variable (or flag) that holds the bad value.
    pub name: String,
    /// The value given.
    pub value: String,
    /// What is accepted instead.
    pub why: String,
}

/// Declares a closed set of string-valued options with `FromStr`, `Display` and the list of
/// accepted spellings used in error messages.
macro_rules! choice {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every accepted spelling, in documentation order.
            pub const ACCEPTED: &'static [&'static str] = &[$($text),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("accepted values: {}", Self::ACCEPTED.join(", "))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice!(
    /// The file format of data objects.
    Format {
        /// Apache Parquet.
        Parquet = "parquet",
        /// JSON Lines: one JSON object per row.
        JsonLines = "jsonl"
    }
);

choice!(
    /// Compression of data objects. Parquet takes all; JSON Lines takes `none` or `gzip`.
    Compression {
        /// Snappy (Parquet only).
        Snappy = "snappy",
        /// Zstandard (Parquet only).
        Zstd = "zstd",
        /// Gzip: Parquet's codec, or the whole JSON Lines object (`.jsonl.gz`).
        Gzip = "gzip",
        /// Uncompressed.
        None = "none"
    }
);

choice!(
    /// How data objects are partitioned by time.
    Partitioning {
        /// `dt=YYYY-MM-DD`
        Day = "day",
        /// `dt=YYYY-MM-DD/hr=HH`
        Hour = "hour",
        /// No time partition folders.
        None = "none"
    }
);

choice!(
    /// Which time places a row in a partition.
    PartitionTime {
        /// The source commit time, falling back to the DMS time (full load has no commit time).
        Commit = "commit",
        /// The Kinesis arrival time.
        Arrival = "arrival"
    }
);

choice!(
    /// How many objects a batch writes: one per table and partition, or one for the batch.
    Objects {
        /// One object per table and partition per batch, in the table's folder (the classic
        /// layout: no compaction needed, one PUT per table a batch touches).
        Table = "table",
        /// One object per batch holding every table's rows, under `_batches/`, laid out per
        /// table later by `cdc-sink compact` (one PUT per batch, whatever the table count).
        Batch = "batch"
    }
);

/// How a lake's data objects are written: format, compression, partitioning, partition time.
/// One value, held by [`Config`] (what a writer writes), the Athena DDL options (what a reader
/// reads) and the lake's layout document (what the lake holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The file format of data objects.
    pub format: Format,
    /// Their compression.
    pub compression: Compression,
    /// Their time partitions.
    pub partition: Partitioning,
    /// Which time places a row in a partition.
    pub partition_time: PartitionTime,
    /// One object per table and partition per batch, or one per batch (compacted later).
    pub objects: Objects,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            format: Format::Parquet,
            compression: Compression::Snappy,
            partition: Partitioning::Day,
            partition_time: PartitionTime::Commit,
            objects: Objects::Table,
        }
    }
}

impl Layout {
    /// The CLI flags that select this layout.
    pub fn flags(&self) -> String {
        format!(
            "--format {} --compression {} --partition {} --partition-time {} --objects {}",
            self.format, self.compression, self.partition, self.partition_time, self.objects
        )
    }

    /// The file name extension of data objects, e.g. `parquet` or `jsonl.gz`.
    pub fn extension(&self) -> &'static str {
        match (self.format, self.compression) {
            (Format::Parquet, _) => "parquet",
            (Format::JsonLines, Compression::Gzip) => "jsonl.gz",
            (Format::JsonLines, _) => "jsonl",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "format={} compression={} partition={} partition_time={} objects={}",
            self.format, self.compression, self.partition, self.partition_time, self.objects
        )
    }
}

/// The pipeline's settings: what to write and how to lay it out. Sink settings live in
/// `store::s3::S3Settings` because only the S3 store needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How data objects are laid out.
    pub layout: Layout,
    /// The top-level key under which DMS puts the before-image (`BeforeImageSettings.FieldName`).
    pub before_image_key: String,
    /// Cached registry schemas older than this are re-read, to notice other writers' changes.
    pub schema_refresh: std::time::Duration,
    /// Threads that encode a batch's objects (`CDC_ENCODE_THREADS`); 0 means every core the
    /// process may use. The objects are the same whatever the count.
    pub encode_threads: usize,
    /// How long rows of a table with no registered schema wait for its declaration (another
    /// shard's `create-table`), counted from the records' arrival; zero infers at once.
    pub await_table_def: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            layout: Layout::default(),
            before_image_key: "before-image".to_string(),
            schema_refresh: std::time::Duration::from_secs(DEFAULT_SCHEMA_REFRESH_SECS),
            encode_threads: 0,
            await_table_def: std::time::Duration::from_secs(DEFAULT_AWAIT_TABLE_DEF_SECS),
        }
    }
}

/// Default of `CDC_SCHEMA_REFRESH_SECS`.
pub const DEFAULT_SCHEMA_REFRESH_SECS: u64 = 60;

/// Default of `CDC_AWAIT_TABLE_DEF_SECS`: half the template's default 120 s function timeout.
pub const DEFAULT_AWAIT_TABLE_DEF_SECS: u64 = 60;

/// Environment variable names, shared by the Lambda, the CLI's flag fallbacks and `.env.example`.
pub mod env {
    /// Data object format: `parquet` or `jsonl` ([`Format`](super::Format)).
    pub const FORMAT: &str = "CDC_FORMAT";
    /// Data object compression ([`Compression`](super::Compression)).
    pub const COMPRESSION: &str = "CDC_COMPRESSION";
    /// Time partitioning: `day`, `hour` or `none` ([`Partitioning`](super::Partitioning)).
    pub const PARTITION: &str = "CDC_PARTITION";
    /// Which time partitions a row: `commit` or `arrival` ([`PartitionTime`](super::PartitionTime)).
    pub const PARTITION_TIME: &str = "CDC_PARTITION_TIME";
    /// Objects per batch: `table` or `batch` ([`Objects`](super::Objects)).
    pub const OBJECTS: &str = "CDC_OBJECTS";
    /// Top-level key of DMS's before-image (`BeforeImageSettings.FieldName`), default `before-image`.
    pub const BEFORE_IMAGE_KEY: &str = "CDC_BEFORE_IMAGE_KEY";
    /// S3 bucket the lake is written to.
    pub const BUCKET: &str = "CDC_BUCKET";
    /// Key prefix of the lake inside the bucket.
    pub const PREFIX: &str = "CDC_PREFIX";
    /// SSE-KMS key id or ARN; unset leaves encryption to the bucket default.
    pub const KMS_KEY_ID: &str = "CDC_KMS_KEY_ID";
    /// Size, in MiB, from which objects are uploaded in parts (5 to 5120).
    pub const MULTIPART_THRESHOLD_MB: &str = "CDC_MULTIPART_THRESHOLD_MB";
    /// Attempts per S3 request, the first included (1 to 20).
    pub const S3_MAX_ATTEMPTS: &str = "CDC_S3_MAX_ATTEMPTS";
    /// Timeout of one S3 request attempt, in seconds.
    pub const S3_ATTEMPT_TIMEOUT_SECS: &str = "CDC_S3_ATTEMPT_TIMEOUT_SECS";
    /// S3 path-style addressing, a boolean; unset means only when an endpoint URL is configured.
    pub const S3_FORCE_PATH_STYLE: &str = "CDC_S3_FORCE_PATH_STYLE";
    /// Time allowed to open a connection to S3, in seconds.
    pub const S3_CONNECT_TIMEOUT_SECS: &str = "CDC_S3_CONNECT_TIMEOUT_SECS";
    /// Time allowed from sending an S3 request to the first byte of the answer, in seconds.
    pub const S3_READ_TIMEOUT_SECS: &str = "CDC_S3_READ_TIMEOUT_SECS";
    /// CloudWatch metrics namespace of the Lambda's embedded metrics, default `cdc-sink`.
    pub const METRICS_NAMESPACE: &str = "CDC_METRICS_NAMESPACE";
    /// Seconds after which a cached registry schema is re-read ([`DEFAULT_SCHEMA_REFRESH_SECS`](super::DEFAULT_SCHEMA_REFRESH_SECS)).
    pub const SCHEMA_REFRESH_SECS: &str = "CDC_SCHEMA_REFRESH_SECS";
    /// Threads that encode a batch's objects; 0 means every core the process may use.
    pub const ENCODE_THREADS: &str = "CDC_ENCODE_THREADS";
    /// Seconds rows of an undeclared table wait for its `create-table` ([`DEFAULT_AWAIT_TABLE_DEF_SECS`](super::DEFAULT_AWAIT_TABLE_DEF_SECS)).
    pub const AWAIT_TABLE_DEF_SECS: &str = "CDC_AWAIT_TABLE_DEF_SECS";
    /// The compaction function: hours per window (1, 2, 3, 4, 6, 8, 12 or 24), default 1.
    pub const COMPACT_WINDOW_HOURS: &str = "CDC_COMPACT_WINDOW_HOURS";
    /// The compaction function: seconds after a window's end before it is compacted, default 3600.
    pub const COMPACT_CLOSE_AFTER_SECS: &str = "CDC_COMPACT_CLOSE_AFTER_SECS";
    /// The compaction function: target size of a compacted object in MiB, default 128.
    pub const COMPACT_TARGET_MB: &str = "CDC_COMPACT_TARGET_MB";
    /// The compaction function: batch-object MiB read into memory by one pass, default 256.
    pub const COMPACT_MAX_INPUT_MB: &str = "CDC_COMPACT_MAX_INPUT_MB";

    /// Every variable cdc-sink reads (documented in `.env.example` and the README).
    pub const ALL: &[&str] = &[
        BUCKET,
        PREFIX,
        FORMAT,
        COMPRESSION,
        PARTITION,
        PARTITION_TIME,
        OBJECTS,
        BEFORE_IMAGE_KEY,
        KMS_KEY_ID,
        MULTIPART_THRESHOLD_MB,
        S3_MAX_ATTEMPTS,
        S3_ATTEMPT_TIMEOUT_SECS,
        S3_CONNECT_TIMEOUT_SECS,
        S3_READ_TIMEOUT_SECS,
        S3_FORCE_PATH_STYLE,
        METRICS_NAMESPACE,
        SCHEMA_REFRESH_SECS,
        ENCODE_THREADS,
        AWAIT_TABLE_DEF_SECS,
        COMPACT_WINDOW_HOURS,
        COMPACT_CLOSE_AFTER_SECS,
        COMPACT_TARGET_MB,
        COMPACT_MAX_INPUT_MB,
        "AWS_ENDPOINT_URL_S3",
        "RUST_LOG",
    ];
}

/// The key prefix when none is given (`CDC_PREFIX` unset or empty, `--out s3://BUCKET`).
pub const DEFAULT_PREFIX: &str = "cdc";

/// Normalises a user-given key prefix: no leading or trailing `/`, no empty, `.` or `..`
/// segments. The one parser of a prefix, for `CDC_PREFIX` and `--out s3://bucket/prefix` alike.
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

/// `CDC_PREFIX`, normalised, [`DEFAULT_PREFIX`] when unset or empty: how the Lambda and the
/// scheduled Athena job find the lake in their bucket.
pub fn prefix_from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let raw = non_empty(lookup, env::PREFIX).unwrap_or_else(|| DEFAULT_PREFIX.into());
    normalise_prefix(&raw).map_err(|why| ConfigError {
        name: env::PREFIX.into(),
        value: raw,
        why,
    })
}

/// Parses one named setting, turning the parse failure into a [`ConfigError`].
pub fn parse_setting<T: FromStr<Err = String>>(name: &str, value: &str) -> Result<T, ConfigError> {
    value.parse().map_err(|why| ConfigError {
        name: name.to_string(),
        value: value.to_string(),
        why,
    })
}

/// Reads a variable, treating unset and empty alike (CloudFormation cannot omit a variable).
pub fn non_empty(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// Every bad setting at once, so one deployment fixes them all (one line each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// A setting's value and the name the user gave it by: a flag (`--format`) or a variable
/// (`CDC_FORMAT`). Errors name what the user wrote, not a variable they never set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// The flag (`--format`) or variable (`CDC_FORMAT`) the value came by.
    pub name: String,
    /// The value as given.
    pub value: String,
}

/// Collects the errors of several settings instead of stopping at the first.
#[derive(Default)]
pub struct Errors(pub Vec<ConfigError>);

impl Errors {
    /// The value, or the default after recording the error.
    pub fn take<T>(&mut self, r: Result<T, ConfigError>, default: T) -> T {
        r.unwrap_or_else(|e| {
            self.0.push(e);
            default
        })
    }

    /// `Ok(v)` when no error was recorded.
    pub fn finish<T>(self, v: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(v)
        } else {
            Err(ConfigErrors(self.0))
        }
    }
}

/// Parses a setting that may be absent (`None`: the default).
fn parse_given<T: FromStr<Err = String>>(g: &Option<Given>) -> Result<Option<T>, ConfigError> {
    g.as_ref()
        .map(|g| parse_setting(&g.name, &g.value))
        .transpose()
}

/// An integer setting within `min..=max`.
pub fn parse_number(g: &Given, min: u64, max: u64, unit: &str) -> Result<u64, ConfigError> {
    match g.value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError {
            name: g.name.clone(),
            value: g.value.clone(),
            why: format!("accepted: an integer {unit}from {min} to {max}"),
        }),
    }
}

impl Config {
    /// Builds the config from the process environment.
    pub fn from_env() -> Result<Config, ConfigErrors> {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable lookup (the environment, or a map in tests). Unset
    /// and empty variables mean the default.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
        Config::from_given(&|name| {
            non_empty(lookup, name).map(|value| Given {
                name: name.to_string(),
                value,
            })
        })
    }

    /// Builds the config from values keyed by variable name, each carrying the name the user
    /// gave it by (the CLI maps `CDC_FORMAT` to `--format` when the flag was given). Reports
    /// every bad setting, not only the first.
    pub fn from_given(lookup: &dyn Fn(&str) -> Option<Given>) -> Result<Config, ConfigErrors> {
        let mut errs = Errors::default();
        let format_g = lookup(env::FORMAT);
        let format = errs
            .take(parse_given(&format_g), None)
            .unwrap_or(Format::Parquet);
        let compression_g = lookup(env::COMPRESSION);
        let compression = errs.take(parse_given::<Compression>(&compression_g), None);
        let partition = errs
            .take(parse_given(&lookup(env::PARTITION)), None)
            .unwrap_or(Partitioning::Day);
        let partition_time = errs
            .take(parse_given(&lookup(env::PARTITION_TIME)), None)
            .unwrap_or(PartitionTime::Commit);
        let objects = errs
            .take(parse_given(&lookup(env::OBJECTS)), None)
            .unwrap_or(Objects::Table);
        let compression = match (format, compression) {
            (Format::Parquet, None) => Compression::Snappy,
            (Format::JsonLines, None) => Compression::None,
            (Format::JsonLines, Some(c @ (Compression::Snappy | Compression::Zstd))) => {
                let format_name = format_g.map_or_else(|| env::FORMAT.to_string(), |g| g.name);
                let sep = if format_name.starts_with("--") {
                    " "
                } else {
                    "="
                };
                errs.0.push(ConfigError {
                    name: compression_g.map_or_else(|| env::COMPRESSION.to_string(), |g| g.name),
                    value: c.to_string(),
                    why: format!(
                        "with {format_name}{sep}jsonl the accepted values are: none, gzip"
                    ),
                });
                Compression::None
            }
            (_, Some(c)) => c,
        };
        let before_g = lookup(env::BEFORE_IMAGE_KEY).unwrap_or(Given {
            name: env::BEFORE_IMAGE_KEY.into(),
            value: "before-image".into(),
        });
        let before_image_key = before_g.value.clone();
        if before_image_key.trim().is_empty()
            || ["metadata", "data", "control"].contains(&before_image_key.as_str())
        {
            errs.0.push(ConfigError {
                name: before_g.name,
                value: before_image_key.clone(),
                why: "it must be a non-empty key other than metadata, data and control".into(),
            });
        }
        let mut cfg = Config {
            layout: Layout {
                format,
                compression,
                partition,
                partition_time,
                objects,
            },
            before_image_key,
            ..Config::default()
        };
        if let Some(g) = lookup(env::SCHEMA_REFRESH_SECS) {
            let secs = errs.take(
                parse_number(&g, 0, 86_400, "number of seconds "),
                DEFAULT_SCHEMA_REFRESH_SECS,
            );
            cfg.schema_refresh = std::time::Duration::from_secs(secs);
        }
        if let Some(g) = lookup(env::ENCODE_THREADS) {
            cfg.encode_threads =
                errs.take(parse_number(&g, 0, 64, "thread count (0: every core) "), 0) as usize;
        }
        if let Some(g) = lookup(env::AWAIT_TABLE_DEF_SECS) {
            let secs = errs.take(
                parse_number(
                    &g,
                    0,
                    900,
                    "number of seconds (0: off, 900: Lambda's longest timeout) ",
                ),
                cfg.await_table_def.as_secs(),
            );
            cfg.await_table_def = std::time::Duration::from_secs(secs);
        }
        errs.finish(cfg)
    }

    /// Builds and validates a config; `compression: None` picks the format's default
    /// (snappy for Parquet, none for JSON Lines).
    pub fn new(
        format: Format,
        compression: Option<Compression>,
        partition: Partitioning,
        partition_time: PartitionTime,
        before_image_key: String,
    ) -> Result<Config, ConfigErrors> {
        let values = [
            (env::FORMAT, Some(format.to_string())),
            (env::COMPRESSION, compression.map(|c| c.to_string())),
            (env::PARTITION, Some(partition.to_string())),
            (env::PARTITION_TIME, Some(partition_time.to_string())),
            (env::BEFORE_IMAGE_KEY, Some(before_image_key)),
        ];
        Config::from_given(&|name| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.clone())
                .map(|value| Given {
                    name: name.to_string(),
                    value,
                })
        })
    }

    /// The file name extension of data objects, e.g. `parquet` or `jsonl.gz`.
    pub fn extension(&self) -> &'static str {
        self.layout.extension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        assert_eq!(from(&[]).unwrap(), Config::default());
        assert_eq!(from(&[(env::COMPRESSION, "")]).unwrap(), Config::default());
        let jsonl = from(&[(env::FORMAT, "JSONL")]).unwrap();
        assert_eq!(
            (jsonl.layout.compression, jsonl.extension()),
            (Compression::None, "jsonl")
        );
    }

    #[test]
    fn errors_name_the_variable_and_the_accepted_values() {
        let e = from(&[(env::PARTITION, "weekly")]).unwrap_err();
        let e = &e.0[0];
        assert_eq!(
            e.to_string(),
            "CDC_PARTITION=\"weekly\" is not valid: accepted values: day, hour, none"
        );
        let e = from(&[(env::FORMAT, "jsonl"), (env::COMPRESSION, "zstd")]).unwrap_err();
        assert!(e.to_string().contains("none, gzip"), "{e}");
        let e = from(&[(env::ENCODE_THREADS, "all")]).unwrap_err();
        assert!(e.to_string().contains("CDC_ENCODE_THREADS"), "{e}");
        assert_eq!(
            from(&[(env::ENCODE_THREADS, "2")]).unwrap().encode_threads,
            2
        );
        let e = from(&[(env::SCHEMA_REFRESH_SECS, "soon")]).unwrap_err();
        assert_eq!(e.0[0].name, "CDC_SCHEMA_REFRESH_SECS");
        let cfg = from(&[(env::SCHEMA_REFRESH_SECS, "5")]).unwrap();
        assert_eq!(cfg.schema_refresh, std::time::Duration::from_secs(5));
        let e = from(&[(env::AWAIT_TABLE_DEF_SECS, "-1")]).unwrap_err();
        assert_eq!(e.0[0].name, "CDC_AWAIT_TABLE_DEF_SECS");
        let e = from(&[(env::OBJECTS, "file")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "CDC_OBJECTS=\"file\" is not valid: accepted values: table, batch"
        );
        let cfg = from(&[(env::OBJECTS, "Batch")]).unwrap();
        assert_eq!(cfg.layout.objects, Objects::Batch);
        let cfg = from(&[(env::AWAIT_TABLE_DEF_SECS, "0")]).unwrap();
        assert!(cfg.await_table_def.is_zero());
        let e = from(&[(env::BEFORE_IMAGE_KEY, "data")]).unwrap_err();
        assert_eq!(e.0[0].name, "CDC_BEFORE_IMAGE_KEY");
    }

    #[test]
    fn prefixes_are_normalised_once() {
        assert!(normalise_prefix("a/../b").is_err());
        assert_eq!(normalise_prefix("/cdc/").unwrap(), "cdc");
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(prefix_from_lookup(&lookup(&[])).unwrap(), "cdc");
        assert_eq!(
            prefix_from_lookup(&lookup(&[(env::PREFIX, "/lake/x/")])).unwrap(),
            "lake/x"
        );
        let e = prefix_from_lookup(&lookup(&[(env::PREFIX, "a//b")])).unwrap_err();
        assert_eq!(e.name, "CDC_PREFIX");
    }

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let e = from(&[
            (env::FORMAT, "csv"),
            (env::PARTITION, "weekly"),
            (env::PARTITION_TIME, "now"),
            (env::SCHEMA_REFRESH_SECS, "-1"),
            (env::COMPRESSION, ""),
        ])
        .unwrap_err();
        let names: Vec<&str> = e.0.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CDC_FORMAT",
                "CDC_PARTITION",
                "CDC_PARTITION_TIME",
                "CDC_SCHEMA_REFRESH_SECS"
            ]
        );
        assert_eq!(e.to_string().lines().count(), 4);
    }

    #[test]
    fn errors_name_the_flag_the_user_gave() {
        let given = |name: &str| match name {
            env::FORMAT => Some(Given {
                name: "--format".into(),
                value: "jsonl".into(),
            }),
            env::COMPRESSION => Some(Given {
                name: "--compression".into(),
                value: "zstd".into(),
            }),
            _ => None,
        };
        let e = Config::from_given(&given).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--compression \"zstd\" is not valid: with --format jsonl the accepted values are: none, gzip"
        );
    }
}
