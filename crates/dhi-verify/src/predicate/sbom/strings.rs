//! The strings of one SBOM: one shared text buffer (and one for package
//! ids) that every [`Package`] points into by [`Span`]s, the license and hash
//! lists as runs of spans, and the one-time reservation ([`Estimate`]) that
//! spares the buffers their doubling copies. No JSON, no normalisation rules.

use std::borrow::Cow;
use std::sync::Arc;

use super::model::{Draft, HashAlgorithm, Package};
use crate::predicate::error::PredicateError;

/// A byte range of [`Strings::text`]; `u32` keeps a package small (a
/// document whose strings outgrow it is refused, see [`Strings::finish`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(super) start: u32,
    pub(super) end: u32,
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
    pub(super) text: String,
    /// Package ids, apart from the rest: resolving references reads them in
    /// any order, and a compact buffer keeps those reads in cache.
    pub(super) id_text: String,
    pub(super) licenses: Vec<Span>,
    pub(super) hashes: Vec<(HashAlgorithm, Span)>,
    /// Set when an offset did not fit a `u32`.
    pub(super) overflow: bool,
    /// Keys the hashes of package ids (see [`IdIndex`](super::graph::IdIndex)).
    pub(super) id_hasher: ahash::RandomState,
}

impl Strings {
    pub(super) fn get(&self, span: Span) -> &str {
        self.text.get(span.range()).unwrap_or_default()
    }

    /// A package id (see [`Strings::id`]).
    pub(super) fn get_id(&self, span: Span) -> &str {
        self.id_text.get(span.range()).unwrap_or_default()
    }

    pub(super) fn opt(&self, span: Option<Span>) -> Option<&str> {
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
    pub(super) fn push_mapped(&mut self, s: &str, f: impl Fn(char) -> char) -> Span {
        let start = self.text.len();
        self.text.extend(s.chars().map(f));
        self.span(start, self.text.len())
    }

    /// The span `start..end` of the text, or an empty one (and the overflow
    /// flag) when it does not fit a `u32`.
    pub(super) fn span(&mut self, start: usize, end: usize) -> Span {
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

    /// Appends a package id unless it is absent or empty, with its hash for [`IdIndex`](super::graph::IdIndex).
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

    pub(super) fn hash_id(&self, id: &str) -> u64 {
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
    pub(super) const AFTER: usize = 1024;
    /// Fewer statement bytes than a package takes as tools write them
    /// (500–1 000); bounds the room reserved for packages.
    pub(super) const MIN_PACKAGE_BYTES: usize = 128;

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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;
    use crate::predicate::sbom::graph::tests::with_ids;

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
}
