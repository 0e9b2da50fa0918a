//! The shapes cosign and BuildKit publish, built by the testkit with one link
//! broken at a time: every Rekor entry kind of a keyed `.att` on the index
//! with each forgery of its entry or SET, attestations about the index
//! (`.att` tag and referrer), and keyed `cosign save` layouts.

use dhi_verify::sigstore::SigstoreTrust;
use dhi_verify::{
    CheckStatus, EvidenceSource, Limits, Outcome, Policy, TlogMode, TlogStatus, TrustRoot,
    TrustedKey, Verdict, Verifier,
};
use dhi_verify_testkit::rekor::{EntryForgery, EntryKind};
use dhi_verify_testkit::{DhiImage, IndexAttestation, PredicateKind, Tamper, TestRekor};

use crate::util::{check, verify};

const FORGERIES: [EntryForgery; 5] = [
    EntryForgery::OtherEnvelope,
    EntryForgery::OtherPayloadHash,
    EntryForgery::OtherKey,
    EntryForgery::SetEdited,
    EntryForgery::SetTime,
];

/// The image's key, with the test log trusted.
fn trust(image: &DhiImage) -> TrustRoot {
    TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()])
        .with_sigstore_trust(
            SigstoreTrust::from_trusted_root_json(
                TestRekor::default().trusted_root_json().as_bytes(),
            )
            .unwrap(),
        )
}

fn verifier(image: &DhiImage, requirements: &[&str], tlog: TlogMode) -> Verifier {
    Verifier::builder()
        .trust(trust(image))
        .policy(
            Policy::dhi_default()
                .with_requirements(requirements.iter().copied())
                .unwrap()
                .with_tlog(tlog),
        )
        .all_platforms()
        .limits(Limits::default())
        .at(std::time::SystemTime::now())
        .build()
        .unwrap()
}

/// Writes `image` as a layout and verifies its tag `3.13`.
fn run(image: &DhiImage, requirements: &[&str], tlog: TlogMode) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let f = image.write_layout(&dir.path().join("layout"));
    verify(&verifier(image, requirements, tlog), &f.reference("3.13"))
}

fn provenance(p: &dhi_verify::PlatformVerdict) -> &dhi_verify::AttestationReport {
    p.attestations
        .iter()
        .find(|a| {
            a.predicate_type.as_deref() == Some(PredicateKind::ProvenanceV1.predicate_type())
                || (a.source == EvidenceSource::CosignTag && !a.verified)
        })
        .unwrap_or_else(|| panic!("no provenance: {p:#?}"))
}

fn index_att(kind: EntryKind, forgery: EntryForgery) -> DhiImage {
    DhiImage::python()
        .with_rekor()
        .attest_index(IndexAttestation::AttTag)
        .att_entry(kind, forgery)
}

#[test]
fn an_untampered_index_att_of_each_entry_kind_passes_in_every_mode() {
    for kind in EntryKind::ALL {
        let image = index_att(kind, EntryForgery::None);
        for mode in [TlogMode::IfPresent, TlogMode::Always, TlogMode::Never] {
            let v = run(&image, &["provenance", "sbom"], mode);
            assert_eq!(v.outcome, Outcome::Pass, "{kind:?} {mode:?}: {v:#?}");
            assert!(v.platforms.len() >= 2, "{v:#?}");
            for p in &v.platforms {
                let a = provenance(p);
                assert!(a.verified, "{a:#?}");
                assert_eq!(a.source, EvidenceSource::CosignTag);
                // About the index, counted for every platform.
                assert_eq!(a.subject, v.digest);
                assert_ne!(a.subject, p.digest);
                let expected = if mode == TlogMode::Never {
                    TlogStatus::Ignored
                } else {
                    TlogStatus::Verified
                };
                assert_eq!(a.signatures[0].tlog, expected, "{kind:?} {mode:?}");
            }
        }
    }
}

