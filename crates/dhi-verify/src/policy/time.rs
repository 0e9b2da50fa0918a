//! Dates in policy files and annotations: `YYYY-MM-DD` or RFC 3339
//! (`2026-01-31T12:00:00Z`, offsets and fractions allowed) to Unix seconds.

use crate::predicate::time::days_from_civil;

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A date or time that is not `YYYY-MM-DD` or RFC 3339 (or is before 1970).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a date YYYY-MM-DD or an RFC 3339 time such as 2026-01-31T12:00:00Z, found {found:?}"
)]
pub struct DateError {
    /// The text found.
    pub found: String,
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time into Unix
/// seconds. Dates before 1970 are refused.
pub fn parse_date_or_time(s: &str) -> Result<u64, DateError> {
    let err = || DateError {
        found: s.to_owned(),
    };
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = match (
        parts.next().and_then(num),
        parts.next().and_then(num),
        parts.next().and_then(num),
        parts.next(),
    ) {
        (Some(y), Some(m), Some(d), None) if date.len() == 10 => (y, m, d),
        _ => return Err(err()),
    };
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(err());
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        // HH:MM:SS[.frac](Z|±HH:MM)
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(at) = t.rfind(['+', '-']) {
            let (c, o) = t.split_at(at);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':').ok_or_else(err)?;
            let (oh, om) = (num(oh).ok_or_else(err)?, num(om).ok_or_else(err)?);
            if oh > 23 || om > 59 {
                return Err(err());
            }
            (c, sign * (oh * 3600 + om * 60))
        } else {
            return Err(err());
        };
        let clock = clock.split('.').next().unwrap_or(clock);
        let mut hms = clock.split(':');
        let (h, mi, se) = match (
            hms.next().and_then(num),
            hms.next().and_then(num),
            hms.next().and_then(num),
            hms.next(),
        ) {
            (Some(h), Some(mi), Some(se), None) if h < 24 && mi < 60 && se < 61 => (h, mi, se),
            _ => return Err(err()),
        };
        secs += h * 3600 + mi * 60 + se - offset;
    }
    u64::try_from(secs).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::parse_date_or_time as p;

    #[test]
    fn dates_and_times_convert_to_unix_seconds() {
        assert_eq!(p("1970-01-01"), Ok(0));
        assert_eq!(p("2025-04-02T12:00:00Z"), Ok(1_743_595_200));
        assert_eq!(p("2025-04-02T14:00:00+02:00"), Ok(1_743_595_200));
        assert_eq!(p("2025-06-15T15:06:40.123Z"), Ok(1_750_000_000));
        assert_eq!(p("2024-02-29"), Ok(1_709_164_800));
    }

    #[test]
    fn impossible_dates_are_rejected() {
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "2025-1-01",
            "1969-12-31",
            "2025-04-02T25:00:00Z",
            "2025-04-02T12:00:00",
            "tomorrow",
            "",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
