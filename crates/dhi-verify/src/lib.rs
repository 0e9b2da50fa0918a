//! `dhi-verify`: may this container image run?
//!
//! Resolves an image reference, discovers the signatures, SBOMs and build
//! provenance attached to it (OCI referrers), verifies every link of the chain
//! against trusted keys, evaluates a policy, and returns a [`Verdict`] that
//! names the exact digest it approved. Docker Hardened Images are the
//! first-class target: their keys are embedded ([`TrustRoot::dhi_embedded`]).
//!
//! Principal types: [`Verifier`] (built from a [`TrustRoot`] and a [`Policy`]),
//! [`Verdict`] (outcome, digest, checks, per-platform attestation reports),
//! [`Error`] (only for "could not check"; a failed image is a verdict).
//!
//! ```no_run
//! # async fn gate() -> Result<(), dhi_verify::Error> {
//! use dhi_verify::{Platform, Policy, TrustRoot, Verifier};
//! let verifier = Verifier::builder()
//!     .trust(TrustRoot::dhi_embedded())
//!     .policy(Policy::dhi_default())
//!     .platforms([Platform::linux_amd64()])
//!     .build()?;
//! let verdict = verifier.verify("oci:testdata/demo:3.13").await?;
//! if verdict.passed() {
//!     println!("deploy {}", verdict.digest()); // pin what was verified, never the tag
//! }
//! # Ok(()) }
//! ```
//!
//! Stages: `source` (the only I/O) → `discover` (evidence, every byte
//! digest-checked) → `verify` (signatures and statements, no policy) →
//! `predicate` (each verified statement read once) → `policy` (evaluate) →
//! [`Verdict`]; [`Verifier`] sequences them. Base modules (`digest`,
//! `reference`, `trust`, `error`, …) import nothing of the walk.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod claim;
mod digest;
mod discover;
pub mod dockerfile;
mod error;
mod limits;
pub(crate) mod oci;
mod platform;
pub mod policy;
pub mod predicate;
mod reference;
mod requirement;
pub mod source;
mod verify;
pub mod workload;

mod trust;
mod verdict;
mod verifier;

pub use digest::{Digest, DigestParseError};
pub use discover::PlatformSelection;
pub use error::{
    ConfigError, ContentStep, Error, ErrorClass, KeyUnusable, Outcome, SourceError, SourceStep,
    VerifyError,
};
pub use limits::{Limits, PARSER_JSON_DEPTH};
pub use platform::{Platform, PlatformParseError};
pub use policy::{Policy, TlogMode};
pub use reference::{LayoutReference, Reference, ReferenceError, RegistryReference, DOCKER_HUB};
pub use requirement::{describe_predicate_type, Requirement, IMAGE_SIGNATURE};
pub use trust::{
    KeyState, KeylessIdentity, TrustRoot, TrustedKey, DHI_1_PEM, DHI_2_PEM, DHI_2_VALID_FROM_UNIX,
};
pub use verdict::{
    AttestationReport, Check, CheckStatus, EvidenceSource, ImageConfig, ImageSignatureReport,
    PlatformVerdict, SignatureReport, Signer, TlogStatus, Verdict, VerifiedAttestation,
    SCHEMA_VERSION as VERDICT_SCHEMA_VERSION,
};
pub use verifier::{Verifier, VerifierBuilder, DEFAULT_DEADLINE};
// The signature formats belong to the verify stage (`verify/signature`,
// `verify/sigstore`); their public paths stay `dhi_verify::signature` and
// `dhi_verify::sigstore`.
pub use verify::{signature, sigstore};

/// Internals for the fuzz targets (`fuzz/`), behind the `fuzzing` feature:
/// not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::oci::Manifest;
    pub use crate::verify::statement::check_statement;
}
