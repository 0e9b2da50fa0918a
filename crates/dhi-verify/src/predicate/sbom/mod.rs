//! The one package inventory that CycloneDX and SPDX SBOMs are normalised into, and the normalisation rules they share (licenses, hashes, suppliers, relationship to the image). Format-specific reading lives in `cyclonedx` and `spdx`.

pub(crate) mod cyclonedx;
mod scan;
pub(crate) mod spdx;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use crate::predicate::error::PredicateError;
pub use crate::predicate::kind::SbomFormat;

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
    strings: Option<Arc<Strings>>,
    fields: Fields,
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

/// A byte range of [`Strings::text`]; `u32` keeps a package small (a
/// document whose strings outgrow it is refused, see [`Strings::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// The strings of all packages of one SBOM: one text buffer, and the license
/// and hash lists as runs of spans (each package owns one contiguous run).
#[derive(Debug, Default)]
pub(crate) struct Strings {
    text: String,
    /// Package ids, apart from the rest: resolving references reads them in
    /// any order, and a compact buffer keeps those reads in cache.
    id_text: String,
    licenses: Vec<Span>,
    hashes: Vec<(HashAlgorithm, Span)>,
    /// Set when an offset did not fit a `u32`.
    overflow: bool,
    /// Keys the hashes of package ids (see [`IdIndex`]).
    id_hasher: ahash::RandomState,
}

impl Strings {
    fn get(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or_default()
    }

    /// A package id (see [`Strings::id`]).
    fn get_id(&self, span: Span) -> &str {
        self.id_text.get(span.range()).unwrap_or_default()
    }

    fn opt(&self, span: Option<Span>) -> Option<&str> {
        span.map(|s| self.get(s))
    }

    /// Appends `parts` as one string.
    pub(crate) fn push(&mut self, parts: &[&str]) -> Span {
        let start = self.text.len();
        for p in parts {
            self.text.push_str(p);
        }
        self.span(start, self.text.len())
    }

    /// Appends `s` with `f` applied to each character.
    fn push_mapped(&mut self, s: &str, f: impl Fn(char) -> char) -> Span {
        let start = self.text.len();
        self.text.extend(s.chars().map(f));
        self.span(start, self.text.len())
    }

    /// The span `start..end` of the text, or an empty one (and the overflow
    /// flag) when it does not fit a `u32`.
    fn span(&mut self, start: usize, end: usize) -> Span {
        match (u32::try_from(start), u32::try_from(end)) {
            (Ok(start), Ok(end)) => Span { start, end },
            _ => {
                self.overflow = true;
                Span::default()
            }
        }
    }

    /// An index into a list, or 0 (and the overflow flag) when it does not fit a `u32`.
    fn index(&mut self, i: usize) -> u32 {
        u32::try_from(i).unwrap_or_else(|_| {
            self.overflow = true;
            0
        })
    }

    /// Appends a package id unless it is absent or empty, with its hash for [`IdIndex`].
    pub(crate) fn id(&mut self, s: Option<&str>) -> (Option<Span>, u64) {
        match s.filter(|s| !s.is_empty()) {
            Some(s) => {
                let start = self.id_text.len();
                self.id_text.push_str(s);
                (Some(self.span(start, self.id_text.len())), self.hash_id(s))
            }
            None => (None, 0),
        }
    }

    fn hash_id(&self, id: &str) -> u64 {
        self.id_hasher.hash_one(id)
    }

    /// Appends `s` unless it is absent or empty.
    pub(crate) fn nonempty(&mut self, s: Option<&str>) -> Option<Span> {
        s.filter(|s| !s.is_empty()).map(|s| self.push(&[s]))
    }

    /// Appends `s` ASCII-lowercased.
    pub(crate) fn push_lowercase(&mut self, s: &str) -> Span {
        let span = self.push(&[s]);
        if let Some(t) = self.text.get_mut(span.range()) {
            t.make_ascii_lowercase();
        }
        span
    }

