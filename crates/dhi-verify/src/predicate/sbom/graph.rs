//! Relationships between packages: the package-id index that resolves
//! references (CycloneDX `dependsOn`, SPDX relationships) and the graph that
//! gives each package its [`ImageRelationship`] to the image.

use std::collections::VecDeque;

use super::model::{Draft, ImageRelationship};
use super::strings::{Span, Strings};

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
pub(super) mod tests {
    use super::*;
    use crate::predicate::sbom::model::Fields;

    /// Packages with the given ids (`None`: no id), as the parsers store them.
    pub(crate) fn with_ids(ids: &[Option<&str>]) -> (Strings, Vec<Draft>) {
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
}
