//! What an image must carry and say to pass: required attestation types,
//! transparency-log mode, and rules over the verified provenance, SBOM,
//! vulnerability report, VEX and image configuration. [`file`](mod@file) reads a policy
//! file; `rules` evaluates the rules over verified evidence.

pub mod deploy;
pub(crate) mod evaluate;
pub mod file;
mod glob;
pub(crate) mod rules;
mod time;

/// The Dockerfile stage rules are not part of a [`Policy`]: a policy file's
/// `[dockerfile]` section is read into [`LoadedPolicy::dockerfile`] and
/// judged by [`crate::dockerfile::stage_checks`].
pub use crate::dockerfile::DockerfileRules;
pub use file::{
    load_policy, parse_policy, LoadedPolicy, PolicyError, DEFAULT_POLICY_TOML, MAX_POLICY_BYTES,
};
pub use glob::{Glob, GlobError};
pub use time::{parse_date_or_time, DateError};

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

/// Whether every selected platform must pass, or at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlatformRule {
    /// Every selected platform must pass (the default).
    #[default]
    All,
    /// At least one selected platform must pass.
    Any,
}

/// Rules over the verified SLSA provenance. Empty lists accept anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProvenanceRules {
    /// Accepted builder ids.
    pub builder_ids: Vec<Glob>,
    /// Accepted build types.
    pub build_types: Vec<Glob>,
    /// Accepted source repositories.
    pub source_repositories: Vec<Glob>,
    /// Accepted source refs (branches, tags).
    pub source_refs: Vec<Glob>,
    /// Oldest build accepted, in days before the verification time.
    pub max_age_days: Option<u32>,
}

/// Rules over the verified SBOMs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SbomRules {
    /// Packages that must not be present (purl patterns, or name patterns without `pkg:`).
    pub deny_packages: Vec<Glob>,
    /// SPDX license ids denied within any package's license expression.
    pub deny_licenses: Vec<Glob>,
    /// Packages that must be present.
    pub require_packages: Vec<Glob>,
}

/// Vulnerability severities, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Low.
    Low,
    /// Medium (also "moderate").
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Parses a severity name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" | "negligible" => Some(Severity::Low),
            "medium" | "moderate" => Some(Severity::Medium),
            "high" | "important" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The CVSS v3 qualitative band of a base score.
    pub fn from_cvss(score: f64) -> Option<Self> {
        match score {
            s if s >= 9.0 => Some(Severity::Critical),
            s if s >= 7.0 => Some(Severity::High),
            s if s >= 4.0 => Some(Severity::Medium),
            s if s > 0.0 => Some(Severity::Low),
            _ => None,
        }
    }
}

/// How an OpenVEX `under_investigation` statement counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnderInvestigation {
    /// The finding still counts (the default).
    #[default]
    Affected,
    /// The finding is suppressed.
    NotAffected,
}

/// A vulnerability accepted until a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedVulnerability {
    /// The vulnerability id (CVE, GHSA…), or an alias of it.
    pub id: String,
    /// When the exception ends (Unix seconds); `None` never.
    pub expires_unix: Option<u64>,
}

/// Rules over the verified vulnerability report and VEX.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct VulnerabilityRules {
    /// The highest severity allowed; `None` does not check.
    pub max_severity: Option<Severity>,
    /// How `under_investigation` counts.
    pub under_investigation: UnderInvestigation,
    /// Accepted vulnerabilities.
    pub allow: Vec<AllowedVulnerability>,
}

/// Rules over the verified index and image configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ImageRules {
    /// The configuration's `User` must not be root.
    pub non_root: bool,
    /// The index must be a DHI runtime variant (no shell, no package manager).
    pub runtime_variant: bool,
    /// `com.docker.dhi.date.end-of-life` must not be past.
    pub not_end_of_life: bool,
    /// Oldest image accepted, in days since its configuration's `created`.
    pub max_age_days: Option<u32>,
}

/// The rules a verified image must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub(crate) requirements: Vec<Requirement>,
    pub(crate) tlog: TlogMode,
    pub(crate) platforms: PlatformRule,
    pub(crate) provenance: ProvenanceRules,
    pub(crate) sbom: SbomRules,
    pub(crate) vulnerabilities: VulnerabilityRules,
    pub(crate) image: ImageRules,
}

impl Policy {
    /// The built-in DHI policy: every selected platform carries a verified
    /// SLSA provenance and a verified SBOM (CycloneDX or SPDX) and does not
    /// run as root; transparency-log entries are verified when present.
    pub fn dhi_default() -> Self {
        Policy {
            requirements: ["provenance", "sbom"]
                .iter()
                .filter_map(|r| Requirement::parse(r).ok())
                .collect(),
            tlog: TlogMode::IfPresent,
            platforms: PlatformRule::All,
            provenance: ProvenanceRules::default(),
            sbom: SbomRules::default(),
            vulnerabilities: VulnerabilityRules::default(),
            image: ImageRules {
                non_root: true,
                ..ImageRules::default()
            },
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
            platforms: PlatformRule::All,
            provenance: ProvenanceRules::default(),
            sbom: SbomRules::default(),
            vulnerabilities: VulnerabilityRules::default(),
            image: ImageRules::default(),
        })
    }

    /// Replaces the required predicate types (aliases or URIs).
    pub fn with_requirements<I, S>(mut self, requirements: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.requirements = requirements
            .into_iter()
            .map(|r| Requirement::parse(r.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Replaces the required predicate types with parsed ones (a deployment
    /// rule's, [`deploy::ImageRule::require`]). An empty list is refused
    /// when verifying, as for [`Policy::requiring`].
    pub fn with_requirement_list(mut self, requirements: Vec<Requirement>) -> Self {
        self.requirements = requirements;
        self
    }

    /// Sets whether all selected platforms must pass or any.
    pub fn with_platform_rule(mut self, rule: PlatformRule) -> Self {
        self.platforms = rule;
        self
    }

    /// Sets the provenance rules.
    pub fn with_provenance_rules(mut self, rules: ProvenanceRules) -> Self {
        self.provenance = rules;
        self
    }

    /// Sets the SBOM rules.
    pub fn with_sbom_rules(mut self, rules: SbomRules) -> Self {
        self.sbom = rules;
        self
    }

    /// Sets the vulnerability rules.
    pub fn with_vulnerability_rules(mut self, rules: VulnerabilityRules) -> Self {
        self.vulnerabilities = rules;
        self
    }

    /// Sets the image rules.
    pub fn with_image_rules(mut self, rules: ImageRules) -> Self {
        self.image = rules;
        self
    }

    /// The image rules.
    pub fn image_rules(&self) -> &ImageRules {
        &self.image
    }

    /// Whether all selected platforms must pass, or any.
    pub fn platform_rule(&self) -> PlatformRule {
        self.platforms
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
    fn the_written_default_policy_is_the_built_in_one() {
        let loaded = parse_policy(DEFAULT_POLICY_TOML, std::path::Path::new("."), None).unwrap();
        assert_eq!(loaded.policy, Policy::dhi_default());
        let names: Vec<_> = loaded
            .trust
            .keys()
            .iter()
            .map(|k| k.name().to_owned())
            .collect();
        assert_eq!(names, ["dhi-2", "dhi-1"]);
        // The minimal file means the same.
        assert_eq!(
            parse_policy("version = 1", std::path::Path::new("."), None)
                .unwrap()
                .policy,
            Policy::dhi_default()
        );
    }

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
