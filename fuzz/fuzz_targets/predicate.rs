//! Predicates (SBOM, provenance, VEX, scans): never panic on any bytes, for every type.
#![no_main]
use dhi_verify::predicate::{parse_statement_predicate, PredicateLimits};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 8] = [
    "https://cyclonedx.org/bom/v1.6",
    "https://spdx.dev/Document",
    "https://slsa.dev/provenance/v1",
    "https://slsa.dev/provenance/v0.2",
    "https://openvex.dev/ns/v0.2.0",
    "https://in-toto.io/attestation/vulns/v0.1",
    "https://scout.docker.com/vulnerabilities/v0.1",
    "https://scout.docker.com/virus/v0.1",
];

fuzz_target!(|data: &[u8]| {
    for t in TYPES {
        let _ = parse_statement_predicate(t, data, &PredicateLimits::default());
    }
});
