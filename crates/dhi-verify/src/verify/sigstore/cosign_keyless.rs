//! Cosign's keyless simple-signing signatures (`dev.sigstore.cosign/certificate`,
//! `dev.sigstore.cosign/chain` and the legacy Rekor bundle annotation on a
//! simple-signing layer), verified by recasting them as the Sigstore bundle
//! they are equivalent to — a v0.1 bundle with the certificate chain, the
//! log entry with its Signed Entry Timestamp, and a message signature over the
//! payload — so that one conformant verifier checks chain, SCT, log and identity.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::bundle::{verify_bundle, Artifact, BundlePolicy, VerifiedBundle};
use super::rekor_entry::RekorBundle;
use crate::error::BundleError;
use crate::trust::SigstoreTrust;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn malformed(reason: impl Into<String>) -> BundleError {
    BundleError::MalformedBundle {
        reason: reason.into(),
    }
}

/// The DER blocks of a PEM text (one or more `CERTIFICATE` blocks).
pub(super) fn pem_blocks(pem: &str) -> Result<Vec<Vec<u8>>, BundleError> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN ") {
            current = Some(String::new());
        } else if line.starts_with("-----END ") {
            let b64 = current
                .take()
                .ok_or_else(|| malformed("PEM END without BEGIN"))?;
            blocks.push(
                B64.decode(b64)
                    .map_err(|e| malformed(format!("PEM body is not base64: {e}")))?,
            );
        } else if let Some(c) = current.as_mut() {
            c.push_str(line);
        }
    }
    if current.is_some() || blocks.is_empty() {
        return Err(malformed("expected one or more complete PEM blocks"));
    }
    Ok(blocks)
}

/// Verifies a keyless cosign signature over `payload`: `signature_der` by the
/// certificate `certificate_pem` (with `chain_pem`, when given), logged as
/// `rekor_bundle_json` (required: a keyless signature needs a trusted time),
/// for an identity `policy` accepts.
///
/// The certificate is accepted in one place, [`verify_bundle`], which calls
/// `BundlePolicy::accepts_certificate` (SAN identity, issuer, required CI
/// claims) once `sigstore-verify` has checked chain, SCT, log and signature;
/// this function adds no acceptance path of its own.
pub fn verify_cosign_keyless(
    payload: &[u8],
    signature_der: &[u8],
    certificate_pem: &str,
    chain_pem: Option<&str>,
    rekor_bundle_json: &[u8],
    policy: &BundlePolicy,
    trust: &SigstoreTrust,
) -> Result<VerifiedBundle, BundleError> {
    let rekor: RekorBundle = serde_json::from_slice(rekor_bundle_json)
        .map_err(|e| malformed(format!("Rekor bundle: {e}")))?;
    let mut certificates = pem_blocks(certificate_pem)?;
    if let Some(chain) = chain_pem {
        certificates.extend(pem_blocks(chain)?);
    }
    let log_id = hex::decode(&rekor.payload.log_id)
        .map_err(|e| malformed(format!("logID is not hex: {e}")))?;
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": certificates.iter().map(|c| serde_json::json!({"rawBytes": B64.encode(c)})).collect::<Vec<_>>()},
            "tlogEntries": [{
                "logIndex": rekor.payload.log_index.to_string(),
                "logId": {"keyId": B64.encode(log_id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": rekor.payload.integrated_time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": rekor.signed_entry_timestamp},
                "canonicalizedBody": rekor.payload.body,
            }],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(Sha256::digest(payload))},
            "signature": B64.encode(signature_der),
        },
    });
    verify_bundle(
        bundle.to_string().as_bytes(),
        Artifact::Bytes(payload),
        policy,
        trust,
    )
}
