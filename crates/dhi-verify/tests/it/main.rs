//! Integration tests of the library, one module per topic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

/// Shared fixture helpers.
mod util;

/// Every link of the chain broken on purpose, one at a time: each must fail.
mod tamper;

/// Finding attestations in layouts: tag schema, subject scan, external layouts.
mod discovery;

/// Malformed, oversized and random input: never a panic, never a pass.
mod bad_input;

/// Platform selection against an index.
mod platforms;

/// Legacy cosign Rekor bundles on simple-signing signatures, and the tlog policy modes.
mod tlog;

/// Sigstore bundle referrers (cosign v3) as attestation signatures.
mod bundle_signatures;

/// Signatures and attestations on the image itself: cosign tags, signature
/// and Sigstore bundle referrers of the index or a platform manifest.
mod image_signatures;

/// cosign v2 `.att` layers with Rekor bundles: keyless (the real
/// slsa-github-generator layouts) and keyed (every entry kind cosign writes).
mod cosign_att;

/// The real DHI keys against a real Docker signature.
mod real_signature;

/// Real registries: Debian's docker-registry (tag-schema fallback; no auth,
/// Basic, token) and the testkit's referrers-API registry with injected faults.
mod registry;

/// The disk cache: digest-checked reads, corrupt entries refetched, offline mode.
mod cache;

/// Limits on a verification as a whole: redirects, total bytes, deadline.
mod limits;

/// Two images in one layout: no single-byte change and no move of A's
/// attestations onto B makes a failure pass or a pass name another image.
mod single_byte;

/// Real artifacts of the real tools (`testdata/real/`): `cosign save`
/// layouts, cosign v2 `.att` about the index, BuildKit in-index attestations.
mod real_artifacts;

/// One verifier, a policy and platforms per call.
mod requests;

/// The real layouts and the `testdata/cosign/` cases pushed to Debian's
/// docker-registry with cosign's tag schema: the same verdict as from the layout.
mod real_registry;

/// cosign and BuildKit shapes from the testkit with one link broken: every
/// entry kind × forgery, index attestations, keyed `cosign save` layouts.
mod cosign_shapes;
