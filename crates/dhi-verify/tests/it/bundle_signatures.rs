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
        .with_sigstore_trust(logs)
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
    // A bundle's entry is verified in every mode (present evidence is never
    // skipped), and the report says verified, not ignored.
    for a in &v.platforms[0].attestations {
        assert_eq!(a.signatures[0].tlog, TlogStatus::Verified, "{a:#?}");
    }
}

/// Keyless signing material from `testdata/keyless/` (a local Fulcio-like CA,
/// CT log and Rekor-like log; see its README).
pub mod keyless {
    use std::path::PathBuf;

    use dhi_verify::sigstore::SigstoreTrust;
    use dhi_verify_testkit::{TestKey, TestRekor};

    pub const IDENTITY: &str =
        "https://github.com/example/dhi-demo/.github/workflows/build.yml@refs/heads/main";
    pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
    /// Inside the leaf certificate's ten-minute validity on 2025-01-01.
    pub const SIGNED_AT: i64 = 1_735_689_630;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keyless")
    }

    pub fn read(name: &str) -> String {
        std::fs::read_to_string(dir().join(name)).unwrap()
    }

    pub fn leaf() -> (TestKey, String) {
        (
            TestKey::from_pem("leaf", &read("keys/leaf.key.pem")),
            read("keys/leaf.crt.pem"),
        )
    }

    pub fn rekor() -> TestRekor {
        TestRekor {
            key: TestKey::from_pem("rekor.local", &read("keys/rekor.key.pem")),
        }
    }

    pub fn trust() -> SigstoreTrust {
        SigstoreTrust::from_trusted_root_json(read("trusted_root.json").as_bytes()).unwrap()
    }
}

#[test]
fn a_keyless_testkit_bundle_is_accepted_by_the_sigstore_verifier_for_its_identity_only() {
    use dhi_verify::sigstore::{verify_bundle, Artifact, BundlePolicy, Matcher};
    use dhi_verify_testkit::rekor::{BundleForgery, BundleSigner};
    let (key, cert) = keyless::leaf();
    let bundle = keyless::rekor().sigstore_bundle(
        b"manifest",
        BundleSigner::Certificate {
            key: &key,
            cert_pem: &cert,
        },
        keyless::SIGNED_AT,
        BundleForgery::None,
    );
    let policy = |subject: &str| BundlePolicy::Identity {
        issuer: Matcher::exact(keyless::ISSUER),
        subject: Matcher::exact(subject).into(),
    };
    let v = verify_bundle(
        bundle.as_bytes(),
        Artifact::Bytes(b"manifest"),
        &policy(keyless::IDENTITY),
        &keyless::trust(),
    )
    .unwrap();
    assert_eq!(v.integrated_time(), Some(keyless::SIGNED_AT));
    assert!(verify_bundle(
        bundle.as_bytes(),
        Artifact::Bytes(b"manifest"),
        &policy("https://github.com/evil/x"),
        &keyless::trust()
    )
    .is_err());
}

