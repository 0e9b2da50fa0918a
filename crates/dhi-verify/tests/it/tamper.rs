use std::time::{Duration, SystemTime};

use dhi_verify::{
    CheckStatus, ContentStep, Limits, Outcome, Policy, SourceError, TrustRoot, TrustedKey, Verdict,
    VerifyError,
};
use dhi_verify_testkit::{DhiImage, PredicateKind, Tamper};

use crate::util::{check, trust, verifier, verifier_with, verify, write};

/// Verifies `image` (tampered), asserts the verdict fails on the provenance
/// requirement, and returns the provenance attestation's error.
fn provenance_error(image: DhiImage) -> (Verdict, VerifyError) {
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    assert!(!v.passed);
    assert_eq!(check(&v, "require.provenance").status, CheckStatus::Fail);
    // The other requirement is untouched by a single-link tamper.
    assert_eq!(check(&v, "require.sbom").status, CheckStatus::Pass);
    let att = v.platforms[0]
        .attestations
        .iter()
        .find(|a| {
            a.manifest_digest.to_string()
                == w.fixture
                    .attestation("linux/amd64", PredicateKind::ProvenanceV1)
                    .manifest_digest
        })
        .expect("the tampered attestation is reported");
    assert!(!att.verified);
    assert!(att.verified_attestation.is_none());
    let err = att
        .error
        .clone()
        .expect("an unverified attestation carries its error");
    (v, err)
}

/// The error of the first signature on the tampered attestation.
fn signature_error(image: DhiImage) -> VerifyError {
    let (v, err) = provenance_error(image);
    assert!(
        matches!(err, VerifyError::NoValidSignature { tried: 1, .. }),
        "{err:?}"
    );
    let att = v.platforms[0]
        .attestations
        .iter()
        .find(|a| !a.verified)
        .unwrap();
    assert!(!att.signatures[0].verified);
    att.signatures[0].error.clone().unwrap()
}

#[test]
fn untampered_image_passes_with_every_attestation_verified() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert!(v.passed);
    assert_eq!(v.digest.to_string(), w.fixture.index_digest);
    assert_eq!(v.platforms.len(), 1);
    assert_eq!(v.platforms[0].digest.to_string(), w.fixture.platforms[0].1);
    assert_eq!(v.platforms[0].attestations.len(), 5);
    assert!(v.platforms[0]
        .attestations
        .iter()
        .all(|a| a.verified && a.signatures.len() == 1));
    assert_eq!(v.verified_attestations().count(), 5);
    for a in v.verified_attestations() {
        assert_eq!(a.subject().to_string(), w.fixture.platforms[0].1);
        assert_eq!(a.signer(), "dhi-test");
        assert_eq!(dhi_verify::Digest::of(a.statement()), *a.statement_digest());
    }
}

#[test]
fn signature_by_an_untrusted_key_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::WrongKey));
    assert!(
        matches!(err, VerifyError::UntrustedSignature { keys_tried: 1 }),
        "{err:?}"
    );
}

#[test]
fn statement_bytes_that_do_not_match_their_digest_are_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::StatementBytes));
    assert!(
        matches!(
            err,
            VerifyError::Content {
                step: ContentStep::Statement,
                source: SourceError::DigestMismatch { .. }
            }
        ),
        "{err:?}"
    );
}

#[test]
fn statement_missing_from_the_layout_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::StatementMissing));
    assert!(
        matches!(
            err,
            VerifyError::Content {
                step: ContentStep::Statement,
                source: SourceError::Missing { .. }
            }
        ),
        "{err:?}"
    );
}

#[test]
fn attestation_manifest_bytes_that_do_not_match_their_digest_are_rejected() {
    let (v, err) = provenance_error(DhiImage::python().tamper(Tamper::AttestationManifestBytes));
    assert!(
        matches!(
            err,
            VerifyError::Content {
                step: ContentStep::AttestationManifest,
                source: SourceError::DigestMismatch { .. }
            }
        ),
        "{err:?}"
    );
    // The layout itself is reported corrupt too.
    assert_eq!(check(&v, "source.integrity").status, CheckStatus::Fail);
}

