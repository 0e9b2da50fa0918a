//! Pinning the images of a YAML (or JSON) source to verified digests by
//! rewriting only each image scalar's bytes: comments, order, anchors and
//! quoting stay as written. Which digest each image gets is the caller's
//! decision; this module only refuses edits it cannot make exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use saphyr_parser::ScalarStyle;

use super::walk::Node;
use super::yaml::{documents, Document, ManifestLimits, YNode};
use super::{ImageUse, ManifestError};
use crate::digest::Digest;
use crate::reference::Reference;

/// Why a source cannot be pinned. Nothing is written when any pin fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The source text no longer parses.
    #[error("cannot pin: {0}")]
    Unreadable(Box<ManifestError>),
    /// An image use without a span (read from a parsed object, not from text).
    #[error("{pointer}: image use has no position in the source text")]
    NoPosition {
        /// The use's pointer.
        pointer: String,
    },
    /// The source no longer holds the image where it was read: the text
    /// changed since [`read_manifests`](super::read_manifests).
    #[error("document {}, {pointer}: expected image {expected:?} at bytes {span:?}, found {found}", document + 1)]
    Stale {
        /// 0-based document index.
        document: usize,
        /// The use's pointer.
        pointer: String,
        /// The span the use names.
        span: Range<usize>,
        /// The image the use names.
        expected: String,
        /// What the source holds there.
        found: String,
    },
    /// A block scalar (`image: |`): its indentation and chomping rules make
    /// an in-place edit unsafe, so write the image as a plain scalar.
    #[error("line {line}: {pointer} is a block scalar; write the image on one line to pin it")]
    BlockScalar {
        /// 1-based line of the scalar.
        line: usize,
        /// The use's pointer.
        pointer: String,
    },
    /// The image is written inside an anchored node that an alias refers to
    /// (`image: *img`, `<<: *defaults`): rewriting it would change every
    /// user of the anchor, including ones that are not this image use.
    #[error("line {line}: {pointer} is written in an anchor (line {anchor_line}) shared by an alias; pinning it would change every alias, so pin it by hand")]
    SharedAnchor {
        /// 1-based line of the image scalar.
        line: usize,
        /// 1-based line where the shared anchored node starts.
        anchor_line: usize,
        /// The use's pointer.
        pointer: String,
    },
    /// The same scalar asked to be pinned to two different digests.
    #[error("line {line}: the same image scalar is asked to be pinned to {first} and to {second}")]
    Conflict {
        /// 1-based line of the scalar.
        line: usize,
        /// The first digest asked for.
        first: Digest,
        /// The other digest asked for.
        second: Digest,
    },
    /// The image is not a registry reference.
    #[error("{pointer}: {image:?} is not a registry reference")]
    NotARegistryReference {
        /// The use's pointer.
        pointer: String,
        /// The image as written.
        image: String,
    },
    /// Reading the rewritten text did not find the pinned image where it was
    /// written (a guard: the rewrite is never returned unchecked).
    #[error("document {}, {pointer}: after pinning, expected {expected:?}, found {found}", document + 1)]
    NotPinned {
        /// 0-based document index.
        document: usize,
        /// The use's pointer.
        pointer: String,
        /// The pinned image.
        expected: String,
        /// What the rewritten text holds.
        found: String,
    },
}

