//! The fast path ([`scan`](super::scan)) against the serde path on the fixtures and on
//! thousands of mutations of them: same result, same error.

use super::{cyclonedx, spdx, Sbom};
use crate::predicate::error::PredicateError;
use crate::predicate::limits::PredicateLimits;

type Parser = fn(&str, &[u8], &PredicateLimits) -> Result<Sbom, PredicateError>;
type Fast = fn(&str, &[u8], &PredicateLimits) -> Option<Result<Sbom, PredicateError>>;

const CDX: &str = "https://cyclonedx.org/bom";
const SPDX: &str = "https://spdx.dev/Document";

fn fixtures() -> Vec<(&'static str, Vec<u8>, Fast, Parser)> {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/predicates/sbom"
    );
    let mut out = Vec::new();
    for dir in ["cyclonedx", "spdx", "dhi"] {
        let mut files: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for path in files {
            let predicate = std::fs::read_to_string(&path).unwrap();
            let (t, fast, serde): (_, Fast, Parser) = if dir == "cyclonedx" {
                (CDX, cyclonedx::parse_fast, cyclonedx::parse_serde)
            } else {
                (SPDX, spdx::parse_fast, spdx::parse_serde)
            };
            let statement = format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"00"}}}}],"predicateType":"{t}","predicate":{predicate}}}"#
            );
            out.push((t, statement.into_bytes(), fast, serde));
        }
    }
    assert!(out.len() >= 9, "fixtures not found under {root}");
    out
}

#[test]
fn fast_path_reads_every_fixture_like_serde() {
    for (t, bytes, fast, serde) in fixtures() {
        let limits = PredicateLimits::default();
        let expected = serde(t, &bytes, &limits);
        assert!(expected.is_ok(), "{expected:?}");
        let got = fast(t, &bytes, &limits).expect("fast path taken on a fixture");
        assert_eq!(got, expected);
    }
}

/// The relationship of each package, by name, through both paths (which must agree).
fn relationships(
    t: &str,
    predicate: &str,
    fast: Fast,
    serde: Parser,
) -> Vec<(String, crate::predicate::sbom::ImageRelationship)> {
    let limits = PredicateLimits::default();
    let bytes = format!(r#"{{"predicateType":"{t}","predicate":{{{predicate}}}}}"#).into_bytes();
    let expected = serde(t, &bytes, &limits).unwrap();
    let got = fast(t, &bytes, &limits).expect("fast path taken").unwrap();
    assert_eq!(got, expected, "{predicate}");
    got.packages
        .iter()
        .map(|p| (p.name().to_owned(), p.relationship))
        .collect()
}

/// Past [`Estimate::AFTER`] packages the fast path reserves room for the
/// rest; the inventory must not change.
#[test]
fn long_package_lists_agree_past_the_estimate() {
    use crate::predicate::sbom::{Estimate, ImageRelationship};
    let n = Estimate::AFTER * 3;
    let comps: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"bom-ref":"r{i}","name":"n{i}","purl":"pkg:npm/n{i}@1","hashes":[{{"alg":"SHA-256","content":"AB{i}"}}]}}"#))
        .collect();
    let deps: Vec<String> = (0..n).map(|i| format!(r#""r{i}""#)).collect();
    let doc = format!(
        r#""bomFormat":"CycloneDX","specVersion":"1.5","metadata":{{"component":{{"bom-ref":"root","name":"root"}}}},"components":[{}],"dependencies":[{{"ref":"root","dependsOn":[{}]}}]"#,
        comps.join(","),
        deps.join(",")
    );
    let got = relationships(CDX, &doc, cyclonedx::parse_fast, cyclonedx::parse_serde);
    assert_eq!(got.len(), n + 1);
    assert!(got[1..]
        .iter()
        .all(|(_, r)| *r == ImageRelationship::Direct));

    let pkgs: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"SPDXID":"p{i}","name":"n{i}","licenseDeclared":"MIT"}}"#))
        .collect();
    let rels: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"spdxElementId":"p{}","relationshipType":"CONTAINS","relatedSpdxElement":"p{i}"}}"#, i / 2))
        .collect();
    let doc = format!(
        r#""spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","documentDescribes":["p0"],"packages":[{}],"relationships":[{}]"#,
        pkgs.join(","),
        rels.join(",")
    );
    let got = relationships(SPDX, &doc, spdx::parse_fast, spdx::parse_serde);
    assert_eq!(got.len(), n);
    assert_eq!(got[0].1, ImageRelationship::Subject);
    assert_eq!(got[1].1, ImageRelationship::Direct);
    assert_eq!(got[n - 1].1, ImageRelationship::Transitive);
}

