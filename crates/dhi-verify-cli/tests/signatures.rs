//! Signatures on the image itself through the real binary: `--require
//! signature` with cosign's `.sig` tag, exit codes, text and JSON (checked
//! against `docs/verdict.schema.json`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::Output;

use dhi_verify_testkit::cosign::{
    sig_tag, simple_signing_layer, simple_signing_payload, LayoutEditor,
};
use dhi_verify_testkit::{DhiImage, Fixture, TestKey};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A DHI-shaped image whose index carries a `.sig` tag signed by `signer`.
fn signed_by(signer: &TestKey) -> (DhiImage, Fixture, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python();
    let fixture = image.write_layout(&dir.path().join("layout"));
    std::fs::write(dir.path().join("cosign.pub"), image.key.public_pem()).unwrap();
    let mut ed = LayoutEditor::open(&fixture.dir);
    let payload = simple_signing_payload(&fixture.index_digest, "cosign container image signature");
    let layer = simple_signing_layer(&mut ed, &payload, &signer.sign_b64(&payload));
    sig_tag(&mut ed, &fixture.index_digest, vec![layer]);
    ed.finish();
    (image, fixture, dir)
}

fn run(fixture: &Fixture, dir: &Path, extra: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["image", &fixture.reference("3.13"), "--key"])
        .arg(dir.join("cosign.pub"))
        .args(["--require", "signature"])
        .args(extra)
        .output()
        .unwrap()
}

fn schema_valid(v: &Value) {
    let text = std::fs::read_to_string(repo().join("docs/verdict.schema.json")).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("verdict.schema.json", serde_json::from_str(&text).unwrap())
        .unwrap();
    let index = compiler
        .compile("verdict.schema.json", &mut schemas)
        .unwrap();
    if let Err(e) = schemas.validate(v, index) {
        panic!("{e:#}\n{v:#}");
    }
}

#[test]
fn a_signed_image_passes_the_signature_requirement() {
    let (image, fixture, dir) = signed_by(&DhiImage::python().key);
    let _ = image;
    let o = run(&fixture, dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("✓ signature on the index"), "{stdout}");
    assert!(stdout.contains("(cosign tag)"), "{stdout}");
    assert!(stdout.contains("require.signature"), "{stdout}");
}

#[test]
fn an_image_signed_by_another_key_fails_with_exit_1() {
    let (_image, fixture, dir) = signed_by(&TestKey::new("mallory"));
    let o = run(&fixture, dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ require.signature: no verified signature on"),
        "{stdout}"
    );
}

#[test]
fn image_signatures_in_json_match_the_schema() {
    for signer in [DhiImage::python().key, TestKey::new("mallory")] {
        let (_image, fixture, dir) = signed_by(&signer);
        let o = run(&fixture, dir.path(), &["--format", "json"]);
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        schema_valid(&v);
        let sig = &v["platforms"][0]["imageSignatures"][0];
        assert_eq!(sig["subject"], fixture.index_digest);
        assert_eq!(sig["source"], "cosign-tag");
        assert_eq!(
            sig["artifactType"],
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        assert_eq!(v["platforms"][0]["attestations"][0]["source"], "referrer");
    }
}

/// `cosign sign` keyless, the legacy way: a `.sig` tag whose layer carries
/// the Fulcio certificate and the Rekor bundle (the keyless test instance in
/// `testdata/keyless`).
#[test]
fn a_keyless_cosign_signature_on_the_image_verifies_with_identity_flags() {
    use base64::Engine as _;
    use dhi_verify_testkit::TestRekor;
    let keyless = repo().join("testdata/keyless");
    let read = |p: &str| std::fs::read_to_string(keyless.join(p)).unwrap();
    let rekor = TestRekor {
        key: TestKey::from_pem("rekor", &read("keys/rekor.key.pem")),
    };
    let leaf = TestKey::from_pem("leaf", &read("keys/leaf.key.pem"));
    let cert = read("keys/leaf.crt.pem");
    let time = 1_735_689_630;

    let dir = tempfile::tempdir().unwrap();
    let fixture = DhiImage::python()
        .kinds(&[])
        .write_layout(&dir.path().join("layout"));
    let mut ed = LayoutEditor::open(&fixture.dir);
    let payload = simple_signing_payload(&fixture.index_digest, "cosign container image signature");
    let signature = leaf.sign_b64(&payload);
    let der = base64::engine::general_purpose::STANDARD
        .decode(&signature)
        .unwrap();
    let body = rekor.body_with(&payload, &der, &cert);
    let mut layer = simple_signing_layer(&mut ed, &payload, &signature);
    layer["annotations"]["dev.sigstore.cosign/certificate"] = serde_json::json!(cert);
    layer["annotations"]["dev.sigstore.cosign/bundle"] =
        serde_json::json!(rekor.legacy_bundle(&body, time, time));
    sig_tag(&mut ed, &fixture.index_digest, vec![layer]);
    ed.finish();

    let identity =
        "https://github.com/example/dhi-demo/.github/workflows/build.yml@refs/heads/main";
    let run_with = |identity_regexp: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .args([
                "image",
                &fixture.reference("3.13"),
                "--require",
                "signature",
            ])
            .arg("--trusted-root")
            .arg(keyless.join("trusted_root.json"))
            .args(["--certificate-identity-regexp", identity_regexp])
            .args([
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ])
            .output()
            .unwrap()
    };
    // Regular expressions match the whole identity (docs/sigstore.md).
    let ok = run_with(r"^https://github\.com/example/.*");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("signed by {identity}")),
        "{stdout}"
    );
    let other = run_with(r"^https://github\.com/someone-else/.*");
    assert_eq!(
        other.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&other.stdout)
    );
}
