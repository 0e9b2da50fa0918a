//! The real `dhi-verify` binary against the committed demo and testkit layouts:
//! output formats and the exit codes scripts rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dhi_verify_testkit::{DhiImage, PredicateKind, Tamper};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    bin().current_dir(repo()).args(args).output().unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

const DEMO: &str = "oci:testdata/demo:3.13";
const DEMO_KEY: &str = "testdata/demo/cosign.pub";

#[test]
fn the_readme_demo_passes_with_exit_0() {
    let o = run(&[
        "image",
        DEMO,
        "--key",
        DEMO_KEY,
        "--platform",
        "linux/amd64",
    ]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with("PASS oci:testdata/demo:3.13\n"), "{out}");
    assert!(out.contains("✓ SLSA provenance v1"), "{out}");
    assert!(out.contains("✓ require.sbom"), "{out}");
}

#[test]
fn the_committed_demo_is_what_the_testkit_writes() {
    // Guards against the demo drifting from the format the testkit (and the tests) use.
    let dir = tempfile::tempdir().unwrap();
    let fixture = DhiImage::python().write_layout(&dir.path().join("demo"));
    let committed = repo().join("testdata/demo");
    assert_eq!(
        std::fs::read(committed.join("index.json")).unwrap(),
        std::fs::read(fixture.dir.join("index.json")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(committed.join("cosign.pub")).unwrap(),
        fixture.public_pem
    );
}

#[test]
fn json_output_is_the_verdict_with_the_documented_fields() {
    let o = run(&[
        "image",
        DEMO,
        "--key",
        DEMO_KEY,
        "--all-platforms",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0);
    let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON and nothing else");
    assert_eq!(v["schemaVersion"], 1);
    assert_eq!(v["reference"], DEMO);
    assert_eq!(v["passed"], true);
    assert_eq!(v["outcome"], "pass");
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    let platforms = v["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    for p in platforms {
        assert!(p["platform"].as_str().unwrap().starts_with("linux/"));
        assert!(p["digest"].as_str().unwrap().starts_with("sha256:"));
        let atts = p["attestations"].as_array().unwrap();
        assert_eq!(atts.len(), 5);
        for a in atts {
            assert!(a["predicateType"].is_string());
            assert!(a["manifestDigest"].as_str().unwrap().starts_with("sha256:"));
            assert_eq!(a["verified"], true);
            let sig = &a["signatures"][0];
            assert_eq!(sig["verified"], true);
            assert!(sig["keyId"].as_str().unwrap().starts_with("sha256:"));
        }
        for c in p["checks"].as_array().unwrap() {
            assert!(c["id"].is_string() && c["message"].is_string());
            assert_eq!(c["status"], "pass");
        }
    }
}

#[test]
fn the_embedded_dhi_keys_do_not_trust_the_demo_signer() {
    let o = run(&["image", DEMO, "--platform", "linux/amd64"]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.starts_with("FAIL "), "{out}");
    assert!(
        out.contains("no trusted key verifies the signature"),
        "{out}"
    );
}

#[test]
fn a_tampered_image_fails_with_exit_1_and_names_the_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python().tamper(Tamper::SubjectOtherPlatform);
    let fixture = image.write_layout(&dir.path().join("layout"));
    std::fs::write(dir.path().join("k.pub"), image.key.public_pem()).unwrap();
    let o = bin()
        .args(["image", &fixture.reference("3.13"), "--key"])
        .arg(dir.path().join("k.pub"))
        .args(["--platform", "linux/amd64", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "fail");
    assert_eq!(v["passed"], false);
    let failed: Vec<&Value> = v["platforms"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    // The trusted key signed an attestation manifest about this platform
    // whose statement names another: inconsistent signed bytes fail the
    // image in their own right, and the requirement is not met.
    let ids: Vec<&str> = failed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["attestation.consistency", "require.provenance"]);
    for c in &failed {
        assert!(c["message"]
            .as_str()
            .unwrap()
            .contains("statement subject does not name"));
    }
    let provenance = fixture.attestation("linux/amd64", PredicateKind::ProvenanceV1);
    assert_eq!(
        failed[0]["evidence"][0],
        provenance.manifest_digest.as_str()
    );
}

#[test]
fn attestations_in_another_layout_are_found_with_referrers() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python();
    let fixture = image.write_split(&dir.path().join("image"), &dir.path().join("att"));
    std::fs::write(dir.path().join("k.pub"), image.key.public_pem()).unwrap();
    let referrers = format!("oci:{}", fixture.referrers_dir.display());
    let key = dir.path().join("k.pub");
    let base = |extra: &[&str]| {
        bin()
            .args([
                "image",
                &fixture.reference("3.13"),
                "--platform",
                "linux/amd64",
                "--key",
            ])
            .arg(&key)
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(code(&base(&[])), 1);
    assert_eq!(code(&base(&["--referrers", &referrers])), 0);
}

#[test]
fn require_replaces_the_default_requirements() {
    let o = run(&[
        "image",
        DEMO,
        "--key",
        DEMO_KEY,
        "--platform",
        "linux/amd64",
        "--require",
        "vex",
        "--require",
        "https://docker.com/dhi/source/v0.1",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v["platforms"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"require.vex") && ids.contains(&"require.https://docker.com/dhi/source/v0.1")
    );
    assert!(!ids.contains(&"require.provenance"));
    let o = run(&[
        "image",
        DEMO,
        "--key",
        DEMO_KEY,
        "--platform",
        "linux/amd64",
        "--require",
        "https://example.com/absent/v1",
    ]);
    assert_eq!(code(&o), 1);
}

#[test]
fn several_references_give_one_verdict_each_and_the_worst_exit_code() {
    let o = run(&[
        "image",
        DEMO,
        "oci:testdata/demo:9.99",
        "--key",
        DEMO_KEY,
        "--platform",
        "linux/amd64",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 3);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert_eq!(list[0]["outcome"], "pass");
    assert_eq!(list[1]["outcome"], "error");
    assert!(list[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("9.99"));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["image"],
        vec!["image", DEMO, "--format", "yaml"],
        vec!["image", DEMO, "--key", "testdata/does-not-exist.pub"],
        vec!["image", DEMO, "--key", "README.md"],
        vec!["image", DEMO, "--platform", "linux"],
        vec!["image", DEMO, "--require", "sbomm"],
        vec!["image", "oci:testdata/demo@sha256:123"],
        vec![
            "image",
            DEMO,
            "--platform",
            "linux/amd64",
            "--all-platforms",
        ],
        vec!["frobnicate"],
    ] {
        let o = run(&args);
        assert_eq!(
            code(&o),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stderr.is_empty(), "{args:?} says why on stderr");
    }
}

#[test]
fn could_not_verify_exits_3_and_names_the_step() {
    let o = run(&["image", "oci:testdata/no-such-layout:1", "--key", DEMO_KEY]);
    assert_eq!(code(&o), 3);
    assert!(stdout(&o).contains("open layout"), "{}", stdout(&o));
    let o = run(&["image", "oci:testdata/demo:9.99", "--key", DEMO_KEY]);
    assert_eq!(code(&o), 3);
    assert!(
        stdout(&o).contains("tag \"9.99\" not found"),
        "{}",
        stdout(&o)
    );
    let o = run(&["image", "dhi.io/python:3.13"]);
    assert_eq!(code(&o), 3);
}

#[test]
fn help_shows_what_to_type_next() {
    let o = run(&["--help"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert!(
        out.contains("dhi-verify image oci:testdata/demo:3.13 --key testdata/demo/cosign.pub"),
        "{out}"
    );
    assert!(out.contains("Exit codes"));
}

#[test]
fn keys_lists_the_embedded_dhi_keys() {
    let o = run(&["keys"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert!(out.contains("dhi-2  sha256:118ba556dd52f4aec67018efd316c285c783cd3e54cc0f4527605715c643887c  active"), "{out}");
    assert!(out.contains("dhi-1"));
}

#[test]
fn keyless_signatures_verify_with_identity_flags_and_the_instances_trusted_root() {
    use dhi_verify_testkit::{KeylessSigner, TestKey, TestRekor};
    let keyless = repo().join("testdata/keyless");
    let read = |p: &str| std::fs::read_to_string(keyless.join(p)).unwrap();
    let signer = KeylessSigner {
        rekor: TestRekor {
            key: TestKey::from_pem("rekor", &read("keys/rekor.key.pem")),
        },
        key: TestKey::from_pem("leaf", &read("keys/leaf.key.pem")),
        cert_pem: read("keys/leaf.crt.pem"),
        time: 1_735_689_630,
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = DhiImage::python()
        .with_keyless_bundles(signer)
        .write_layout(&dir.path().join("layout"));
    let identity =
        "https://github.com/example/dhi-demo/.github/workflows/build.yml@refs/heads/main";
    let run_with = |extra: &[&str]| {
        let mut c = bin();
        c.args([
            "image",
            &fixture.reference("3.13"),
            "--platform",
            "linux/amd64",
            "--trusted-root",
        ])
        .arg(keyless.join("trusted_root.json"));
        c.args(extra).output().unwrap()
    };
    let issuer = [
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
    ];
    let ok = run_with(&[&["--certificate-identity", identity][..], &issuer[..]].concat());
    assert_eq!(code(&ok), 0, "{}", stdout(&ok));
    assert!(
        stdout(&ok).contains(&format!("signed by {identity}")),
        "{}",
        stdout(&ok)
    );
    let regexp = run_with(
        &[
            &[
                "--certificate-identity-regexp",
                r"https://github\.com/example/.*",
            ][..],
            &issuer[..],
        ]
        .concat(),
    );
    assert_eq!(code(&regexp), 0);
    let unanchored = run_with(
        &[
            &["--certificate-identity-regexp", "example/dhi-demo"][..],
            &issuer[..],
        ]
        .concat(),
    );
    assert_eq!(code(&unanchored), 1);
    let no_issuer = run_with(&["--certificate-identity", identity]);
    assert_eq!(code(&no_issuer), 2);
}
