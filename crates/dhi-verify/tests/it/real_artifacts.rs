//! What the real tools publish, from the real bytes in `testdata/real/`:
//! `cosign save` layouts of images slsa-github-generator attested (cosign v2
//! `.att` about the index, BuildKit in-index attestations). Tests that need a
//! changed layout change a copy in a temporary directory and re-point every
//! manifest up to `index.json`, so that only the link under test is broken.

use std::path::Path;

use dhi_verify::{
    CheckStatus, EvidenceSource, Limits, Outcome, Policy, TrustRoot, TrustedKey, Verdict,
    VerifyError,
};
use dhi_verify_testkit::cosign::{
    sig_tag, simple_signing_layer, simple_signing_payload, LayoutEditor,
};
use dhi_verify_testkit::TestKey;
use serde_json::Value;

use crate::util::{check, verifier_with, verify};

use dhi_verify_testkit::real::{
    blob_path, copy_slsa_generator_layout as copy_layout, replace_blob,
    slsa_generator_digest as real_digest, SLSA_GENERATOR_VERSIONS as VERSIONS,
};

pub const PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";

/// A policy that requires `requirements` and judges nothing else (the real
/// images run as root, which the DHI default refuses).
pub fn generic(requirements: &[&str]) -> Policy {
    Policy::requiring(requirements.iter().copied()).unwrap()
}

fn keyed(key: &TestKey) -> TrustRoot {
    TrustRoot::from_keys([TrustedKey::from_pem("test", &key.public_pem()).unwrap()])
}

fn run(layout: &Path, trust: TrustRoot, requirements: &[&str]) -> Verdict {
    verify(
        &verifier_with(trust, generic(requirements), Limits::default()),
        &format!("oci:{}", layout.display()),
    )
}

/// The index of a layout (v1.7.0 and v2.0.0 are indexes).
fn index_digest(layout: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["kind"] == "dev.cosignproject.cosign/imageIndex")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Signs the layout's index with `key`, as `cosign sign --key` on the index does.
fn sign_index(layout: &Path, key: &TestKey) {
    let index = index_digest(layout);
    let mut ed = LayoutEditor::open(layout);
    let payload = simple_signing_payload(&index, "cosign container image signature");
    let layer = simple_signing_layer(&mut ed, &payload, &key.sign_b64(&payload));
    sig_tag(&mut ed, &index, vec![layer]);
    ed.finish();
}

#[test]
fn a_cosign_save_layout_resolves_to_its_image_and_finds_its_att_by_kind() {
    for version in VERSIONS {
        let (_d, layout) = copy_layout(version);
        let v = run(&layout, keyed(&TestKey::new("other")), &["provenance"]);
        assert_eq!(v.digest.to_string(), real_digest(version), "{version}");
        let att: Vec<_> = v.platforms[0]
            .attestations
            .iter()
            .filter(|a| a.source == EvidenceSource::CosignTag)
            .collect();
        assert_eq!(att.len(), 1, "{version}: {v:#?}");
        // cosign attested the digest it was given: the index (or the single
        // manifest of v1.4.0), which is what the attestation is checked as
        // being about.
        assert_eq!(
            att[0].subject.to_string(),
            real_digest(version),
            "{version}"
        );
    }
}

#[test]
fn buildkit_in_index_attestations_are_unsigned_not_broken() {
    for version in ["v1.7.0", "v2.0.0"] {
        let (_d, layout) = copy_layout(version);
        let v = run(&layout, keyed(&TestKey::new("other")), &["provenance"]);
        assert_eq!(v.outcome, Outcome::Fail, "{version}");
        let p = &v.platforms[0];
        let in_index: Vec<_> = p
            .attestations
            .iter()
            .filter(|a| a.source == EvidenceSource::ImageIndex)
            .collect();
        assert_eq!(in_index.len(), 1, "{version}");
        let a = in_index[0];
        assert!(
            a.unsigned && !a.verified && !a.signed_but_inconsistent,
            "{a:#?}"
        );
        assert_eq!(a.predicate_type.as_deref(), Some(PROVENANCE_V02));
        assert_eq!(a.subject, p.digest);
        assert!(
            matches!(a.error, Some(VerifyError::UnsignedInIndex { index }) if index == v.digest),
            "{a:#?}"
        );
        assert!(p.checks.iter().all(|c| c.id != "attestation.consistency"));
    }
}

