//! The one package inventory that CycloneDX and SPDX SBOMs are normalised into, and the normalisation rules they share (licenses, hashes, suppliers, relationship to the image). Format-specific reading lives in `cyclonedx` and `spdx`.
//!
//! Beside them, one idea a file: `model` (the [`Sbom`] and [`Package`] types
//! and their accessors), `strings` (the shared string buffer a package's
//! spans point into), `normalise` (spellings of both formats made one),
//! `graph` (the package-id index and each package's relationship to the
//! image), `scan` (the fast JSON reader). This file keeps the re-exports the
//! format readers take their tools from, and the serde list helper they share.

pub(crate) mod cyclonedx;
mod graph;
mod model;
mod normalise;
mod scan;
pub(crate) mod spdx;
mod strings;

#[cfg(test)]
mod fast_path_tests;

pub use crate::predicate::kind::SbomFormat;
pub(crate) use graph::{Graph, IdIndex};
pub(crate) use model::{Draft, Fields};
pub use model::{HashAlgorithm, ImageRelationship, Package, PackageHash, Sbom};
pub(crate) use normalise::{
    hash, license_name_to_expression, meaningful_license, purl_type, purpose, supplier_name,
};
pub(crate) use strings::{Estimate, Listed, Strings};

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
