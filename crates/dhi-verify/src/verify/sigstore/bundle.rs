//! Verifying a Sigstore bundle (v0.1–v0.3, message signature or DSSE, keyed or keyless) for an artifact.

use sha2::{Digest as _, Sha256};
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash, SignatureContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};

use super::identity::present_claims;
use crate::error::BundleError;
use crate::trust::SigstoreTrust;
use crate::trust::{CertificateClaim, Matcher, SubjectMatcher};

/// Upper bound on a bundle document (bytes).
pub const MAX_BUNDLE_SIZE: usize = 16 << 20;

/// What the bundle is supposed to be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// The artifact's SHA-256 digest (the bytes are not available).
    Digest([u8; 32]),
}

/// A trusted public key: SubjectPublicKeyInfo DER, validated, with its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    der: Vec<u8>,
}

impl PublicKey {
    /// Parses a PEM (`-----BEGIN PUBLIC KEY-----`) or DER SubjectPublicKeyInfo.
    ///
    /// Fails with [`BundleError::InvalidKey`] when it is neither, or when the
    /// key algorithm is not one Sigstore verifies.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self, BundleError> {
        let der = match std::str::from_utf8(bytes) {
            Ok(text) if text.contains("-----BEGIN") => {
                DerPublicKey::from_pem(text).map_err(|e| BundleError::InvalidKey {
                    reason: e.to_string(),
                })?
            }
            _ => DerPublicKey::new(bytes.to_vec()),
        };
        sigstore_verify::crypto::VerificationKey::from_spki(&der).map_err(|e| {
            BundleError::InvalidKey {
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            der: der.as_bytes().to_vec(),
        })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo (what Sigstore bundles carry as `publicKey.hint`).
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }
}

/// Who must have signed the bundle.
#[derive(Debug, Clone)]
pub enum BundlePolicy {
    /// A managed key: the bundle must carry a public key hint and verify with this key.
    Key(PublicKey),
    /// Keyless: a Fulcio certificate whose OIDC issuer, SAN and required CI
    /// claims match (see [`SubjectMatcher`]).
    Identity {
        /// The OIDC issuer (Fulcio extension `1.3.6.1.4.1.57264.1.8`, or legacy `.1.1`).
        issuer: Matcher,
        /// The certificate's SAN identity (URI or email) and the CI claims
        /// (Fulcio extensions) it must carry; `Matcher::exact(…).into()` for
        /// the identity alone.
        subject: SubjectMatcher,
    },
}

/// Who signed a verified bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signer {
    /// A managed key, by SHA-256 fingerprint of its DER SubjectPublicKeyInfo.
    Key {
        /// SHA-256 of the key's DER SPKI.
        fingerprint: [u8; 32],
    },
    /// A Fulcio certificate.
    Certificate {
        /// The SAN identity (URI or email).
        identity: String,
        /// The OIDC issuer.
        issuer: String,
    },
}

/// A bundle that verified: who signed, when, and (for DSSE) what statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    signer: Signer,
    claims: Vec<(CertificateClaim, String)>,
    integrated_time: Option<i64>,
    verified_times: Vec<i64>,
    statement: Option<Vec<u8>>,
    media_type: &'static str,
}

impl VerifiedBundle {
    /// A key-signed bundle verified without any log entry or timestamp (see `danger`).
    pub(super) fn without_time(
        fingerprint: [u8; 32],
        statement: Option<Vec<u8>>,
        media_type: &'static str,
    ) -> Self {
        Self {
            signer: Signer::Key { fingerprint },
            claims: Vec::new(),
            integrated_time: None,
            verified_times: Vec::new(),
            statement,
            media_type,
        }
    }

    /// A keyless DSSE envelope verified outside a bundle (a cosign `.att`
    /// layer): its certificate's identity, the verified integrated time, the payload.
    pub(super) fn keyless_dsse(
        identity: String,
        issuer: String,
        ci_claims: &sigstore_verify::crypto::FulcioCiClaims,
        integrated_time: i64,
        statement: Vec<u8>,
        media_type: &'static str,
    ) -> Self {
        Self {
            signer: Signer::Certificate { identity, issuer },
            claims: present_claims(ci_claims),
            integrated_time: Some(integrated_time),
            verified_times: vec![integrated_time],
            statement: Some(statement),
            media_type,
        }
    }

