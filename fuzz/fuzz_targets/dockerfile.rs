//! Dockerfiles: never panic; what parses, pins without panicking.
#![no_main]
use std::collections::BTreeMap;

use dhi_verify::dockerfile::Dockerfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Ok(d) = Dockerfile::parse(data, &BTreeMap::new()) {
        let _ = d.external_images(None);
        let _ = d.pin(data, &BTreeMap::new());
    }
});
