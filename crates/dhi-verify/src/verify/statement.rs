//! in-toto Statements (attestation framework v0.1 and v1): parse the envelope
//! fields (`_type`, `predicateType`, `subject`) and bind the statement to the
//! manifest it is about. The predicate itself is not parsed here.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::digest::Digest;
use crate::error::VerifyError;

/// The statement types accepted (in-toto attestation framework).
pub const STATEMENT_TYPES: [&str; 2] = [
    "https://in-toto.io/Statement/v0.1",
    "https://in-toto.io/Statement/v1",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatementHeader {
    #[serde(rename = "_type")]
    statement_type: String,
    predicate_type: String,
    subject: Vec<Subject>,
    // Present in every statement; not parsed here (see `predicate`), but
    // required so a statement without one is rejected.
    #[allow(dead_code)]
    predicate: IgnoredAny,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    digest: BTreeMap<String, String>,
}

/// The checked header of an in-toto statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInfo {
    /// `_type`.
    pub statement_type: String,
    /// `predicateType`.
    pub predicate_type: String,
}

/// The `predicateType` a statement declares, for statements whose type is
/// not named anywhere else (DSSE envelopes, Sigstore bundles); the statement
/// is then checked with [`check_statement`] against it.
pub fn declared_predicate_type(bytes: &[u8]) -> Result<String, VerifyError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Header {
        predicate_type: String,
    }
    serde_json::from_slice::<Header>(bytes)
        .map(|h| h.predicate_type)
        .map_err(|e| VerifyError::StatementMalformed {
            reason: e.to_string(),
        })
}

/// Parses a statement and checks that it is an in-toto Statement, that its
/// `predicateType` is `expected_predicate_type`, and that one of its subjects
/// has `digest.sha256` equal to `subject` (subjects are matched on digest,
/// never on name: in-toto "subject … digest MUST be checked").
pub fn check_statement(
    bytes: &[u8],
    expected_predicate_type: &str,
    subject: &Digest,
    max_subjects: usize,
) -> Result<StatementInfo, VerifyError> {
    let header: StatementHeader =
        serde_json::from_slice(bytes).map_err(|e| VerifyError::StatementMalformed {
            reason: e.to_string(),
        })?;
    if !STATEMENT_TYPES.contains(&header.statement_type.as_str()) {
        return Err(VerifyError::StatementType {
            found: header.statement_type,
        });
    }
    if header.predicate_type != expected_predicate_type {
        return Err(VerifyError::StatementPredicateType {
            expected: expected_predicate_type.to_owned(),
            found: header.predicate_type,
        });
    }
    if header.subject.len() > max_subjects {
        return Err(VerifyError::TooManySubjects {
            limit: max_subjects,
            found: header.subject.len(),
        });
    }
    let want = subject.hex();
    if !header
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").is_some_and(|d| *d == want))
    {
        return Err(VerifyError::SubjectMismatch {
            expected: *subject,
            found: header
                .subject
                .iter()
                .filter_map(|s| s.digest.get("sha256").cloned())
                .take(8)
                .collect(),
        });
    }
    Ok(StatementInfo {
        statement_type: header.statement_type,
        predicate_type: header.predicate_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PT: &str = "https://slsa.dev/provenance/v1";

    fn stmt(t: &str, pt: &str, hex: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "_type": t, "predicateType": pt,
            "subject": [{"name": "pkg:docker/dhi/python@3.13", "digest": {"sha256": hex}}],
            "predicate": {}
        }))
        .unwrap()
    }

    #[test]
    fn statement_about_the_platform_manifest_passes() {
        let d = Digest::of(b"platform");
        for t in STATEMENT_TYPES {
            assert!(check_statement(&stmt(t, PT, &d.hex()), PT, &d, 1024).is_ok());
        }
    }

    #[test]
    fn statement_about_another_manifest_is_rejected() {
        let d = Digest::of(b"platform");
        let other = Digest::of(b"other");
        assert!(matches!(
            check_statement(&stmt(STATEMENT_TYPES[0], PT, &other.hex()), PT, &d, 1024),
            Err(VerifyError::SubjectMismatch { .. })
        ));
    }

    #[test]
    fn subject_digest_in_uppercase_does_not_match() {
        let d = Digest::of(b"platform");
        let upper = d.hex().to_uppercase();
        assert!(check_statement(&stmt(STATEMENT_TYPES[0], PT, &upper), PT, &d, 1024).is_err());
    }

    #[test]
    fn statement_with_another_predicate_type_is_rejected() {
        let d = Digest::of(b"platform");
        assert!(matches!(
            check_statement(
                &stmt(STATEMENT_TYPES[0], "https://spdx.dev/Document", &d.hex()),
                PT,
                &d,
                1024
            ),
            Err(VerifyError::StatementPredicateType { .. })
        ));
    }

    #[test]
    fn non_in_toto_statement_types_are_rejected() {
        let d = Digest::of(b"platform");
        assert!(matches!(
            check_statement(
                &stmt("https://in-toto.io/Statement/v9", PT, &d.hex()),
                PT,
                &d,
                1024
            ),
            Err(VerifyError::StatementType { .. })
        ));
    }

    #[test]
    fn too_many_subjects_are_rejected_at_limit_plus_one() {
        let d = Digest::of(b"platform");
        let subjects: Vec<_> = (0..1025)
            .map(|_| serde_json::json!({"digest": {"sha256": d.hex()}}))
            .collect();
        let s = serde_json::to_vec(&serde_json::json!({"_type": STATEMENT_TYPES[1], "predicateType": PT, "subject": subjects, "predicate": {}})).unwrap();
        assert!(matches!(
            check_statement(&s, PT, &d, 1024),
            Err(VerifyError::TooManySubjects {
                limit: 1024,
                found: 1025
            })
        ));
        assert!(check_statement(&s, PT, &d, 1025).is_ok());
    }

    #[test]
    fn duplicate_predicate_type_keys_are_rejected() {
        let d = Digest::of(b"platform");
        let s = format!(
            r#"{{"_type":"{}","predicateType":"{PT}","predicateType":"x","subject":[{{"digest":{{"sha256":"{}"}}}}],"predicate":{{}}}}"#,
            STATEMENT_TYPES[0],
            d.hex()
        );
        assert!(matches!(
            check_statement(s.as_bytes(), PT, &d, 1024),
            Err(VerifyError::StatementMalformed { .. })
        ));
    }
}