#[test]
fn buildkit_in_index_attestations_count_under_a_verified_signature_on_the_index() {
    let key = TestKey::new("index-signer");
    for version in ["v1.7.0", "v2.0.0"] {
        let (_d, layout) = copy_layout(version);
        sign_index(&layout, &key);
        let v = run(&layout, keyed(&key), &["provenance"]);
        assert_eq!(v.outcome, Outcome::Pass, "{version}: {v:#?}");
        let a = v.platforms[0]
            .attestations
            .iter()
            .find(|a| a.source == EvidenceSource::ImageIndex)
            .unwrap();
        assert!(a.verified && !a.unsigned, "{a:#?}");
        let va = a.verified_attestation.as_ref().unwrap();
        assert_eq!(va.signer(), "test");
        assert_eq!(*va.subject(), v.platforms[0].digest);
        // Only provenance is there: an SBOM requirement is not met by it.
        let v = run(&layout, keyed(&key), &["sbom"]);
        assert_eq!(check(&v, "require.sbom").status, CheckStatus::Fail);
    }
}

#[test]
fn an_index_signature_by_an_untrusted_key_covers_nothing() {
    let (_d, layout) = copy_layout("v2.0.0");
    sign_index(&layout, &TestKey::new("stranger"));
    let v = run(&layout, keyed(&TestKey::new("trusted")), &["provenance"]);
    assert_eq!(v.outcome, Outcome::Fail);
    let a = v.platforms[0]
        .attestations
        .iter()
        .find(|a| a.source == EvidenceSource::ImageIndex)
        .unwrap();
    assert!(a.unsigned && !a.verified);
}

/// The BuildKit statement of v2.0.0, edited by `edit`, re-pointed up to a
/// new index that `key` signs: the signer vouches for the edited bytes.
fn signed_edited_buildkit_statement(key: &TestKey, edit: impl FnOnce(&mut Value)) -> Verdict {
    let (_d, layout) = copy_layout("v2.0.0");
    // The in-index attestation manifest's only layer.
    let statement = "sha256:4efc1daf5276de13d358c242c9ce21f161c00234ab9bbac05e792b30f3f31350";
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(blob_path(&layout, statement)).unwrap()).unwrap();
    edit(&mut v);
    replace_blob(&layout, statement, &serde_json::to_vec(&v).unwrap());
    sign_index(&layout, key);
    run(&layout, keyed(key), &["provenance"])
}

#[test]
fn an_inconsistent_buildkit_statement_under_a_trusted_index_signature_fails_the_image() {
    let key = TestKey::new("index-signer");
    // About another manifest.
    let v = signed_edited_buildkit_statement(&key, |s| {
        for subject in s["subject"].as_array_mut().unwrap() {
            subject["digest"]["sha256"] = "00".repeat(32).into();
        }
    });
    assert_eq!(v.outcome, Outcome::Fail);
    let c = check(&v, "attestation.consistency");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(
        c.message.contains("statement subject does not name"),
        "{c:?}"
    );
    // Of another predicate type than its layer says.
    let v = signed_edited_buildkit_statement(&key, |s| {
        s["predicateType"] = "https://spdx.dev/Document".into();
    });
    assert_eq!(v.outcome, Outcome::Fail);
    let c = check(&v, "attestation.consistency");
    assert!(c.message.contains("predicateType"), "{c:?}");
    // Unchanged but re-serialised: still consistent, and it passes.
    let v = signed_edited_buildkit_statement(&key, |_| {});
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

#[test]
fn cosign_kinds_are_not_mapped_to_tags_when_the_layout_holds_two_images() {
    let (_d, layout) = copy_layout("v2.0.0");
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    // A second image: which one the `/atts` entry is about would be a guess.
    let platform = "sha256:5fa774f16f1c8f4dfa3aa916a3ac9b81e6c59be9339489967d908901770ba530";
    let size = std::fs::metadata(blob_path(&layout, platform))
        .unwrap()
        .len();
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": platform, "size": size,
        "annotations": {"kind": "dev.cosignproject.cosign/image"}}));
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    // No tag: two images, so the reference must name one (could not check).
    let verifier = verifier_with(
        keyed(&TestKey::new("other")),
        generic(&["provenance"]),
        Limits::default(),
    );
    let err =
        crate::util::block_on(verifier.verify(&format!("oci:{}", layout.display()))).unwrap_err();
    assert!(err.to_string().contains("holds 2 manifests"), "{err}");
    // Named by digest: the `.att` entry is not taken as the index's tag.
    let v = verify(
        &verifier,
        &format!("oci:{}@{}", layout.display(), real_digest("v2.0.0")),
    );
    assert!(v.platforms[0]
        .attestations
        .iter()
        .all(|a| a.source != EvidenceSource::CosignTag));
}

