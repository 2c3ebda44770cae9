//! DMS column values: classified from their raw JSON text (borrowed, no tree), then converted
//! to the column's type only when that loses nothing.

use crate::model::time;
use crate::model::types::ColumnType;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One JSON value of a DMS row, borrowed from the decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// The number exactly as written (never rounded through f64 before the type is known).
    Number(&'a str),
    /// A string, unescaped.
    Str(Cow<'a, str>),
    /// An object or array, as its JSON text.
    Nested(&'a str),
}

impl<'a> Json<'a> {
    /// Classifies a raw JSON value by its first byte; only strings with escapes allocate.
    pub fn from_raw(raw: &'a RawValue) -> Result<Json<'a>, String> {
        let s = raw.get();
        Ok(match s.as_bytes().first() {
            Some(b'n') => Json::Null,
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'"') => Json::Str(json_string(s)?),
            Some(b'{') | Some(b'[') => Json::Nested(s),
            Some(_) => Json::Number(s),
            None => return Err("empty JSON value".into()),
        })
    }
}

/// The content of a JSON string literal, borrowed when it holds no escapes.
pub fn json_string(literal: &str) -> Result<Cow<'_, str>, String> {
    let inner = &literal[1..literal.len().saturating_sub(1).max(1)];
    if !inner.contains('\\') {
        Ok(Cow::Borrowed(inner))
    } else {
        serde_json::from_str::<String>(literal)
            .map(Cow::Owned)
            .map_err(|e| e.to_string())
    }
}

/// Removes insignificant whitespace from valid JSON text (DMS's tab-indented format), so the
/// same value is stored identically whichever message format DMS used.
pub fn minify_json(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let (mut in_str, mut escaped) = (false, false);
    for c in s.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if c == '"' {
            in_str = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value converted to its column's type, ready to append to an Arrow builder.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// SQL NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 32-bit integer.
    I32(i32),
    /// A 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// Unscaled decimal value (scale is the column's).
    Dec(i128),
    /// Days since the epoch.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Ts(i64),
    /// A string.
    Str(Cow<'a, str>),
    /// Bytes, decoded from DMS's hex text.
    Bin(Vec<u8>),
}

/// A conversion that succeeded with a caveat worth counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warning {
    /// An integer DMS sent in scientific notation (bigint over 16 digits without
    /// UseLargeIntegerValue): kept exactly as written, but DMS may already have rounded it.
    ScientificInteger,
}

/// Converts `v` to `ty`, or says why that would lose information.
pub fn convert<'a>(v: Json<'a>, ty: ColumnType) -> Result<(Cell<'a>, Option<Warning>), String> {
    let ok = |c| Ok((c, None));
    match (ty, v) {
        (_, Json::Null) => ok(Cell::Null),
        (ColumnType::String, Json::Str(s)) => ok(Cell::Str(s)),
        (ColumnType::String, Json::Number(n)) => ok(Cell::Str(Cow::Borrowed(n))),
        (ColumnType::String, Json::Bool(b)) => {
            ok(Cell::Str(Cow::Borrowed(if b { "true" } else { "false" })))
        }
        (ColumnType::String, Json::Nested(t)) => ok(Cell::Str(minify_json(t))),
        (ColumnType::Boolean, Json::Bool(b)) => ok(Cell::Bool(b)),
        (ColumnType::Boolean, Json::Str(s)) => match s.to_ascii_lowercase().as_str() {
            "t" | "true" => ok(Cell::Bool(true)),
            "f" | "false" => ok(Cell::Bool(false)),
            _ => Err("not a boolean (accepted: t, f, true, false)".into()),
        },
        (ColumnType::Float64, Json::Number(n)) => parse_f64(n).map(|f| (Cell::F64(f), None)),
        (ColumnType::Float64, Json::Str(s)) => match s.as_ref() {
            "NaN" => ok(Cell::F64(f64::NAN)),
            "Infinity" => ok(Cell::F64(f64::INFINITY)),
            "-Infinity" => ok(Cell::F64(f64::NEG_INFINITY)),
            t if is_json_number(t) => parse_f64(t).map(|f| (Cell::F64(f), None)),
            _ => Err("not a number".into()),
        },
        (ColumnType::Int32 | ColumnType::Int64, Json::Number(n)) => integer(n, ty),
        (ColumnType::Int32 | ColumnType::Int64, Json::Str(s)) if is_json_number(&s) => {
            integer(&s, ty)
        }
        (ColumnType::Decimal { precision, scale }, Json::Number(n)) => {
            decimal(n, precision, scale).map(|d| (Cell::Dec(d), None))
        }
        (ColumnType::Decimal { precision, scale }, Json::Str(s)) if is_json_number(&s) => {
            decimal(&s, precision, scale).map(|d| (Cell::Dec(d), None))
        }
        (ColumnType::Date, Json::Str(s)) => match time::parse_date(&s) {
            Some(d) => ok(Cell::Date(d)),
            None => Err("not a date (expected YYYY-MM-DD)".into()),
        },
        (ColumnType::Timestamp, Json::Str(s)) => match time::parse_timestamp(&s) {
            Some(t) if !t.truncated => ok(Cell::Ts(t.micros)),
            Some(_) => Err("has non-zero digits beyond microseconds".into()),
            None => Err("not an ISO 8601 timestamp".into()),
        },
        (ColumnType::Binary, Json::Str(s)) => decode_hex(&s).map(|b| (Cell::Bin(b), None)),
        (_, _) => Err("has the wrong JSON type".into()),
    }
}

fn parse_f64(n: &str) -> Result<f64, String> {
    match n.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        _ => Err("out of range for double".into()),
    }
}

