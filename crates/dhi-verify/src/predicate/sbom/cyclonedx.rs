//! CycloneDX JSON (1.4, 1.5, 1.6) read into the common [`Sbom`] inventory through a lean serde model of only the fields we use, streamed: each component is normalised as it is read. No validation against the CycloneDX schema beyond what the inventory needs.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{
    fold_list, hash, license_name_to_expression, meaningful_license, purl_type, purpose, scan,
    Draft, Estimate, Fields, Graph, HashAlgorithm, IdIndex, Listed, Sbom, SbomFormat, Strings,
};
use crate::predicate::error::PredicateError;
use crate::predicate::limits::PredicateLimits;
use crate::predicate::statement::{missing, nullable_vec, read_predicate_seed, ErrorSlot};

// Unknown fields are ignored (serde's default); every field is optional and
// `null` is read as absent, because syft, Trivy and BuildKit each omit or null
// different ones. Strings borrow from the statement bytes unless they contain
// escapes; only what the inventory keeps is copied.
#[derive(Deserialize)]
struct RawMetadata<'a> {
    #[serde(borrow)]
    component: Option<RawComponent<'a>>,
}

#[derive(Deserialize)]
struct RawComponent<'a> {
    #[serde(rename = "bom-ref", borrow)]
    bom_ref: Option<Cow<'a, str>>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    group: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    purl: Option<Cow<'a, str>>,
    #[serde(borrow)]
    supplier: Option<RawOrganization<'a>>,
    #[serde(borrow)]
    publisher: Option<Cow<'a, str>>,
    #[serde(borrow)]
    author: Option<Cow<'a, str>>,
    /// Normalised while read (see [`licenses`]); repeats are dropped when stored.
    #[serde(default, deserialize_with = "licenses", borrow)]
    licenses: Listed<Cow<'a, str>>,
    /// Normalised while read (see [`hashes`]).
    #[serde(default, deserialize_with = "hashes", borrow)]
    hashes: Listed<(HashAlgorithm, Cow<'a, str>)>,
    #[serde(default, deserialize_with = "nullable_vec", borrow)]
    components: Vec<RawComponent<'a>>,
}

#[derive(Deserialize)]
struct RawOrganization<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// CycloneDX 1.4–1.6 `licenseChoice`: `{"license": {...}}` or `{"expression": "..."}`.
/// Deliberately one struct, not an untagged enum: tools mix both in one array
/// (invalid under the 1.6 schema, seen in the wild) and untagged enums buffer.
#[derive(Deserialize)]
struct RawLicenseChoice<'a> {
    #[serde(borrow)]
    license: Option<RawLicense<'a>>,
    #[serde(borrow)]
    expression: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawLicense<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawHash<'a> {
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

/// `licenses[]` as SPDX expressions, in document order.
fn licenses<'de, D: Deserializer<'de>>(d: D) -> Result<Listed<Cow<'de, str>>, D::Error> {
    fold_list(
        d,
        Vec::new(),
        |list: &mut Vec<Cow<'de, str>>, choice: RawLicenseChoice<'de>| {
            list.extend(license_choice(choice));
        },
    )
    .map(Listed::Raw)
}

/// One `licenseChoice` as an SPDX expression: `expression`, else `license.id`,
/// else `license.name` made an expression.
fn license_choice(choice: RawLicenseChoice<'_>) -> Option<Cow<'_, str>> {
    match (choice.expression, choice.license) {
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
    }
}

/// `hashes[]` normalised; entries missing an algorithm or value are skipped.
#[allow(clippy::type_complexity)] // one algorithm and one value per hash
fn hashes<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Listed<(HashAlgorithm, Cow<'de, str>)>, D::Error> {
    fold_list(
        d,
        Vec::new(),
        |list: &mut Vec<(HashAlgorithm, Cow<'de, str>)>, h: RawHash<'de>| {
            list.extend(hash(h.alg, h.content));
        },
    )
    .map(Listed::Raw)
}

#[derive(Deserialize)]
struct RawDependency<'a> {
    #[serde(rename = "ref", borrow)]
    reference: Option<Cow<'a, str>>,
    #[serde(
        rename = "dependsOn",
        default,
        deserialize_with = "nullable_vec",
        borrow
    )]
    depends_on: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum BomKey {
    #[serde(rename = "bomFormat")]
    BomFormat,
    #[serde(rename = "specVersion")]
    SpecVersion,
    #[serde(rename = "metadata")]
    Metadata,
    #[serde(rename = "components")]
    Components,
    #[serde(rename = "dependencies")]
    Dependencies,
    #[serde(other)]
    Other,
}