#[test]
fn each_forged_log_entry_of_each_kind_fails_unless_the_log_is_ignored() {
    for kind in EntryKind::ALL {
        for forgery in FORGERIES {
            let image = index_att(kind, forgery);
            for mode in [TlogMode::IfPresent, TlogMode::Always] {
                let v = run(&image, &["provenance", "sbom"], mode);
                let what = format!("{kind:?} {forgery:?} {mode:?}");
                assert_eq!(v.outcome, Outcome::Fail, "{what}: {v:#?}");
                for p in &v.platforms {
                    let c = p
                        .checks
                        .iter()
                        .find(|c| c.id == "require.provenance")
                        .unwrap();
                    assert_eq!(c.status, CheckStatus::Fail, "{what}");
                    let a = provenance(p);
                    assert!(!a.verified, "{what}: {a:#?}");
                    let reason = a.reason.as_deref().unwrap_or_default();
                    assert!(
                        reason.contains("transparency-log entry does not verify"),
                        "{what}: the reason does not name the transparency log: {reason}"
                    );
                    // And which part of it: the body field, or the SET.
                    let part = match forgery {
                        EntryForgery::SetEdited | EntryForgery::SetTime => "signed entry timestamp",
                        _ => "log entry body does not match",
                    };
                    assert!(reason.contains(part), "{what}: {reason}");
                    // Only the target's entry is forged: the SBOM in the same
                    // `.att` still verifies.
                    assert_eq!(
                        p.checks
                            .iter()
                            .find(|c| c.id == "require.sbom")
                            .unwrap()
                            .status,
                        CheckStatus::Pass,
                        "{what}"
                    );
                }
            }
            // Ignoring the log: the keyed signature stands, and the skip is said.
            let v = run(&image, &["provenance", "sbom"], TlogMode::Never);
            let what = format!("{kind:?} {forgery:?} never");
            assert_eq!(v.outcome, Outcome::Pass, "{what}: {v:#?}");
            assert_eq!(check(&v, "tlog").status, CheckStatus::Skip, "{what}");
            for p in &v.platforms {
                assert_eq!(provenance(p).signatures[0].tlog, TlogStatus::Ignored);
            }
        }
    }
}

#[test]
fn index_attestations_as_att_tag_or_referrer_count_for_every_platform() {
    for how in [IndexAttestation::AttTag, IndexAttestation::Referrer] {
        let image = DhiImage::python().with_rekor().attest_index(how);
        let v = run(&image, &["provenance", "sbom"], TlogMode::IfPresent);
        assert_eq!(v.outcome, Outcome::Pass, "{how:?}: {v:#?}");
        assert!(v.platforms.len() >= 2);
        for p in &v.platforms {
            let verified: Vec<_> = p.attestations.iter().filter(|a| a.verified).collect();
            assert!(!verified.is_empty());
            assert!(
                verified.iter().all(|a| a.subject == v.digest),
                "{how:?}: {verified:#?}"
            );
        }
    }
}

#[test]
fn an_index_att_whose_statement_names_a_platform_fails() {
    for how in [IndexAttestation::AttTag, IndexAttestation::Referrer] {
        let image = DhiImage::python()
            .with_rekor()
            .attest_index(how)
            .tamper(Tamper::SubjectOtherPlatform);
        let v = run(&image, &["provenance", "sbom"], TlogMode::IfPresent);
        assert_eq!(v.outcome, Outcome::Fail, "{how:?}: {v:#?}");
        // The statement about the first platform is in a manifest about the
        // index: not counted for any platform.
        for p in &v.platforms {
            assert_eq!(
                p.checks
                    .iter()
                    .find(|c| c.id == "require.provenance")
                    .map(|c| c.status),
                Some(CheckStatus::Fail),
                "{how:?} {}: {p:#?}",
                p.platform
            );
            let a = provenance(p);
            assert!(!a.verified);
            assert!(
                a.reason
                    .as_deref()
                    .unwrap_or_default()
                    .contains("statement subject does not name"),
                "{a:#?}"
            );
            let consistency = p.checks.iter().find(|c| c.id == "attestation.consistency");
            match how {
                // The referrer manifest the key signed says "about the
                // index" while its statement names a platform: the signer
                // vouched for bytes that do not hold together.
                IndexAttestation::Referrer => {
                    assert!(a.signed_but_inconsistent, "{a:#?}");
                    assert_eq!(consistency.map(|c| c.status), Some(CheckStatus::Fail));
                }
                // cosign's `.att` is bound to the index only by its tag name,
                // which nobody signs: a signed statement about another
                // manifest there is misplaced, not inconsistent.
                IndexAttestation::AttTag => {
                    assert!(!a.signed_but_inconsistent, "{a:#?}");
                    assert!(consistency.is_none_or(|c| c.status != CheckStatus::Fail));
                }
            }
        }
    }
}