    /// Appends `licenses` as the next run, skipping repeats; returns the run.
    pub(crate) fn licenses<'s>(
        &mut self,
        licenses: impl IntoIterator<Item = Cow<'s, str>>,
    ) -> (u32, u32) {
        let first = self.licenses.len();
        for l in licenses {
            self.push_license(first, &l);
        }
        self.run(first, self.licenses.len())
    }

    /// Appends a license to the run that started at `first`, unless the run
    /// has it already.
    pub(crate) fn push_license(&mut self, first: usize, l: &str) {
        let seen = self
            .licenses
            .get(first..)
            .unwrap_or_default()
            .iter()
            .any(|s| self.get(*s) == l);
        if !seen {
            let span = self.push(&[l]);
            self.licenses.push(span);
        }
    }

    /// Appends `hashes` (values lowercased) as the next run; returns the run.
    pub(crate) fn hashes<'s>(
        &mut self,
        hashes: impl IntoIterator<Item = (HashAlgorithm, Cow<'s, str>)>,
    ) -> (u32, u32) {
        let first = self.hashes.len();
        for (algorithm, value) in hashes {
            self.push_hash(algorithm, &value);
        }
        self.run(first, self.hashes.len())
    }

    /// Appends one hash, its value lowercased.
    pub(crate) fn push_hash(&mut self, algorithm: HashAlgorithm, value: &str) {
        let span = self.push_lowercase(value);
        self.hashes.push((algorithm, span));
    }

    /// A run `first..end` of one of the lists.
    pub(crate) fn run(&mut self, first: usize, end: usize) -> (u32, u32) {
        (self.index(first), self.index(end))
    }

    /// The number of licenses and hashes stored so far (where the next runs start).
    pub(crate) fn lists(&self) -> (usize, usize) {
        (self.licenses.len(), self.hashes.len())
    }

    /// A list read with the document: raw (serde path) or stored already (fast path).
    pub(crate) fn list<T>(
        &mut self,
        list: Listed<T>,
        store: impl FnOnce(&mut Self, Vec<T>) -> (u32, u32),
    ) -> (u32, u32) {
        match list {
            Listed::Raw(items) => store(self, items),
            Listed::Stored(run) => run,
        }
    }

    /// Points the packages read with [`Package::draft`] at these strings, in
    /// place. Fails when the strings outgrew `u32` offsets (only possible
    /// with a statement size limit raised beyond 4 GiB).
    pub(crate) fn finish(self, mut packages: Vec<Package>) -> Result<Vec<Package>, PredicateError> {
        if self.overflow {
            return Err(PredicateError::TooMany {
                what: "bytes of SBOM package strings",
                max: u32::MAX as usize,
                found: self.text.len() + self.id_text.len(),
            });
        }
        let mut strings = self;
        strings.text.shrink_to_fit();
        strings.id_text.shrink_to_fit();
        packages.shrink_to_fit();
        let strings = Arc::new(strings);
        for p in &mut packages {
            p.strings = Some(Arc::clone(&strings));
        }
        Ok(packages)
    }
}

/// Reserves room for the rest of a package list once, from what its first
/// [`Estimate::AFTER`] packages took: growing by doubling copies every string
/// and package again and touches twice the memory.
pub(crate) struct Estimate {
    start: usize,
    done: bool,
}

impl Estimate {
    /// Packages read before estimating.
    const AFTER: usize = 1024;
    /// Fewer statement bytes than a package takes as tools write them
    /// (500–1 000); bounds the room reserved for packages.
    const MIN_PACKAGE_BYTES: usize = 128;

    /// Starts at statement offset `start`, where the list begins.
    pub(crate) fn new(start: usize) -> Self {
        Self { start, done: false }
    }

    /// After each package: at [`Estimate::AFTER`] of them, reserves for the
    /// rest of the statement at the rate seen so far (an overestimate when
    /// other lists follow: unused room is only address space, returned when
    /// the strings are shared). Bounded by the statement, whatever the first
    /// packages were like: no more text than bytes left, no more packages
    /// than one per [`Estimate::MIN_PACKAGE_BYTES`] left.
    pub(crate) fn after(
        &mut self,
        (pos, len): (usize, usize),
        strings: &mut Strings,
        packages: &mut Vec<Draft>,
    ) {
        if self.done || packages.len() < Self::AFTER {
            return;
        }
        self.done = true;
        let read = pos.saturating_sub(self.start).max(1);
        let rest = len.saturating_sub(pos);
        let scale = |n: usize, max: usize| n.saturating_mul(rest / read + 1).min(max);
        strings.text.reserve(scale(strings.text.len(), rest));
        strings.id_text.reserve(scale(strings.id_text.len(), rest));
        packages.reserve(scale(packages.len(), rest / Self::MIN_PACKAGE_BYTES));
    }
}