#[test]
fn payload_bytes_that_do_not_match_their_digest_are_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::PayloadBytes));
    assert!(
        matches!(
            err,
            VerifyError::Content {
                step: ContentStep::SignaturePayload,
                source: SourceError::DigestMismatch { .. }
            }
        ),
        "{err:?}"
    );
}

#[test]
fn payload_naming_another_attestation_manifest_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::PayloadNamesOtherManifest));
    assert!(matches!(err, VerifyError::PayloadDigest { .. }), "{err:?}");
}

#[test]
fn statement_about_another_platform_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::SubjectOtherPlatform));
    assert!(
        matches!(err, VerifyError::SubjectMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn attestation_manifest_about_another_platform_is_rejected() {
    let (_, err) =
        provenance_error(DhiImage::python().tamper(Tamper::AttestationSubjectOtherPlatform));
    assert!(
        matches!(err, VerifyError::AttestationSubject { .. }),
        "{err:?}"
    );
}

#[test]
fn attestation_manifest_subject_with_another_size_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::AttestationSubjectSize));
    assert!(
        matches!(
            err,
            VerifyError::SubjectDescriptor {
                referrer: "attestation manifest",
                field: "size",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn signature_manifest_subject_that_is_not_a_manifest_type_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::SignatureSubjectMediaType));
    assert!(
        matches!(
            err,
            VerifyError::SubjectDescriptor {
                referrer: "signature manifest",
                field: "mediaType",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn statement_predicate_type_differing_from_the_annotation_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::PredicateTypeConfusion));
    assert!(
        matches!(err, VerifyError::StatementPredicateType { .. }),
        "{err:?}"
    );
}

#[test]
fn sbom_statement_posing_as_provenance_does_not_satisfy_provenance() {
    // The SBOM attestation's statement says provenance while its manifest says SBOM:
    // neither requirement may count it.
    let image = DhiImage::python()
        .kinds(&[PredicateKind::ProvenanceV1, PredicateKind::CycloneDx16])
        .tamper(Tamper::PredicateTypeConfusion)
        .target(PredicateKind::CycloneDx16);
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(check(&v, "require.sbom").status, CheckStatus::Fail);
    assert_eq!(check(&v, "require.provenance").status, CheckStatus::Pass);
}

#[test]
fn layer_annotation_disagreeing_with_the_manifest_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::LayerAnnotationDisagrees));
    assert!(
        matches!(err, VerifyError::PredicateTypeAnnotationsDisagree { .. }),
        "{err:?}"
    );
}

#[test]
fn payload_naming_another_predicate_type_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::PayloadPredicateType));
    assert!(
        matches!(err, VerifyError::PayloadPredicateType { .. }),
        "{err:?}"
    );
}

#[test]
fn unsigned_required_attestation_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::Unsigned));
    assert!(matches!(err, VerifyError::Unsigned { .. }), "{err:?}");
}

#[test]
fn payload_with_wrong_critical_type_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::WrongCriticalType));
    assert!(matches!(err, VerifyError::PayloadType { .. }), "{err:?}");
}

#[test]
fn signature_that_is_not_base64_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::SignatureNotBase64));
    assert!(
        matches!(err, VerifyError::SignatureEncoding { .. }),
        "{err:?}"
    );
}

#[test]
fn signature_that_is_not_der_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::SignatureNotDer));
    assert!(
        matches!(err, VerifyError::SignatureEncoding { .. }),
        "{err:?}"
    );
}

#[test]
fn signature_manifest_about_another_manifest_is_rejected() {
    let err = signature_error(DhiImage::python().tamper(Tamper::SignatureSubjectOther));
    assert!(
        matches!(err, VerifyError::SignatureSubject { .. }),
        "{err:?}"
    );
}

#[test]
fn statement_with_unknown_type_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::StatementType));
    assert!(matches!(err, VerifyError::StatementType { .. }), "{err:?}");
}

