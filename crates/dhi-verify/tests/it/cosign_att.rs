//! cosign v2 `.att` layers (DSSE envelopes) with their legacy Rekor bundle:
//! keyless, on the real slsa-github-generator layouts, and keyed with a test
//! log for every entry kind `cosign attest --key` writes.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use dhi_verify::sigstore::{BundleError, Matcher, SigstoreTrust};
use dhi_verify::KeylessIdentity;
use dhi_verify::Signer;
use dhi_verify::{
    EvidenceSource, Limits, Outcome, Platform, Policy, TlogMode, TlogStatus, TrustRoot, TrustedKey,
    Verdict, Verifier, VerifyError,
};
use dhi_verify_testkit::cosign::{dsse_envelope, statement, LayoutEditor, IN_TOTO};
use dhi_verify_testkit::rekor::INTEGRATED_TIME;
use dhi_verify_testkit::{real, DhiImage, TestKey, TestRekor};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::util::{verify, write, Written};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const ISSUER: &str = real::GITHUB_ACTIONS_ISSUER;
const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
const PROVENANCE: &str = "https://slsa.dev/provenance/v1";

/// A writable copy of the real `cosign save` layout of `version`, as a
/// reference (`oci:<dir>` resolves to its image by cosign's `kind`).
fn real_layout(version: &str) -> (tempfile::TempDir, String) {
    let (tmp, dst) = real::copy_slsa_generator_layout(version);
    (tmp, format!("oci:{}", dst.display()))
}

fn identity(version: &str) -> String {
    real::slsa_generator_identity(version)
}

fn keyless_verifier(identities: &[String], tlog: TlogMode) -> Verifier {
    let mut trust = TrustRoot::from_keys([TrustedKey::from_pem(
        "unrelated",
        &TestKey::new("unrelated").public_pem(),
    )
    .unwrap()])
    .with_sigstore_trust(SigstoreTrust::public_good().unwrap());
    for id in identities {
        trust = trust.with_identity(KeylessIdentity::new(
            Matcher::exact(ISSUER),
            Matcher::exact(id.clone()),
        ));
    }
    Verifier::builder()
        .trust(trust)
        // Only the provenance requirement: these images run as root.
        .policy(Policy::requiring(["provenance"]).unwrap().with_tlog(tlog))
        .platforms([Platform::linux_amd64()])
        .limits(Limits::default())
        .at(std::time::SystemTime::now())
        .build()
        .unwrap()
}

fn slsa_report(v: &Verdict) -> &dhi_verify::AttestationReport {
    let atts: Vec<_> = v.platforms[0]
        .attestations
        .iter()
        .filter(|a| a.source == EvidenceSource::CosignTag)
        .collect();
    assert_eq!(atts.len(), 1, "{:#?}", v.platforms[0].attestations);
    // v1.4.0's layer has no predicateType annotation: named once verified.
    if atts[0].verified {
        assert_eq!(atts[0].predicate_type.as_deref(), Some(SLSA_V02));
    }
    atts[0]
}

