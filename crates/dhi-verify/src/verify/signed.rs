//! Evidence signed about the image itself rather than through an attestation
//! manifest: signatures and Sigstore bundles that refer to the index or a
//! platform manifest (cosign `sign`, cosign v3 bundles, GitHub's artifact
//! attestations), and cosign's legacy `sha256-<hex>.sig` / `.att` tags.
//!
//! Each yields either a signature on the image (which satisfies only the
//! `signature` requirement) or a signed in-toto statement about it (an
//! attestation like any other, bound to the index or the platform manifest
//! by its subject digest).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;

use super::statement::{check_statement, declared_predicate_type};
use super::{
    first_keyless_signer, log_entry, report_signature, verify_one_signature, verify_simple_signing,
    Context, LogEntry, SignatureOk,
};
use crate::digest::Digest;
use crate::discover::{CosignTagEvidence, CosignTagKind, SignatureEvidence};
use crate::error::{ContentStep, VerifyError};
use crate::oci::{annotation, media_type, Descriptor};
use crate::policy::TlogMode;
use crate::signature::simple_signing::verify_signature;
use crate::sigstore::{
    verify_cosign_dsse_keyless, verify_cosign_dsse_log_entry, BundleError, PublicKey,
};
use crate::verdict::{
    AttestationReport, EvidenceSource, ImageSignatureReport, SignatureReport, Signer,
    VerifiedAttestation,
};

/// The predicate type cosign v3 gives the statement of a bundle made by
/// `cosign sign`: a signature on the image, not an attestation.
pub(crate) const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The DSSE envelope media type of cosign `.att` layers.
pub(crate) const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";

/// The bundle annotation (cosign's bundle spec) hinting at the statement's predicate type.
const BUNDLE_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";

/// What the image-level evidence of one subject came to.
#[derive(Default)]
pub(super) struct ImageEvidence {
    pub signatures: Vec<ImageSignatureReport>,
    pub attestations: Vec<AttestationReport>,
}

impl ImageEvidence {
    /// Verifies what refers to `subject` (the index or a platform manifest):
    /// its signature and bundle referrers, then its cosign tags.
    pub(super) fn verify(
        &mut self,
        subject: &Descriptor,
        referrers: &[SignatureEvidence],
        cosign_tags: &[CosignTagEvidence],
        ctx: &Context<'_>,
    ) {
        let before = self.attestations.len();
        for sig in referrers {
            self.verify_referrer(sig, subject, ctx);
        }
        for tag in cosign_tags.iter().filter(|t| t.subject == subject.digest) {
            match tag.kind {
                CosignTagKind::Signatures => self.verify_sig_tag(tag, ctx),
                CosignTagKind::Attestations => self.verify_att_tag(tag, ctx),
            }
        }
        for a in &mut self.attestations[before..] {
            a.subject = subject.digest;
        }
    }

