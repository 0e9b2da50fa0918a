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
    /// What could not be read as findings (a list that is not one, an item
    /// without a vulnerability id, no findings list at all), by JSON path.
    /// Empty for a report read in full. A policy must not count a report with
    /// unread parts as clean: its findings are incomplete.
    pub unread: Vec<String>,
}

/// One vulnerability found in one package (when the report names the package).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Finding {
    /// The vulnerability id (`CVE-2024-1234`, `GHSA-…`).
    pub id: String,
    /// The severity label as the report writes it (`HIGH`, `CRITICAL`), when
    /// given (Scout `cvss.severity`, or a non-numeric in-toto `severity[].score`).
    pub severity: Option<String>,
    /// Numeric scores with their method (in-toto `severity[]`, Scout `cvss.score`).
    pub scores: Vec<SeverityScore>,
    /// The affected package's purl, when the report names it.
    pub package_purl: Option<String>,
    /// The version that fixes it, when known.
    pub fixed_version: Option<String>,
}

/// One numeric severity score.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SeverityScore {
    /// `method` (`nvd`, `cvss_v3`, `cvss`…), when given.
    pub method: Option<String>,
    /// The score as text (`7.5`).
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
    let root = match root {
        Value::Object(root) => root,
        // Scout writes the predicate as a bare list of `{purl, vulnerabilities}`.
        Value::Array(list) => {
            let mut read = Read::default();
            read.list(&list, "predicate", limits)?;
            let (findings, unread) = read.finish();
            return Ok(VulnerabilityReport {
                format,
                scanner_uri: None,
                scanner_version: None,
                scan_finished_on: None,
                findings,
                unread,
            });
        }
        other => {
            return Err(PredicateError::InvalidValue {
                path: "predicate".to_owned(),
                expected: "a JSON object or list",
                found: type_name(&other).to_owned(),
            })
        }
    };
    let scanner = root.get("scanner").and_then(Value::as_object);
    let mut read = Read::default();
    // in-toto vulns v0.1: scanner.result[]; Scout (assumed): the same, or a
    // top-level `vulnerabilities` / `results` / `matches` list; items are either
    // findings or packages with a nested `vulnerabilities` list.
    let lists = [
        (
            "predicate.scanner.result",
            scanner.and_then(|s| s.get("result")),
        ),
        ("predicate.vulnerabilities", root.get("vulnerabilities")),
        ("predicate.results", root.get("results")),
        ("predicate.matches", root.get("matches")),
    ];
    let mut any_list = false;
    for (path, list) in lists {
        match list {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                any_list = true;
                read.list(items, path, limits)?;
            }
            Some(other) => read.note(format!("{path} is {}, not a list", type_name(other))),
        }
    }
    if !any_list && read.unread.is_empty() {
        read.note(
            "no findings list (scanner.result, vulnerabilities, results or matches)".to_owned(),
        );
    }
    let (findings, unread) = read.finish();
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
        unread,
    })
}

/// Findings read so far, and what could not be read.
#[derive(Default)]
struct Read {
    findings: Vec<Finding>,
    unread: Vec<String>,
    /// Unread parts past [`Read::SHOWN`], counted only.
    more: usize,
}

impl Read {
    /// Unread parts described one by one; the rest are counted.
    const SHOWN: usize = 20;

    fn note(&mut self, what: String) {
        if self.unread.len() < Self::SHOWN {
            self.unread.push(what);
        } else {
            self.more += 1;
        }
    }

    /// The findings, and the unread parts with a count of those not shown.
    fn finish(mut self) -> (Vec<Finding>, Vec<String>) {
        if self.more > 0 {
            self.unread.push(format!("and {} more", self.more));
        }
        (self.findings, self.unread)
    }

    /// Reads a list of findings or of packages with nested findings.
    fn list(
        &mut self,
        items: &[Value],
        path: &str,
        limits: &PredicateLimits,
    ) -> Result<(), PredicateError> {
        for (i, item) in items.iter().enumerate() {
            match item.as_object() {
                Some(item) => collect(item, None, self, &format!("{path}[{i}]"), limits)?,
                None => self.note(format!("{path}[{i}] is {}, not an object", type_name(item))),
            }
        }
        Ok(())
    }
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

fn score_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_numeric(s: &str) -> bool {
    s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// Reads the label and scores of a finding from `severity` (in-toto: a list of
/// `{method, score}`; others: a label, or one object) and `cvss` (Scout:
/// `{severity, score}`).
fn severities(o: &Map<String, Value>) -> (Option<String>, Vec<SeverityScore>) {
    let mut label = None;
    let mut scores = Vec::new();
    let mut push = |method: Option<String>, score: String, label: &mut Option<String>| {
        if is_numeric(&score) {
            scores.push(SeverityScore { method, score });
        } else if label.is_none() {
            *label = Some(score);
        }
    };
    let entries: Vec<&Value> = match o.get("severity") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    for e in entries {
        match e {
            Value::Object(s) => {
                let method = str_field(s, &["method", "source", "type"]);
                if let Some(score) = s.get("score").and_then(score_text) {
                    push(method, score, &mut label);
                }
                if let Some(l) = s.get("severity").and_then(score_text) {
                    push(None, l, &mut label);
                }
            }
            other => {
                if let Some(score) = score_text(other) {
                    push(None, score, &mut label);
                }
            }
        }
    }
    if let Some(Value::Object(cvss)) = o.get("cvss") {
        if let Some(l) = cvss.get("severity").and_then(score_text) {
            push(None, l, &mut label);
        }
        if let Some(score) = cvss.get("score").and_then(score_text) {
            let method = str_field(cvss, &["version"])
                .map_or_else(|| "cvss".to_owned(), |v| format!("cvss {v}"));
            push(Some(method), score, &mut label);
        }
    }
    (label, scores)
}

fn collect(
    item: &Map<String, Value>,
    package: Option<&str>,
    read: &mut Read,
    path: &str,
    limits: &PredicateLimits,
) -> Result<(), PredicateError> {
    // A package entry with nested vulnerabilities (one level only).
    if package.is_none() {
        match item.get("vulnerabilities") {
            Some(Value::Array(nested)) => {
                let purl = purl_of(item);
                for (i, v) in nested.iter().enumerate() {
                    let here = format!("{path}.vulnerabilities[{i}]");
                    match v.as_object() {
                        Some(v) => {
                            collect(v, Some(purl.as_deref().unwrap_or("")), read, &here, limits)?;
                        }
                        None => read.note(format!("{here} is {}, not an object", type_name(v))),
                    }
                }
                return Ok(());
            }
            None | Some(Value::Null) => {}
            Some(other) => {
                read.note(format!(
                    "{path}.vulnerabilities is {}, not a list",
                    type_name(other)
                ));
                return Ok(());
            }
        }
    }
    let id = str_field(item, &["id", "source_id", "cve", "name"]).or_else(|| {
        item.get("vulnerability")
            .and_then(Value::as_object)
            .and_then(|v| str_field(v, &["id", "name"]))
    });
    let Some(id) = id else {
        read.note(format!("{path} has no vulnerability id"));
        return Ok(());
    };
    let out = &mut read.findings;
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
    let (severity, scores) = severities(item);
    out.push(Finding {
        id,
        severity,
        scores,
        package_purl,
        fixed_version: fixed_version(item).or_else(|| fixed_version(&notes)),
    });
    Ok(())
}