#[test]
fn the_committed_keyless_bundles_verify_without_claims_and_fail_when_a_claim_is_required() {
    use dhi_verify::sigstore::{
        verify_bundle, Artifact, BundleError, BundlePolicy, CertificateClaim, Matcher,
        SubjectMatcher,
    };
    // `testdata/keyless/`: the local instance's leaf has a SAN and an issuer
    // and none of Fulcio's CI claims.
    let artifact = keyless::read("artifact.txt");
    let meta: serde_json::Value = serde_json::from_str(&keyless::read("meta.json")).unwrap();
    let dsse_subject: [u8; 32] = hex::decode(
        meta["subject_digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let cases = [
        (
            "bundle-blob.sigstore.json",
            Artifact::Bytes(artifact.as_bytes()),
        ),
        ("bundle-dsse.sigstore.json", Artifact::Digest(dsse_subject)),
    ];
    let policy = |claims: &[(CertificateClaim, Matcher)]| {
        let mut subject = SubjectMatcher::new(Matcher::exact(keyless::IDENTITY));
        for (c, m) in claims {
            subject = subject.require(*c, m.clone());
        }
        BundlePolicy::Identity {
            issuer: Matcher::exact(keyless::ISSUER),
            subject,
        }
    };
    for (file, artifact) in cases {
        let bundle = keyless::read(file);
        let v = verify_bundle(bundle.as_bytes(), artifact, &policy(&[]), &keyless::trust())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(v.certificate_claims().is_empty(), "{file}");
        for claim in [
            CertificateClaim::SourceRepositoryUri,
            CertificateClaim::SourceRepositoryRef,
            CertificateClaim::BuildSignerUri,
            CertificateClaim::RunnerEnvironment,
            CertificateClaim::GithubWorkflowRepository,
        ] {
            let err = verify_bundle(
                bundle.as_bytes(),
                artifact,
                &policy(&[(claim, Matcher::regex(".*").unwrap())]),
                &keyless::trust(),
            )
            .unwrap_err();
            assert!(
                matches!(&err, BundleError::ClaimMismatch { claim: c, found: None, .. } if *c == claim),
                "{file} {claim}: {err:?}"
            );
        }
    }
}

#[test]
fn a_keyless_image_fails_when_its_certificate_lacks_a_required_claim() {
    use dhi_verify::sigstore::{BundleError, CertificateClaim, Matcher};
    let identity = dhi_verify::KeylessIdentity::new(
        Matcher::exact(keyless::ISSUER),
        Matcher::exact(keyless::IDENTITY),
    );
    let with_claim = identity.clone().require(
        CertificateClaim::SourceRepositoryUri,
        Matcher::exact("https://github.com/example/dhi-demo"),
    );
    let trust = |id| {
        TrustRoot::from_keys([])
            .with_sigstore_trust(keyless::trust())
            .with_identity(id)
    };
    assert_eq!(run_keyless(trust(identity)).outcome, Outcome::Pass);
    let v = run_keyless(trust(with_claim));
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        matches!(
            v.platforms[0].attestations[0].signatures[0].error,
            Some(VerifyError::Bundle(BundleError::ClaimMismatch {
                claim: CertificateClaim::SourceRepositoryUri,
                found: None,
                ..
            }))
        ),
        "{v:#?}"
    );
}

fn keyless_image() -> DhiImage {
    let (key, cert_pem) = keyless::leaf();
    DhiImage::python().with_keyless_bundles(dhi_verify_testkit::KeylessSigner {
        rekor: keyless::rekor(),
        key,
        cert_pem,
        time: keyless::SIGNED_AT,
    })
}

fn keyless_trust(
    issuer: dhi_verify::sigstore::Matcher,
    subject: dhi_verify::sigstore::Matcher,
) -> TrustRoot {
    TrustRoot::from_keys([])
        .with_sigstore_trust(keyless::trust())
        .with_identity(dhi_verify::KeylessIdentity::new(issuer, subject))
}

fn run_keyless(trust: TrustRoot) -> Verdict {
    let image = keyless_image();
    let w = write(&image);
    verify(
        &verifier_with(trust, Policy::dhi_default(), Limits::default()),
        &w.fixture.reference("3.13"),
    )
}

#[test]
fn keyless_bundle_signatures_verify_for_the_trusted_identity() {
    use dhi_verify::sigstore::Matcher;
    let v = run_keyless(keyless_trust(
        Matcher::exact(keyless::ISSUER),
        Matcher::exact(keyless::IDENTITY),
    ));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let s = &v.platforms[0].attestations[0].signatures[0];
    assert_eq!(s.key.as_deref(), Some(keyless::IDENTITY));
    assert_eq!(s.issuer.as_deref(), Some(keyless::ISSUER));
    assert_eq!(s.key_id, None);
    let regexp = run_keyless(keyless_trust(
        Matcher::exact(keyless::ISSUER),
        Matcher::regex(r"https://github\.com/example/dhi-demo/.*").unwrap(),
    ));
    assert_eq!(regexp.outcome, Outcome::Pass);
}