    fn verify_referrer(
        &mut self,
        sig: &SignatureEvidence,
        subject: &Descriptor,
        ctx: &Context<'_>,
    ) {
        let result = verify_one_signature(sig, subject, None, ctx);
        let report = report_signature(
            sig.descriptor.digest,
            sig.descriptor.artifact_type.clone(),
            log_entry(sig),
            &result,
            ctx.tlog,
        );
        let bundle_layer = sig
            .manifest
            .as_ref()
            .ok()
            .and_then(|m| m.layers.first())
            .map(|l| l.digest);
        match result {
            Ok(SignatureOk {
                statement: Some(statement),
                signer,
                ..
            }) => {
                let attested = (|| {
                    let pt = declared_predicate_type(&statement)?;
                    check_statement(
                        &statement,
                        &pt,
                        &subject.digest,
                        ctx.limits.max_statement_subjects,
                    )?;
                    Ok::<_, VerifyError>(pt)
                })();
                match attested {
                    // `cosign sign` with a bundle: a signed statement that
                    // only says "this image is signed".
                    Ok(pt) if pt == COSIGN_SIGN_PREDICATE => {
                        self.signatures.push(ImageSignatureReport {
                            subject: subject.digest,
                            source: EvidenceSource::Referrer,
                            signature: report,
                        })
                    }
                    Ok(pt) => self.attestations.push(attestation_report(
                        EvidenceSource::Referrer,
                        Some(pt.clone()),
                        sig.descriptor.digest,
                        bundle_layer,
                        vec![report],
                        Ok(VerifiedAttestation::new(
                            pt,
                            sig.descriptor.digest,
                            bundle_layer.unwrap_or(sig.descriptor.digest),
                            subject.digest,
                            signer,
                            Arc::new(statement),
                        )),
                    )),
                    Err(e) => self.attestations.push(attestation_report(
                        EvidenceSource::Referrer,
                        declared_predicate_type(&statement).ok(),
                        sig.descriptor.digest,
                        bundle_layer,
                        vec![report],
                        Err(e),
                    )),
                }
            }
            Ok(_) => self.signatures.push(ImageSignatureReport {
                subject: subject.digest,
                source: EvidenceSource::Referrer,
                signature: report,
            }),
            // A bundle that did not verify: an attestation when its listing
            // says it holds one (so a requirement can say why it failed),
            // else a signature.
            Err(e) => match predicate_type_hint(sig) {
                Some(pt) if pt != COSIGN_SIGN_PREDICATE => {
                    self.attestations.push(attestation_report(
                        EvidenceSource::Referrer,
                        Some(pt),
                        sig.descriptor.digest,
                        bundle_layer,
                        vec![report],
                        Err(e),
                    ))
                }
                _ => self.signatures.push(ImageSignatureReport {
                    subject: subject.digest,
                    source: EvidenceSource::Referrer,
                    signature: report,
                }),
            },
        }
    }

    /// cosign's `.sig` tag: each layer a simple-signing payload signing the subject.
    fn verify_sig_tag(&mut self, tag: &CosignTagEvidence, ctx: &Context<'_>) {
        if let Err(e) = &tag.manifest {
            let e = VerifyError::Content {
                step: ContentStep::CosignSignatureTag,
                source: e.clone(),
            };
            self.signature_not_verified(tag, e, ctx);
            return;
        }
        for (layer, payload) in &tag.layers {
            let result = verify_simple_signing(layer, Some(payload), &tag.subject, None, ctx);
            self.signatures.push(ImageSignatureReport {
                subject: tag.subject,
                source: EvidenceSource::CosignTag,
                signature: report_signature(
                    layer.digest,
                    Some(layer.media_type.clone()),
                    LogEntry::of_layer(layer),
                    &result,
                    ctx.tlog,
                ),
            });
        }
        if tag.layers_not_fetched > 0 {
            let e = VerifyError::LayersNotFetched {
                count: tag.layers_not_fetched,
                limit: ctx.limits.max_signatures_per_attestation,
            };
            self.signature_not_verified(tag, e, ctx);
        }
    }

    /// Reports what of a `.sig` tag could not be verified, under the tag's manifest digest.
    fn signature_not_verified(
        &mut self,
        tag: &CosignTagEvidence,
        e: VerifyError,
        ctx: &Context<'_>,
    ) {
        self.signatures.push(ImageSignatureReport {
            subject: tag.subject,
            source: EvidenceSource::CosignTag,
            signature: report_signature(
                tag.descriptor.digest,
                None,
                LogEntry::Absent,
                &Err(e),
                ctx.tlog,
            ),
        });
    }