fn real_integrated_time(version: &str) -> i64 {
    let (_tmp, reference) = real_layout(version);
    let dir = reference.trim_start_matches("oci:").to_owned();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&dir).join("index.json")).unwrap())
            .unwrap();
    let atts = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
        .unwrap();
    let blob = |d: &str| {
        std::fs::read(
            Path::new(&dir)
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let m: serde_json::Value =
        serde_json::from_slice(&blob(atts["digest"].as_str().unwrap())).unwrap();
    let b: serde_json::Value = serde_json::from_str(
        m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    b["Payload"]["integratedTime"].as_i64().unwrap()
}

#[test]
fn the_real_keyless_slsa_generator_attestations_pass_in_every_tlog_mode() {
    for version in ["v1.4.0", "v1.7.0", "v2.0.0"] {
        let (_tmp, reference) = real_layout(version);
        for mode in [TlogMode::IfPresent, TlogMode::Always, TlogMode::Never] {
            let v = verify(&keyless_verifier(&[identity(version)], mode), &reference);
            assert_eq!(v.outcome, Outcome::Pass, "{version} {mode:?}: {v:#?}");
            let a = slsa_report(&v);
            assert!(a.verified);
            assert_eq!(a.source, EvidenceSource::CosignTag);
            let signer = a.verified_attestation.as_ref().unwrap().signed_by();
            assert_eq!(
                signer,
                &Signer::Keyless {
                    identity: identity(version),
                    issuer: ISSUER.into()
                },
                "{version}"
            );
            assert_eq!(a.signatures.len(), 1);
            assert_eq!(a.signatures[0].issuer.as_deref(), Some(ISSUER));
            // The log bundle is verified in every mode, `never` included:
            // it is the only trusted signing time; the report says so.
            assert_eq!(a.signatures[0].tlog, TlogStatus::Verified, "{mode:?}");
            if mode == TlogMode::Never {
                let skip = v.platforms[0]
                    .checks
                    .iter()
                    .find(|c| c.id == "tlog")
                    .expect("the tlog downgrade is reported");
                assert!(
                    skip.message
                        .contains("keyless signature's entry is verified in every mode"),
                    "{}",
                    skip.message
                );
            }
            assert_eq!(
                a.signatures[0].signed_at,
                Some(real_integrated_time(version)),
                "{version}"
            );
        }
    }
}

#[test]
fn a_real_keyless_attestation_logged_after_the_verification_time_is_rejected() {
    let version = "v2.0.0";
    let (_tmp, reference) = real_layout(version);
    let logged = real_integrated_time(version);
    let at = |time: i64| {
        let verifier = Verifier::builder()
            .trust(
                TrustRoot::from_keys([])
                    .with_sigstore_trust(SigstoreTrust::public_good().unwrap())
                    .with_identity(KeylessIdentity::new(
                        Matcher::exact(ISSUER),
                        Matcher::exact(identity(version)),
                    )),
            )
            .policy(Policy::requiring(["provenance"]).unwrap())
            .platforms([Platform::linux_amd64()])
            .at(UNIX_EPOCH + Duration::from_secs(time as u64))
            .build()
            .unwrap();
        verify(&verifier, &reference)
    };
    assert_eq!(at(logged).outcome, Outcome::Pass);
    let v = at(logged - 1);
    assert_eq!(v.outcome, Outcome::Fail);
    let a = slsa_report(&v);
    assert!(!a.verified);
    let error = a.signatures[0].error.as_ref().unwrap().to_string();
    assert!(
        error.contains(&format!("found {logged} (in the future)")),
        "{error}"
    );
}

#[test]
fn the_real_attestation_is_tried_against_every_trusted_identity() {
    let (_tmp, reference) = real_layout("v1.7.0");
    let v = verify(
        &keyless_verifier(
            &[identity("v1.4.0"), identity("v1.7.0")],
            TlogMode::IfPresent,
        ),
        &reference,
    );
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

#[test]
fn the_real_attestation_fails_for_another_identity() {
    let (_tmp, reference) = real_layout("v2.0.0");
    let v = verify(
        &keyless_verifier(&[identity("v1.7.0")], TlogMode::IfPresent),
        &reference,
    );
    assert_eq!(v.outcome, Outcome::Fail);
    let a = slsa_report(&v);
    assert!(!a.verified);
    assert!(
        matches!(
            a.error,
            Some(VerifyError::Bundle(BundleError::IdentityMismatch { .. }))
        ),
        "{:?}",
        a.error
    );
}

#[test]
fn the_real_attestation_fails_when_no_keyless_identity_is_trusted() {
    let (_tmp, reference) = real_layout("v1.4.0");
    let v = verify(&keyless_verifier(&[], TlogMode::IfPresent), &reference);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        matches!(slsa_report(&v).error, Some(VerifyError::NoKeylessIdentity)),
        "{:?}",
        slsa_report(&v).error
    );
}

/// Rewrites the `.att` manifest's layer annotations in the copied layout.
fn edit_att_annotations(reference: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let dir = PathBuf::from(
        reference
            .trim_start_matches("oci:")
            .trim_end_matches(":real"),
    );
    let index_path = dir.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
        .unwrap();
    let old = entry["digest"].as_str().unwrap().to_owned();
    let blobs = dir.join("blobs/sha256");
    let mut manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blobs.join(old.trim_start_matches("sha256:"))).unwrap(),
    )
    .unwrap();
    edit(&mut manifest["layers"][0]["annotations"]);
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let hex = hex::encode(Sha256::digest(&bytes));
    std::fs::write(blobs.join(&hex), &bytes).unwrap();
    entry["digest"] = format!("sha256:{hex}").into();
    entry["size"] = bytes.len().into();
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

#[test]
fn a_real_keyless_attestation_without_its_log_bundle_fails_in_every_tlog_mode() {
    let (_tmp, reference) = real_layout("v2.0.0");
    edit_att_annotations(&reference, |a| {
        a.as_object_mut()
            .unwrap()
            .remove("dev.sigstore.cosign/bundle");
    });
    for mode in [TlogMode::IfPresent, TlogMode::Always, TlogMode::Never] {
        let v = verify(&keyless_verifier(&[identity("v2.0.0")], mode), &reference);
        assert_eq!(v.outcome, Outcome::Fail, "{mode:?}");
        assert!(
            matches!(
                slsa_report(&v).error,
                Some(VerifyError::TransparencyLogRequired)
            ),
            "{mode:?}: {:?}",
            slsa_report(&v).error
        );
    }
}

#[test]
fn a_real_keyless_attestation_log_bundle_is_verified_even_under_tlog_never() {
    let (_tmp, reference) = real_layout("v1.7.0");
    edit_att_annotations(&reference, |a| {
        let mut b: serde_json::Value =
            serde_json::from_str(a["dev.sigstore.cosign/bundle"].as_str().unwrap()).unwrap();
        let t = b["Payload"]["integratedTime"].as_i64().unwrap();
        b["Payload"]["integratedTime"] = (t - 1).into();
        a["dev.sigstore.cosign/bundle"] = b.to_string().into();
    });
    let v = verify(
        &keyless_verifier(&[identity("v1.7.0")], TlogMode::Never),
        &reference,
    );
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        matches!(
            slsa_report(&v).error,
            Some(VerifyError::Bundle(BundleError::SetInvalid { .. }))
        ),
        "{:?}",
        slsa_report(&v).error
    );
}

