//! Predicate parsers against real DHI documents and realistic tool output in
//! `testdata/predicates/`, plus malformed, truncated, nested and oversized input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // in tests a panic is a failed test

use dhi_verify::predicate::{
    parse_statement_predicate, predicate_kind, HashAlgorithm, ImageRelationship, JsonErrorCategory,
    Justification, Predicate, PredicateError, PredicateKind, PredicateLimits, Provenance, Sbom,
    SbomFormat, SlsaVersion, Vex, VexStatus, VulnerabilityReport,
};

const CDX: &str = "https://cyclonedx.org/bom";
const CDX16: &str = "https://cyclonedx.org/bom/v1.6";
const SPDX: &str = "https://spdx.dev/Document";
const SLSA02: &str = "https://slsa.dev/provenance/v0.2";
const SLSA1: &str = "https://slsa.dev/provenance/v1";
const VEX: &str = "https://openvex.dev/ns/v0.2.0";
const VULNS: &str = "https://in-toto.io/attestation/vulns/v0.1";
const SCOUT_VULNS: &str = "https://scout.docker.com/vulnerabilities/v0.1";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/../../testdata/predicates/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Wraps a predicate document in an in-toto Statement, as the attestation layer holds it.
fn statement(predicate_type: &str, predicate: &[u8]) -> Vec<u8> {
    let mut s = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"{predicate_type}","subject":[{{"name":"pkg:docker/dhi/python@3.13?platform=linux%2Famd64","digest":{{"sha256":"58a392f5dec3be5cb20a2495baca84ac785f237a2d2904c5b9cad7ba11f3e475"}}}}],"predicate":"#
    )
    .into_bytes();
    s.extend_from_slice(predicate);
    s.push(b'}');
    s
}

fn parse(predicate_type: &str, predicate: &[u8]) -> Result<Predicate, PredicateError> {
    parse_statement_predicate(
        predicate_type,
        &statement(predicate_type, predicate),
        &PredicateLimits::default(),
    )
}

fn sbom(predicate_type: &str, path: &str) -> Sbom {
    match parse(predicate_type, &fixture(path)).unwrap() {
        Predicate::Sbom(s) => s,
        other => panic!("not an SBOM: {other:?}"),
    }
}

fn provenance(predicate_type: &str, path: &str) -> Provenance {
    match parse(predicate_type, &fixture(path)).unwrap() {
        Predicate::Provenance(p) => p,
        other => panic!("not provenance: {other:?}"),
    }
}

fn vex(path: &str) -> Vex {
    match parse(VEX, &fixture(path)).unwrap() {
        Predicate::Vex(v) => v,
        other => panic!("not VEX: {other:?}"),
    }
}

fn vulns(predicate_type: &str, path: &str) -> VulnerabilityReport {
    match parse(predicate_type, &fixture(path)).unwrap() {
        Predicate::Vulnerabilities(v) => v,
        other => panic!("not a report: {other:?}"),
    }
}

fn package<'a>(sbom: &'a Sbom, name: &str) -> &'a dhi_verify::predicate::Package {
    sbom.packages
        .iter()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("no package {name}"))
}

// ---------------------------------------------------------------- SPDX

#[test]
fn dhi_in_image_spdx_names_the_image_as_subject() {
    let s = sbom(SPDX, "sbom/dhi/dhi-python.spdx.json");
    assert_eq!(
        (s.format, s.spec_version.as_str()),
        (SbomFormat::Spdx, "2.3")
    );
    assert_eq!(s.packages.len(), 1);
    let p = &s.packages[0];
    assert_eq!(p.name(), "dhi/python");
    assert_eq!(p.version(), Some("3.14.3-debian13-dev"));
    assert_eq!(
        p.purl(),
        Some("pkg:docker/dhi/python@3.14.3-debian13-dev?platform=linux%2Famd64&os_name=debian&os_version=13")
    );
    assert_eq!(p.package_type(), Some("docker"));
    assert_eq!(p.purpose(), Some("container"));
    assert!(
        p.licenses().len() == 0,
        "NOASSERTION is not a license: {:?}",
        p.licenses().collect::<Vec<_>>()
    );
    assert_eq!(p.supplier(), Some("Docker, Inc."));
    // the document and the package share SPDXRef-dhi-python
    assert_eq!(p.relationship, ImageRelationship::Subject);
    assert_eq!(s.subjects().count(), 1);
}

#[test]
fn dhi_in_image_spdx_keeps_declared_license_and_drops_noassertion() {
    let s = sbom(SPDX, "sbom/dhi/python.spdx.json");
    let p = package(&s, "python");
    assert_eq!(p.licenses().collect::<Vec<_>>(), ["PSF-2.0"]);
    assert_eq!(p.purl(), Some("pkg:dhi/python@3.14.2"));
    assert_eq!(p.package_type(), Some("dhi"));
    assert_eq!(p.supplier(), None);
}

#[test]
fn spdx_2_2_from_syft_with_null_checksums_parses() {
    let s = sbom(SPDX, "sbom/spdx/syft-2.2-alpine.spdx.json");
    assert_eq!(s.spec_version, "2.2");
    let apk = package(&s, "apk-tools");
    assert!(apk.hashes().len() == 0);
    // 2.2 spells the category PACKAGE_MANAGER
    assert_eq!(
        apk.purl(),
        Some("pkg:alpine/apk-tools@2.12.7-r3?arch=x86_64&upstream=apk-tools&distro=alpine-3.15.0")
    );
    assert_eq!(
        apk.licenses().collect::<Vec<_>>(),
        ["GPL-2.0-only"],
        "licenseConcluded NONE is dropped"
    );
    assert_eq!(
        apk.supplier(),
        Some("Natanael Copa <ncopa@alpinelinux.org>"),
        "originator as fallback"
    );
    assert_eq!(
        apk.relationship,
        ImageRelationship::Unknown,
        "relationships: null"
    );
    let ca = package(&s, "ca-certificates-bundle");
    assert_eq!(ca.licenses().collect::<Vec<_>>(), ["MPL-2.0 AND MIT"]);
    assert_eq!(
        ca.supplier(),
        None,
        "supplier null and originator NOASSERTION"
    );
}