    /// cosign's `.att` tag: each layer a DSSE envelope of an in-toto
    /// statement about the subject.
    fn verify_att_tag(&mut self, tag: &CosignTagEvidence, ctx: &Context<'_>) {
        if let Err(e) = &tag.manifest {
            self.attestations.push(attestation_report(
                EvidenceSource::CosignTag,
                None,
                tag.descriptor.digest,
                None,
                Vec::new(),
                Err(VerifyError::Content {
                    step: ContentStep::CosignAttestationTag,
                    source: e.clone(),
                }),
            ));
            return;
        }
        for (layer, bytes) in &tag.layers {
            // cosign's (unsigned) annotation, else — cosign 1.x wrote none —
            // what the envelope's statement says, unverified: a hint that
            // only says which requirement a failure is quoted under.
            let hint = layer
                .annotation("predicateType")
                .map(str::to_owned)
                .or_else(|| {
                    bytes
                        .as_ref()
                        .ok()
                        .and_then(|b| unverified_predicate_type(b))
                });
            let verified = match bytes {
                Ok(bytes) => verify_dsse_layer(layer, bytes, &tag.subject, ctx),
                Err(e) => Err((
                    VerifyError::Content {
                        step: ContentStep::CosignAttestationLayer,
                        source: e.clone(),
                    },
                    Vec::new(),
                )),
            };
            self.attestations.push(match verified {
                Ok((ok, statement, pt, signatures)) => attestation_report(
                    EvidenceSource::CosignTag,
                    Some(pt.clone()),
                    tag.descriptor.digest,
                    Some(layer.digest),
                    signatures,
                    Ok(VerifiedAttestation::new(
                        pt,
                        tag.descriptor.digest,
                        layer.digest,
                        tag.subject,
                        ok.signer,
                        Arc::new(statement),
                    )),
                ),
                Err((e, signatures)) => attestation_report(
                    EvidenceSource::CosignTag,
                    hint,
                    tag.descriptor.digest,
                    Some(layer.digest),
                    signatures,
                    Err(e),
                ),
            });
        }
        if tag.layers_not_fetched > 0 {
            self.attestations.push(attestation_report(
                EvidenceSource::CosignTag,
                None,
                tag.descriptor.digest,
                None,
                Vec::new(),
                Err(VerifyError::LayersNotFetched {
                    count: tag.layers_not_fetched,
                    limit: ctx.limits.max_referrers,
                }),
            ));
        }
    }
}

/// The report of an attestation found outside attestation manifests. Its
/// `subject` is set by [`ImageEvidence::verify`].
fn attestation_report(
    source: EvidenceSource,
    predicate_type: Option<String>,
    manifest_digest: Digest,
    statement_digest: Option<Digest>,
    signatures: Vec<SignatureReport>,
    result: Result<VerifiedAttestation, VerifyError>,
) -> AttestationReport {
    // The signature here is over the statement itself: a trusted signature
    // whose statement names another image is about that image (anyone can
    // copy it here), while one that fails any other check is inconsistent.
    let signed_but_inconsistent = signatures.iter().any(|s| s.verified)
        && result
            .as_ref()
            .is_err_and(|e| !matches!(e, VerifyError::SubjectMismatch { .. }));
    AttestationReport {
        predicate_type,
        source,
        manifest_digest,
        statement_digest,
        subject: manifest_digest,
        unsigned: false,
        signed_but_inconsistent,
        verified: result.is_ok(),
        reason: result.as_ref().err().map(ToString::to_string),
        signatures,
        signatures_not_tried: 0,
        error: result.as_ref().err().cloned(),
        verified_attestation: result.ok(),
    }
}

/// The predicate type a bundle's listing or manifest says it holds (a hint).
fn predicate_type_hint(sig: &SignatureEvidence) -> Option<String> {
    sig.descriptor
        .annotation(BUNDLE_PREDICATE_TYPE)
        .or_else(|| {
            sig.manifest
                .as_ref()
                .ok()
                .and_then(|m| m.annotation(BUNDLE_PREDICATE_TYPE))
        })
        .map(str::to_owned)
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

/// The predicate type a DSSE envelope's statement declares, read without
/// verifying anything: for reporting a failure only, never for a decision.
fn unverified_predicate_type(envelope: &[u8]) -> Option<String> {
    let envelope: Envelope = serde_json::from_slice(envelope).ok()?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope.payload.trim())
        .ok()?;
    declared_predicate_type(&payload).ok()
}

/// DSSE's pre-authentication encoding: what the signature is over.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

type DsseOk = (SignatureOk, Vec<u8>, String, Vec<SignatureReport>);
type DsseErr = (VerifyError, Vec<SignatureReport>);

