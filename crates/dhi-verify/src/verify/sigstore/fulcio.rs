//! A Fulcio signing certificate outside a Sigstore bundle (cosign's
//! `dev.sigstore.cosign/certificate` and `/chain` annotations): the chain to a
//! Fulcio CA of the trusted root, validity at an authenticated signing time,
//! the code-signing EKU, and the embedded SCT against the trusted root's CT
//! logs. Identity and issuer are matched by the caller (`BundlePolicy`).

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use sha2::{Digest as _, Sha256};
use sigstore_verify::crypto::x509::parse_certificate_info;
use sigstore_verify::crypto::{CertificateInfo, VerificationKey, WEBPKI_VERIFICATION_ALGS};
use sigstore_verify::types::{DerCertificate, DerPublicKey, SignatureBytes};
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::der::oid::AssociatedOid as _;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::sct::{HashAlgorithm, SignatureAlgorithm};
use x509_cert::ext::pkix::SignedCertificateTimestampList;

use crate::error::BundleError;
use crate::trust::SigstoreTrust;

/// RFC 5280 §4.2.1.12 `id-kp-codeSigning` (1.3.6.1.5.5.7.3.3), DER value bytes.
const ID_KP_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

fn rejected(reason: impl Into<String>) -> BundleError {
    BundleError::Certificate {
        reason: reason.into(),
    }
}

/// Verifies the Fulcio leaf `leaf_der` (with the certificates `chain_der`
/// shipped beside it) as a signing certificate at `signed_at` (Unix seconds,
/// an authenticated time such as a verified SET's integrated time), and
/// returns what it says.
///
/// Sigstore client spec, "Certificate": (1) the leaf is valid at `signed_at`;
/// (2) it chains, through `chain_der` if needed, to a certificate of a Fulcio
/// CA of `trust` whose `validFor` covers `signed_at`, every certificate of the
/// path valid at that time (webpki); (3) it has the code-signing EKU;
/// (4) its embedded SCT verifies with a CT log key of `trust` valid when the
/// SCT was issued (RFC 6962 §3.2, precertificate entry).
pub(crate) fn verify_fulcio_certificate(
    leaf_der: &[u8],
    chain_der: &[Vec<u8>],
    signed_at: i64,
    trust: &SigstoreTrust,
) -> Result<CertificateInfo, BundleError> {
    let info = parse_certificate_info(&DerCertificate::new(leaf_der.to_vec()))
        .map_err(|e| rejected(format!("leaf certificate does not parse: {e}")))?;

    // (1) Valid at the signing time.
    let (not_before, not_after) = (info.not_before.as_second(), info.not_after.as_second());
    if signed_at < not_before || signed_at > not_after {
        return Err(rejected(format!(
            "leaf certificate is valid from {} to {}, not at the signing time {}",
            info.not_before,
            info.not_after,
            fmt_time(signed_at)
        )));
    }

    // (2) Only CAs authorized at the signing time may end the path; every
    // certificate of such a CA is an anchor (Fulcio ships intermediates in
    // the trusted root), as sigstore-verify does for bundles.
    let mut anchors: Vec<TrustAnchor<'static>> = Vec::new();
    for ca in &trust.root.certificate_authorities {
        let authorized = ca.valid_for.as_ref().is_none_or(|range| {
            range.start.as_second() <= signed_at
                && range.end.is_none_or(|end| signed_at <= end.as_second())
        });
        if !authorized {
            continue;
        }
        for cert in &ca.cert_chain.certificates {
            let der = CertificateDer::from(cert.raw_bytes.as_bytes());
            let anchor = webpki::anchor_from_trusted_cert(&der).map_err(|e| {
                BundleError::InvalidTrustedRoot {
                    reason: format!("Fulcio CA certificate: {e}"),
                }
            })?;
            anchors.push(anchor.to_owned());
        }
    }
    if anchors.is_empty() {
        return Err(rejected(format!(
            "no Fulcio CA of the trusted root is valid at the signing time {}",
            fmt_time(signed_at)
        )));
    }
    let intermediates: Vec<CertificateDer<'_>> = chain_der
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let leaf = CertificateDer::from(leaf_der);
    let end_entity = EndEntityCert::try_from(&leaf)
        .map_err(|e| rejected(format!("leaf certificate does not parse: {e}")))?;
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(signed_at)
            .map_err(|_| rejected(format!("negative signing time {signed_at}")))?,
    ));
    // (3) The code-signing EKU is required by the usage below.
    let path = end_entity
        .verify_for_usage(
            WEBPKI_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            KeyUsage::required(ID_KP_CODE_SIGNING),
            None,
            None,
        )
        .map_err(|e| {
            rejected(format!(
                "certificate chain to a Fulcio CA does not verify at {}: {e}",
                fmt_time(signed_at)
            ))
        })?;

    // (4) The SCT, over the precertificate signed by the leaf's verified issuer.
    let issuer_spki = match path.intermediate_certificates().next() {
        Some(issuer) => issuer.subject_public_key_info().as_ref().to_vec(),
        // webpki keeps an anchor's SPKI without its SEQUENCE header.
        None => der_sequence(path.anchor().subject_public_key_info.as_ref()),
    };
    verify_embedded_sct(leaf_der, &issuer_spki, trust)?;
    Ok(info)
}

/// A Unix time for messages.
fn fmt_time(secs: i64) -> String {
    format!("{secs} (Unix seconds)")
}

