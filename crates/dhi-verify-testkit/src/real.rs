//! The real artifacts in `testdata/real/` (slsa-github-generator's `cosign
//! save` layouts, dangerzone's keyed signatures): where they are, who signed
//! them, writable copies, and edits that re-point every manifest up to
//! `index.json` so that only the link under test is broken.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::layout::sha256_str;

/// The slsa-github-generator releases whose `cosign save` layouts we hold.
pub const SLSA_GENERATOR_VERSIONS: [&str; 3] = ["v1.4.0", "v1.7.0", "v2.0.0"];

/// The OIDC issuer of every real keyless signature here (GitHub Actions).
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The repository's `testdata/real/`.
pub fn testdata_real() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/real")
}

/// `testdata/real/slsa-github-generator/<version>/`.
pub fn slsa_generator_dir(version: &str) -> PathBuf {
    testdata_real().join("slsa-github-generator").join(version)
}

/// The real layout of `version` (read-only: copy it to change it).
pub fn slsa_generator_layout(version: &str) -> PathBuf {
    slsa_generator_dir(version).join("container_workflow_dispatch")
}

/// The digest of the image that `version`'s layout was saved for.
pub fn slsa_generator_digest(version: &str) -> String {
    std::fs::read_to_string(slsa_generator_dir(version).join("container_workflow_dispatch.digest"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The certificate identity slsa-github-generator's container workflow of
/// `version` signs with.
pub fn slsa_generator_identity(version: &str) -> String {
    format!("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/{version}")
}

/// A writable copy of `version`'s layout, at `<tempdir>/layout`.
pub fn copy_slsa_generator_layout(version: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("layout");
    copy_dir(&slsa_generator_layout(version), &to);
    (dir, to)
}

/// Copies a directory tree; the copies are writable whatever the originals were.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// `blobs/sha256/<hex>` of `digest` in `layout`.
pub fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// Reads blob `digest` of `layout` as JSON.
pub fn read_json(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&std::fs::read(blob_path(layout, digest)).unwrap()).unwrap()
}

/// Replaces blob `old` of `layout` by `bytes`, then re-points every
/// descriptor that names a changed blob (in every manifest, then in
/// `index.json`), recursively. Returns each `(old, new)` digest pair, the
/// replaced blob's first. The old blobs stay, unreferenced.
pub fn replace_blob(layout: &Path, old: &str, bytes: &[u8]) -> Vec<(String, String)> {
    let new = sha256_str(bytes);
    std::fs::write(blob_path(layout, &new), bytes).unwrap();
    let mut changed = vec![(old.to_owned(), new)];
    let mut i = 0;
    while i < changed.len() {
        let (from, to) = changed[i].clone();
        let size = std::fs::metadata(blob_path(layout, &to)).unwrap().len();
        for entry in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
            let path = entry.unwrap().path();
            let Ok(mut v) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) else {
                continue;
            };
            if repoint(&mut v, &from, &to, size) {
                let b = serde_json::to_vec(&v).unwrap();
                let d = sha256_str(&b);
                std::fs::write(blob_path(layout, &d), &b).unwrap();
                let was = format!("sha256:{}", path.file_name().unwrap().to_str().unwrap());
                if !changed.iter().any(|(f, _)| *f == was) {
                    changed.push((was, d));
                }
            }
        }
        let index_path = layout.join("index.json");
        let mut index: Value =
            serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
        if repoint(&mut index, &from, &to, size) {
            std::fs::write(&index_path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
        }
        i += 1;
    }
    changed
}

/// Re-points the descriptors `{digest: from, size}` in `v` to `to` and `size`.
fn repoint(v: &mut Value, from: &str, to: &str, size: u64) -> bool {
    let mut hit = false;
    match v {
        Value::Object(m) => {
            if m.get("digest").and_then(Value::as_str) == Some(from) && m.contains_key("size") {
                m.insert("digest".into(), to.into());
                m.insert("size".into(), size.into());
                hit = true;
            }
            for (k, x) in m.iter_mut() {
                if k != "digest" {
                    hit |= repoint(x, from, to, size);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                hit |= repoint(x, from, to, size);
            }
        }
        _ => {}
    }
    hit
}

/// The digest of the `index.json` entry whose cosign `kind` is `kind`
/// (`dev.cosignproject.cosign/atts`, …).
pub fn cosign_kind_entry(layout: &Path, kind: &str) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry in {}", layout.display()))["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}
