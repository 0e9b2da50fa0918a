//! Sigstore verification: bundles (keyed and keyless), trusted roots, identity matching, cosign's legacy Rekor bundle, and cosign `.att` DSSE layers.
//!
//! Pure functions over bytes and prepared trust: no network, no disk. Built on
//! `sigstore-verify` (sigstore/sigstore-rust); see `docs/sigstore.md` for what
//! it checks, what this module adds, and the one clock read it makes (the
//! "integrated time is not in the future" sanity check inside `sigstore-verify`).
//!
//! ```no_run
//! use dhi_verify::sigstore::{
//!     verify_bundle, Artifact, BundlePolicy, CertificateClaim, Matcher, SigstoreTrust, SubjectMatcher,
//! };
//! # fn main() -> Result<(), dhi_verify::sigstore::BundleError> {
//! let trust = SigstoreTrust::public_good()?;
//! let policy = BundlePolicy::Identity {
//!     issuer: Matcher::exact("https://token.actions.githubusercontent.com"),
//!     subject: SubjectMatcher::new(Matcher::regex(r"https://github\.com/org/app/.*")?)
//!         .require(CertificateClaim::SourceRepositoryRef, Matcher::regex("refs/tags/v.*")?),
//! };
//! let bundle = b"{...}";
//! let verified = verify_bundle(bundle, Artifact::Bytes(b"hello"), &policy, &trust)?;
//! println!("signed by {:?} at {:?}", verified.signer(), verified.signed_at());
//! # Ok(()) }
//! ```

// Tests may unwrap: a panic there is a failed test, not a crash on input.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bundle;
mod cosign_dsse;
mod cosign_keyless;
mod cosign_rekor;
pub mod danger;
mod fulcio;
mod identity;
mod rekor_entry;

pub use bundle::{
    verify_bundle, Artifact, BundlePolicy, PublicKey, Signer, VerifiedBundle, MAX_BUNDLE_SIZE,
};
pub use cosign_dsse::{
    verify_cosign_dsse_keyless, verify_cosign_dsse_log_entry, LoggedDsseEntry,
    DSSE_ENVELOPE_MEDIA_TYPE, MAX_DSSE_SIGNATURES,
};
pub use cosign_keyless::verify_cosign_keyless;
pub use cosign_rekor::{
    verify_cosign_rekor_bundle, VerifiedLogEntry, MAX_COSIGN_REKOR_BUNDLE_SIZE,
};
// The error of a Sigstore verification is one of the crate's errors
// (`error/bundle.rs`), beside the `ErrorClass` it shares; its public path
// stays `dhi_verify::sigstore::BundleError`.
pub use crate::error::{BundleError, ErrorClass};
// The trusted-root material and the identity matchers are values of the trust
// root, not verification: they live in `trust` (`trust/sigstore_root.rs`,
// `trust/identity.rs`) and `claim`; their public paths stay `dhi_verify::sigstore`.
pub use crate::trust::{
    CertificateClaim, Matcher, SigstoreTrust, SubjectMatcher, MAX_TRUSTED_ROOT_SIZE,
    PUBLIC_GOOD_TRUSTED_ROOT,
};
