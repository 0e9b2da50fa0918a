//! Where bytes come from: an OCI image layout on disk, or a registry.
//!
//! The only layer that does I/O. Every source answers the same questions —
//! resolve a reference, fetch content by digest, list the referrers of a
//! digest — and every byte leaves this layer size-capped *before* it was read
//! and digest-checked *before* anyone parses it. No trust decisions here.

pub(crate) mod budget;
pub(crate) mod cache;
pub use cache::default_dir as default_cache_dir;
pub mod layout;
pub mod registry;

use std::future::Future;

use crate::digest::Digest;
use crate::error::SourceError;
use crate::limits::Limits;
use crate::oci::Descriptor;

/// What a piece of content is, which decides its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentKind {
    /// A manifest or index.
    Manifest,
    /// An in-toto statement.
    Statement,
    /// A cosign simple-signing payload.
    Payload,
    /// An image configuration.
    Config,
}

impl ContentKind {
    /// The limit for this kind of content, and the limit's name for errors.
    pub(crate) fn limit(self, limits: &Limits) -> (u64, &'static str) {
        match self {
            ContentKind::Manifest => (limits.max_manifest_bytes, "max_manifest_bytes"),
            ContentKind::Statement => (limits.max_statement_bytes, "max_statement_bytes"),
            ContentKind::Payload => (limits.max_payload_bytes, "max_payload_bytes"),
            ContentKind::Config => (limits.max_config_bytes, "max_config_bytes"),
        }
    }
}

/// A place that holds images and their referrers.
pub(crate) trait Source {
    /// A human description of the source, for errors ("OCI layout testdata/demo").
    fn location(&self) -> String;

    /// Resolves a tag or digest (or, for a layout holding one image, nothing)
    /// to the descriptor of the manifest or index it names.
    fn resolve(
        &self,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> impl Future<Output = Result<Descriptor, SourceError>>;

    /// Fetches content by digest: refuses more than the limit for `kind`,
    /// checks the declared size when given, and checks the digest.
    fn fetch(
        &self,
        digest: &Digest,
        declared_size: Option<u64>,
        kind: ContentKind,
    ) -> impl Future<Output = Result<Vec<u8>, SourceError>>;

    /// Lists the manifests whose `subject` is `subject`, unfiltered.
    fn referrers(
        &self,
        subject: &Digest,
    ) -> impl Future<Output = Result<Vec<Descriptor>, SourceError>>;

    /// Lists the signatures of an attestation manifest (immutable, named by
    /// digest): like [`Source::referrers`], but a source may answer from a
    /// listing it kept, saying so with `true`. Safe because every signature
    /// listed is verified like any other, and a kept listing can only lack
    /// newer signatures: a verification that does not pass with kept
    /// listings is repeated with fresh ones (see [`crate::Verifier`]).
    fn signature_referrers(
        &self,
        subject: &Digest,
    ) -> impl Future<Output = Result<(Vec<Descriptor>, bool), SourceError>> {
        async move { self.referrers(subject).await.map(|l| (l, false)) }
    }

    /// Resolves a tag that may not exist (cosign's `sha256-<hex>.sig` and
    /// `.att`): `Ok(None)` only when the source says the tag is not there;
    /// any other failure stays an error.
    fn tagged(&self, tag: &str) -> impl Future<Output = Result<Option<Descriptor>, SourceError>> {
        async move {
            match self.resolve(Some(tag), None).await {
                Ok(d) => Ok(Some(d)),
                Err(SourceError::TagNotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        }
    }

    /// Content the source found corrupt while indexing itself (a layout's
    /// blobs whose bytes do not match their names). Empty for most sources.
    fn integrity_problems(&self) -> Vec<SourceError> {
        Vec::new()
    }
}

/// Checks fetched bytes against the digest that named them and the size their
/// descriptor declared. Every source calls this before returning bytes.
pub(crate) fn check_content(
    expected: &Digest,
    declared_size: Option<u64>,
    bytes: &[u8],
) -> Result<(), SourceError> {
    let found = Digest::of(bytes);
    if found != *expected {
        return Err(SourceError::DigestMismatch {
            expected: *expected,
            found,
        });
    }
    if let Some(size) = declared_size {
        if size != bytes.len() as u64 {
            return Err(SourceError::SizeMismatch {
                digest: *expected,
                expected: size,
                found: bytes.len() as u64,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_that_does_not_hash_to_its_digest_is_rejected() {
        let d = Digest::of(b"signed");
        assert_eq!(
            check_content(&d, None, b"forged"),
            Err(SourceError::DigestMismatch {
                expected: d,
                found: Digest::of(b"forged")
            })
        );
        assert_eq!(check_content(&d, Some(6), b"signed"), Ok(()));
    }

    #[test]
    fn content_whose_size_differs_from_its_descriptor_is_rejected() {
        let d = Digest::of(b"signed");
        assert!(matches!(
            check_content(&d, Some(7), b"signed"),
            Err(SourceError::SizeMismatch {
                expected: 7,
                found: 6,
                ..
            })
        ));
    }
}
