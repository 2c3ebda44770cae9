//! Calendar arithmetic and the timestamp formats DMS and Kinesis use, without a date crate.
//!
//! DMS writes `2025-11-03T08:15:02.104233Z` (0 to 9 fraction digits, `Z` even for `timestamp
//! without time zone`); Kinesis gives epoch seconds with a millisecond fraction. Everything is
//! kept as microseconds since the Unix epoch in UTC, the unit Athena reads from Parquet.

/// Microseconds in one day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn parse_ymd(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[0..4])? as i64;
    let m = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Parses `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(s: &str) -> Option<i32> {
    parse_ymd(s.as_bytes()).and_then(|d| i32::try_from(d).ok())
}

/// A parsed timestamp: microseconds since the epoch (UTC), and whether digits beyond the
/// microsecond were non-zero (the caller decides whether that loss is acceptable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Micros {
    /// Microseconds since the epoch, UTC.
    pub micros: i64,
    /// True when non-zero digits beyond the microsecond were dropped.
    pub truncated: bool,
}

/// Parses ISO 8601 `YYYY-MM-DD[T ]HH:MM:SS[.fffffffff][Z|+HH:MM|-HH:MM|+HHMM]` into UTC
/// microseconds. A missing zone means UTC, as DMS writes naive timestamps with or without `Z`.
pub fn parse_timestamp(s: &str) -> Option<Micros> {
    let b = s.as_bytes();
    if b.len() < 19 || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
        return None;
    }
    let days = parse_ymd(&b[0..10])?;
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let hh = digits(&b[11..13])? as i64;
    let mm = digits(&b[14..16])? as i64;
    let ss = digits(&b[17..19])? as i64;
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_micros: i64 = 0;
    let mut truncated = false;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            let pos = i - start;
            if pos < 6 {
                frac_micros = frac_micros * 10 + (b[i] - b'0') as i64;
            } else if b[i] != b'0' {
                truncated = true;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return None;
        }
        for _ in n..6 {
            frac_micros *= 10;
        }
    }
    let mut offset_secs: i64 = 0;
    match b.get(i) {
        None => {}
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &b[i + 1..];
            let (oh, om) = match rest.len() {
                2 => (digits(rest)?, 0),
                4 => (digits(&rest[0..2])?, digits(&rest[2..4])?),
                5 if rest[2] == b':' => (digits(&rest[0..2])?, digits(&rest[3..5])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            offset_secs = (oh as i64 * 3600 + om as i64 * 60) * if sign == b'+' { 1 } else { -1 };
        }
        _ => return None,
    }
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss - offset_secs;
    Some(Micros {
        micros: secs.checked_mul(1_000_000)?.checked_add(frac_micros)?,
        truncated,
    })
}

/// Converts Kinesis' `approximateArrivalTimestamp` (epoch seconds, millisecond fraction) to µs.
pub fn epoch_seconds_to_micros(secs: f64) -> Option<i64> {
    let us = (secs * 1_000_000.0).round();
    if us.is_finite() && us.abs() < 9.0e18 {
        Some(us as i64)
    } else {
        None
    }
}

/// The wall clock, in microseconds since the epoch (0 if the clock is before 1970). Used for
/// metrics, waits and history documents; never for a key.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Now, as an ISO 8601 UTC timestamp (history documents only; never part of a data key).
pub fn now_iso() -> String {
    format_timestamp(now_us())
}

/// Formats days since the epoch as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Formats epoch microseconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let secs = rem / 1_000_000;
    format!(
        "{}T{:02}:{:02}:{:02}.{:06}Z",
        format_date(days),
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        rem % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 11_016, 20_395, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2025, 11, 3), 20_395);
    }

    #[test]
    fn parses_dms_timestamps() {
        let base = parse_timestamp("2025-11-03T08:15:00Z").unwrap().micros;
        assert_eq!(base, (20_395 * 86_400 + 8 * 3600 + 15 * 60) * 1_000_000);
        assert_eq!(
            parse_timestamp("2025-11-03T08:15:00.104233Z")
                .unwrap()
                .micros,
            base + 104_233
        );
        assert_eq!(
            parse_timestamp("2025-11-03T08:15:00.1Z").unwrap().micros,
            base + 100_000
        );
        assert_eq!(parse_timestamp("2025-11-03 08:15:00").unwrap().micros, base);
        assert_eq!(
            parse_timestamp("2025-11-03T10:15:00+02:00").unwrap().micros,
            base
        );
        let nine = parse_timestamp("2025-11-03T08:15:00.123456789Z").unwrap();
        assert_eq!((nine.micros, nine.truncated), (base + 123_456, true));
        assert!(
            !parse_timestamp("2025-11-03T08:15:00.123456000Z")
                .unwrap()
                .truncated
        );
        for bad in [
            "",
            "2025-11-03",
            "2025-13-03T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-11-03T08:15:00.Z",
            "2025-11-03T08:15:00Zjunk",
            "2025-11-03T08:15:00.1234567890Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(
            format_timestamp(base + 104_233),
            "2025-11-03T08:15:00.104233Z"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn parses_dates_and_arrival() {
        assert_eq!(parse_date("2025-11-03"), Some(20_395));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2025-11-3"), None);
        assert_eq!(
            epoch_seconds_to_micros(1_762_157_702.123),
            Some(1_762_157_702_123_000)
        );
        assert_eq!(epoch_seconds_to_micros(f64::NAN), None);
    }
}