    /// Who signed.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The provider-neutral Fulcio CI claims (`.1.9`–`.1.20` that
    /// [`CertificateClaim`] names) of the verified certificate, for reports;
    /// empty for a key signer or a certificate without them.
    pub fn certificate_claims(&self) -> &[(CertificateClaim, String)] {
        &self.claims
    }

    /// The verified Rekor v1 integrated time (Unix seconds), if the bundle has one.
    pub fn integrated_time(&self) -> Option<i64> {
        self.integrated_time
    }

    /// Every authenticated time used during verification (Unix seconds):
    /// Rekor integrated times and RFC 3161 timestamps.
    pub fn verified_times(&self) -> &[i64] {
        &self.verified_times
    }

    /// The earliest authenticated signing time (Unix seconds), if any.
    pub fn signed_at(&self) -> Option<i64> {
        self.integrated_time
            .into_iter()
            .chain(self.verified_times.iter().copied())
            .min()
    }

    /// For a DSSE bundle, the verified statement bytes (the envelope payload).
    pub fn statement(&self) -> Option<&[u8]> {
        self.statement.as_deref()
    }

    /// The bundle's media type.
    pub fn media_type(&self) -> &'static str {
        self.media_type
    }
}

/// Verifies a Sigstore bundle for `artifact`, under `policy`, against `trust`.
///
/// Steps (Sigstore client spec, "Verification"): parse the bundle; check the
/// signer kind matches the policy; then, through `sigstore-verify`: the
/// certificate chain to a Fulcio CA valid at the signing time and its SCT
/// (keyless), the transparency log entry (SET, inclusion proof, checkpoint;
/// Rekor v1 or v2) and RFC 3161 timestamps, the signature over the artifact or
/// the DSSE PAE, the artifact's digest against the hashedrekord entry or a DSSE
/// subject, and the log entry's consistency with the bundle; finally the
/// certificate's identity, issuer and required CI claims against the policy
/// (`BundlePolicy::accepts_certificate`).
pub fn verify_bundle(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    policy: &BundlePolicy,
    trust: &SigstoreTrust,
) -> Result<VerifiedBundle, BundleError> {
    let bundle = parse_bundle(bundle_json)?;
    let has_key = matches!(
        bundle.verification_material.content,
        VerificationMaterialContent::PublicKey(_)
    );
    let sig_artifact = match artifact {
        Artifact::Bytes(bytes) => sigstore_verify::types::Artifact::Blob(bytes),
        Artifact::Digest(digest) => {
            sigstore_verify::types::Artifact::from_digest(Sha256Hash::new(digest))
        }
    };
    let mut claims = Vec::new();
    let (result, signer) = match policy {
        BundlePolicy::Key(key) => {
            if !has_key {
                return Err(BundleError::SignerKindMismatch {
                    expected: "public key",
                    found: "certificate",
                });
            }
            let p = PublicKeyVerificationPolicy::new(DerPublicKey::new(key.der.clone()));
            let result = trust
                .verifier
                .verify(sig_artifact, &bundle, &p)
                .map_err(BundleError::from_verify)?;
            (
                result,
                Signer::Key {
                    fingerprint: key.fingerprint(),
                },
            )
        }
        BundlePolicy::Identity { .. } => {
            if has_key {
                return Err(BundleError::SignerKindMismatch {
                    expected: "certificate",
                    found: "public key",
                });
            }
            // Identity, issuer and CI claims are matched below with our own
            // anchored matchers; sigstore-verify checks chain, SCT, logs and signature.
            let p = VerificationPolicy::any_identity();
            let result = trust
                .verifier
                .verify(sig_artifact, &bundle, &p)
                .map_err(BundleError::from_verify)?;
            if !result.certificate_verified() || !result.sct_verified() {
                return Err(BundleError::Certificate {
                    reason: "certificate chain or SCT was not verified".into(),
                });
            }
            let info = result
                .certificate()
                .ok_or_else(|| BundleError::Certificate {
                    reason: "expected the verified signing certificate's details, found none"
                        .into(),
                })?;
            policy.accepts_certificate(info)?;
            // accepts_certificate matched both; absent ones would have failed it.
            let signer = Signer::Certificate {
                identity: info
                    .identity
                    .as_ref()
                    .map(|i| i.as_str().to_owned())
                    .unwrap_or_default(),
                issuer: info.issuer.clone().unwrap_or_default(),
            };
            claims = present_claims(&info.ci_claims);
            (result, signer)
        }
    };
    if !result.tlog_verified() && result.verified_timestamps().is_empty() {
        return Err(BundleError::Timestamp {
            reason: "no verified transparency log entry or timestamp".into(),
        });
    }
    let statement = match &bundle.content {
        SignatureContent::DsseEnvelope(env) => Some(env.payload.as_bytes().to_vec()),
        _ => None,
    };
    Ok(VerifiedBundle {
        signer,
        claims,
        integrated_time: result.integrated_time().map(|t| t.as_second()),
        verified_times: result
            .verified_timestamps()
            .iter()
            .map(|t| t.as_second())
            .collect(),
        statement,
        media_type: bundle.media_type.as_str(),
    })
}

