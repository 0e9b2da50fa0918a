//! RFC 3339 timestamps as written in attestations: validated, kept as text. No clock, no time zone arithmetic.

use std::fmt;

use super::error::PredicateError;

/// A validated RFC 3339 date-time (`2025-08-06T07:53:50.468Z`,
/// `2024-01-02T03:04:05+01:00`), kept exactly as written.
///
/// Only the syntax and field ranges are checked (month 1–12, day within the month,
/// hour 0–23, minute 0–59, second 0–60 for leap seconds); comparing two
/// timestamps with different offsets is not supported, and
/// [`Timestamp::sort_key`] is only meaningful between UTC (`Z`) values.
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

    /// A string that sorts chronologically for UTC timestamps with the same
    /// fraction precision (`YYYY-MM-DDTHH:MM:SS`); used to pick the latest VEX statement.
    #[must_use]
    pub fn sort_key(&self) -> &str {
        self.0.get(..19).unwrap_or(&self.0)
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
    fn random_strings_never_panic_the_timestamp_parser() {
        for s in random_strings() {
            if let Ok(t) = Timestamp::parse(&s, "t") {
                assert_eq!(t.as_str(), s);
                let _ = t.sort_key();
            }
        }
    }
}
