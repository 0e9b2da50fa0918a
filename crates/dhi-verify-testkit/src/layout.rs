//! Writes OCI image layouts: `oci-layout`, `index.json`, `blobs/sha256/<hex>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// A descriptor as JSON plus its digest string, for building manifests.
#[derive(Clone, Debug)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    pub size: usize,
}

impl Blob {
    pub fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
    pub fn hex(&self) -> &str {
        &self.digest["sha256:".len()..]
    }
}

/// Accumulates blobs and `index.json` entries, then writes the layout.
pub struct LayoutWriter {
    root: PathBuf,
    entries: Vec<Value>,
}

/// Somewhere blobs can be stored by digest: a layout being written
/// ([`LayoutWriter`]) or edited ([`crate::cosign::LayoutEditor`]).
pub trait BlobSink {
    /// Stores `bytes` under their digest; returns their descriptor.
    fn put_blob(&mut self, media_type: &str, bytes: &[u8]) -> Blob;
}

impl BlobSink for LayoutWriter {
    fn put_blob(&mut self, media_type: &str, bytes: &[u8]) -> Blob {
        self.put(media_type, bytes)
    }
}

pub fn sha256_str(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl LayoutWriter {
    pub fn create(root: &Path) -> Self {
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(
            root.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        LayoutWriter {
            root: root.to_owned(),
            entries: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores `bytes` under their digest.
    pub fn put(&mut self, media_type: &str, bytes: &[u8]) -> Blob {
        let digest = sha256_str(bytes);
        std::fs::write(self.blob_path(&digest), bytes).unwrap();
        Blob {
            media_type: media_type.to_owned(),
            digest,
            size: bytes.len(),
        }
    }

    /// Stores a JSON document (compact, sorted keys).
    pub fn put_json(&mut self, media_type: &str, value: &Value) -> Blob {
        self.put(media_type, &serde_json::to_vec(value).unwrap())
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..])
    }

    /// Adds an `index.json` entry tagged `tag`, with extra descriptor fields.
    pub fn tag(&mut self, blob: &Blob, tag: &str, extra: BTreeMap<&str, Value>) {
        let mut d = blob.descriptor();
        for (k, v) in extra {
            d[k] = v;
        }
        d["annotations"]["org.opencontainers.image.ref.name"] = json!(tag);
        self.entries.push(d);
    }

    /// Writes `index.json`.
    pub fn finish(self) {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": self.entries,
        });
        std::fs::write(
            self.root.join("index.json"),
            serde_json::to_vec_pretty(&index).unwrap(),
        )
        .unwrap();
    }
}
