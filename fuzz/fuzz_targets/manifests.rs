//! Manifests: never panic; every image use read has a span inside the text on
//! its line; pinning every use either refuses or yields text that reads back
//! with the same uses, each now naming a digest.
#![no_main]
use dhi_verify::workload::{pin, read_manifests};
use dhi_verify::Digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let Ok(found) = read_manifests("fuzz.yaml", data) else {
        return;
    };
    for u in &found.uses {
        let span = u.span.clone().expect("a use read from text has a span");
        assert!(data.get(span.clone()).is_some(), "{span:?} outside {data:?}");
        let line = data[..span.start].matches('\n').count() + 1;
        assert_eq!(u.line, Some(line), "{data:?}");
    }
    let digest = Digest::of(data.as_bytes());
    let pins: Vec<_> = found.uses.iter().map(|u| (u, &digest)).collect();
    if let Ok(pinned) = pin(data, &pins) {
        let again = read_manifests("fuzz.yaml", &pinned).expect("pinned text reads");
        assert_eq!(again.uses.len(), found.uses.len());
        for (before, after) in found.uses.iter().zip(&again.uses) {
            assert_eq!(before.pointer, after.pointer);
            assert!(after.image.contains("@sha256:"), "{after:?}");
        }
    }
});
