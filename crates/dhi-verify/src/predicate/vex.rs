//! OpenVEX v0.2.0 documents read into typed statements, and the query "what does this VEX say about CVE X in package P?". Does not decide whether a VEX author is trusted or whether a status suppresses a finding (that is policy).

use serde::Deserialize;

use super::error::PredicateError;
use super::limits::PredicateLimits;
use super::purl::Purl;
use super::statement::{nullable_vec, require_predicate};
use super::time::{parse_opt, Timestamp};

/// An OpenVEX document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Vex {
    /// `@id` of the document.
    pub id: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `role`.
    pub role: Option<String>,
    /// `timestamp` of the document; statements without their own inherit it.
    pub timestamp: Option<Timestamp>,
    /// `last_updated`.
    pub last_updated: Option<Timestamp>,
    /// `version` (a number in v0.2.0; some writers use a string).
    pub version: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<VexStatement>,
}

/// One OpenVEX statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VexStatement {
    /// `@id` of the statement.
    pub id: Option<String>,
    /// The vulnerability.
    pub vulnerability: Vulnerability,
    /// Products the statement applies to.
    pub products: Vec<VexProduct>,
    /// `status`.
    pub status: VexStatus,
    /// `justification` (required with `not_affected` unless an impact statement is given).
    pub justification: Option<Justification>,
    /// `impact_statement`.
    pub impact_statement: Option<String>,
    /// `status_notes`.
    pub status_notes: Option<String>,
    /// `action_statement` (for `affected`).
    pub action_statement: Option<String>,
    /// `action_statement_timestamp`.
    pub action_statement_timestamp: Option<Timestamp>,
    /// `timestamp` of the statement, else the document's.
    pub timestamp: Option<Timestamp>,
    /// `last_updated`.
    pub last_updated: Option<Timestamp>,
}

/// The vulnerability a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Vulnerability {
    /// `name` (`CVE-2020-8912`), else `@id`.
    pub name: String,
    /// `@id` (an IRI), when given.
    pub iri: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `aliases` (`GHSA-…`).
    pub aliases: Vec<String>,
}

/// A product (or subcomponent) of a statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VexProduct {
    /// `@id`, usually a purl (`pkg:docker/dhi/loki`, `pkg:oci/dhi%2Floki`).
    pub id: Option<String>,
    /// `identifiers.purl`, when given beside or instead of `@id`.
    pub identifier_purl: Option<String>,
    /// `subcomponents[].@id` (and their `identifiers.purl`).
    pub subcomponents: Vec<String>,
}

/// OpenVEX statement status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VexStatus {
    /// `not_affected`.
    NotAffected,
    /// `affected`.
    Affected,
    /// `fixed`.
    Fixed,
    /// `under_investigation`.
    UnderInvestigation,
}

/// OpenVEX justification for `not_affected`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Justification {
    /// `component_not_present`.
    ComponentNotPresent,
    /// `vulnerable_code_not_present`.
    VulnerableCodeNotPresent,
    /// `vulnerable_code_not_in_execute_path`.
    VulnerableCodeNotInExecutePath,
    /// `vulnerable_code_cannot_be_controlled_by_adversary`.
    VulnerableCodeCannotBeControlledByAdversary,
    /// `inline_mitigations_already_exist`.
    InlineMitigationsAlreadyExist,
    /// A value outside the OpenVEX list, kept as written.
    Other(String),
}

impl Justification {
    fn from_str(s: String) -> Self {
        match s.as_str() {
            "component_not_present" => Self::ComponentNotPresent,
            "vulnerable_code_not_present" => Self::VulnerableCodeNotPresent,
            "vulnerable_code_not_in_execute_path" => Self::VulnerableCodeNotInExecutePath,
            "vulnerable_code_cannot_be_controlled_by_adversary" => {
                Self::VulnerableCodeCannotBeControlledByAdversary
            }
            "inline_mitigations_already_exist" => Self::InlineMitigationsAlreadyExist,
            _ => Self::Other(s),
        }
    }
}

