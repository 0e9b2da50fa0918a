//! The inventory itself: [`Sbom`], [`Package`] and the values a package
//! carries ([`ImageRelationship`], [`PackageHash`], [`HashAlgorithm`]). A
//! package is a handful of offsets into its SBOM's [`Strings`], read through
//! accessors. No parsing and no normalisation: the format readers fill it.

use std::sync::Arc;

use super::strings::{Span, Strings};
use super::SbomFormat;

/// A normalised software bill of materials.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Sbom {
    /// The document format.
    pub format: SbomFormat,
    /// The format version as the document states it (`1.6`, `2.3`; no `SPDX-` prefix).
    pub spec_version: String,
    /// Every package, in document order (CycloneDX: `metadata.component` first
    /// when present, then components depth-first).
    pub packages: Vec<Package>,
}

impl Sbom {
    /// The packages describing the image itself ([`ImageRelationship::Subject`]).
    pub fn subjects(&self) -> impl Iterator<Item = &Package> {
        self.packages
            .iter()
            .filter(|p| p.relationship == ImageRelationship::Subject)
    }
}

/// One package of an SBOM, the same shape for every format.
///
/// Read through accessors: the strings of all packages of one SBOM live in one
/// shared buffer (one allocation per document instead of about eleven per
/// package), so a `Package` is a handful of offsets and a reference count.
/// Cloning one is cheap and keeps that buffer alive.
#[derive(Clone)]
#[non_exhaustive]
pub struct Package {
    /// `None` only while the document is read (see [`Package::draft`]).
    pub(super) strings: Option<Arc<Strings>>,
    pub(super) fields: Fields,
    /// How the package relates to the image the SBOM describes.
    pub relationship: ImageRelationship,
}

impl Package {
    fn strings(&self) -> &Strings {
        static EMPTY: Strings = Strings {
            text: String::new(),
            id_text: String::new(),
            licenses: Vec::new(),
            hashes: Vec::new(),
            overflow: false,
            id_hasher: ahash::RandomState::with_seeds(0, 0, 0, 0),
        };
        self.strings.as_deref().unwrap_or(&EMPTY)
    }

    /// The document-local id (CycloneDX `bom-ref`, SPDX `SPDXID`).
    pub fn id(&self) -> Option<&str> {
        self.fields.id.map(|span| self.strings().get_id(span))
    }

    /// Package name (CycloneDX `group/name` when a group is set). Empty when the document omits it.
    pub fn name(&self) -> &str {
        self.strings().get(self.fields.name)
    }

    /// Version as written (CycloneDX `version`, SPDX `versionInfo`).
    pub fn version(&self) -> Option<&str> {
        self.strings().opt(self.fields.version)
    }

    /// Package URL, when the document gives one.
    pub fn purl(&self) -> Option<&str> {
        self.strings().opt(self.fields.purl)
    }

    /// Ecosystem, from the purl type (`deb`, `apk`, `npm`, `golang`, `docker`…).
    pub fn package_type(&self) -> Option<&str> {
        self.strings().opt(self.fields.package_type)
    }

    /// What the package is, lowercase with dashes: CycloneDX `type`
    /// (`library`, `operating-system`, `container`…) or SPDX
    /// `primaryPackagePurpose` (`OPERATING-SYSTEM` → `operating-system`).
    pub fn purpose(&self) -> Option<&str> {
        self.strings().opt(self.fields.purpose)
    }

    /// Licenses as SPDX license expressions, deduplicated, in document order.
    /// `NOASSERTION`, `NONE`, empty and `null` are dropped; CycloneDX license
    /// names that are not expressions become `LicenseRef-<name>` with invalid
    /// characters replaced by `-`.
    pub fn licenses(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        let (start, end) = self.fields.licenses;
        self.strings()
            .licenses
            .get(start as usize..end as usize)
            .unwrap_or_default()
            .iter()
            .map(|span| self.strings().get(*span))
    }

    /// Supplier name (SPDX `supplier` without its `Organization: `/`Person: `
    /// prefix; CycloneDX `supplier.name`, else `publisher`, else `author`).
    pub fn supplier(&self) -> Option<&str> {
        self.strings().opt(self.fields.supplier)
    }

