//! Signatures and attestations on the image itself: cosign's `.sig` and
//! `.att` tags, cosign's signature referrers and Sigstore bundle referrers of
//! the index or a platform manifest. Each link broken on its own must fail.

use dhi_verify::sigstore::SigstoreTrust;
use dhi_verify::{
    CheckStatus, EvidenceSource, Limits, Outcome, Policy, TlogMode, TlogStatus, TrustRoot,
    TrustedKey, Verdict, VerifyError,
};
use dhi_verify_testkit::cosign::{
    att_tag, bundle_referrer, dsse_envelope, sig_tag, signature_referrer, simple_signing_layer,
    simple_signing_payload, statement, unlogged_dsse_bundle, LayoutEditor, IN_TOTO,
};
use dhi_verify_testkit::rekor::BundleForgery;
use dhi_verify_testkit::{DhiImage, PredicateKind, TestKey, TestRekor};
use serde_json::json;

use crate::util::{check, verifier_with, verify, write, Written};

const SIGNED: &str = "cosign container image signature";
const PROVENANCE: &str = "https://slsa.dev/provenance/v1";

fn trust(image: &DhiImage) -> TrustRoot {
    let logs =
        SigstoreTrust::from_trusted_root_json(TestRekor::default().trusted_root_json().as_bytes())
            .unwrap();
    TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()])
        .with_sigstore_trust(logs)
}

fn run(image: &DhiImage, w: &Written, requirements: &[&str], tlog: TlogMode) -> Verdict {
    verify(
        &verifier_with(
            trust(image),
            Policy::dhi_default()
                .with_requirements(requirements)
                .unwrap()
                .with_tlog(tlog),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    )
}

fn amd64(w: &Written) -> String {
    w.fixture
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap()
        .1
        .clone()
}

/// A DHI image with no attestation at all (only what a test adds).
fn bare() -> (DhiImage, Written) {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    (image, w)
}

/// Adds a `.sig` tag on `subject` whose single layer is built by `layer`.
fn with_sig_tag(
    w: &Written,
    subject: &str,
    layer: impl FnOnce(&mut LayoutEditor) -> serde_json::Value,
) {
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let l = layer(&mut ed);
    sig_tag(&mut ed, subject, vec![l]);
    ed.finish();
}

fn signed_layer(ed: &mut LayoutEditor, key: &TestKey, signs: &str) -> serde_json::Value {
    let payload = simple_signing_payload(signs, SIGNED);
    let sig = key.sign_b64(&payload);
    simple_signing_layer(ed, &payload, &sig)
}

fn image_signature_error(v: &Verdict) -> VerifyError {
    let sigs = &v.platforms[0].image_signatures;
    assert_eq!(sigs.len(), 1, "{sigs:#?}");
    assert!(!sigs[0].signature.verified);
    sigs[0].signature.error.clone().unwrap()
}

#[test]
fn a_cosign_sig_tag_on_the_index_satisfies_the_signature_requirement() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| signed_layer(ed, &image.key, &index));
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let sigs = &v.platforms[0].image_signatures;
    assert_eq!(sigs.len(), 1);
    assert_eq!(sigs[0].subject.to_string(), index);
    assert_eq!(sigs[0].source, EvidenceSource::CosignTag);
    assert_eq!(sigs[0].signature.key.as_deref(), Some("dhi-test"));
    assert_eq!(sigs[0].signature.tlog, TlogStatus::Absent);
    assert_eq!(check(&v, "require.signature").status, CheckStatus::Pass);
}

#[test]
fn a_cosign_sig_tag_on_the_platform_manifest_satisfies_the_signature_requirement() {
    let image = DhiImage::python();
    let w = write(&image);
    let platform = amd64(&w);
    with_sig_tag(&w, &platform, |ed| signed_layer(ed, &image.key, &platform));
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(
        v.platforms[0].image_signatures[0].subject.to_string(),
        platform
    );
}

#[test]
fn an_unsigned_image_fails_the_signature_requirement() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    let c = check(&v, "require.signature");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(c.message.contains("no signature found"), "{}", c.message);
}

#[test]
fn sig_tags_are_not_looked_up_unless_an_image_signature_is_required() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| signed_layer(ed, &image.key, &index));
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert!(v.platforms[0].image_signatures.is_empty());
}