impl Vex {
    /// The statement that says whether `vulnerability` affects the package `purl`.
    ///
    /// A statement applies when its vulnerability `name`, `@id` or one of its
    /// `aliases` equals `vulnerability` (ASCII case-insensitive), and one of its
    /// products or subcomponents covers `purl` by the OpenVEX convention
    /// (go-vex `PurlMatches`): a versionless VEX purl covers every version;
    /// qualifiers written in the VEX purl must be present in `purl`, extra
    /// qualifiers of `purl` are ignored. Non-purl product ids must be equal.
    /// When several statements apply, the latest wins (by timestamp, then by
    /// document order), as OpenVEX specifies for a statement history.
    #[must_use]
    pub fn status_for(&self, vulnerability: &str, purl: &str) -> Option<&VexStatement> {
        let wanted = Purl::parse(purl);
        let mut best: Option<&VexStatement> = None;
        for s in &self.statements {
            if !s.vulnerability.matches(vulnerability) || !s.covers(purl, wanted.as_ref()) {
                continue;
            }
            best = match best {
                Some(b) if sort_key(b) > sort_key(s) => Some(b),
                _ => Some(s),
            };
        }
        best
    }
}

/// When a statement was last made: `last_updated`, else `timestamp` (which
/// inherits the document's); none sorts first.
fn sort_key(s: &VexStatement) -> Option<(i64, u32)> {
    s.last_updated
        .as_ref()
        .or(s.timestamp.as_ref())
        .map(Timestamp::unix_time)
}

impl Vulnerability {
    fn matches(&self, id: &str) -> bool {
        self.name.eq_ignore_ascii_case(id)
            || self
                .iri
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(id))
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
    }
}

impl VexStatement {
    /// When the statement was last made (`last_updated`, else `timestamp`,
    /// which inherits the document's) as an instant; `None` sorts first.
    pub fn made_at(&self) -> Option<(i64, u32)> {
        sort_key(self)
    }

    fn covers(&self, purl: &str, wanted: Option<&Purl>) -> bool {
        let id_covers = |id: &str| match (Purl::parse(id), wanted) {
            (Some(general), Some(specific)) => general.covers(specific),
            _ => id == purl,
        };
        self.products.iter().any(|p| {
            p.id.as_deref().is_some_and(id_covers)
                || p.identifier_purl.as_deref().is_some_and(id_covers)
                || p.subcomponents.iter().any(|s| id_covers(s))
        })
    }
}

// ---- wire model ----

#[derive(Deserialize)]
struct RawVex {
    #[serde(rename = "@context")]
    context: Option<String>,
    #[serde(rename = "@id")]
    id: Option<String>,
    author: Option<String>,
    role: Option<String>,
    timestamp: Option<String>,
    last_updated: Option<String>,
    version: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "nullable_vec")]
    statements: Vec<RawStatement>,
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "@id")]
    id: Option<String>,
    vulnerability: Option<RawVulnerability>,
    #[serde(default, deserialize_with = "nullable_vec")]
    products: Vec<RawProduct>,
    status: Option<String>,
    justification: Option<String>,
    impact_statement: Option<String>,
    status_notes: Option<String>,
    action_statement: Option<String>,
    action_statement_timestamp: Option<String>,
    timestamp: Option<String>,
    last_updated: Option<String>,
}

#[derive(Deserialize)]
struct RawVulnerability {
    #[serde(rename = "@id")]
    id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    aliases: Vec<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    #[serde(rename = "@id")]
    id: Option<String>,
    identifiers: Option<RawIdentifiers>,
}

