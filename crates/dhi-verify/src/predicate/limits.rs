//! Resource limits for the predicate parsers, with their documented defaults. Owns no parsing.

/// Limits applied while reading a predicate. Every limit names what it bounds;
/// exceeding one is a [`PredicateError`](crate::predicate::PredicateError), never a panic.
///
/// Nesting depth is not configurable: serde_json refuses input nested deeper
/// than 128 arrays/objects (its recursion limit, applied to every parse), which
/// keeps a 100 000-level document off the stack; it is reported as
/// [`PredicateError::TooDeep`](crate::predicate::PredicateError::TooDeep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PredicateLimits {
    /// Largest statement accepted, in bytes. Default 256 MiB. The source layer
    /// already caps blob sizes before reading them; this is a second fence so
    /// the parsers are safe to call on their own.
    pub max_statement_bytes: usize,
    /// Most SBOM packages (CycloneDX components, nested ones included, or SPDX
    /// packages) in one document. Default 1 000 000.
    pub max_packages: usize,
    /// Most OpenVEX statements in one document. Default 1 000 000.
    pub max_vex_statements: usize,
    /// Most findings in one vulnerability report. Default 1 000 000.
    pub max_findings: usize,
}

impl PredicateLimits {
    /// The documented defaults (see each field).
    pub const DEFAULT: Self = Self {
        max_statement_bytes: 256 * 1024 * 1024,
        max_packages: 1_000_000,
        max_vex_statements: 1_000_000,
        max_findings: 1_000_000,
    };

    /// Sets [`Self::max_statement_bytes`].
    #[must_use]
    pub const fn with_max_statement_bytes(mut self, max: usize) -> Self {
        self.max_statement_bytes = max;
        self
    }

    /// Sets [`Self::max_packages`].
    #[must_use]
    pub const fn with_max_packages(mut self, max: usize) -> Self {
        self.max_packages = max;
        self
    }

    /// Sets [`Self::max_vex_statements`].
    #[must_use]
    pub const fn with_max_vex_statements(mut self, max: usize) -> Self {
        self.max_vex_statements = max;
        self
    }

    /// Sets [`Self::max_findings`].
    #[must_use]
    pub const fn with_max_findings(mut self, max: usize) -> Self {
        self.max_findings = max;
        self
    }
}

impl Default for PredicateLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