#[test]
fn a_sig_tag_signed_by_an_untrusted_key_fails() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| {
        signed_layer(ed, &TestKey::new("mallory"), &index)
    });
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::UntrustedSignature { .. }
    ));
}

#[test]
fn a_sig_tag_whose_payload_signs_another_manifest_fails() {
    // The `.sig` tag of the index holds a genuine signature of the platform
    // manifest: the payload, not the tag name, says what is signed.
    let image = DhiImage::python();
    let w = write(&image);
    let (index, platform) = (w.fixture.index_digest.clone(), amd64(&w));
    with_sig_tag(&w, &index, |ed| signed_layer(ed, &image.key, &platform));
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::PayloadDigest { .. }
    ));
}

#[test]
fn a_sig_tag_payload_of_another_type_fails() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| {
        let payload = simple_signing_payload(&index, "atomic container signature");
        let sig = image.key.sign_b64(&payload);
        simple_signing_layer(ed, &payload, &sig)
    });
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::PayloadType { .. }
    ));
}

#[test]
fn a_sig_tag_signature_over_other_bytes_fails() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| {
        let payload = simple_signing_payload(&index, SIGNED);
        let sig = image.key.sign_b64(b"something else");
        simple_signing_layer(ed, &payload, &sig)
    });
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::UntrustedSignature { .. }
    ));
}

#[test]
fn a_sig_tag_layer_without_its_signature_annotation_fails() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| {
        let mut layer = signed_layer(ed, &image.key, &index);
        layer["annotations"] = json!({});
        layer
    });
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::MissingSignature
    ));
}

#[test]
fn a_sig_tag_requires_its_log_entry_under_tlog_always() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    with_sig_tag(&w, &index, |ed| signed_layer(ed, &image.key, &index));
    let v = run(&image, &w, &["signature"], TlogMode::Always);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::TransparencyLogRequired
    ));
}

#[test]
fn a_cosign_signature_referrer_of_the_index_is_an_image_signature() {
    let image = DhiImage::python();
    let w = write(&image);
    let index = w.fixture.index_digest.clone();
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let layer = signed_layer(&mut ed, &image.key, &index);
    signature_referrer(&mut ed, &index, layer);
    ed.finish();
    // Found among the referrers whatever the policy requires.
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    let sigs = &v.platforms[0].image_signatures;
    assert_eq!(sigs.len(), 1, "{sigs:#?}");
    assert_eq!(sigs[0].source, EvidenceSource::Referrer);
    assert!(sigs[0].signature.verified);
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

#[test]
fn a_signature_referrer_whose_payload_signs_another_manifest_fails() {
    let image = DhiImage::python();
    let w = write(&image);
    let (index, platform) = (w.fixture.index_digest.clone(), amd64(&w));
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let layer = signed_layer(&mut ed, &image.key, &platform);
    signature_referrer(&mut ed, &index, layer);
    ed.finish();
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        image_signature_error(&v),
        VerifyError::PayloadDigest { .. }
    ));
}

#[test]
fn a_keyed_sigstore_bundle_on_the_platform_manifest_is_a_logged_image_signature() {
    let image = DhiImage::python();
    let w = write(&image);
    let platform = amd64(&w);
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let manifest = ed.read(&platform);
    let bundle = TestRekor::default().keyed_bundle(&manifest, &image.key, BundleForgery::None);
    bundle_referrer(&mut ed, &platform, bundle.as_bytes(), None);
    ed.finish();
    let v = run(&image, &w, &["signature"], TlogMode::Always);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let s = &v.platforms[0].image_signatures[0];
    assert_eq!(s.signature.tlog, TlogStatus::Verified);
}

#[test]
fn a_sigstore_bundle_over_other_bytes_is_not_an_image_signature() {
    let image = DhiImage::python();
    let w = write(&image);
    let platform = amd64(&w);
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let manifest = ed.read(&platform);
    let bundle = TestRekor::default().keyed_bundle(
        &manifest,
        &image.key,
        BundleForgery::SignatureOverOtherBytes,
    );
    bundle_referrer(&mut ed, &platform, bundle.as_bytes(), None);
    ed.finish();
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(image_signature_error(&v), VerifyError::Bundle(_)));
}

