//! Test fixtures for dhi-verify: DHI-shaped images, attestations and signatures.
