//! SPDX 2.2/2.3 JSON read into the common [`Sbom`] inventory through a lean serde model of only the fields we use, streamed: each package is normalised as it is read. Files, snippets and annotations are skipped; SPDX 3 (JSON-LD) is refused.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{
    fold_list, hash, meaningful_license, purl_type, purpose, scan, supplier_name, Draft, Estimate,
    Fields, Graph, HashAlgorithm, IdIndex, Listed, Sbom, SbomFormat, Strings,
};
use crate::predicate::error::PredicateError;
use crate::predicate::limits::PredicateLimits;
use crate::predicate::statement::{missing, read_predicate_seed, ErrorSlot};

// Every field optional, `null` read as absent, unknown fields ignored: syft
// writes `null`s, Trivy writes `OPERATING-SYSTEM` purposes and `PERSISTENT-ID`
// reference categories, and none of that matters to the inventory. Strings
// borrow from the statement bytes unless they contain escapes.
#[derive(Deserialize)]
struct RawPackage<'a> {
    #[serde(rename = "SPDXID", borrow)]
    spdx_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(rename = "versionInfo", borrow)]
    version_info: Option<Cow<'a, str>>,
    #[serde(borrow)]
    supplier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    originator: Option<Cow<'a, str>>,
    #[serde(rename = "licenseDeclared", borrow)]
    license_declared: Option<Cow<'a, str>>,
    #[serde(rename = "licenseConcluded", borrow)]
    license_concluded: Option<Cow<'a, str>>,
    /// Normalised while read.
    #[serde(default, deserialize_with = "checksums", borrow)]
    checksums: Listed<(HashAlgorithm, Cow<'a, str>)>,
    /// The first `purl` external reference, found while read.
    #[serde(
        rename = "externalRefs",
        default,
        deserialize_with = "purl_ref",
        borrow
    )]
    purl: Option<Cow<'a, str>>,
    #[serde(rename = "primaryPackagePurpose", borrow)]
    primary_package_purpose: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawChecksum<'a> {
    #[serde(borrow)]
    algorithm: Option<Cow<'a, str>>,
    #[serde(rename = "checksumValue", borrow)]
    checksum_value: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawExternalRef<'a> {
    #[serde(rename = "referenceType", borrow)]
    reference_type: Option<Cow<'a, str>>,
    #[serde(rename = "referenceLocator", borrow)]
    reference_locator: Option<Cow<'a, str>>,
}

#[allow(clippy::type_complexity)] // one algorithm and one value per checksum
fn checksums<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Listed<(HashAlgorithm, Cow<'de, str>)>, D::Error> {
    fold_list(
        d,
        Vec::new(),
        |list: &mut Vec<(HashAlgorithm, Cow<'de, str>)>, c: RawChecksum<'de>| {
            list.extend(hash(c.algorithm, c.checksum_value));
        },
    )
    .map(Listed::Raw)
}

fn purl_ref<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    fold_list(d, None, purl_fold)
}

/// Keeps the first `purl` external reference with a locator.
fn purl_fold<'a>(purl: &mut Option<Cow<'a, str>>, r: RawExternalRef<'a>) {
    // Category is `PACKAGE-MANAGER` in 2.3 and `PACKAGE_MANAGER` in 2.2;
    // the type alone identifies a purl.
    if purl.is_none() && r.reference_type.as_deref() == Some("purl") {
        *purl = r.reference_locator.filter(|l| !l.is_empty());
    }
}

#[derive(Deserialize)]
struct RawRelationship<'a> {
    #[serde(rename = "spdxElementId", borrow)]
    element: Option<Cow<'a, str>>,
    #[serde(rename = "relationshipType", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "relatedSpdxElement", borrow)]
    related: Option<Cow<'a, str>>,
}

/// What a relationship type means for the graph, `a TYPE b` as written.
#[derive(Clone, Copy)]
enum Link {
    /// `DESCRIBES`: `b` is a subject when `a` is the document.
    Describes,
    /// `DESCRIBED_BY`: `a` is a subject when `b` is the document.
    DescribedBy,
    /// `a` contains or depends on `b`.
    Forward,
    /// `b` contains or depends on `a`.
    Backward,
}