#[test]
fn a_real_keyless_attestation_with_another_certificate_annotation_fails() {
    let (_tmp, reference) = real_layout("v2.0.0");
    let other = {
        let (_t, r17) = real_layout("v1.7.0");
        let mut cert = String::new();
        edit_att_annotations(&r17, |a| {
            cert = a["dev.sigstore.cosign/certificate"]
                .as_str()
                .unwrap()
                .to_owned();
        });
        cert
    };
    edit_att_annotations(&reference, |a| {
        a["dev.sigstore.cosign/certificate"] = other.into();
    });
    let v = verify(
        &keyless_verifier(
            &[identity("v1.7.0"), identity("v2.0.0")],
            TlogMode::IfPresent,
        ),
        &reference,
    );
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        matches!(
            slsa_report(&v).error,
            Some(VerifyError::Bundle(BundleError::Certificate { .. }))
        ),
        "{:?}",
        slsa_report(&v).error
    );
}

// Keyed `.att` layers with a log entry made by the test log.

fn keyed_trust(key: TrustedKey) -> TrustRoot {
    TrustRoot::from_keys([key]).with_sigstore_trust(
        SigstoreTrust::from_trusted_root_json(TestRekor::default().trusted_root_json().as_bytes())
            .unwrap(),
    )
}

fn run_keyed(w: &Written, trust: TrustRoot, tlog: TlogMode) -> Verdict {
    let verifier = Verifier::builder()
        .trust(trust)
        .policy(
            Policy::dhi_default()
                .with_requirements(["provenance"])
                .unwrap()
                .with_tlog(tlog),
        )
        .platforms([Platform::linux_amd64()])
        .limits(Limits::default())
        .at(std::time::SystemTime::now())
        .build()
        .unwrap();
    verify(&verifier, &w.fixture.reference("3.13"))
}

