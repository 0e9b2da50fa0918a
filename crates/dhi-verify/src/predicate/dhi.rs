//! Docker's own predicates on DHI images (image sources, FIPS, STIG) and the Scout scan results (tests in CTRF, secrets, viruses), each read into the few facts a policy needs. Judging those facts is policy's job.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use super::error::PredicateError;
use super::limits::PredicateLimits;
use super::statement::{nullable_vec, read_predicate, require_predicate};

/// The sources an image was built from (`https://docker.com/dhi/source/v0.1`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DhiSource {
    /// `source` entries (one object, or a list).
    pub sources: Vec<ImageSource>,
}

/// One image source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ImageSource {
    /// `name` (a repository, image or purl).
    pub name: Option<String>,
    /// `digest`: an object `{alg: hex}`, or a string `alg:hex` split into one entry.
    pub digest: BTreeMap<String, String>,
}

/// The FIPS attestation (`https://docker.com/dhi/fips/v0.1`).
///
/// Its shape is not published; it is kept as raw JSON so policy and the CLI
/// can show it. Its presence on a verified image is the main fact.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Fips {
    /// The predicate as written.
    pub raw: Value,
}

/// The STIG scan (`https://docker.com/dhi/stig/v0.1`), kept as raw JSON (shape not published).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Stig {
    /// The predicate as written.
    pub raw: Value,
}

/// Test results (`https://scout.docker.com/tests/v0.1`): the CTRF summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TestResults {
    /// `results.tool.name`.
    pub tool: Option<String>,
    /// `results.summary`.
    pub summary: TestSummary,
}

/// CTRF `results.summary` counts; missing counts are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[non_exhaustive]
pub struct TestSummary {
    /// `tests`.
    #[serde(default)]
    pub tests: u64,
    /// `passed`.
    #[serde(default)]
    pub passed: u64,
    /// `failed`.
    #[serde(default)]
    pub failed: u64,
    /// `pending`.
    #[serde(default)]
    pub pending: u64,
    /// `skipped`.
    #[serde(default)]
    pub skipped: u64,
    /// `other`.
    #[serde(default)]
    pub other: u64,
}

/// Secrets scan (`https://scout.docker.com/secrets/v0.1`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SecretsScan {
    /// Findings; empty when the predicate is empty (`{}`, `null` or absent),
    /// which is how Scout says "no secrets found".
    pub findings: Vec<Value>,
    /// The predicate as written (`null` when absent).
    pub raw: Value,
}

/// Virus scan (`https://scout.docker.com/virus/v0.1`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VirusScan {
    /// `scanner.uri`.
    pub scanner_uri: Option<String>,
    /// `scanner.version`.
    pub scanner_version: Option<String>,
    /// `Infected files: N` from the decoded ClamAV report; `None` when the
    /// report has no such line.
    pub infected_files: Option<u64>,
    /// The decoded report (ClamAV's text output, lossily decoded as UTF-8).
    pub report: String,
}

// ---- wire models ----

