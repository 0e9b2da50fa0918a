//! Rewriting image references to the digests that were verified, keeping
//! every other byte of the Dockerfile. It owns the text edits; which digest
//! each reference gets is the caller's decision.

use std::collections::BTreeMap;
use std::ops::Range;

use super::stages::Occurrence;
use crate::digest::Digest;
use crate::reference::Reference;

/// `reference` pinned to `digest`, or `None` when it already names a digest
/// (or is not a reference).
pub(crate) fn pinned(reference: &str, digest: &Digest) -> Option<String> {
    match Reference::parse(reference).ok()? {
        Reference::Layout(l) if l.digest.is_none() => {
            // oci:<dir>:<tag> → oci:<dir>@<digest>: a layout reference holds
            // either a tag or a digest.
            let base = match &l.tag {
                Some(tag) => reference
                    .trim()
                    .strip_suffix(tag.as_str())?
                    .strip_suffix(':')?,
                None => reference.trim(),
            };
            Some(format!("{base}@{digest}"))
        }
        Reference::Registry(r) if r.digest.is_none() => {
            Some(format!("{}@{digest}", reference.trim()))
        }
        _ => None,
    }
}

/// Applies the pins. Occurrences whose spans no longer hold what was parsed
/// (a different `original`) are left untouched rather than guessed at.
pub(crate) fn pin(
    occurrences: &[Occurrence],
    original: &str,
    resolved: &BTreeMap<String, Digest>,
) -> String {
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    for o in occurrences {
        let Some(digest) = resolved.get(&o.reference) else {
            continue;
        };
        let Some(new) = pinned(&o.reference, digest) else {
            continue;
        };
        let mut written = String::new();
        for span in &o.spans {
            match original.get(span.clone()) {
                Some(s) => written.push_str(s),
                None => break,
            }
        }
        if o.spans.is_empty() || written != o.written {
            continue;
        }
        for (i, span) in o.spans.iter().enumerate() {
            let text = if i == 0 { new.clone() } else { String::new() };
            edits.push((span.clone(), text));
        }
    }
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(original.len() + edits.len() * 72);
    let mut at = 0;
    for (range, text) in edits {
        if range.start < at {
            continue;
        }
        out.push_str(original.get(at..range.start).unwrap_or_default());
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(original.get(at..).unwrap_or_default());
    out
}
