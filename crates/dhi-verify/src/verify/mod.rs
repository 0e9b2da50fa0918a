//! The verify stage: the chain of trust, checked link by link over gathered
//! evidence (DHI-FORMAT.md §1): trusted key → signature over the payload →
//! payload names the attestation manifest → manifest names the statement →
//! statement names this platform's manifest → platform listed in the index.
//! `statement` checks the in-toto header and its subjects.
//!
//! Pure: evidence, trust, limits, the tlog mode and an explicit time in;
//! reports and verification's own checks out ([`VerifiedEvidence`]), no
//! policy. Nothing here reads the network, the disk or the clock.

mod in_index;
pub mod signature;
mod signed;
pub mod sigstore;
pub(crate) mod statement;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::digest::Digest;
use crate::discover::{AttestationEvidence, Evidence, PlatformEvidence, SignatureEvidence};
use crate::error::{ContentStep, VerifyError};
use crate::limits::Limits;
use crate::oci::{annotation, media_type, Descriptor, ImageManifest, Manifest};
use crate::policy::TlogMode;
use crate::requirement::describe_predicate_type;
use crate::signature::simple_signing::{check_payload_claims, verify_signature};
use crate::sigstore::{
    verify_bundle, verify_cosign_rekor_bundle, Artifact, BundlePolicy, PublicKey, VerifiedLogEntry,
};
use crate::trust::{TrustRoot, TrustedKey};
use crate::verdict::{
    AttestationReport, Check, ImageConfig, PlatformVerdict, SignatureReport, Signer, TlogStatus,
    VerifiedAttestation,
};
use statement::check_statement;

/// What the checks need besides the evidence.
pub(crate) struct Context<'a> {
    pub trust: &'a TrustRoot,
    /// What to make of transparency-log entries (the policy's tlog mode).
    pub tlog: TlogMode,
    pub limits: &'a Limits,
    pub at: SystemTime,
}

/// The predicate type an attestation manifest declares: the manifest
/// annotation is required; a layer annotation, when present, must agree.
fn declared_predicate_type(m: &ImageManifest, layer: &Descriptor) -> Result<String, VerifyError> {
    let manifest_pt = m
        .annotation(annotation::PREDICATE_TYPE)
        .ok_or(VerifyError::MissingPredicateTypeAnnotation)?;
    if let Some(layer_pt) = layer.annotation(annotation::PREDICATE_TYPE) {
        if layer_pt != manifest_pt {
            return Err(VerifyError::PredicateTypeAnnotationsDisagree {
                manifest: manifest_pt.to_owned(),
                layer: layer_pt.to_owned(),
            });
        }
    }
    Ok(manifest_pt.to_owned())
}

/// Checks the size and media type of a referrer's `subject` whose digest
/// already matched: the digest binds the content, and a disagreeing size or
/// type means the referrer was built for something else (Docker's verifier
/// checks both too).
fn check_subject_descriptor(
    subject: &Descriptor,
    expected: &Descriptor,
    referrer: &'static str,
) -> Result<(), VerifyError> {
    if subject.size != expected.size {
        return Err(VerifyError::SubjectDescriptor {
            referrer,
            field: "size",
            expected: expected.size.to_string(),
            found: subject.size.to_string(),
        });
    }
    if !crate::oci::is_manifest_media_type(&subject.media_type) {
        return Err(VerifyError::SubjectDescriptor {
            referrer,
            field: "mediaType",
            expected: "an image manifest or index media type".into(),
            found: subject.media_type.clone(),
        });
    }
    Ok(())
}

/// A signature that verified: the key, and the verified signing time from a
/// transparency log (or timestamp authority) when there was one.
struct SignatureOk {
    signer: Signer,
    logged_at: Option<i64>,
    /// The in-toto statement a DSSE Sigstore bundle carried (verified with it).
    statement: Option<Vec<u8>>,
}

