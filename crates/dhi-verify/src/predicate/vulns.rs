//! Vulnerability scan reports (in-toto `vulns/v0.1`, Docker Scout `vulnerabilities/v0.1`) read into a flat list of findings. Does not match findings against VEX or decide severity thresholds (that is policy).
//!
//! Both shapes are read tolerantly from a JSON tree: scan reports are small
//! next to SBOMs, and Scout's shape is not published in detail. What we assume
//! is written in `docs/predicates.md`.

use serde_json::{Map, Value};

use super::error::PredicateError;
use super::kind::VulnsFormat;
use super::limits::PredicateLimits;
use super::statement::require_predicate;
use super::time::{parse_opt, Timestamp};

/// A vulnerability scan report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VulnerabilityReport {
    /// Which predicate it came from.
    pub format: VulnsFormat,
    /// `scanner.uri`.
    pub scanner_uri: Option<String>,
    /// `scanner.version`.
    pub scanner_version: Option<String>,
    /// `metadata.scanFinishedOn`.
    pub scan_finished_on: Option<Timestamp>,
    /// The findings, in document order.
    pub findings: Vec<Finding>,
}

/// One vulnerability found in one package (when the report names the package).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Finding {
    /// The vulnerability id (`CVE-2024-1234`, `GHSA-…`).
    pub id: String,
    /// Severity ratings as given: a label (`HIGH`) or a score (`7.5`), with the method when named.
    pub severity: Vec<Severity>,
    /// The affected package's purl, when the report names it.
    pub package_purl: Option<String>,
    /// The version that fixes it, when known.
    pub fixed_version: Option<String>,
}

/// One severity rating.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Severity {
    /// `method` (`nvd`, `cvss_v3`, `CVSSv3`…), when given.
    pub method: Option<String>,
    /// `score`: a number or a label, as text.
    pub score: String,
}

/// Parses a vulnerability report predicate from statement bytes.
pub(crate) fn parse(
    format: VulnsFormat,
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<VulnerabilityReport, PredicateError> {
    let root: Value = require_predicate(predicate_type, statement_bytes, limits)?;
    let Value::Object(root) = root else {
        return Err(PredicateError::InvalidValue {
            path: "predicate".to_owned(),
            expected: "a JSON object",
            found: type_name(&root).to_owned(),
        });
    };
    let scanner = root.get("scanner").and_then(Value::as_object);
    let mut findings = Vec::new();
    // in-toto vulns v0.1: scanner.result[]; Scout (assumed): the same, or a
    // top-level `vulnerabilities` / `results` / `matches` list; items are either
    // findings or packages with a nested `vulnerabilities` list.
    let lists = [
        scanner.and_then(|s| s.get("result")),
        root.get("vulnerabilities"),
        root.get("results"),
        root.get("matches"),
    ];
    for list in lists.into_iter().flatten() {
        let Some(items) = list.as_array() else {
            continue;
        };
        for item in items.iter().filter_map(Value::as_object) {
            collect(item, None, &mut findings, limits)?;
        }
    }
    Ok(VulnerabilityReport {
        format,
        scanner_uri: scanner.and_then(|s| str_field(s, &["uri"])),
        scanner_version: scanner.and_then(|s| str_field(s, &["version"])),
        scan_finished_on: parse_opt(
            root.get("metadata")
                .and_then(|m| m.get("scanFinishedOn"))
                .and_then(Value::as_str),
            "predicate.metadata.scanFinishedOn",
        )?,
        findings,
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn str_field(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().filter_map(|k| o.get(*k)).find_map(|v| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn purl_of(o: &Map<String, Value>) -> Option<String> {
    str_field(o, &["purl", "package_purl", "packageUrl", "package_url"]).or_else(|| {
        match o.get("package") {
            Some(Value::String(s)) if s.starts_with("pkg:") => Some(s.clone()),
            Some(Value::Object(p)) => str_field(p, &["purl", "packageUrl"]),
            _ => None,
        }
    })
}

fn annotations(o: &Map<String, Value>) -> Map<String, Value> {
    // in-toto: `annotations` is a list of single-key objects (or one object).
    let mut out = Map::new();
    match o.get("annotations") {
        Some(Value::Array(list)) => {
            for a in list.iter().filter_map(Value::as_object) {
                out.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        Some(Value::Object(a)) => out.extend(a.iter().map(|(k, v)| (k.clone(), v.clone()))),
        _ => {}
    }
    out
}

const FIXED_KEYS: &[&str] = &[
    "fixed_version",
    "fixedVersion",
    "fixed_by",
    "fixedBy",
    "fixed_in",
    "fixedIn",
];

fn fixed_version(o: &Map<String, Value>) -> Option<String> {
    str_field(o, FIXED_KEYS).or_else(|| match o.get("fix") {
        Some(Value::Object(f)) => str_field(f, &["version"]).or_else(|| {
            f.get("versions")
                .and_then(Value::as_array)
                .and_then(|v| v.first())
                .and_then(Value::as_str)
                .map(str::to_owned)
        }),
        _ => None,
    })
}

fn severities(o: &Map<String, Value>) -> Vec<Severity> {
    let score_text = |v: &Value| match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match o.get("severity") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|s| match s {
                Value::Object(s) => Some(Severity {
                    method: str_field(s, &["method", "source", "type"]),
                    score: s.get("score").and_then(score_text)?,
                }),
                other => score_text(other).map(|score| Severity {
                    method: None,
                    score,
                }),
            })
            .collect(),
        Some(Value::Object(s)) => s
            .get("score")
            .and_then(score_text)
            .map(|score| {
                vec![Severity {
                    method: str_field(s, &["method", "source", "type"]),
                    score,
                }]
            })
            .unwrap_or_default(),
        Some(other) => score_text(other)
            .map(|score| {
                vec![Severity {
                    method: None,
                    score,
                }]
            })
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn collect(
    item: &Map<String, Value>,
    package: Option<&str>,
    out: &mut Vec<Finding>,
    limits: &PredicateLimits,
) -> Result<(), PredicateError> {
    // A package entry with nested vulnerabilities (one level only).
    if package.is_none() {
        if let Some(Value::Array(nested)) = item.get("vulnerabilities") {
            let purl = purl_of(item);
            for v in nested.iter().filter_map(Value::as_object) {
                collect(v, Some(purl.as_deref().unwrap_or("")), out, limits)?;
            }
            return Ok(());
        }
    }
    let id = str_field(item, &["id", "cve", "name"]).or_else(|| {
        item.get("vulnerability")
            .and_then(Value::as_object)
            .and_then(|v| str_field(v, &["id", "name"]))
    });
    let Some(id) = id else {
        return Ok(()); // not a finding; tolerated
    };
    if out.len() >= limits.max_findings {
        return Err(PredicateError::TooMany {
            what: "vulnerability findings",
            max: limits.max_findings,
            found: out.len() + 1,
        });
    }
    let notes = annotations(item);
    let package_purl = purl_of(item)
        .or_else(|| purl_of(&notes))
        .or_else(|| package.filter(|p| !p.is_empty()).map(str::to_owned));
    out.push(Finding {
        id,
        severity: severities(item),
        package_purl,
        fixed_version: fixed_version(item).or_else(|| fixed_version(&notes)),
    });
    Ok(())
}