/// Verifies one `.att` layer, then the statement inside, about `subject`.
///
/// Keyless (a `dev.sigstore.cosign/certificate` annotation): the Fulcio
/// certificate for a trusted identity, logged (the Rekor bundle is required
/// whatever the tlog mode: its integrated time is the only trusted signing
/// time), see [`crate::sigstore::verify_cosign_dsse_keyless`]. Keyed: a trusted
/// key's signature over the DSSE PAE; its Rekor bundle, per the tlog mode
/// (`never`: ignored; `if-present`: verified when present; `always`:
/// required), must name this envelope, signature and key, and its integrated
/// time is when the key's validity is judged.
fn verify_dsse_layer(
    layer: &Descriptor,
    bytes: &[u8],
    subject: &Digest,
    ctx: &Context<'_>,
) -> Result<DsseOk, DsseErr> {
    let fail = |e| (e, Vec::new());
    if layer.media_type != DSSE_ENVELOPE {
        return Err(fail(VerifyError::SignatureLayer {
            expected: DSSE_ENVELOPE,
            found: layer.media_type.clone(),
        }));
    }
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| {
        fail(VerifyError::DsseEnvelope {
            reason: e.to_string(),
        })
    })?;
    if envelope.payload_type != media_type::IN_TOTO {
        return Err(fail(VerifyError::DssePayloadType {
            expected: media_type::IN_TOTO,
            found: envelope.payload_type,
        }));
    }
    // DSSE: base64, standard or URL-safe.
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope.payload.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(envelope.payload.trim()))
        .map_err(|e| {
            fail(VerifyError::DsseEnvelope {
                reason: format!("payload is not base64: {e}"),
            })
        })?;
    if envelope.signatures.is_empty() {
        return Err(fail(VerifyError::Unsigned {
            manifest: layer.digest,
        }));
    }
    let entry = LogEntry::of_layer(layer);
    let report = |r: &Result<SignatureOk, VerifyError>| {
        report_signature(
            layer.digest,
            Some(DSSE_ENVELOPE.to_owned()),
            entry,
            r,
            ctx.tlog,
        )
    };
    let (ok, statement, reports) = match layer.annotation(annotation::COSIGN_CERTIFICATE) {
        Some(certificate) => {
            let (result, statement) = match verify_keyless_dsse(layer, certificate, bytes, ctx) {
                Ok((ok, statement)) => (Ok(ok), statement),
                Err(e) => (Err(e), Vec::new()),
            };
            let reports = vec![report(&result)];
            match result {
                Ok(ok) => (ok, statement, reports),
                Err(e) => return Err((e, reports)),
            }
        }
        None => {
            let (ok, reports) = verify_keyed_dsse(layer, bytes, &envelope, &payload, ctx, report)?;
            (ok, payload, reports)
        }
    };
    // Only now, with the signature verified, is the statement read.
    let checked = declared_predicate_type(&statement).and_then(|pt| {
        check_statement(&statement, &pt, subject, ctx.limits.max_statement_subjects).map(|_| pt)
    });
    match checked {
        Ok(pt) => Ok((ok, statement, pt, reports)),
        Err(e) => Err((e, reports)),
    }
}

/// A keyless `.att` layer: the first trusted identity whose certificate
/// verification passes is the signer; the statement is the verified payload.
fn verify_keyless_dsse(
    layer: &Descriptor,
    certificate: &str,
    envelope: &[u8],
    ctx: &Context<'_>,
) -> Result<(SignatureOk, Vec<u8>), VerifyError> {
    if ctx.trust.identities().is_empty() {
        return Err(VerifyError::NoKeylessIdentity);
    }
    let rekor = layer
        .annotation(annotation::COSIGN_BUNDLE)
        .ok_or(VerifyError::TransparencyLogRequired)?;
    let logs = ctx.trust.sigstore_trust().ok_or_else(|| {
        VerifyError::Bundle(BundleError::InvalidTrustedRoot {
            reason: "the trust root holds no Sigstore material".into(),
        })
    })?;
    let chain = layer.annotation(annotation::COSIGN_CHAIN);
    let (signer, v) = first_keyless_signer(ctx, |policy| {
        verify_cosign_dsse_keyless(envelope, certificate, chain, rekor.as_bytes(), policy, logs)
    })
    .map_err(|e| e.unwrap_or(VerifyError::NoKeylessIdentity))?;
    if let Some(t) = v.integrated_time() {
        super::logged_by_then(t, ctx).map_err(VerifyError::Bundle)?;
    }
    let statement = v.statement().map(<[u8]>::to_vec).ok_or_else(|| {
        VerifyError::Bundle(BundleError::MalformedBundle {
            reason: "a verified DSSE envelope without its payload".into(),
        })
    })?;
    Ok((
        SignatureOk {
            signer,
            logged_at: v.integrated_time(),
            statement: None,
        },
        statement,
    ))
}

