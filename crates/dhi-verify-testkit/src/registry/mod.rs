//! Registries for tests: Debian's real `docker-registry` (distribution 2.8.2)
//! started on 127.0.0.1 in no-auth, htpasswd Basic or token-auth mode with a
//! token server; a pusher that pushes a fixture layout with the distribution
//! API and maintains the `sha256-<hex>` fallback tags itself (as cosign and
//! oras do); and a small in-process registry that follows the distribution
//! spec's referrers API (`artifactType` filter, `OCI-Filters-Applied`,
//! `Link` pagination) and can be told to misbehave ([`Fault`]).
//!
//! Every process and thread started here belongs to one value and ends when
//! it is dropped, so tests run in parallel on their own ports.

pub mod distribution;
pub mod http;
pub mod server;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::layout::sha256_str;

pub use distribution::{DistributionRegistry, RegistryAuth, TokenServer};
pub use server::{Fault, FaultKind, TestRegistry};

/// Media types the pusher and test registry treat as manifests.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// A manifest read from a layout.
#[derive(Clone, Debug)]
pub struct StoredManifest {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub json: Value,
}

impl StoredManifest {
    pub fn is_index(&self) -> bool {
        self.json.get("manifests").is_some()
    }
    /// The digest of its `subject`, if any.
    pub fn subject(&self) -> Option<&str> {
        self.json["subject"]["digest"].as_str()
    }
    /// Its descriptor as a referrers listing writes it.
    pub fn referrer_descriptor(&self, digest: &str) -> Value {
        let artifact_type = self.json["artifactType"]
            .as_str()
            .or(self.json["config"]["mediaType"].as_str())
            .unwrap_or_default();
        let mut d = json!({
            "mediaType": self.media_type,
            "digest": digest,
            "size": self.bytes.len(),
            "artifactType": artifact_type,
        });
        if let Some(a) = self.json.get("annotations") {
            d["annotations"] = a.clone();
        }
        d
    }
}

/// Everything in a layout, split into manifests and blobs by content, with
/// its tags. Blobs whose bytes do not match their names (tampered fixtures)
/// are left out: no registry would accept them.
#[derive(Clone, Debug, Default)]
pub struct Content {
    pub manifests: BTreeMap<String, StoredManifest>,
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub tags: BTreeMap<String, String>,
}

