//! Which attestations a platform must carry: predicate types by URI or by
//! alias (`provenance`, `sbom`, `cyclonedx`, `spdx`, `vex`, …).

use std::fmt;

use crate::error::ConfigError;

/// How a requirement matches predicate types.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    /// Exactly this URI.
    Exact(String),
    /// Any of these URIs, or any URI under one of these prefixes (a prefix ends in '/').
    Family(&'static [&'static str]),
    /// Not an attestation: a verified signature on the image itself (its
    /// index or platform manifest).
    ImageSignature,
}

/// The requirement alias for a signature on the image itself.
pub const IMAGE_SIGNATURE: &str = "signature";

/// One required predicate type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    name: String,
    description: &'static str,
    matcher: Matcher,
}

/// Every SLSA provenance version the predicate parser reads (`predicate_kind`).
const PROVENANCE: &[&str] = &[
    "https://slsa.dev/provenance/v0.1",
    "https://slsa.dev/provenance/v0.2",
    "https://slsa.dev/provenance/v1",
    "https://slsa.dev/provenance/v1.0",
];
const CYCLONEDX: &[&str] = &["https://cyclonedx.org/bom", "https://cyclonedx.org/bom/"];
const SPDX: &[&str] = &["https://spdx.dev/Document", "https://spdx.dev/Document/"];
const SBOM: &[&str] = &[
    "https://cyclonedx.org/bom",
    "https://cyclonedx.org/bom/",
    "https://spdx.dev/Document",
    "https://spdx.dev/Document/",
];
const VEX: &[&str] = &["https://openvex.dev/ns", "https://openvex.dev/ns/"];
const VULNS: &[&str] = &[
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://scout.docker.com/vulnerabilities/v0.1",
];

/// The aliases, their description and the predicate types each accepts.
const ALIASES: &[(&str, &str, &[&str])] = &[
    ("provenance", "SLSA provenance", PROVENANCE),
    ("sbom", "SBOM (CycloneDX or SPDX)", SBOM),
    ("cyclonedx", "CycloneDX SBOM", CYCLONEDX),
    ("spdx", "SPDX SBOM", SPDX),
    ("vex", "OpenVEX", VEX),
    ("vulns", "vulnerability scan", VULNS),
    (
        "vsa",
        "SLSA verification summary",
        &["https://slsa.dev/verification_summary/v1"],
    ),
    (
        "dhi-source",
        "DHI image sources",
        &["https://docker.com/dhi/source/v0.1"],
    ),
    ("fips", "DHI FIPS", &["https://docker.com/dhi/fips/v0.1"]),
    ("stig", "DHI STIG", &["https://docker.com/dhi/stig/v0.1"]),
    (
        "tests",
        "Scout tests",
        &["https://scout.docker.com/tests/v0.1"],
    ),
    (
        "secrets",
        "Scout secrets scan",
        &["https://scout.docker.com/secrets/v0.1"],
    ),
    (
        "virus",
        "Scout virus scan",
        &["https://scout.docker.com/virus/v0.1"],
    ),
];

impl Requirement {
    /// Parses an alias or a predicate type URI (anything containing `://`).
    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        let input = input.trim();
        if input == IMAGE_SIGNATURE {
            return Ok(Requirement {
                name: IMAGE_SIGNATURE.to_owned(),
                description: "image signature",
                matcher: Matcher::ImageSignature,
            });
        }
        if let Some((name, description, family)) = ALIASES.iter().find(|(n, _, _)| *n == input) {
            return Ok(Requirement {
                name: (*name).to_owned(),
                description,
                matcher: Matcher::Family(family),
            });
        }
        if input.contains("://") {
            return Ok(Requirement {
                name: input.to_owned(),
                description: "attestation",
                matcher: Matcher::Exact(input.to_owned()),
            });
        }
        Err(ConfigError::UnknownRequirement {
            input: input.to_owned(),
            aliases: ALIASES
                .iter()
                .map(|(n, _, _)| *n)
                .chain([IMAGE_SIGNATURE])
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The name as given (alias or URI); also the check id suffix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A description for people ("SLSA provenance").
    pub fn description(&self) -> &str {
        self.description
    }

    /// Whether this requires a signature on the image itself (cosign
    /// `sign`: a `.sig` tag, a signature referrer or a Sigstore bundle of the
    /// index or the platform manifest) rather than an attestation.
    pub fn is_image_signature(&self) -> bool {
        self.matcher == Matcher::ImageSignature
    }

    /// Whether an attestation of `predicate_type` satisfies this requirement.
    pub fn accepts(&self, predicate_type: &str) -> bool {
        match &self.matcher {
            Matcher::ImageSignature => false,
            Matcher::Exact(uri) => uri == predicate_type,
            Matcher::Family(family) => family.iter().any(|f| {
                if f.ends_with('/') {
                    predicate_type
                        .strip_prefix(f)
                        .is_some_and(|rest| !rest.is_empty())
                } else {
                    *f == predicate_type
                }
            }),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A short human name for a predicate type ("SLSA provenance v1").
pub fn describe_predicate_type(predicate_type: &str) -> String {
    let known: &[(&str, &str)] = &[
        ("https://slsa.dev/provenance/", "SLSA provenance "),
        ("https://cyclonedx.org/bom/", "CycloneDX SBOM "),
        ("https://openvex.dev/ns/", "OpenVEX "),
        ("https://slsa.dev/verification_summary/", "SLSA VSA "),
    ];
    for (prefix, name) in known {
        if let Some(v) = predicate_type.strip_prefix(prefix) {
            return format!("{name}{v}");
        }
    }
    match predicate_type {
        "https://spdx.dev/Document" => "SPDX SBOM".into(),
        "https://cyclonedx.org/bom" => "CycloneDX SBOM".into(),
        "https://docker.com/dhi/source/v0.1" => "DHI image sources".into(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_accept_their_predicate_types() {
        let sbom = Requirement::parse("sbom").unwrap();
        assert!(sbom.accepts("https://cyclonedx.org/bom/v1.6"));
        assert!(sbom.accepts("https://spdx.dev/Document"));
        assert!(!sbom.accepts("https://slsa.dev/provenance/v1"));
        let prov = Requirement::parse("provenance").unwrap();
        for version in ["v0.1", "v0.2", "v1", "v1.0"] {
            assert!(
                prov.accepts(&format!("https://slsa.dev/provenance/{version}")),
                "{version}"
            );
        }
        assert!(!prov.accepts("https://slsa.dev/provenance/v0.3"));
        assert!(!prov.accepts("https://slsa.dev/provenance/v1.evil"));
        assert!(Requirement::parse("vex")
            .unwrap()
            .accepts("https://openvex.dev/ns/v0.2.0"));
    }

    #[test]
    fn prefixes_do_not_match_lookalike_hosts() {
        let c = Requirement::parse("cyclonedx").unwrap();
        assert!(!c.accepts("https://cyclonedx.org/bomb"));
        assert!(!c.accepts("https://cyclonedx.org/bom/"));
    }

    #[test]
    fn uris_are_matched_exactly() {
        let r = Requirement::parse("https://example.com/p/v1").unwrap();
        assert!(r.accepts("https://example.com/p/v1"));
        assert!(!r.accepts("https://example.com/p/v1/"));
    }

    #[test]
    fn unknown_aliases_are_config_errors() {
        assert!(matches!(
            Requirement::parse("sbomm"),
            Err(ConfigError::UnknownRequirement { .. })
        ));
    }
}