/// True for text in JSON number syntax (so strings holding numbers convert like numbers).
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == int_start {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// A JSON number as sign, significant digits and a power of ten, exactly as written.
#[derive(Debug, PartialEq)]
struct Exact {
    negative: bool,
    digits: Vec<u8>,
    exp: i64,
}

fn exact(n: &str) -> Option<Exact> {
    if !is_json_number(n) {
        return None;
    }
    let (negative, rest) = match n.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, n),
    };
    let (mantissa, e) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
        None => (rest, 0),
    };
    // No integer or decimal(38) value needs an exponent beyond this; bounding it keeps the
    // arithmetic below free of overflow (and of loops as long as the exponent).
    if !(-1_000..=1_000).contains(&e) || mantissa.len() > 1_000 {
        return None;
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|c| c - b'0').collect();
    let mut exp = e - frac.len() as i64;
    while digits.len() > 1 && digits[0] == 0 {
        digits.remove(0);
    }
    while digits.len() > 1 && digits[digits.len() - 1] == 0 {
        digits.pop();
        exp += 1;
    }
    if digits == [0] {
        exp = 0;
    }
    Some(Exact {
        negative,
        digits,
        exp,
    })
}

/// The value scaled by 10^scale as an integer, if that is exact and has at most 38 digits.
fn scaled(x: &Exact, scale: i64) -> Option<i128> {
    let shift = x.exp + scale;
    if shift < 0 {
        return None; // digits below the scale: not exact
    }
    if x.digits.len() as i64 + shift > 38 {
        return None;
    }
    let mut v: i128 = 0;
    for &d in &x.digits {
        v = v * 10 + d as i128;
    }
    for _ in 0..shift {
        v *= 10;
    }
    Some(if x.negative { -v } else { v })
}

fn integer(n: &str, ty: ColumnType) -> Result<(Cell<'static>, Option<Warning>), String> {
    let warn = n.contains(['e', 'E']).then_some(Warning::ScientificInteger);
    let x = exact(n).ok_or("not a number")?;
    let v = scaled(&x, 0).ok_or("not an integer")?;
    match ty {
        ColumnType::Int32 => i32::try_from(v)
            .map(|i| (Cell::I32(i), warn))
            .map_err(|_| "out of range for int".into()),
        _ => i64::try_from(v)
            .map(|i| (Cell::I64(i), warn))
            .map_err(|_| "out of range for bigint".into()),
    }
}

fn decimal(n: &str, precision: u8, scale: u8) -> Result<i128, String> {
    let x = exact(n).ok_or("not a number")?;
    let v = scaled(&x, scale as i64)
        .ok_or_else(|| format!("does not fit decimal({precision},{scale}) exactly"))?;
    if v.unsigned_abs() >= 10u128.pow(precision as u32) {
        return Err(format!("has more than {precision} digits"));
    }
    Ok(v)
}

/// The exact decimal text of an unscaled value (`1999`, scale 2: `19.99`), never through f64.
pub fn decimal_text(unscaled: i128, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// Decodes PostgreSQL bytea as DMS sends it (`0x` + hex) or in PostgreSQL's own `\x` form.
fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("\\x"))
        .ok_or("is not bytea hex (expected 0x followed by hex digits)")?;
    if hex.len() % 2 != 0 {
        return Err("has an odd number of hex digits".into());
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    hex.as_bytes()
        .chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| "has a character that is not hex".into())
}

