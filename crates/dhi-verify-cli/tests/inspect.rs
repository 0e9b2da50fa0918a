//! `dhi-verify sbom | provenance | vex | attestations` through the real binary:
//! verified content is printed, unverified content never is.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::Output;

use dhi_verify_testkit::{DhiImage, PredicateKind, Tamper};
use serde_json::Value;

fn run_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo(args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend([
        "oci:testdata/demo:3.13",
        "--key",
        "testdata/demo/cosign.pub",
        "--platform",
        "linux/amd64",
    ]);
    run_in(&repo(), &all)
}

fn out(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// A tampered image in a temp dir, and the arguments to inspect it.
struct Tampered {
    _dir: tempfile::TempDir,
    reference: String,
    key: String,
}

fn tampered(tamper: Tamper, target: PredicateKind) -> Tampered {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python().tamper(tamper).target(target);
    let f = image.write_layout(&dir.path().join("l"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    Tampered {
        reference: f.reference("3.13"),
        key: key.display().to_string(),
        _dir: dir,
    }
}

#[test]
fn sbom_prints_the_verified_inventory_as_a_table() {
    let o = demo(&["sbom"]);
    assert_eq!(o.status.code(), Some(0));
    let text = out(&o);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("openssl")
            && text.contains("pkg:deb/debian/openssl@3.5.1-1?distro=debian-13"),
        "{text}"
    );
}

#[test]
fn sbom_json_is_the_normalised_inventory_with_its_provenance() {
    let o = demo(&["sbom", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["platform"], "linux/amd64");
    assert_eq!(v["predicateType"], "https://cyclonedx.org/bom/v1.6");
    assert_eq!(v["signer"]["name"], "testdata/demo/cosign.pub");
    assert!(v["attestation"].as_str().unwrap().starts_with("sha256:"));
    assert!(v["predicate"].to_string().contains("libc6"));
}

#[test]
fn sbom_as_cyclonedx_or_spdx_is_the_verified_document_byte_for_byte() {
    for (format, needle) in [
        ("cyclonedx", "\"bomFormat\":\"CycloneDX\""),
        ("spdx", "\"spdxVersion\":\"SPDX-2.3\""),
    ] {
        let o = demo(&["sbom", "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{format}");
        let printed = out(&o);
        let document = printed.trim_end_matches('\n');
        assert!(document.contains(needle), "{document}");
        // The document is exactly the predicate text inside a statement of the demo layout.
        let found = std::fs::read_dir(repo().join("testdata/demo/blobs/sha256"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .any(|b| String::from_utf8_lossy(&b).contains(&format!("\"predicate\":{document}")));
        assert!(
            found,
            "{format} output is not byte-identical to a verified statement's predicate"
        );
    }
}

#[test]
fn a_document_format_needs_exactly_one_platform() {
    let o = run_in(
        &repo(),
        &[
            "sbom",
            "oci:testdata/demo:3.13",
            "--key",
            "testdata/demo/cosign.pub",
            "--all-platforms",
            "--format",
            "spdx",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

#[test]
fn an_unverified_sbom_is_never_printed() {
    let t = tampered(Tamper::Unsigned, PredicateKind::CycloneDx16);
    let o = run_in(
        &repo(),
        &[
            "sbom",
            &t.reference,
            "--key",
            &t.key,
            "--platform",
            "linux/amd64",
            "--format",
            "cyclonedx",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "{}", out(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unsigned"));
    // The SPDX SBOM is intact: asking for it works.
    let o = run_in(
        &repo(),
        &[
            "sbom",
            &t.reference,
            "--key",
            &t.key,
            "--platform",
            "linux/amd64",
            "--format",
            "spdx",
        ],
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn provenance_prints_builder_source_and_times() {
    let o = demo(&["provenance"]);
    assert_eq!(o.status.code(), Some(0));
    let text = out(&o);
    assert!(
        text.contains("builder      https://github.com/docker-hardened-images/builder"),
        "{text}"
    );
    assert!(text.contains("slsa         v1"), "{text}");
    assert!(text.contains("started      2026-09-23T07:51:02Z"), "{text}");
}

#[test]
fn provenance_prints_slsa_v0_2_like_v1() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python().kinds(&[PredicateKind::ProvenanceV02]);
    let f = image.write_layout(&dir.path().join("l"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let o = run_in(
        &repo(),
        &[
            "provenance",
            &f.reference("3.13"),
            "--key",
            key.to_str().unwrap(),
            "--platform",
            "linux/amd64",
        ],
    );
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("slsa         v0.2"), "{text}");
    assert!(
        text.contains("builder      https://github.com/docker-hardened-images/builder"),
        "{text}"
    );
    assert!(
        text.contains("https://github.com/docker-hardened-images/definitions.git"),
        "{text}"
    );
    assert!(text.contains("started      2026-09-23T07:51:02Z"), "{text}");
}

#[test]
fn an_unverified_provenance_is_never_printed() {
    let t = tampered(Tamper::StatementBytes, PredicateKind::ProvenanceV1);
    let o = run_in(
        &repo(),
        &[
            "provenance",
            &t.reference,
            "--key",
            &t.key,
            "--platform",
            "linux/amd64",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
}

#[test]
fn vex_prints_each_statement() {
    let o = demo(&["vex"]);
    assert_eq!(o.status.code(), Some(0));
    let text = out(&o);
    assert!(text.contains("CVE-2024-0001  not_affected  vulnerable_code_not_in_execute_path  pkg:generic/python@3.13.15"), "{text}");
}

#[test]
fn attestations_lists_each_and_fails_when_one_does_not_verify() {
    let o = demo(&["attestations"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out(&o).matches('✓').count(), 5);
    let t = tampered(Tamper::WrongKey, PredicateKind::OpenVex);
    let o = run_in(
        &repo(),
        &[
            "attestations",
            &t.reference,
            "--key",
            &t.key,
            "--platform",
            "linux/amd64",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let text = out(&o);
    assert_eq!(text.matches('✓').count(), 4, "{text}");
    assert!(text.contains("✗ OpenVEX v0.2.0"), "{text}");
}

#[test]
fn inspection_commands_refuse_require_and_image_refuses_document_formats() {
    assert_eq!(demo(&["sbom", "--require", "vex"]).status.code(), Some(2));
    assert_eq!(demo(&["vex", "--format", "spdx"]).status.code(), Some(2));
    assert_eq!(
        demo(&["image", "--format", "cyclonedx"]).status.code(),
        Some(2)
    );
}
