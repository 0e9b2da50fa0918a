//! Predicate type URIs: which ones we know, their aliases, and a human name for each. Owns no parsing.

use std::fmt;

/// The SBOM formats read into [`Sbom`](crate::predicate::Sbom).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SbomFormat {
    /// CycloneDX JSON (1.4, 1.5, 1.6).
    CycloneDx,
    /// SPDX 2.x JSON (2.2, 2.3).
    Spdx,
}

impl fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CycloneDx => "CycloneDX",
            Self::Spdx => "SPDX",
        })
    }
}

/// The SLSA provenance versions read into [`Provenance`](crate::predicate::Provenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[non_exhaustive]
pub enum SlsaVersion {
    /// SLSA provenance v0.1 (`https://slsa.dev/provenance/v0.1`).
    #[serde(rename = "v0.1")]
    V0_1,
    /// SLSA provenance v0.2 (`https://slsa.dev/provenance/v0.2`).
    #[serde(rename = "v0.2")]
    V0_2,
    /// SLSA provenance v1 (`https://slsa.dev/provenance/v1`).
    #[serde(rename = "v1")]
    V1,
}

impl fmt::Display for SlsaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V0_1 => "v0.1",
            Self::V0_2 => "v0.2",
            Self::V1 => "v1",
        })
    }
}

/// The vulnerability report formats read into [`VulnerabilityReport`](crate::predicate::VulnerabilityReport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum VulnsFormat {
    /// in-toto `https://in-toto.io/attestation/vulns/v0.1`.
    InToto,
    /// Docker Scout `https://scout.docker.com/vulnerabilities/v0.1`.
    Scout,
}

/// What a predicate type URI names. Obtained from [`predicate_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum PredicateKind {
    /// A software bill of materials.
    Sbom(SbomFormat),
    /// SLSA build provenance.
    Provenance(SlsaVersion),
    /// SLSA verification summary v1.
    VerificationSummary,
    /// OpenVEX v0.2.0.
    Vex,
    /// A vulnerability scan report.
    Vulnerabilities(VulnsFormat),
    /// DHI image sources (`https://docker.com/dhi/source/v0.1`).
    DhiSource,
    /// DHI FIPS attestation (`https://docker.com/dhi/fips/v0.1`).
    Fips,
    /// DHI STIG scan (`https://docker.com/dhi/stig/v0.1`).
    Stig,
    /// Scout test results in CTRF (`https://scout.docker.com/tests/v0.1`).
    Tests,
    /// Scout secrets scan (`https://scout.docker.com/secrets/v0.1`).
    SecretsScan,
    /// Scout virus scan (`https://scout.docker.com/virus/v0.1`).
    VirusScan,
    /// Scout's own SBOM (`https://scout.docker.com/sbom/v0.1`); kept raw.
    ScoutSbom,
    /// Scout's own provenance (`https://scout.docker.com/provenance/v0.1`); kept raw.
    ScoutProvenance,
    /// Scout health score (`https://scout.docker.com/health/v0.1`); kept raw.
    ScoutHealth,
    /// Any other predicate type; kept raw.
    Unknown,
}

/// Maps a predicate type URI to what it names, accepting the aliases tools write
/// (`https://cyclonedx.org/bom` and `…/bom/v1.4`–`v1.6`, `…/provenance/v0.1`, `v0.2`, `v1` and `v1.0`).
/// Matching is exact apart from one trailing `/`; anything else is [`PredicateKind::Unknown`].
#[must_use]
pub fn predicate_kind(predicate_type: &str) -> PredicateKind {
    let t = predicate_type.strip_suffix('/').unwrap_or(predicate_type);
    match t {
        "https://cyclonedx.org/bom"
        | "https://cyclonedx.org/bom/v1.4"
        | "https://cyclonedx.org/bom/v1.5"
        | "https://cyclonedx.org/bom/v1.6" => PredicateKind::Sbom(SbomFormat::CycloneDx),
        "https://spdx.dev/Document"
        | "https://spdx.dev/Document/v2.2"
        | "https://spdx.dev/Document/v2.3" => PredicateKind::Sbom(SbomFormat::Spdx),
        "https://slsa.dev/provenance/v0.1" => PredicateKind::Provenance(SlsaVersion::V0_1),
        "https://slsa.dev/provenance/v0.2" => PredicateKind::Provenance(SlsaVersion::V0_2),
        "https://slsa.dev/provenance/v1" | "https://slsa.dev/provenance/v1.0" => {
            PredicateKind::Provenance(SlsaVersion::V1)
        }
        "https://slsa.dev/verification_summary/v1" => PredicateKind::VerificationSummary,
        "https://openvex.dev/ns/v0.2.0" | "https://openvex.dev/ns" => PredicateKind::Vex,
        "https://in-toto.io/attestation/vulns/v0.1" => {
            PredicateKind::Vulnerabilities(VulnsFormat::InToto)
        }
        "https://scout.docker.com/vulnerabilities/v0.1" => {
            PredicateKind::Vulnerabilities(VulnsFormat::Scout)
        }
        "https://docker.com/dhi/source/v0.1" => PredicateKind::DhiSource,
        "https://docker.com/dhi/fips/v0.1" => PredicateKind::Fips,
        "https://docker.com/dhi/stig/v0.1" => PredicateKind::Stig,
        "https://scout.docker.com/tests/v0.1" => PredicateKind::Tests,
        "https://scout.docker.com/secrets/v0.1" => PredicateKind::SecretsScan,
        "https://scout.docker.com/virus/v0.1" => PredicateKind::VirusScan,
        "https://scout.docker.com/sbom/v0.1" => PredicateKind::ScoutSbom,
        "https://scout.docker.com/provenance/v0.1" => PredicateKind::ScoutProvenance,
        "https://scout.docker.com/health/v0.1" => PredicateKind::ScoutHealth,
        _ => PredicateKind::Unknown,
    }
}