impl Link {
    /// `None` for the types that do not place a package (`OTHER`, `GENERATED_FROM`…).
    fn of(kind: &str) -> Option<Self> {
        Some(match kind {
            "DESCRIBES" => Self::Describes,
            "DESCRIBED_BY" => Self::DescribedBy,
            "CONTAINS" | "DEPENDS_ON" | "HAS_PREREQUISITE" | "DYNAMIC_LINK" | "STATIC_LINK" => {
                Self::Forward
            }
            "CONTAINED_BY" | "DEPENDENCY_OF" | "PREREQUISITE_FOR" => Self::Backward,
            _ => return None,
        })
    }
}

/// The relationship graph while it is built, with the id index it resolves by.
struct Links {
    index: IdIndex,
    graph: Graph,
    /// The last `spdxElementId` resolved and what it resolved to (`None`
    /// before the first): tools list every package from one element (the
    /// image), so most lookups of `a` are this one. The buffer is reused.
    last_element: String,
    last_found: Option<Option<usize>>,
}

impl Links {
    fn new(strings: &Strings, packages: &[Draft]) -> Self {
        Self {
            index: IdIndex::new(strings, packages),
            graph: Graph::new(packages.len()),
            last_element: String::new(),
            last_found: None,
        }
    }

    fn element(&mut self, strings: &Strings, a: &str) -> Option<usize> {
        match self.last_found {
            Some(found) if self.last_element == a => found,
            _ => {
                let found = self.index.get(strings, a);
                self.last_element.clear();
                self.last_element.push_str(a);
                self.last_found = Some(found);
                found
            }
        }
    }

    /// Adds the edges of containment or dependency relationships `(a, b,
    /// forward)`, `a` resolved already, looking the `b`s up together (see
    /// [`IdIndex::get_all`]); empties `batch`.
    fn contain_all(&mut self, strings: &Strings, batch: &mut Vec<(usize, Cow<'_, str>, bool)>) {
        let ids: Vec<&str> = batch.iter().map(|(_, b, _)| b.as_ref()).collect();
        let found = self.index.get_all(strings, &ids);
        for ((i, _, forward), j) in batch.iter().zip(found) {
            if let Some(j) = j {
                if *forward {
                    self.graph.edge(*i, j);
                } else {
                    self.graph.edge(j, *i);
                }
            }
        }
        batch.clear();
    }

    /// Adds the edge of a containment or dependency relationship.
    fn contain(&mut self, strings: &Strings, a: &str, forward: bool, b: &str) {
        let (Some(i), Some(j)) = (self.element(strings, a), self.index.get(strings, b)) else {
            return;
        };
        if forward {
            self.graph.edge(i, j);
        } else {
            self.graph.edge(j, i);
        }
    }

    /// Applies any relationship; `document_id` is the document's SPDXID.
    fn apply(&mut self, strings: &Strings, r: &RawRelationship<'_>, document_id: &str) {
        let (Some(a), Some(link), Some(b)) = (
            r.element.as_deref(),
            r.kind.as_deref().and_then(Link::of),
            r.related.as_deref(),
        ) else {
            return;
        };
        match link {
            Link::Describes if a == document_id => {
                if let Some(i) = self.index.get(strings, b) {
                    self.graph.subject(i);
                }
            }
            Link::DescribedBy if b == document_id => {
                if let Some(i) = self.index.get(strings, a) {
                    self.graph.subject(i);
                }
            }
            Link::Describes | Link::DescribedBy => {}
            Link::Forward => self.contain(strings, a, true, b),
            Link::Backward => self.contain(strings, a, false, b),
        }
    }
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum DocKey {
    #[serde(rename = "spdxVersion")]
    SpdxVersion,
    #[serde(rename = "SPDXID")]
    SpdxId,
    #[serde(rename = "documentDescribes")]
    DocumentDescribes,
    #[serde(rename = "packages")]
    Packages,
    #[serde(rename = "relationships")]
    Relationships,
    #[serde(other)]
    Other,
}

struct Parsed<'a> {
    spdx_version: Option<Cow<'a, str>>,
    spdx_id: Option<Cow<'a, str>>,
    document_describes: Vec<Cow<'a, str>>,
    strings: Strings,
    packages: Vec<Draft>,
    /// Relationships left for [`finish`]: all of them, or only those naming
    /// the document when the rest were resolved as they were read.
    relationships: Vec<RawRelationship<'a>>,
    /// The graph, when relationships followed the packages (fast path).
    links: Option<Links>,
}

struct DocSeed<'l> {
    limits: &'l PredicateLimits,
    slot: &'l ErrorSlot,
}

