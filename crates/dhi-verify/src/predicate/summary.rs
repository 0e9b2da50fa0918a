//! SLSA verification summary v1 (a verifier's statement that it checked an artifact) read into a typed value. Whether that verifier is trusted is policy's job.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::PredicateError;
use super::limits::PredicateLimits;
use super::statement::{nullable_vec, require_predicate};
use super::time::{parse_opt, Timestamp};

/// A SLSA verification summary (`https://slsa.dev/verification_summary/v1`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VerificationSummary {
    /// `verifier.id`.
    pub verifier_id: Option<String>,
    /// `timeVerified`.
    pub time_verified: Option<Timestamp>,
    /// `resourceUri`.
    pub resource_uri: Option<String>,
    /// `policy.uri`.
    pub policy_uri: Option<String>,
    /// `verificationResult`: `PASSED` → true, `FAILED` → false.
    pub passed: bool,
    /// `verifiedLevels` (`SLSA_BUILD_LEVEL_3`).
    pub verified_levels: Vec<String>,
    /// `dependencyLevels`: level → count.
    pub dependency_levels: BTreeMap<String, u64>,
    /// `slsaVersion`.
    pub slsa_version: Option<String>,
}

#[derive(Deserialize)]
struct RawSummary {
    verifier: Option<RawId>,
    #[serde(rename = "timeVerified")]
    time_verified: Option<String>,
    #[serde(rename = "resourceUri")]
    resource_uri: Option<String>,
    policy: Option<RawPolicy>,
    #[serde(rename = "verificationResult")]
    verification_result: Option<String>,
    #[serde(rename = "verifiedLevels", default, deserialize_with = "nullable_vec")]
    verified_levels: Vec<String>,
    #[serde(rename = "dependencyLevels")]
    dependency_levels: Option<BTreeMap<String, u64>>,
    #[serde(rename = "slsaVersion")]
    slsa_version: Option<String>,
}

#[derive(Deserialize)]
struct RawId {
    id: Option<String>,
}

#[derive(Deserialize)]
struct RawPolicy {
    uri: Option<String>,
}

pub(crate) fn parse(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<VerificationSummary, PredicateError> {
    let raw: RawSummary = require_predicate(t, bytes, limits)?;
    // SLSA VSA v1: "verificationResult: Either PASSED or FAILED".
    let passed = match raw.verification_result.as_deref() {
        Some("PASSED") => true,
        Some("FAILED") => false,
        other => {
            return Err(PredicateError::InvalidValue {
                path: "predicate.verificationResult".to_owned(),
                expected: "PASSED or FAILED",
                found: other.unwrap_or("(missing)").to_owned(),
            })
        }
    };
    Ok(VerificationSummary {
        verifier_id: raw.verifier.and_then(|v| v.id),
        time_verified: parse_opt(raw.time_verified.as_deref(), "predicate.timeVerified")?,
        resource_uri: raw.resource_uri,
        policy_uri: raw.policy.and_then(|p| p.uri),
        passed,
        verified_levels: raw.verified_levels,
        dependency_levels: raw.dependency_levels.unwrap_or_default(),
        slsa_version: raw.slsa_version,
    })
}
