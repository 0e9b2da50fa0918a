//! Keyless identity flags that narrow on Fulcio certificate claims
//! (`--certificate-github-workflow-*`, `--certificate-source-*`,
//! `--certificate-signer-uri`, `--certificate-runner-environment`) through
//! the real binary: each one is enforced, a bad regex or a claim flag without
//! an identity is a usage error (exit 2).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::Output;

use dhi_verify_testkit::{DhiImage, Fixture, KeylessSigner, TestKey, TestRekor};

fn keyless_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/keyless")
}

const IDENTITY: &str =
    "https://github.com/example/dhi-demo/.github/workflows/build.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The testkit image signed keyless by the local instance of `testdata/keyless`,
/// whose leaf certificate has a SAN and an issuer and none of the CI claims.
fn keyless_layout(dir: &Path) -> Fixture {
    let read = |p: &str| std::fs::read_to_string(keyless_dir().join(p)).unwrap();
    let signer = KeylessSigner {
        rekor: TestRekor {
            key: TestKey::from_pem("rekor", &read("keys/rekor.key.pem")),
        },
        key: TestKey::from_pem("leaf", &read("keys/leaf.key.pem")),
        cert_pem: read("keys/leaf.crt.pem"),
        time: 1_735_689_630,
    };
    DhiImage::python()
        .with_keyless_bundles(signer)
        .write_layout(&dir.join("layout"))
}