#[test]
fn attestation_manifest_with_two_layers_is_rejected() {
    let (_, err) = provenance_error(DhiImage::python().tamper(Tamper::ExtraLayer));
    assert!(
        matches!(err, VerifyError::AttestationLayers { .. }),
        "{err:?}"
    );
}

#[test]
fn signature_by_an_inactive_key_is_reported_and_never_trusted() {
    let image = DhiImage::python();
    let w = write(&image);
    let signer = TrustedKey::from_pem("retired", &image.key.public_pem())
        .unwrap()
        .inactive();
    let other = TrustedKey::from_pem("dhi-2", dhi_verify::DHI_2_PEM).unwrap();
    let v = verify(
        &verifier_with(
            TrustRoot::from_keys([signer, other]),
            Policy::dhi_default(),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(v.outcome, Outcome::Fail);
    let sig = &v.platforms[0].attestations[0].signatures[0];
    assert_eq!(sig.key.as_deref(), Some("retired"));
    assert!(!sig.verified);
    assert!(matches!(
        sig.error,
        Some(VerifyError::KeyNotUsable {
            reason: dhi_verify::KeyUnusable::Inactive,
            ..
        })
    ));
}

#[test]
fn signature_checked_before_a_keys_validity_window_is_rejected() {
    let image = DhiImage::python();
    let w = write(&image);
    let future = SystemTime::now() + Duration::from_secs(86_400);
    let signer = TrustedKey::from_pem("next", &image.key.public_pem())
        .unwrap()
        .valid_from(future);
    let v = verify(
        &verifier_with(
            TrustRoot::from_keys([signer]),
            Policy::dhi_default(),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        v.platforms[0].attestations[0].signatures[0].error,
        Some(VerifyError::KeyNotUsable {
            reason: dhi_verify::KeyUnusable::NotYetValid { .. },
            ..
        })
    ));
}

#[test]
fn statement_larger_than_the_limit_is_rejected_and_at_the_limit_accepted() {
    let image = DhiImage::python().kinds(&[PredicateKind::ProvenanceV1, PredicateKind::Spdx23]);
    let w = write(&image);
    let sizes: Vec<u64> = w
        .fixture
        .attestations
        .iter()
        .filter(|a| a.platform == "linux/amd64")
        .map(|a| {
            std::fs::metadata(
                w.fixture
                    .dir
                    .join("blobs/sha256")
                    .join(&a.statement_digest[7..]),
            )
            .unwrap()
            .len()
        })
        .collect();
    let largest = *sizes.iter().max().unwrap();
    let at_limit = verify(
        &verifier_with(
            trust(&image),
            Policy::dhi_default(),
            Limits::default().with_max_statement_bytes(largest),
        ),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(at_limit.outcome, Outcome::Pass, "{at_limit:#?}");
    let over = verify(
        &verifier_with(
            trust(&image),
            Policy::dhi_default(),
            Limits::default().with_max_statement_bytes(largest - 1),
        ),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(over.outcome, Outcome::Fail);
    assert!(over.platforms[0].attestations.iter().any(|a| matches!(
        &a.error,
        Some(VerifyError::Content {
            step: ContentStep::Statement,
            source: SourceError::TooLarge {
                limit_name: "max_statement_bytes",
                ..
            }
        })
    )));
}

#[test]
fn index_bytes_that_do_not_match_their_digest_fail_the_image() {
    let image = DhiImage::python().tamper(Tamper::IndexBytes);
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(check(&v, "image.index").status, CheckStatus::Fail);
    assert!(v.platforms.is_empty());
}

#[test]
fn platform_manifest_bytes_that_do_not_match_their_digest_fail_the_platform() {
    let image = DhiImage::python().tamper(Tamper::PlatformManifestBytes);
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(check(&v, "platform.manifest").status, CheckStatus::Fail);
}

#[test]
fn corrupt_blob_of_an_unrequired_attestation_is_reported_and_fails_the_layout_integrity_check() {
    let image = DhiImage::python()
        .tamper(Tamper::StatementBytes)
        .target(PredicateKind::OpenVex);
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    // The layout holds a corrupt blob, which the source reports: still a fail.
    assert_eq!(check(&v, "source.integrity").status, CheckStatus::Fail);
    let vex = v.platforms[0]
        .attestations
        .iter()
        .find(|a| a.predicate_type.as_deref() == Some("https://openvex.dev/ns/v0.2.0"))
        .unwrap();
    assert!(!vex.verified);
    assert_eq!(check(&v, "require.provenance").status, CheckStatus::Pass);
}

#[test]
fn unsigned_attestation_of_a_required_type_fails_the_requirement_named_by_the_user() {
    let image = DhiImage::python()
        .tamper(Tamper::Unsigned)
        .target(PredicateKind::OpenVex);
    let w = write(&image);
    let default = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(
        default.outcome,
        Outcome::Pass,
        "VEX is not required by default"
    );
    let requiring_vex = verify(
        &verifier_with(
            trust(&image),
            Policy::requiring(["vex"]).unwrap(),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(requiring_vex.outcome, Outcome::Fail);
    assert!(check(&requiring_vex, "require.vex")
        .message
        .contains("unsigned"));
}

/// A trusted signature over an attestation that does not hold together fails
/// the image in its own right (check `attestation.consistency`, naming the
/// attestation), whatever the requirements; a manifest about another subject
/// is only misplaced, and an attestation whose signature does not verify is
/// anyone's to push: neither is inconsistent.
#[test]
fn a_trusted_signature_over_inconsistent_bytes_fails_the_image() {
    let inconsistent = [
        Tamper::SubjectOtherPlatform,
        Tamper::PredicateTypeConfusion,
        Tamper::LayerAnnotationDisagrees,
        Tamper::StatementType,
        Tamper::ExtraLayer,
        Tamper::AttestationSubjectSize,
        Tamper::StatementMissing,
    ];
    let not_inconsistent = [
        Tamper::AttestationSubjectOtherPlatform,
        Tamper::WrongKey,
        Tamper::Unsigned,
        Tamper::PayloadNamesOtherManifest,
        Tamper::PayloadPredicateType,
    ];
    for (tamper, expected) in inconsistent
        .iter()
        .map(|t| (t, true))
        .chain(not_inconsistent.iter().map(|t| (t, false)))
    {
        // Only SBOMs are required: the tampered provenance is an extra.
        let image = DhiImage::python().tamper(*tamper);
        let w = write(&image);
        let v = verify(
            &verifier_with(
                trust(&image),
                Policy::dhi_default().with_requirements(["sbom"]).unwrap(),
                Limits::default(),
            ),
            &w.fixture.reference("3.13"),
        );
        let target = w
            .fixture
            .attestation("linux/amd64", PredicateKind::ProvenanceV1)
            .manifest_digest
            .clone();
        let att = v.platforms[0]
            .attestations
            .iter()
            .find(|a| a.manifest_digest.to_string() == target)
            .unwrap_or_else(|| panic!("{tamper:?}: the tampered attestation is reported"));
        assert!(!att.verified, "{tamper:?}");
        assert_eq!(
            att.signed_but_inconsistent, expected,
            "{tamper:?}: {att:#?}"
        );
        let consistency = v.platforms[0]
            .checks
            .iter()
            .find(|c| c.id == "attestation.consistency");
        if expected {
            let c = consistency.unwrap_or_else(|| panic!("{tamper:?}: no consistency check"));
            assert_eq!(c.status, CheckStatus::Fail, "{tamper:?}");
            assert_eq!(c.evidence, std::slice::from_ref(&target), "{tamper:?}");
            assert_eq!(v.outcome, Outcome::Fail, "{tamper:?}");
        } else {
            assert!(consistency.is_none(), "{tamper:?}: {consistency:?}");
            assert_eq!(v.outcome, Outcome::Pass, "{tamper:?}: {v:#?}");
        }
    }
}