/// What the streamed read of a BOM leaves for the final pass.
struct Parsed<'a> {
    bom_format: Option<Cow<'a, str>>,
    spec_version: Option<Cow<'a, str>>,
    strings: Strings,
    packages: Vec<Draft>,
    /// parent index of each package (nested components), `None` at the top level
    parents: Vec<Option<usize>>,
    subject: Option<usize>,
    /// Dependencies left for [`finish`] (all of them unless resolved as read).
    dependencies: Vec<RawDependency<'a>>,
    /// The id index and the dependency edges, when the dependencies followed
    /// the metadata and components and were resolved as they were read (fast path).
    links: Option<(IdIndex, Graph)>,
}

impl Parsed<'_> {
    fn new() -> Self {
        Self {
            bom_format: None,
            spec_version: None,
            strings: Strings::default(),
            packages: Vec::new(),
            parents: Vec::new(),
            subject: None,
            dependencies: Vec::new(),
            links: None,
        }
    }

    /// Adds `metadata.component` and its nested components in front of the
    /// packages read so far: the subject goes first, whatever the key order.
    fn subject(
        &mut self,
        sink: &mut Sink<'_>,
        component: RawComponent<'_>,
    ) -> Result<(), &'static str> {
        if self.subject.is_some() {
            return Err("duplicate field `metadata`");
        }
        let before = self.packages.len();
        sink.push(
            component,
            None,
            &mut self.strings,
            &mut self.packages,
            &mut self.parents,
        )?;
        let added = self.packages.len() - before;
        self.packages.rotate_right(added);
        self.parents.rotate_right(added);
        for (i, parent) in self.parents.iter_mut().enumerate() {
            if let Some(p) = parent {
                *p = if i < added { *p - before } else { *p + added };
            }
        }
        self.subject = Some(0);
        Ok(())
    }
}

/// Reads the BOM object, normalising components as they stream past.
struct BomSeed<'l> {
    limits: &'l PredicateLimits,
    slot: &'l ErrorSlot,
}

impl<'de> DeserializeSeed<'de> for BomSeed<'_> {
    type Value = Parsed<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BomSeed<'_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CycloneDX BOM object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Parsed::new();
        let mut sink = Sink {
            limits: self.limits,
            slot: self.slot,
        };
        while let Some(key) = map.next_key::<BomKey>()? {
            match key {
                BomKey::BomFormat => out.bom_format = map.next_value()?,
                BomKey::SpecVersion => out.spec_version = map.next_value()?,
                BomKey::Metadata => {
                    let metadata: Option<RawMetadata<'de>> = map.next_value()?;
                    if let Some(component) = metadata.and_then(|m| m.component) {
                        if out.subject.is_some() {
                            return Err(de::Error::duplicate_field("metadata"));
                        }
                        out.subject(&mut sink, component)
                            .map_err(de::Error::custom)?;
                    }
                }
                BomKey::Components => {
                    map.next_value_seed(ComponentsSeed {
                        sink: &mut sink,
                        strings: &mut out.strings,
                        packages: &mut out.packages,
                        parents: &mut out.parents,
                    })?;
                }
                BomKey::Dependencies => {
                    out.dependencies = map
                        .next_value::<Option<Vec<RawDependency<'de>>>>()?
                        .unwrap_or_default();
                }
                BomKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Normalises components into packages and enforces the package limit.
struct Sink<'l> {
    limits: &'l PredicateLimits,
    slot: &'l ErrorSlot,
}

impl Sink<'_> {
    /// Whether one more package fits the limit; leaves the typed error in the slot.
    fn check(&self, count: usize) -> Result<(), &'static str> {
        if count >= self.limits.max_packages {
            *self.slot.borrow_mut() = Some(PredicateError::TooMany {
                what: "SBOM packages",
                max: self.limits.max_packages,
                found: count + 1,
            });
            return Err("package limit exceeded");
        }
        Ok(())
    }

    /// Appends `component` and its nested components (depth-first, document
    /// order) with an explicit stack: nesting is capped by serde_json (128)
    /// already, but the walk does not rely on it.
    fn push(
        &mut self,
        component: RawComponent<'_>,
        parent: Option<usize>,
        strings: &mut Strings,
        packages: &mut Vec<Draft>,
        parents: &mut Vec<Option<usize>>,
    ) -> Result<(), &'static str> {
        if component.components.is_empty() {
            self.check(packages.len())?;
            packages.push(package(component, strings));
            parents.push(parent);
            return Ok(());
        }
        let mut stack = vec![(component, parent)];
        while let Some((mut c, parent)) = stack.pop() {
            self.check(packages.len())?;
            let index = packages.len();
            let children = std::mem::take(&mut c.components);
            stack.extend(children.into_iter().rev().map(|c| (c, Some(index))));
            packages.push(package(c, strings));
            parents.push(parent);
        }
        Ok(())
    }
}

