use dhi_verify::sigstore::SigstoreTrust;
use dhi_verify::{
    CheckStatus, Limits, Outcome, Policy, TlogMode, TlogStatus, TrustRoot, TrustedKey, Verdict,
    VerifyError,
};
use dhi_verify_testkit::rekor::INTEGRATED_TIME;
use dhi_verify_testkit::{DhiImage, PredicateKind, Tamper, TestRekor};

use crate::util::{check, verifier_with, verify, write};

fn trust(image: &DhiImage) -> TrustRoot {
    let logs =
        SigstoreTrust::from_trusted_root_json(TestRekor::default().trusted_root_json().as_bytes())
            .unwrap();
    TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()])
        .with_transparency_logs(logs)
}

fn run(image: &DhiImage, mode: TlogMode) -> (Verdict, dhi_verify_testkit::Fixture) {
    let w = write(image);
    let v = verify(
        &verifier_with(
            trust(image),
            Policy::dhi_default().with_tlog(mode),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    );
    (v, w.fixture)
}

fn provenance_signature_error(v: &Verdict, fixture: &dhi_verify_testkit::Fixture) -> VerifyError {
    let digest = &fixture
        .attestation("linux/amd64", PredicateKind::ProvenanceV1)
        .manifest_digest;
    let att = v.platforms[0]
        .attestations
        .iter()
        .find(|a| &a.manifest_digest.to_string() == digest)
        .unwrap();
    assert!(!att.verified);
    att.signatures[0].error.clone().unwrap()
}

#[test]
fn attestations_signed_with_sigstore_bundles_verify() {
    let image = DhiImage::python().with_bundle_signatures();
    let (v, _) = run(&image, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    for a in &v.platforms[0].attestations {
        let s = &a.signatures[0];
        assert_eq!(
            s.artifact_type.as_deref(),
            Some("application/vnd.dev.sigstore.bundle.v0.3+json")
        );
        assert_eq!(
            (s.tlog, s.signed_at, s.key.as_deref()),
            (
                TlogStatus::Verified,
                Some(INTEGRATED_TIME),
                Some("dhi-test")
            )
        );
    }
}

#[test]
fn a_bundle_with_a_forged_set_is_rejected() {
    let image = DhiImage::python()
        .with_bundle_signatures()
        .tamper(Tamper::BundleSet);
    let (v, f) = run(&image, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(check(&v, "require.provenance").status, CheckStatus::Fail);
    assert!(matches!(
        provenance_signature_error(&v, &f),
        VerifyError::Bundle(_)
    ));
}

#[test]
fn a_bundle_signing_other_bytes_than_the_manifest_is_rejected() {
    let image = DhiImage::python()
        .with_bundle_signatures()
        .tamper(Tamper::BundleSignatureOverOtherBytes);
    let (v, f) = run(&image, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        provenance_signature_error(&v, &f),
        VerifyError::Bundle(_)
    ));
}

#[test]
fn a_bundle_by_an_untrusted_key_is_rejected() {
    let image = DhiImage::python()
        .with_bundle_signatures()
        .tamper(Tamper::WrongKey);
    let (v, f) = run(&image, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        provenance_signature_error(&v, &f),
        VerifyError::Bundle(_)
    ));
}

#[test]
fn a_bundle_signature_manifest_about_another_manifest_is_rejected() {
    // The signature manifest is listed under the target but its subject is a sibling.
    let image = DhiImage::python()
        .with_bundle_signatures()
        .tamper(Tamper::SignatureSubjectOther);
    let (v, f) = run(&image, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        provenance_signature_error(&v, &f),
        VerifyError::SignatureSubject { .. }
    ));
}

#[test]
fn ignoring_the_log_still_requires_the_bundle_signature_to_verify() {
    let image = DhiImage::python()
        .with_bundle_signatures()
        .tamper(Tamper::BundleSignatureOverOtherBytes);
    let (v, _) = run(&image, TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Fail);
    let good = DhiImage::python().with_bundle_signatures();
    let (v, _) = run(&good, TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(check(&v, "tlog").status, CheckStatus::Skip);
}
