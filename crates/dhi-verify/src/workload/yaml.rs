//! Multi-document YAML (and JSON, which YAML 1.2 contains) read into a tree
//! whose nodes know their byte span and line, and [`Node`] for that tree, so
//! the one walk reads manifests. Owns parsing, limits and positions; what a
//! workload runs is the walk's business, rewriting is `pin`'s.
//!
//! Aliases are never expanded: an alias shares its anchor's node, so a
//! "billion laughs" document costs the memory of its text. What a walk could
//! still multiply is bounded by [`ManifestLimits::max_expanded_nodes`].

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::rc::Rc;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};

use super::walk::{self, Node};
use super::{Workload, WorkloadError};

/// Bounds on what [`read_manifests_with`] reads. Going over one is an error
/// naming the limit, never a truncated read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestLimits {
    /// Largest source text: 128 MiB (`helm template` of a large chart is a
    /// few MiB; `kustomize build` of a whole cluster tens).
    pub max_bytes: usize,
    /// Most documents in one source, empty ones included: 100 000.
    pub max_documents: usize,
    /// Deepest nesting of mappings and sequences, counted through aliases
    /// (an alias nests its anchor's node where it is used): 128 (a CRD's
    /// OpenAPI schema nests about 40 deep).
    pub max_depth: usize,
    /// Most nodes one document may hold with every alias counted as a copy
    /// of its anchor: 1 000 000. Without aliases this is the node count; the
    /// "billion laughs" document is 10^9.
    pub max_expanded_nodes: u64,
}

impl Default for ManifestLimits {
    fn default() -> Self {
        ManifestLimits {
            max_bytes: 128 << 20,
            max_documents: 100_000,
            max_depth: 128,
            max_expanded_nodes: 1_000_000,
        }
    }
}

/// A source that cannot be read: YAML syntax, a limit, or a workload whose
/// images cannot be read. Says where: file, document, line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: document {}, line {line}: {kind}", document + 1)]
#[non_exhaustive]
pub struct ManifestError {
    /// The source's name, as given to [`read_manifests`].
    pub file: String,
    /// 0-based index of the document in the stream (empty documents counted).
    pub document: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters), when the parser reports one.
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: ManifestErrorKind,
}

/// What is wrong with a source (see [`ManifestError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestErrorKind {
    /// Not YAML: the parser's message.
    #[error("YAML syntax: {0}")]
    Syntax(String),
    /// The same key twice in one mapping: tools disagree on which one wins,
    /// so neither is trusted.
    #[error("duplicate key {key:?} in a mapping (first at line {first_line})")]
    DuplicateKey {
        /// The key.
        key: String,
        /// 1-based line of its first occurrence.
        first_line: usize,
    },
    /// An alias to no complete node of its document: a node that contains
    /// the alias (a recursive structure), or an anchor of another document.
    #[error("alias to a node not defined before it in this document (a recursive alias?)")]
    UnresolvedAlias,
    /// A merge key (`<<`) whose value is not a mapping or a list of mappings.
    #[error("merge key `<<` expects a mapping or a list of mappings, found {found}")]
    InvalidMerge {
        /// What the value is.
        found: &'static str,
    },
    /// The source text is larger than [`ManifestLimits::max_bytes`].
    #[error("source is {found} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The source's size.
        found: usize,
    },
    /// More documents than [`ManifestLimits::max_documents`].
    #[error("more than {limit} documents")]
    TooManyDocuments {
        /// The limit.
        limit: usize,
    },
    /// Nesting deeper than [`ManifestLimits::max_depth`].
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Aliases that would expand a document past
    /// [`ManifestLimits::max_expanded_nodes`].
    #[error("aliases expand the document to more than {limit} nodes")]
    ExcessiveAliasing {
        /// The limit.
        limit: u64,
    },
    /// The document is YAML but its images cannot be read.
    #[error("{0}")]
    Workload(Box<WorkloadError>),
}

/// Reads every document of a multi-document YAML (or JSON) source with the
/// default [`ManifestLimits`]; `file` names it in uses and errors.
///
/// Every [`ImageUse`](super::ImageUse) has `file = Some(file)`, `document` =
/// its 0-based index in the stream (empty documents counted, so the index
/// matches the `---` separators), `line` and `span` where the image text is
/// written: the scalar as written, quotes included, without its anchor or
/// tag. An image reached through an alias or a merge key (`<<`) is reported
/// at its anchor, where its text is. Empty documents (only comments, `---`
/// with nothing) are skipped silently; a UTF-8 byte order mark and CRLF line
/// ends are read.
///
/// ```
/// let text = "# rendered\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n    image: \"dhi.io/python:3.13\"\n";
/// let found = dhi_verify::workload::read_manifests("pod.yaml", text)?;
/// let web = &found.uses[0];
/// assert_eq!((web.document, web.line), (0, Some(9)));
/// assert_eq!(&text[web.span.clone().unwrap()], "\"dhi.io/python:3.13\"");
/// # Ok::<(), dhi_verify::workload::ManifestError>(())
/// ```
pub fn read_manifests(file: &str, text: &str) -> Result<Workload, ManifestError> {
    read_manifests_with(file, text, &ManifestLimits::default())
}