struct ComponentsSeed<'s, 'l> {
    sink: &'s mut Sink<'l>,
    strings: &'s mut Strings,
    packages: &'s mut Vec<Draft>,
    parents: &'s mut Vec<Option<usize>>,
}

impl<'de> DeserializeSeed<'de> for ComponentsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ComponentsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of components")
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
        while let Some(component) = seq.next_element::<RawComponent<'de>>()? {
            self.sink
                .push(component, None, self.strings, self.packages, self.parents)
                .map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// Parses a CycloneDX predicate from statement bytes into the inventory:
/// through the fast reader when it is sure of the document, else (and for
/// every error) through serde.
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
    scan::predicate(statement_bytes, predicate_type, |s| fast::bom(s, limits)).map(finish)
}

/// The serde path alone: the reference the fast path must agree with.
pub(super) fn parse_serde(
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Sbom, PredicateError> {
    let slot = ErrorSlot::default();
    let seed = BomSeed {
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

    pub(super) fn bom<'a>(s: &mut Scan<'a>, limits: &PredicateLimits) -> Option<Parsed<'a>> {
        let mut out = Parsed::new();
        let slot = ErrorSlot::default();
        let mut sink = Sink {
            limits,
            slot: &slot,
        };
        let mut seen = 0;
        s.object(|key, s| {
            let bit = match key {
                "bomFormat" => {
                    out.bom_format = s.opt_str()?;
                    1
                }
                "specVersion" => {
                    out.spec_version = s.opt_str()?;
                    2
                }
                "metadata" => {
                    if let Some(component) = metadata(s, &mut out.strings)? {
                        out.subject(&mut sink, component).ok()?;
                    }
                    4
                }
                "components" => {
                    let mut estimate = Estimate::new(s.progress().0);
                    s.nullable_array(|s| {
                        let c = component(s, &mut out.strings)?;
                        sink.push(
                            c,
                            None,
                            &mut out.strings,
                            &mut out.packages,
                            &mut out.parents,
                        )
                        .ok()?;
                        estimate.after(s.progress(), &mut out.strings, &mut out.packages);
                        Some(())
                    })?;
                    8
                }
                "dependencies" => {
                    // After the metadata and components every id is known:
                    // resolve as read instead of keeping 50 000 references.
                    let mut links = (seen & 12 == 12).then(|| {
                        let index = IdIndex::new(&out.strings, &out.packages);
                        (index, Graph::new(out.packages.len()))
                    });
                    s.nullable_array(|s| {
                        match links.as_mut() {
                            Some((index, graph)) => {
                                resolve_dependency(s, &out.strings, index, graph)?;
                            }
                            None => out.dependencies.push(dependency(s)?),
                        }
                        Some(())
                    })?;
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

    fn metadata<'a>(s: &mut Scan<'a>, strings: &mut Strings) -> Option<Option<RawComponent<'a>>> {
        let mut component = None;
        if s.null()? {
            return Some(None);
        }
        let mut seen = 0;
        s.object(|key, s| match key {
            "component" => {
                once(&mut seen, 1)?;
                if !s.null()? {
                    component = Some(self::component(s, strings)?);
                }
                Some(())
            }
            _ => s.skip(),
        })?;
        Some(component)
    }

    fn component<'a>(s: &mut Scan<'a>, strings: &mut Strings) -> Option<RawComponent<'a>> {
        let mut c = RawComponent {
            bom_ref: None,
            kind: None,
            group: None,
            name: None,
            version: None,
            purl: None,
            supplier: None,
            publisher: None,
            author: None,
            licenses: Listed::default(),
            hashes: Listed::default(),
            components: Vec::new(),
        };
        let mut seen = 0;
        s.object(|key, s| {
            let bit = match key {
                "bom-ref" => {
                    c.bom_ref = s.opt_str()?;
                    1
                }
                "type" => {
                    c.kind = s.opt_str()?;
                    1 << 1
                }
                "group" => {
                    c.group = s.opt_str()?;
                    1 << 2
                }
                "name" => {
                    c.name = s.opt_str()?;
                    1 << 3
                }
                "version" => {
                    c.version = s.opt_str()?;
                    1 << 4
                }
                "purl" => {
                    c.purl = s.opt_str()?;
                    1 << 5
                }
                "supplier" => {
                    if !s.null()? {
                        let mut name = None;
                        let mut seen = 0;
                        s.object(|key, s| match key {
                            "name" => {
                                once(&mut seen, 1)?;
                                name = s.opt_str()?;
                                Some(())
                            }
                            _ => s.skip(),
                        })?;
                        c.supplier = Some(RawOrganization { name });
                    }
                    1 << 6
                }
                "publisher" => {
                    c.publisher = s.opt_str()?;
                    1 << 7
                }
                "author" => {
                    c.author = s.opt_str()?;
                    1 << 8
                }
                "licenses" => {
                    let first = strings.lists().0;
                    s.nullable_array(|s| {
                        if let Some(l) = license_choice(choice(s)?) {
                            strings.push_license(first, &l);
                        }
                        Some(())
                    })?;
                    c.licenses = Listed::Stored(strings.run(first, strings.lists().0));
                    1 << 9
                }
                "hashes" => {
                    let first = strings.lists().1;
                    s.nullable_array(|s| {
                        let (mut alg, mut content, mut seen) = (None, None, 0);
                        s.object(|key, s| {
                            match key {
                                "alg" => {
                                    once(&mut seen, 1)?;
                                    alg = s.opt_str()?;
                                }
                                "content" => {
                                    once(&mut seen, 2)?;
                                    content = s.opt_str()?;
                                }
                                _ => s.skip()?,
                            }
                            Some(())
                        })?;
                        if let Some((algorithm, value)) = hash(alg, content) {
                            strings.push_hash(algorithm, &value);
                        }
                        Some(())
                    })?;
                    c.hashes = Listed::Stored(strings.run(first, strings.lists().1));
                    1 << 10
                }
                "components" => {
                    s.nullable_array(|s| {
                        c.components.push(component(s, strings)?);
                        Some(())
                    })?;
                    1 << 11
                }
                _ => {
                    s.skip()?;
                    0
                }
            };
            once(&mut seen, bit)
        })?;
        Some(c)
    }

    fn choice<'a>(s: &mut Scan<'a>) -> Option<RawLicenseChoice<'a>> {
        let mut choice = RawLicenseChoice {
            license: None,
            expression: None,
        };
        let mut seen = 0;
        s.object(|key, s| {
            match key {
                "license" => {
                    once(&mut seen, 1)?;
                    if !s.null()? {
                        let (mut id, mut name, mut seen) = (None, None, 0);
                        s.object(|key, s| {
                            match key {
                                "id" => {
                                    once(&mut seen, 1)?;
                                    id = s.opt_str()?;
                                }
                                "name" => {
                                    once(&mut seen, 2)?;
                                    name = s.opt_str()?;
                                }
                                _ => s.skip()?,
                            }
                            Some(())
                        })?;
                        choice.license = Some(RawLicense { id, name });
                    }
                }
                "expression" => {
                    once(&mut seen, 2)?;
                    choice.expression = s.opt_str()?;
                }
                _ => s.skip()?,
            }
            Some(())
        })?;
        Some(choice)
    }

    /// A dependency read straight into `graph`: `dependsOn` is kept only
    /// while `ref` has not been seen (tools write `ref` first).
    fn resolve_dependency(
        s: &mut Scan<'_>,
        strings: &Strings,
        index: &IdIndex,
        graph: &mut Graph,
    ) -> Option<()> {
        // `None` until `ref` is read; then the package it names, if any
        let mut from: Option<Option<usize>> = None;
        let mut pending: Vec<Cow<'_, str>> = Vec::new();
        let mut seen = 0;
        s.object(|key, s| {
            match key {
                "ref" => {
                    once(&mut seen, 1)?;
                    let found = s.opt_str()?.and_then(|r| index.get(strings, &r));
                    from = Some(found);
                    for to in pending.drain(..) {
                        if let (Some(from), Some(to)) = (found, index.get(strings, &to)) {
                            graph.edge(from, to);
                        }
                    }
                }
                "dependsOn" => {
                    once(&mut seen, 2)?;
                    // looked up IdIndex::BATCH at a time (see IdIndex::get_all)
                    let mut batch: Vec<Cow<'_, str>> = Vec::new();
                    let mut flush = |batch: &mut Vec<Cow<'_, str>>, from: usize| {
                        let ids: Vec<&str> = batch.iter().map(AsRef::as_ref).collect();
                        for to in index.get_all(strings, &ids).into_iter().flatten() {
                            graph.edge(from, to);
                        }
                        batch.clear();
                    };
                    s.nullable_array(|s| {
                        let to = s.str()?;
                        match from {
                            Some(Some(from)) => {
                                batch.push(to);
                                if batch.len() == IdIndex::BATCH {
                                    flush(&mut batch, from);
                                }
                            }
                            Some(None) => {}
                            None => pending.push(to),
                        }
                        Some(())
                    })?;
                    if let Some(Some(from)) = from {
                        flush(&mut batch, from);
                    }
                }
                _ => s.skip()?,
            }
            Some(())
        })
    }

    fn dependency<'a>(s: &mut Scan<'a>) -> Option<RawDependency<'a>> {
        let mut dep = RawDependency {
            reference: None,
            depends_on: Vec::new(),
        };
        let mut seen = 0;
        s.object(|key, s| {
            match key {
                "ref" => {
                    once(&mut seen, 1)?;
                    dep.reference = s.opt_str()?;
                }
                "dependsOn" => {
                    once(&mut seen, 2)?;
                    s.nullable_array(|s| {
                        dep.depends_on.push(s.str()?);
                        Some(())
                    })?;
                }
                _ => s.skip()?,
            }
            Some(())
        })?;
        Some(dep)
    }
}