#[test]
fn keyless_bundle_signatures_fail_for_another_identity_issuer_or_an_unanchored_lookalike() {
    use dhi_verify::sigstore::Matcher;
    for (issuer, subject) in [
        (
            Matcher::exact(keyless::ISSUER),
            Matcher::exact(
                "https://github.com/example/other/.github/workflows/build.yml@refs/heads/main",
            ),
        ),
        (
            Matcher::exact("https://accounts.google.com"),
            Matcher::exact(keyless::IDENTITY),
        ),
        // Anchored: a pattern matching only part of the identity does not match.
        (
            Matcher::exact(keyless::ISSUER),
            Matcher::regex("github.com/example").unwrap(),
        ),
    ] {
        let v = run_keyless(keyless_trust(issuer, subject));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(matches!(
            v.platforms[0].attestations[0].signatures[0].error,
            Some(VerifyError::Bundle(_))
        ));
    }
}

#[test]
fn keyless_bundle_signatures_fail_without_the_instances_trusted_root() {
    use dhi_verify::sigstore::Matcher;
    // The public-good root does not hold the local CA.
    let trust = TrustRoot::from_keys([]).with_identity(dhi_verify::KeylessIdentity::new(
        Matcher::exact(keyless::ISSUER),
        Matcher::exact(keyless::IDENTITY),
    ));
    assert_eq!(run_keyless(trust).outcome, Outcome::Fail);
}

#[test]
fn a_keyless_cosign_signature_recast_as_a_bundle_verifies_for_its_identity_only() {
    use dhi_verify::sigstore::{verify_cosign_keyless, BundlePolicy, Matcher};
    let (key, cert) = keyless::leaf();
    let rekor = keyless::rekor();
    let payload = br#"{"critical":{"type":"cosign container image signature"}}"#;
    let sig = key.sign_der(payload);
    let body = rekor.body_with(payload, &sig, &cert);
    let bundle = rekor.legacy_bundle(&body, keyless::SIGNED_AT, keyless::SIGNED_AT);
    let chain = format!(
        "{}{}",
        keyless::read("keys/intermediate.crt.pem"),
        keyless::read("keys/root.crt.pem")
    );
    let policy = |s: &str| BundlePolicy::Identity {
        issuer: Matcher::exact(keyless::ISSUER),
        subject: Matcher::exact(s).into(),
    };
    let v = verify_cosign_keyless(
        payload,
        &sig,
        &cert,
        Some(&chain),
        bundle.as_bytes(),
        &policy(keyless::IDENTITY),
        &keyless::trust(),
    )
    .unwrap();
    assert_eq!(v.integrated_time(), Some(keyless::SIGNED_AT));
    assert!(verify_cosign_keyless(
        payload,
        &sig,
        &cert,
        Some(&chain),
        bundle.as_bytes(),
        &policy("https://github.com/evil/x"),
        &keyless::trust()
    )
    .is_err());
    // a required CI claim the leaf lacks fails the recast bundle too
    let with_claim = BundlePolicy::Identity {
        issuer: Matcher::exact(keyless::ISSUER),
        subject: dhi_verify::sigstore::SubjectMatcher::new(Matcher::exact(keyless::IDENTITY))
            .require(
                dhi_verify::sigstore::CertificateClaim::BuildTrigger,
                Matcher::exact("push"),
            ),
    };
    assert!(matches!(
        verify_cosign_keyless(
            payload,
            &sig,
            &cert,
            Some(&chain),
            bundle.as_bytes(),
            &with_claim,
            &keyless::trust()
        ),
        Err(dhi_verify::sigstore::BundleError::ClaimMismatch { found: None, .. })
    ));
    assert!(verify_cosign_keyless(
        b"other payload",
        &sig,
        &cert,
        Some(&chain),
        bundle.as_bytes(),
        &policy(keyless::IDENTITY),
        &keyless::trust()
    )
    .is_err());
    let forged = rekor.legacy_bundle(&body, keyless::SIGNED_AT, keyless::SIGNED_AT + 1);
    assert!(verify_cosign_keyless(
        payload,
        &sig,
        &cert,
        Some(&chain),
        forged.as_bytes(),
        &policy(keyless::IDENTITY),
        &keyless::trust()
    )
    .is_err());
}

fn keyless_cosign_image(tamper: Option<Tamper>) -> DhiImage {
    let (key, cert_pem) = keyless::leaf();
    let chain = format!(
        "{}{}",
        keyless::read("keys/intermediate.crt.pem"),
        keyless::read("keys/root.crt.pem")
    );
    let image = DhiImage::python().with_keyless_cosign(
        dhi_verify_testkit::KeylessSigner {
            rekor: keyless::rekor(),
            key,
            cert_pem,
            time: keyless::SIGNED_AT,
        },
        Some(chain),
    );
    match tamper {
        Some(t) => image.tamper(t),
        None => image,
    }
}

