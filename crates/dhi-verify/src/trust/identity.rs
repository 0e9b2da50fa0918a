//! Whom a keyless signature must come from: an anchored [`Matcher`] for a
//! certificate's SAN identity or OIDC issuer, and a [`SubjectMatcher`] for
//! the identity with the CI claims required. Values of the trust root (see
//! [`super::KeylessIdentity`]); whether a verified certificate satisfies them
//! is decided in one place, `BundlePolicy::accepts_certificate`
//! (`verify/sigstore/identity.rs`).

use std::fmt;

use crate::claim::CertificateClaim;
use crate::error::BundleError;

/// Upper bound on a compiled identity regex, so a hostile pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a certificate identity or issuer is matched.
///
/// A regular expression always matches the whole value: the pattern is
/// compiled as `^(?:PATTERN)$`, so `https://github.com/org/app/.*` cannot match
/// `https://evil.com/?https://github.com/org/app/x`.
#[derive(Debug, Clone)]
pub struct Matcher(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Exact(String),
    Regex {
        pattern: String,
        regex: regex::Regex,
    },
}

impl Matcher {
    /// Matches exactly this value (byte-for-byte).
    pub fn exact(value: impl Into<String>) -> Self {
        Self(Inner::Exact(value.into()))
    }

    /// Matches any value the whole of which matches `pattern`.
    ///
    /// Fails with [`BundleError::InvalidPattern`] when the pattern does not compile.
    pub fn regex(pattern: &str) -> Result<Self, BundleError> {
        let anchored = format!("^(?:{pattern})$");
        let regex = regex::RegexBuilder::new(&anchored)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| BundleError::InvalidPattern {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self(Inner::Regex {
            pattern: pattern.to_owned(),
            regex,
        }))
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match &self.0 {
            Inner::Exact(expected) => expected == value,
            Inner::Regex { regex, .. } => regex.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Exact(value) => write!(f, "{value:?}"),
            Inner::Regex { pattern, .. } => write!(
                f,
                "a match of regex {pattern:?} over the whole value (anchored as ^(?:…)$; end it with .* to match a prefix)"
            ),
        }
    }
}

/// Whom a keyless certificate must have been issued to: its SAN identity and,
/// optionally, Fulcio CI claims, each an anchored [`Matcher`]. Every claim
/// required must be present in the certificate and match; an absent one fails.
///
/// ```
/// use dhi_verify::sigstore::{CertificateClaim, Matcher, SubjectMatcher};
/// # fn main() -> Result<(), dhi_verify::sigstore::BundleError> {
/// let subject = SubjectMatcher::new(Matcher::regex(r"https://github\.com/org/app/\.github/workflows/.*")?)
///     .require(CertificateClaim::SourceRepositoryRef, Matcher::regex("refs/tags/v.*")?)
///     .require(CertificateClaim::RunnerEnvironment, Matcher::exact("github-hosted"));
/// assert_eq!(subject.claims().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SubjectMatcher {
    identity: Matcher,
    claims: Vec<(CertificateClaim, Matcher)>,
}

impl SubjectMatcher {
    /// Certificates whose SAN identity (URI or email) `identity` matches, with no claim required.
    pub fn new(identity: Matcher) -> Self {
        Self {
            identity,
            claims: Vec::new(),
        }
    }

    /// Also requires `claim` to be present and matched by `matcher` (the same
    /// claim required twice must satisfy both).
    #[must_use]
    pub fn require(mut self, claim: CertificateClaim, matcher: Matcher) -> Self {
        self.claims.push((claim, matcher));
        self
    }

    /// The SAN identity matcher.
    pub fn identity(&self) -> &Matcher {
        &self.identity
    }

    /// The claims required, in the order given.
    pub fn claims(&self) -> &[(CertificateClaim, Matcher)] {
        &self.claims
    }
}

impl From<Matcher> for SubjectMatcher {
    fn from(identity: Matcher) -> Self {
        Self::new(identity)
    }
}

impl fmt::Display for SubjectMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.identity)?;
        for (claim, m) in &self.claims {
            write!(f, ", {claim} {m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_at_both_ends() {
        let m = Matcher::regex("https://github.com/org/app/.*").unwrap();
        assert!(m.matches("https://github.com/org/app/.github/workflows/r.yml@refs/tags/v1"));
        assert!(!m.matches("https://evil.com/?https://github.com/org/app/"));
        assert!(!m.matches("https://github.com/org/app/x\nhttps://evil.com"));
        let prefix = Matcher::regex("https://github.com/org/app/").unwrap();
        assert!(!prefix.matches("https://evil.com/?https://github.com/org/app/"));
        assert!(!prefix.matches("https://github.com/org/app/extra"));
        assert!(prefix.matches("https://github.com/org/app/"));
    }

    #[test]
    fn regex_alternation_cannot_escape_the_anchors() {
        let m = Matcher::regex("a|https://evil").unwrap();
        assert!(!m.matches("https://evil.com"));
        assert!(m.matches("a"));
    }

    #[test]
    fn exact_matcher_does_not_match_prefixes_or_case_variants() {
        let m = Matcher::exact("https://token.actions.githubusercontent.com");
        assert!(m.matches("https://token.actions.githubusercontent.com"));
        assert!(!m.matches("https://token.actions.githubusercontent.com/"));
        assert!(!m.matches("HTTPS://token.actions.githubusercontent.com"));
    }

    #[test]
    fn invalid_regex_is_a_usage_error() {
        let err = Matcher::regex("(unclosed").unwrap_err();
        assert!(matches!(err, BundleError::InvalidPattern { .. }));
        assert_eq!(err.class(), crate::error::ErrorClass::Usage);
    }
}