fn finish(raw: Parsed<'_>) -> Result<Sbom, PredicateError> {
    if let Some(format) = &raw.bom_format {
        if format != "CycloneDX" {
            return Err(PredicateError::InvalidValue {
                path: "predicate.bomFormat".to_owned(),
                expected: "\"CycloneDX\"",
                found: format.clone().into_owned(),
            });
        }
    }
    let spec_version = check_version(raw.spec_version)?;
    let mut packages = raw.packages;

    let (index, mut graph) = raw.links.unwrap_or_else(|| {
        (
            IdIndex::new(&raw.strings, &packages),
            Graph::new(packages.len()),
        )
    });
    if let Some(s) = raw.subject {
        graph.subject(s);
    }
    for (child, parent) in raw.parents.iter().enumerate() {
        if let Some(parent) = parent {
            graph.edge(*parent, child);
        }
    }
    for dep in &raw.dependencies {
        let Some(from) = dep
            .reference
            .as_deref()
            .and_then(|r| index.get(&raw.strings, r))
        else {
            continue;
        };
        for to in &dep.depends_on {
            if let Some(to) = index.get(&raw.strings, to) {
                graph.edge(from, to);
            }
        }
    }
    graph.assign(&mut packages);

    Ok(Sbom {
        format: SbomFormat::CycloneDx,
        spec_version,
        packages: raw.strings.finish(packages)?,
    })
}