/// The entry body `cosign attest --key` has Rekor store, of `kind` `version`.
fn body(envelope: &[u8], kind: &str, version: &str, verifier_pem: &str) -> String {
    let env: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
    let sig = env["signatures"][0]["sig"].as_str().unwrap();
    let envelope_hash =
        json!({"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope))});
    let payload_hash =
        json!({"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))});
    let pem = B64.encode(verifier_pem);
    let body = match (kind, version) {
        ("intoto", "0.0.1") => json!({"apiVersion": "0.0.1", "kind": "intoto", "spec": {
            "content": {"hash": envelope_hash, "payloadHash": payload_hash}, "publicKey": pem}}),
        ("intoto", "0.0.2") => {
            json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "envelope": {"payloadType": env["payloadType"], "signatures": [{"sig": B64.encode(sig), "publicKey": pem}]},
            "hash": envelope_hash, "payloadHash": payload_hash}}})
        }
        _ => json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": envelope_hash, "payloadHash": payload_hash,
            "signatures": [{"signature": sig, "verifier": pem}]}}),
    };
    B64.encode(body.to_string())
}

/// A `.att` tag on the platform whose layer carries `bundle` (when given).
fn with_logged_att(w: &Written, envelope: &[u8], bundle: Option<String>) {
    let platform = amd64(w);
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let mut layer = ed
        .put(dhi_verify_testkit::cosign::DSSE_ENVELOPE, envelope)
        .descriptor();
    layer["annotations"] =
        json!({"predicateType": PROVENANCE, "dev.cosignproject.cosign/signature": ""});
    if let Some(b) = bundle {
        layer["annotations"]["dev.sigstore.cosign/bundle"] = b.into();
    }
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

fn keyed_envelope(image: &DhiImage, w: &Written) -> Vec<u8> {
    let platform = amd64(w);
    let statement = statement(
        &platform,
        PROVENANCE,
        json!({"buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
               "runDetails": {"builder": {"id": "https://example.com/builder"}}}),
    );
    dsse_envelope(IN_TOTO, &statement, &image.key, None)
}

fn provenance(v: &Verdict) -> &dhi_verify::AttestationReport {
    let atts: Vec<_> = v.platforms[0]
        .attestations
        .iter()
        .filter(|a| a.predicate_type.as_deref() == Some(PROVENANCE))
        .collect();
    assert_eq!(atts.len(), 1, "{:#?}", v.platforms[0].attestations);
    atts[0]
}

fn image_key(image: &DhiImage) -> TrustedKey {
    TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()
}

#[test]
fn a_keyed_att_logged_as_each_entry_kind_passes_with_its_signing_time() {
    for (kind, version) in [("intoto", "0.0.1"), ("intoto", "0.0.2"), ("dsse", "0.0.1")] {
        let image = DhiImage::python().kinds(&[]);
        let w = write(&image);
        let envelope = keyed_envelope(&image, &w);
        let rekor = TestRekor::default();
        let b = body(&envelope, kind, version, &image.key.public_pem());
        with_logged_att(
            &w,
            &envelope,
            Some(rekor.legacy_bundle(&b, INTEGRATED_TIME, INTEGRATED_TIME)),
        );
        for mode in [TlogMode::IfPresent, TlogMode::Always] {
            let v = run_keyed(&w, keyed_trust(image_key(&image)), mode);
            assert_eq!(
                v.outcome,
                Outcome::Pass,
                "{kind} {version} {mode:?}: {v:#?}"
            );
            let s = &provenance(&v).signatures[0];
            assert_eq!(s.tlog, TlogStatus::Verified);
            assert_eq!(s.signed_at, Some(INTEGRATED_TIME));
            assert_eq!(s.key.as_deref(), Some("dhi-test"));
        }
        let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::Never);
        assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
        assert_eq!(provenance(&v).signatures[0].tlog, TlogStatus::Ignored);
    }
}

#[test]
fn a_keyed_att_whose_entry_names_another_key_fails() {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    let envelope = keyed_envelope(&image, &w);
    let rekor = TestRekor::default();
    let b = body(
        &envelope,
        "dsse",
        "0.0.1",
        &TestKey::new("other").public_pem(),
    );
    with_logged_att(
        &w,
        &envelope,
        Some(rekor.legacy_bundle(&b, INTEGRATED_TIME, INTEGRATED_TIME)),
    );
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    let s = &provenance(&v).signatures[0];
    assert_eq!(s.tlog, TlogStatus::Invalid);
    assert!(
        matches!(
            s.error,
            Some(VerifyError::TransparencyLog(BundleError::EntryMismatch {
                field: "spec.signatures",
                ..
            }))
        ),
        "{:?}",
        s.error
    );
    // Ignoring the log ignores the mismatch too, and says so.
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass);
}

