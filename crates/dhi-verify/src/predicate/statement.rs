//! Reads the `predicate` of a raw in-toto Statement straight from its bytes into a typed model, without an intermediate `serde_json::Value`. No trust decisions: the subject binding is checked by the verifier.

use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use super::error::PredicateError;
use super::limits::PredicateLimits;

/// The parts of an in-toto Statement (v0.1 or v1) the predicate parsers need;
/// `_type` and `subject` are skipped here, the verifier checked them.
#[derive(serde::Deserialize)]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
struct Envelope<P> {
    #[serde(rename = "predicateType", default)]
    predicate_type: Option<String>,
    #[serde(default = "none")]
    predicate: Option<P>,
}

fn none<P>() -> Option<P> {
    None
}

/// Parses `statement_bytes` as an in-toto Statement and deserialises its
/// `predicate` as `P`. Returns `None` when the predicate is absent or `null`.
///
/// Checks the statement size limit, that the statement is a JSON object, and
/// that its `predicateType` (when present) equals `predicate_type`.
pub(crate) fn read_predicate<P: DeserializeOwned>(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Option<P>, PredicateError> {
    if statement_bytes.len() > limits.max_statement_bytes {
        return Err(PredicateError::StatementTooLarge {
            max: limits.max_statement_bytes,
            found: statement_bytes.len(),
        });
    }
    // serde's derived struct visitor also accepts a JSON array; a statement is
    // an object (in-toto Statement layer spec), so refuse anything else early.
    let first = statement_bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
    match first {
        Some(b'{') => {}
        Some(_) => {
            return Err(PredicateError::InvalidValue {
                path: "$".to_owned(),
                expected: "an in-toto Statement JSON object",
                found: preview(statement_bytes),
            })
        }
        None => {
            return Err(PredicateError::Json {
                predicate_type: predicate_type.to_owned(),
                category: super::error::JsonErrorCategory::Eof,
                message: "empty statement".to_owned(),
                line: 1,
                column: 0,
            })
        }
    }
    let mut de = serde_json::Deserializer::from_slice(statement_bytes);
    let envelope = Envelope::<P>::deserialize(&mut de)
        .and_then(|e| de.end().map(|()| e))
        .map_err(|e| PredicateError::from_json(predicate_type, &e))?;
    if let Some(found) = envelope.predicate_type {
        if found != predicate_type {
            return Err(PredicateError::PredicateTypeMismatch {
                expected: predicate_type.to_owned(),
                found,
            });
        }
    }
    Ok(envelope.predicate)
}

/// Like [`read_predicate`] but a missing predicate is an error.
pub(crate) fn require_predicate<P: DeserializeOwned>(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<P, PredicateError> {
    read_predicate(predicate_type, statement_bytes, limits)?.ok_or_else(|| {
        PredicateError::MissingPredicate {
            predicate_type: predicate_type.to_owned(),
        }
    })
}

/// The first few characters of untrusted input, for an error message.
pub(crate) fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]);
    s.trim().to_owned()
}

/// Deserialises an optional array where `null` means empty (syft, Trivy).
pub(crate) fn nullable_vec<'de, D, T>(de: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;
    use crate::predicate::error::JsonErrorCategory;

    const T: &str = "https://example.com/p";

    #[test]
    fn predicate_is_read_whatever_the_key_order() {
        let bytes = br#"{"predicate":{"a":1},"subject":[],"predicateType":"https://example.com/p","_type":"x"}"#;
        let p: serde_json::Value = require_predicate(T, bytes, &PredicateLimits::DEFAULT).unwrap();
        assert_eq!(p["a"], 1);
    }

    #[test]
    fn statement_naming_another_predicate_type_is_rejected() {
        let bytes = br#"{"predicateType":"https://example.com/other","predicate":{}}"#;
        let err =
            read_predicate::<serde_json::Value>(T, bytes, &PredicateLimits::DEFAULT).unwrap_err();
        assert_eq!(
            err,
            PredicateError::PredicateTypeMismatch {
                expected: T.to_owned(),
                found: "https://example.com/other".to_owned()
            }
        );
    }

    #[test]
    fn statement_over_the_size_limit_is_rejected_before_parsing() {
        let limits = PredicateLimits::DEFAULT.with_max_statement_bytes(10);
        let err =
            read_predicate::<serde_json::Value>(T, b"{\"predicate\":{}}", &limits).unwrap_err();
        assert_eq!(
            err,
            PredicateError::StatementTooLarge { max: 10, found: 16 }
        );
    }

    #[test]
    fn statement_that_is_an_array_is_rejected() {
        let err = read_predicate::<serde_json::Value>(T, b"[\"x\", {}]", &PredicateLimits::DEFAULT)
            .unwrap_err();
        assert!(
            matches!(err, PredicateError::InvalidValue { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn trailing_garbage_after_the_statement_is_rejected() {
        let err = read_predicate::<serde_json::Value>(
            T,
            b"{\"predicate\":{}} {}",
            &PredicateLimits::DEFAULT,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                PredicateError::Json {
                    category: JsonErrorCategory::Syntax,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn empty_and_whitespace_statements_are_truncated_errors() {
        for bytes in [&b""[..], b"  \n"] {
            let err = read_predicate::<serde_json::Value>(T, bytes, &PredicateLimits::DEFAULT)
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    PredicateError::Json {
                        category: JsonErrorCategory::Eof,
                        ..
                    }
                ),
                "{err:?}"
            );
        }
    }

    #[test]
    fn hundred_thousand_levels_of_nesting_is_an_error_not_a_stack_overflow() {
        let mut bytes = b"{\"predicate\":".to_vec();
        bytes.extend(std::iter::repeat_n(b'[', 100_000));
        bytes.extend(std::iter::repeat_n(b']', 100_000));
        bytes.push(b'}');
        let err =
            read_predicate::<serde_json::Value>(T, &bytes, &PredicateLimits::DEFAULT).unwrap_err();
        assert!(
            matches!(err, PredicateError::TooDeep { max_depth: 128, .. }),
            "{err:?}"
        );
    }
}
