//! CycloneDX JSON (1.4, 1.5, 1.6) read into the common [`Sbom`] inventory through a lean serde model of only the fields we use. No validation against the CycloneDX schema beyond what the inventory needs.

use serde::Deserialize;

use super::{
    hash, id_index, license_name_to_expression, meaningful_license, purpose, Graph,
    ImageRelationship, Package, Sbom, SbomFormat,
};
use crate::predicate::error::PredicateError;
use crate::predicate::limits::PredicateLimits;
use crate::predicate::statement::{nullable_vec, require_predicate};

// Unknown fields are ignored (serde's default); every field is optional and
// `null` is read as absent, because syft, Trivy and BuildKit each omit or null
// different ones.
#[derive(Deserialize)]
struct RawBom {
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "specVersion")]
    spec_version: Option<String>,
    metadata: Option<RawMetadata>,
    #[serde(default, deserialize_with = "nullable_vec")]
    components: Vec<RawComponent>,
    #[serde(default, deserialize_with = "nullable_vec")]
    dependencies: Vec<RawDependency>,
}

#[derive(Deserialize)]
struct RawMetadata {
    component: Option<RawComponent>,
}

#[derive(Deserialize)]
struct RawComponent {
    #[serde(rename = "bom-ref")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    group: Option<String>,
    name: Option<String>,
    version: Option<String>,
    purl: Option<String>,
    supplier: Option<RawOrganization>,
    publisher: Option<String>,
    author: Option<String>,
    #[serde(default, deserialize_with = "nullable_vec")]
    licenses: Vec<RawLicenseChoice>,
    #[serde(default, deserialize_with = "nullable_vec")]
    hashes: Vec<RawHash>,
    #[serde(default, deserialize_with = "nullable_vec")]
    components: Vec<RawComponent>,
}

#[derive(Deserialize)]
struct RawOrganization {
    name: Option<String>,
}

/// CycloneDX 1.4–1.6 `licenseChoice`: `{"license": {...}}` or `{"expression": "..."}`.
/// Deliberately one struct, not an untagged enum: tools mix both in one array
/// (invalid under the 1.6 schema, seen in the wild) and untagged enums buffer.
#[derive(Deserialize)]
struct RawLicenseChoice {
    license: Option<RawLicense>,
    expression: Option<String>,
}

#[derive(Deserialize)]
struct RawLicense {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawHash {
    alg: Option<String>,
    content: Option<String>,
}

#[derive(Deserialize)]
struct RawDependency {
    #[serde(rename = "ref")]
    reference: Option<String>,
    #[serde(rename = "dependsOn", default, deserialize_with = "nullable_vec")]
    depends_on: Vec<String>,
}

/// Parses a CycloneDX predicate from statement bytes into the inventory.
pub(crate) fn parse(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Sbom, PredicateError> {
    let raw: RawBom = require_predicate(predicate_type, statement_bytes, limits)?;
    normalise(raw, limits)
}

fn normalise(raw: RawBom, limits: &PredicateLimits) -> Result<Sbom, PredicateError> {
    if let Some(format) = &raw.bom_format {
        if format != "CycloneDX" {
            return Err(PredicateError::InvalidValue {
                path: "predicate.bomFormat".to_owned(),
                expected: "\"CycloneDX\"",
                found: format.clone(),
            });
        }
    }
    let spec_version = check_version(raw.spec_version)?;

    let mut packages = Vec::with_capacity(raw.components.len() + 1);
    // parent index of each package (nested components), None at the top level
    let mut parents: Vec<Option<usize>> = Vec::with_capacity(raw.components.len() + 1);
    let mut subject = None;
    // Explicit stack instead of recursion: nesting depth is already capped by
    // serde_json (128), but the walk should not depend on that.
    // Popped in document order: the subject first, then the components.
    let mut stack: Vec<(RawComponent, Option<usize>)> = raw
        .components
        .into_iter()
        .rev()
        .map(|c| (c, None))
        .collect();
    if let Some(component) = raw.metadata.and_then(|m| m.component) {
        subject = Some(0);
        stack.push((component, None));
    }
    while let Some((mut component, parent)) = stack.pop() {
        if packages.len() >= limits.max_packages {
            return Err(PredicateError::TooMany {
                what: "SBOM packages",
                max: limits.max_packages,
                found: packages.len() + 1 + stack.len(),
            });
        }
        let index = packages.len();
        let children = std::mem::take(&mut component.components);
        stack.extend(children.into_iter().rev().map(|c| (c, Some(index))));
        packages.push(package(component));
        parents.push(parent);
    }

    let mut graph = Graph::new(packages.len());
    if let Some(s) = subject {
        graph.subject(s);
    }
    for (child, parent) in parents.iter().enumerate() {
        if let Some(parent) = parent {
            graph.edge(*parent, child);
        }
    }
    {
        let index = id_index(&packages);
        for dep in &raw.dependencies {
            let Some(from) = dep.reference.as_deref().and_then(|r| index.get(r)) else {
                continue;
            };
            for to in &dep.depends_on {
                if let Some(to) = index.get(to.as_str()) {
                    graph.edge(*from, *to);
                }
            }
        }
    }
    graph.assign(&mut packages);

    Ok(Sbom {
        format: SbomFormat::CycloneDx,
        spec_version,
        packages,
    })
}

fn check_version(found: Option<String>) -> Result<String, PredicateError> {
    // The 1.x JSON shape of the fields we read is the same from 1.2 to 1.6;
    // 1.4–1.6 are what we test and what DHI and the tools write.
    match found {
        Some(v) if matches!(v.as_str(), "1.2" | "1.3" | "1.4" | "1.5" | "1.6") => Ok(v),
        other => Err(PredicateError::UnsupportedVersion {
            path: "predicate.specVersion".to_owned(),
            what: "CycloneDX specVersion",
            expected: "1.4, 1.5 or 1.6",
            found: other.unwrap_or_else(|| "(missing)".to_owned()),
        }),
    }
}

fn package(c: RawComponent) -> Package {
    let name = match (c.group.filter(|g| !g.is_empty()), c.name) {
        (Some(mut group), Some(name)) => {
            group.push('/');
            group.push_str(&name);
            group
        }
        (_, name) => name.unwrap_or_default(),
    };
    let purl = c.purl.filter(|p| !p.is_empty());
    let package_type = purl.as_deref().and_then(crate::predicate::purl::purl_type);
    let mut licenses = Vec::with_capacity(c.licenses.len());
    for choice in c.licenses {
        let l = match (choice.expression, choice.license) {
            (Some(e), _) => meaningful_license(Some(e)),
            (None, Some(RawLicense { id: Some(id), .. })) => meaningful_license(Some(id)),
            (
                None,
                Some(RawLicense {
                    id: None,
                    name: Some(name),
                }),
            ) => license_name_to_expression(name),
            _ => None,
        };
        if let Some(l) = l {
            if !licenses.contains(&l) {
                licenses.push(l);
            }
        }
    }
    let supplier = c
        .supplier
        .and_then(|s| s.name)
        .or(c.publisher)
        .or(c.author)
        .filter(|s| !s.trim().is_empty());
    let hashes = c
        .hashes
        .into_iter()
        .filter_map(|h| hash(h.alg, h.content))
        .collect();
    Package {
        id: c.bom_ref.filter(|r| !r.is_empty()),
        name,
        version: c.version.filter(|v| !v.is_empty()),
        purl,
        package_type,
        purpose: purpose(c.kind),
        licenses,
        supplier,
        hashes,
        relationship: ImageRelationship::Unknown,
    }
}
