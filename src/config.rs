//! Every setting of cdc-sink, parsed and validated once: from environment variables in the
//! Lambda, from flags (falling back to the same variables) in the CLI.
//!
//! Errors name the variable or flag and list the accepted values, so a bad deployment fails at
//! cold start with a message the operator can act on, not on the first event.

use std::fmt;
use std::str::FromStr;

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}={value:?} is not valid: {why}")]
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
    Format { Parquet = "parquet", JsonLines = "jsonl" }
);

choice!(
    /// Compression of data objects. Parquet takes all; JSON Lines takes `none` or `gzip`.
    Compression { Snappy = "snappy", Zstd = "zstd", Gzip = "gzip", None = "none" }
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

/// The pipeline's settings: what to write and how to lay it out. Sink settings live in
/// [`crate::sink::s3::S3Settings`] because only the S3 sink needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub format: Format,
    pub compression: Compression,
    pub partition: Partitioning,
    pub partition_time: PartitionTime,
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
            format: Format::Parquet,
            compression: Compression::Snappy,
            partition: Partitioning::Day,
            partition_time: PartitionTime::Commit,
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
    pub const FORMAT: &str = "CDC_FORMAT";
    pub const COMPRESSION: &str = "CDC_COMPRESSION";
    pub const PARTITION: &str = "CDC_PARTITION";
    pub const PARTITION_TIME: &str = "CDC_PARTITION_TIME";
    pub const BEFORE_IMAGE_KEY: &str = "CDC_BEFORE_IMAGE_KEY";
    pub const BUCKET: &str = "CDC_BUCKET";
    pub const PREFIX: &str = "CDC_PREFIX";
    pub const KMS_KEY_ID: &str = "CDC_KMS_KEY_ID";
    pub const MULTIPART_THRESHOLD_MB: &str = "CDC_MULTIPART_THRESHOLD_MB";
    pub const S3_MAX_ATTEMPTS: &str = "CDC_S3_MAX_ATTEMPTS";
    pub const S3_ATTEMPT_TIMEOUT_SECS: &str = "CDC_S3_ATTEMPT_TIMEOUT_SECS";
    pub const S3_FORCE_PATH_STYLE: &str = "CDC_S3_FORCE_PATH_STYLE";
    pub const METRICS_NAMESPACE: &str = "CDC_METRICS_NAMESPACE";
    pub const SCHEMA_REFRESH_SECS: &str = "CDC_SCHEMA_REFRESH_SECS";
    pub const ENCODE_THREADS: &str = "CDC_ENCODE_THREADS";
    pub const AWAIT_TABLE_DEF_SECS: &str = "CDC_AWAIT_TABLE_DEF_SECS";

    /// Every variable cdc-sink reads (documented in `.env.example` and the README).
    pub const ALL: &[&str] = &[
        BUCKET,
        PREFIX,
        FORMAT,
        COMPRESSION,
        PARTITION,
        PARTITION_TIME,
        BEFORE_IMAGE_KEY,
        KMS_KEY_ID,
        MULTIPART_THRESHOLD_MB,
        S3_MAX_ATTEMPTS,
        S3_ATTEMPT_TIMEOUT_SECS,
        S3_FORCE_PATH_STYLE,
        METRICS_NAMESPACE,
        SCHEMA_REFRESH_SECS,
        ENCODE_THREADS,
        AWAIT_TABLE_DEF_SECS,
        "AWS_ENDPOINT_URL_S3",
        "RUST_LOG",
    ];
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

/// Parses `CDC_ENCODE_THREADS`: 0 (every core) or a thread count up to 64.
pub fn parse_encode_threads(v: &str) -> Result<usize, ConfigError> {
    match v.trim().parse::<usize>() {
        Ok(n) if n <= 64 => Ok(n),
        _ => Err(ConfigError {
            name: env::ENCODE_THREADS.into(),
            value: v.to_string(),
            why: "accepted: 0 (every core the function has) or a thread count from 1 to 64".into(),
        }),
    }
}

impl Config {
    /// Builds the config from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable lookup (the environment, or a map in tests).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| non_empty(lookup, name);
        let format = match get(env::FORMAT) {
            Some(v) => parse_setting(env::FORMAT, &v)?,
            None => Format::Parquet,
        };
        let compression = match get(env::COMPRESSION) {
            Some(v) => Some(parse_setting(env::COMPRESSION, &v)?),
            None => None,
        };
        let partition = match get(env::PARTITION) {
            Some(v) => parse_setting(env::PARTITION, &v)?,
            None => Partitioning::Day,
        };
        let partition_time = match get(env::PARTITION_TIME) {
            Some(v) => parse_setting(env::PARTITION_TIME, &v)?,
            None => PartitionTime::Commit,
        };
        let before_image_key = get(env::BEFORE_IMAGE_KEY).unwrap_or_else(|| "before-image".into());
        let mut cfg = Config::new(
            format,
            compression,
            partition,
            partition_time,
            before_image_key,
        )?;
        if let Some(v) = get(env::SCHEMA_REFRESH_SECS) {
            match v.trim().parse::<u64>() {
                Ok(n) if n <= 86_400 => cfg.schema_refresh = std::time::Duration::from_secs(n),
                _ => {
                    return Err(ConfigError {
                        name: env::SCHEMA_REFRESH_SECS.into(),
                        value: v,
                        why: "accepted: an integer number of seconds from 0 to 86400".into(),
                    })
                }
            }
        }
        if let Some(v) = get(env::ENCODE_THREADS) {
            cfg.encode_threads = parse_encode_threads(&v)?;
        }
        if let Some(v) = get(env::AWAIT_TABLE_DEF_SECS) {
            match v.trim().parse::<u64>() {
                Ok(n) if n <= 900 => cfg.await_table_def = std::time::Duration::from_secs(n),
                _ => {
                    return Err(ConfigError {
                        name: env::AWAIT_TABLE_DEF_SECS.into(),
                        value: v,
                        why: "accepted: an integer number of seconds from 0 (off) to 900 (Lambda's longest timeout)".into(),
                    })
                }
            }
        }
        Ok(cfg)
    }

    /// Builds and validates a config; `compression: None` picks the format's default
    /// (snappy for Parquet, none for JSON Lines).
    pub fn new(
        format: Format,
        compression: Option<Compression>,
        partition: Partitioning,
        partition_time: PartitionTime,
        before_image_key: String,
    ) -> Result<Config, ConfigError> {
        let compression = match (format, compression) {
            (Format::Parquet, None) => Compression::Snappy,
            (Format::JsonLines, None) => Compression::None,
            (Format::JsonLines, Some(c @ (Compression::Snappy | Compression::Zstd))) => {
                return Err(ConfigError {
                    name: env::COMPRESSION.into(),
                    value: c.to_string(),
                    why: "with CDC_FORMAT=jsonl the accepted values are: none, gzip".into(),
                })
            }
            (_, Some(c)) => c,
        };
        if before_image_key.is_empty()
            || ["metadata", "data", "control"].contains(&before_image_key.as_str())
        {
            return Err(ConfigError {
                name: env::BEFORE_IMAGE_KEY.into(),
                value: before_image_key,
                why: "it must be a non-empty key other than metadata, data and control".into(),
            });
        }
        Ok(Config {
            format,
            compression,
            partition,
            partition_time,
            before_image_key,
            ..Config::default()
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
            (jsonl.compression, jsonl.extension()),
            (Compression::None, "jsonl")
        );
    }

    #[test]
    fn errors_name_the_variable_and_the_accepted_values() {
        let e = from(&[(env::PARTITION, "weekly")]).unwrap_err();
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
        assert_eq!(e.name, "CDC_SCHEMA_REFRESH_SECS");
        let cfg = from(&[(env::SCHEMA_REFRESH_SECS, "5")]).unwrap();
        assert_eq!(cfg.schema_refresh, std::time::Duration::from_secs(5));
        let e = from(&[(env::AWAIT_TABLE_DEF_SECS, "-1")]).unwrap_err();
        assert_eq!(e.name, "CDC_AWAIT_TABLE_DEF_SECS");
        let cfg = from(&[(env::AWAIT_TABLE_DEF_SECS, "0")]).unwrap();
        assert!(cfg.await_table_def.is_zero());
        let e = from(&[(env::BEFORE_IMAGE_KEY, "data")]).unwrap_err();
        assert_eq!(e.name, "CDC_BEFORE_IMAGE_KEY");
    }
}
