use std::time::{Duration, UNIX_EPOCH};

use dhi_verify::sigstore::{BundleError, SigstoreTrust};
use dhi_verify::{
    CheckStatus, Limits, Outcome, Policy, TlogMode, TlogStatus, TrustRoot, TrustedKey, Verdict,
    VerifyError,
};
use dhi_verify_testkit::rekor::INTEGRATED_TIME;
use dhi_verify_testkit::{DhiImage, Tamper, TestRekor};

use crate::util::{check, verifier_with, verify, write};

fn trust_with_test_log(image: &DhiImage) -> TrustRoot {
    let logs =
        SigstoreTrust::from_trusted_root_json(TestRekor::default().trusted_root_json().as_bytes())
            .unwrap();
    TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()])
        .with_sigstore_trust(logs)
}

fn run(image: &DhiImage, trust: TrustRoot, mode: TlogMode) -> Verdict {
    let w = write(image);
    verify(
        &verifier_with(
            trust,
            Policy::dhi_default().with_tlog(mode),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    )
}

fn target_signature_error(v: &Verdict) -> VerifyError {
    let att = v.platforms[0]
        .attestations
        .iter()
        .find(|a| !a.verified)
        .expect("one attestation fails");
    att.signatures[0].error.clone().unwrap()
}

#[test]
fn a_verified_log_entry_gives_the_signing_time() {
    let image = DhiImage::python().with_rekor();
    let v = run(&image, trust_with_test_log(&image), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    for a in &v.platforms[0].attestations {
        assert_eq!(a.signatures[0].tlog, TlogStatus::Verified);
        assert_eq!(a.signatures[0].signed_at, Some(INTEGRATED_TIME));
    }
}

#[test]
fn a_set_over_another_integrated_time_is_rejected() {
    let image = DhiImage::python()
        .with_rekor()
        .tamper(Tamper::TlogForgedTime);
    let v = run(&image, trust_with_test_log(&image), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        target_signature_error(&v),
        VerifyError::TransparencyLog(BundleError::SetInvalid { .. })
    ));
    assert_eq!(
        v.platforms[0]
            .attestations
            .iter()
            .find(|a| !a.verified)
            .unwrap()
            .signatures[0]
            .tlog,
        TlogStatus::Invalid
    );
}

#[test]
fn a_log_entry_for_another_payload_is_rejected() {
    let image = DhiImage::python()
        .with_rekor()
        .tamper(Tamper::TlogOtherPayload);
    let v = run(&image, trust_with_test_log(&image), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        target_signature_error(&v),
        VerifyError::TransparencyLog(BundleError::EntryMismatch { .. })
    ));
}

#[test]
fn a_log_entry_from_an_untrusted_log_is_rejected() {
    let image = DhiImage::python().with_rekor();
    // The public-good root does not know the test log.
    let trust =
        TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()]);
    let v = run(&image, trust, TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        v.platforms[0].attestations[0].signatures[0].error,
        Some(VerifyError::TransparencyLog(BundleError::UnknownLog { .. }))
    ));
}

#[test]
fn a_missing_log_entry_fails_only_when_the_policy_requires_one() {
    let image = DhiImage::python().with_rekor().tamper(Tamper::TlogMissing);
    let if_present = run(&image, trust_with_test_log(&image), TlogMode::IfPresent);
    assert_eq!(if_present.outcome, Outcome::Pass, "{if_present:#?}");
    let always = run(&image, trust_with_test_log(&image), TlogMode::Always);
    assert_eq!(always.outcome, Outcome::Fail);
    assert_eq!(
        target_signature_error(&always),
        VerifyError::TransparencyLogRequired
    );
    assert_eq!(
        check(&always, "require.provenance").status,
        CheckStatus::Fail
    );
}

#[test]
fn ignoring_the_log_is_reported_as_a_skipped_check() {
    let image = DhiImage::python()
        .with_rekor()
        .tamper(Tamper::TlogForgedTime);
    let v = run(&image, trust_with_test_log(&image), TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(check(&v, "tlog").status, CheckStatus::Skip);
    assert_eq!(
        v.platforms[0].attestations[0].signatures[0].tlog,
        TlogStatus::Ignored
    );
}

#[test]
fn a_keys_validity_window_is_judged_at_the_logged_signing_time() {
    // The key's window closed after the entry was logged but before now.
    let closed = UNIX_EPOCH + Duration::from_secs((INTEGRATED_TIME + 60) as u64);
    let logs = || {
        SigstoreTrust::from_trusted_root_json(TestRekor::default().trusted_root_json().as_bytes())
            .unwrap()
    };
    let image = DhiImage::python().with_rekor();
    let key = || {
        TrustedKey::from_pem("rotated", &image.key.public_pem())
            .unwrap()
            .valid_until(closed)
    };
    let logged = run(
        &image,
        TrustRoot::from_keys([key()]).with_sigstore_trust(logs()),
        TlogMode::IfPresent,
    );
    assert_eq!(logged.outcome, Outcome::Pass, "{logged:#?}");
    // Without a log entry there is no trusted signing time: judged now, and expired.
    let unlogged_image = DhiImage::python();
    let unlogged = run(
        &unlogged_image,
        TrustRoot::from_keys([key()]).with_sigstore_trust(logs()),
        TlogMode::IfPresent,
    );
    assert_eq!(unlogged.outcome, Outcome::Fail);
    assert!(matches!(
        unlogged.platforms[0].attestations[0].signatures[0].error,
        Some(VerifyError::KeyNotUsable {
            reason: dhi_verify::KeyUnusable::Expired { .. },
            ..
        })
    ));
}

mod keyed_bundle_fixture {
    use dhi_verify::sigstore::{verify_bundle, Artifact, BundlePolicy, PublicKey, SigstoreTrust};
    use dhi_verify_testkit::rekor::BundleForgery;
    use dhi_verify_testkit::{TestKey, TestRekor};

    fn check(forge: BundleForgery) -> Result<(), dhi_verify::sigstore::BundleError> {
        let rekor = TestRekor::default();
        let signer = TestKey::new("bundle-signer");
        let bundle = rekor.keyed_bundle(b"manifest bytes", &signer, forge);
        let trust =
            SigstoreTrust::from_trusted_root_json(rekor.trusted_root_json().as_bytes()).unwrap();
        let key = PublicKey::from_pem_or_der(signer.public_pem().as_bytes()).unwrap();
        verify_bundle(
            bundle.as_bytes(),
            Artifact::Bytes(b"manifest bytes"),
            &BundlePolicy::Key(key),
            &trust,
        )
        .map(|_| ())
    }

    #[test]
    fn the_testkit_bundle_is_accepted_by_the_sigstore_verifier() {
        check(BundleForgery::None).unwrap();
    }

    #[test]
    fn the_testkit_bundle_forgeries_are_rejected_by_the_sigstore_verifier() {
        assert!(check(BundleForgery::Set).is_err());
        assert!(check(BundleForgery::SignatureOverOtherBytes).is_err());
    }
}
