//! The error type of the predicate parsers: what was expected, what was found, and where. Owns no parsing.

use std::fmt;

/// Why a predicate could not be read into its typed model.
///
/// Every variant is caused by the bytes of an attestation (untrusted data,
/// although signed), never by a misuse of the API. Variants carry what was
/// expected and what was found so that tests and the CLI can be exact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PredicateError {
    /// The statement is larger than [`PredicateLimits::max_statement_bytes`](crate::predicate::PredicateLimits::max_statement_bytes).
    #[error("statement is {found} bytes, more than the limit of {max} bytes")]
    StatementTooLarge {
        /// The configured limit.
        max: usize,
        /// The size of the statement.
        found: usize,
    },
    /// The bytes are not a JSON object of the expected shape (syntax error,
    /// wrong type, truncated input, or a required value missing).
    #[error(
        "{predicate_type}: malformed JSON ({category}) at line {line} column {column}: {message}"
    )]
    Json {
        /// The predicate type that was being parsed.
        predicate_type: String,
        /// What kind of JSON problem it is.
        category: JsonErrorCategory,
        /// serde_json's description (expected vs found type, or syntax).
        message: String,
        /// 1-based line of the problem (0 if unknown).
        line: usize,
        /// 1-based column of the problem (0 if unknown).
        column: usize,
    },
    /// The JSON nests deeper than serde_json's fixed recursion limit (128).
    #[error("{predicate_type}: JSON nested deeper than {max_depth} levels at line {line} column {column}")]
    TooDeep {
        /// The predicate type that was being parsed.
        predicate_type: String,
        /// The nesting limit.
        max_depth: usize,
        /// 1-based line where the limit was hit.
        line: usize,
        /// 1-based column where the limit was hit.
        column: usize,
    },
    /// The statement has no `predicate` (or it is `null`) and this predicate type needs one.
    #[error("{predicate_type}: the statement has no predicate")]
    MissingPredicate {
        /// The predicate type that was expected.
        predicate_type: String,
    },
    /// The statement's own `predicateType` differs from the one the caller (the
    /// attestation manifest / signature) said it has.
    #[error("statement predicateType mismatch: expected {expected}, found {found}")]
    PredicateTypeMismatch {
        /// The predicate type the caller asked for.
        expected: String,
        /// The `predicateType` written in the statement.
        found: String,
    },
    /// A document declares a format or version this parser does not read.
    #[error("{path}: unsupported {what}: expected {expected}, found {found:?}")]
    UnsupportedVersion {
        /// JSON path of the version field (`predicate.specVersion`).
        path: String,
        /// What is versioned ("CycloneDX specVersion").
        what: &'static str,
        /// The accepted values.
        expected: &'static str,
        /// The value found (`"(missing)"` when absent).
        found: String,
    },
    /// A field holds a value outside its allowed set or syntax.
    #[error("{path}: expected {expected}, found {found:?}")]
    InvalidValue {
        /// JSON path of the field (`predicate.statements[3].status`).
        path: String,
        /// What was expected.
        expected: &'static str,
        /// The value found.
        found: String,
    },
    /// A collection is longer than its limit in [`PredicateLimits`](crate::predicate::PredicateLimits).
    #[error("{what}: {found} entries, more than the limit of {max}")]
    TooMany {
        /// What was counted ("SBOM packages").
        what: &'static str,
        /// The configured limit.
        max: usize,
        /// The number found.
        found: usize,
    },
}

/// The kind of JSON problem behind [`PredicateError::Json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorCategory {
    /// Not syntactically valid JSON.
    Syntax,
    /// Valid JSON, but a value has the wrong type or a required value is missing.
    Data,
    /// The input ended in the middle of a value (truncated).
    Eof,
}

impl fmt::Display for JsonErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "syntax",
            Self::Data => "wrong type or missing value",
            Self::Eof => "truncated",
        })
    }
}

/// serde_json's recursion limit, which it enforces for every deserialisation
/// (typed or `IgnoredAny`); it is what keeps deeply nested input off the stack.
pub(crate) const SERDE_JSON_MAX_DEPTH: usize = 128;

impl PredicateError {
    /// Converts a serde_json error into the matching variant.
    pub(crate) fn from_json(predicate_type: &str, err: &serde_json::Error) -> Self {
        let line = err.line();
        let column = err.column();
        let message = err.to_string();
        if message.starts_with("recursion limit exceeded") {
            return Self::TooDeep {
                predicate_type: predicate_type.to_owned(),
                max_depth: SERDE_JSON_MAX_DEPTH,
                line,
                column,
            };
        }
        let category = match err.classify() {
            serde_json::error::Category::Eof => JsonErrorCategory::Eof,
            serde_json::error::Category::Data => JsonErrorCategory::Data,
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                JsonErrorCategory::Syntax
            }
        };
        // serde_json appends " at line L column C"; we carry those separately.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        Self::Json {
            predicate_type: predicate_type.to_owned(),
            category,
            message,
            line,
            column,
        }
    }
}