/// Checks one signature over the attestation manifest `signed`.
fn verify_one_signature<'t>(
    sig: &SignatureEvidence,
    signed_manifest: &Descriptor,
    predicate_type: Option<&str>,
    ctx: &Context<'t>,
) -> Result<SignatureOk, VerifyError> {
    let m = sig.manifest.as_ref().map_err(|e| VerifyError::Content {
        step: ContentStep::SignatureManifest,
        source: e.clone(),
    })?;
    // distribution-spec: a referrer's `subject` names the manifest it refers
    // to; a signature listed under one manifest but naming another is rejected.
    let signed = &signed_manifest.digest;
    match &m.subject {
        Some(s) if s.digest == *signed => {
            check_subject_descriptor(s, signed_manifest, "signature manifest")?
        }
        other => {
            return Err(VerifyError::SignatureSubject {
                expected: *signed,
                found: other.as_ref().map(|s| s.digest),
            })
        }
    }
    let artifact_type = m.effective_artifact_type();
    if artifact_type == media_type::SIGSTORE_BUNDLE_V03 {
        return verify_bundle_signature(m, sig, signed, ctx);
    }
    if artifact_type != media_type::COSIGN_SIGNATURE
        && m.config.media_type != media_type::COSIGN_SIGNATURE
    {
        return Err(VerifyError::UnsupportedSignatureFormat {
            artifact_type: artifact_type.to_owned(),
        });
    }
    let layer = m.layers.first().ok_or(VerifyError::SignatureLayer {
        expected: media_type::SIMPLE_SIGNING,
        found: String::new(),
    })?;
    verify_simple_signing(layer, sig.payload.as_ref(), signed, predicate_type, ctx)
}

/// Checks one simple-signing layer (a signature manifest's, or one of a
/// cosign `.sig` tag's) and its payload `payload` as a signature over the
/// manifest `signed`.
fn verify_simple_signing(
    layer: &Descriptor,
    payload: Option<&Result<Vec<u8>, crate::error::SourceError>>,
    signed: &Digest,
    predicate_type: Option<&str>,
    ctx: &Context<'_>,
) -> Result<SignatureOk, VerifyError> {
    if layer.media_type != media_type::SIMPLE_SIGNING {
        return Err(VerifyError::SignatureLayer {
            expected: media_type::SIMPLE_SIGNING,
            found: layer.media_type.clone(),
        });
    }
    let signature = layer
        .annotation(annotation::COSIGN_SIGNATURE)
        .ok_or(VerifyError::MissingSignature)?;
    let payload = match payload {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            return Err(VerifyError::Content {
                step: ContentStep::SignaturePayload,
                source: e.clone(),
            })
        }
        None => {
            return Err(VerifyError::SignatureLayer {
                expected: media_type::SIMPLE_SIGNING,
                found: String::new(),
            })
        }
    };
    // cosign keyless: the certificate, not a trusted key, signs; the
    // signature is verified as the Sigstore bundle it is equivalent to.
    if let Some(certificate) = layer.annotation(annotation::COSIGN_CERTIFICATE) {
        return verify_keyless_simple_signing(
            layer,
            certificate,
            signature,
            payload,
            signed,
            predicate_type,
            ctx,
        );
    }
    // DHI-FORMAT.md §5: the log is policy — never required by the DHI
    // default, always verified when present. A verified entry's integrated
    // time is the signing time the key's validity window is judged at.
    let log = match (layer.annotation(annotation::COSIGN_BUNDLE), ctx.tlog) {
        (_, TlogMode::Never) => None,
        (None, TlogMode::IfPresent) => None,
        (None, TlogMode::Always) => return Err(VerifyError::TransparencyLogRequired),
        (Some(bundle), _) => Some(verify_log_entry(bundle, signature, payload, ctx)?),
    };
    let at = match &log {
        Some(entry) => u64::try_from(entry.integrated_time())
            .map(|secs| UNIX_EPOCH + Duration::from_secs(secs))
            .map_err(|_| {
                VerifyError::TransparencyLog(crate::sigstore::BundleError::MalformedBundle {
                    reason: format!("negative integratedTime {}", entry.integrated_time()),
                })
            })?,
        None => ctx.at,
    };
    // cosign SIGNATURE_SPEC: the signature is over the exact payload bytes;
    // verify it before trusting anything the payload says.
    let key = verify_signature(payload, signature, ctx.trust, at)?;
    if let Some(recorded) = log.as_ref().and_then(VerifiedLogEntry::body_public_key) {
        let found = std::str::from_utf8(recorded)
            .ok()
            .and_then(|pem| TrustedKey::from_pem("log entry", pem).ok())
            .map_or_else(|| Digest::of(recorded), |k| *k.fingerprint());
        if found != *key.fingerprint() {
            return Err(VerifyError::TransparencyLogKeyMismatch {
                expected: *key.fingerprint(),
                found,
            });
        }
    }
    check_payload_claims(payload, signed, predicate_type)?;
    Ok(SignatureOk {
        signer: Signer::key(key),
        logged_at: log.as_ref().map(VerifiedLogEntry::integrated_time),
        statement: None,
    })
}