/// Rewrites each image use in `pins` to `name:tag@sha256:<digest>` in
/// `text` (the source the uses were read from with
/// [`read_manifests`](super::read_manifests)), keeping every other byte.
///
/// - An image that already names a digest (`name@sha256:…`) is left as it is.
/// - A quoted scalar keeps its quotes; a plain one stays plain.
/// - The same scalar listed twice with the same digest is rewritten once;
///   with different digests it is a [`PinError::Conflict`].
/// - The text is parsed again and each use looked up by its document and
///   pointer: a span that no longer holds the image as written is
///   [`PinError::Stale`] (never a guess).
/// - A block scalar is [`PinError::BlockScalar`]. An image written inside an
///   anchored node that some alias uses (`image: *img`, or a Compose
///   `<<: *defaults`) is [`PinError::SharedAnchor`]: the edit would reach
///   every user of the anchor, including ones this call was not asked about,
///   so such images are refused rather than pinned for some users only.
/// - The result is read again and every pinned use checked
///   ([`PinError::NotPinned`] if not).
///
/// ```
/// use dhi_verify::{workload, Digest};
/// let text = "kind: Pod\nspec:\n  containers:\n  - name: app\n    image: 'dhi.io/python:3.13' # runtime\n";
/// let found = workload::read_manifests("pod.yaml", text)?;
/// let digest = Digest::of(b"example");
/// let pinned = workload::pin(text, &[(&found.uses[0], &digest)])?;
/// assert_eq!(pinned, text.replace("3.13'", &format!("3.13@{digest}'")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn pin(text: &str, pins: &[(&ImageUse, &Digest)]) -> Result<String, PinError> {
    let limits = ManifestLimits::default();
    let mut by_document: BTreeMap<usize, Vec<(&ImageUse, &Digest)>> = BTreeMap::new();
    for (u, digest) in pins {
        if u.span.is_none() {
            return Err(PinError::NoPosition {
                pointer: u.pointer.clone(),
            });
        }
        by_document.entry(u.document).or_default().push((u, digest));
    }
    // start byte → (end byte, replacement, digest, line)
    let mut edits: BTreeMap<usize, (usize, String, Digest, usize)> = BTreeMap::new();
    let mut pinned: Vec<(&ImageUse, String)> = Vec::new();
    let mut failure: Option<PinError> = None;
    let mut seen = BTreeSet::new();
    documents(text, &limits, |doc| {
        if failure.is_some() {
            return Ok(());
        }
        let Some(list) = by_document.get(&doc.index) else {
            return Ok(());
        };
        seen.insert(doc.index);
        for (u, digest) in list {
            match edit(&doc, u, digest) {
                Ok(None) => {}
                Ok(Some((span, replacement, new, line))) => {
                    if let Some((_, _, first, _)) = edits.get(&span.start) {
                        if first != *digest {
                            failure = Some(PinError::Conflict {
                                line,
                                first: *first,
                                second: **digest,
                            });
                            return Ok(());
                        }
                    }
                    edits.insert(span.start, (span.end, replacement, **digest, line));
                    pinned.push((u, new));
                }
                Err(e) => {
                    failure = Some(e);
                    return Ok(());
                }
            }
        }
        Ok(())
    })
    .map_err(|mut e| {
        if let Some(file) = pins.first().and_then(|(u, _)| u.file.as_ref()) {
            file.clone_into(&mut e.file);
        }
        PinError::Unreadable(Box::new(e))
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some((u, _)) = pins.iter().find(|(u, _)| !seen.contains(&u.document)) {
        return Err(stale(u, "no such document".to_owned()));
    }

    let mut out = String::with_capacity(text.len() + edits.len() * 72);
    let mut at = 0;
    for (start, (end, replacement, _, _)) in &edits {
        out.push_str(text.get(at..*start).unwrap_or_default());
        out.push_str(replacement);
        at = *end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    check_pinned(&out, &pinned, &limits)?;
    Ok(out)
}

/// The edit for one use: `None` when it already names a digest.
#[allow(clippy::type_complexity)] // one private helper's tuple
fn edit(
    doc: &Document,
    u: &ImageUse,
    digest: &Digest,
) -> Result<Option<(Range<usize>, String, String, usize)>, PinError> {
    let Some(node) = lookup(&doc.root, &u.pointer) else {
        return Err(stale(u, "nothing at that pointer".to_owned()));
    };
    let scalar = node.target();
    let Some((value, style)) = scalar.scalar() else {
        return Err(stale(u, node.shape().to_owned()));
    };
    if value != u.image || Some(&scalar.span) != u.span.as_ref() {
        return Err(stale(u, format!("{value:?} at bytes {:?}", scalar.span)));
    }
    let line = scalar.line;
    let new = match Reference::parse(value.trim()) {
        Ok(Reference::Registry(r)) if r.digest.is_some() => return Ok(None),
        Ok(Reference::Registry(_)) => format!("{}@{digest}", value.trim()),
        _ => {
            return Err(PinError::NotARegistryReference {
                pointer: u.pointer.clone(),
                image: value.to_owned(),
            })
        }
    };
    if let Some((_, anchor_line)) = doc
        .shared
        .iter()
        .find(|(r, _)| r.start <= scalar.span.start && scalar.span.end <= r.end)
    {
        return Err(PinError::SharedAnchor {
            line,
            anchor_line: *anchor_line,
            pointer: u.pointer.clone(),
        });
    }
    let replacement = match style {
        ScalarStyle::Plain => new.clone(),
        ScalarStyle::SingleQuoted => format!("'{new}'"),
        ScalarStyle::DoubleQuoted => format!("\"{new}\""),
        ScalarStyle::Literal | ScalarStyle::Folded => {
            return Err(PinError::BlockScalar {
                line,
                pointer: u.pointer.clone(),
            })
        }
    };
    Ok(Some((scalar.span.clone(), replacement, new, line)))
}

fn stale(u: &ImageUse, found: String) -> PinError {
    PinError::Stale {
        document: u.document,
        pointer: u.pointer.clone(),
        span: u.span.clone().unwrap_or_default(),
        expected: u.image.clone(),
        found,
    }
}

/// The node at an RFC 6901 pointer, through aliases and merge keys as the
/// walk reads them.
fn lookup<'n>(root: &'n YNode, pointer: &str) -> Option<&'n YNode> {
    let mut node = root;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        node = match node.items() {
            Some(items) => *items.get(token.parse::<usize>().ok()?)?,
            None => node.get(&token)?,
        };
    }
    Some(node)
}

/// Reads the rewritten text and checks every pinned use holds its new image.
fn check_pinned(
    out: &str,
    pinned: &[(&ImageUse, String)],
    limits: &ManifestLimits,
) -> Result<(), PinError> {
    let mut by_document: BTreeMap<usize, Vec<&(&ImageUse, String)>> = BTreeMap::new();
    for p in pinned {
        by_document.entry(p.0.document).or_default().push(p);
    }
    let mut failure = None;
    documents(out, limits, |doc| {
        for (u, new) in by_document.remove(&doc.index).unwrap_or_default() {
            let found = lookup(&doc.root, &u.pointer)
                .and_then(YNode::scalar)
                .map(|s| s.0);
            if found != Some(new.as_str()) && failure.is_none() {
                failure = Some(PinError::NotPinned {
                    document: u.document,
                    pointer: u.pointer.clone(),
                    expected: new.clone(),
                    found: found.map_or_else(|| "nothing".to_owned(), |s| format!("{s:?}")),
                });
            }
        }
        Ok(())
    })
    .map_err(|e| PinError::Unreadable(Box::new(e)))?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some((u, new)) = by_document.values().flatten().next() {
        return Err(PinError::NotPinned {
            document: u.document,
            pointer: u.pointer.clone(),
            expected: new.clone(),
            found: "no such document".to_owned(),
        });
    }
    Ok(())
}
