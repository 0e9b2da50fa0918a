//! The error a Sigstore verification returns: which step failed, and what was expected and found.

use thiserror::Error;

use super::ErrorClass;
use crate::claim::CertificateClaim;

/// Why a Sigstore bundle or legacy cosign Rekor bundle was rejected.
///
/// Variants with `reason` carry the detail reported by the verification step
/// named by the variant; they are for people, not for matching.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The public key given by the caller could not be parsed (usage).
    #[error("unusable public key: {reason}")]
    InvalidKey {
        /// What the parser said.
        reason: String,
    },
    /// The trusted root given by the caller could not be parsed or prepared (usage).
    #[error("unusable trusted root: {reason}")]
    InvalidTrustedRoot {
        /// What the parser said.
        reason: String,
    },
    /// An identity or issuer regular expression does not compile (usage).
    #[error("invalid regular expression {pattern:?}: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// The bundle is not valid JSON or not a well-formed Sigstore bundle.
    #[error("malformed bundle: {reason}")]
    MalformedBundle {
        /// What was wrong.
        reason: String,
    },
    /// The bundle is well formed but uses something this verifier does not support.
    #[error("unsupported bundle: {reason}")]
    Unsupported {
        /// What is unsupported.
        reason: String,
    },
    /// The policy asks for one kind of signer and the bundle has the other.
    #[error("signer kind mismatch: policy expects {expected}, bundle has {found}")]
    SignerKindMismatch {
        /// `"public key"` or `"certificate"`.
        expected: &'static str,
        /// `"public key"` or `"certificate"`.
        found: &'static str,
    },
    /// The certificate's SAN identity does not satisfy the policy.
    #[error("certificate identity mismatch: expected {expected}, found {}", found.as_deref().unwrap_or("none"))]
    IdentityMismatch {
        /// The matcher, rendered.
        expected: String,
        /// The certificate's SAN, if it has one.
        found: Option<String>,
    },
    /// The certificate's OIDC issuer does not satisfy the policy.
    #[error("certificate OIDC issuer mismatch: expected {expected}, found {}", found.as_deref().unwrap_or("none"))]
    IssuerMismatch {
        /// The matcher, rendered.
        expected: String,
        /// The certificate's issuer extension (`.1.8`, or legacy `.1.1`), if any.
        found: Option<String>,
    },
    /// A CI claim the policy requires is absent from the certificate or does not match.
    #[error("certificate claim {claim} mismatch: expected {expected}, found {}", found.as_deref().unwrap_or("none (the certificate lacks the extension)"))]
    ClaimMismatch {
        /// The claim required.
        claim: CertificateClaim,
        /// The matcher, rendered.
        expected: String,
        /// The value(s) in the certificate with their OIDs; `None` when absent.
        found: Option<String>,
    },
    /// The signing certificate was rejected (chain, validity at signing time, SCT).
    #[error("certificate rejected: {reason}")]
    Certificate {
        /// The step and its detail.
        reason: String,
    },
    /// The signature does not verify over the artifact or DSSE payload.
    #[error("signature does not verify: {reason}")]
    Signature {
        /// The detail.
        reason: String,
    },
    /// The bundle does not describe the artifact (digest or DSSE subject mismatch).
    #[error("artifact does not match the bundle: {reason}")]
    ArtifactMismatch {
        /// The detail.
        reason: String,
    },
    /// The transparency log evidence was rejected (SET, inclusion proof, checkpoint, entry body).
    #[error("transparency log evidence rejected: {reason}")]
    TransparencyLog {
        /// The step and its detail.
        reason: String,
    },
    /// An RFC 3161 timestamp was rejected, or no verified signing time exists.
    #[error("timestamp rejected: {reason}")]
    Timestamp {
        /// The detail.
        reason: String,
    },
    /// A log entry names a log that the trusted root does not contain.
    #[error("unknown transparency log {log_id}")]
    UnknownLog {
        /// The log id as found (hex).
        log_id: String,
    },
    /// The Rekor key was not valid at the entry's integrated time.
    #[error("log key {log_id} is not valid at integrated time {integrated_time}")]
    LogKeyNotValid {
        /// The log id (hex).
        log_id: String,
        /// The entry's integrated time (Unix seconds).
        integrated_time: i64,
    },
    /// The Signed Entry Timestamp does not verify with the log's key.
    #[error("signed entry timestamp does not verify with the key of log {log_id}")]
    SetInvalid {
        /// The log id (hex).
        log_id: String,
    },
    /// The log entry body describes something other than what was signed.
    #[error("log entry body does not match: {field}: expected {expected}, found {found}")]
    EntryMismatch {
        /// Which field of the body.
        field: &'static str,
        /// What the signature or payload says.
        expected: String,
        /// What the log entry says.
        found: String,
    },
}

impl BundleError {
    /// Whether this is the caller's fault ([`ErrorClass::Usage`]) or a failed verification.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidKey { .. }
            | Self::InvalidTrustedRoot { .. }
            | Self::InvalidPattern { .. } => ErrorClass::Usage,
            _ => ErrorClass::Fail,
        }
    }

    /// Translates a `sigstore-verify` error raised while verifying a bundle.
    pub(crate) fn from_verify(error: sigstore_verify::Error) -> Self {
        use sigstore_verify::Error as E;
        let reason = error.to_string();
        match error {
            E::IdentityMismatch { expected, actual } => Self::IdentityMismatch {
                expected: expected.to_string(),
                found: actual.map(|a| a.to_string()),
            },
            E::IssuerMismatch { expected, actual } => Self::IssuerMismatch {
                expected,
                found: actual,
            },
            E::SignatureInvalid(_) | E::Crypto(_) => Self::Signature { reason },
            E::ArtifactMismatch(_) => Self::ArtifactMismatch { reason },
            E::Certificate(_) => Self::Certificate { reason },
            E::TransparencyLog(sigstore_verify::TransparencyLogError::UnknownLog { log_id }) => {
                Self::UnknownLog { log_id }
            }
            E::TransparencyLog(_) => Self::TransparencyLog { reason },
            E::Timestamp(_) => Self::Timestamp { reason },
            E::InvalidBundle(_) | E::Bundle(_) | E::Types(_) => Self::MalformedBundle { reason },
            E::UnsupportedBundle(_) | E::UnsupportedArtifact(_) | E::ArtifactRead(_) => {
                Self::Unsupported { reason }
            }
            // Trust material problems surfacing during verification: the root
            // was accepted at load time, so this is a verification failure.
            _ => Self::Certificate { reason },
        }
    }
}