    /// Hashes of the package.
    pub fn hashes(&self) -> impl ExactSizeIterator<Item = PackageHash<'_>> + Clone + '_ {
        let (start, end) = self.fields.hashes;
        self.strings()
            .hashes
            .get(start as usize..end as usize)
            .unwrap_or_default()
            .iter()
            .map(|(algorithm, span)| PackageHash {
                algorithm: algorithm.clone(),
                value: self.strings().get(*span),
            })
    }
}

impl PartialEq for Package {
    fn eq(&self, other: &Self) -> bool {
        self.relationship == other.relationship
            && self.id() == other.id()
            && self.name() == other.name()
            && self.version() == other.version()
            && self.purl() == other.purl()
            && self.package_type() == other.package_type()
            && self.purpose() == other.purpose()
            && self.supplier() == other.supplier()
            && self.licenses().eq(other.licenses())
            && self.hashes().eq(other.hashes())
    }
}

impl Eq for Package {}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("version", &self.version())
            .field("purl", &self.purl())
            .field("package_type", &self.package_type())
            .field("purpose", &self.purpose())
            .field("licenses", &self.licenses().collect::<Vec<_>>())
            .field("supplier", &self.supplier())
            .field("hashes", &self.hashes().collect::<Vec<_>>())
            .field("relationship", &self.relationship)
            .finish()
    }
}

/// The same JSON as the former struct of owned fields (camelCase, `null` for
/// absent values), which `dhi-verify sbom --format json` prints.
impl serde::Serialize for Package {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        struct Seq<I>(I);
        impl<I: Iterator + Clone> serde::Serialize for Seq<I>
        where
            I::Item: serde::Serialize,
        {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.clone())
            }
        }

        let mut st = serializer.serialize_struct("Package", 10)?;
        st.serialize_field("id", &self.id())?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("version", &self.version())?;
        st.serialize_field("purl", &self.purl())?;
        st.serialize_field("packageType", &self.package_type())?;
        st.serialize_field("purpose", &self.purpose())?;
        st.serialize_field("licenses", &Seq(self.licenses()))?;
        st.serialize_field("supplier", &self.supplier())?;
        st.serialize_field("hashes", &Seq(self.hashes()))?;
        st.serialize_field("relationship", &self.relationship)?;
        st.end()
    }
}

/// Where a package's strings are in [`Strings`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fields {
    pub(crate) id: Option<Span>,
    /// The hash of `id` (see [`IdIndex`](super::graph::IdIndex)); 0 without one.
    pub(crate) id_hash: u64,
    pub(crate) name: Span,
    pub(crate) version: Option<Span>,
    pub(crate) purl: Option<Span>,
    pub(crate) package_type: Option<Span>,
    pub(crate) purpose: Option<Span>,
    pub(crate) supplier: Option<Span>,
    pub(crate) licenses: (u32, u32),
    pub(crate) hashes: (u32, u32),
}

/// A package while the document is read: its strings are in the parser's
/// [`Strings`] until [`Strings::finish`] shares them.
pub(crate) type Draft = Package;

impl Package {
    /// A package being read, without strings until [`Strings::finish`]
    /// (so the packages need no second vector).
    pub(crate) fn draft(fields: Fields) -> Self {
        Self {
            strings: None,
            fields,
            relationship: ImageRelationship::Unknown,
        }
    }
}

/// How a package relates to the image (the SBOM's subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ImageRelationship {
    /// The package is the image itself (CycloneDX `metadata.component`, SPDX
    /// `DESCRIBES` target or `documentDescribes`).
    Subject,
    /// The subject contains or depends on it directly (CycloneDX subject's
    /// `dependsOn`; SPDX `CONTAINS`/`DEPENDS_ON` from the subject or their inverses).
    Direct,
    /// Reachable from the subject through more than one such edge (including
    /// CycloneDX nested components of a reachable component).
    Transitive,
    /// The document does not connect the package to the subject.
    Unknown,
}

/// A package hash, borrowed from its [`Package`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PackageHash<'a> {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// The digest as lowercase text (hex for every algorithm we know).
    pub value: &'a str,
}

/// A hash algorithm, normalised from CycloneDX (`SHA-256`) and SPDX (`SHA256`) spellings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// Any other algorithm, as written (`SHA3-256`, `BLAKE2b-256`, `BLAKE3`…).
    Other(String),
}
