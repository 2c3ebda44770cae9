//! Column types cdc-sink writes: exactly the ones Athena reads from Parquet and JSON.

use arrow::datatypes::{DataType, TimeUnit};
use std::fmt;
use std::str::FromStr;

/// Timezone of every timestamp column: UTC (as an offset, which arrow formats without a tz
/// database), so Parquet marks it `isAdjustedToUTC`.
pub const UTC: &str = "+00:00";

/// A column's logical type. Each maps to one Arrow type and one Athena type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// Athena `boolean`.
    Boolean,
    /// Athena `int`.
    Int32,
    /// Athena `bigint`.
    Int64,
    /// Athena `double`.
    Float64,
    /// Athena `decimal(p,s)`, 1 <= p <= 38, 0 <= s <= p.
    Decimal {
        /// Total digits, 1 to 38.
        precision: u8,
        /// Digits after the decimal point, 0 to `precision`.
        scale: u8,
    },
    /// Athena `date`: days since the epoch.
    Date,
    /// Microseconds, UTC.
    Timestamp,
    /// Athena `string`, UTF-8.
    String,
    /// Athena `binary`.
    Binary,
}

impl ColumnType {
    /// The Arrow type this column is built with.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::Boolean => DataType::Boolean,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Decimal { precision, scale } => {
                DataType::Decimal128(precision, scale as i8)
            }
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            ColumnType::String => DataType::Utf8,
            ColumnType::Binary => DataType::Binary,
        }
    }

    /// The Athena (Hive DDL) type name.
    pub fn athena(self) -> String {
        match self {
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Int32 => "int".into(),
            ColumnType::Int64 => "bigint".into(),
            ColumnType::Float64 => "double".into(),
            ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
            ColumnType::Date => "date".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::String => "string".into(),
            ColumnType::Binary => "binary".into(),
        }
    }

    /// True when Athena reads files written with `self` under the type `to`
    /// (only INT to BIGINT and FLOAT to DOUBLE widen; everything else must stay as registered).
    pub fn widens_to(self, to: ColumnType) -> bool {
        self == to || matches!((self, to), (ColumnType::Int32, ColumnType::Int64))
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.athena())
    }
}

impl FromStr for ColumnType {
    type Err = String;
    /// Parses the Athena spelling (`int`, `bigint`, `decimal(10,2)`, `timestamp`, ...).
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let simple = match t.as_str() {
            "boolean" | "bool" => Some(ColumnType::Boolean),
            "int" | "integer" | "int32" => Some(ColumnType::Int32),
            "bigint" | "int64" => Some(ColumnType::Int64),
            "double" | "float64" => Some(ColumnType::Float64),
            "date" => Some(ColumnType::Date),
            "timestamp" => Some(ColumnType::Timestamp),
            "string" => Some(ColumnType::String),
            "binary" => Some(ColumnType::Binary),
            _ => None,
        };
        if let Some(ty) = simple {
            return Ok(ty);
        }
        if let Some(args) = t.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
            let mut parts = args.split(',').map(|p| p.trim().parse::<u8>());
            if let (Some(Ok(p)), Some(Ok(s)), None) = (parts.next(), parts.next(), parts.next()) {
                return decimal(p as u32, s as u32).ok_or_else(|| {
                    format!("decimal({p},{s}): need 1 <= precision <= 38 and scale <= precision")
                });
            }
        }
        Err(format!(
            "unknown column type {s:?}; accepted: boolean, int, bigint, double, decimal(p,s), date, timestamp, string, binary"
        ))
    }
}

/// A decimal type if `precision` and `scale` are ones Athena accepts.
pub fn decimal(precision: u32, scale: u32) -> Option<ColumnType> {
    (1..=38).contains(&precision).then_some(())?;
    (scale <= precision).then_some(ColumnType::Decimal {
        precision: precision as u8,
        scale: scale as u8,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn athena_names_round_trip() {
        for ty in [
            ColumnType::Boolean,
            ColumnType::Int32,
            ColumnType::Int64,
            ColumnType::Float64,
            ColumnType::Decimal {
                precision: 10,
                scale: 2,
            },
            ColumnType::Date,
            ColumnType::Timestamp,
            ColumnType::String,
            ColumnType::Binary,
        ] {
            assert_eq!(ty.athena().parse::<ColumnType>().unwrap(), ty);
        }
        assert!("decimal(39,2)".parse::<ColumnType>().is_err());
        assert!("uint64"
            .parse::<ColumnType>()
            .unwrap_err()
            .contains("accepted"));
    }
}