#[test]
fn a_sigstore_bundle_of_the_index_manifest_does_not_sign_the_platform_manifest() {
    // A genuine bundle over the platform manifest, attached to the index.
    let image = DhiImage::python();
    let w = write(&image);
    let (index, platform) = (w.fixture.index_digest.clone(), amd64(&w));
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let manifest = ed.read(&platform);
    let bundle = TestRekor::default().keyed_bundle(&manifest, &image.key, BundleForgery::None);
    bundle_referrer(&mut ed, &index, bundle.as_bytes(), None);
    ed.finish();
    let v = run(&image, &w, &["signature"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(image_signature_error(&v), VerifyError::Bundle(_)));
}

/// Adds a `.att` tag on `subject` with one envelope.
fn with_att_tag(w: &Written, subject: &str, envelope: Vec<u8>) {
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    att_tag(&mut ed, subject, &[(envelope, PROVENANCE)]);
    ed.finish();
}

fn provenance_about(subject: &str) -> Vec<u8> {
    statement(
        subject,
        PROVENANCE,
        json!({"buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
               "runDetails": {"builder": {"id": "https://example.com/builder"}}}),
    )
}

fn provenance_report(v: &Verdict) -> &dhi_verify::AttestationReport {
    let atts: Vec<_> = v.platforms[0]
        .attestations
        .iter()
        .filter(|a| a.predicate_type.as_deref() == Some(PROVENANCE))
        .collect();
    assert_eq!(atts.len(), 1, "{:#?}", v.platforms[0].attestations);
    atts[0]
}

#[test]
fn a_cosign_att_tag_on_the_platform_is_an_attestation_when_there_are_no_referrers() {
    let (image, w) = bare();
    let platform = amd64(&w);
    with_att_tag(
        &w,
        &platform,
        dsse_envelope(IN_TOTO, &provenance_about(&platform), &image.key, None),
    );
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let a = provenance_report(&v);
    assert_eq!(a.source, EvidenceSource::CosignTag);
    assert!(a.verified);
    assert_eq!(a.signatures[0].key.as_deref(), Some("dhi-test"));
}

#[test]
fn a_cosign_att_tag_on_the_index_covers_its_platforms() {
    let (image, w) = bare();
    let index = w.fixture.index_digest.clone();
    with_att_tag(
        &w,
        &index,
        dsse_envelope(IN_TOTO, &provenance_about(&index), &image.key, None),
    );
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

fn att_error(envelope_for: impl FnOnce(&DhiImage, &str) -> Vec<u8>, tlog: TlogMode) -> VerifyError {
    let (image, w) = bare();
    let platform = amd64(&w);
    with_att_tag(&w, &platform, envelope_for(&image, &platform));
    let v = run(&image, &w, &["provenance"], tlog);
    assert_eq!(v.outcome, Outcome::Fail);
    let a = provenance_report(&v);
    assert!(!a.verified);
    a.error.clone().unwrap()
}

#[test]
fn a_cosign_att_statement_about_another_manifest_fails() {
    let e = att_error(
        |image, _| {
            let other = "sha256:".to_owned() + &"ab".repeat(32);
            dsse_envelope(IN_TOTO, &provenance_about(&other), &image.key, None)
        },
        TlogMode::IfPresent,
    );
    assert!(matches!(e, VerifyError::SubjectMismatch { .. }), "{e:?}");
}

#[test]
fn a_cosign_att_signature_over_other_bytes_fails() {
    let e = att_error(
        |image, platform| {
            // Signed over the bare statement, not over DSSE's PAE.
            let st = provenance_about(platform);
            dsse_envelope(IN_TOTO, &st, &image.key, Some(&st))
        },
        TlogMode::IfPresent,
    );
    assert!(matches!(e, VerifyError::NoValidSignature { .. }), "{e:?}");
}

#[test]
fn a_cosign_att_signed_by_an_untrusted_key_fails() {
    let e = att_error(
        |_, platform| {
            dsse_envelope(
                IN_TOTO,
                &provenance_about(platform),
                &TestKey::new("mallory"),
                None,
            )
        },
        TlogMode::IfPresent,
    );
    assert!(matches!(e, VerifyError::NoValidSignature { .. }), "{e:?}");
}

#[test]
fn a_cosign_att_of_another_payload_type_fails() {
    let e = att_error(
        |image, platform| {
            dsse_envelope("text/plain", &provenance_about(platform), &image.key, None)
        },
        TlogMode::IfPresent,
    );
    assert!(matches!(e, VerifyError::DssePayloadType { .. }), "{e:?}");
}

#[test]
fn a_cosign_att_that_is_not_an_envelope_fails() {
    let e = att_error(|_, _| b"{\"payload\": 1}".to_vec(), TlogMode::IfPresent);
    assert!(matches!(e, VerifyError::DsseEnvelope { .. }), "{e:?}");
}

#[test]
fn a_cosign_att_needs_a_log_entry_under_tlog_always() {
    let e = att_error(
        |image, platform| dsse_envelope(IN_TOTO, &provenance_about(platform), &image.key, None),
        TlogMode::Always,
    );
    assert!(matches!(e, VerifyError::TransparencyLogRequired), "{e:?}");
}

#[test]
fn att_tags_are_not_looked_up_when_the_referrers_hold_attestations() {
    let image = DhiImage::python();
    let w = write(&image);
    let platform = amd64(&w);
    with_att_tag(
        &w,
        &platform,
        dsse_envelope(IN_TOTO, &provenance_about(&platform), &image.key, None),
    );
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert!(v.platforms[0]
        .attestations
        .iter()
        .all(|a| a.source == EvidenceSource::Referrer));
}

#[test]
fn a_dsse_bundle_referrer_is_an_attestation_of_the_platform() {
    let (image, w) = bare();
    let platform = amd64(&w);
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let bundle = unlogged_dsse_bundle(&provenance_about(&platform), &image.key);
    bundle_referrer(&mut ed, &platform, &bundle, Some(PROVENANCE));
    ed.finish();
    let v = run(&image, &w, &["provenance"], TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let a = provenance_report(&v);
    assert_eq!(a.source, EvidenceSource::Referrer);
    assert_eq!(
        a.signatures[0].artifact_type.as_deref(),
        Some(dhi_verify_testkit::cosign::SIGSTORE_BUNDLE)
    );
    // Without a log entry the bundle does not verify unless the policy says `never`.
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(!provenance_report(&v).verified);
}

#[test]
fn a_dsse_bundle_about_another_manifest_is_not_an_attestation_of_the_platform() {
    let (image, w) = bare();
    let (index, platform) = (w.fixture.index_digest.clone(), amd64(&w));
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    // A genuine statement about the index, attached to the platform manifest.
    let bundle = unlogged_dsse_bundle(&provenance_about(&index), &image.key);
    bundle_referrer(&mut ed, &platform, &bundle, Some(PROVENANCE));
    ed.finish();
    let v = run(&image, &w, &["provenance"], TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(!provenance_report(&v).verified);
}

#[test]
fn the_verdict_of_an_image_with_cosign_evidence_still_names_the_image_digest() {
    let (image, w) = bare();
    let platform = amd64(&w);
    with_att_tag(
        &w,
        &platform,
        dsse_envelope(IN_TOTO, &provenance_about(&platform), &image.key, None),
    );
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.digest.to_string(), w.fixture.index_digest);
    let verified: Vec<_> = v.verified_attestations().collect();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].subject().to_string(), platform);
    let _ = PredicateKind::ProvenanceV1;
}

#[test]
fn a_cosign_att_with_a_malformed_log_entry_fails_unless_logs_are_ignored() {
    let (image, w) = bare();
    let platform = amd64(&w);
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let envelope = dsse_envelope(IN_TOTO, &provenance_about(&platform), &image.key, None);
    let mut layer = ed
        .put(dhi_verify_testkit::cosign::DSSE_ENVELOPE, &envelope)
        .descriptor();
    layer["annotations"] = json!({"predicateType": PROVENANCE,
        "dev.sigstore.cosign/bundle": "{\"SignedEntryTimestamp\":\"\",\"Payload\":{}}"});
    let m = ed.put_manifest(
        None,
        "application/vnd.oci.image.config.v1+json",
        vec![layer],
        None,
        None,
    );
    ed.tag(
        &m,
        &format!("{}.att", dhi_verify_testkit::cosign::tag_for(&platform)),
    );
    ed.finish();
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    let e = provenance_report(&v).error.clone().unwrap();
    assert!(
        matches!(
            e,
            VerifyError::TransparencyLog(dhi_verify::sigstore::BundleError::MalformedBundle { .. })
        ),
        "{e:?}"
    );
    let v = run(&image, &w, &["provenance"], TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}