/// Writes `image` as a `cosign save` layout and verifies `oci:<dir>`.
fn run_save(image: &DhiImage, requirements: &[&str]) -> (Verdict, dhi_verify_testkit::CosignSave) {
    let dir = tempfile::tempdir().unwrap();
    let save = image.write_cosign_save(&dir.path().join("save"));
    let v = verify(
        &verifier(image, requirements, TlogMode::Always),
        &format!("oci:{}", dir.path().join("save").display()),
    );
    (v, save)
}

#[test]
fn a_keyed_cosign_save_layout_passes_with_its_sig_required() {
    for (image, buildkit) in [
        (DhiImage::python().with_rekor(), false),
        (DhiImage::python().with_rekor().single_manifest(), false),
        (
            DhiImage::python().with_rekor().with_buildkit_attestations(),
            true,
        ),
    ] {
        let (v, save) = run_save(&image, &["provenance", "sbom", "signature"]);
        assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
        assert_eq!(v.digest.to_string(), save.fixture.index_digest);
        for p in &v.platforms {
            assert_eq!(
                p.checks
                    .iter()
                    .find(|c| c.id == "require.signature")
                    .unwrap()
                    .status,
                CheckStatus::Pass
            );
            assert!(p
                .image_signatures
                .iter()
                .any(|s| s.signature.verified && s.subject == v.digest));
            // BuildKit's statements are vouched for by the `.sig` on the index.
            let in_index: Vec<_> = p
                .attestations
                .iter()
                .filter(|a| a.source == EvidenceSource::ImageIndex)
                .collect();
            assert_eq!(!in_index.is_empty(), buildkit, "{p:#?}");
            for a in in_index {
                assert!(a.verified && !a.unsigned, "{a:#?}");
            }
        }
    }
}

#[test]
fn a_keyed_cosign_save_layout_whose_sig_names_another_manifest_fails() {
    for image in [
        DhiImage::python().with_rekor(),
        DhiImage::python().with_rekor().single_manifest(),
    ] {
        let image = image.tamper(Tamper::PayloadNamesOtherManifest);
        let (v, _) = run_save(&image, &["provenance", "signature"]);
        assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
        // The signature on the index signs something else: no signature
        // requirement is met (the attestations are untouched).
        let first = &v.platforms[0];
        assert_eq!(
            first
                .checks
                .iter()
                .find(|c| c.id == "require.signature")
                .unwrap()
                .status,
            CheckStatus::Fail,
            "{first:#?}"
        );
        assert_eq!(
            first
                .checks
                .iter()
                .find(|c| c.id == "require.provenance")
                .unwrap()
                .status,
            CheckStatus::Pass
        );
        // And without the signature requirement, the image passes.
        let (v, _) = run_save(&image, &["provenance"]);
        assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    }
}