/// DER `SEQUENCE` around `contents`.
fn der_sequence(contents: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// Verifies the leaf's embedded SCT (RFC 6962 §3.2/§3.3): a CT log of `trust`
/// signed the precertificate, i.e. the leaf's TBSCertificate without the SCT
/// list extension, together with the SHA-256 of the issuer's SPKI.
fn verify_embedded_sct(
    leaf_der: &[u8],
    issuer_spki: &[u8],
    trust: &SigstoreTrust,
) -> Result<(), BundleError> {
    let sct_error = |reason: String| rejected(format!("SCT: {reason}"));
    let cert = x509_cert::Certificate::from_der(leaf_der)
        .map_err(|e| rejected(format!("leaf certificate does not parse: {e}")))?;
    let list: SignedCertificateTimestampList = match cert.tbs_certificate.get() {
        Ok(Some((_, list))) => list,
        Ok(None) => return Err(sct_error("the certificate has no embedded SCT".into())),
        Err(e) => return Err(sct_error(format!("SCT list does not parse: {e}"))),
    };
    let scts = list
        .parse_timestamps()
        .map_err(|e| sct_error(format!("SCT list does not parse: {e:?}")))?;
    let mut precert = cert.tbs_certificate.clone();
    precert.extensions = precert.extensions.map(|exts| {
        exts.into_iter()
            .filter(|e| e.extn_id != SignedCertificateTimestampList::OID)
            .collect()
    });
    let tbs = precert
        .to_der()
        .map_err(|e| sct_error(format!("precertificate does not encode: {e}")))?;
    let issuer_key_hash = Sha256::digest(issuer_spki);
    let mut first_failure = None;
    for serialized in &scts {
        let sct = match serialized.parse_timestamp() {
            Ok(s) => s,
            Err(e) => {
                first_failure.get_or_insert(format!("SCT does not parse: {e:?}"));
                continue;
            }
        };
        let Some(log) = trust
            .root
            .ctlogs
            .iter()
            .find(|l| l.log_id.key_id.as_bytes() == sct.log_id.key_id.as_slice())
        else {
            first_failure.get_or_insert(format!(
                "SCT from CT log {} that the trusted root does not contain",
                hex::encode(sct.log_id.key_id)
            ));
            continue;
        };
        // RFC 6962 timestamps are milliseconds; the log key must have been
        // valid when the SCT was issued.
        let issued = i64::try_from(sct.timestamp / 1000).unwrap_or(i64::MAX);
        if let Some(range) = &log.public_key.valid_for {
            if issued < range.start.as_second() || range.end.is_some_and(|e| issued > e.as_second())
            {
                first_failure.get_or_insert(format!(
                    "CT log {} key is not valid at the SCT time {}",
                    hex::encode(sct.log_id.key_id),
                    fmt_time(issued)
                ));
                continue;
            }
        }
        let alg = &sct.signature.algorithm;
        if alg.hash != HashAlgorithm::Sha256 || alg.signature != SignatureAlgorithm::Ecdsa {
            first_failure.get_or_insert(format!(
                "SCT algorithm {:?}/{:?}, only ECDSA with SHA-256 is supported",
                alg.signature, alg.hash
            ));
            continue;
        }
        // digitally-signed struct { Version sct_version(0); SignatureType
        // signature_type(certificate_timestamp = 0); uint64 timestamp;
        // LogEntryType entry_type(precert_entry = 1); PreCert { opaque
        // issuer_key_hash[32]; opaque tbs_certificate<1..2^24-1>; };
        // CtExtensions extensions<0..2^16-1>; }
        let extensions = sct.extensions.as_slice();
        let (Ok(tbs_len), Ok(ext_len)) =
            (u32::try_from(tbs.len()), u16::try_from(extensions.len()))
        else {
            first_failure.get_or_insert("SCT input too large".into());
            continue;
        };
        if tbs_len >= 1 << 24 {
            first_failure.get_or_insert("precertificate too large".into());
            continue;
        }
        let mut signed = Vec::with_capacity(tbs.len() + extensions.len() + 48);
        signed.push(0); // v1
        signed.push(0); // certificate_timestamp
        signed.extend_from_slice(&sct.timestamp.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&ext_len.to_be_bytes());
        signed.extend_from_slice(extensions);
        let key = VerificationKey::from_spki(&DerPublicKey::new(
            log.public_key.raw_bytes.as_bytes().to_vec(),
        ))
        .map_err(|e| BundleError::InvalidTrustedRoot {
            reason: format!("CT log key {}: {e}", hex::encode(sct.log_id.key_id)),
        })?;
        let signature = SignatureBytes::new(sct.signature.signature.as_slice().to_vec());
        match key.verify(&signed, &signature) {
            Ok(()) => return Ok(()),
            Err(e) => {
                first_failure.get_or_insert(format!(
                    "signature of CT log {} does not verify: {e}",
                    hex::encode(sct.log_id.key_id)
                ));
            }
        }
    }
    Err(sct_error(first_failure.unwrap_or_else(|| {
        "the certificate's SCT list is empty".into()
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_sequence_uses_short_and_long_lengths() {
        assert_eq!(der_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        let long = vec![0u8; 0x1234];
        let enc = der_sequence(&long);
        assert_eq!(&enc[..4], &[0x30, 0x82, 0x12, 0x34]);
        assert_eq!(enc.len(), 4 + 0x1234);
        let edge = vec![0u8; 0x80];
        assert_eq!(&der_sequence(&edge)[..3], &[0x30, 0x81, 0x80]);
    }

    #[test]
    fn a_leaf_that_is_not_a_certificate_is_rejected() {
        let trust = SigstoreTrust::public_good().unwrap();
        let e = verify_fulcio_certificate(b"\x30\x03\x02\x01\x01", &[], 1_700_000_000, &trust)
            .unwrap_err();
        assert!(matches!(e, BundleError::Certificate { .. }), "{e:?}");
    }
}
