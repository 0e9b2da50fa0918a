//! Whole layouts through the verifier: one object of the valid demo layout
//! (`testdata/demo`) is changed, optionally renamed to its new digest with
//! every object that names it rewritten to match (up to `index.json`), so
//! that every digest and size in the layout is consistent again and only
//! signatures stand between the change and a pass.
//!
//! Properties: never a panic; and a pass never counts anything that was
//! changed: the approved platform manifest is the demo's, and every verified
//! attestation (manifest and statement) is one of the demo's own.
//!
//! Input: `mode`, `object` (u16, index into the layout's objects; the last
//! is `index.json`), `offset` (u32), then `payload`. Modes (mod 4):
//! 0 overwrite at `offset` in place (the name no longer matches);
//! 1 overwrite at `offset`, then rename and rewrite the referrers;
//! 2 replace the whole object by `payload`, then rename and rewrite;
//! 3 insert `payload` at `offset`, then rename and rewrite.
#![no_main]
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dhi_verify::{Digest, Outcome, Platform, Policy, TrustRoot, TrustedKey, Verifier};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const INDEX: &str = "index.json";

struct Demo {
    /// `blobs/sha256/<hex>` by hex, and `index.json` under [`INDEX`].
    objects: BTreeMap<String, Vec<u8>>,
    amd64: Digest,
    /// (attestation manifest, statement) pairs of the demo.
    attestations: BTreeSet<(Digest, Digest)>,
    verifier: Verifier,
    runtime: tokio::runtime::Runtime,
    dir: PathBuf,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/demo");
        let mut objects = BTreeMap::new();
        for e in std::fs::read_dir(root.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            objects.insert(name, std::fs::read(e.path()).unwrap());
        }
        objects.insert(INDEX.into(), std::fs::read(root.join(INDEX)).unwrap());
        let pem = std::fs::read_to_string(root.join("cosign.pub")).unwrap();
        let verifier = Verifier::builder()
            .trust(TrustRoot::from_keys([
                TrustedKey::from_pem("demo", &pem).unwrap()
            ]))
            .policy(Policy::dhi_default())
            .platforms([Platform::linux_amd64()])
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("dhi-fuzz-layout-{}", std::process::id()));
        write_pristine(&dir, &objects);
        let reference = format!("oci:{}:3.13", root.display());
        let verdict = runtime.block_on(verifier.verify(&reference)).unwrap();
        assert_eq!(verdict.outcome, Outcome::Pass, "the demo layout must pass");
        let amd64 = verdict.platforms[0].digest;
        let attestations = verdict
            .verified_attestations()
            .map(|a| (*a.manifest_digest(), *a.statement_digest()))
            .collect();
        Demo {
            objects,
            amd64,
            attestations,
            verifier,
            runtime,
            dir,
        }
    })
}

fn hex_of(bytes: &[u8]) -> String {
    Digest::of(bytes).hex().to_owned()
}

/// Replaces `old` by `new` in every string of `v` (digests, `sha256-<hex>`
/// tags, statement subjects), and sets `size` beside every descriptor that
/// now names `new`.
fn rewrite(v: &mut Value, old: &str, new: &str, new_size: usize) {
    match v {
        Value::String(s) if s.contains(old) => *s = s.replace(old, new),
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, old, new, new_size)),
        Value::Object(o) => {
            o.values_mut().for_each(|x| rewrite(x, old, new, new_size));
            let names_new = o
                .get("digest")
                .and_then(Value::as_str)
                .is_some_and(|d| d == format!("sha256:{new}"));
            if names_new && o.contains_key("size") {
                o.insert("size".into(), Value::from(new_size));
            }
        }
        _ => {}
    }
}