/// [`read_manifests`] with explicit limits.
pub fn read_manifests_with(
    file: &str,
    text: &str,
    limits: &ManifestLimits,
) -> Result<Workload, ManifestError> {
    let mut found = Workload::default();
    documents(text, limits, |doc| {
        walk::document(&doc.root, doc.index, &mut found).map_err(|e| ManifestError {
            file: String::new(),
            document: doc.index,
            line: e.line().unwrap_or(doc.root.line),
            column: None,
            kind: ManifestErrorKind::Workload(Box::new(e)),
        })
    })
    .map_err(|mut e| {
        file.clone_into(&mut e.file);
        e
    })?;
    for u in &mut found.uses {
        u.file = Some(file.to_owned());
    }
    Ok(found)
}

/// One parsed document.
pub(crate) struct Document {
    /// 0-based index in the stream.
    pub(crate) index: usize,
    /// The root node (an empty scalar for an empty document).
    pub(crate) root: YNode,
    /// Byte ranges and lines of anchored nodes that some alias refers to: a
    /// scalar inside one is shared by every user of the anchor.
    pub(crate) shared: Vec<(Range<usize>, usize)>,
}

/// A node: where it is, and what it holds.
#[derive(Debug)]
pub(crate) struct YNode {
    pub(crate) value: YValue,
    /// Bytes of the node as written (for a scalar: quotes included, anchor
    /// and tag excluded).
    pub(crate) span: Range<usize>,
    /// 1-based line where the node starts.
    pub(crate) line: usize,
    /// Nodes with aliases counted as copies (saturating).
    weight: u64,
    /// Levels of collections below this node, through aliases: what a
    /// reader of the node recurses through.
    height: usize,
}

#[derive(Debug)]
pub(crate) enum YValue {
    Scalar {
        text: String,
        style: ScalarStyle,
        resolved: Resolved,
    },
    Seq(Vec<YNode>),
    Map(Vec<(YNode, YNode)>),
    /// An anchored node, or an alias to one: the node is shared.
    Shared(Rc<YNode>),
}

/// The YAML 1.2 core-schema type of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    Null,
    Bool,
    Number,
    Str,
}

impl YNode {
    /// The node itself, or the node an anchor or alias shares.
    pub(crate) fn target(&self) -> &YNode {
        match &self.value {
            YValue::Shared(rc) => rc,
            _ => self,
        }
    }

    /// The scalar's text and style, when this is a scalar.
    pub(crate) fn scalar(&self) -> Option<(&str, ScalarStyle)> {
        match &self.target().value {
            YValue::Scalar { text, style, .. } => Some((text, *style)),
            _ => None,
        }
    }

    /// Own entries and then merged ones (`<<`), own keys first; the walk
    /// sees a merged mapping as Kubernetes and Compose do.
    fn map_entries(&self) -> Option<Vec<(&str, &YNode)>> {
        let YValue::Map(entries) = &self.target().value else {
            return None;
        };
        let mut out: Vec<(&str, &YNode)> = Vec::with_capacity(entries.len());
        let mut merges = Vec::new();
        for (k, v) in entries {
            match k.key_str() {
                Some("<<") if k.is_merge_key() => merges.push(v),
                Some(key) => out.push((key, v)),
                None => {}
            }
        }
        if merges.is_empty() {
            return Some(out);
        }
        let mut seen: HashSet<&str> = out.iter().map(|(k, _)| *k).collect();
        for merge in merges {
            for source in merge_sources(merge) {
                for (key, v) in source.map_entries().unwrap_or_default() {
                    if seen.insert(key) {
                        out.push((key, v));
                    }
                }
            }
        }
        Some(out)
    }