#[derive(Deserialize)]
struct RawSourcePredicate {
    source: Option<OneOrMany<RawSource>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

#[derive(Deserialize)]
struct RawSource {
    name: Option<String>,
    digest: Option<RawDigest>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDigest {
    Map(BTreeMap<String, String>),
    Text(String),
}

#[derive(Deserialize)]
struct RawTests {
    results: Option<RawCtrfResults>,
}

#[derive(Deserialize)]
struct RawCtrfResults {
    tool: Option<RawTool>,
    summary: Option<TestSummary>,
}

#[derive(Deserialize)]
struct RawTool {
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawVirus {
    scanner: Option<RawVirusScanner>,
}

#[derive(Deserialize)]
struct RawVirusScanner {
    uri: Option<String>,
    version: Option<String>,
    report: Option<String>,
}

#[derive(Deserialize)]
struct RawSecrets {
    #[serde(default, deserialize_with = "nullable_vec")]
    findings: Vec<Value>,
    #[serde(default, deserialize_with = "nullable_vec")]
    results: Vec<Value>,
    #[serde(default, deserialize_with = "nullable_vec")]
    secrets: Vec<Value>,
}

pub(crate) fn parse_source(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<DhiSource, PredicateError> {
    let raw: RawSourcePredicate = require_predicate(t, bytes, limits)?;
    let list = match raw.source {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    };
    let sources = list
        .into_iter()
        .map(|s| ImageSource {
            name: s.name.filter(|n| !n.is_empty()),
            digest: match s.digest {
                Some(RawDigest::Map(m)) => m,
                Some(RawDigest::Text(t)) => match t.split_once(':') {
                    Some((alg, hex)) => BTreeMap::from([(alg.to_owned(), hex.to_owned())]),
                    None => BTreeMap::from([("sha256".to_owned(), t)]),
                },
                None => BTreeMap::new(),
            },
        })
        .collect();
    Ok(DhiSource { sources })
}

pub(crate) fn parse_fips(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Fips, PredicateError> {
    Ok(Fips {
        raw: require_predicate(t, bytes, limits)?,
    })
}

pub(crate) fn parse_stig(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Stig, PredicateError> {
    Ok(Stig {
        raw: require_predicate(t, bytes, limits)?,
    })
}

pub(crate) fn parse_tests(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<TestResults, PredicateError> {
    let raw: RawTests = require_predicate(t, bytes, limits)?;
    let results = raw.results.ok_or_else(|| PredicateError::InvalidValue {
        path: "predicate.results".to_owned(),
        expected: "a CTRF results object",
        found: "(missing)".to_owned(),
    })?;
    let summary = results
        .summary
        .ok_or_else(|| PredicateError::InvalidValue {
            path: "predicate.results.summary".to_owned(),
            expected: "a CTRF summary object",
            found: "(missing)".to_owned(),
        })?;
    Ok(TestResults {
        tool: results.tool.and_then(|t| t.name),
        summary,
    })
}

pub(crate) fn parse_secrets(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<SecretsScan, PredicateError> {
    let raw: Option<Value> = read_predicate(t, bytes, limits)?;
    let raw = raw.unwrap_or(Value::Null);
    let findings = match &raw {
        Value::Null => Vec::new(),
        Value::Object(_) => {
            let r = RawSecrets::deserialize(&raw).map_err(|e| PredicateError::InvalidValue {
                path: "predicate".to_owned(),
                expected: "findings/results/secrets as lists",
                found: e.to_string(),
            })?;
            [r.findings, r.results, r.secrets]
                .into_iter()
                .flatten()
                .collect()
        }
        Value::Array(list) => list.clone(),
        other => {
            return Err(PredicateError::InvalidValue {
                path: "predicate".to_owned(),
                expected: "an object, a list or nothing",
                found: other.to_string().chars().take(40).collect(),
            })
        }
    };
    Ok(SecretsScan { findings, raw })
}

pub(crate) fn parse_virus(
    t: &str,
    bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<VirusScan, PredicateError> {
    let raw: RawVirus = require_predicate(t, bytes, limits)?;
    let scanner = raw.scanner.ok_or_else(|| PredicateError::InvalidValue {
        path: "predicate.scanner".to_owned(),
        expected: "a scanner object",
        found: "(missing)".to_owned(),
    })?;
    let encoded = scanner.report.unwrap_or_default();
    let decoded = decode_base64(&encoded).ok_or_else(|| PredicateError::InvalidValue {
        path: "predicate.scanner.report".to_owned(),
        expected: "base64 (ClamAV report)",
        found: encoded.chars().take(40).collect(),
    })?;
    let report = String::from_utf8_lossy(&decoded).into_owned();
    let infected_files = infected_files(&report)?;
    Ok(VirusScan {
        scanner_uri: scanner.uri,
        scanner_version: scanner.version,
        infected_files,
        report,
    })
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .ok()
}

/// Reads `Infected files: N` from ClamAV's scan summary.
fn infected_files(report: &str) -> Result<Option<u64>, PredicateError> {
    for line in report.lines() {
        if let Some(rest) = line.trim().strip_prefix("Infected files:") {
            let n = rest.trim();
            return n
                .parse()
                .map(Some)
                .map_err(|_| PredicateError::InvalidValue {
                    path: "predicate.scanner.report".to_owned(),
                    expected: "a count after \"Infected files:\"",
                    found: n.chars().take(40).collect(),
                });
        }
    }
    Ok(None)
}