/// References are resolved while read when the packages came first, and
/// afterwards otherwise: every key order gives the same graph.
#[test]
fn references_resolve_alike_in_any_key_order() {
    use crate::predicate::sbom::ImageRelationship::{Direct, Subject, Transitive, Unknown};
    let expected = |names: &[&str]| -> Vec<(String, crate::predicate::sbom::ImageRelationship)> {
        let of = |n: &str| match n {
            "root" => Subject,
            "a" => Direct,
            "b" | "c" => Transitive,
            _ => Unknown,
        };
        names.iter().map(|n| ((*n).to_owned(), of(n))).collect()
    };

    let meta = r#""metadata":{"component":{"bom-ref":"root","name":"root"}}"#;
    let comps = r#""components":[{"bom-ref":"a","name":"a"},{"bom-ref":"b","name":"b","components":[{"bom-ref":"c","name":"c"}]},{"bom-ref":"d","name":"d"},{"bom-ref":"a","name":"a2"}]"#;
    // `ref` after `dependsOn`, a `null` ref, an unknown ref and target
    let deps = r#""dependencies":[{"ref":"root","dependsOn":["a","zzz"]},{"dependsOn":["b"],"ref":"a"},{"ref":null,"dependsOn":["d"]},{"ref":"unknown","dependsOn":["d"]},{"ref":"d","dependsOn":null}]"#;
    let head = r#""bomFormat":"CycloneDX","specVersion":"1.6""#;
    for order in [
        [meta, comps, deps],
        [comps, meta, deps],
        [deps, meta, comps],
        [comps, deps, meta],
    ] {
        let doc = format!("{head},{}", order.join(","));
        let mut got = relationships(CDX, &doc, cyclonedx::parse_fast, cyclonedx::parse_serde);
        // "a2" repeats the id "a": references reach only the first
        assert_eq!(got.pop(), Some(("a2".to_owned(), Unknown)), "{doc}");
        assert_eq!(got, expected(&["root", "a", "b", "c", "d"]), "{doc}");
    }

    let id = r#""SPDXID":"SPDXRef-DOCUMENT""#;
    let pkgs = r#""packages":[{"SPDXID":"root","name":"root"},{"SPDXID":"a","name":"a"},{"SPDXID":"b","name":"b"},{"SPDXID":"c","name":"c"},{"SPDXID":"d","name":"d"}]"#;
    let rels = r#""relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"root"},{"spdxElementId":"root","relationshipType":"CONTAINS","relatedSpdxElement":"a"},{"spdxElementId":"b","relationshipType":"CONTAINED_BY","relatedSpdxElement":"a"},{"spdxElementId":"c","relationshipType":"DEPENDENCY_OF","relatedSpdxElement":"b"},{"spdxElementId":"root","relationshipType":"OTHER","relatedSpdxElement":"d"},{"spdxElementId":"nowhere","relationshipType":"CONTAINS","relatedSpdxElement":"d"},{"spdxElementId":"root","relationshipType":null,"relatedSpdxElement":"d"}]"#;
    let head = r#""spdxVersion":"SPDX-2.3""#;
    for order in [
        [id, pkgs, rels],
        [pkgs, rels, id],
        [rels, pkgs, id],
        [pkgs, id, rels],
    ] {
        let doc = format!("{head},{}", order.join(","));
        let got = relationships(SPDX, &doc, spdx::parse_fast, spdx::parse_serde);
        assert_eq!(got, expected(&["root", "a", "b", "c", "d"]), "{doc}");
    }
}