fn run_image(image: &DhiImage, trust: TrustRoot) -> Verdict {
    let w = write(image);
    verify(
        &verifier_with(trust, Policy::dhi_default(), Limits::default()),
        &w.fixture.reference("3.13"),
    )
}

#[test]
fn keyless_cosign_signatures_verify_for_the_trusted_identity() {
    use dhi_verify::sigstore::Matcher;
    let v = run_image(
        &keyless_cosign_image(None),
        keyless_trust(
            Matcher::exact(keyless::ISSUER),
            Matcher::exact(keyless::IDENTITY),
        ),
    );
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let s = &v.platforms[0].attestations[0].signatures[0];
    assert_eq!(
        (s.key.as_deref(), s.issuer.as_deref(), s.tlog),
        (
            Some(keyless::IDENTITY),
            Some(keyless::ISSUER),
            TlogStatus::Verified
        )
    );
}

#[test]
fn keyless_cosign_signatures_fail_for_another_identity_a_forged_or_missing_log_entry_or_no_identity(
) {
    use dhi_verify::sigstore::Matcher;
    let other = keyless_trust(
        Matcher::exact(keyless::ISSUER),
        Matcher::exact("https://github.com/evil/x"),
    );
    assert_eq!(
        run_image(&keyless_cosign_image(None), other).outcome,
        Outcome::Fail
    );
    let good = || {
        keyless_trust(
            Matcher::exact(keyless::ISSUER),
            Matcher::exact(keyless::IDENTITY),
        )
    };
    let forged = run_image(&keyless_cosign_image(Some(Tamper::TlogForgedTime)), good());
    assert_eq!(forged.outcome, Outcome::Fail);
    let missing = run_image(&keyless_cosign_image(Some(Tamper::TlogMissing)), good());
    assert_eq!(missing.outcome, Outcome::Fail);
    let att = missing.platforms[0]
        .attestations
        .iter()
        .find(|a| !a.verified)
        .unwrap();
    assert_eq!(
        att.signatures[0].error,
        Some(VerifyError::TransparencyLogRequired)
    );
    let payload = run_image(
        &keyless_cosign_image(Some(Tamper::PayloadNamesOtherManifest)),
        good(),
    );
    assert_eq!(payload.outcome, Outcome::Fail);
    // Only keys trusted: a keyless signature is named as such.
    let keys_only =
        TrustRoot::from_keys([
            TrustedKey::from_pem("k", &DhiImage::python().key.public_pem()).unwrap(),
        ])
        .with_sigstore_trust(keyless::trust());
    let v = run_image(&keyless_cosign_image(None), keys_only);
    assert_eq!(
        v.platforms[0].attestations[0].signatures[0].error,
        Some(VerifyError::NoKeylessIdentity)
    );
}

#[test]
fn a_keyless_cosign_signature_logged_after_the_verification_time_is_rejected() {
    use dhi_verify::sigstore::Matcher;
    use std::time::{Duration, UNIX_EPOCH};
    let image = keyless_cosign_image(None);
    let w = write(&image);
    let logged = UNIX_EPOCH + Duration::from_secs(keyless::SIGNED_AT as u64);
    let at = |time| {
        let verifier = dhi_verify::Verifier::builder()
            .trust(keyless_trust(
                Matcher::exact(keyless::ISSUER),
                Matcher::exact(keyless::IDENTITY),
            ))
            .policy(Policy::dhi_default())
            .platforms([dhi_verify::Platform::linux_amd64()])
            .at(time)
            .build()
            .unwrap();
        verify(&verifier, &w.fixture.reference("3.13"))
    };
    assert_eq!(at(logged).outcome, Outcome::Pass);
    let v = at(logged - Duration::from_secs(1));
    assert_eq!(v.outcome, Outcome::Fail);
    for a in &v.platforms[0].attestations {
        assert!(!a.verified);
        let error = a.signatures[0].error.as_ref().unwrap().to_string();
        assert!(
            error.contains(&format!("found {} (in the future)", keyless::SIGNED_AT)),
            "{error}"
        );
    }
}