/// Checks a Sigstore bundle signature manifest (what cosign v3 attaches, and
/// what Docker's verifier prefers): exactly one bundle layer, whose bundle
/// is a signature over the attestation manifest's digest by a trusted key,
/// with its transparency-log entry verified.
fn verify_bundle_signature<'t>(
    m: &crate::oci::ImageManifest,
    sig: &SignatureEvidence,
    signed: &Digest,
    ctx: &Context<'t>,
) -> Result<SignatureOk, VerifyError> {
    match m.layers.as_slice() {
        [layer] if layer.media_type == media_type::SIGSTORE_BUNDLE_V03 => {}
        layers => {
            return Err(VerifyError::SignatureLayer {
                expected: media_type::SIGSTORE_BUNDLE_V03,
                found: layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
    let bundle = match &sig.payload {
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            return Err(VerifyError::Content {
                step: ContentStep::SignatureBundle,
                source: e.clone(),
            })
        }
        None => {
            return Err(VerifyError::SignatureLayer {
                expected: media_type::SIGSTORE_BUNDLE_V03,
                found: String::new(),
            })
        }
    };
    let logs = ctx.trust.sigstore_trust().ok_or_else(|| {
        VerifyError::Bundle(crate::sigstore::BundleError::InvalidTrustedRoot {
            reason: "the trust root holds no transparency log".into(),
        })
    })?;
    let mut first_error = None;
    for key in ctx.trust.keys() {
        let public = match PublicKey::from_pem_or_der(key.spki_der()) {
            Ok(k) => k,
            Err(e) => {
                first_error.get_or_insert(VerifyError::Bundle(e));
                continue;
            }
        };
        let artifact = Artifact::Digest(*signed.as_bytes());
        let verified = if ctx.tlog == TlogMode::Never {
            crate::sigstore::danger::verify_unlogged_key_bundle_unsafe(
                bundle, artifact, &public, logs,
            )
        } else {
            verify_bundle(bundle, artifact, &BundlePolicy::Key(public), logs)
        };
        match verified {
            Ok(v) => {
                if ctx.tlog == TlogMode::Always && v.integrated_time().is_none() {
                    return Err(VerifyError::TransparencyLogRequired);
                }
                let at = match v.signed_at().and_then(|t| u64::try_from(t).ok()) {
                    Some(secs) => UNIX_EPOCH + Duration::from_secs(secs),
                    None => ctx.at,
                };
                key.usable_at(at)
                    .map_err(|reason| VerifyError::KeyNotUsable {
                        key: key.name().to_owned(),
                        fingerprint: *key.fingerprint(),
                        reason,
                    })?;
                return Ok(SignatureOk {
                    signer: Signer::key(key),
                    logged_at: v.integrated_time(),
                    statement: v.statement().map(<[u8]>::to_vec),
                });
            }
            Err(e) => {
                first_error.get_or_insert(VerifyError::Bundle(e));
            }
        }
    }
    // Keyless: a Fulcio certificate for a trusted identity, logged while the
    // certificate was valid (sigstore-verify checks the chain, SCT and log).
    match first_keyless_signer(ctx, |policy| {
        verify_bundle(bundle, Artifact::Digest(*signed.as_bytes()), policy, logs)
    }) {
        Ok((signer, v)) => {
            if ctx.tlog == TlogMode::Always && v.integrated_time().is_none() {
                return Err(VerifyError::TransparencyLogRequired);
            }
            return Ok(SignatureOk {
                signer,
                logged_at: v.integrated_time(),
                statement: v.statement().map(<[u8]>::to_vec),
            });
        }
        Err(e) => {
            if let Some(e) = e {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(VerifyError::UntrustedSignature { keys_tried: 0 }))
}

/// A keyless cosign simple-signing signature: chain to a trusted Fulcio CA,
/// SCT, logged while the certificate was valid (the Rekor bundle is required:
/// without it there is no trusted signing time), for a trusted identity; then
/// the payload's claims.
fn verify_keyless_simple_signing(
    layer: &Descriptor,
    certificate: &str,
    signature_b64: &str,
    payload: &[u8],
    signed: &Digest,
    predicate_type: Option<&str>,
    ctx: &Context<'_>,
) -> Result<SignatureOk, VerifyError> {
    if ctx.trust.identities().is_empty() {
        return Err(VerifyError::NoKeylessIdentity);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| VerifyError::SignatureEncoding {
            reason: format!("base64: {e}"),
        })?;
    let rekor = layer
        .annotation(annotation::COSIGN_BUNDLE)
        .ok_or(VerifyError::TransparencyLogRequired)?;
    let logs = ctx.trust.sigstore_trust().ok_or_else(|| {
        VerifyError::Bundle(crate::sigstore::BundleError::InvalidTrustedRoot {
            reason: "the trust root holds no Sigstore material".into(),
        })
    })?;
    let chain = layer.annotation(annotation::COSIGN_CHAIN);
    let (signer, v) = first_keyless_signer(ctx, |policy| {
        crate::sigstore::verify_cosign_keyless(
            payload,
            &der,
            certificate,
            chain,
            rekor.as_bytes(),
            policy,
            logs,
        )
    })
    .map_err(|e| e.unwrap_or(VerifyError::NoKeylessIdentity))?;
    if let Some(t) = v.integrated_time() {
        logged_by_then(t, ctx).map_err(VerifyError::Bundle)?;
    }
    check_payload_claims(payload, signed, predicate_type)?;
    Ok(SignatureOk {
        signer,
        logged_at: v.integrated_time(),
        statement: None,
    })
}

/// Tries `verify` with each trusted keyless identity; the first that verifies
/// is the signer. `Err(None)` when no identity is trusted, else the first failure.
fn first_keyless_signer(
    ctx: &Context<'_>,
    verify: impl Fn(
        &BundlePolicy,
    ) -> Result<crate::sigstore::VerifiedBundle, crate::sigstore::BundleError>,
) -> Result<(Signer, crate::sigstore::VerifiedBundle), Option<VerifyError>> {
    let mut first_error = None;
    for identity in ctx.trust.identities() {
        let policy = BundlePolicy::Identity {
            issuer: identity.issuer().clone(),
            subject: identity.subject().clone(),
        };
        match verify(&policy) {
            Ok(v) => {
                let signer = match v.signer() {
                    crate::sigstore::Signer::Certificate { identity, issuer } => Signer::Keyless {
                        identity: identity.clone(),
                        issuer: issuer.clone(),
                    },
                    // An identity policy only accepts certificates; be exact anyway.
                    other => {
                        return Err(Some(VerifyError::Bundle(
                            crate::sigstore::BundleError::MalformedBundle {
                                reason: format!(
                                    "identity policy verified a non-certificate signer {other:?}"
                                ),
                            },
                        )))
                    }
                };
                return Ok((signer, v));
            }
            Err(e) => {
                first_error.get_or_insert(VerifyError::Bundle(e));
            }
        }
    }
    Err(first_error)
}

/// A log entry's integrated time may not be after the verification time
/// (`sigstore-verify` checks the same for Sigstore bundles): a trusted log
/// vouching for a time still to come is misbehaving, and a key's or a
/// certificate's validity is judged at that time. No clock skew is allowed,
/// as in `sigstore-verify`.
pub(crate) fn logged_by_then(
    integrated_time: i64,
    ctx: &Context<'_>,
) -> Result<(), crate::sigstore::BundleError> {
    let then = ctx
        .at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if integrated_time > then {
        return Err(crate::sigstore::BundleError::TransparencyLog {
            reason: format!(
                "expected an integrated time at or before the verification time {then}, found {integrated_time} (in the future)"
            ),
        });
    }
    Ok(())
}

/// Verifies a legacy cosign Rekor bundle against the trusted logs.
fn verify_log_entry(
    bundle: &str,
    signature_b64: &str,
    payload: &[u8],
    ctx: &Context<'_>,
) -> Result<VerifiedLogEntry, VerifyError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| VerifyError::SignatureEncoding {
            reason: format!("base64: {e}"),
        })?;
    let logs = ctx.trust.sigstore_trust().ok_or_else(|| {
        VerifyError::TransparencyLog(crate::sigstore::BundleError::InvalidTrustedRoot {
            reason: "the trust root holds no transparency log".into(),
        })
    })?;
    let entry = verify_cosign_rekor_bundle(bundle.as_bytes(), &der, payload, logs)
        .map_err(VerifyError::TransparencyLog)?;
    logged_by_then(entry.integrated_time(), ctx).map_err(VerifyError::TransparencyLog)?;
    Ok(entry)
}

fn signature_report(
    sig: &SignatureEvidence,
    result: &Result<SignatureOk, VerifyError>,
    tlog_mode: TlogMode,
) -> SignatureReport {
    report_signature(
        sig.descriptor.digest,
        sig.descriptor.artifact_type.clone(),
        log_entry(sig),
        result,
        tlog_mode,
    )
}

/// A signature's transparency-log entry, as the report tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogEntry {
    /// No entry.
    Absent,
    /// A legacy cosign Rekor bundle on a key signature: verified unless the
    /// policy's tlog mode is `never`.
    Skippable,
    /// An entry verified in every mode: a keyless signature's (the only
    /// trusted signing time) or a Sigstore bundle's (present evidence is
    /// never skipped).
    AlwaysVerified,
}

impl LogEntry {
    /// The entry of a signature layer with these annotations and media type.
    pub(crate) fn of_layer(layer: &Descriptor) -> LogEntry {
        if layer.media_type == media_type::SIGSTORE_BUNDLE_V03 {
            LogEntry::AlwaysVerified
        } else if !layer.annotations.contains_key(annotation::COSIGN_BUNDLE) {
            LogEntry::Absent
        } else if layer
            .annotations
            .contains_key(annotation::COSIGN_CERTIFICATE)
        {
            LogEntry::AlwaysVerified
        } else {
            LogEntry::Skippable
        }
    }
}

/// The log entry of a signature manifest's (first) layer.
fn log_entry(sig: &SignatureEvidence) -> LogEntry {
    sig.manifest
        .as_ref()
        .ok()
        .and_then(|m| m.layers.first())
        .map_or(LogEntry::Absent, LogEntry::of_layer)
}

/// The report of one signature: `digest` names it (its manifest, or its
/// layer for cosign tags), `has_entry` says whether it carries a log entry.
fn report_signature(
    digest: Digest,
    artifact_type: Option<String>,
    entry: LogEntry,
    result: &Result<SignatureOk, VerifyError>,
    tlog_mode: TlogMode,
) -> SignatureReport {
    let tlog = match (entry, tlog_mode, result) {
        (LogEntry::Absent, _, _) => TlogStatus::Absent,
        (LogEntry::Skippable, TlogMode::Never, _) => TlogStatus::Ignored,
        (_, _, Ok(ok)) if ok.logged_at.is_some() => TlogStatus::Verified,
        (_, _, Ok(_)) => TlogStatus::Absent,
        (_, _, Err(_)) => TlogStatus::Invalid,
    };
    let (key, key_id) = match result {
        Ok(ok) => (
            Some(ok.signer.name().to_owned()),
            ok.signer.fingerprint().copied(),
        ),
        Err(VerifyError::KeyNotUsable {
            key, fingerprint, ..
        }) => (Some(key.clone()), Some(*fingerprint)),
        Err(_) => (None, None),
    };
    SignatureReport {
        digest,
        artifact_type,
        key,
        key_id,
        issuer: result
            .as_ref()
            .ok()
            .and_then(|ok| ok.signer.issuer().map(str::to_owned)),
        verified: result.is_ok(),
        reason: result.as_ref().err().map(ToString::to_string),
        tlog,
        signed_at: result.as_ref().ok().and_then(|ok| ok.logged_at),
        error: result.as_ref().err().cloned(),
        signer: result.as_ref().ok().map(|ok| ok.signer.clone()),
    }
}

/// Verifies one attestation of the platform manifest `platform`.
pub(crate) fn verify_attestation(
    a: &AttestationEvidence,
    platform_manifest: &Descriptor,
    ctx: &Context<'_>,
) -> AttestationReport {
    let manifest_digest = a.descriptor.digest;
    let platform = &platform_manifest.digest;
    let manifest = a.manifest.as_ref().ok();
    let layer = manifest.and_then(|m| m.attestation_layer().ok());
    let predicate_type = manifest
        .and_then(|m| m.annotation(annotation::PREDICATE_TYPE))
        .map(str::to_owned);

    // Signatures are checked whatever else fails, so the report says who signed.
    let (signatures, signature_result): (Vec<SignatureReport>, Result<Signer, VerifyError>) =
        match &a.signatures {
            Err(e) => (
                Vec::new(),
                Err(VerifyError::Content {
                    step: ContentStep::SignatureReferrers,
                    source: e.clone(),
                }),
            ),
            Ok(sigs) if sigs.is_empty() => (
                Vec::new(),
                Err(VerifyError::Unsigned {
                    manifest: manifest_digest,
                }),
            ),
            Ok(sigs) => {
                let results: Vec<_> = sigs
                    .iter()
                    .map(|s| verify_one_signature(s, &a.descriptor, predicate_type.as_deref(), ctx))
                    .collect();
                let reports = sigs
                    .iter()
                    .zip(&results)
                    .map(|(s, r)| signature_report(s, r, ctx.tlog))
                    .collect();
                // One valid signature by a trusted key suffices (DHI-FORMAT.md §5).
                let result = match results.iter().find_map(|r| r.as_ref().ok()) {
                    Some(ok) => Ok(ok.signer.clone()),
                    None => Err(VerifyError::NoValidSignature {
                        tried: results.len(),
                        first: results
                            .iter()
                            .find_map(|r| r.as_ref().err())
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                    }),
                };
                (reports, result)
            }
        };

    let chain = (|| -> Result<(VerifiedAttestation, Digest), VerifyError> {
        let m = a.manifest.as_ref().map_err(|e| VerifyError::Content {
            step: ContentStep::AttestationManifest,
            source: e.clone(),
        })?;
        if m.effective_artifact_type() != media_type::IN_TOTO {
            return Err(VerifyError::AttestationArtifactType {
                expected: media_type::IN_TOTO,
                found: m.effective_artifact_type().to_owned(),
            });
        }
        // The attestation must be about this platform's manifest.
        match &m.subject {
            Some(s) if s.digest == *platform => {
                check_subject_descriptor(s, platform_manifest, "attestation manifest")?
            }
            other => {
                return Err(VerifyError::AttestationSubject {
                    expected: *platform,
                    found: other.as_ref().map(|s| s.digest),
                })
            }
        }
        let layer = m.attestation_layer()?;
        let pt = declared_predicate_type(m, layer)?;
        let statement = match &a.statement {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                return Err(VerifyError::Content {
                    step: ContentStep::Statement,
                    source: e.clone(),
                })
            }
            // Discovery fetches the statement whenever the layer is well formed.
            None => {
                return Err(VerifyError::Content {
                    step: ContentStep::Statement,
                    source: crate::error::SourceError::Missing {
                        digest: layer.digest,
                        location: "the gathered evidence".into(),
                    },
                })
            }
        };
        check_statement(statement, &pt, platform, ctx.limits.max_statement_subjects)?;
        let signer = signature_result.as_ref().map_err(Clone::clone)?;
        Ok((
            VerifiedAttestation::new(
                pt,
                manifest_digest,
                layer.digest,
                *platform,
                signer.clone(),
                Arc::clone(statement),
            ),
            layer.digest,
        ))
    })();

    match chain {
        Ok((verified, _)) => AttestationReport {
            predicate_type,
            source: a.source,
            manifest_digest,
            statement_digest: layer.map(|l| l.digest),
            subject: *platform,
            unsigned: false,
            signed_but_inconsistent: false,
            verified: true,
            reason: None,
            signatures,
            signatures_not_tried: a.signatures_not_tried,
            error: None,
            verified_attestation: Some(verified),
        },
        Err(e) => AttestationReport {
            predicate_type,
            source: a.source,
            manifest_digest,
            statement_digest: layer.map(|l| l.digest),
            subject: *platform,
            unsigned: false,
            // A trusted signer vouched for this manifest, which says it is
            // about this platform, and yet a link below it is broken. A
            // manifest about another subject is only misplaced: anyone can
            // list it here, so it is ignored like any unverified extra.
            signed_but_inconsistent: signature_result.is_ok()
                && !matches!(e, VerifyError::AttestationSubject { .. }),
            verified: false,
            reason: Some(e.to_string()),
            signatures,
            signatures_not_tried: a.signatures_not_tried,
            error: Some(e),
            verified_attestation: None,
        },
    }
}

/// Verifies one platform: every link of its attestations and signatures,
/// no policy. Its `checks` are those of verification (manifest, referrers,
/// consistency, the tlog downgrade); the policy's are added later.
fn verify_platform(
    evidence: &Evidence,
    p: &PlatformEvidence,
    ctx: &Context<'_>,
) -> PlatformVerdict {
    let digest = p.descriptor.digest;
    let mut checks = Vec::new();
    match &p.manifest {
        Ok(_) => checks.push(Check::pass(
            "platform.manifest",
            format!("platform manifest {digest} matches its digest"),
        )),
        Err(e) => checks.push(
            Check::fail("platform.manifest", format!("platform manifest: {e}"))
                .with_evidence([digest.to_string()]),
        ),
    }
    let mut attestations: Vec<AttestationReport> = p
        .attestations
        .iter()
        .map(|a| verify_attestation(a, &p.descriptor, ctx))
        .collect();
    // Attestation manifests about the index count for each platform it lists.
    if evidence.top.digest != digest {
        attestations.extend(
            evidence
                .top_attestations
                .iter()
                .map(|a| verify_attestation(a, &evidence.top, ctx)),
        );
    }
    // What is signed about the image itself: this platform's manifest, and
    // the index that lists it (its signatures and statements cover every
    // platform it lists).
    let mut image = signed::ImageEvidence::default();
    image.verify(&p.descriptor, &p.signed_referrers, &p.cosign_tags, ctx);
    if let Some(Ok(top_signed)) = &evidence.top_signed {
        image.verify(&evidence.top, top_signed, &evidence.cosign_tags, ctx);
    } else if evidence.top.digest != p.descriptor.digest {
        image.verify(&evidence.top, &[], &evidence.cosign_tags, ctx);
    }
    attestations.extend(image.attestations);
    let image_signatures = image.signatures;
    // BuildKit's in-index attestations, under a verified signature on the index.
    let index_signer = image_signatures
        .iter()
        .filter(|s| s.subject == evidence.top.digest && s.subject != digest)
        .find_map(|s| s.signature.signer.as_ref().filter(|_| s.signature.verified));
    for a in &p.in_index {
        attestations.extend(in_index::verify_in_index(
            a,
            &p.descriptor,
            &evidence.top.digest,
            index_signer,
            ctx,
        ));
    }
    // A trusted signer vouching for inconsistent bytes fails the image.
    for a in attestations.iter().filter(|a| a.signed_but_inconsistent) {
        checks.push(
            Check::fail(
                "attestation.consistency",
                format!(
                    "{} {} is signed by a trusted signer but does not hold together: {}",
                    a.predicate_type
                        .as_deref()
                        .map_or_else(|| "attestation".to_owned(), describe_predicate_type),
                    a.manifest_digest,
                    a.reason.as_deref().unwrap_or("not verified")
                ),
            )
            .with_evidence([a.manifest_digest.to_string()]),
        );
    }
    match &p.referrers {
        Ok(list) => checks.push(Check::pass(
            "referrers",
            format!(
                "{} referrer(s) of {digest}, {} attestation(s)",
                list.len(),
                attestations.len()
            ),
        )),
        Err(e) => checks.push(
            Check::fail("referrers", format!("referrers of {digest}: {e}"))
                .with_evidence([digest.to_string()]),
        ),
    }
    if ctx.tlog == TlogMode::Never {
        // A downgrade in force is always visible (STYLE.md §6).
        checks.push(Check::skip(
            "tlog",
            "transparency-log entries of key signatures were not verified: policy tlog mode is never (a keyless signature's entry is verified in every mode: it is the only trusted signing time)",
        ));
    }
    let config = p
        .config
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .and_then(|b| ImageConfig::parse(b));
    PlatformVerdict {
        platform: p.platform.clone(),
        digest,
        config,
        attestations,
        image_signatures,
        checks,
    }
}

/// What the verify stage hands on: every link of one image's evidence
/// checked against the trust root, no policy applied. Each platform's
/// `checks` are verification's own; the policy's are added by the evaluate
/// stage, and the outcome by [`Verdict::assemble`](crate::verdict::Verdict).
pub(crate) struct VerifiedEvidence {
    /// The verified digest: the index, or the single manifest.
    pub top: Digest,
    /// Image-level checks (index, platform selection, referrers of the index, integrity).
    pub checks: Vec<Check>,
    /// The verified index's annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Each selected platform, verified.
    pub platforms: Vec<PlatformVerdict>,
}

/// Verifies the evidence for one image (the verify stage).
pub(crate) fn verify(evidence: &Evidence, ctx: &Context<'_>) -> VerifiedEvidence {
    let mut checks = Vec::new();
    let top = evidence.top.digest;
    match &evidence.top_manifest {
        Ok(Manifest::Index(_)) => checks.push(Check::pass(
            "image.index",
            format!(
                "index {top} matches its digest and lists {} platform(s)",
                evidence.available_platforms.len()
            ),
        )),
        Ok(Manifest::Image(_)) => checks.push(Check::pass(
            "image.index",
            format!("single-platform manifest {top} matches its digest"),
        )),
        Err(e) => checks.push(
            Check::fail("image.index", format!("index: {e}")).with_evidence([top.to_string()]),
        ),
    }
    for missing in &evidence.missing_platforms {
        let offered: Vec<String> = evidence
            .available_platforms
            .iter()
            .map(ToString::to_string)
            .collect();
        checks.push(Check::fail(
            format!("platform.{missing}"),
            format!(
                "platform {missing} is not in {top}; it offers: {}",
                if offered.is_empty() {
                    "none".into()
                } else {
                    offered.join(", ")
                }
            ),
        ));
    }
    if evidence.top_manifest.is_ok()
        && evidence.platforms.is_empty()
        && evidence.missing_platforms.is_empty()
    {
        checks.push(Check::fail(
            "platform.selected",
            format!("{top} lists no platform image to verify"),
        ));
    }
    if let Some(Err(e)) = &evidence.top_signed {
        checks.push(
            Check::fail("referrers.index", format!("referrers of {top}: {e}"))
                .with_evidence([top.to_string()]),
        );
    }
    if !evidence.integrity_problems.is_empty() {
        checks.push(Check::fail(
            "source.integrity",
            format!(
                "{} blob(s) in the source do not match their digest: {}",
                evidence.integrity_problems.len(),
                evidence
                    .integrity_problems
                    .iter()
                    .take(3)
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ));
    }
    let annotations = match &evidence.top_manifest {
        Ok(Manifest::Index(i)) => i.annotations.clone(),
        _ => Default::default(),
    };
    let platforms = evidence
        .platforms
        .iter()
        .map(|p| verify_platform(evidence, p, ctx))
        .collect();
    VerifiedEvidence {
        top,
        checks,
        annotations,
        platforms,
    }
}