/// `testdata/real/cosign-keyed/`: `cosign download signature` output.
fn keyed_signatures(which: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/real/cosign-keyed/tests/assets/signatures")
        .join(which)
        .join("95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let digest = format!("sha256:{}", p.file_stem().unwrap().to_str().unwrap());
        let sigs: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        for s in sigs.as_array().unwrap() {
            out.push((digest.clone(), s.clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn keyed_trust(file: &str) -> TrustRoot {
    let pem = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/real/cosign-keyed/tests/assets")
            .join(file),
    )
    .unwrap();
    TrustRoot::from_keys([TrustedKey::from_pem(file, &pem).unwrap()])
}

/// Checks one real keyed signature the way the chain checks a `.sig` layer:
/// the signature over the payload bytes by a trusted key, the payload's
/// claims for `digest`, then the Rekor bundle (SET by the public-good log,
/// body naming this payload, signature and key).
fn check_keyed(trust: &TrustRoot, digest: &str, s: &Value) -> Result<(), String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(s["Payload"].as_str().unwrap()).unwrap();
    let sig = s["Base64Signature"].as_str().unwrap();
    let at = std::time::SystemTime::now();
    let key = dhi_verify::signature::simple_signing::verify_signature(&payload, sig, trust, at)
        .map_err(|e| format!("signature: {e}"))?;
    dhi_verify::signature::simple_signing::check_payload_claims(
        &payload,
        &digest.parse().unwrap(),
        None,
    )
    .map_err(|e| format!("payload: {e}"))?;
    let bundle = serde_json::to_vec(&s["Bundle"]).unwrap();
    let logs = dhi_verify::sigstore::SigstoreTrust::public_good().unwrap();
    let entry = dhi_verify::sigstore::verify_cosign_rekor_bundle(
        &bundle,
        &b64.decode(sig)
            .map_err(|e| format!("signature base64: {e}"))?,
        &payload,
        &logs,
    )
    .map_err(|e| format!("log entry: {e}"))?;
    let logged = dhi_verify::sigstore::PublicKey::from_pem_or_der(
        entry.body_public_key().ok_or("log entry names no key")?,
    )
    .map_err(|e| format!("logged key: {e}"))?;
    if logged.fingerprint() != *key.fingerprint().as_bytes() {
        return Err("log entry names another key".into());
    }
    Ok(())
}

#[test]
fn real_keyed_cosign_signatures_verify_with_their_key_and_log_entries() {
    let valid = keyed_signatures("valid");
    assert_eq!(valid.len(), 7);
    let trust = keyed_trust("test.pub.key");
    for (digest, s) in &valid {
        check_keyed(&trust, digest, s).unwrap_or_else(|e| panic!("{digest}: {e}"));
        // Not for another image.
        let other = format!("sha256:{}", "0".repeat(64));
        assert!(check_keyed(&trust, &other, s)
            .unwrap_err()
            .starts_with("payload:"));
    }
    // Another key (also dangerzone's) verifies none of them.
    let other = keyed_trust("dangerzone-testing.pub");
    for (digest, s) in &valid {
        assert!(check_keyed(&other, digest, s)
            .unwrap_err()
            .starts_with("signature:"));
    }
}

#[test]
fn real_tampered_keyed_cosign_signatures_fail() {
    let tampered = keyed_signatures("tampered");
    assert!(!tampered.is_empty());
    let trust = keyed_trust("test.pub.key");
    // One has its signature bytes changed (no longer DER), the other signs
    // other bytes: both are caught by the signature, before any claim is read.
    for (digest, s) in &tampered {
        let e = check_keyed(&trust, digest, s).unwrap_err();
        assert!(e.starts_with("signature:"), "{digest}: {e}");
    }
}