/// Renames the changed object `name` to its digest and rewrites, in turn,
/// every object that names it.
fn cascade(objects: &mut BTreeMap<String, Vec<u8>>, name: String) {
    let mut queue = vec![name];
    let mut rounds = 0;
    while let Some(name) = queue.pop() {
        rounds += 1;
        if rounds > 256 || name == INDEX {
            continue;
        }
        let Some(bytes) = objects.remove(&name) else {
            continue;
        };
        let new = hex_of(&bytes);
        let size = bytes.len();
        objects.insert(new.clone(), bytes);
        if new == name {
            continue;
        }
        let parents: Vec<String> = objects
            .iter()
            // Two-way search, not a memcmp per position: libFuzzer traces
            // every memcmp, and that dominated the run.
            .filter(|(n, b)| **n != new && String::from_utf8_lossy(b).contains(name.as_str()))
            .map(|(n, _)| n.clone())
            .collect();
        for p in parents {
            let Ok(mut json) = serde_json::from_slice::<Value>(&objects[&p]) else {
                continue;
            };
            rewrite(&mut json, &name, &new, size);
            if let Ok(b) = serde_json::to_vec(&json) {
                objects.insert(p.clone(), b);
                queue.push(p);
            }
        }
    }
}

fn path_of(dir: &Path, name: &str) -> PathBuf {
    if name == INDEX {
        dir.join(INDEX)
    } else {
        dir.join("blobs/sha256").join(name)
    }
}

/// Writes the demo layout once.
fn write_pristine(dir: &Path, objects: &BTreeMap<String, Vec<u8>>) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    for (name, bytes) in objects {
        std::fs::write(path_of(dir, name), bytes).unwrap();
    }
}

/// Makes the pristine layout at `dir` hold `objects`: writes what differs,
/// removes what is gone. Returns what to do to restore it.
fn apply(dir: &Path, pristine: &BTreeMap<String, Vec<u8>>, objects: &BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in objects {
        if pristine.get(name) != Some(bytes) {
            std::fs::write(path_of(dir, name), bytes).unwrap();
        }
    }
    for name in pristine.keys() {
        if !objects.contains_key(name) {
            let _ = std::fs::remove_file(path_of(dir, name));
        }
    }
}

/// Undoes [`apply`].
fn restore(dir: &Path, pristine: &BTreeMap<String, Vec<u8>>, objects: &BTreeMap<String, Vec<u8>>) {
    for (name, bytes) in objects {
        match pristine.get(name) {
            Some(original) if original == bytes => {}
            Some(original) => std::fs::write(path_of(dir, name), original).unwrap(),
            None => {
                let _ = std::fs::remove_file(path_of(dir, name));
            }
        }
    }
    for (name, original) in pristine {
        if !objects.contains_key(name) {
            std::fs::write(path_of(dir, name), original).unwrap();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    let d = demo();
    let mode = data[0] % 4;
    let names: Vec<&String> = d.objects.keys().collect();
    let which = usize::from(u16::from_le_bytes([data[1], data[2]])) % names.len();
    let name = names[which].clone();
    let offset = u32::from_le_bytes([data[3], data[4], data[5], data[6]]) as usize;
    let payload = &data[7..];
    let mut objects = d.objects.clone();
    let Some(target) = objects.get_mut(&name) else {
        return;
    };
    let at = if target.is_empty() {
        0
    } else {
        offset % target.len()
    };
    match mode {
        0 | 1 => {
            for (i, b) in payload.iter().enumerate() {
                if let Some(slot) = target.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        2 => *target = payload.to_vec(),
        _ => {
            let tail = target.split_off(at);
            target.extend_from_slice(payload);
            target.extend_from_slice(&tail);
        }
    }
    if objects == d.objects {
        return;
    }
    if mode != 0 {
        cascade(&mut objects, name);
    }
    apply(&d.dir, &d.objects, &objects);
    let reference = format!("oci:{}:3.13", d.dir.display());
    let result = d.runtime.block_on(d.verifier.verify(&reference));
    restore(&d.dir, &d.objects, &objects);
    if let Ok(v) = result {
        if v.outcome == Outcome::Pass {
            for p in &v.platforms {
                assert_eq!(p.digest, d.amd64, "passed with a changed platform manifest");
            }
            for a in v.verified_attestations() {
                assert!(
                    d.attestations
                        .contains(&(*a.manifest_digest(), *a.statement_digest())),
                    "a changed attestation verified: {:?}",
                    a.manifest_digest()
                );
            }
        }
    }
});
