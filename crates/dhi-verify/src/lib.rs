//! `dhi-verify`: may this container image run?
//!
//! Resolves an image reference, discovers the signatures, SBOMs and build
//! provenance attached to it, verifies every link of the chain against trusted
//! keys, and returns a typed verdict that names the exact digest it approved.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
pub mod predicate;