/// A license or hash list of a package being read: the raw items (serde
/// path), or a run already stored in [`Strings`] (fast path, which saves the
/// temporary vector).
pub(crate) enum Listed<T> {
    Raw(Vec<T>),
    Stored((u32, u32)),
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self::Raw(Vec::new())
    }
}

/// Where a package's strings are in [`Strings`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fields {
    pub(crate) id: Option<Span>,
    /// The hash of `id` (see [`IdIndex`]); 0 without one.
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

/// The purl's type, lowercased (see [`crate::predicate::purl::purl_type`]):
/// a span inside the purl's own when it is lowercase already, as it should be.
pub(crate) fn purl_type(strings: &mut Strings, purl: Option<Span>) -> Option<Span> {
    let purl = purl?;
    let whole = strings.get(purl);
    let range = crate::predicate::purl::purl_type_range(whole)?;
    let t = whole.get(range.clone())?;
    let start = purl.start as usize + range.start;
    if !t.bytes().any(|c| c.is_ascii_uppercase()) {
        return Some(strings.span(start, start + t.len()));
    }
    let t = t.to_owned();
    Some(strings.push_lowercase(&t))
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

impl HashAlgorithm {
    /// Normalises an algorithm name from either format without allocating for the known ones.
    pub(crate) fn from_name(name: Cow<'_, str>) -> Self {
        let mut key = [0u8; 8];
        let mut len = 0;
        for c in name.bytes().filter(|c| *c != b'-' && *c != b'_') {
            if len == key.len() {
                return Self::Other(name.into_owned());
            }
            key[len] = c.to_ascii_uppercase();
            len += 1;
        }
        match &key[..len] {
            b"MD5" => Self::Md5,
            b"SHA1" => Self::Sha1,
            b"SHA256" => Self::Sha256,
            b"SHA384" => Self::Sha384,
            b"SHA512" => Self::Sha512,
            _ => Self::Other(name.into_owned()),
        }
    }
}

/// A hash from a document; `None` when either part is missing or empty. The
/// value is lowercased when stored ([`Strings::hashes`]).
pub(crate) fn hash<'a>(
    algorithm: Option<Cow<'_, str>>,
    value: Option<Cow<'a, str>>,
) -> Option<(HashAlgorithm, Cow<'a, str>)> {
    let algorithm = algorithm.filter(|a| !a.is_empty())?;
    let value = value.filter(|v| !v.is_empty())?;
    Some((HashAlgorithm::from_name(algorithm), value))
}

/// `f` applied to the text of `s`, keeping it borrowed when it was.
fn map_slice<'a>(s: Cow<'a, str>, f: impl Fn(&str) -> Option<&str>) -> Option<Cow<'a, str>> {
    match s {
        Cow::Borrowed(b) => f(b).map(Cow::Borrowed),
        Cow::Owned(o) => f(&o).map(|t| Cow::Owned(t.to_owned())),
    }
}

/// Whether a license field says nothing: empty, `NOASSERTION` or `NONE`.
fn is_no_assertion(t: &str) -> bool {
    t.is_empty() || t.eq_ignore_ascii_case("NOASSERTION") || t.eq_ignore_ascii_case("NONE")
}

/// A license expression worth keeping (trimmed): not empty, `NOASSERTION` or `NONE`.
pub(crate) fn meaningful_license(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    map_slice(s?, |s| {
        let t = s.trim();
        (!is_no_assertion(t)).then_some(t)
    })
}

fn is_idstring(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b':'))
}

/// Whether `s` has the shape of an SPDX license expression (ids joined by
/// `AND`/`OR`/`WITH`, optional parentheses). Does not check the ids against the SPDX list.
pub(crate) fn looks_like_license_expression(s: &str) -> bool {
    let mut expect_id = true;
    let mut any = false;
    let tokens = s
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty());
    for token in tokens {
        any = true;
        if expect_id {
            if !is_idstring(token) {
                return false;
            }
        } else if !["AND", "OR", "WITH"]
            .iter()
            .any(|op| token.eq_ignore_ascii_case(op))
        {
            return false;
        }
        expect_id = !expect_id;
    }
    any && !expect_id
}