impl<'de> DeserializeSeed<'de> for DocSeed<'_> {
    type Value = Parsed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an SPDX document object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Parsed {
            spdx_version: None,
            spdx_id: None,
            document_describes: Vec::new(),
            strings: Strings::default(),
            packages: Vec::new(),
            relationships: Vec::new(),
            links: None,
        };
        while let Some(key) = map.next_key::<DocKey>()? {
            match key {
                DocKey::SpdxVersion => out.spdx_version = map.next_value()?,
                DocKey::SpdxId => out.spdx_id = map.next_value()?,
                DocKey::DocumentDescribes => {
                    out.document_describes = map
                        .next_value::<Option<Vec<Cow<'de, str>>>>()?
                        .unwrap_or_default();
                }
                DocKey::Packages => map.next_value_seed(PackagesSeed {
                    limits: self.limits,
                    slot: self.slot,
                    strings: &mut out.strings,
                    packages: &mut out.packages,
                })?,
                DocKey::Relationships => {
                    out.relationships = map
                        .next_value::<Option<Vec<RawRelationship<'de>>>>()?
                        .unwrap_or_default();
                }
                DocKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct PackagesSeed<'s, 'l> {
    limits: &'l PredicateLimits,
    slot: &'l ErrorSlot,
    strings: &'s mut Strings,
    packages: &'s mut Vec<Draft>,
}

impl<'de> DeserializeSeed<'de> for PackagesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for PackagesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of packages")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(p) = seq.next_element::<RawPackage<'de>>()? {
            if self.packages.len() >= self.limits.max_packages {
                *self.slot.borrow_mut() = Some(PredicateError::TooMany {
                    what: "SBOM packages",
                    max: self.limits.max_packages,
                    found: self.packages.len() + 1,
                });
                return Err(de::Error::custom("package limit exceeded"));
            }
            self.packages.push(package(p, self.strings));
        }
        Ok(())
    }
}

