//! Reads the `predicate` of a raw in-toto Statement straight from its bytes into a typed model, without an intermediate `serde_json::Value`. No trust decisions: the subject binding is checked by the verifier.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::error::PredicateError;
use super::limits::PredicateLimits;

/// Where a seed that stops parsing for a reason of its own (a limit) leaves
/// the typed error, since serde can only carry a message back.
pub(crate) type ErrorSlot = RefCell<Option<PredicateError>>;

/// The statement keys the predicate parsers look at; `_type` and `subject`
/// are the verifier's and are skipped like any other key.
#[derive(serde::Deserialize)]
#[serde(field_identifier)]
enum Key {
    #[serde(rename = "predicateType")]
    PredicateType,
    #[serde(rename = "predicate")]
    Predicate,
    #[serde(other)]
    Other,
}

struct EnvelopeVisitor<S> {
    seed: Option<S>,
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for EnvelopeVisitor<S> {
    type Value = (Option<String>, Option<S::Value>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an in-toto Statement object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut predicate_type = None;
        let mut predicate = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::PredicateType => {
                    if predicate_type.is_some() {
                        return Err(de::Error::duplicate_field("predicateType"));
                    }
                    predicate_type = Some(map.next_value::<String>()?);
                }
                Key::Predicate => {
                    let seed = self
                        .seed
                        .take()
                        .ok_or_else(|| de::Error::duplicate_field("predicate"))?;
                    predicate = map.next_value_seed(OptionSeed(seed))?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((predicate_type, predicate))
    }
}

/// `null` as `None`, anything else through the inner seed.
struct OptionSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for OptionSeed<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for OptionSeed<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a predicate or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(deserializer).map(Some)
    }
}

/// Parses `statement_bytes` as an in-toto Statement (v0.1 or v1) and reads its
/// `predicate` through `seed`, straight from the bytes (no intermediate tree),
/// so the predicate model may borrow from `statement_bytes`. Returns `None`
/// when the predicate is absent or `null`.
///
/// Checks the statement size limit, that the statement is one JSON object with
/// nothing after it, and that its `predicateType` (when present) equals
/// `predicate_type`. A seed that fails for a reason of its own leaves the
/// typed error in `slot`.
pub(crate) fn read_predicate_seed<'de, S: DeserializeSeed<'de>>(
    predicate_type: &str,
    statement_bytes: &'de [u8],
    limits: &PredicateLimits,
    seed: S,
    slot: &ErrorSlot,
) -> Result<Option<S::Value>, PredicateError> {
    if statement_bytes.len() > limits.max_statement_bytes {
        return Err(PredicateError::StatementTooLarge {
            max: limits.max_statement_bytes,
            found: statement_bytes.len(),
        });
    }
    // A statement is an object (in-toto Statement layer spec); refuse anything
    // else before parsing so the error says so.
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
    let parsed = de
        .deserialize_map(EnvelopeVisitor { seed: Some(seed) })
        .and_then(|e| de.end().map(|()| e));
    let (found_type, predicate) = match parsed {
        Ok(v) => v,
        Err(e) => {
            return Err(slot
                .borrow_mut()
                .take()
                .unwrap_or_else(|| PredicateError::from_json(predicate_type, &e)))
        }
    };
    if let Some(found) = found_type {
        if found != predicate_type {
            return Err(PredicateError::PredicateTypeMismatch {
                expected: predicate_type.to_owned(),
                found,
            });
        }
    }
    Ok(predicate)
}

/// [`read_predicate_seed`] for a plain `Deserialize` model.
pub(crate) fn read_predicate<'de, P: Deserialize<'de>>(
    predicate_type: &str,
    statement_bytes: &'de [u8],
    limits: &PredicateLimits,
) -> Result<Option<P>, PredicateError> {
    let slot = ErrorSlot::default();
    read_predicate_seed(
        predicate_type,
        statement_bytes,
        limits,
        PhantomData::<P>,
        &slot,
    )
}

/// Like [`read_predicate`] but a missing predicate is an error.
pub(crate) fn require_predicate<'de, P: Deserialize<'de>>(
    predicate_type: &str,
    statement_bytes: &'de [u8],
    limits: &PredicateLimits,
) -> Result<P, PredicateError> {
    read_predicate(predicate_type, statement_bytes, limits)?.ok_or_else(|| missing(predicate_type))
}

/// The error for a statement without a predicate.
pub(crate) fn missing(predicate_type: &str) -> PredicateError {
    PredicateError::MissingPredicate {
        predicate_type: predicate_type.to_owned(),
    }
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
    fn statement_with_two_predicates_is_rejected() {
        let bytes = br#"{"predicate":{"a":1},"predicate":{"a":2}}"#;
        let err =
            read_predicate::<serde_json::Value>(T, bytes, &PredicateLimits::DEFAULT).unwrap_err();
        assert!(
            matches!(&err, PredicateError::Json { message, .. } if message.contains("duplicate field")),
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