/// A CycloneDX license `name` as an SPDX expression: kept when it already is
/// one, else `LicenseRef-` plus the name with non-idstring characters as `-`.
pub(crate) fn license_name_to_expression(name: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let name = meaningful_license(Some(name))?;
    if looks_like_license_expression(&name) {
        return Some(name);
    }
    let mut out = String::with_capacity(name.len() + 11);
    out.push_str("LicenseRef-");
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '-'
        });
    }
    Some(Cow::Owned(out))
}

/// SPDX supplier/originator (`Organization: Docker, Inc.`) without its prefix;
/// `NOASSERTION` and empty become `None`.
pub(crate) fn supplier_name(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    map_slice(s?, |s| {
        let t = s.trim();
        if is_no_assertion(t) {
            return None;
        }
        for prefix in ["Organization:", "Person:", "Tool:"] {
            if let Some(rest) = t.strip_prefix(prefix) {
                let rest = rest.trim();
                return (!rest.is_empty()).then_some(rest);
            }
        }
        Some(t)
    })
}

/// Appends a purpose/type lowercased and dashed (`OPERATING-SYSTEM`,
/// `operating_system` → `operating-system`); `None` when blank.
pub(crate) fn purpose(strings: &mut Strings, s: Option<&str>) -> Option<Span> {
    let s = s.filter(|s| !s.trim().is_empty())?;
    if !s.bytes().any(|c| c.is_ascii_uppercase() || c == b'_') {
        // already normalised, as CycloneDX `type`s are
        return Some(strings.push(&[s]));
    }
    Some(strings.push_mapped(s, |c| {
        if c == '_' {
            '-'
        } else {
            c.to_ascii_lowercase()
        }
    }))
}

/// Reads a list that may be `null` or absent, folding each element into `acc`
/// as it is read, so no intermediate vector of raw elements is built.
pub(crate) fn fold_list<'de, D, R, A, F>(deserializer: D, acc: A, f: F) -> Result<A, D::Error>
where
    D: serde::Deserializer<'de>,
    R: serde::Deserialize<'de>,
    F: FnMut(&mut A, R),
{
    struct Fold<R, A, F>(A, F, std::marker::PhantomData<R>);

    impl<'de, R: serde::Deserialize<'de>, A, F: FnMut(&mut A, R)> serde::de::Visitor<'de>
        for Fold<R, A, F>
    {
        type Value = A;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list or null")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<A, E> {
            Ok(self.0)
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<A, E> {
            Ok(self.0)
        }

        fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<A, D::Error> {
            deserializer.deserialize_seq(self)
        }

        fn visit_seq<S: serde::de::SeqAccess<'de>>(mut self, mut seq: S) -> Result<A, S::Error> {
            while let Some(element) = seq.next_element::<R>()? {
                (self.1)(&mut self.0, element);
            }
            Ok(self.0)
        }
    }

    deserializer.deserialize_option(Fold(acc, f, std::marker::PhantomData))
}

/// Relationship graph between packages, by index; computes each package's
/// [`ImageRelationship`] by breadth-first distance from the subjects.
pub(crate) struct Graph {
    edges: Vec<Vec<usize>>,
    subjects: Vec<usize>,
}

impl Graph {
    pub(crate) fn new(n: usize) -> Self {
        Self {
            edges: vec![Vec::new(); n],
            subjects: Vec::new(),
        }
    }

    pub(crate) fn edge(&mut self, from: usize, to: usize) {
        if let Some(e) = self.edges.get_mut(from) {
            if from != to {
                e.push(to);
            }
        }
    }

    pub(crate) fn subject(&mut self, i: usize) {
        if i < self.edges.len() {
            self.subjects.push(i);
        }
    }

    /// Writes each package's relationship; iterative, so cycles and long chains are fine.
    pub(crate) fn assign(self, packages: &mut [Draft]) {
        let mut dist: Vec<u32> = vec![u32::MAX; self.edges.len()];
        let mut queue = VecDeque::new();
        for &s in &self.subjects {
            if dist[s] != 0 {
                dist[s] = 0;
                queue.push_back(s);
            }
        }
        while let Some(i) = queue.pop_front() {
            let d = dist[i].saturating_add(1);
            for &j in &self.edges[i] {
                if dist[j] == u32::MAX {
                    dist[j] = d;
                    queue.push_back(j);
                }
            }
        }
        for (p, d) in packages.iter_mut().zip(dist) {
            p.relationship = match d {
                0 => ImageRelationship::Subject,
                1 => ImageRelationship::Direct,
                u32::MAX => ImageRelationship::Unknown,
                _ => ImageRelationship::Transitive,
            };
        }
    }
}

