//! OCI image-spec data models (descriptors, manifests, indexes) and the media
//! types dhi-verify recognises. Parsing only: a parsed manifest is not trusted
//! until the verify layer has checked the links that bind it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::platform::Platform;

/// Media types and annotation keys from the OCI, Docker, cosign and in-toto specs.
pub mod media_type {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker image manifest v2 schema 2.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    /// An in-toto statement (attestation manifests' artifact and layer type).
    pub const IN_TOTO: &str = "application/vnd.in-toto+json";
    /// cosign signature artifact type.
    pub const COSIGN_SIGNATURE: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
    /// cosign simple-signing payload layer.
    pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
    /// Sigstore bundle v0.3 (what cosign v3 attaches).
    pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
}

/// Annotation keys.
pub mod annotation {
    /// The in-toto predicate type of an attestation manifest or layer.
    pub const PREDICATE_TYPE: &str = "in-toto.io/predicate-type";
    /// The cosign signature (base64 DER) on a simple-signing layer.
    pub const COSIGN_SIGNATURE: &str = "dev.cosignproject.cosign/signature";
    /// The signing certificate (PEM) of a keyless cosign signature.
    pub const COSIGN_CERTIFICATE: &str = "dev.sigstore.cosign/certificate";
    /// The certificate chain (PEM) of a keyless cosign signature.
    pub const COSIGN_CHAIN: &str = "dev.sigstore.cosign/chain";
    /// The cosign legacy Rekor bundle on a simple-signing layer.
    pub const COSIGN_BUNDLE: &str = "dev.sigstore.cosign/bundle";
    /// The tag of a manifest in an OCI layout's `index.json`.
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    /// `cosign save`'s index.json annotation saying what an entry is
    /// (`dev.cosignproject.cosign/image`, `/imageIndex`, `/sigs`, `/atts`).
    pub const COSIGN_KIND: &str = "kind";
    /// BuildKit marks in-index attestation manifests with this.
    pub const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
}

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// Digest of the referenced content.
    pub digest: Digest,
    /// Size in bytes of the referenced content.
    pub size: u64,
    /// Artifact type (referrers listings, artifact manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Platform, on index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<OciPlatform>,
    /// Embedded content (base64), as on the empty config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// The `platform` object of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciPlatform {
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl From<&OciPlatform> for Platform {
    fn from(p: &OciPlatform) -> Self {
        Platform::new(&p.os, &p.architecture, p.variant.as_deref())
    }
}

impl Descriptor {
    /// The annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

/// An OCI image manifest (also the shape of attestation and signature manifests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// Media type, when written.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Artifact type, when written.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// Configuration descriptor.
    pub config: Descriptor,
    /// Layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers).
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// The single in-toto layer of an attestation manifest. DHI-FORMAT.md §4:
    /// "One predicate per manifest"; the layer is a raw in-toto Statement.
    pub(crate) fn attestation_layer(&self) -> Result<&Descriptor, crate::error::VerifyError> {
        match self.layers.as_slice() {
            [layer] if layer.media_type == media_type::IN_TOTO => Ok(layer),
            layers => Err(crate::error::VerifyError::AttestationLayers {
                expected: media_type::IN_TOTO,
                found: layers.iter().map(|l| l.media_type.clone()).collect(),
            }),
        }
    }

    /// The artifact type as the OCI distribution spec defines it for referrers
    /// listings: `artifactType`, else `config.mediaType`.
    pub fn effective_artifact_type(&self) -> &str {
        self.artifact_type
            .as_deref()
            .unwrap_or(self.config.media_type.as_str())
    }

    /// The annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

/// An OCI image index (or Docker manifest list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// Media type, when written.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Artifact type, when written.
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default)]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest of either kind.
// Both variants are a few hundred bytes and short-lived; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An index of platform manifests.
    Index(ImageIndex),
    /// A single manifest.
    Image(ImageManifest),
}

/// The `mediaType`, `manifests` and `config` fields, to tell the two kinds apart.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestProbe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    config: Option<serde::de::IgnoredAny>,
}

impl Manifest {
    /// Parses manifest bytes whose digest was already checked. The kind comes
    /// from `mediaType` when present, else from the presence of `manifests`
    /// (an index) or `config` (an image manifest), as the image spec allows.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let probe: ManifestProbe = serde_json::from_slice(bytes)?;
        let is_index = match probe.media_type.as_deref() {
            Some(media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST) => true,
            Some(_) => false,
            None => probe.manifests.is_some() && probe.config.is_none(),
        };
        if is_index {
            serde_json::from_slice(bytes).map(Manifest::Index)
        } else {
            serde_json::from_slice(bytes).map(Manifest::Image)
        }
    }

    /// The `subject`, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Index(i) => i.subject.as_ref(),
            Manifest::Image(m) => m.subject.as_ref(),
        }
    }
}

/// Whether a media type names a manifest or index (as opposed to a blob).
pub fn is_manifest_media_type(mt: &str) -> bool {
    matches!(
        mt,
        media_type::OCI_MANIFEST
            | media_type::OCI_INDEX
            | media_type::DOCKER_MANIFEST
            | media_type::DOCKER_MANIFEST_LIST
    )
}
