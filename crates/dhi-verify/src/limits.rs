//! Resource limits applied to everything read from outside, in one place.
//!
//! Every fetch is capped *before* it is read (tough's `max_size`, sigstore-go's
//! `maxAllowedSubjects`): a source refuses to read more than the limit, and the
//! error names the limit and the size it saw. [`Limits::max_total_bytes`]
//! bounds the sum of all reads of one verification (counted in
//! `source/budget.rs`).

/// Caps on untrusted input. `Limits::default()` documents each default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest manifest or index read: 4 MiB (the size registries commonly
    /// enforce for manifests).
    pub max_manifest_bytes: u64,
    /// Largest in-toto statement read: 64 MiB. DHI SBOMs of large images are a
    /// few MiB; raise this for unusually large SBOMs.
    pub max_statement_bytes: u64,
    /// Largest cosign simple-signing payload read: 256 KiB (real ones are < 1 KiB).
    pub max_payload_bytes: u64,
    /// Largest image configuration read: 4 MiB.
    pub max_config_bytes: u64,
    /// Most referrers followed for one digest: 1 000. More is an error, not a
    /// silent truncation.
    pub max_referrers: usize,
    /// Most signature manifests tried for one attestation: 16.
    pub max_signatures_per_attestation: usize,
    /// Most subjects in one in-toto statement: 1 024.
    pub max_statement_subjects: usize,
    /// Most bytes one verification reads from all its sources together
    /// (registry bodies, layout files, disk-cache entries, a layout's
    /// subject scan): 512 MiB. The per-object caps above bound one read;
    /// this bounds their sum, which an attacker otherwise multiplies by
    /// `max_referrers` × `max_signatures_per_attestation` × platforms. A
    /// real DHI image reads a few MiB (two platforms × five attestations,
    /// SBOMs up to tens of MiB each), so 512 MiB leaves room for the largest
    /// SBOMs on every platform while keeping a hostile registry from making
    /// one verification read gigabytes. Going over is an error (exit 3,
    /// "could not check"), never a truncated pass.
    pub max_total_bytes: u64,
    /// Deepest nesting of arrays and objects in any fetched JSON document
    /// (manifests, statements, payloads, configurations, cosign tag layers):
    /// 128, which is also the JSON parser's own fixed limit. A lower value is
    /// enforced by a scan of each document before it is parsed (a cost paid
    /// only when lowered); a higher one has no effect.
    pub max_json_depth: usize,
    /// Most SBOM packages (CycloneDX components, nested ones included, or
    /// SPDX packages) read from one verified SBOM: 1 000 000.
    pub max_packages: usize,
    /// Most OpenVEX statements read from one verified VEX document: 1 000 000.
    pub max_vex_statements: usize,
    /// Most findings read from one verified vulnerability report: 1 000 000.
    pub max_findings: usize,
}

/// The JSON parser's own nesting limit (serde_json), the default of
/// [`Limits::max_json_depth`].
pub const PARSER_JSON_DEPTH: usize = 128;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_statement_bytes: 64 * 1024 * 1024,
            max_payload_bytes: 256 * 1024,
            max_config_bytes: 4 * 1024 * 1024,
            max_referrers: 1_000,
            max_signatures_per_attestation: 16,
            max_statement_subjects: 1_024,
            max_total_bytes: 512 * 1024 * 1024,
            max_json_depth: PARSER_JSON_DEPTH,
            max_packages: crate::predicate::PredicateLimits::DEFAULT.max_packages,
            max_vex_statements: crate::predicate::PredicateLimits::DEFAULT.max_vex_statements,
            max_findings: crate::predicate::PredicateLimits::DEFAULT.max_findings,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_statement_bytes`].
    pub fn with_max_statement_bytes(mut self, bytes: u64) -> Self {
        self.max_statement_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_manifest_bytes`].
    pub fn with_max_manifest_bytes(mut self, bytes: u64) -> Self {
        self.max_manifest_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_total_bytes`].
    pub fn with_max_total_bytes(mut self, bytes: u64) -> Self {
        self.max_total_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_referrers`].
    pub fn with_max_referrers(mut self, count: usize) -> Self {
        self.max_referrers = count;
        self
    }

    /// Sets [`Limits::max_payload_bytes`].
    pub fn with_max_payload_bytes(mut self, bytes: u64) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_config_bytes`].
    pub fn with_max_config_bytes(mut self, bytes: u64) -> Self {
        self.max_config_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_signatures_per_attestation`].
    pub fn with_max_signatures_per_attestation(mut self, count: usize) -> Self {
        self.max_signatures_per_attestation = count;
        self
    }

    /// The limits the predicate parsers apply when the policy's rules read
    /// what verified attestations say (the read stage): these, with the
    /// statement size cap. One place to set them; [`crate::predicate::PredicateLimits`]
    /// is their form for calling a parser directly.
    pub fn predicate_limits(&self) -> crate::predicate::PredicateLimits {
        crate::predicate::PredicateLimits::DEFAULT
            .with_max_statement_bytes(
                usize::try_from(self.max_statement_bytes).unwrap_or(usize::MAX),
            )
            .with_max_packages(self.max_packages)
            .with_max_vex_statements(self.max_vex_statements)
            .with_max_findings(self.max_findings)
    }

    /// Sets [`Limits::max_packages`].
    pub fn with_max_packages(mut self, count: usize) -> Self {
        self.max_packages = count;
        self
    }

    /// Sets [`Limits::max_json_depth`].
    pub fn with_max_json_depth(mut self, depth: usize) -> Self {
        self.max_json_depth = depth;
        self
    }
}

/// Whether the deepest nesting of arrays and objects in `bytes`, read as JSON
/// (brackets inside strings do not count) is at most `limit`.
/// Malformed JSON is left to the parser.
pub(crate) fn json_depth_within(bytes: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::json_depth_within;

    #[test]
    fn depth_counts_nesting_outside_strings_only() {
        assert!(json_depth_within(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(!json_depth_within(br#"{"a":[1,{"b":2}]}"#, 2));
        assert!(json_depth_within(br#"{"a":"[[[[{{{{\"[["}"#, 1));
        assert!(!json_depth_within(&[b'['; 10_000], 128));
        assert!(json_depth_within(b"", 0));
    }
}
