//! Policy files through the real binary: each rule passes and fails on
//! testkit layouts; malformed policies are usage errors naming field and position.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::process::Output;

use dhi_verify_testkit::{DhiImage, PredicateKind, Tamper};
use serde_json::Value;

/// Writes `image` and a policy (with `[trust] keys = [k.pub]` prepended) and
/// runs `dhi-verify image` with it; returns the output and the JSON verdict.
fn verify_with(image: &DhiImage, policy_body: &str, extra: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let f = image.write_layout(&dir.path().join("layout"));
    std::fs::write(dir.path().join("k.pub"), image.key.public_pem()).unwrap();
    let policy = format!("version = 1\n[trust]\nkeys = [{{ path = \"k.pub\" }}]\n{policy_body}");
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
    let mut args = vec![
        "image".to_owned(),
        f.reference("3.13"),
        "--format".into(),
        "json".into(),
        "--policy".into(),
    ];
    args.push(dir.path().join("policy.toml").display().to_string());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    if !extra.contains(&"--all-platforms") {
        args.extend(["--platform".to_owned(), "linux/amd64".to_owned()]);
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(&args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o, v)
}

/// The status of check `id` on the first platform.
fn status(v: &Value, id: &str) -> String {
    v["platforms"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {v:#}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs the policy against `image` and asserts check `id` ends with `expect` and the exit code follows.
fn expect(image: &DhiImage, body: &str, id: &str, expect: &str) {
    let (o, v) = verify_with(image, body, &[]);
    assert_eq!(status(&v, id), expect, "{body}\n{v:#}");
    let code = if expect == "pass" { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(code), "{body}\n{v:#}");
}

#[test]
fn provenance_builder_rule_passes_and_fails() {
    let i = DhiImage::python();
    expect(
        &i,
        "[provenance]\nbuilder-ids = [\"https://github.com/docker-hardened-images/*\"]\n",
        "provenance.builder",
        "pass",
    );
    expect(
        &i,
        "[provenance]\nbuilder-ids = [\"https://github.com/evil/*\"]\n",
        "provenance.builder",
        "fail",
    );
}

#[test]
fn provenance_source_and_build_type_rules_pass_and_fail() {
    let i = DhiImage::python();
    expect(
        &i,
        "[provenance]\nsource-repositories = [\"https://github.com/docker-hardened-images/*\"]\n",
        "provenance.source",
        "pass",
    );
    expect(
        &i,
        "[provenance]\nsource-repositories = [\"https://github.com/other/*\"]\n",
        "provenance.source",
        "fail",
    );
    expect(
        &i,
        "[provenance]\nbuild-types = [\"https://mobyproject.org/buildkit@v1\"]\n",
        "provenance.build-type",
        "pass",
    );
    expect(
        &i,
        "[provenance]\nbuild-types = [\"https://example.com/other\"]\n",
        "provenance.build-type",
        "fail",
    );
}

#[test]
fn provenance_age_rule_passes_and_fails() {
    // The testkit's build finished on 2026-09-23.
    let i = DhiImage::python();
    expect(
        &i,
        "[provenance]\nmax-age-days = 36500\n",
        "provenance.age",
        "pass",
    );
    let (_, v) = verify_with(&i, "[provenance]\nmax-age-days = 1\n", &[]);
    // The build is more than a day old (the machines' clocks are past 2026-09-24).
    assert_eq!(status(&v, "provenance.age"), "fail");
}

/// The testkit image with SLSA v0.2 provenance in place of v1.
fn python_with_slsa_v0_2() -> DhiImage {
    DhiImage::python().kinds(&[
        PredicateKind::ProvenanceV02,
        PredicateKind::CycloneDx16,
        PredicateKind::Spdx23,
    ])
}

#[test]
fn every_provenance_rule_passes_and_fails_on_slsa_v0_2() {
    let i = python_with_slsa_v0_2();
    for (body, id, want) in [
        (
            "builder-ids = [\"https://github.com/docker-hardened-images/*\"]",
            "provenance.builder",
            "pass",
        ),
        (
            "builder-ids = [\"https://github.com/evil/*\"]",
            "provenance.builder",
            "fail",
        ),
        (
            "build-types = [\"https://mobyproject.org/buildkit@v1\"]",
            "provenance.build-type",
            "pass",
        ),
        (
            "build-types = [\"https://example.com/other\"]",
            "provenance.build-type",
            "fail",
        ),
        (
            "source-repositories = [\"https://github.com/docker-hardened-images/*\"]",
            "provenance.source",
            "pass",
        ),
        (
            "source-repositories = [\"https://github.com/other/*\"]",
            "provenance.source",
            "fail",
        ),
        // the testkit's v0.2 configSource.uri names no ref: nothing to match
        ("source-refs = [\"*\"]", "provenance.source-ref", "fail"),
        ("max-age-days = 36500", "provenance.age", "pass"),
    ] {
        expect(&i, &format!("[provenance]\n{body}\n"), id, want);
    }
    let (_, v) = verify_with(&i, "[provenance]\nmax-age-days = 1\n", &[]);
    assert_eq!(status(&v, "provenance.age"), "fail");
}

#[test]
fn the_provenance_requirement_is_met_by_slsa_v0_2() {
    let (o, v) = verify_with(
        &python_with_slsa_v0_2(),
        "[require]\nattestations = [\"provenance\"]\n",
        &[],
    );
    assert_eq!(status(&v, "require.provenance"), "pass", "{v:#}");
    assert_eq!(o.status.code(), Some(0), "{v:#}");
}

#[test]
fn sbom_package_rules_pass_and_fail() {
    let i = DhiImage::python();
    expect(
        &i,
        "[sbom]\ndeny-packages = [\"pkg:deb/debian/bash@*\"]\n",
        "sbom.denied-packages",
        "pass",
    );
    expect(
        &i,
        "[sbom]\ndeny-packages = [\"pkg:deb/debian/openssl@*\"]\n",
        "sbom.denied-packages",
        "fail",
    );
    expect(
        &i,
        "[sbom]\nrequire-packages = [\"pkg:generic/python@3.13*\"]\n",
        "sbom.required-packages",
        "pass",
    );
    expect(
        &i,
        "[sbom]\nrequire-packages = [\"pkg:generic/node@*\"]\n",
        "sbom.required-packages",
        "fail",
    );
}

#[test]
fn sbom_license_rule_passes_and_fails() {
    let i = DhiImage::python();
    expect(
        &i,
        "[sbom]\ndeny-licenses = [\"AGPL-*\"]\n",
        "sbom.denied-licenses",
        "pass",
    );
    expect(
        &i,
        "[sbom]\ndeny-licenses = [\"LGPL-*\"]\n",
        "sbom.denied-licenses",
        "fail",
    );
}

fn scanned_image() -> DhiImage {
    let mut i = DhiImage::python().kinds(&[
        PredicateKind::ProvenanceV1,
        PredicateKind::CycloneDx16,
        PredicateKind::OpenVex,
        PredicateKind::Vulns,
    ]);
    i.vulnerabilities = vec![
        (
            "CVE-2024-9999".into(),
            "CRITICAL".into(),
            "pkg:deb/debian/openssl@3.5.1-1?distro=debian-13".into(),
        ),
        // The testkit's OpenVEX says CVE-2024-0001 does not affect python.
        (
            "CVE-2024-0001".into(),
            "HIGH".into(),
            "pkg:generic/python@3.13.15".into(),
        ),
        (
            "CVE-2024-0002".into(),
            "LOW".into(),
            "pkg:deb/debian/libc6@2.41-12?distro=debian-13".into(),
        ),
    ];
    i
}

#[test]
fn vulnerability_severity_rule_uses_vex_and_the_allow_list() {
    let i = scanned_image();
    expect(
        &i,
        "[vulnerabilities]\nmax-severity = \"high\"\n",
        "vulnerabilities.severity",
        "fail",
    );
    expect(
        &i,
        "[vulnerabilities]\nmax-severity = \"critical\"\n",
        "vulnerabilities.severity",
        "pass",
    );
    // Medium: the HIGH finding is suppressed by VEX, the CRITICAL one allowed until 2099.
    expect(
        &i,
        "[vulnerabilities]\nmax-severity = \"medium\"\nallow = [{ id = \"CVE-2024-9999\", expires = \"2099-01-01\" }]\n",
        "vulnerabilities.severity",
        "pass",
    );
    // An expired exception no longer allows it.
    expect(
        &i,
        "[vulnerabilities]\nmax-severity = \"medium\"\nallow = [{ id = \"CVE-2024-9999\", expires = \"2020-01-01\" }]\n",
        "vulnerabilities.severity",
        "fail",
    );
}

#[test]
fn a_severity_rule_without_a_verified_report_fails() {
    let i = DhiImage::python();
    expect(
        &i,
        "[vulnerabilities]\nmax-severity = \"critical\"\n",
        "vulnerabilities",
        "fail",
    );
}

#[test]
fn image_non_root_rule_passes_and_fails() {
    let mut root = DhiImage::python();
    root.user = "0".into();
    expect(&DhiImage::python(), "", "image.non-root", "pass");
    expect(&root, "", "image.non-root", "fail");
}

#[test]
fn image_runtime_variant_rule_passes_and_fails() {
    let mut dev = DhiImage::python();
    dev.variant = "dev".into();
    expect(
        &DhiImage::python(),
        "[image]\nruntime-variant = true\n",
        "image.runtime-variant",
        "pass",
    );
    expect(
        &dev,
        "[image]\nruntime-variant = true\n",
        "image.runtime-variant",
        "fail",
    );
}

#[test]
fn image_end_of_life_and_age_rules_pass_and_fail() {
    let mut eol = DhiImage::python();
    eol.end_of_life = "2020-01-01".into();
    expect(
        &DhiImage::python(),
        "[image]\nnot-end-of-life = true\n",
        "image.end-of-life",
        "pass",
    );
    expect(
        &eol,
        "[image]\nnot-end-of-life = true\n",
        "image.end-of-life",
        "fail",
    );
    expect(
        &DhiImage::python(),
        "[image]\nmax-age-days = 36500\n",
        "image.age",
        "pass",
    );
    expect(
        &DhiImage::python(),
        "[image]\nmax-age-days = 1\n",
        "image.age",
        "fail",
    );
}

#[test]
fn required_platforms_any_passes_when_one_platform_passes() {
    let i = DhiImage::python().tamper(Tamper::WrongKey);
    let (o, _) = verify_with(&i, "[require]\nplatforms = \"any\"\n", &["--all-platforms"]);
    assert_eq!(o.status.code(), Some(0));
    let (o, _) = verify_with(&i, "[require]\nplatforms = \"all\"\n", &["--all-platforms"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn the_policy_can_require_a_transparency_log_entry() {
    let (o, _) = verify_with(&DhiImage::python(), "tlog = \"always\"\n", &[]);
    assert_eq!(o.status.code(), Some(1));
}

fn check_policy(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["policy", "check"])
        .arg(&path)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn malformed_policies_are_usage_errors_naming_field_and_position() {
    for (text, needle) in [
        ("version = 1\n[image]\nshell = false\n", "p.toml:3:1: unknown field `shell`"),
        ("version = 1\n[image]\nnon-root = \"yes\"\n", "p.toml:3:12: invalid type"),
        ("version = 1\n[trust]\nidentities = [{ issuer = \"x\", subject-regexp = \"(\" }]\n", "p.toml:3:48: trust.identities[0].subject-regexp"),
        ("version = 1\n[trust]\nidentities = [{ issuer = \"x\", subject = \"y\",\n  source-ref-regexp = \"refs/(tags\" }]\n", "p.toml:4:23: trust.identities[0].source-ref-regexp"),
        ("version = 1\n[trust]\nidentities = [{ issuer = \"x\", subject = \"y\", source-branch = \"main\" }]\n", "p.toml:3:46: trust.identities[0].source-branch: unknown field"),
        ("version = 1\n[vulnerabilities]\nallow = [{ id = \"CVE-1\", expires = \"2026-02-30\" }]\n", "p.toml:3:36: vulnerabilities.allow[0].expires"),
        ("version = 1\n[require]\nattestations = [\"sbomm\"]\n", "p.toml:3:17: require.attestations[0]"),
        ("version = 2\n", "version: expected 1"),
        // `image` refuses it too (exit 2): it would pass any image
        ("version = 1\n[require]\nattestations = []\n", "requires no attestation type"),
        ("not toml at all", "p.toml:1:"),
    ] {
        let (code, stderr) = check_policy(text);
        assert_eq!(code, 2, "{text}");
        assert!(stderr.contains(needle), "{text}: {stderr}");
    }
}

#[test]
fn policy_init_writes_a_valid_policy_and_json_is_accepted() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["policy", "init"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (code, stderr) = check_policy(&String::from_utf8(o.stdout).unwrap());
    assert_eq!(code, 0, "{stderr}");
    let (code, _) = check_policy(
        r#"{"version": 1, "require": {"attestations": ["provenance"]}, "image": {"non-root": true}}"#,
    );
    assert_eq!(code, 0);
    let (code, stderr) = check_policy(r#"{"version": 1, "image": {"root": true}}"#);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown field `root`"), "{stderr}");
}
