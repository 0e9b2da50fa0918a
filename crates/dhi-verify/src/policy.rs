//! What an image must carry to pass. Today: required predicate types per
//! platform. The full policy language (identities, provenance, SBOM and
//! vulnerability rules) builds on this type.

use crate::error::ConfigError;
use crate::requirement::Requirement;

/// What to do with transparency-log entries on signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlogMode {
    /// Ignore them, even when present (cosign's `--insecure-ignore-tlog`).
    /// A downgrade: reported in the verdict as a skipped check.
    Never,
    /// Verify them when present; a signature without one still counts. The DHI default.
    #[default]
    IfPresent,
    /// Require a verified entry on every signature that counts.
    Always,
}

/// The rules a verified image must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    requirements: Vec<Requirement>,
    tlog: TlogMode,
}

impl Policy {
    /// The built-in DHI policy: every selected platform carries a verified
    /// SLSA provenance and a verified SBOM (CycloneDX or SPDX).
    pub fn dhi_default() -> Self {
        Policy {
            requirements: ["provenance", "sbom"]
                .iter()
                .filter_map(|r| Requirement::parse(r).ok())
                .collect(),
            tlog: TlogMode::IfPresent,
        }
    }

    /// A policy requiring exactly these predicate types (aliases or URIs).
    /// An empty list requires nothing beyond a valid index.
    pub fn requiring<I, S>(requirements: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Policy {
            requirements: requirements
                .into_iter()
                .map(|r| Requirement::parse(r.as_ref()))
                .collect::<Result<_, _>>()?,
            tlog: TlogMode::IfPresent,
        })
    }

    /// Sets the transparency-log mode.
    pub fn with_tlog(mut self, mode: TlogMode) -> Self {
        self.tlog = mode;
        self
    }

    /// The required predicate types.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The transparency-log mode.
    pub fn tlog(&self) -> TlogMode {
        self.tlog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhi_default_requires_provenance_and_sbom() {
        let names: Vec<_> = Policy::dhi_default()
            .requirements()
            .iter()
            .map(|r| r.name().to_owned())
            .collect();
        assert_eq!(names, ["provenance", "sbom"]);
    }
}