#[test]
fn an_index_att_layer_counts_as_its_signed_statement_type_not_its_annotation() {
    // The provenance layer's signed statement says CycloneDX while cosign's
    // (unsigned) `predicateType` layer annotation says SLSA provenance: the
    // signed type is what counts, so no provenance is verified.
    let image = DhiImage::python()
        .with_rekor()
        .attest_index(IndexAttestation::AttTag)
        .tamper(Tamper::PredicateTypeConfusion);
    let v = run(&image, &["provenance", "sbom"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    for p in &v.platforms {
        let status = |id: &str| p.checks.iter().find(|c| c.id == id).map(|c| c.status);
        assert_eq!(status("require.provenance"), Some(CheckStatus::Fail));
        assert_eq!(status("require.sbom"), Some(CheckStatus::Pass));
        assert!(p
            .attestations
            .iter()
            .all(|a| a.predicate_type.as_deref()
                != Some(PredicateKind::ProvenanceV1.predicate_type())));
        // Two CycloneDX statements, both verified under their signed type.
        let cdx = p
            .attestations
            .iter()
            .filter(|a| {
                a.verified
                    && a.predicate_type.as_deref()
                        == Some(PredicateKind::CycloneDx16.predicate_type())
            })
            .count();
        assert_eq!(cdx, 2, "{p:#?}");
    }
    // Untampered, the same image passes: the failure is the confusion.
    let v = run(
        &DhiImage::python()
            .with_rekor()
            .attest_index(IndexAttestation::AttTag),
        &["provenance", "sbom"],
        TlogMode::IfPresent,
    );
    assert_eq!(v.outcome, Outcome::Pass);
}

/// The reason of the first signature of each attestation of `v` that did not
/// verify.
fn failed_signature_reasons(v: &Verdict) -> Vec<String> {
    v.platforms
        .iter()
        .flat_map(|p| &p.attestations)
        .filter(|a| !a.verified)
        .map(|a| {
            a.signatures
                .first()
                .and_then(|s| s.error.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn a_log_entry_integrated_after_the_verification_time_is_rejected_on_every_keyed_path() {
    use dhi_verify_testkit::rekor::INTEGRATED_TIME;
    use std::time::{Duration, UNIX_EPOCH};
    // Simple-signed attestations on each platform and a DSSE `.att` on the
    // index, every one logged at INTEGRATED_TIME.
    let image = index_att(EntryKind::ALL[0], EntryForgery::None);
    let dir = tempfile::tempdir().unwrap();
    let f = image.write_layout(&dir.path().join("layout"));
    let logged = UNIX_EPOCH + Duration::from_secs(INTEGRATED_TIME as u64);
    let at = |time, tlog| {
        let verifier = Verifier::builder()
            .trust(trust(&image))
            .policy(
                Policy::dhi_default()
                    .with_requirements(["provenance", "sbom"])
                    .unwrap()
                    .with_tlog(tlog),
            )
            .all_platforms()
            .at(time)
            .build()
            .unwrap();
        verify(&verifier, &f.reference("3.13"))
    };
    // Judged at the logged time itself: passes.
    let v = at(logged, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    // A second earlier, the log vouches for a time still to come.
    for mode in [TlogMode::IfPresent, TlogMode::Always] {
        let v = at(logged - Duration::from_secs(1), mode);
        assert_eq!(v.outcome, Outcome::Fail, "{mode:?}");
        let reasons = failed_signature_reasons(&v);
        // The platforms' own attestations and the index's, on each platform.
        assert!(reasons.len() >= 2 * v.platforms.len(), "{reasons:?}");
        for reason in &reasons {
            assert!(
                reason.contains(&format!(
                    "expected an integrated time at or before the verification time {}, found {INTEGRATED_TIME} (in the future)",
                    INTEGRATED_TIME - 1
                )),
                "{mode:?}: {reason}"
            );
        }
        for p in &v.platforms {
            assert!(
                p.attestations
                    .iter()
                    .any(|a| !a.verified && a.source == EvidenceSource::CosignTag),
                "the index's DSSE .att fails too: {p:#?}"
            );
        }
    }
    // Ignoring the log (keys without a validity window): the entry's time
    // is not used, and the skip is reported.
    let v = at(logged - Duration::from_secs(1), TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(check(&v, "tlog").status, CheckStatus::Skip);
}