#[test]
fn spdx_2_3_from_trivy_with_operating_system_and_persistent_id_parses() {
    let s = sbom(SPDX, "sbom/spdx/trivy-2.3-debian.spdx.json");
    assert_eq!(s.packages.len(), 4);
    let image = package(&s, "debian:12");
    assert_eq!(image.relationship, ImageRelationship::Subject);
    assert_eq!(image.package_type(), Some("oci"));
    let os = package(&s, "debian");
    assert_eq!(os.purpose(), Some("operating-system"));
    assert_eq!(os.relationship, ImageRelationship::Direct);
    let libc = package(&s, "libc6");
    assert_eq!(
        libc.purl(),
        Some("pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12.5")
    );
    assert_eq!(
        libc.licenses().collect::<Vec<_>>(),
        ["LGPL-2.1 AND GPL-2.0"],
        "declared = concluded, kept once"
    );
    assert_eq!(
        libc.supplier(),
        Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
    );
    assert_eq!(libc.relationship, ImageRelationship::Transitive);
    let bash = package(&s, "bash");
    assert_eq!(bash.licenses().collect::<Vec<_>>(), ["GPL-3.0-or-later"]);
    assert_eq!(bash.supplier(), None);
    assert_eq!(bash.hashes().len(), 1);
    assert_eq!(
        bash.hashes().collect::<Vec<_>>()[0].algorithm,
        HashAlgorithm::Sha1
    );
    assert_eq!(
        bash.hashes().collect::<Vec<_>>()[0].value,
        "d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5"
    );
}