fn run(fixture: &Fixture, extra: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args([
            "image",
            &fixture.reference("3.13"),
            "--platform",
            "linux/amd64",
        ])
        .arg("--trusted-root")
        .arg(keyless_dir().join("trusted_root.json"))
        .args(extra)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_claim_flag_fails_a_certificate_without_that_claim() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = keyless_layout(dir.path());
    let id = [
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    let ok = run(&fixture, &id);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    for claim in [
        &[
            "--certificate-github-workflow-repository",
            "example/dhi-demo",
        ][..],
        &["--certificate-github-workflow-ref", "refs/heads/main"],
        &[
            "--certificate-github-workflow-sha",
            "0123456789abcdef0123456789abcdef01234567",
        ],
        &["--certificate-github-workflow-trigger", "push"],
        &[
            "--certificate-source-repository",
            "https://github.com/example/dhi-demo",
        ],
        &["--certificate-source-repository-regexp", ".*"],
        &["--certificate-source-ref", "refs/heads/main"],
        &["--certificate-source-ref-regexp", "refs/.*"],
        &[
            "--certificate-source-digest",
            "0123456789abcdef0123456789abcdef01234567",
        ],
        &["--certificate-signer-uri", IDENTITY],
        &["--certificate-signer-uri-regexp", ".*"],
        &["--certificate-runner-environment", "github-hosted"],
    ] {
        let o = run(&fixture, &[&id[..], claim].concat());
        assert_eq!(o.status.code(), Some(1), "{claim:?}: {}", text(&o));
        assert!(
            text(&o).contains("certificate claim"),
            "{claim:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn a_bad_claim_regex_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = keyless_layout(dir.path());
    let o = run(
        &fixture,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            "--certificate-signer-uri-regexp",
            "https://github.com/(unclosed",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--certificate-signer-uri-regexp"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_claim_flag_without_an_identity_or_with_its_regexp_twin_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = keyless_layout(dir.path());
    let o = run(
        &fixture,
        &[
            "--certificate-github-workflow-repository",
            "example/dhi-demo",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(
        &fixture,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            "--certificate-source-ref",
            "refs/heads/main",
            "--certificate-source-ref-regexp",
            "refs/.*",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn a_policy_file_identity_with_a_claim_the_certificate_lacks_fails() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = keyless_layout(dir.path());
    let trusted_root = keyless_dir().join("trusted_root.json");
    let run_policy = |claims: &str| {
        let policy = dir.path().join("policy.toml");
        std::fs::write(
            &policy,
            format!(
                "version = 1\n[trust]\ntrusted-root = {:?}\nidentities = [{{ issuer = {ISSUER:?}, subject = {IDENTITY:?}{claims} }}]\n",
                trusted_root.display().to_string()
            ),
        )
        .unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .args([
                "image",
                &fixture.reference("3.13"),
                "--platform",
                "linux/amd64",
            ])
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap()
    };
    let ok = run_policy("");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let o = run_policy(", source-repository-glob = \"https://github.com/example/*\"");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("source repository URI"), "{}", text(&o));
}

/// `verify-bundle` on the real `rekor2-happy-path` conformance bundle, whose
/// public-good Fulcio certificate carries the CI claims of the
/// sigstore-conformance beacon workflow.
fn verify_conformance_bundle(extra: &[&str]) -> Output {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sigstore-conformance/rekor2-happy-path");
    std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["verify-bundle", "--bundle"])
        .arg(case.join("bundle.sigstore.json"))
        .arg("--trusted-root")
        .arg(case.join("trusted_root.json"))
        .args([
            "--certificate-identity",
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            ISSUER,
        ])
        .args(extra)
        .arg(case.join("../a.txt"))
        .output()
        .unwrap()
}

#[test]
fn verify_bundle_checks_each_claim_flag_against_a_real_certificate() {
    const REPO: &str =
        "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon";
    const SHA: &str = "9739798945b2a848e911bcf1dddb97298cade0b1";
    let ok = verify_conformance_bundle(&[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(
        text(&ok).contains(&format!(
            "source repository URI (1.3.6.1.4.1.57264.1.12) {REPO}"
        )),
        "{}",
        text(&ok)
    );
    let signer =
        format!("{REPO}/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main");
    for (flag, good, bad) in [
        (
            "--certificate-github-workflow-repository",
            "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
            "sigstore-conformance/other",
        ),
        (
            "--certificate-github-workflow-ref",
            "refs/heads/main",
            "refs/heads/dev",
        ),
        (
            "--certificate-github-workflow-sha",
            SHA,
            "0000000000000000000000000000000000000000",
        ),
        (
            "--certificate-github-workflow-trigger",
            "workflow_dispatch",
            "push",
        ),
        (
            "--certificate-source-repository",
            REPO,
            "https://github.com/sigstore-conformance/other",
        ),
        (
            "--certificate-source-repository-regexp",
            "https://github\\.com/sigstore-conformance/.*",
            "https://github\\.com/sigstore/.*",
        ),
        (
            "--certificate-source-ref",
            "refs/heads/main",
            "refs/tags/v1",
        ),
        (
            "--certificate-source-ref-regexp",
            "refs/heads/.*",
            "refs/tags/.*",
        ),
        (
            "--certificate-source-digest",
            SHA,
            "1111111111111111111111111111111111111111",
        ),
        (
            "--certificate-signer-uri",
            &signer,
            "https://github.com/evil/x/.github/workflows/w.yml@refs/heads/main",
        ),
        (
            "--certificate-signer-uri-regexp",
            ".*/extremely-dangerous-oidc-beacon\\.yml@refs/heads/main",
            ".*/release\\.yml@.*",
        ),
        (
            "--certificate-runner-environment",
            "github-hosted",
            "self-hosted",
        ),
    ] {
        let o = verify_conformance_bundle(&[flag, good]);
        assert_eq!(o.status.code(), Some(0), "{flag} {good}: {}", text(&o));
        let o = verify_conformance_bundle(&[flag, bad]);
        assert_eq!(o.status.code(), Some(1), "{flag} {bad}: {}", text(&o));
        assert!(
            text(&o).contains("certificate claim"),
            "{flag}: {}",
            text(&o)
        );
    }
}

#[test]
fn verify_bundle_refuses_claim_flags_with_a_key() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/sigstore-conformance/managed-key-happy-path");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["verify-bundle", "--bundle"])
        .arg(case.join("bundle.sigstore.json"))
        .arg("--key")
        .arg(case.join("key.pub"))
        .args(["--certificate-source-ref", "refs/heads/main"])
        .arg(case.join("../a.txt"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
