//! Simple-signing payloads and signatures: never panic; random signatures never verify.
#![no_main]
use std::time::SystemTime;

use dhi_verify::signature::simple_signing::{check_payload_claims, verify_signature};
use dhi_verify::{Digest, TrustRoot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&[u8], &str)| {
    let (payload, signature) = data;
    let _ = check_payload_claims(
        payload,
        &Digest::of(b"m"),
        Some("https://slsa.dev/provenance/v1"),
    );
    assert!(verify_signature(
        payload,
        signature,
        &TrustRoot::dhi_embedded(),
        SystemTime::now()
    )
    .is_err());
});
