//! RFC 3339 timestamps as written in attestations: validated, kept as text, compared as instants. No clock.

use std::fmt;

use super::error::PredicateError;

/// A validated RFC 3339 date-time (`2025-08-06T07:53:50.468Z`,
/// `2024-01-02T03:04:05+01:00`), kept exactly as written.
///
/// Only the syntax and field ranges are checked (month 1–12, day within the month,
/// hour 0–23, minute 0–59, second 0–60 for leap seconds). Compare instants
/// with [`Timestamp::unix_time`], which applies the offset: as text,
/// `10:00:00+09:00` sorts after `05:00:00Z` though it is four hours earlier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    /// Validates `s` as an RFC 3339 date-time.
    ///
    /// # Errors
    /// [`PredicateError::InvalidValue`] naming `path` when `s` is not RFC 3339.
    pub fn parse(s: &str, path: &str) -> Result<Self, PredicateError> {
        if is_rfc3339(s.as_bytes()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(PredicateError::InvalidValue {
                path: path.to_owned(),
                expected: "an RFC 3339 date-time",
                found: s.chars().take(64).collect(),
            })
        }
    }

    /// The timestamp as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instant: seconds since 1970-01-01T00:00:00Z (negative before) and
    /// nanoseconds, the offset applied. Digits of the fraction past the ninth
    /// are dropped; a leap second `:60` is the first second of the next minute.
    #[must_use]
    pub fn unix_time(&self) -> (i64, u32) {
        let b = self.0.as_bytes();
        // validated when made: every field is there
        let field = |r: std::ops::Range<usize>| i64::from(digits(b, r).unwrap_or(0));
        let days = days_from_civil(field(0..4), field(5..7), field(8..10));
        let mut seconds = days * 86_400 + field(11..13) * 3600 + field(14..16) * 60 + field(17..19);
        let mut rest = b.get(19..).unwrap_or_default();
        let mut nanos = 0u32;
        if let Some((b'.', tail)) = rest.split_first() {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            for i in 0..9 {
                let digit = tail.get(i).filter(|_| i < n).map_or(0, |c| c - b'0');
                nanos = nanos * 10 + u32::from(digit);
            }
            rest = tail.get(n..).unwrap_or_default();
        }
        // `+HH:MM` east of UTC: the instant is that much earlier than the local time
        if let [sign @ (b'+' | b'-'), ..] = rest {
            let part = |r| i64::from(digits(rest, r).unwrap_or(0));
            let offset = part(1..3) * 3600 + part(4..6) * 60;
            seconds += if *sign == b'+' { -offset } else { offset };
        }
        (seconds, nanos)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses an optional timestamp field.
pub(crate) fn parse_opt(s: Option<&str>, path: &str) -> Result<Option<Timestamp>, PredicateError> {
    s.map(|s| Timestamp::parse(s, path)).transpose()
}

fn digits(b: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    let part = b.get(range)?;
    let mut n = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (the
/// era-of-400-years method, with March as the first month of the year).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_rfc3339(b: &[u8]) -> bool {
    // date-fullyear "-" date-month "-" date-mday ("T"|"t") time-hour ":" time-minute ":" time-second
    let fixed = (|| {
        let year = digits(b, 0..4)?;
        let month = digits(b, 5..7)?;
        let day = digits(b, 8..10)?;
        let hour = digits(b, 11..13)?;
        let minute = digits(b, 14..16)?;
        let second = digits(b, 17..19)?;
        let seps = [b.get(4)?, b.get(7)?, b.get(13)?, b.get(16)?];
        let ok = *seps[0] == b'-'
            && *seps[1] == b'-'
            && matches!(b.get(10)?, b'T' | b't')
            && *seps[2] == b':'
            && *seps[3] == b':'
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour <= 23
            && minute <= 59
            && second <= 60;
        Some(ok)
    })();
    if fixed != Some(true) {
        return false;
    }
    let mut rest = &b[19..];
    // time-secfrac = "." 1*DIGIT
    if let Some((b'.', tail)) = rest.split_first() {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &tail[n..];
    }
    // time-offset = "Z" / time-numoffset
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', ..] => {
            rest.len() == 6
                && rest.get(3) == Some(&b':')
                && digits(rest, 1..3).is_some_and(|h| h <= 23)
                && digits(rest, 4..6).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;
    use crate::predicate::test_support::random_strings;

    #[test]
    fn utc_offset_and_fraction_forms_are_accepted() {
        for s in [
            "2025-08-06T07:53:50.468Z",
            "2025-08-06T07:53:50Z",
            "2024-01-02T03:04:05+01:00",
            "2024-01-02t03:04:05.123456789-05:30",
            "2016-12-31T23:59:60Z",
            "2024-02-29T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(s, "t").unwrap().as_str(), s);
        }
    }

    #[test]
    fn non_rfc3339_times_are_invalid_values() {
        for s in [
            "",
            "2025-08-06",
            "2025-08-06 07:53:50Z",
            "2025-13-06T07:53:50Z",
            "2025-02-29T00:00:00Z",
            "2025-04-31T00:00:00Z",
            "2025-08-06T24:00:00Z",
            "2025-08-06T07:53:50",
            "2025-08-06T07:53:50.Z",
            "2025-08-06T07:53:50+0100",
            "yesterday",
            "2025-08-06T07:53:50Zjunk",
            "２０２５-08-06T07:53:50Z",
        ] {
            let err = Timestamp::parse(s, "predicate.timestamp").unwrap_err();
            assert!(
                matches!(err, PredicateError::InvalidValue { .. }),
                "{s}: {err:?}"
            );
        }
    }

    #[test]
    fn instants_apply_the_offset_and_the_fraction() {
        let t = |s: &str| Timestamp::parse(s, "t").unwrap().unix_time();
        assert_eq!(t("1970-01-01T00:00:00Z"), (0, 0));
        assert_eq!(t("1969-12-31T23:59:59Z"), (-1, 0));
        assert_eq!(t("2000-03-01T00:00:00Z"), (951_868_800, 0));
        assert_eq!(t("2024-02-29T12:00:00Z"), (1_709_208_000, 0));
        assert_eq!(t("2025-08-06T07:53:50.468Z"), (1_754_466_830, 468_000_000));
        assert_eq!(t("2025-08-06T07:53:50.1234567891Z").1, 123_456_789);
        // the same instant three ways
        assert_eq!(t("2025-03-01T10:00:00+09:00"), t("2025-03-01T01:00:00Z"));
        assert_eq!(t("2025-02-28T20:00:00-05:00"), t("2025-03-01T01:00:00z"));
        // later as text, earlier in time
        assert!(t("2025-03-01T10:00:00+09:00") < t("2025-03-01T05:00:00Z"));
        assert_eq!(t("2016-12-31T23:59:60Z"), t("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn random_strings_never_panic_the_timestamp_parser() {
        for s in random_strings() {
            if let Ok(t) = Timestamp::parse(&s, "t") {
                assert_eq!(t.as_str(), s);
                let _ = t.unix_time();
            }
        }
    }
}