    fn key_str(&self) -> Option<&str> {
        match &self.target().value {
            YValue::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    fn is_merge_key(&self) -> bool {
        matches!(&self.target().value, YValue::Scalar { text, style: ScalarStyle::Plain, .. } if text == "<<")
    }
}

/// The mappings a merge key's value names (validated when the mapping was built).
fn merge_sources(value: &YNode) -> Vec<&YNode> {
    match &value.target().value {
        YValue::Map(_) => vec![value.target()],
        YValue::Seq(items) => items.iter().map(YNode::target).collect(),
        _ => Vec::new(),
    }
}

impl Node for YNode {
    fn get(&self, key: &str) -> Option<&Self> {
        let YValue::Map(entries) = &self.target().value else {
            return None;
        };
        if let Some((_, v)) = entries
            .iter()
            .find(|(k, _)| k.key_str() == Some(key) && !k.is_merge_key())
        {
            return Some(v);
        }
        entries
            .iter()
            .filter(|(k, _)| k.is_merge_key())
            .flat_map(|(_, v)| merge_sources(v))
            .find_map(|m| m.get(key))
    }

    fn as_str(&self) -> Option<&str> {
        match &self.target().value {
            YValue::Scalar {
                text,
                resolved: Resolved::Str,
                ..
            } => Some(text),
            _ => None,
        }
    }

    fn items(&self) -> Option<Vec<&Self>> {
        match &self.target().value {
            YValue::Seq(items) => Some(items.iter().collect()),
            _ => None,
        }
    }

    fn entries(&self) -> Option<Vec<(&str, &Self)>> {
        self.map_entries()
    }

    fn is_null(&self) -> bool {
        matches!(
            self.target().value,
            YValue::Scalar {
                resolved: Resolved::Null,
                ..
            }
        )
    }

    fn shape(&self) -> &'static str {
        shape(self)
    }

    fn line(&self) -> Option<usize> {
        Some(self.target().line)
    }

    fn span(&self) -> Option<Range<usize>> {
        Some(self.target().span.clone())
    }
}

fn shape(node: &YNode) -> &'static str {
    match &node.target().value {
        YValue::Scalar { resolved, .. } => match resolved {
            Resolved::Null => "null",
            Resolved::Bool => "a boolean",
            Resolved::Number => "a number",
            Resolved::Str => "a string",
        },
        YValue::Seq(_) => "a list",
        YValue::Map(_) => "a mapping",
        YValue::Shared(_) => "an alias",
    }
}

/// The YAML 1.2 core schema (plus the YAML 1.1 forms Kubernetes' and
/// Compose's parsers also take as non-strings) for an untagged plain scalar.
fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Resolved {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() {
            return match tag.suffix.as_str() {
                "null" => Resolved::Null,
                "bool" => Resolved::Bool,
                "int" | "float" => Resolved::Number,
                _ => Resolved::Str,
            };
        }
    }
    if style != ScalarStyle::Plain {
        return Resolved::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => Resolved::Bool,
        _ if is_number(text) => Resolved::Number,
        _ => Resolved::Str,
    }
}