/// Parses an SPDX predicate from statement bytes into the inventory: through
/// the fast reader when it is sure of the document, else (and for every
/// error) through serde.
pub(crate) fn parse(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Sbom, PredicateError> {
    parse_fast(predicate_type, statement_bytes, limits)
        .unwrap_or_else(|| parse_serde(predicate_type, statement_bytes, limits))
}

/// The fast path alone; `None` when it leaves the document to serde.
pub(super) fn parse_fast(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Option<Result<Sbom, PredicateError>> {
    if statement_bytes.len() > limits.max_statement_bytes {
        return None;
    }
    scan::predicate(statement_bytes, predicate_type, |s| {
        fast::document(s, limits)
    })
    .map(finish)
}

/// The serde path alone: the reference the fast path must agree with.
pub(super) fn parse_serde(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Sbom, PredicateError> {
    let slot = ErrorSlot::default();
    let seed = DocSeed {
        limits,
        slot: &slot,
    };
    let parsed = read_predicate_seed(predicate_type, statement_bytes, limits, seed, &slot)?
        .ok_or_else(|| missing(predicate_type))?;
    finish(parsed)
}

/// The same model read by [`scan::Scan`]; `None` where serde must decide.
/// Field by field as the derived `Deserialize` impls above: strings or `null`,
/// lists or `null`, objects where structs are, a repeated key gives up.
mod fast {
    use super::super::scan::{once, Scan};
    use super::*;

    pub(super) fn document<'a>(s: &mut Scan<'a>, limits: &PredicateLimits) -> Option<Parsed<'a>> {
        let mut out = Parsed {
            spdx_version: None,
            spdx_id: None,
            document_describes: Vec::new(),
            strings: Strings::default(),
            packages: Vec::new(),
            relationships: Vec::new(),
            links: None,
        };
        let mut seen = 0;
        s.object(|key, s| {
            let bit = match key {
                "spdxVersion" => {
                    out.spdx_version = s.opt_str()?;
                    1
                }
                "SPDXID" => {
                    out.spdx_id = s.opt_str()?;
                    2
                }
                "documentDescribes" => {
                    s.nullable_array(|s| {
                        out.document_describes.push(s.str()?);
                        Some(())
                    })?;
                    4
                }
                "packages" => {
                    let mut estimate = Estimate::new(s.progress().0);
                    s.nullable_array(|s| {
                        if out.packages.len() >= limits.max_packages {
                            return None;
                        }
                        let p = package(s, &mut out.strings)?;
                        out.packages.push(super::package(p, &mut out.strings));
                        estimate.after(s.progress(), &mut out.strings, &mut out.packages);
                        Some(())
                    })?;
                    8
                }
                "relationships" => {
                    // After the packages, containment is resolved as it is
                    // read instead of kept (50 000 relationships are 3.6 MB
                    // of borrowed strings); what names the document waits
                    // for finish, as the SPDXID may come later.
                    let mut links =
                        (seen & 8 != 0).then(|| Links::new(&out.strings, &out.packages));
                    let mut batch = Vec::with_capacity(IdIndex::BATCH);
                    s.nullable_array(|s| {
                        let r = relationship(s)?;
                        let kind = r.kind.as_deref().and_then(Link::of);
                        match (links.as_mut(), kind) {
                            (Some(links), Some(link @ (Link::Forward | Link::Backward))) => {
                                if let (Some(a), Some(b)) = (r.element, r.related) {
                                    if let Some(from) = links.element(&out.strings, &a) {
                                        batch.push((from, b, matches!(link, Link::Forward)));
                                        if batch.len() == IdIndex::BATCH {
                                            links.contain_all(&out.strings, &mut batch);
                                        }
                                    }
                                }
                            }
                            (Some(_), None) => {}
                            _ => out.relationships.push(r),
                        }
                        Some(())
                    })?;
                    if let Some(links) = links.as_mut() {
                        links.contain_all(&out.strings, &mut batch);
                    }
                    out.links = links;
                    16
                }
                _ => {
                    s.skip()?;
                    0
                }
            };
            once(&mut seen, bit)
        })?;
        Some(out)
    }

    fn package<'a>(s: &mut Scan<'a>, strings: &mut Strings) -> Option<RawPackage<'a>> {
        let mut p = RawPackage {
            spdx_id: None,
            name: None,
            version_info: None,
            supplier: None,
            originator: None,
            license_declared: None,
            license_concluded: None,
            checksums: Listed::default(),
            purl: None,
            primary_package_purpose: None,
        };
        let mut seen = 0;
        s.object(|key, s| {
            let bit = match key {
                "SPDXID" => {
                    p.spdx_id = s.opt_str()?;
                    1
                }
                "name" => {
                    p.name = s.opt_str()?;
                    1 << 1
                }
                "versionInfo" => {
                    p.version_info = s.opt_str()?;
                    1 << 2
                }
                "supplier" => {
                    p.supplier = s.opt_str()?;
                    1 << 3
                }
                "originator" => {
                    p.originator = s.opt_str()?;
                    1 << 4
                }
                "licenseDeclared" => {
                    p.license_declared = s.opt_str()?;
                    1 << 5
                }
                "licenseConcluded" => {
                    p.license_concluded = s.opt_str()?;
                    1 << 6
                }
                "checksums" => {
                    let first = strings.lists().1;
                    s.nullable_array(|s| {
                        let (mut algorithm, mut value, mut seen) = (None, None, 0);
                        s.object(|key, s| {
                            match key {
                                "algorithm" => {
                                    once(&mut seen, 1)?;
                                    algorithm = s.opt_str()?;
                                }
                                "checksumValue" => {
                                    once(&mut seen, 2)?;
                                    value = s.opt_str()?;
                                }
                                _ => s.skip()?,
                            }
                            Some(())
                        })?;
                        if let Some((algorithm, value)) = hash(algorithm, value) {
                            strings.push_hash(algorithm, &value);
                        }
                        Some(())
                    })?;
                    p.checksums = Listed::Stored(strings.run(first, strings.lists().1));
                    1 << 7
                }
                "externalRefs" => {
                    s.nullable_array(|s| {
                        let (mut reference_type, mut reference_locator, mut seen) = (None, None, 0);
                        s.object(|key, s| {
                            match key {
                                "referenceType" => {
                                    once(&mut seen, 1)?;
                                    reference_type = s.opt_str()?;
                                }
                                "referenceLocator" => {
                                    once(&mut seen, 2)?;
                                    reference_locator = s.opt_str()?;
                                }
                                _ => s.skip()?,
                            }
                            Some(())
                        })?;
                        purl_fold(
                            &mut p.purl,
                            RawExternalRef {
                                reference_type,
                                reference_locator,
                            },
                        );
                        Some(())
                    })?;
                    1 << 8
                }
                "primaryPackagePurpose" => {
                    p.primary_package_purpose = s.opt_str()?;
                    1 << 9
                }
                _ => {
                    s.skip()?;
                    0
                }
            };
            once(&mut seen, bit)
        })?;
        Some(p)
    }

    fn relationship<'a>(s: &mut Scan<'a>) -> Option<RawRelationship<'a>> {
        let mut r = RawRelationship {
            element: None,
            kind: None,
            related: None,
        };
        let mut seen = 0;
        s.object(|key, s| {
            let bit = match key {
                "spdxElementId" => {
                    r.element = s.opt_str()?;
                    1
                }
                "relationshipType" => {
                    r.kind = s.opt_str()?;
                    2
                }
                "relatedSpdxElement" => {
                    r.related = s.opt_str()?;
                    4
                }
                _ => {
                    s.skip()?;
                    0
                }
            };
            once(&mut seen, bit)
        })?;
        Some(r)
    }
}

