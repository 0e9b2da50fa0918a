//! Typed readings of verified attestation predicates: SBOMs, SLSA provenance,
//! OpenVEX, vulnerability reports and Docker's DHI/Scout predicates.
//!
//! Pure functions over bytes: no I/O, no clock, no trust decisions. The chain
//! verifier hands over the in-toto Statement bytes it verified; this module
//! reads their `predicate` into typed values (never through an intermediate
//! `serde_json::Value` for the large ones). Unknown predicate types are kept as
//! raw JSON, never an error.
//!
//! ```
//! use dhi_verify::predicate::{parse_statement_predicate, Predicate, PredicateLimits};
//!
//! let statement = br#"{"_type":"https://in-toto.io/Statement/v1",
//!   "predicateType":"https://spdx.dev/Document","subject":[],
//!   "predicate":{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT",
//!     "packages":[{"SPDXID":"SPDXRef-a","name":"zlib","versionInfo":"1.3",
//!       "licenseDeclared":"Zlib","externalRefs":[{"referenceCategory":"PACKAGE-MANAGER",
//!       "referenceType":"purl","referenceLocator":"pkg:deb/debian/zlib@1.3"}]}]}}"#;
//! let predicate = parse_statement_predicate("https://spdx.dev/Document", statement, &PredicateLimits::default())?;
//! let Predicate::Sbom(sbom) = predicate else { unreachable!() };
//! assert_eq!(sbom.packages[0].purl(), Some("pkg:deb/debian/zlib@1.3"));
//! assert_eq!(sbom.packages[0].licenses().collect::<Vec<_>>(), ["Zlib"]);
//! # Ok::<(), dhi_verify::predicate::PredicateError>(())
//! ```

mod dhi;
mod error;
mod kind;
mod limits;
mod provenance;
mod purl;
mod read;
mod sbom;
mod statement;
mod summary;
#[cfg(test)]
mod test_support;
pub(crate) mod time;
mod vex;
mod vulns;

pub use dhi::{
    DhiSource, Fips, ImageSource, SecretsScan, Stig, TestResults, TestSummary, VirusScan,
};
pub use error::{JsonErrorCategory, PredicateError};
pub use kind::{predicate_kind, PredicateKind, SbomFormat, SlsaVersion, VulnsFormat};
pub use limits::PredicateLimits;
pub use provenance::{Provenance, ResolvedDependency, SourceRef};
pub(crate) use read::PredicateReader;
pub use sbom::{HashAlgorithm, ImageRelationship, Package, PackageHash, Sbom};
pub use summary::VerificationSummary;
pub use time::Timestamp;
pub use vex::{Justification, Vex, VexProduct, VexStatement, VexStatus, Vulnerability};
pub use vulns::{Finding, SeverityScore, VulnerabilityReport};

/// A predicate read into its typed model. Serialises as
/// `{"kind": "sbom", "value": {...}}` (`unknown` carries `predicateType` and `raw`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Predicate {
    /// CycloneDX or SPDX SBOM, normalised.
    Sbom(Sbom),
    /// SLSA provenance v0.2 or v1, summarised.
    Provenance(Provenance),
    /// OpenVEX v0.2.0.
    Vex(Vex),
    /// in-toto or Scout vulnerability report.
    Vulnerabilities(VulnerabilityReport),
    /// DHI image sources.
    DhiSource(DhiSource),
    /// DHI FIPS attestation (raw).
    Fips(Fips),
    /// DHI STIG scan (raw).
    Stig(Stig),
    /// Scout test results (CTRF summary).
    Tests(TestResults),
    /// Scout secrets scan.
    SecretsScan(SecretsScan),
    /// Scout virus scan.
    VirusScan(VirusScan),
    /// SLSA verification summary v1.
    VerificationSummary(VerificationSummary),
    /// A predicate type this library does not model (including Scout's own
    /// SBOM, provenance and health predicates), kept as raw JSON.
    #[serde(rename_all = "camelCase")]
    Unknown {
        /// The predicate type URI.
        predicate_type: String,
        /// The predicate (`null` when the statement has none).
        raw: serde_json::Value,
    },
}

