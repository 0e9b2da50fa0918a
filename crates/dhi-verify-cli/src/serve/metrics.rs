//! Counters and a latency histogram, written in the Prometheus text
//! exposition format (version 0.0.4) on `/metrics`. Plain atomics: a
//! scrape reads each value once, so a scrape during traffic may see one
//! counter a step ahead of another, as any Prometheus client allows.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The endpoints requests are counted by.
pub(crate) const ENDPOINTS: [&str; 3] = ["validate", "mutate", "external-data"];

/// Outcomes of one image's verification.
pub(crate) const OUTCOMES: [&str; 4] = ["pass", "fail", "error", "timeout"];

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Every number `/metrics` reports.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Verifications run (cache misses that ran), by outcome (`OUTCOMES`).
    verifications: [AtomicU64; OUTCOMES.len()],
    /// Images answered from the verdict cache.
    cache_hits: AtomicU64,
    /// Images that joined a verification already running.
    cache_joins: AtomicU64,
    /// Verifications that ended in an error reaching a registry (or reading one).
    registry_errors: AtomicU64,
    /// Admission and provider answers, by endpoint and allowed / denied.
    answers: [[AtomicU64; 2]; ENDPOINTS.len()],
    /// Requests refused before they were read (bad body, too large, unknown path).
    bad_requests: AtomicU64,
    /// Pull secrets and ServiceAccounts read through the Kubernetes API:
    /// used, and not used (unreadable, refused, malformed).
    pull_secret_reads: [AtomicU64; 2],
    latency: [Histogram; ENDPOINTS.len()],
}

fn index(list: &[&str], name: &str) -> usize {
    list.iter()
        .position(|n| *n == name)
        .unwrap_or(list.len() - 1)
}

impl Metrics {
    /// One verification finished with `outcome` (one of `OUTCOMES`).
    pub(crate) fn verification(&self, outcome: &str) {
        self.verifications[index(&OUTCOMES, outcome)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cache_join(&self) {
        self.cache_joins.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn registry_error(&self) {
        self.registry_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// One Secret or ServiceAccount read for pull secrets, used or not.
    pub(crate) fn pull_secret_read(&self, used: bool) {
        self.pull_secret_reads[usize::from(!used)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bad_request(&self) {
        self.bad_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// One answer of `endpoint`, allowed or not, that took `elapsed`.
    pub(crate) fn answer(&self, endpoint: &str, allowed: bool, elapsed: Duration) {
        let e = index(&ENDPOINTS, endpoint);
        self.answers[e][usize::from(!allowed)].fetch_add(1, Ordering::Relaxed);
        let h = &self.latency[e];
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        h.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The text exposition, with `cached` verdicts kept now.
    pub(crate) fn render(&self, cached: usize) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP dhi_verify_verifications_total Image verifications run, by outcome (cache hits not counted).");
        let _ = writeln!(out, "# TYPE dhi_verify_verifications_total counter");
        for (i, o) in OUTCOMES.iter().enumerate() {
            let _ = writeln!(
                out,
                "dhi_verify_verifications_total{{outcome=\"{o}\"}} {}",
                get(&self.verifications[i])
            );
        }
        let _ = writeln!(
            out,
            "# HELP dhi_verify_cache_hits_total Images answered from the verdict cache."
        );
        let _ = writeln!(out, "# TYPE dhi_verify_cache_hits_total counter");
        let _ = writeln!(out, "dhi_verify_cache_hits_total {}", get(&self.cache_hits));
        let _ = writeln!(out, "# HELP dhi_verify_cache_joins_total Images that waited on a verification already running (single-flight).");
        let _ = writeln!(out, "# TYPE dhi_verify_cache_joins_total counter");
        let _ = writeln!(
            out,
            "dhi_verify_cache_joins_total {}",
            get(&self.cache_joins)
        );
        let _ = writeln!(
            out,
            "# HELP dhi_verify_cached_verdicts Verdicts kept in the cache now."
        );
        let _ = writeln!(out, "# TYPE dhi_verify_cached_verdicts gauge");
        let _ = writeln!(out, "dhi_verify_cached_verdicts {cached}");
        let _ = writeln!(out, "# HELP dhi_verify_registry_errors_total Verifications that could not reach or read a registry.");
        let _ = writeln!(out, "# TYPE dhi_verify_registry_errors_total counter");
        let _ = writeln!(
            out,
            "dhi_verify_registry_errors_total {}",
            get(&self.registry_errors)
        );
        let _ = writeln!(out, "# HELP dhi_verify_bad_requests_total Requests refused before a decision (bad body, too large, unknown path).");
        let _ = writeln!(out, "# TYPE dhi_verify_bad_requests_total counter");
        let _ = writeln!(
            out,
            "dhi_verify_bad_requests_total {}",
            get(&self.bad_requests)
        );
        let _ = writeln!(out, "# HELP dhi_verify_pull_secret_reads_total Secrets and ServiceAccounts looked up for admissions' imagePullSecrets (a read through the Kubernetes API is kept 30 s), by result (not_used: unreadable, refused by RBAC, malformed; the admission then warns).");
        let _ = writeln!(out, "# TYPE dhi_verify_pull_secret_reads_total counter");
        for (i, result) in ["used", "not_used"].iter().enumerate() {
            let _ = writeln!(
                out,
                "dhi_verify_pull_secret_reads_total{{result=\"{result}\"}} {}",
                get(&self.pull_secret_reads[i])
            );
        }
        let _ = writeln!(out, "# HELP dhi_verify_admissions_total Answers by endpoint and decision (external-data: allowed = every key verified).");
        let _ = writeln!(out, "# TYPE dhi_verify_admissions_total counter");
        for (e, name) in ENDPOINTS.iter().enumerate() {
            for (d, decision) in ["allowed", "denied"].iter().enumerate() {
                let _ = writeln!(
                    out,
                    "dhi_verify_admissions_total{{endpoint=\"{name}\",decision=\"{decision}\"}} {}",
                    get(&self.answers[e][d])
                );
            }
        }
        let _ = writeln!(out, "# HELP dhi_verify_request_duration_seconds Time from request read to answer, by endpoint.");
        let _ = writeln!(out, "# TYPE dhi_verify_request_duration_seconds histogram");
        for (e, name) in ENDPOINTS.iter().enumerate() {
            let h = &self.latency[e];
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "dhi_verify_request_duration_seconds_bucket{{endpoint=\"{name}\",le=\"{bound}\"}} {}",
                    get(&h.buckets[i])
                );
            }
            let count = get(&h.count);
            let _ = writeln!(
                out,
                "dhi_verify_request_duration_seconds_bucket{{endpoint=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "dhi_verify_request_duration_seconds_sum{{endpoint=\"{name}\"}} {}",
                get(&h.sum_micros) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "dhi_verify_request_duration_seconds_count{{endpoint=\"{name}\"}} {count}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_match() {
        let m = Metrics::default();
        m.answer("validate", true, Duration::from_micros(800));
        m.answer("validate", false, Duration::from_millis(30));
        m.verification("pass");
        let text = m.render(1);
        assert!(text.contains("dhi_verify_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.001\"} 1\n"), "{text}");
        assert!(
            text.contains(
                "dhi_verify_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.05\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("dhi_verify_request_duration_seconds_count{endpoint=\"validate\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "dhi_verify_admissions_total{endpoint=\"validate\",decision=\"denied\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("dhi_verify_verifications_total{outcome=\"pass\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("dhi_verify_cached_verdicts 1\n"), "{text}");
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