/// Core-schema int or float: `12`, `-1.5e3`, `0x1F`, `0o17`, `.inf`, `.nan`.
fn is_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(t, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits_ok = {
        let mut parts = mantissa.splitn(2, '.');
        let int = parts.next().unwrap_or_default();
        let frac = parts.next();
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        all_digits(int)
            && frac.is_none_or(all_digits)
            && !(int.is_empty() && frac.is_none_or(str::is_empty))
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    digits_ok && exponent_ok
}

/// Character index → byte offset, for the parser's character markers.
struct ByteIndex {
    /// For each non-ASCII character: (its character index, extra bytes up
    /// to and including it). Empty for ASCII text.
    extra: Vec<(usize, usize)>,
}

impl ByteIndex {
    fn new(text: &str) -> Self {
        let mut extra = Vec::new();
        if !text.is_ascii() {
            let mut total = 0;
            for (i, c) in text.chars().enumerate() {
                if !c.is_ascii() {
                    total += c.len_utf8() - 1;
                    extra.push((i, total));
                }
            }
        }
        ByteIndex { extra }
    }

    fn byte(&self, m: Marker) -> usize {
        let before = self.extra.partition_point(|(c, _)| *c < m.index());
        let added = before.checked_sub(1).map_or(0, |i| self.extra[i].1);
        m.index() + added
    }
}

/// A mapping or sequence being built.
struct Frame {
    start: usize,
    line: usize,
    anchor: usize,
    kind: FrameKind,
    weight: u64,
    height: usize,
}

enum FrameKind {
    Seq(Vec<YNode>),
    Map {
        entries: Vec<(YNode, YNode)>,
        key: Option<YNode>,
    },
}

/// What the builder knows about the document being read.
#[derive(Default)]
struct DocState {
    index: usize,
    stack: Vec<Frame>,
    /// Completed anchored nodes by anchor id, with their byte range and
    /// whether an alias refers to them.
    anchors: HashMap<usize, (Rc<YNode>, bool)>,
    root: Option<YNode>,
}

/// Parses `text` one document at a time and hands each to `each`; stops at
/// the first error (from the parser, a limit, or `each`). Errors carry an
/// empty `file` for the caller to fill.
pub(crate) fn documents(
    text: &str,
    limits: &ManifestLimits,
    mut each: impl FnMut(Document) -> Result<(), ManifestError>,
) -> Result<(), ManifestError> {
    let at = |document: usize, line: usize, kind: ManifestErrorKind| ManifestError {
        file: String::new(),
        document,
        line,
        column: None,
        kind,
    };
    if text.len() > limits.max_bytes {
        return Err(at(
            0,
            1,
            ManifestErrorKind::TooLarge {
                limit: limits.max_bytes,
                found: text.len(),
            },
        ));
    }
    let bytes = ByteIndex::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut seen = 0usize;
    let mut doc = DocState::default();
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| ManifestError {
            file: String::new(),
            document: seen.saturating_sub(1),
            line: e.marker().line(),
            column: Some(e.marker().col() + 1),
            kind: ManifestErrorKind::Syntax(e.info().to_owned()),
        })?;
        let line = span.start.line();
        let fail = |doc: &DocState, kind| Err(at(doc.index, line, kind));
        match event {
            Event::DocumentStart(_) => {
                seen += 1;
                if seen > limits.max_documents {
                    return Err(at(
                        seen - 1,
                        line,
                        ManifestErrorKind::TooManyDocuments {
                            limit: limits.max_documents,
                        },
                    ));
                }
                doc = DocState {
                    index: seen - 1,
                    ..DocState::default()
                };
            }
            Event::DocumentEnd => {
                let root = doc.root.take().unwrap_or_else(|| YNode {
                    value: YValue::Scalar {
                        text: String::new(),
                        style: ScalarStyle::Plain,
                        resolved: Resolved::Null,
                    },
                    span: 0..0,
                    line,
                    weight: 1,
                    height: 0,
                });
                let shared = doc
                    .anchors
                    .values()
                    .filter(|a| a.1)
                    .map(|a| (a.0.span.clone(), a.0.line))
                    .collect::<Vec<_>>();
                let index = doc.index;
                doc.anchors.clear();
                each(Document {
                    index,
                    root,
                    shared,
                })?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if doc.stack.len() >= limits.max_depth {
                    return fail(
                        &doc,
                        ManifestErrorKind::TooDeep {
                            limit: limits.max_depth,
                        },
                    );
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    FrameKind::Seq(Vec::new())
                } else {
                    FrameKind::Map {
                        entries: Vec::new(),
                        key: None,
                    }
                };
                doc.stack.push(Frame {
                    start: bytes.byte(span.start),
                    line,
                    anchor,
                    kind,
                    weight: 1,
                    height: 1,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = doc.stack.pop() else {
                    return fail(
                        &doc,
                        ManifestErrorKind::Syntax("unbalanced collection end".into()),
                    );
                };
                let end = bytes.byte(span.end).max(frame.start);
                let value = match frame.kind {
                    FrameKind::Seq(items) => YValue::Seq(items),
                    FrameKind::Map { entries, .. } => {
                        check_mapping(&entries)
                            .map_err(|(line, kind)| at(doc.index, line, kind))?;
                        YValue::Map(entries)
                    }
                };
                let node = YNode {
                    value,
                    span: frame.start..end,
                    line: frame.line,
                    weight: frame.weight,
                    height: frame.height,
                };
                complete(&mut doc, node, frame.anchor, limits, line)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let (span, line) =
                    scalar_span(text, &bytes, span, style, anchor != 0 || tag.is_some());
                let resolved = resolve(&value, style, tag.as_deref());
                let node = YNode {
                    value: YValue::Scalar {
                        text: value.into_owned(),
                        style,
                        resolved,
                    },
                    span,
                    line,
                    weight: 1,
                    height: 0,
                };
                complete(&mut doc, node, anchor, limits, line)?;
            }
            Event::Alias(id) => {
                let Some((target, aliased)) = doc.anchors.get_mut(&id) else {
                    return fail(&doc, ManifestErrorKind::UnresolvedAlias);
                };
                *aliased = true;
                let node = YNode {
                    span: bytes.byte(span.start)..bytes.byte(span.end),
                    line,
                    weight: target.weight,
                    height: target.height,
                    value: YValue::Shared(Rc::clone(target)),
                };
                complete(&mut doc, node, 0, limits, line)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
    Ok(())
}

/// Places a finished node in its parent (or as the root), anchoring it first.
fn complete(
    doc: &mut DocState,
    mut node: YNode,
    anchor: usize,
    limits: &ManifestLimits,
    line: usize,
) -> Result<(), ManifestError> {
    // Aliases nest what they share where they are used: the depth a reader
    // recurses through is this position plus the node's height.
    if doc.stack.len() + node.height > limits.max_depth {
        return Err(ManifestError {
            file: String::new(),
            document: doc.index,
            line,
            column: None,
            kind: ManifestErrorKind::TooDeep {
                limit: limits.max_depth,
            },
        });
    }
    if node.weight > limits.max_expanded_nodes {
        return Err(ManifestError {
            file: String::new(),
            document: doc.index,
            line,
            column: None,
            kind: ManifestErrorKind::ExcessiveAliasing {
                limit: limits.max_expanded_nodes,
            },
        });
    }
    if anchor != 0 {
        let span = node.span.clone();
        let (line, weight, height) = (node.line, node.weight, node.height);
        let shared = Rc::new(node);
        doc.anchors.insert(anchor, (Rc::clone(&shared), false));
        node = YNode {
            value: YValue::Shared(shared),
            span,
            line,
            weight,
            height,
        };
    }
    let (weight, height) = (node.weight, node.height);
    match doc.stack.last_mut() {
        None => doc.root = Some(node),
        Some(frame) => {
            frame.weight = frame.weight.saturating_add(weight);
            frame.height = frame.height.max(height + 1);
            match &mut frame.kind {
                FrameKind::Seq(items) => items.push(node),
                FrameKind::Map { entries, key } => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
            }
        }
    }
    Ok(())
}

/// No key twice; merge keys hold mappings.
fn check_mapping(entries: &[(YNode, YNode)]) -> Result<(), (usize, ManifestErrorKind)> {
    let mut keys: Vec<(&str, usize)> = entries
        .iter()
        .filter_map(|(k, _)| k.key_str().map(|s| (s, k.target().line)))
        .collect();
    keys.sort_unstable();
    for pair in keys.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err((
                pair[1].1.max(pair[0].1),
                ManifestErrorKind::DuplicateKey {
                    key: pair[0].0.to_owned(),
                    first_line: pair[0].1.min(pair[1].1),
                },
            ));
        }
    }
    for (k, v) in entries {
        if !k.is_merge_key() {
            continue;
        }
        let bad = match &v.target().value {
            YValue::Map(_) => None,
            YValue::Seq(items) => items
                .iter()
                .find(|i| !matches!(i.target().value, YValue::Map(_))),
            _ => Some(v),
        };
        if let Some(bad) = bad {
            return Err((
                bad.target().line,
                ManifestErrorKind::InvalidMerge { found: shape(bad) },
            ));
        }
    }
    Ok(())
}

/// A scalar's byte range without its properties (`&anchor`, `!tag`), which
/// the parser's span includes, and the line where the scalar itself starts.
fn scalar_span(
    text: &str,
    bytes: &ByteIndex,
    span: Span,
    style: ScalarStyle,
    has_properties: bool,
) -> (Range<usize>, usize) {
    let (start, end) = (bytes.byte(span.start), bytes.byte(span.end));
    let mut at = start;
    if has_properties {
        let b = text.as_bytes();
        while at < end {
            match b.get(at) {
                Some(b'&' | b'!') => {
                    while at < end
                        && !matches!(
                            b.get(at),
                            Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
                        )
                    {
                        at += 1;
                    }
                }
                Some(b' ' | b'\t' | b'\r' | b'\n') => at += 1,
                Some(b'#') => {
                    while at < end && b.get(at) != Some(&b'\n') {
                        at += 1;
                    }
                }
                _ => break,
            }
        }
    }
    let line = span.start.line() + text.get(start..at).map_or(0, |s| s.matches('\n').count());
    // The parser's end of a quoted scalar runs on over trailing blanks and
    // comments; the closing quote is the end.
    let end = match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            closing_quote(text, at).map_or(end, |close| close.min(end))
        }
        _ => end,
    };
    (at..end, line)
}

/// The byte after the quote that closes the quoted scalar opening at `start`.
fn closing_quote(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let quote = *b.get(start)?;
    let mut i = start + 1;
    while let Some(&c) = b.get(i) {
        match (quote, c) {
            (b'"', b'\\') => i += 2,
            (b'\'', b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
            (q, c) if q == c => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}
