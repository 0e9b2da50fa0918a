//! Fenced verification modes that give up a Sigstore guarantee; each name ends in `_unsafe` and says which.

use sha2::{Digest as _, Sha256};
use sigstore_verify::crypto::VerificationKey;
use sigstore_verify::types::bundle::VerificationMaterialContent;
use sigstore_verify::types::{
    DerPublicKey, HashAlgorithm, Sha256Hash, SignatureContent, Statement,
};

use super::bundle::{
    parse_bundle, verify_bundle, Artifact, BundlePolicy, PublicKey, VerifiedBundle,
};
use crate::error::BundleError;
use crate::trust::SigstoreTrust;

/// The only DSSE payload type whose subjects can bind an artifact.
const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Verifies a managed-key bundle that may carry **neither a transparency log
/// entry nor a timestamp**: only the signature (and, for DSSE, the statement
/// subject) is checked. UNSAFE: there is no evidence of when it was signed or
/// that it was ever published, so a leaked key can sign "in the past" and a
/// revoked key cannot be told apart by time. Use only where the policy
/// explicitly accepts unlogged signatures (private signing with a key, as
/// `cosign --tlog-upload=false` produces).
///
/// If the bundle does carry a log entry or a timestamp, this is exactly
/// [`verify_bundle`] with [`BundlePolicy::Key`]: evidence that is present is
/// always verified, never skipped.
///
/// Off-spec: `sigstore-verify` 0.15.1 rejects such bundles even with
/// `skip_tlog_unsafe()`, so this path uses its primitives (`VerificationKey`,
/// DSSE PAE, in-toto `Statement`).
pub fn verify_unlogged_key_bundle_unsafe(
    bundle_json: &[u8],
    artifact: Artifact<'_>,
    key: &PublicKey,
    trust: &SigstoreTrust,
) -> Result<VerifiedBundle, BundleError> {
    let bundle = parse_bundle(bundle_json)?;
    let material = &bundle.verification_material;
    if !material.tlog_entries.is_empty()
        || !material
            .timestamp_verification_data
            .rfc3161_timestamps
            .is_empty()
    {
        return verify_bundle(
            bundle_json,
            artifact,
            &BundlePolicy::Key(key.clone()),
            trust,
        );
    }
    if !matches!(material.content, VerificationMaterialContent::PublicKey(_)) {
        return Err(BundleError::SignerKindMismatch {
            expected: "public key",
            found: "certificate",
        });
    }
    let vkey = VerificationKey::from_spki(&DerPublicKey::new(key.der().to_vec())).map_err(|e| {
        BundleError::InvalidKey {
            reason: e.to_string(),
        }
    })?;
    let digest: [u8; 32] = match artifact {
        Artifact::Bytes(bytes) => Sha256::digest(bytes).into(),
        Artifact::Digest(d) => d,
    };
    let signature_failed = |e: sigstore_verify::crypto::Error| BundleError::Signature {
        reason: e.to_string(),
    };
    let statement = match &bundle.content {
        SignatureContent::MessageSignature(msg) => {
            // Sigstore client spec: the bundle's message digest, when present,
            // must be the artifact's.
            if let Some(md) = &msg.message_digest {
                if md.algorithm != HashAlgorithm::Sha2256 || md.digest.as_bytes() != digest {
                    return Err(BundleError::ArtifactMismatch {
                        reason: format!(
                            "bundle message digest {}:{} is not the artifact's sha256:{}",
                            md.algorithm,
                            hex::encode(md.digest.as_bytes()),
                            hex::encode(digest)
                        ),
                    });
                }
            }
            match artifact {
                Artifact::Bytes(bytes) => vkey.verify(bytes, &msg.signature),
                Artifact::Digest(d) => vkey.verify_prehashed(&d, &msg.signature),
            }
            .map_err(signature_failed)?;
            None
        }
        SignatureContent::DsseEnvelope(env) => {
            if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
                return Err(BundleError::Unsupported {
                    reason: format!(
                        "DSSE payload type {:?}, expected {IN_TOTO_PAYLOAD_TYPE}",
                        env.payload_type
                    ),
                });
            }
            vkey.verify(env.pae(), &env.signature.sig)
                .map_err(signature_failed)?;
            let statement: Statement =
                serde_json::from_slice(env.payload.as_bytes()).map_err(|e| {
                    BundleError::MalformedBundle {
                        reason: format!("in-toto statement: {e}"),
                    }
                })?;
            if !statement.matches_sha256(&Sha256Hash::new(digest)) {
                return Err(BundleError::ArtifactMismatch {
                    reason: format!(
                        "sha256:{} is not a subject of the statement",
                        hex::encode(digest)
                    ),
                });
            }
            Some(env.payload.as_bytes().to_vec())
        }
        _ => {
            return Err(BundleError::Unsupported {
                reason: "unknown bundle content".into(),
            })
        }
    };
    Ok(VerifiedBundle::without_time(
        key.fingerprint(),
        statement,
        bundle.media_type.as_str(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(rel: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata")
            .join(rel);
        std::fs::read(p).unwrap()
    }

    /// The conformance managed-key bundle with its log entry removed.
    fn unlogged() -> (Vec<u8>, Vec<u8>, PublicKey) {
        let raw = testdata("sigstore-conformance/managed-key-happy-path/bundle.sigstore.json");
        let mut b: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        b["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
        if let Some(m) = b["verificationMaterial"].as_object_mut() {
            m.remove("timestampVerificationData");
        }
        let key = PublicKey::from_pem_or_der(&testdata(
            "sigstore-conformance/managed-key-happy-path/key.pub",
        ))
        .unwrap();
        (
            serde_json::to_vec(&b).unwrap(),
            testdata("sigstore-conformance/a.txt"),
            key,
        )
    }

    #[test]
    fn unlogged_key_bundle_is_rejected_by_the_safe_path() {
        let (bundle, artifact, key) = unlogged();
        let trust = SigstoreTrust::public_good().unwrap();
        let r = verify_bundle(
            &bundle,
            Artifact::Bytes(&artifact),
            &BundlePolicy::Key(key),
            &trust,
        );
        assert!(r.is_err());
    }

    #[test]
    fn unlogged_key_bundle_verifies_by_bytes_and_by_digest_on_the_unsafe_path() {
        let (bundle, artifact, key) = unlogged();
        let trust = SigstoreTrust::public_good().unwrap();
        let v =
            verify_unlogged_key_bundle_unsafe(&bundle, Artifact::Bytes(&artifact), &key, &trust)
                .unwrap();
        assert_eq!(v.signed_at(), None);
        let digest: [u8; 32] = Sha256::digest(&artifact).into();
        verify_unlogged_key_bundle_unsafe(&bundle, Artifact::Digest(digest), &key, &trust).unwrap();
    }

    #[test]
    fn unlogged_key_bundle_still_fails_with_another_artifact_or_key() {
        let (bundle, mut artifact, key) = unlogged();
        let trust = SigstoreTrust::public_good().unwrap();
        let dhi2 = PublicKey::from_pem_or_der(&testdata("dhi-advisories/dhi-2.pub")).unwrap();
        let e =
            verify_unlogged_key_bundle_unsafe(&bundle, Artifact::Bytes(&artifact), &dhi2, &trust)
                .unwrap_err();
        assert!(matches!(e, BundleError::Signature { .. }), "{e:?}");
        artifact.push(b'!');
        let e =
            verify_unlogged_key_bundle_unsafe(&bundle, Artifact::Bytes(&artifact), &key, &trust)
                .unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::ArtifactMismatch { .. } | BundleError::Signature { .. }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn present_log_evidence_is_verified_not_skipped_on_the_unsafe_path() {
        let raw = testdata("dhi-advisories/CVE-2022-35929.json.sig");
        let artifact = testdata("dhi-advisories/CVE-2022-35929.json");
        let key = PublicKey::from_pem_or_der(&testdata("dhi-advisories/dhi-2.pub")).unwrap();
        let trust = SigstoreTrust::public_good().unwrap();
        let v = verify_unlogged_key_bundle_unsafe(&raw, Artifact::Bytes(&artifact), &key, &trust)
            .unwrap();
        assert_eq!(v.integrated_time(), Some(1_775_130_813));
        // Tamper the SET: the evidence is present, so it must verify.
        let mut b: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        b["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = "1775130814".into();
        let tampered = serde_json::to_vec(&b).unwrap();
        let e =
            verify_unlogged_key_bundle_unsafe(&tampered, Artifact::Bytes(&artifact), &key, &trust)
                .unwrap_err();
        assert!(matches!(e, BundleError::TransparencyLog { .. }), "{e:?}");
    }

    #[test]
    fn unsafe_path_refuses_certificate_bundles() {
        let raw = testdata("keyless/bundle-blob.sigstore.json");
        let mut b: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        b["verificationMaterial"]["tlogEntries"] = serde_json::json!([]);
        let key = PublicKey::from_pem_or_der(&testdata("dhi-advisories/dhi-2.pub")).unwrap();
        let trust = SigstoreTrust::public_good().unwrap();
        let bundle = serde_json::to_vec(&b).unwrap();
        let e = verify_unlogged_key_bundle_unsafe(&bundle, Artifact::Bytes(b"x"), &key, &trust);
        assert!(
            matches!(
                e,
                Err(BundleError::SignerKindMismatch { .. })
                    | Err(BundleError::MalformedBundle { .. })
            ),
            "{e:?}"
        );
    }
}
