//! When to retry a registry request and how long to wait: 429, 500, 502,
//! 503 and 504 answers and failed connections are retried a bounded number of
//! times with exponential backoff and full jitter, honouring `Retry-After`
//! (in seconds; capped).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Whether an HTTP status is worth another try.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// A random number in `0..=max` (std's per-process random hash keys; good
/// enough to spread retries, not for cryptography).
fn jitter(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    let mut h = RandomState::new().build_hasher();
    h.write_u64(max);
    h.finish() % (max + 1)
}

/// The wait before retry number `attempt` (1 for the first retry): half of
/// `base · 2^(attempt-1)` plus a random part up to the other half, at most 8 s.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
    let exp = exp.min(Duration::from_secs(8));
    let ms = u64::try_from(exp.as_millis()).unwrap_or(8_000);
    Duration::from_millis(ms / 2 + jitter(ms - ms / 2))
}

/// `Retry-After` in seconds, capped at `cap`. HTTP dates are not honoured
/// (None: the caller backs off instead).
pub(crate) fn retry_after(value: Option<&str>, cap: Duration) -> Option<Duration> {
    let secs: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let base = Duration::from_millis(100);
        for attempt in 1..40 {
            let d = backoff(base, attempt);
            let full = base
                .saturating_mul(1 << (attempt - 1).min(10))
                .min(Duration::from_secs(8));
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_is_capped_and_dates_are_ignored() {
        let cap = Duration::from_secs(30);
        assert_eq!(retry_after(Some("2"), cap), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("86400"), cap), Some(cap));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), cap),
            None
        );
        assert_eq!(retry_after(None, cap), None);
    }

    #[test]
    fn only_overload_and_gateway_statuses_are_retried() {
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 501] {
            assert!(!retryable_status(s));
        }
    }
}