impl Predicate {
    /// What kind of predicate this is (for [`Predicate::Unknown`], from its type URI).
    #[must_use]
    pub fn kind(&self) -> PredicateKind {
        match self {
            Self::Sbom(s) => PredicateKind::Sbom(s.format),
            Self::Provenance(p) => PredicateKind::Provenance(p.slsa_version),
            Self::Vex(_) => PredicateKind::Vex,
            Self::Vulnerabilities(v) => PredicateKind::Vulnerabilities(v.format),
            Self::DhiSource(_) => PredicateKind::DhiSource,
            Self::Fips(_) => PredicateKind::Fips,
            Self::Stig(_) => PredicateKind::Stig,
            Self::Tests(_) => PredicateKind::Tests,
            Self::SecretsScan(_) => PredicateKind::SecretsScan,
            Self::VirusScan(_) => PredicateKind::VirusScan,
            Self::VerificationSummary(_) => PredicateKind::VerificationSummary,
            Self::Unknown { predicate_type, .. } => predicate_kind(predicate_type),
        }
    }
}

/// Reads the `predicate` of a raw in-toto Statement (`{"_type", "predicateType",
/// "subject", "predicate"}`) into its typed model, chosen by `predicate_type`
/// (see [`predicate_kind`] for the accepted URIs and aliases).
///
/// The statement must be a single JSON object within `limits`; when it states
/// a `predicateType`, it must equal `predicate_type`. `_type` and `subject`
/// are not examined (the verifier binds them to the image).
///
/// # Errors
/// [`PredicateError`] when the bytes are not valid JSON, the predicate does not
/// have its type's shape, a limit is exceeded, or the statement names another
/// predicate type. An unknown predicate type is not an error: it is returned as
/// [`Predicate::Unknown`] with the raw JSON.
pub fn parse_statement_predicate(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Predicate, PredicateError> {
    let t = predicate_type;
    let b = statement_bytes;
    Ok(match predicate_kind(t) {
        PredicateKind::Sbom(SbomFormat::CycloneDx) => {
            Predicate::Sbom(sbom::cyclonedx::parse(t, b, limits)?)
        }
        PredicateKind::Sbom(SbomFormat::Spdx) => Predicate::Sbom(sbom::spdx::parse(t, b, limits)?),
        PredicateKind::Provenance(v) => Predicate::Provenance(provenance::parse(v, t, b, limits)?),
        PredicateKind::VerificationSummary => {
            Predicate::VerificationSummary(summary::parse(t, b, limits)?)
        }
        PredicateKind::Vex => Predicate::Vex(vex::parse(t, b, limits)?),
        PredicateKind::Vulnerabilities(f) => {
            Predicate::Vulnerabilities(vulns::parse(f, t, b, limits)?)
        }
        PredicateKind::DhiSource => Predicate::DhiSource(dhi::parse_source(t, b, limits)?),
        PredicateKind::Fips => Predicate::Fips(dhi::parse_fips(t, b, limits)?),
        PredicateKind::Stig => Predicate::Stig(dhi::parse_stig(t, b, limits)?),
        PredicateKind::Tests => Predicate::Tests(dhi::parse_tests(t, b, limits)?),
        PredicateKind::SecretsScan => Predicate::SecretsScan(dhi::parse_secrets(t, b, limits)?),
        PredicateKind::VirusScan => Predicate::VirusScan(dhi::parse_virus(t, b, limits)?),
        PredicateKind::ScoutSbom
        | PredicateKind::ScoutProvenance
        | PredicateKind::ScoutHealth
        | PredicateKind::Unknown => Predicate::Unknown {
            predicate_type: t.to_owned(),
            raw: statement::read_predicate(t, b, limits)?.unwrap_or(serde_json::Value::Null),
        },
    })
}
