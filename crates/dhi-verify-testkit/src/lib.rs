//! Test fixtures for dhi-verify: DHI-shaped images with attestations and
//! cosign simple-signing signatures in the exact wire format of
//! `DHI-FORMAT.md`, written as OCI image layouts, with any single link of the
//! chain breakable on purpose ([`Tamper`]).
//!
//! Besides DHI's own shape, the fixtures come in the shapes cosign v2,
//! slsa-github-generator and BuildKit publish (mirroring the real samples in
//! `testdata/real/`): attestations bound to the index
//! ([`DhiImage::attest_index`]), BuildKit in-index attestations
//! ([`DhiImage::with_buildkit_attestations`]), keyed `.att` layers logged as
//! each Rekor entry kind ([`EntryKind`], [`EntryForgery`]), `cosign save`
//! layouts ([`DhiImage::write_cosign_save`]) and their push with cosign's tag
//! schema ([`registry::Content::from_cosign_save`]), and the `.sig` manifest
//! rebuilt around real keyed signatures ([`cosign::write_real_sig_layout`]);
//! [`cosign_corpus`] writes them to `testdata/cosign/`.
//!
//! Everything is deterministic: keys derive from names, ECDSA signatures use
//! RFC 6979 nonces, JSON is written with sorted keys. The same call writes the
//! same bytes.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: failing loudly is the point
#![allow(missing_docs)]

pub mod adversarial;
pub mod cosign;
pub mod cosign_corpus;
pub mod image;
pub mod keys;
pub mod layout;
pub mod real;
pub mod registry;
pub mod rekor;

pub use image::{
    AttestationInfo, CosignSave, DhiImage, Fixture, IndexAttestation, KeylessSigner, PredicateKind,
    Tamper,
};
pub use keys::TestKey;
pub use layout::LayoutWriter;
pub use rekor::{EntryForgery, EntryKind, TestRekor};