impl Content {
    pub fn from_layout(dir: &Path) -> Self {
        let mut c = Content::default();
        for entry in std::fs::read_dir(dir.join("blobs/sha256")).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let bytes = std::fs::read(entry.path()).unwrap();
            let digest = format!("sha256:{name}");
            if sha256_str(&bytes) != digest {
                continue;
            }
            let manifest = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                let mt = v["mediaType"].as_str()?.to_owned();
                MANIFEST_TYPES.contains(&mt.as_str()).then_some((mt, v))
            });
            match manifest {
                Some((media_type, json)) => {
                    c.manifests.insert(
                        digest,
                        StoredManifest {
                            media_type,
                            bytes,
                            json,
                        },
                    );
                }
                None => {
                    c.blobs.insert(digest, bytes);
                }
            }
        }
        let index: Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        for d in index["manifests"].as_array().unwrap() {
            if let Some(tag) = d["annotations"]["org.opencontainers.image.ref.name"].as_str() {
                c.tags
                    .insert(tag.to_owned(), d["digest"].as_str().unwrap().to_owned());
            }
        }
        c
    }

    /// A `cosign save` layout (the real ones in
    /// `testdata/real/slsa-github-generator/*/container_workflow_dispatch`,
    /// or [`crate::DhiImage::write_cosign_save`]) with cosign's tag schema:
    /// the image (`kind: dev.cosignproject.cosign/imageIndex` or `/image`)
    /// under `tag`, the `/sigs` and `/atts` manifests under
    /// `sha256-<image hex>.sig` / `.att`. Every blob and manifest keeps its
    /// bytes, so pushing it preserves every digest (Docker v2 schema 2
    /// manifests included: the media type pushed is the manifest's own).
    pub fn from_cosign_save(dir: &Path, tag: &str) -> Self {
        let mut c = Content::from_layout(dir);
        let index: Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let entries = index["manifests"].as_array().unwrap();
        let kind_digest = |suffix: &str| {
            entries
                .iter()
                .find(|d| {
                    d["annotations"]["kind"]
                        .as_str()
                        .is_some_and(|k| k == format!("dev.cosignproject.cosign/{suffix}"))
                })
                .map(|d| d["digest"].as_str().unwrap().to_owned())
        };
        let image = kind_digest("imageIndex")
            .or_else(|| kind_digest("image"))
            .expect("a cosign save layout names its image");
        let image_tag = image.replacen("sha256:", "sha256-", 1);
        for (suffix, kind) in [("sig", "sigs"), ("att", "atts")] {
            if let Some(d) = kind_digest(kind) {
                c.tags.insert(format!("{image_tag}.{suffix}"), d);
            }
        }
        c.tags.insert(tag.to_owned(), image);
        c
    }

    /// Adds everything in `other` (external referrers written to a second layout).
    pub fn merge(mut self, other: Content) -> Self {
        self.manifests.extend(other.manifests);
        self.blobs.extend(other.blobs);
        self.tags.extend(other.tags);
        self
    }

    /// The manifests whose subject is `digest`, as a referrers listing's descriptors.
    pub fn referrers_of(&self, digest: &str) -> Vec<Value> {
        self.manifests
            .iter()
            .filter(|(_, m)| m.subject() == Some(digest))
            .map(|(d, m)| m.referrer_descriptor(d))
            .collect()
    }

    /// The tag-schema index for `subject`, as cosign and oras maintain it.
    pub fn fallback_index(&self, subject: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": self.referrers_of(subject),
        }))
        .unwrap()
    }

    /// Stores `bytes` as a manifest of `media_type`; returns its digest.
    pub fn put_manifest(&mut self, media_type: &str, bytes: Vec<u8>) -> String {
        let digest = sha256_str(&bytes);
        let json = serde_json::from_slice(&bytes).unwrap();
        self.manifests.insert(
            digest.clone(),
            StoredManifest {
                media_type: media_type.to_owned(),
                bytes,
                json,
            },
        );
        digest
    }

    /// Stores a blob; returns its descriptor (`mediaType`, `digest`, `size`).
    pub fn put_blob(&mut self, media_type: &str, bytes: Vec<u8>) -> Value {
        let digest = sha256_str(&bytes);
        let d = json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
        self.blobs.insert(digest, bytes);
        d
    }

    /// An OCI image manifest with an empty config and these layers, stored;
    /// returns its digest.
    pub fn put_artifact(&mut self, layers: Vec<Value>) -> String {
        let config = self.put_blob("application/vnd.oci.empty.v1+json", b"{}".to_vec());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": layers,
        });
        self.put_manifest(
            "application/vnd.oci.image.manifest.v1+json",
            serde_json::to_vec(&manifest).unwrap(),
        )
    }

    /// Adds a BuildKit in-index attestation manifest about `platform` (one
    /// in-toto layer holding `statement`) to the index `tag` names, and
    /// points `tag` at the new index. Returns the attestation manifest's digest.
    pub fn add_buildkit_attestation(
        &mut self,
        tag: &str,
        platform: &str,
        statement: &[u8],
    ) -> String {
        let mut layer = self.put_blob("application/vnd.in-toto+json", statement.to_vec());
        layer["annotations"] =
            json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
        let attestation = self.put_artifact(vec![layer]);
        let size = self.manifests[&attestation].bytes.len();
        let index_digest = self.tags[tag].clone();
        let mut index = self.manifests[&index_digest].json.clone();
        index["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": attestation,
            "size": size,
            "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": platform,
            },
        }));
        let new_index = self.put_manifest(
            "application/vnd.oci.image.index.v1+json",
            serde_json::to_vec(&index).unwrap(),
        );
        self.tags.insert(tag.to_owned(), new_index);
        attestation
    }

    /// Adds cosign's `sha256-<hex>.<suffix>` tag (`sig` or `att`) for
    /// `subject`: a manifest with these layers. Returns its digest.
    pub fn add_cosign_tag(&mut self, subject: &str, suffix: &str, layers: Vec<Value>) -> String {
        let digest = self.put_artifact(layers);
        let tag = format!("{}.{suffix}", subject.replacen("sha256:", "sha256-", 1));
        self.tags.insert(tag, digest.clone());
        digest
    }

    /// Every subject some manifest refers to.
    pub fn subjects(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .manifests
            .values()
            .filter_map(|m| m.subject().map(str::to_owned))
            .collect();
        s.sort();
        s.dedup();
        s
    }
}
