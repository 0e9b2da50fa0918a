//! Objects as admission reads them (JSON): never panic; every image use's
//! pointer leads to that image string (the path `/mutate`'s JSONPatch
//! replaces); replacing each there and reading again finds the same uses,
//! pinned; and the same text read as YAML finds the same images at the same
//! pointers (the two readers of `deploy` and `serve` agree).
#![no_main]
use dhi_verify::workload::{images_in_object, read_manifests};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(mut object) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(found) = images_in_object(&object) else {
        return;
    };
    for u in &found.uses {
        assert_eq!(
            object.pointer(&u.pointer).and_then(Value::as_str),
            Some(u.image.as_str()),
            "{} does not lead to {:?}",
            u.pointer,
            u.image
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(read) = read_manifests("fuzz.json", text) {
            let pairs = |uses: &[dhi_verify::workload::ImageUse]| {
                uses.iter()
                    .map(|u| (u.pointer.clone(), u.image.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(pairs(&read.uses), pairs(&found.uses), "{text:?}");
        }
    }
    let pinned = "registry.example/pinned@sha256:0000000000000000000000000000000000000000000000000000000000000000";
    for u in &found.uses {
        if let Some(slot) = object.pointer_mut(&u.pointer) {
            *slot = Value::String(pinned.to_owned());
        }
    }
    let again = images_in_object(&object).expect("the pinned object reads");
    assert_eq!(again.uses.len(), found.uses.len());
    for (before, after) in found.uses.iter().zip(&again.uses) {
        assert_eq!(before.pointer, after.pointer);
        assert_eq!(after.image, pinned);
    }
});