/// A key-signed `.att` layer: one signature over the PAE by a trusted key,
/// usable at the log's integrated time when there is a verified entry (else
/// at the verification time), and that entry naming this envelope, that
/// signature and that key.
fn verify_keyed_dsse(
    layer: &Descriptor,
    bytes: &[u8],
    envelope: &Envelope,
    payload: &[u8],
    ctx: &Context<'_>,
    report: impl Fn(&Result<SignatureOk, VerifyError>) -> SignatureReport,
) -> Result<(SignatureOk, Vec<SignatureReport>), DsseErr> {
    let failed = |e: VerifyError| {
        let reports = vec![report(&Err(e.clone()))];
        (e, reports)
    };
    // DHI-FORMAT.md §5: the log is policy; an entry that is there is verified
    // unless the policy says never.
    let log = match (layer.annotation(annotation::COSIGN_BUNDLE), ctx.tlog) {
        (_, TlogMode::Never) | (None, TlogMode::IfPresent) => None,
        (None, TlogMode::Always) => return Err(failed(VerifyError::TransparencyLogRequired)),
        (Some(bundle), _) => {
            let logs = ctx.trust.sigstore_trust().ok_or_else(|| {
                failed(VerifyError::TransparencyLog(
                    BundleError::InvalidTrustedRoot {
                        reason: "the trust root holds no transparency log".into(),
                    },
                ))
            })?;
            Some(
                verify_cosign_dsse_log_entry(bundle.as_bytes(), bytes, logs)
                    .map_err(|e| failed(VerifyError::TransparencyLog(e)))?,
            )
        }
    };
    if let Some(entry) = &log {
        super::logged_by_then(entry.integrated_time(), ctx)
            .map_err(|e| failed(VerifyError::TransparencyLog(e)))?;
    }
    let at = match &log {
        Some(entry) => u64::try_from(entry.integrated_time())
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
            .map_err(|_| {
                failed(VerifyError::TransparencyLog(BundleError::MalformedBundle {
                    reason: format!("negative integratedTime {}", entry.integrated_time()),
                }))
            })?,
        None => ctx.at,
    };
    let signed_bytes = pae(&envelope.payload_type, payload);
    let results: Vec<Result<SignatureOk, VerifyError>> = envelope
        .signatures
        .iter()
        .take(ctx.limits.max_signatures_per_attestation)
        .map(|s| {
            let key = verify_signature(&signed_bytes, &s.sig, ctx.trust, at)?;
            let logged_at = match &log {
                Some(entry) => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(s.sig.trim())
                        .map_err(|e| VerifyError::SignatureEncoding {
                            reason: format!("base64: {e}"),
                        })?;
                    let public =
                        PublicKey::from_pem_or_der(key.spki_der()).map_err(VerifyError::Bundle)?;
                    Some(
                        entry
                            .bind(&raw, &public)
                            .map_err(VerifyError::TransparencyLog)?
                            .integrated_time(),
                    )
                }
                None => None,
            };
            Ok(SignatureOk {
                signer: Signer::key(key),
                logged_at,
                statement: None,
            })
        })
        .collect();
    let reports: Vec<SignatureReport> = results.iter().map(&report).collect();
    match results.into_iter().find_map(Result::ok) {
        Some(ok) => Ok((ok, reports)),
        None => {
            let first = reports
                .iter()
                .find_map(|r| r.reason.clone())
                .unwrap_or_default();
            Err((
                VerifyError::NoValidSignature {
                    tried: reports.len(),
                    first,
                },
                reports,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pae;

    #[test]
    fn pae_follows_the_dsse_spec() {
        // DSSE protocol.md: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }
}