/// The type inferred for an undeclared column from its first non-null value, or `None` for
/// JSON null (the column's type stays open until a value arrives).
pub fn infer_type(value: &Json<'_>) -> Option<ColumnType> {
    match value {
        Json::Null => None,
        Json::Bool(_) => Some(ColumnType::Boolean),
        // Double holds every integer up to 2^53 exactly and everything DMS sends as a float;
        // bigint would break on the first fraction, and Athena cannot read bigint files as double.
        Json::Number(_) => Some(ColumnType::Float64),
        Json::Str(_) | Json::Nested(_) => Some(ColumnType::String),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType as T;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    fn conv(json: &str, ty: ColumnType) -> Result<(Cell<'static>, Option<Warning>), String> {
        let r = raw(json);
        let v = Json::from_raw(&r)?;
        convert(v, ty).map(|(c, w)| {
            let c = match c {
                Cell::Str(s) => Cell::Str(Cow::Owned(s.into_owned())),
                Cell::Null => Cell::Null,
                Cell::Bool(b) => Cell::Bool(b),
                Cell::I32(i) => Cell::I32(i),
                Cell::I64(i) => Cell::I64(i),
                Cell::F64(f) => Cell::F64(f),
                Cell::Dec(d) => Cell::Dec(d),
                Cell::Date(d) => Cell::Date(d),
                Cell::Ts(t) => Cell::Ts(t),
                Cell::Bin(b) => Cell::Bin(b),
            };
            (c, w)
        })
    }

    fn cell(json: &str, ty: ColumnType) -> Cell<'static> {
        conv(json, ty).unwrap().0
    }

    #[test]
    fn classifies_and_borrows() {
        let r = raw(r#""plain""#);
        assert!(matches!(
            Json::from_raw(&r).unwrap(),
            Json::Str(Cow::Borrowed("plain"))
        ));
        let r = raw(r#""a\"b""#);
        assert_eq!(
            Json::from_raw(&r).unwrap(),
            Json::Str(Cow::Owned("a\"b".into()))
        );
        assert_eq!(
            cell("{\n\t\"a\":\t\"x y\"\n}", T::String),
            Cell::Str("{\"a\":\"x y\"}".into())
        );
    }

    #[test]
    fn integers_are_exact_or_refused() {
        assert_eq!(cell("42", T::Int32), Cell::I32(42));
        assert_eq!(cell("42.0", T::Int64), Cell::I64(42));
        assert_eq!(cell("\"-7\"", T::Int64), Cell::I64(-7));
        assert_eq!(
            cell("9007199254740993", T::Int64),
            Cell::I64(9_007_199_254_740_993)
        );
        assert_eq!(
            conv("1.2345678901234568E+18", T::Int64).unwrap(),
            (
                Cell::I64(1_234_567_890_123_456_800),
                Some(Warning::ScientificInteger)
            )
        );
        assert!(conv("4.5", T::Int64).is_err());
        assert!(conv("3000000000", T::Int32).unwrap_err().contains("range"));
        assert!(conv("1e40", T::Int64).is_err());
        // Extreme exponents are refused, not overflowed (or looped over).
        assert!(conv("1.5e-9223372036854775808", T::Int64).is_err());
        assert!(conv("10e9223372036854775807", T::Int64).is_err());
        assert!(conv(
            "1e999999",
            T::Decimal {
                precision: 38,
                scale: 2
            }
        )
        .is_err());
        assert_eq!(cell("0e-5000", T::Float64), Cell::F64(0.0));
    }

    #[test]
    fn decimals_never_go_through_f64() {
        let d = T::Decimal {
            precision: 10,
            scale: 2,
        };
        assert_eq!(cell("19.99", d), Cell::Dec(1999));
        assert_eq!(cell("-0.1", d), Cell::Dec(-10));
        assert_eq!(cell("5", d), Cell::Dec(500));
        assert_eq!(cell("1.50000", d), Cell::Dec(150));
        assert!(conv("1.005", d).is_err());
        assert_eq!(decimal_text(-10, 2), "-0.10");
        assert_eq!(decimal_text(123_456_789, 4), "12345.6789");
        assert_eq!(decimal_text(7, 0), "7");
        assert!(conv("123456789.01", d).unwrap_err().contains("digits"));
        let big = T::Decimal {
            precision: 38,
            scale: 0,
        };
        assert_eq!(
            cell("12345678901234567890123456789", big),
            Cell::Dec(12345678901234567890123456789)
        );
    }

    #[test]
    fn postgres_encodings() {
        assert_eq!(cell("\"t\"", T::Boolean), Cell::Bool(true));
        assert_eq!(cell("\"false\"", T::Boolean), Cell::Bool(false));
        assert_eq!(cell("true", T::Boolean), Cell::Bool(true));
        assert!(conv("\"yes\"", T::Boolean).is_err());
        assert_eq!(
            cell("\"0x80057D942E\"", T::Binary),
            Cell::Bin(vec![0x80, 0x05, 0x7d, 0x94, 0x2e])
        );
        assert!(conv("\"0x8\"", T::Binary).is_err());
        assert_eq!(cell("\"2025-11-03\"", T::Date), Cell::Date(20_395));
        assert_eq!(
            cell("\"1970-01-01T00:00:01.5Z\"", T::Timestamp),
            Cell::Ts(1_500_000)
        );
        assert_eq!(cell("19.5", T::String), Cell::Str("19.5".into()));
        assert_eq!(cell("null", T::Int32), Cell::Null);
        assert!(conv("\"abc\"", T::Float64).is_err());
        assert!(conv("1e400", T::Float64).is_err());
        assert!(matches!(cell("\"NaN\"", T::Float64), Cell::F64(f) if f.is_nan()));
    }
}

/// A JSON string borrowed from the input when it has no escapes. (`#[serde(borrow)]` does not
/// reach through `Option<Cow<str>>`, which would copy every string.)
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}
