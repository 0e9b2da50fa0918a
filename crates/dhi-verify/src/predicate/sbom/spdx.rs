//! SPDX 2.2/2.3 JSON read into the common [`Sbom`] inventory through a lean serde model of only the fields we use. Files, snippets and annotations are skipped; SPDX 3 (JSON-LD) is refused.

use serde::Deserialize;

use super::{
    hash, id_index, meaningful_license, purpose, supplier_name, Graph, ImageRelationship, Package,
    Sbom, SbomFormat,
};
use crate::predicate::error::PredicateError;
use crate::predicate::limits::PredicateLimits;
use crate::predicate::statement::{nullable_vec, require_predicate};

// Every field optional, `null` read as absent, unknown fields ignored: syft
// writes `null`s, Trivy writes `OPERATING-SYSTEM` purposes and `PERSISTENT-ID`
// reference categories, and none of that matters to the inventory.
#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "spdxVersion")]
    spdx_version: Option<String>,
    #[serde(rename = "SPDXID")]
    spdx_id: Option<String>,
    #[serde(
        rename = "documentDescribes",
        default,
        deserialize_with = "nullable_vec"
    )]
    document_describes: Vec<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    packages: Vec<RawPackage>,
    #[serde(default, deserialize_with = "nullable_vec")]
    relationships: Vec<RawRelationship>,
}

#[derive(Deserialize)]
struct RawPackage {
    #[serde(rename = "SPDXID")]
    spdx_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "versionInfo")]
    version_info: Option<String>,
    supplier: Option<String>,
    originator: Option<String>,
    #[serde(rename = "licenseDeclared")]
    license_declared: Option<String>,
    #[serde(rename = "licenseConcluded")]
    license_concluded: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    checksums: Vec<RawChecksum>,
    #[serde(rename = "externalRefs", default, deserialize_with = "nullable_vec")]
    external_refs: Vec<RawExternalRef>,
    #[serde(rename = "primaryPackagePurpose")]
    primary_package_purpose: Option<String>,
}

#[derive(Deserialize)]
struct RawChecksum {
    algorithm: Option<String>,
    #[serde(rename = "checksumValue")]
    checksum_value: Option<String>,
}

#[derive(Deserialize)]
struct RawExternalRef {
    #[serde(rename = "referenceType")]
    reference_type: Option<String>,
    #[serde(rename = "referenceLocator")]
    reference_locator: Option<String>,
}

#[derive(Deserialize)]
struct RawRelationship {
    #[serde(rename = "spdxElementId")]
    element: Option<String>,
    #[serde(rename = "relationshipType")]
    kind: Option<String>,
    #[serde(rename = "relatedSpdxElement")]
    related: Option<String>,
}

/// Parses an SPDX predicate from statement bytes into the inventory.
pub(crate) fn parse(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Sbom, PredicateError> {
    let raw: RawDocument = require_predicate(predicate_type, statement_bytes, limits)?;
    normalise(raw, limits)
}

fn normalise(raw: RawDocument, limits: &PredicateLimits) -> Result<Sbom, PredicateError> {
    let spec_version = match raw
        .spdx_version
        .as_deref()
        .and_then(|v| v.strip_prefix("SPDX-"))
    {
        Some(v @ ("2.2" | "2.3")) => v.to_owned(),
        _ => {
            return Err(PredicateError::UnsupportedVersion {
                path: "predicate.spdxVersion".to_owned(),
                what: "SPDX version",
                expected: "SPDX-2.2 or SPDX-2.3",
                found: raw.spdx_version.unwrap_or_else(|| "(missing)".to_owned()),
            })
        }
    };
    if raw.packages.len() > limits.max_packages {
        return Err(PredicateError::TooMany {
            what: "SBOM packages",
            max: limits.max_packages,
            found: raw.packages.len(),
        });
    }
    let mut packages: Vec<Package> = raw.packages.into_iter().map(package).collect();

    let document_id = raw.spdx_id.as_deref().unwrap_or("SPDXRef-DOCUMENT");
    let mut graph = Graph::new(packages.len());
    {
        let index = id_index(&packages);
        // DHI's in-image SBOMs give the document and the image package the
        // same SPDXID and no relationships: that package is what the document describes.
        if let Some(&i) = index.get(document_id) {
            graph.subject(i);
        }
        for id in &raw.document_describes {
            if let Some(&i) = index.get(id.as_str()) {
                graph.subject(i);
            }
        }
        for r in &raw.relationships {
            let (Some(a), Some(kind), Some(b)) = (
                r.element.as_deref(),
                r.kind.as_deref(),
                r.related.as_deref(),
            ) else {
                continue;
            };
            match kind {
                "DESCRIBES" if a == document_id => {
                    if let Some(&i) = index.get(b) {
                        graph.subject(i);
                    }
                }
                "DESCRIBED_BY" if b == document_id => {
                    if let Some(&i) = index.get(a) {
                        graph.subject(i);
                    }
                }
                // a → b: a contains / depends on b
                "CONTAINS" | "DEPENDS_ON" | "HAS_PREREQUISITE" | "DYNAMIC_LINK" | "STATIC_LINK" => {
                    if let (Some(&i), Some(&j)) = (index.get(a), index.get(b)) {
                        graph.edge(i, j);
                    }
                }
                // b → a
                "CONTAINED_BY" | "DEPENDENCY_OF" | "PREREQUISITE_FOR" => {
                    if let (Some(&i), Some(&j)) = (index.get(a), index.get(b)) {
                        graph.edge(j, i);
                    }
                }
                _ => {}
            }
        }
    }
    graph.assign(&mut packages);

    Ok(Sbom {
        format: SbomFormat::Spdx,
        spec_version,
        packages,
    })
}

fn package(p: RawPackage) -> Package {
    let mut purl = None;
    for r in p.external_refs {
        // Category is `PACKAGE-MANAGER` in 2.3 and `PACKAGE_MANAGER` in 2.2;
        // the type alone identifies a purl.
        if r.reference_type.as_deref() == Some("purl") {
            if let Some(locator) = r.reference_locator.filter(|l| !l.is_empty()) {
                purl = Some(locator);
                break;
            }
        }
    }
    let package_type = purl.as_deref().and_then(crate::predicate::purl::purl_type);
    let mut licenses = Vec::with_capacity(1);
    if let Some(l) = meaningful_license(p.license_declared) {
        licenses.push(l);
    }
    if let Some(l) = meaningful_license(p.license_concluded) {
        if !licenses.contains(&l) {
            licenses.push(l);
        }
    }
    let hashes = p
        .checksums
        .into_iter()
        .filter_map(|c| hash(c.algorithm, c.checksum_value))
        .collect();
    Package {
        id: p.spdx_id.filter(|s| !s.is_empty()),
        name: p.name.unwrap_or_default(),
        version: p
            .version_info
            .filter(|v| !v.is_empty() && v != "NOASSERTION"),
        purl,
        package_type,
        purpose: purpose(p.primary_package_purpose),
        licenses,
        supplier: supplier_name(p.supplier).or_else(|| supplier_name(p.originator)),
        hashes,
        relationship: ImageRelationship::Unknown,
    }
}
