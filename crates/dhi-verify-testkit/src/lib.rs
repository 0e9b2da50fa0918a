//! Test fixtures for dhi-verify: DHI-shaped images with attestations and
//! cosign simple-signing signatures in the exact wire format of
//! `DHI-FORMAT.md`, written as OCI image layouts, with any single link of the
//! chain breakable on purpose ([`Tamper`]).
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
pub mod registry;
pub mod rekor;

pub use image::{
    AttestationInfo, CosignSave, DhiImage, Fixture, IndexAttestation, KeylessSigner, PredicateKind,
    Tamper,
};
pub use keys::TestKey;
pub use layout::LayoutWriter;
pub use rekor::{EntryForgery, EntryKind, TestRekor};
