//! Matching a certificate's SAN identity and OIDC issuer against what the caller trusts.

use std::fmt;

use super::error::BundleError;

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

impl super::bundle::BundlePolicy {
    /// Whether a (verified) Fulcio certificate names an identity this policy
    /// trusts: its SAN identity and its OIDC issuer each match, anchored, the
    /// policy's matcher. A key policy accepts no certificate.
    pub(crate) fn accepts_certificate(
        &self,
        info: &sigstore_verify::crypto::CertificateInfo,
    ) -> Result<(), BundleError> {
        let Self::Identity { issuer, subject } = self else {
            return Err(BundleError::SignerKindMismatch {
                expected: "public key",
                found: "certificate",
            });
        };
        let identity = info.identity.as_ref().map(|i| i.as_str());
        if !identity.is_some_and(|i| subject.matches(i)) {
            return Err(BundleError::IdentityMismatch {
                expected: subject.to_string(),
                found: identity.map(str::to_owned),
            });
        }
        if !info.issuer.as_deref().is_some_and(|i| issuer.matches(i)) {
            return Err(BundleError::IssuerMismatch {
                expected: issuer.to_string(),
                found: info.issuer.clone(),
            });
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
        assert_eq!(err.class(), crate::sigstore::ErrorClass::Usage);
    }
}