#[test]
fn a_keyed_att_whose_entry_is_for_another_envelope_fails() {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    let envelope = keyed_envelope(&image, &w);
    let mut other = envelope.clone();
    other.push(b'\n');
    let rekor = TestRekor::default();
    let b = body(&other, "intoto", "0.0.1", &image.key.public_pem());
    with_logged_att(
        &w,
        &envelope,
        Some(rekor.legacy_bundle(&b, INTEGRATED_TIME, INTEGRATED_TIME)),
    );
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        matches!(
            provenance(&v).signatures[0].error,
            Some(VerifyError::TransparencyLog(BundleError::EntryMismatch {
                field: "spec.content.hash",
                ..
            }))
        ),
        "{:?}",
        provenance(&v).signatures[0].error
    );
}

#[test]
fn a_keyed_att_with_a_forged_integrated_time_fails() {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    let envelope = keyed_envelope(&image, &w);
    let rekor = TestRekor::default();
    let b = body(&envelope, "dsse", "0.0.1", &image.key.public_pem());
    with_logged_att(
        &w,
        &envelope,
        Some(rekor.legacy_bundle(&b, INTEGRATED_TIME, INTEGRATED_TIME - 86_400)),
    );
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    let a = provenance(&v);
    assert!(
        matches!(
            a.error,
            Some(VerifyError::TransparencyLog(BundleError::SetInvalid { .. }))
        ),
        "{:?}",
        a.error
    );
    assert_eq!(a.signatures[0].tlog, TlogStatus::Invalid);
}

#[test]
fn a_keyed_att_logged_by_an_untrusted_log_fails() {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    let envelope = keyed_envelope(&image, &w);
    let stranger = TestRekor {
        key: TestKey::new("another log"),
    };
    let b = body(&envelope, "dsse", "0.0.1", &image.key.public_pem());
    with_logged_att(
        &w,
        &envelope,
        Some(stranger.legacy_bundle(&b, INTEGRATED_TIME, INTEGRATED_TIME)),
    );
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::IfPresent);
    assert!(
        matches!(
            provenance(&v).error,
            Some(VerifyError::TransparencyLog(BundleError::UnknownLog { .. }))
        ),
        "{:?}",
        provenance(&v).error
    );
}

#[test]
fn a_keyed_att_key_validity_is_judged_at_the_logged_signing_time() {
    let closed = UNIX_EPOCH + Duration::from_secs((INTEGRATED_TIME + 60) as u64);
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    let envelope = keyed_envelope(&image, &w);
    let rekor = TestRekor::default();
    let b = body(&envelope, "intoto", "0.0.2", &image.key.public_pem());
    with_logged_att(
        &w,
        &envelope,
        Some(rekor.legacy_bundle(&b, INTEGRATED_TIME, INTEGRATED_TIME)),
    );
    let rotated = || image_key(&image).valid_until(closed);
    let v = run_keyed(&w, keyed_trust(rotated()), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    // Ignoring the log leaves no trusted signing time: judged now, and expired.
    let v = run_keyed(&w, keyed_trust(rotated()), TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        matches!(
            provenance(&v).signatures[0].error,
            Some(VerifyError::KeyNotUsable {
                reason: dhi_verify::KeyUnusable::Expired { .. },
                ..
            })
        ),
        "{:?}",
        provenance(&v).signatures[0].error
    );
}

#[test]
fn a_keyed_att_without_a_log_entry_fails_only_under_tlog_always() {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    let envelope = keyed_envelope(&image, &w);
    with_logged_att(&w, &envelope, None);
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    let v = run_keyed(&w, keyed_trust(image_key(&image)), TlogMode::Always);
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(matches!(
        provenance(&v).error,
        Some(VerifyError::TransparencyLogRequired)
    ));
}