impl fmt::Display for PredicateKind {
    /// A short human name, e.g. "SLSA provenance v1", "CycloneDX SBOM".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sbom(format) => write!(f, "{format} SBOM"),
            Self::Provenance(v) => write!(f, "SLSA provenance {v}"),
            Self::VerificationSummary => f.write_str("SLSA verification summary v1"),
            Self::Vex => f.write_str("OpenVEX"),
            Self::Vulnerabilities(VulnsFormat::InToto) => f.write_str("in-toto vulnerability scan"),
            Self::Vulnerabilities(VulnsFormat::Scout) => f.write_str("Scout vulnerability scan"),
            Self::DhiSource => f.write_str("DHI image sources"),
            Self::Fips => f.write_str("DHI FIPS"),
            Self::Stig => f.write_str("DHI STIG scan"),
            Self::Tests => f.write_str("Scout test results"),
            Self::SecretsScan => f.write_str("Scout secrets scan"),
            Self::VirusScan => f.write_str("Scout virus scan"),
            Self::ScoutSbom => f.write_str("Scout SBOM"),
            Self::ScoutProvenance => f.write_str("Scout provenance"),
            Self::ScoutHealth => f.write_str("Scout health score"),
            Self::Unknown => f.write_str("unknown predicate"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn cyclonedx_aliases_all_name_cyclonedx() {
        for t in [
            "https://cyclonedx.org/bom",
            "https://cyclonedx.org/bom/",
            "https://cyclonedx.org/bom/v1.4",
            "https://cyclonedx.org/bom/v1.5",
            "https://cyclonedx.org/bom/v1.6",
        ] {
            assert_eq!(
                predicate_kind(t),
                PredicateKind::Sbom(SbomFormat::CycloneDx),
                "{t}"
            );
        }
    }

    #[test]
    fn provenance_v1_is_named_for_people() {
        let kind = predicate_kind("https://slsa.dev/provenance/v1");
        assert_eq!(kind, PredicateKind::Provenance(SlsaVersion::V1));
        assert_eq!(kind.to_string(), "SLSA provenance v1");
    }

    #[test]
    fn every_slsa_provenance_version_is_provenance() {
        for (t, v) in [
            ("https://slsa.dev/provenance/v0.1", SlsaVersion::V0_1),
            ("https://slsa.dev/provenance/v0.2", SlsaVersion::V0_2),
            ("https://slsa.dev/provenance/v1", SlsaVersion::V1),
            ("https://slsa.dev/provenance/v1.0", SlsaVersion::V1),
        ] {
            assert_eq!(predicate_kind(t), PredicateKind::Provenance(v), "{t}");
        }
        assert_eq!(
            predicate_kind("https://slsa.dev/provenance/v0.1").to_string(),
            "SLSA provenance v0.1"
        );
    }

    #[test]
    fn near_miss_type_is_unknown() {
        assert_eq!(
            predicate_kind("https://slsa.dev/provenance/v2"),
            PredicateKind::Unknown
        );
        assert_eq!(
            predicate_kind("https://cyclonedx.org/bom/v1.7x"),
            PredicateKind::Unknown
        );
        assert_eq!(predicate_kind(""), PredicateKind::Unknown);
    }
}