/// Package ids → the first package with that id, for resolving references
/// (CycloneDX `dependsOn`, SPDX relationships).
///
/// Open addressing with linear probing; a slot holds a package number, 32
/// bits of its id's hash and where the id is. The hashes were computed as the ids were read
/// ([`Strings::id`]), while the strings were in cache, so building the index
/// reads no string; a lookup compares strings only when the tags agree, and
/// returns only on equal strings. Keyed with `ahash`'s per-document random
/// keys: a crafted SBOM cannot aim for collisions.
///
/// Tools list references in package order, so a lookup first tries the
/// package after the one found last: its id sits next to the last one in
/// memory, where a probe of the table would land anywhere.
pub(crate) struct IdIndex {
    /// Each package's id, its hash tag, and whether it is the first package
    /// with that id (the one the table holds), by package number.
    ids: Vec<IndexedId>,
    /// The table; a slot with package number 0 is empty.
    slots: Vec<Slot>,
    mask: usize,
    /// The package after the one found last.
    next: std::cell::Cell<usize>,
}

/// A slot of the table: the id's span too, so a probe reads one place
/// before the string.
#[derive(Clone, Copy, Default)]
struct Slot {
    tag: u32,
    /// package + 1
    number: u32,
    id: Span,
}

#[derive(Clone, Copy)]
struct IndexedId {
    span: Span,
    tag: u32,
    first: bool,
}

impl IdIndex {
    /// The index of `packages`, whose strings are `strings`.
    pub(crate) fn new(strings: &Strings, packages: &[Draft]) -> Self {
        let capacity = (packages.len() * 2).next_power_of_two().max(16);
        let mut index = Self {
            ids: Vec::with_capacity(packages.len()),
            slots: vec![Slot::default(); capacity],
            mask: capacity - 1,
            next: std::cell::Cell::new(0),
        };
        for (i, p) in packages.iter().enumerate() {
            let tag = (p.fields.id_hash >> 32) as u32;
            let first = match (p.fields.id, u32::try_from(i + 1)) {
                (Some(id), Ok(number)) => index.insert(strings, tag, p.fields.id_hash, id, number),
                _ => false,
            };
            index.ids.push(IndexedId {
                span: p.fields.id.unwrap_or_default(),
                tag,
                first,
            });
        }
        index
    }

