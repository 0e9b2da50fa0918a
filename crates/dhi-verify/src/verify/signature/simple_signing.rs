//! Cosign simple-signing signatures: verify the ECDSA signature over the
//! payload bytes with a trusted key, then check the payload's claims name the
//! digest asked about. No I/O, no clock.
//!
//! Spec: cosign `specs/SIGNATURE_SPEC.md` — the signature is over the exact
//! payload bytes; `critical.type` MUST be "cosign container image signature";
//! `critical.image.docker-manifest-digest` names the signed manifest.

use std::time::SystemTime;

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::Signature;
use serde::Deserialize;

use crate::digest::Digest;
use crate::error::VerifyError;
use crate::trust::{TrustRoot, TrustedKey};

/// The only `critical.type` cosign defines.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// Verifies a base64 ASN.1 DER ECDSA P-256 signature over `payload` (SHA-256)
/// with the keys of `trust`, returning the key that verified it if that key
/// is usable at `at`.
///
/// A signature that verifies only under an inactive or out-of-window key is
/// [`VerifyError::KeyNotUsable`], naming the key, so the report can say who
/// signed even though it does not count.
pub fn verify_signature<'t>(
    payload: &[u8],
    signature_b64: &str,
    trust: &'t TrustRoot,
    at: SystemTime,
) -> Result<&'t TrustedKey, VerifyError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| VerifyError::SignatureEncoding {
            reason: format!("base64: {e}"),
        })?;
    let signature = Signature::from_der(&der).map_err(|e| VerifyError::SignatureEncoding {
        reason: format!("DER: {e}"),
    })?;
    let mut unusable = None;
    for key in trust.keys() {
        if key.verifying_key().verify(payload, &signature).is_ok() {
            match key.usable_at(at) {
                Ok(()) => return Ok(key),
                Err(reason) => {
                    unusable.get_or_insert(VerifyError::KeyNotUsable {
                        key: key.name().to_owned(),
                        fingerprint: *key.fingerprint(),
                        reason,
                    });
                }
            }
        }
    }
    Err(unusable.unwrap_or(VerifyError::UntrustedSignature {
        keys_tried: trust.keys().len(),
    }))
}

#[derive(Deserialize)]
struct Payload {
    critical: Critical,
    #[serde(default)]
    optional: Option<Optional>,
}

#[derive(Deserialize)]
struct Critical {
    #[serde(rename = "type")]
    kind: String,
    image: Image,
    #[serde(default)]
    identity: Option<Identity>,
}

#[derive(Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference", default)]
    docker_reference: Option<String>,
}

#[derive(Deserialize)]
struct Optional {
    #[serde(rename = "predicateType", default)]
    predicate_type: Option<serde_json::Value>,
}

/// What a verified payload claims, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadClaims {
    /// `critical.identity.docker-reference`: the repository the signer named.
    pub docker_reference: Option<String>,
}

/// Checks the claims of a payload whose signature has verified: the type, the
/// signed manifest digest, and (when present) the predicate type.
pub fn check_payload_claims(
    payload: &[u8],
    signed_manifest: &Digest,
    predicate_type: Option<&str>,
) -> Result<PayloadClaims, VerifyError> {
    let p: Payload =
        serde_json::from_slice(payload).map_err(|e| VerifyError::PayloadMalformed {
            reason: e.to_string(),
        })?;
    if p.critical.kind != COSIGN_SIGNATURE_TYPE {
        return Err(VerifyError::PayloadType {
            expected: COSIGN_SIGNATURE_TYPE,
            found: p.critical.kind,
        });
    }
    let named = &p.critical.image.docker_manifest_digest;
    if named.parse::<Digest>().ok().as_ref() != Some(signed_manifest) {
        return Err(VerifyError::PayloadDigest {
            expected: *signed_manifest,
            found: named.clone(),
        });
    }
    if let (Some(expected), Some(found)) = (
        predicate_type,
        p.optional.as_ref().and_then(|o| o.predicate_type.as_ref()),
    ) {
        if found.as_str() != Some(expected) {
            return Err(VerifyError::PayloadPredicateType {
                expected: expected.to_owned(),
                found: found.to_string(),
            });
        }
    }
    Ok(PayloadClaims {
        docker_reference: p.critical.identity.and_then(|i| i.docker_reference),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(kind: &str, digest: &Digest, pt: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "critical": {"identity": {"docker-reference": "registry.scout.docker.com/dhi/python"},
                         "image": {"docker-manifest-digest": digest.to_string()}, "type": kind},
            "optional": {"predicateType": pt}
        }))
        .unwrap()
    }

    #[test]
    fn payload_naming_the_manifest_passes() {
        let d = Digest::of(b"m");
        let claims =
            check_payload_claims(&payload(COSIGN_SIGNATURE_TYPE, &d, "p"), &d, Some("p")).unwrap();
        assert_eq!(
            claims.docker_reference.as_deref(),
            Some("registry.scout.docker.com/dhi/python")
        );
    }

    #[test]
    fn payload_naming_another_manifest_is_rejected() {
        let d = Digest::of(b"m");
        let err = check_payload_claims(
            &payload(COSIGN_SIGNATURE_TYPE, &Digest::of(b"other"), "p"),
            &d,
            None,
        );
        assert!(matches!(err, Err(VerifyError::PayloadDigest { .. })));
    }

    #[test]
    fn payload_with_wrong_critical_type_is_rejected() {
        let d = Digest::of(b"m");
        let err = check_payload_claims(&payload("cosign container image sig", &d, "p"), &d, None);
        assert!(matches!(err, Err(VerifyError::PayloadType { .. })));
    }

    #[test]
    fn payload_with_other_predicate_type_is_rejected() {
        let d = Digest::of(b"m");
        let err = check_payload_claims(
            &payload(COSIGN_SIGNATURE_TYPE, &d, "https://spdx.dev/Document"),
            &d,
            Some("https://slsa.dev/provenance/v1"),
        );
        assert!(matches!(err, Err(VerifyError::PayloadPredicateType { .. })));
    }

    #[test]
    fn payload_with_duplicate_critical_keys_is_rejected() {
        let d = Digest::of(b"m");
        let dup = format!(
            r#"{{"critical":{{"type":"{COSIGN_SIGNATURE_TYPE}","image":{{"docker-manifest-digest":"{d}"}},"image":{{"docker-manifest-digest":"{d}"}}}}}}"#
        );
        assert!(matches!(
            check_payload_claims(dup.as_bytes(), &d, None),
            Err(VerifyError::PayloadMalformed { .. })
        ));
    }

    #[test]
    fn garbage_signatures_are_encoding_errors() {
        let root = TrustRoot::dhi_embedded();
        let now = SystemTime::now();
        assert!(matches!(
            verify_signature(b"x", "!!!", &root, now),
            Err(VerifyError::SignatureEncoding { .. })
        ));
        assert!(matches!(
            verify_signature(b"x", "AAAA", &root, now),
            Err(VerifyError::SignatureEncoding { .. })
        ));
    }
}