fn check_version(found: Option<Cow<'_, str>>) -> Result<String, PredicateError> {
    // The 1.x JSON shape of the fields we read is the same from 1.2 to 1.6;
    // 1.4–1.6 are what we test and what DHI and the tools write.
    match found {
        Some(v) if matches!(v.as_ref(), "1.2" | "1.3" | "1.4" | "1.5" | "1.6") => {
            Ok(v.into_owned())
        }
        other => Err(PredicateError::UnsupportedVersion {
            path: "predicate.specVersion".to_owned(),
            what: "CycloneDX specVersion",
            expected: "1.4, 1.5 or 1.6",
            found: other.map_or_else(|| "(missing)".to_owned(), Cow::into_owned),
        }),
    }
}

fn package(c: RawComponent<'_>, strings: &mut Strings) -> Draft {
    let name = match (c.group.filter(|g| !g.is_empty()), c.name) {
        (Some(group), Some(name)) => strings.push(&[&group, "/", &name]),
        (_, name) => strings.push(&[name.as_deref().unwrap_or_default()]),
    };
    let (id, id_hash) = strings.id(c.bom_ref.as_deref());
    let version = strings.nonempty(c.version.as_deref());
    let purl = strings.nonempty(c.purl.as_deref());
    let package_type = purl_type(strings, purl);
    let purpose = purpose(strings, c.kind.as_deref());
    let supplier = c
        .supplier
        .and_then(|s| s.name)
        .or(c.publisher)
        .or(c.author)
        .filter(|s| !s.trim().is_empty())
        .map(|s| strings.push(&[&s]));
    let licenses = strings.list(c.licenses, Strings::licenses);
    let hashes = strings.list(c.hashes, Strings::hashes);
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