/// Documents shaped like syft output, with escapes, non-ASCII text,
/// `null`s, upper-case purl types and hashes, through both paths.
#[test]
fn generated_documents_with_escapes_agree() {
    let limits = PredicateLimits::default();
    let mut cdx = String::from(
        r#"{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://cyclonedx.org/bom","predicate":{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"component":{"bom-ref":"root","type":"container","name":"img"}},"components":["#,
    );
    let mut spdx = String::from(
        r#"{"predicateType":"https://spdx.dev/Document","predicate":{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","documentDescribes":["SPDXRef-root"],"packages":[{"SPDXID":"SPDXRef-root","name":"img"}"#,
    );
    let mut deps = String::new();
    let mut rels = String::new();
    for i in 0..200 {
        let name = match i % 4 {
            0 => format!(r#"lib\"{i}\""#),
            1 => format!(r#"caf\u00e9-{i}"#),
            2 => format!("é-{i}"),
            _ => format!(r#"a\/b{i}"#),
        };
        let lic = if i % 3 == 0 {
            r#"{"expression":"MIT OR Apache-2.0"},{"license":{"name":"Custom\tLicense"}}"#
        } else {
            r#"{"license":{"id":"MIT"}},{"license":{"id":"MIT"}},{"license":null}"#
        };
        if i > 0 {
            cdx.push(',');
            deps.push(',');
        }
        cdx.push_str(&format!(
            r#"{{"bom-ref":"r{i}","type":"{kind}","group":{group},"name":"{name}","version":null,"supplier":{{"name":"S {i}"}},"licenses":[{lic}],"hashes":[{{"alg":"SHA-256","content":"ABCDEF{i:02}"}},{{"alg":null,"content":"x"}}],"purl":"pkg:DEB/debian/x{i}@1","properties":[{{"name":"p","value":"v"}}]}}"#,
            kind = if i % 2 == 0 { "library" } else { "OPERATING_SYSTEM" },
            group = if i % 5 == 0 { r#""g""# } else { "null" },
        ));
        deps.push_str(&format!(r#""r{i}""#));
        spdx.push_str(&format!(
            r#",{{"SPDXID":"SPDXRef-{i}","name":"{name}","versionInfo":"NOASSERTION","supplier":"Organization: O\u0020{i}","licenseDeclared":" MIT ","licenseConcluded":"MIT","checksums":[{{"algorithm":"SHA1","checksumValue":"AB{i}"}}],"externalRefs":[{{"referenceType":"purl","referenceLocator":""}},{{"referenceType":"purl","referenceLocator":"pkg:npm/x{i}@1"}}],"primaryPackagePurpose":"LIBRARY"}}"#
        ));
        rels.push_str(&format!(
            r#",{{"spdxElementId":"SPDXRef-root","relationshipType":"CONTAINS","relatedSpdxElement":"SPDXRef-{i}"}}"#
        ));
    }
    cdx.push_str(&format!(
        r#"],"dependencies":[{{"ref":"root","dependsOn":[{deps}]}}]}}}}"#
    ));
    spdx.push_str(&format!(
        r#"],"relationships":[{{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-root"}}{rels}]}}}}"#
    ));
    for (t, doc, fast, serde) in [
        (
            CDX,
            cdx,
            cyclonedx::parse_fast as Fast,
            cyclonedx::parse_serde as Parser,
        ),
        (SPDX, spdx, spdx::parse_fast, spdx::parse_serde),
    ] {
        let expected = serde(t, doc.as_bytes(), &limits);
        let sbom = expected.as_ref().unwrap();
        assert_eq!(sbom.packages.len(), 201);
        let got = fast(t, doc.as_bytes(), &limits).expect("fast path taken");
        assert_eq!(got, expected);
    }
}

#[test]
fn nested_components_agree_and_too_deep_is_a_clean_error() {
    let nested = |levels: usize| {
        let mut doc = String::from(
            r#"{"predicateType":"https://cyclonedx.org/bom","predicate":{"bomFormat":"CycloneDX","specVersion":"1.6","components":["#,
        );
        for i in 0..levels {
            doc.push_str(&format!(
                r#"{{"bom-ref":"c{i}","name":"n{i}","components":["#
            ));
        }
        doc.push_str(&"]}".repeat(levels));
        doc.push_str("]}}");
        doc.into_bytes()
    };
    let limits = PredicateLimits::default();
    // 40 levels: the fast path answers, like serde
    let doc = nested(40);
    let fast = cyclonedx::parse_fast(CDX, &doc, &limits).expect("fast path taken");
    let sbom = fast.unwrap();
    assert_eq!(sbom.packages.len(), 40);
    assert_eq!(Ok(sbom), cyclonedx::parse_serde(CDX, &doc, &limits));
    // 1000 levels: the fast path gives up, serde says TooDeep, no panic
    let doc = nested(1000);
    assert!(cyclonedx::parse_fast(CDX, &doc, &limits).is_none());
    let err = cyclonedx::parse(CDX, &doc, &limits).unwrap_err();
    assert!(matches!(err, PredicateError::TooDeep { .. }), "{err:?}");
}

/// The JSON of a package is what the former struct of owned fields
/// derived (`dhi-verify sbom --format json` prints it).
#[test]
fn package_json_is_unchanged_from_the_owned_model() {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct OwnedPackage {
        id: Option<String>,
        name: String,
        version: Option<String>,
        purl: Option<String>,
        package_type: Option<String>,
        purpose: Option<String>,
        licenses: Vec<String>,
        supplier: Option<String>,
        hashes: Vec<OwnedHash>,
        relationship: super::ImageRelationship,
    }
    #[derive(serde::Serialize)]
    struct OwnedHash {
        algorithm: super::HashAlgorithm,
        value: String,
    }
    let own = |s: Option<&str>| s.map(str::to_owned);
    let mut packages = 0;
    for (t, bytes, _, serde) in fixtures() {
        let sbom = serde(t, &bytes, &PredicateLimits::default()).unwrap();
        for p in &sbom.packages {
            packages += 1;
            let owned = OwnedPackage {
                id: own(p.id()),
                name: p.name().to_owned(),
                version: own(p.version()),
                purl: own(p.purl()),
                package_type: own(p.package_type()),
                purpose: own(p.purpose()),
                licenses: p.licenses().map(str::to_owned).collect(),
                supplier: own(p.supplier()),
                hashes: p
                    .hashes()
                    .map(|h| OwnedHash {
                        algorithm: h.algorithm,
                        value: h.value.to_owned(),
                    })
                    .collect(),
                relationship: p.relationship,
            };
            assert_eq!(
                serde_json::to_string(p).unwrap(),
                serde_json::to_string(&owned).unwrap()
            );
        }
    }
    assert!(packages > 20);
}

#[test]
fn fast_path_agrees_with_serde_on_mutated_and_truncated_documents() {
    const PIECES: &[&[u8]] = &[
        b"\"",
        b"\\",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"null",
        b"0",
        b"-1.5e3",
        b" ",
        b"\"x\"",
        b"\\u0041",
        b"\\ud800",
        "é".as_bytes(),
        b"\x01",
        b"\xff",
        b"true",
        b"[]",
        b"{}",
        b"\"name\":\"n\",",
        b"\"bom-ref\":\"r\",",
        b"\"SPDXID\":\"s\",",
        b"\"ref\":\"r\",",
        b"\"dependsOn\":[\"r\",\"s\"],",
        b"\"relationshipType\":\"CONTAINED_BY\",",
        b"\"relatedSpdxElement\":\"s\",",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let limits = PredicateLimits::default();
    let small = PredicateLimits::default().with_max_packages(2);
    let mut fast_taken = 0;
    for (t, bytes, fast, serde) in fixtures() {
        let mut check = |doc: &[u8], limits: &PredicateLimits| {
            if let Some(got) = fast(t, doc, limits) {
                fast_taken += 1;
                assert_eq!(
                    got,
                    serde(t, doc, limits),
                    "{}",
                    String::from_utf8_lossy(doc)
                );
            }
        };
        check(&bytes, &small);
        for cut in (0..bytes.len()).step_by(7) {
            check(&bytes[..cut], &limits);
        }
        for _ in 0..1500 {
            let mut doc = bytes.clone();
            for _ in 0..=(next() % 3) {
                let at = (next() % doc.len() as u64) as usize;
                let piece = PIECES[(next() % PIECES.len() as u64) as usize];
                let len = (next() % 4) as usize;
                let end = (at + len).min(doc.len());
                doc.splice(at..end, piece.iter().copied());
            }
            check(&doc, &limits);
        }
    }
    assert!(fast_taken > 1000, "fast path taken only {fast_taken} times");
}