#[test]
fn spdx_2_3_from_buildkit_syft_scanner_relates_packages_to_the_document_root() {
    let s = sbom(SPDX, "sbom/spdx/buildkit-syft-2.3-alpine.spdx.json");
    assert_eq!(package(&s, "/").relationship, ImageRelationship::Subject);
    let busybox = package(&s, "busybox");
    assert_eq!(busybox.relationship, ImageRelationship::Direct);
    assert_eq!(
        busybox.supplier(),
        Some("Sören Tempel <soeren+alpine@soeren-tempel.net>")
    );
    assert_eq!(busybox.package_type(), Some("apk"));
    let bk = package(&s, "github.com/moby/buildkit");
    assert_eq!(bk.package_type(), Some("golang"));
    assert!(bk.licenses().len() == 0);
    assert_eq!(
        bk.hashes().collect::<Vec<_>>()[0].algorithm,
        HashAlgorithm::Sha256
    );
    assert_eq!(
        bk.hashes().collect::<Vec<_>>()[0].value,
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
}

#[test]
fn spdx_3_json_ld_is_refused_as_unsupported_version() {
    let doc = br#"{"@context":"https://spdx.org/rdf/3.0.1/spdx-context.jsonld","@graph":[]}"#;
    let err = parse(SPDX, doc).unwrap_err();
    assert!(
        matches!(&err, PredicateError::UnsupportedVersion { what: "SPDX version", found, .. } if found == "(missing)"),
        "{err:?}"
    );
    let err = parse(SPDX, br#"{"spdxVersion":"SPDX-2.1","packages":[]}"#).unwrap_err();
    assert!(
        matches!(&err, PredicateError::UnsupportedVersion { found, .. } if found == "SPDX-2.1"),
        "{err:?}"
    );
}

#[test]
fn spdx_with_packages_of_the_wrong_type_is_a_data_error_with_position() {
    let err = parse(SPDX, br#"{"spdxVersion":"SPDX-2.3","packages":"zlib"}"#).unwrap_err();
    match err {
        PredicateError::Json {
            category,
            line,
            column,
            ref message,
            ..
        } => {
            assert_eq!(category, JsonErrorCategory::Data);
            assert_eq!(line, 1);
            assert!(column > 0);
            assert!(message.contains("expected a list of packages"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- CycloneDX

#[test]
fn cyclonedx_1_4_from_syft_lists_subject_components_and_files() {
    let s = sbom(CDX, "sbom/cyclonedx/syft-1.4-alpine.cdx.json");
    assert_eq!(
        (s.format, s.spec_version.as_str()),
        (SbomFormat::CycloneDx, "1.4")
    );
    assert_eq!(s.packages.len(), 5);
    assert_eq!(s.packages[0].name(), "alpine:3.17");
    assert_eq!(s.packages[0].relationship, ImageRelationship::Subject);
    let busybox = package(&s, "busybox");
    assert_eq!(busybox.licenses().collect::<Vec<_>>(), ["GPL-2.0-only"]);
    assert_eq!(
        busybox.supplier(),
        Some("Sören Tempel <soeren+alpine@soeren-tempel.net>"),
        "publisher"
    );
    assert_eq!(busybox.package_type(), Some("apk"));
    assert_eq!(
        busybox.relationship,
        ImageRelationship::Unknown,
        "syft 0.80 writes no dependencies"
    );
    assert_eq!(
        package(&s, "musl").licenses().collect::<Vec<_>>(),
        ["MIT"],
        "expression form"
    );
    let file = package(&s, "/lib/apk/db/installed");
    assert_eq!(file.purl(), None);
    assert_eq!(file.purpose(), Some("file"));
    assert_eq!(file.hashes().len(), 2);
    assert_eq!(
        file.hashes().collect::<Vec<_>>()[0].algorithm,
        HashAlgorithm::Sha1
    );
    assert_eq!(
        file.hashes().collect::<Vec<_>>()[0].value,
        "4a3c9d1e2f0b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
    );
}

#[test]
fn cyclonedx_1_5_from_trivy_follows_the_dependency_graph() {
    let s = sbom(CDX, "sbom/cyclonedx/trivy-1.5-debian.cdx.json");
    assert_eq!(s.spec_version, "1.5");
    assert_eq!(s.packages[0].relationship, ImageRelationship::Subject);
    assert_eq!(
        package(&s, "debian").relationship,
        ImageRelationship::Direct
    );
    let libc = package(&s, "libc6");
    assert_eq!(libc.relationship, ImageRelationship::Transitive);
    assert_eq!(libc.licenses().collect::<Vec<_>>(), ["LGPL-2.1", "GPL-2.0"]);
    assert_eq!(
        libc.supplier(),
        Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
    );
    assert_eq!(
        package(&s, "zlib1g").relationship,
        ImageRelationship::Transitive
    );
}

#[test]
fn cyclonedx_1_6_from_trivy_normalises_licenses() {
    let s = sbom(CDX16, "sbom/cyclonedx/trivy-1.6-node.cdx.json");
    let crypto = package(&s, "libcrypto3");
    assert_eq!(
        crypto.licenses().collect::<Vec<_>>(),
        ["Apache-2.0", "LicenseRef-Artistic-License--Perl-"]
    );
    assert_eq!(
        crypto.hashes().collect::<Vec<_>>()[0].value,
        "0123456789abcdef0123456789abcdef01234567"
    );
}

#[test]
fn cyclonedx_1_6_nested_components_are_flattened_with_their_group() {
    let s = sbom(CDX16, "sbom/cyclonedx/trivy-1.6-node.cdx.json");
    assert_eq!(s.packages.len(), 5);
    let arborist = package(&s, "@npmcli/arborist");
    assert_eq!(arborist.purl(), Some("pkg:npm/%40npmcli/arborist@8.0.0"));
    assert_eq!(arborist.package_type(), Some("npm"));
    assert_eq!(arborist.licenses().collect::<Vec<_>>(), ["ISC"]);
    assert!(arborist.hashes().len() == 0, "hashes: null");
    assert_eq!(
        package(&s, "node-pkg").relationship,
        ImageRelationship::Direct
    );
    assert_eq!(
        arborist.relationship,
        ImageRelationship::Transitive,
        "child of a direct component"
    );
}

#[test]
fn cyclonedx_1_6_with_mixed_license_forms_and_nulls_parses() {
    let s = sbom(CDX16, "sbom/cyclonedx/syft-1.6-dhi-like.cdx.json");
    let image = &s.packages[0];
    assert_eq!(
        (image.name(), image.relationship),
        ("dhi/python", ImageRelationship::Subject)
    );
    assert_eq!(image.supplier(), Some("Docker, Inc."));
    let ssl = package(&s, "libssl3t64");
    assert_eq!(
        ssl.licenses().collect::<Vec<_>>(),
        ["Apache-2.0", "Apache-2.0 AND BSD-3-Clause"]
    );
    assert_eq!(ssl.relationship, ImageRelationship::Direct);
    let python = package(&s, "python");
    assert_eq!(
        python.hashes().collect::<Vec<_>>()[0].value,
        "c0ffee00000000000000000000000000000000000000000000000000000000aa"
    );
    let vendored = package(&s, "vendored-thing");
    assert_eq!(
        (vendored.purl(), vendored.version(), vendored.package_type()),
        (None, None, None)
    );
    assert!(vendored.licenses().len() == 0);
    assert_eq!(vendored.relationship, ImageRelationship::Unknown);
}

#[test]
fn cyclonedx_subject_comes_first_even_when_metadata_follows_the_components() {
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5",
      "components":[{"bom-ref":"a","name":"a","components":[{"bom-ref":"a1","name":"a1"}]},{"bom-ref":"b","name":"b"}],
      "dependencies":[{"ref":"img","dependsOn":["a"]}],
      "metadata":{"component":{"bom-ref":"img","type":"container","name":"img","components":[{"bom-ref":"layer","name":"layer"}]}}}"#;
    let Predicate::Sbom(s) = parse(CDX, doc).unwrap() else {
        panic!()
    };
    let names: Vec<&str> = s.packages.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["img", "layer", "a", "a1", "b"]);
    let rel: Vec<ImageRelationship> = s.packages.iter().map(|p| p.relationship).collect();
    use ImageRelationship::{Direct, Subject, Transitive, Unknown};
    assert_eq!(rel, [Subject, Direct, Direct, Transitive, Unknown]);
}

#[test]
fn cyclonedx_spec_version_outside_1_x_is_unsupported() {
    for (doc, found) in [
        (
            &br#"{"bomFormat":"CycloneDX","specVersion":"2.0","components":[]}"#[..],
            "2.0",
        ),
        (br#"{"bomFormat":"CycloneDX","components":[]}"#, "(missing)"),
    ] {
        let err = parse(CDX, doc).unwrap_err();
        assert!(
            matches!(&err, PredicateError::UnsupportedVersion { what: "CycloneDX specVersion", found: f, .. } if f == found),
            "{err:?}"
        );
    }
}

#[test]
fn cyclonedx_with_another_bom_format_is_rejected() {
    let err = parse(CDX, br#"{"bomFormat":"SPDX","specVersion":"1.6"}"#).unwrap_err();
    assert_eq!(
        err,
        PredicateError::InvalidValue {
            path: "predicate.bomFormat".into(),
            expected: "\"CycloneDX\"",
            found: "SPDX".into()
        }
    );
}

#[test]
fn cyclonedx_component_name_of_the_wrong_type_is_a_data_error() {
    let doc = b"{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\",\n\"components\":[{\"type\":\"library\",\"name\":42}]}";
    let err = parse(CDX, doc).unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::Json {
                category: JsonErrorCategory::Data,
                line: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_cyclonedx_is_a_truncation_error() {
    let doc = fixture("sbom/cyclonedx/trivy-1.5-debian.cdx.json");
    let st = statement(CDX, &doc);
    let cut = &st[..st.len() / 2];
    let err = parse_statement_predicate(CDX, cut, &PredicateLimits::default()).unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::Json {
                category: JsonErrorCategory::Eof,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn deeply_nested_cyclonedx_components_are_refused_without_overflowing_the_stack() {
    let mut doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":["#.to_vec();
    for _ in 0..100_000 {
        doc.extend_from_slice(br#"{"name":"x","components":["#);
    }
    for _ in 0..100_000 {
        doc.extend_from_slice(b"]}");
    }
    doc.extend_from_slice(b"]}");
    let err = parse(CDX, &doc).unwrap_err();
    assert!(
        matches!(err, PredicateError::TooDeep { max_depth: 128, .. }),
        "{err:?}"
    );
}

#[test]
fn sbom_package_limit_is_enforced_at_limit_plus_one() {
    let doc = fixture("sbom/cyclonedx/trivy-1.6-node.cdx.json"); // 5 packages incl. subject and nested
    let st = statement(CDX, &doc);
    let at = PredicateLimits::default().with_max_packages(5);
    assert!(parse_statement_predicate(CDX, &st, &at).is_ok());
    let below = PredicateLimits::default().with_max_packages(4);
    let err = parse_statement_predicate(CDX, &st, &below).unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::TooMany {
                what: "SBOM packages",
                max: 4,
                found: 5
            }
        ),
        "{err:?}"
    );

    let doc = fixture("sbom/spdx/trivy-2.3-debian.spdx.json"); // 4 packages
    let st = statement(SPDX, &doc);
    assert!(
        parse_statement_predicate(SPDX, &st, &PredicateLimits::default().with_max_packages(4))
            .is_ok()
    );
    let err =
        parse_statement_predicate(SPDX, &st, &PredicateLimits::default().with_max_packages(3))
            .unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::TooMany {
                max: 3,
                found: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn sbom_statement_without_predicate_is_missing_predicate() {
    let st = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","predicateType":"{CDX16}","subject":[]}}"#
    );
    let err =
        parse_statement_predicate(CDX16, st.as_bytes(), &PredicateLimits::default()).unwrap_err();
    assert_eq!(
        err,
        PredicateError::MissingPredicate {
            predicate_type: CDX16.into()
        }
    );
}

#[test]
fn spdx_document_describes_names_the_subject_without_relationships() {
    let doc = br#"{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","documentDescribes":["SPDXRef-img"],
      "packages":[{"SPDXID":"SPDXRef-lib","name":"lib"},{"SPDXID":"SPDXRef-img","name":"img"}],
      "relationships":[{"spdxElementId":"SPDXRef-lib","relationshipType":"CONTAINED_BY","relatedSpdxElement":"SPDXRef-img"}]}"#;
    let Predicate::Sbom(s) = parse(SPDX, doc).unwrap() else {
        panic!()
    };
    assert_eq!(package(&s, "img").relationship, ImageRelationship::Subject);
    assert_eq!(
        package(&s, "lib").relationship,
        ImageRelationship::Direct,
        "inverse edge"
    );
}

#[test]
fn sbom_with_null_predicate_is_missing_predicate() {
    let st = format!(r#"{{"predicateType":"{SPDX}","predicate":null}}"#);
    let err =
        parse_statement_predicate(SPDX, st.as_bytes(), &PredicateLimits::default()).unwrap_err();
    assert_eq!(
        err,
        PredicateError::MissingPredicate {
            predicate_type: SPDX.into()
        }
    );
}

#[test]
fn statement_whose_predicate_type_differs_from_the_manifest_is_rejected() {
    let st = statement(CDX16, &fixture("sbom/cyclonedx/trivy-1.6-node.cdx.json"));
    let err = parse_statement_predicate(SPDX, &st, &PredicateLimits::default()).unwrap_err();
    assert_eq!(
        err,
        PredicateError::PredicateTypeMismatch {
            expected: SPDX.into(),
            found: CDX16.into()
        }
    );
}

#[test]
fn statement_over_the_size_limit_is_rejected() {
    let st = statement(CDX16, &fixture("sbom/cyclonedx/trivy-1.6-node.cdx.json"));
    let limits = PredicateLimits::default().with_max_statement_bytes(st.len() - 1);
    let err = parse_statement_predicate(CDX16, &st, &limits).unwrap_err();
    assert_eq!(
        err,
        PredicateError::StatementTooLarge {
            max: st.len() - 1,
            found: st.len()
        }
    );
    let limits = PredicateLimits::default().with_max_statement_bytes(st.len());
    assert!(parse_statement_predicate(CDX16, &st, &limits).is_ok());
}

// ---------------------------------------------------------------- provenance

#[test]
fn slsa_v0_2_from_buildkit_summarises_source_materials_and_times() {
    let p = provenance(SLSA02, "provenance/buildkit-slsa-v0.2.json");
    assert_eq!(p.slsa_version, SlsaVersion::V0_2);
    assert_eq!(
        p.builder_id.as_deref(),
        Some("https://github.com/docker/buildx/actions/runs/12345678/attempts/1")
    );
    assert_eq!(
        p.build_type.as_deref(),
        Some("https://mobyproject.org/buildkit@v1")
    );
    let src = p.source.as_ref().unwrap();
    assert_eq!(src.repository, "https://github.com/moby/buildkit.git");
    assert_eq!(src.reference.as_deref(), Some("refs/tags/v0.17.0"));
    assert_eq!(
        src.commit.as_deref(),
        Some("b8d4e9a7b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6")
    );
    assert_eq!(p.entry_point.as_deref(), Some("Dockerfile"));
    assert_eq!(p.dependencies.len(), 3);
    assert_eq!(
        p.dependencies[1].uri.as_deref(),
        Some("pkg:docker/debian@bookworm-slim?platform=linux%2Famd64")
    );
    assert_eq!(
        p.dependencies[1].digests.get("sha256").map(String::as_str),
        Some("ad86386827b083b3d71139050b47ffb32bbd9559ea9b1345a739b14fec2d9ecf")
    );
    assert_eq!(
        p.started_on.as_ref().unwrap().as_str(),
        "2024-11-05T09:28:01.123456789Z"
    );
    assert_eq!(
        p.finished_on.as_ref().unwrap().as_str(),
        "2024-11-05T09:31:47.987654321Z"
    );
}

#[test]
fn slsa_v1_from_buildkit_summarises_the_dhi_build() {
    let p = provenance(SLSA1, "provenance/buildkit-slsa-v1.json");
    assert_eq!(p.slsa_version, SlsaVersion::V1);
    assert_eq!(
        p.builder_id.as_deref(),
        Some("https://github.com/docker-hardened-images/catalog/.github/workflows/build.yml@refs/heads/main")
    );
    assert_eq!(
        p.build_type.as_deref(),
        Some("https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md")
    );
    let src = p.source.as_ref().unwrap();
    assert_eq!(
        src.repository,
        "https://github.com/docker-hardened-images/catalog.git"
    );
    assert_eq!(src.reference.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        src.commit.as_deref(),
        Some("2f0e4c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f")
    );
    assert_eq!(
        p.entry_point.as_deref(),
        Some("image/python/3.13/debian-13/Dockerfile")
    );
    assert_eq!(p.dependencies.len(), 3);
    assert_eq!(
        p.started_on.as_ref().unwrap().as_str(),
        "2025-09-01T12:00:03.5Z"
    );
}

#[test]
fn slsa_v1_from_a_local_context_takes_the_source_from_buildkit_vcs_metadata() {
    let p = provenance(SLSA1, "provenance/buildkit-slsa-v1-local-context.json");
    assert_eq!(
        p.builder_id, None,
        "BuildKit writes an empty builder id outside CI"
    );
    let src = p.source.as_ref().unwrap();
    assert_eq!(src.repository, "https://github.com/octo/app.git");
    assert_eq!(src.reference, None);
    assert_eq!(
        src.commit.as_deref(),
        Some("7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b")
    );
    assert_eq!(p.entry_point.as_deref(), Some("Dockerfile"));
}

#[test]
fn slsa_v1_from_the_github_generator_reads_workflow_parameters() {
    let p = provenance(SLSA1, "provenance/github-generator-slsa-v1.json");
    let src = p.source.as_ref().unwrap();
    assert_eq!(src.repository, "https://github.com/octo/app");
    assert_eq!(src.reference.as_deref(), Some("refs/tags/v1.2.3"));
    assert_eq!(
        src.commit.as_deref(),
        Some("c27d339ee6075c1f744c5d4b200f7901aad2c369")
    );
    assert_eq!(
        p.entry_point.as_deref(),
        Some(".github/workflows/release.yml")
    );
    assert_eq!(
        (p.started_on.as_ref(), p.finished_on.as_ref()),
        (None, None)
    );
}

/// A real statement from `testdata/predicates/provenance/slsa-github-generator/`, parsed whole.
fn generator_statement(version: &str) -> Provenance {
    let bytes = fixture(&format!(
        "provenance/slsa-github-generator/{version}.statement.json"
    ));
    match parse_statement_predicate(SLSA02, &bytes, &PredicateLimits::default()).unwrap() {
        Predicate::Provenance(p) => p,
        other => panic!("not provenance: {other:?}"),
    }
}

#[test]
fn slsa_v0_2_from_the_github_generator_is_read_field_by_field() {
    // (version, source ref, commit)
    for (version, reference, commit) in [
        (
            "v1.4.0",
            "refs/heads/main",
            "904e2c3e02725e314cf6cf141c4700081298dcbd",
        ),
        (
            "v1.7.0",
            "refs/heads/main",
            "62cb1f1e485829bafe8bbec8b9900c0cb7624fe7",
        ),
        (
            "v2.0.0",
            "refs/tags/v13.0.30",
            "693130cb6cb840a7bc9cb18c6510d536a95dc7e6",
        ),
    ] {
        let p = generator_statement(version);
        assert_eq!(p.slsa_version, SlsaVersion::V0_2, "{version}");
        assert_eq!(
            p.builder_id,
            Some(format!("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/{version}")),
        );
        assert_eq!(
            p.build_type.as_deref(),
            Some("https://github.com/slsa-framework/slsa-github-generator/container@v1"),
            "{version}"
        );
        // configSource.uri `git+https://github.com/o/r@<ref>` gives the same
        // repository form as v1's `externalParameters.workflow.repository`.
        let src = p.source.as_ref().unwrap();
        assert_eq!(
            src.repository, "https://github.com/slsa-framework/example-package",
            "{version}"
        );
        assert_eq!(src.reference.as_deref(), Some(reference), "{version}");
        assert_eq!(src.commit.as_deref(), Some(commit), "{version}");
        assert_eq!(
            p.entry_point.as_deref(),
            Some(".github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml"),
            "{version}"
        );
        assert_eq!(p.dependencies.len(), 1, "{version}");
        assert_eq!(
            p.dependencies[0].uri,
            Some(format!(
                "git+https://github.com/slsa-framework/example-package@{reference}"
            )),
        );
        assert_eq!(
            p.dependencies[0].digests.get("sha1").map(String::as_str),
            Some(commit),
            "{version}"
        );
        // The generator writes no build times.
        assert_eq!(
            (p.started_on.as_ref(), p.finished_on.as_ref()),
            (None, None),
            "{version}"
        );
    }
}

#[test]
fn slsa_v0_2_and_v1_from_the_github_generator_give_the_same_source_shape() {
    let v02 = generator_statement("v2.0.0");
    let v1 = provenance(SLSA1, "provenance/github-generator-slsa-v1.json");
    let (a, b) = (v02.source.unwrap(), v1.source.unwrap());
    // both `https://github.com/<owner>/<repo>`, no `git+`, no `.git`, ref apart
    for s in [&a, &b] {
        assert!(s.repository.starts_with("https://github.com/"), "{s:?}");
        assert!(!s.repository.contains('@'), "{s:?}");
        assert!(
            s.reference.as_deref().unwrap().starts_with("refs/"),
            "{s:?}"
        );
        assert_eq!(s.commit.as_deref().map(str::len), Some(40), "{s:?}");
    }
}

#[test]
fn slsa_v0_1_takes_the_source_from_the_material_the_recipe_names() {
    const SLSA01: &str = "https://slsa.dev/provenance/v0.1";
    let p = provenance(SLSA01, "provenance/slsa-v0.1.json");
    assert_eq!(p.slsa_version, SlsaVersion::V0_1);
    assert_eq!(
        p.builder_id.as_deref(),
        Some("https://github.com/Attestations/GitHubHostedActions@v1")
    );
    assert_eq!(
        p.build_type.as_deref(),
        Some("https://github.com/Attestations/GitHubActionsWorkflow@v1")
    );
    let src = p.source.as_ref().unwrap();
    assert_eq!(src.repository, "https://github.com/curl/curl-docker");
    assert_eq!(src.reference.as_deref(), Some("master"));
    assert_eq!(
        src.commit.as_deref(),
        Some("d6525c840a62b398424a78d792f457477135d0cf")
    );
    assert_eq!(p.entry_point.as_deref(), Some("build.yaml:maketgz"));
    assert_eq!(p.dependencies.len(), 2);
    assert_eq!(
        p.finished_on.as_ref().unwrap().as_str(),
        "2021-09-01T12:04:30Z"
    );
    // an index past the materials names no source
    let p = match parse(
        SLSA01,
        br#"{"recipe":{"definedInMaterial":5},"materials":[{"uri":"git+https://x/y@main"}]}"#,
    )
    .unwrap()
    {
        Predicate::Provenance(p) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(p.source, None);
}

#[test]
fn slsa_v0_2_fields_of_the_wrong_type_are_data_errors() {
    for doc in [
        &br#"{"builder":{"id":42}}"#[..],
        br#"{"builder":"https://github.com/x"}"#,
        br#"{"buildType":["a"]}"#,
        br#"{"invocation":{"configSource":{"uri":{"x":1}}}}"#,
        br#"{"invocation":{"configSource":{"digest":{"sha1":7}}}}"#,
        br#"{"metadata":{"buildFinishedOn":1700000000}}"#,
    ] {
        let err = parse(SLSA02, doc).unwrap_err();
        assert!(
            matches!(
                err,
                PredicateError::Json {
                    category: JsonErrorCategory::Data,
                    ..
                }
            ),
            "{}: {err:?}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn provenance_with_a_non_rfc3339_time_names_the_field() {
    let doc =
        br#"{"builder":{"id":"x"},"metadata":{"buildStartedOn":"Tue Nov 5 09:28:01 UTC 2024"}}"#;
    let err = parse(SLSA02, doc).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { path, expected: "an RFC 3339 date-time", .. } if path == "predicate.metadata.buildStartedOn"),
        "{err:?}"
    );
}

#[test]
fn slsa_v1_without_build_definition_is_rejected() {
    let err = parse(SLSA1, br#"{"runDetails":{"builder":{"id":"x"}}}"#).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { path, .. } if path == "predicate.buildDefinition"),
        "{err:?}"
    );
}

#[test]
fn slsa_v0_2_materials_as_an_object_is_a_data_error() {
    let err = parse(SLSA02, br#"{"materials":{"uri":"x"}}"#).unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::Json {
                category: JsonErrorCategory::Data,
                ..
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- OpenVEX

#[test]
fn dhi_loki_vex_says_aws_sdk_go_is_not_affected_by_cve_2020_8912() {
    let v = vex("vex/dhi-loki.vex.json");
    assert_eq!(
        v.author.as_deref(),
        Some("Docker Hardened Images <dhi@docker.com>")
    );
    assert_eq!(v.version.as_deref(), Some("1"));
    assert_eq!(v.statements.len(), 2);
    let s = v
        .status_for(
            "CVE-2020-8912",
            "pkg:golang/github.com/aws/aws-sdk-go@1.55.6",
        )
        .unwrap();
    assert_eq!(s.status, VexStatus::NotAffected);
    assert_eq!(
        s.justification,
        Some(Justification::VulnerableCodeNotInExecutePath)
    );
    assert_eq!(
        s.status_notes.as_deref(),
        Some("Vulnerable code isn't called")
    );
    assert_eq!(
        s.timestamp.as_ref().unwrap().as_str(),
        "2025-08-06T07:53:50.468Z"
    );
    assert_eq!(s.products.len(), 3);
    assert_eq!(s.products[2].id.as_deref(), Some("pkg:oci/dhi%2Floki"));
    assert_eq!(
        s.products[0].subcomponents,
        ["pkg:golang/github.com/aws/aws-sdk-go@1.55.6"]
    );
}

#[test]
fn vex_query_ignores_extra_qualifiers_but_not_another_version() {
    let v = vex("vex/dhi-loki.vex.json");
    assert!(v
        .status_for(
            "CVE-2020-8911",
            "pkg:golang/github.com/aws/aws-sdk-go@1.55.6?type=module"
        )
        .is_some());
    assert!(
        v.status_for(
            "cve-2020-8911",
            "pkg:golang/github.com/aws/aws-sdk-go@1.55.6"
        )
        .is_some(),
        "case-insensitive id"
    );
    assert!(v
        .status_for(
            "CVE-2020-8911",
            "pkg:golang/github.com/aws/aws-sdk-go@1.55.7"
        )
        .is_none());
    assert!(v
        .status_for(
            "CVE-2020-8911",
            "pkg:golang/github.com/aws/aws-sdk-go-v2@1.55.6"
        )
        .is_none());
    assert!(v
        .status_for(
            "CVE-2099-0001",
            "pkg:golang/github.com/aws/aws-sdk-go@1.55.6"
        )
        .is_none());
}

#[test]
fn vex_versionless_image_product_covers_the_image_at_any_version() {
    let v = vex("vex/dhi-trivy.vex.json");
    let s = v
        .status_for(
            "CVE-2020-8552",
            "pkg:docker/dhi/trivy@0.66.0?platform=linux%2Famd64",
        )
        .unwrap();
    assert_eq!(
        s.justification,
        Some(Justification::InlineMitigationsAlreadyExist)
    );
    assert!(v
        .status_for("CVE-2020-8552", "pkg:oci/dhi%2Ftrivy@sha256%3Aabc")
        .is_some());
}

/// "Latest" is by instant, not by text: a statement stamped `10:00+09:00`
/// was made before one stamped `05:00Z`. Read as text, an older
/// `not_affected` would win and suppress the finding in a policy.
#[test]
fn vex_latest_statement_is_by_instant_across_offsets_and_fractions() {
    let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","timestamp":"2025-01-01T00:00:00Z","statements":[
      {"vulnerability":{"name":"CVE-2025-0001"},"timestamp":"2025-03-01T05:00:00Z",
       "products":[{"@id":"pkg:deb/debian/openssl"}],"status":"affected","action_statement":"upgrade"},
      {"vulnerability":{"name":"CVE-2025-0001"},"timestamp":"2025-03-01T10:00:00+09:00",
       "products":[{"@id":"pkg:deb/debian/openssl"}],"status":"not_affected","justification":"component_not_present"},
      {"vulnerability":{"name":"CVE-2025-0002"},"timestamp":"2025-03-01T05:00:00.25Z",
       "products":[{"@id":"pkg:deb/debian/openssl"}],"status":"fixed"},
      {"vulnerability":{"name":"CVE-2025-0002"},"timestamp":"2025-03-01T05:00:00.1Z",
       "products":[{"@id":"pkg:deb/debian/openssl"}],"status":"affected","action_statement":"upgrade"}
    ]}"#;
    let Predicate::Vex(v) = parse(VEX, doc).unwrap() else {
        panic!()
    };
    let purl = "pkg:deb/debian/openssl@3.5.1-1?arch=amd64";
    assert_eq!(
        v.status_for("CVE-2025-0001", purl).unwrap().status,
        VexStatus::Affected
    );
    assert_eq!(
        v.status_for("CVE-2025-0002", purl).unwrap().status,
        VexStatus::Fixed,
        "0.25 s is after 0.1 s"
    );
}

#[test]
fn vex_latest_statement_wins_and_aliases_match() {
    let doc = br#"{"@context":"https://openvex.dev/ns/v0.2.0","timestamp":"2025-01-01T00:00:00Z","statements":[
      {"vulnerability":{"name":"CVE-2025-0001","aliases":["GHSA-aaaa-bbbb-cccc"]},"timestamp":"2025-03-01T00:00:00Z",
       "products":[{"@id":"pkg:deb/debian/openssl"}],"status":"fixed"},
      {"vulnerability":{"name":"CVE-2025-0001"},"timestamp":"2025-02-01T00:00:00Z",
       "products":[{"@id":"pkg:deb/debian/openssl"}],"status":"affected","action_statement":"upgrade"},
      {"vulnerability":{"@id":"https://nvd.nist.gov/vuln/detail/CVE-2025-0002"},
       "products":[{"@id":"pkg:deb/debian/openssl?arch=arm64"}],"status":"under_investigation"}
    ]}"#;
    let Predicate::Vex(v) = parse(VEX, doc).unwrap() else {
        panic!()
    };
    let s = v
        .status_for("CVE-2025-0001", "pkg:deb/debian/openssl@3.5.1-1?arch=amd64")
        .unwrap();
    assert_eq!(s.status, VexStatus::Fixed);
    assert_eq!(
        v.status_for("GHSA-aaaa-bbbb-cccc", "pkg:deb/debian/openssl@3")
            .unwrap()
            .status,
        VexStatus::Fixed
    );
    // no own timestamp: inherits the document's
    assert_eq!(
        v.statements[2].timestamp.as_ref().unwrap().as_str(),
        "2025-01-01T00:00:00Z"
    );
    assert_eq!(
        v.statements[2].vulnerability.name,
        "https://nvd.nist.gov/vuln/detail/CVE-2025-0002"
    );
    // the VEX purl's qualifier must be present in the package purl
    let id = "https://nvd.nist.gov/vuln/detail/CVE-2025-0002";
    assert!(v
        .status_for(id, "pkg:deb/debian/openssl@3?arch=amd64")
        .is_none());
    assert_eq!(
        v.status_for(id, "pkg:deb/debian/openssl@3?arch=arm64")
            .unwrap()
            .status,
        VexStatus::UnderInvestigation
    );
}

#[test]
fn vex_with_an_unknown_status_names_the_statement() {
    let doc =
        br#"{"statements":[{"vulnerability":{"name":"CVE-1"},"products":[],"status":"maybe"}]}"#;
    let err = parse(VEX, doc).unwrap_err();
    assert_eq!(
        err,
        PredicateError::InvalidValue {
            path: "predicate.statements[0].status".into(),
            expected: "not_affected, affected, fixed or under_investigation",
            found: "maybe".into()
        }
    );
}

#[test]
fn vex_statement_without_vulnerability_name_is_rejected() {
    let doc = br#"{"statements":[{"vulnerability":{"description":"x"},"status":"fixed"}]}"#;
    let err = parse(VEX, doc).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { path, .. } if path == "predicate.statements[0].vulnerability.name"),
        "{err:?}"
    );
}

#[test]
fn vex_statement_with_a_bad_timestamp_names_the_field() {
    let doc = br#"{"statements":[{"vulnerability":{"name":"CVE-1"},"status":"fixed","timestamp":"2025-02-30"}]}"#;
    let err = parse(VEX, doc).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { path, found, .. } if path == "predicate.statements[0].timestamp" && found == "2025-02-30"),
        "{err:?}"
    );
}

#[test]
fn vex_statement_limit_is_enforced() {
    let st = statement(VEX, &fixture("vex/dhi-loki.vex.json"));
    let limits = PredicateLimits::default().with_max_vex_statements(1);
    let err = parse_statement_predicate(VEX, &st, &limits).unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::TooMany {
                what: "VEX statements",
                max: 1,
                found: 2
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- vulnerability reports

#[test]
fn in_toto_vulns_report_lists_findings_with_scores_purls_and_fixes() {
    let r = vulns(VULNS, "vulns/intoto-vulns-v0.1-trivy.json");
    assert_eq!(
        r.scanner_uri.as_deref(),
        Some("pkg:github/aquasecurity/trivy@244fd47e07d1004f0aed9")
    );
    assert_eq!(r.scanner_version.as_deref(), Some("0.19.2"));
    assert_eq!(
        r.scan_finished_on.as_ref().unwrap().as_str(),
        "2022-08-06T12:01:30Z"
    );
    assert_eq!(r.findings.len(), 3);
    let f = &r.findings[0];
    assert_eq!(f.id, "CVE-2021-32751");
    assert_eq!(f.scores.len(), 2);
    assert_eq!(
        (f.scores[0].method.as_deref(), f.scores[0].score.as_str()),
        (Some("nvd"), "7.5")
    );
    assert_eq!(f.severity, None);
    assert_eq!(
        f.package_purl.as_deref(),
        Some("pkg:deb/debian/gzip@1.10-4?arch=amd64")
    );
    assert_eq!(f.fixed_version.as_deref(), Some("1.10-4+deb11u1"));
    assert_eq!(
        r.findings[1].severity.as_deref(),
        Some("HIGH"),
        "a non-numeric score is a label"
    );
    assert!(r.findings[2].scores.is_empty());
}

#[test]
fn scout_vulnerabilities_as_a_list_of_packages_become_findings() {
    let r = vulns(SCOUT_VULNS, "vulns/scout-vulnerabilities-v0.1.json");
    assert_eq!(r.findings.len(), 3);
    let f = &r.findings[0];
    assert_eq!(f.id, "CVE-2026-34040");
    assert_eq!(f.severity.as_deref(), Some("HIGH"));
    assert_eq!(
        (f.scores[0].method.as_deref(), f.scores[0].score.as_str()),
        (Some("cvss"), "7.8")
    );
    assert_eq!(
        f.package_purl.as_deref(),
        Some("pkg:golang/github.com/docker/docker@v28.0.0")
    );
    assert_eq!(f.fixed_version.as_deref(), Some("29.0.0"));
    assert_eq!(
        r.findings[2].package_purl.as_deref(),
        Some("pkg:apk/alpine/openssl@3.3.7-r1?os_name=alpine")
    );
    assert_eq!(r.findings[2].fixed_version, None);
}

#[test]
fn vulnerability_report_that_is_a_string_is_rejected() {
    let err = parse(VULNS, br#""nothing""#).unwrap_err();
    assert!(
        matches!(err, PredicateError::InvalidValue { .. }),
        "{err:?}"
    );
}

#[test]
fn vulnerability_finding_limit_is_enforced() {
    let st = statement(
        SCOUT_VULNS,
        &fixture("vulns/scout-vulnerabilities-v0.1.json"),
    );
    let err = parse_statement_predicate(
        SCOUT_VULNS,
        &st,
        &PredicateLimits::default().with_max_findings(2),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PredicateError::TooMany {
                max: 2,
                found: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- DHI and Scout predicates

#[test]
fn dhi_source_names_the_repository_and_digest() {
    let Predicate::DhiSource(s) = parse(
        "https://docker.com/dhi/source/v0.1",
        &fixture("dhi/source.json"),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(s.sources.len(), 1);
    assert_eq!(
        s.sources[0].name.as_deref(),
        Some("https://github.com/docker-hardened-images/catalog.git")
    );
    assert_eq!(
        s.sources[0].digest.get("sha1").map(String::as_str),
        Some("2f0e4c9a8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f")
    );
    let Predicate::DhiSource(s) = parse(
        "https://docker.com/dhi/source/v0.1",
        br#"{"source":[{"name":"a","digest":"sha256:abcd"}]}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(
        s.sources[0].digest.get("sha256").map(String::as_str),
        Some("abcd")
    );
}

#[test]
fn ctrf_test_summary_reports_failures() {
    let Predicate::Tests(t) = parse(
        "https://scout.docker.com/tests/v0.1",
        &fixture("dhi/tests-ctrf.json"),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(t.tool.as_deref(), Some("dhi-tests"));
    assert_eq!(
        (
            t.summary.tests,
            t.summary.passed,
            t.summary.failed,
            t.summary.skipped
        ),
        (12, 11, 1, 0)
    );
    let err = parse("https://scout.docker.com/tests/v0.1", br#"{"results":{}}"#).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { path, .. } if path == "predicate.results.summary"),
        "{err:?}"
    );
}

#[test]
fn empty_secrets_scan_has_no_findings() {
    const T: &str = "https://scout.docker.com/secrets/v0.1";
    let Predicate::SecretsScan(s) = parse(T, &fixture("dhi/secrets-empty.json")).unwrap() else {
        panic!()
    };
    assert!(s.findings.is_empty());
    let st = format!(r#"{{"predicateType":"{T}","subject":[]}}"#);
    let Predicate::SecretsScan(s) =
        parse_statement_predicate(T, st.as_bytes(), &PredicateLimits::default()).unwrap()
    else {
        panic!()
    };
    assert!(s.findings.is_empty());
    assert!(s.raw.is_null());
    let Predicate::SecretsScan(s) = parse(
        T,
        br#"{"findings":[{"rule":"aws-key","file":"/app/.env"}]}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(s.findings.len(), 1);
}

#[test]
fn clamav_report_is_decoded_and_infected_files_counted() {
    const T: &str = "https://scout.docker.com/virus/v0.1";
    let Predicate::VirusScan(v) = parse(T, &fixture("dhi/virus-clean.json")).unwrap() else {
        panic!()
    };
    assert_eq!(v.infected_files, Some(0));
    assert_eq!(v.scanner_version.as_deref(), Some("1.4.1"));
    assert!(v.report.contains("SCAN SUMMARY"));
    let Predicate::VirusScan(v) = parse(T, &fixture("dhi/virus-infected.json")).unwrap() else {
        panic!()
    };
    assert_eq!(v.infected_files, Some(2));
    let Predicate::VirusScan(v) =
        parse(T, br#"{"scanner":{"report":"bm8gc3VtbWFyeQ=="}}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(v.infected_files, None, "no summary line");
    let err = parse(T, br#"{"scanner":{"report":"not base64!"}}"#).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { path, .. } if path == "predicate.scanner.report"),
        "{err:?}"
    );
    // "Infected files: lots"
    let err = parse(
        T,
        br#"{"scanner":{"report":"SW5mZWN0ZWQgZmlsZXM6IGxvdHM="}}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { found, .. } if found == "lots"),
        "{err:?}"
    );
}

#[test]
fn slsa_verification_summary_reports_the_result_and_levels() {
    const T: &str = "https://slsa.dev/verification_summary/v1";
    let Predicate::VerificationSummary(s) =
        parse(T, &fixture("dhi/verification-summary-v1.json")).unwrap()
    else {
        panic!()
    };
    assert!(s.passed);
    assert_eq!(
        s.verifier_id.as_deref(),
        Some("https://docker.com/dhi/verifier")
    );
    assert_eq!(s.verified_levels, ["SLSA_BUILD_LEVEL_3"]);
    assert_eq!(s.dependency_levels.get("SLSA_BUILD_LEVEL_3"), Some(&2));
    let err = parse(T, br#"{"verificationResult":"MOSTLY"}"#).unwrap_err();
    assert!(
        matches!(&err, PredicateError::InvalidValue { found, .. } if found == "MOSTLY"),
        "{err:?}"
    );
}

#[test]
fn fips_and_stig_are_kept_raw() {
    let Predicate::Fips(f) = parse(
        "https://docker.com/dhi/fips/v0.1",
        &fixture("dhi/fips.json"),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(f.raw["modules"][0]["certificate"], "CMVP #4985");
    let Predicate::Stig(s) = parse(
        "https://docker.com/dhi/stig/v0.1",
        &fixture("dhi/stig.json"),
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(s.raw["results"]["fail"], 0);
}

// ---------------------------------------------------------------- unknown types and robustness

#[test]
fn unknown_predicate_type_is_kept_raw_not_an_error() {
    let p = parse(
        "https://example.com/custom/v9",
        br#"{"anything":[1,2,{"x":null}]}"#,
    )
    .unwrap();
    match &p {
        Predicate::Unknown {
            predicate_type,
            raw,
        } => {
            assert_eq!(predicate_type, "https://example.com/custom/v9");
            assert_eq!(raw["anything"][1], 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.kind(), PredicateKind::Unknown);
    let p = parse("https://scout.docker.com/sbom/v0.1", br#"{"artifacts":[]}"#).unwrap();
    assert!(matches!(p, Predicate::Unknown { .. }));
    assert_eq!(p.kind(), PredicateKind::ScoutSbom);
}

#[test]
fn parsed_predicates_serialise_with_their_kind() {
    let p = parse(SPDX, &fixture("sbom/dhi/python.spdx.json")).unwrap();
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["kind"], "sbom");
    assert_eq!(json["value"]["format"], "spdx");
    assert_eq!(
        json["value"]["packages"][0]["purl"],
        "pkg:dhi/python@3.14.2"
    );
    assert_eq!(json["value"]["packages"][0]["relationship"], "subject");
    let u = parse("https://example.com/x", b"{\"a\":1}").unwrap();
    let json = serde_json::to_value(&u).unwrap();
    assert_eq!(json["kind"], "unknown");
    assert_eq!(json["value"]["predicateType"], "https://example.com/x");
    assert_eq!(json["value"]["raw"]["a"], 1);
}

#[test]
fn predicate_kinds_have_names_for_people() {
    assert_eq!(predicate_kind(SLSA02).to_string(), "SLSA provenance v0.2");
    assert_eq!(predicate_kind(CDX16).to_string(), "CycloneDX SBOM");
    assert_eq!(predicate_kind(SPDX).to_string(), "SPDX SBOM");
    assert_eq!(predicate_kind(VEX).to_string(), "OpenVEX");
}

/// Every fixture under every known type, cut at many lengths and with bytes
/// flipped: parsing returns (Ok or Err) and never panics.
#[test]
fn truncated_and_corrupted_fixtures_never_panic() {
    let cases = [
        (CDX, "sbom/cyclonedx/trivy-1.6-node.cdx.json"),
        (CDX, "sbom/cyclonedx/syft-1.4-alpine.cdx.json"),
        (SPDX, "sbom/spdx/trivy-2.3-debian.spdx.json"),
        (SPDX, "sbom/dhi/dhi-python.spdx.json"),
        (SLSA02, "provenance/buildkit-slsa-v0.2.json"),
        (SLSA1, "provenance/buildkit-slsa-v1.json"),
        (VEX, "vex/dhi-loki.vex.json"),
        (VULNS, "vulns/intoto-vulns-v0.1-trivy.json"),
        (SCOUT_VULNS, "vulns/scout-vulnerabilities-v0.1.json"),
        (
            "https://scout.docker.com/virus/v0.1",
            "dhi/virus-infected.json",
        ),
        ("https://scout.docker.com/tests/v0.1", "dhi/tests-ctrf.json"),
        (
            "https://slsa.dev/verification_summary/v1",
            "dhi/verification-summary-v1.json",
        ),
        ("https://docker.com/dhi/source/v0.1", "dhi/source.json"),
    ];
    let limits = PredicateLimits::default();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (t, path) in cases {
        let st = statement(t, &fixture(path));
        for cut in (0..st.len()).step_by(7) {
            assert!(
                parse_statement_predicate(t, &st[..cut], &limits).is_err(),
                "{path} cut at {cut} parsed"
            );
        }
        for _ in 0..300 {
            let mut bytes = st.clone();
            for _ in 0..1 + next() % 4 {
                let i = usize::try_from(next() % bytes.len() as u64).unwrap();
                const BYTES: &[u8] = b"{}[]\",:0a\\ \x00\xff-.";
                bytes[i] = BYTES[usize::try_from(next() % BYTES.len() as u64).unwrap()];
            }
            let _ = parse_statement_predicate(t, &bytes, &limits);
        }
    }
}
