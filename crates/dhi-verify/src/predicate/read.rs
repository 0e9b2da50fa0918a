//! The read stage: what verified attestations say, each statement parsed at
//! most once per verification, with the verifier's limits.
//!
//! The policy's rules ask for the predicates of the kinds they judge
//! (provenance, SBOMs, vulnerability reports, VEX); only statements of those
//! kinds are parsed, and a statement seen before — the same SBOM judged by
//! two rule families, or an attestation about the index judged for every
//! platform — is not parsed again.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::{parse_statement_predicate, predicate_kind, Predicate, PredicateKind, PredicateLimits};
use crate::digest::Digest;
use crate::verdict::VerifiedAttestation;

/// A predicate read from a verified statement, or why it could not be read.
type Read = Result<Rc<Predicate>, String>;

/// Reads the predicates of one verification's verified attestations.
#[derive(Debug)]
pub(crate) struct PredicateReader {
    limits: PredicateLimits,
    read: RefCell<HashMap<Digest, Read>>,
    parses: Cell<usize>,
}

impl PredicateReader {
    /// A reader that parses with `limits`.
    pub(crate) fn new(limits: PredicateLimits) -> Self {
        PredicateReader {
            limits,
            read: RefCell::new(HashMap::new()),
            parses: Cell::new(0),
        }
    }

    /// The predicates of those `attestations` whose predicate type is of a
    /// kind `wanted` accepts, in order, each with its attestation. The first
    /// that cannot be read is the error (a rule cannot judge what it cannot
    /// read: it fails).
    pub(crate) fn read<'a>(
        &self,
        attestations: &[&'a VerifiedAttestation],
        wanted: impl Fn(PredicateKind) -> bool,
    ) -> Result<Vec<(Rc<Predicate>, &'a VerifiedAttestation)>, String> {
        let mut out = Vec::new();
        for a in attestations {
            if !wanted(predicate_kind(a.predicate_type())) {
                continue;
            }
            match self.one(a) {
                Ok(p) => out.push((p, *a)),
                Err(e) => {
                    return Err(format!(
                        "verified attestation {} cannot be read: {e}",
                        a.manifest_digest().short()
                    ))
                }
            }
        }
        Ok(out)
    }

    /// One attestation's predicate, parsed on first use.
    fn one(&self, a: &VerifiedAttestation) -> Read {
        if let Some(r) = self.read.borrow().get(a.statement_digest()) {
            return r.clone();
        }
        self.parses.set(self.parses.get() + 1);
        let r = parse_statement_predicate(a.predicate_type(), a.statement(), &self.limits)
            .map(Rc::new)
            .map_err(|e| e.to_string());
        self.read
            .borrow_mut()
            .insert(*a.statement_digest(), r.clone());
        r
    }

    /// How many statements were parsed (each at most once).
    #[cfg(test)]
    pub(crate) fn parses(&self) -> usize {
        self.parses.get()
    }
}