fn finish(raw: Parsed<'_>) -> Result<Sbom, PredicateError> {
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
                found: raw
                    .spdx_version
                    .map_or_else(|| "(missing)".to_owned(), Cow::into_owned),
            })
        }
    };
    let mut packages = raw.packages;
    let document_id = raw.spdx_id.as_deref().unwrap_or("SPDXRef-DOCUMENT");
    let mut links = raw
        .links
        .unwrap_or_else(|| Links::new(&raw.strings, &packages));
    {
        // DHI's in-image SBOMs give the document and the image package the
        // same SPDXID and no relationships: that package is what the document describes.
        if let Some(i) = links.index.get(&raw.strings, document_id) {
            links.graph.subject(i);
        }
        for id in &raw.document_describes {
            if let Some(i) = links.index.get(&raw.strings, id) {
                links.graph.subject(i);
            }
        }
        for r in &raw.relationships {
            links.apply(&raw.strings, r, document_id);
        }
    }
    links.graph.assign(&mut packages);

    Ok(Sbom {
        format: SbomFormat::Spdx,
        spec_version,
        packages: raw.strings.finish(packages)?,
    })
}

fn package(p: RawPackage<'_>, strings: &mut Strings) -> Draft {
    let (id, id_hash) = strings.id(p.spdx_id.as_deref());
    let name = strings.push(&[p.name.as_deref().unwrap_or_default()]);
    let version = strings.nonempty(p.version_info.as_deref().filter(|v| *v != "NOASSERTION"));
    let purl = strings.nonempty(p.purl.as_deref());
    let package_type = purl_type(strings, purl);
    let purpose = purpose(strings, p.primary_package_purpose.as_deref());
    let licenses = strings.licenses(
        meaningful_license(p.license_declared)
            .into_iter()
            .chain(meaningful_license(p.license_concluded)),
    );
    let supplier = supplier_name(p.supplier)
        .or_else(|| supplier_name(p.originator))
        .map(|s| strings.push(&[&s]));
    let hashes = strings.list(p.checksums, Strings::hashes);
    Draft::draft(Fields {
        id,
        id_hash,
        name,
        version,
        purl,
        package_type,
        purpose,
        supplier,
        licenses,
        hashes,
    })
}