pub(super) fn parse_bundle(bundle_json: &[u8]) -> Result<Bundle, BundleError> {
    if bundle_json.len() > MAX_BUNDLE_SIZE {
        return Err(BundleError::MalformedBundle {
            reason: format!(
                "bundle is {} bytes, more than the limit of {MAX_BUNDLE_SIZE}",
                bundle_json.len()
            ),
        });
    }
    let text = std::str::from_utf8(bundle_json).map_err(|e| BundleError::MalformedBundle {
        reason: format!("not UTF-8: {e}"),
    })?;
    Bundle::from_json(text).map_err(|e| BundleError::MalformedBundle {
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::ErrorClass;

    #[test]
    fn public_key_parses_pem_and_der_and_fingerprints_the_spki() {
        // dhi-2, Docker Hardened Images' active signing key (DHI-FORMAT.md §6).
        let pem_bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../testdata/dhi-advisories/dhi-2.pub"),
        )
        .unwrap();
        let pem = PublicKey::from_pem_or_der(&pem_bytes).unwrap();
        let der = PublicKey::from_pem_or_der(pem.der()).unwrap();
        assert_eq!(pem, der);
        assert_eq!(
            hex::encode(pem.fingerprint()),
            "118ba556dd52f4aec67018efd316c285c783cd3e54cc0f4527605715c643887c"
        );
    }

    #[test]
    fn unparsable_key_is_a_usage_error() {
        for bad in [
            &b""[..],
            b"-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
            b"\x30\x03\x02\x01\x01",
        ] {
            let err = PublicKey::from_pem_or_der(bad).unwrap_err();
            assert!(matches!(err, BundleError::InvalidKey { .. }), "{err:?}");
            assert_eq!(err.class(), ErrorClass::Usage);
        }
    }

    #[test]
    fn bundle_at_the_size_limit_is_parsed_and_one_byte_more_is_refused() {
        let mut at_limit = vec![b' '; MAX_BUNDLE_SIZE];
        at_limit[0] = b'{';
        at_limit[MAX_BUNDLE_SIZE - 1] = b'}';
        let err = parse_bundle(&at_limit).unwrap_err();
        // Parsed (and rejected as an incomplete bundle), not refused for size.
        assert!(
            matches!(&err, BundleError::MalformedBundle { reason } if !reason.contains("limit")),
            "{err:?}"
        );
        let over = vec![b' '; MAX_BUNDLE_SIZE + 1];
        let err = parse_bundle(&over).unwrap_err();
        assert!(
            matches!(&err, BundleError::MalformedBundle { reason } if reason.contains("limit")),
            "{err:?}"
        );
    }
}