    /// Adds package `number - 1` unless an earlier package has the same id;
    /// whether it was added.
    fn insert(&mut self, strings: &Strings, tag: u32, hash: u64, id: Span, number: u32) -> bool {
        let mut pos = hash as usize & self.mask;
        loop {
            let Some(slot) = self.slots.get_mut(pos) else {
                return false;
            };
            if slot.number == 0 {
                *slot = Slot { tag, number, id };
                return true;
            }
            if slot.tag == tag && strings.get_id(slot.id) == strings.get_id(id) {
                return false;
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// How many lookups [`IdIndex::get_all`] is given at a time.
    pub(crate) const BATCH: usize = 32;

    /// [`IdIndex::get`] for several ids. The same answers; faster when the
    /// ids are scattered over the table, because the first read of each
    /// (its slot, then the start of its string) is made for all of them
    /// before any is compared, so the memory reads overlap instead of
    /// waiting one after the other.
    pub(crate) fn get_all(&self, strings: &Strings, ids: &[&str]) -> Vec<Option<usize>> {
        // in package order, each is the one after the last: no table at all
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let guess = self.next.get();
            match self.ids.get(guess) {
                Some(e) if e.first && strings.get_id(e.span) == *id => {
                    self.next.set(guess + 1);
                    found.push(Some(guess));
                }
                _ => break,
            }
        }
        let ids = &ids[found.len()..];
        let hashes: Vec<u64> = ids.iter().map(|id| strings.hash_id(id)).collect();
        // slots first, for all
        let slots: Vec<Slot> = hashes
            .iter()
            .map(|h| {
                self.slots
                    .get(*h as usize & self.mask)
                    .copied()
                    .unwrap_or_default()
            })
            .collect();
        // then the first byte of each candidate string, for all
        let text = strings.id_text.as_bytes();
        let first: Vec<bool> = slots
            .iter()
            .zip(ids)
            .map(|(slot, id)| text.get(slot.id.start as usize) == id.as_bytes().first())
            .collect();
        let rest = ids.iter().zip(&hashes).zip(slots.iter().zip(first)).map(
            |((id, hash), (slot, first))| {
                let tag = (hash >> 32) as u32;
                match (slot.number as usize).checked_sub(1) {
                    Some(found) if first && slot.tag == tag && strings.get_id(slot.id) == *id => {
                        self.next.set(found + 1);
                        Some(found)
                    }
                    _ => self.get(strings, id),
                }
            },
        );
        found.extend(rest);
        found
    }

    /// The first package whose id is `id`; `strings` are those the index was built over.
    pub(crate) fn get(&self, strings: &Strings, id: &str) -> Option<usize> {
        let hash = strings.hash_id(id);
        let tag = (hash >> 32) as u32;
        let guess = self.next.get();
        if let Some(e) = self.ids.get(guess) {
            if e.first && e.tag == tag && strings.get_id(e.span) == id {
                self.next.set(guess + 1);
                return Some(guess);
            }
        }
        let mut pos = hash as usize & self.mask;
        loop {
            let slot = self.slots.get(pos)?;
            let found = (slot.number as usize).checked_sub(1)?;
            if slot.tag == tag && strings.get_id(slot.id) == id {
                self.next.set(found + 1);
                return Some(found);
            }
            pos = (pos + 1) & self.mask;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;

    /// Packages with the given ids (`None`: no id), as the parsers store them.
    fn with_ids(ids: &[Option<&str>]) -> (Strings, Vec<Draft>) {
        let mut strings = Strings::default();
        let packages = ids
            .iter()
            .map(|id| {
                let (id, id_hash) = strings.id(*id);
                Draft::draft(Fields {
                    id,
                    id_hash,
                    ..Fields::default()
                })
            })
            .collect();
        (strings, packages)
    }

    #[test]
    fn id_index_finds_the_first_package_of_each_id_and_nothing_else() {
        let (strings, packages) = with_ids(&[
            Some("a"),
            None,
            Some("b"),
            Some("a"),
            Some(""),
            Some("pkg:deb/debian/zlib@1.3?arch=amd64"),
        ]);
        let index = IdIndex::new(&strings, &packages);
        assert_eq!(index.get(&strings, "a"), Some(0));
        assert_eq!(index.get(&strings, "b"), Some(2));
        assert_eq!(
            index.get(&strings, "pkg:deb/debian/zlib@1.3?arch=amd64"),
            Some(5)
        );
        assert_eq!(index.get(&strings, ""), None, "an empty id is no id");
        assert_eq!(index.get(&strings, "c"), None);
        // right after "b" the next package is the second "a": still the first wins
        assert_eq!(index.get(&strings, "b"), Some(2));
        assert_eq!(index.get(&strings, "a"), Some(0));
        // and in order, each package is found where the last one left off
        for (i, id) in [
            (0, "a"),
            (2, "b"),
            (5, "pkg:deb/debian/zlib@1.3?arch=amd64"),
        ] {
            assert_eq!(index.get(&strings, id), Some(i));
        }
        assert_eq!(
            index.get(&strings, "pkg:deb/debian/zlib@1.3?arch=amd6"),
            None
        );
    }

    #[test]
    fn id_index_resolves_every_id_of_a_large_document() {
        // enough ids that probes wrap and tags collide in the low bits
        let ids: Vec<String> = (0..20_000)
            .map(|i| format!("SPDXRef-Package-{i}"))
            .collect();
        let mut with_repeats: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
        with_repeats.extend(ids.iter().step_by(7).map(|s| Some(s.as_str())));
        let (strings, packages) = with_ids(&with_repeats);
        let index = IdIndex::new(&strings, &packages);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(&strings, id), Some(i), "{id}");
        }
        // out of order, and the repeats (which come after all firsts)
        for (i, id) in ids.iter().enumerate().rev().step_by(3) {
            assert_eq!(index.get(&strings, id), Some(i), "{id}");
        }
        assert_eq!(index.get(&strings, "SPDXRef-Package-20000"), None);
        assert_eq!(index.get(&strings, "SPDXRef-Package-"), None);

        // together, in order, scattered, missing and repeated: the same answers
        let missing = ["SPDXRef-Package-20000".to_owned(), String::new()];
        let queries: Vec<&str> = ids[..100]
            .iter()
            .chain((0..5_000).map(|i| &ids[(i * 7919) % ids.len()]))
            .chain(&missing)
            .chain(ids.iter().step_by(7).take(50))
            .map(String::as_str)
            .collect();
        let fresh = IdIndex::new(&strings, &packages);
        let mut together = Vec::new();
        for batch in queries.chunks(IdIndex::BATCH) {
            together.extend(fresh.get_all(&strings, batch));
        }
        let one_by_one: Vec<_> = queries.iter().map(|q| index.get(&strings, q)).collect();
        assert_eq!(together, one_by_one);
        assert!(together.iter().filter(|f| f.is_none()).count() == 2);
        // right after the last first, the next package repeats id 0: still 0
        let last = ids.len() - 1;
        assert_eq!(fresh.get_all(&strings, &[&ids[last]]), [Some(last)]);
        assert_eq!(fresh.get_all(&strings, &[&ids[0]]), [Some(0)]);
    }

    /// A statement whose first packages are tiny and whose rest is large
    /// (a crafted one) gets room bounded by the statement, not by the rate.
    #[test]
    fn the_estimate_is_bounded_by_the_statement() {
        let (mut strings, mut packages) = with_ids(&vec![Some("x"); Estimate::AFTER]);
        let mut estimate = Estimate::new(0);
        let len = 256 << 20;
        // 1 024 packages in 2 KiB, then 256 MiB more: the rate alone would
        // ask for 128 Ki times as many packages (about 15 GiB)
        estimate.after((2048, len), &mut strings, &mut packages);
        assert!(packages.capacity() <= Estimate::AFTER + len / Estimate::MIN_PACKAGE_BYTES);
        assert!(strings.id_text.capacity() <= len + Estimate::AFTER);
        assert!(packages.capacity() > Estimate::AFTER, "room was reserved");
    }

    #[test]
    fn license_expressions_are_recognised_and_names_become_license_refs() {
        assert!(looks_like_license_expression("MIT"));
        assert!(looks_like_license_expression(
            "(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0"
        ));
        assert!(!looks_like_license_expression("Apache License 2.0"));
        assert!(!looks_like_license_expression("MIT OR"));
        assert_eq!(
            license_name_to_expression("GPL-2.0+".into()).as_deref(),
            Some("GPL-2.0+")
        );
        assert_eq!(
            license_name_to_expression("Apache License, Version 2.0".into()).as_deref(),
            Some("LicenseRef-Apache-License--Version-2.0")
        );
        assert_eq!(license_name_to_expression("NOASSERTION".into()), None);
    }

    #[test]
    fn hash_algorithm_spellings_of_both_formats_agree() {
        assert_eq!(
            HashAlgorithm::from_name("SHA-256".into()),
            HashAlgorithm::Sha256
        );
        assert_eq!(
            HashAlgorithm::from_name("SHA256".into()),
            HashAlgorithm::Sha256
        );
        assert_eq!(HashAlgorithm::from_name("sha1".into()), HashAlgorithm::Sha1);
        assert_eq!(
            HashAlgorithm::from_name("SHA3-256".into()),
            HashAlgorithm::Other("SHA3-256".into())
        );
    }

    #[test]
    fn supplier_prefixes_and_noassertion_are_removed() {
        assert_eq!(
            supplier_name(Some("Organization: Docker, Inc.".into())).as_deref(),
            Some("Docker, Inc.")
        );
        assert_eq!(
            supplier_name(Some("Person: Jane (jane@example.com)".into())).as_deref(),
            Some("Jane (jane@example.com)")
        );
        assert_eq!(supplier_name(Some("NOASSERTION".into())), None);
        assert_eq!(supplier_name(Some("Organization: ".into())), None);
    }
}

/// The fast path ([`scan`]) against the serde path on the fixtures and on
/// thousands of mutations of them: same result, same error.
#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod fast_path_tests {
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
        let bytes =
            format!(r#"{{"predicateType":"{t}","predicate":{{{predicate}}}}}"#).into_bytes();
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
        let expected =
            |names: &[&str]| -> Vec<(String, crate::predicate::sbom::ImageRelationship)> {
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
}
