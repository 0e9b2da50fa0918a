//! Manifests and indexes: never panic on any bytes.
#![no_main]
use dhi_verify::fuzzing::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        let _ = m.subject();
    }
});
