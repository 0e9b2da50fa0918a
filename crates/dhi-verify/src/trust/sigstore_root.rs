//! Loading Sigstore trust material (a `trusted_root.json`) once, ready for many verifications.

use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::Verifier;

use crate::error::BundleError;

/// The Sigstore public-good production trusted root, as embedded in this crate.
///
/// Snapshot of the Sigstore TUF target `trusted_root.json` (Fulcio CAs, Rekor
/// v1/v2 logs, CT logs, timestamp authorities).
pub const PUBLIC_GOOD_TRUSTED_ROOT: &str = include_str!("trusted_root.public-good.json");

/// Upper bound on a trusted root document (bytes).
pub const MAX_TRUSTED_ROOT_SIZE: usize = 4 << 20;

/// Prepared Sigstore trust material: the parsed trusted root and the keys and
/// certificate anchors derived from it, validated once.
pub struct SigstoreTrust {
    pub(crate) root: TrustedRoot,
    pub(crate) verifier: Verifier,
}

impl std::fmt::Debug for SigstoreTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigstoreTrust")
            .field("tlogs", &self.root.tlogs.len())
            .field(
                "certificate_authorities",
                &self.root.certificate_authorities.len(),
            )
            .field("ctlogs", &self.root.ctlogs.len())
            .field(
                "timestamp_authorities",
                &self.root.timestamp_authorities.len(),
            )
            .finish()
    }
}

impl SigstoreTrust {
    /// The embedded Sigstore public-good production root ([`PUBLIC_GOOD_TRUSTED_ROOT`]).
    pub fn public_good() -> Result<Self, BundleError> {
        Self::from_trusted_root_json(PUBLIC_GOOD_TRUSTED_ROOT.as_bytes())
    }

    /// Parses a `trusted_root.json` (`application/vnd.dev.sigstore.trustedroot+json`).
    ///
    /// Fails with [`BundleError::InvalidTrustedRoot`] when the document is too
    /// large, not UTF-8, not a trusted root, or holds unusable keys or certificates.
    pub fn from_trusted_root_json(json: &[u8]) -> Result<Self, BundleError> {
        if json.len() > MAX_TRUSTED_ROOT_SIZE {
            return Err(BundleError::InvalidTrustedRoot {
                reason: format!(
                    "document is {} bytes, more than the limit of {MAX_TRUSTED_ROOT_SIZE}",
                    json.len()
                ),
            });
        }
        let text = std::str::from_utf8(json).map_err(|e| BundleError::InvalidTrustedRoot {
            reason: format!("not UTF-8: {e}"),
        })?;
        let root = TrustedRoot::from_json(text).map_err(|e| BundleError::InvalidTrustedRoot {
            reason: e.to_string(),
        })?;
        let verifier = Verifier::new(&root).map_err(|e| BundleError::InvalidTrustedRoot {
            reason: e.to_string(),
        })?;
        Ok(Self { root, verifier })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_public_good_root_loads() {
        let trust = SigstoreTrust::public_good().unwrap();
        assert!(!trust.root.tlogs.is_empty());
        assert!(!trust.root.certificate_authorities.is_empty());
    }

    #[test]
    fn garbage_trusted_root_is_a_usage_error() {
        let err = SigstoreTrust::from_trusted_root_json(b"{not json").unwrap_err();
        assert!(matches!(err, BundleError::InvalidTrustedRoot { .. }));
        assert_eq!(err.class(), crate::error::ErrorClass::Usage);
    }
}
