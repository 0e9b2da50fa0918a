//! Signature formats: cosign simple signing today; Sigstore bundles next.
//! Pure functions over bytes, trust material and an explicit time.

pub mod simple_signing;