#[derive(Deserialize)]
struct RawIdentifiers {
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawProduct {
    #[serde(rename = "@id")]
    id: Option<String>,
    identifiers: Option<RawIdentifiers>,
    #[serde(default, deserialize_with = "nullable_vec")]
    subcomponents: Vec<RawComponent>,
}

/// Parses an OpenVEX predicate from statement bytes.
pub(crate) fn parse(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Vex, PredicateError> {
    let raw: RawVex = require_predicate(predicate_type, statement_bytes, limits)?;
    from_raw(raw, limits)
}

fn from_raw(raw: RawVex, limits: &PredicateLimits) -> Result<Vex, PredicateError> {
    if let Some(context) = &raw.context {
        if !context.starts_with("https://openvex.dev/ns") {
            return Err(PredicateError::UnsupportedVersion {
                path: "predicate.@context".to_owned(),
                what: "OpenVEX context",
                expected: "https://openvex.dev/ns/v0.2.0",
                found: context.clone(),
            });
        }
    }
    if raw.statements.len() > limits.max_vex_statements {
        return Err(PredicateError::TooMany {
            what: "VEX statements",
            max: limits.max_vex_statements,
            found: raw.statements.len(),
        });
    }
    let timestamp = parse_opt(raw.timestamp.as_deref(), "predicate.timestamp")?;
    let mut statements = Vec::with_capacity(raw.statements.len());
    for (i, s) in raw.statements.into_iter().enumerate() {
        statements.push(statement(s, i, timestamp.as_ref())?);
    }
    Ok(Vex {
        id: raw.id,
        author: raw.author,
        role: raw.role,
        last_updated: parse_opt(raw.last_updated.as_deref(), "predicate.last_updated")?,
        timestamp,
        version: raw.version.and_then(|v| match v {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }),
        statements,
    })
}

fn statement(
    s: RawStatement,
    i: usize,
    doc_time: Option<&Timestamp>,
) -> Result<VexStatement, PredicateError> {
    let path = |field: &str| format!("predicate.statements[{i}].{field}");
    let status = match s.status.as_deref() {
        Some("not_affected") => VexStatus::NotAffected,
        Some("affected") => VexStatus::Affected,
        Some("fixed") => VexStatus::Fixed,
        Some("under_investigation") => VexStatus::UnderInvestigation,
        other => {
            return Err(PredicateError::InvalidValue {
                path: path("status"),
                expected: "not_affected, affected, fixed or under_investigation",
                found: other.unwrap_or("(missing)").to_owned(),
            })
        }
    };
    let raw_vuln = s
        .vulnerability
        .ok_or_else(|| PredicateError::InvalidValue {
            path: path("vulnerability"),
            expected: "an object with a name or @id",
            found: "(missing)".to_owned(),
        })?;
    let name = raw_vuln
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| raw_vuln.id.clone().filter(|n| !n.is_empty()))
        .ok_or_else(|| PredicateError::InvalidValue {
            path: path("vulnerability.name"),
            expected: "a vulnerability name or @id",
            found: "(missing)".to_owned(),
        })?;
    let products = s
        .products
        .into_iter()
        .map(|p| VexProduct {
            id: p.id.filter(|x| !x.is_empty()),
            identifier_purl: p.identifiers.and_then(|i| i.purl).filter(|x| !x.is_empty()),
            subcomponents: p
                .subcomponents
                .into_iter()
                .flat_map(|c| [c.id, c.identifiers.and_then(|i| i.purl)])
                .flatten()
                .filter(|x| !x.is_empty())
                .collect(),
        })
        .collect();
    let timestamp = match parse_opt(s.timestamp.as_deref(), &path("timestamp"))? {
        Some(t) => Some(t),
        None => doc_time.cloned(),
    };
    Ok(VexStatement {
        id: s.id,
        vulnerability: Vulnerability {
            name,
            iri: raw_vuln.id,
            description: raw_vuln.description,
            aliases: raw_vuln.aliases,
        },
        products,
        status,
        justification: s
            .justification
            .filter(|j| !j.is_empty())
            .map(Justification::from_str),
        impact_statement: s.impact_statement,
        status_notes: s.status_notes,
        action_statement: s.action_statement,
        action_statement_timestamp: parse_opt(
            s.action_statement_timestamp.as_deref(),
            &path("action_statement_timestamp"),
        )?,
        timestamp,
        last_updated: parse_opt(s.last_updated.as_deref(), &path("last_updated"))?,
    })
}
