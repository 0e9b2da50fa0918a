//! An OCI image layout directory as a source (image-spec `image-layout.md`):
//! `oci-layout`, `index.json`, and content under `blobs/sha256/<hex>`.
//!
//! Referrers of a digest are found two ways, and both are used: the OCI
//! tag-schema fallback (an index tagged `sha256-<hex>` in `index.json`, as
//! `regctl image copy --referrers` to an `ocidir://` writes it), and a scan of
//! the layout's manifests for those whose `subject` names the digest.
//!
//! A `cosign save` layout has no tags: its `index.json` entries carry cosign's
//! `kind` annotation instead. The one `dev.cosignproject.cosign/image` (or
//! `/imageIndex`) entry is the image; the `/sigs` and `/atts` entries answer
//! for cosign's tags `sha256-<image hex>.sig` and `.att`, as they would in a
//! registry. What they claim is verified like any cosign tag: the signed
//! payloads and statements must name the image, whatever the layout says.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{budget, check_content, ContentKind, Source};
use crate::digest::Digest;
use crate::error::SourceError;
use crate::limits::Limits;
use crate::oci::{annotation, media_type, Descriptor, ImageIndex, Manifest};

/// `cosign save`'s `kind` of an image entry (a single manifest).
const COSIGN_KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `cosign save`'s `kind` of an image entry that is an index.
const COSIGN_KIND_IMAGE_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `cosign save`'s `kind` of the `.sig` manifest.
const COSIGN_KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `cosign save`'s `kind` of the `.att` manifest.
const COSIGN_KIND_ATTS: &str = "dev.cosignproject.cosign/atts";

/// An OCI image layout on disk.
#[derive(Debug)]
pub struct LayoutSource {
    root: PathBuf,
    index: ImageIndex,
    limits: Limits,
    scan: OnceLock<Scan>,
}

/// What a scan of the layout's blobs found: manifests by subject, and blobs
/// whose content does not match their file name.
#[derive(Debug, Default)]
struct Scan {
    by_subject: HashMap<Digest, Vec<Descriptor>>,
    corrupt: Vec<SourceError>,
    /// The scan stopped: the verification's byte budget or deadline ran out.
    stopped: Option<SourceError>,
}

fn io_error(path: &Path, e: &std::io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Reads at most `limit` bytes of `path`; more is `TooLarge`, absence is `Missing`.
fn read_capped(
    path: &Path,
    digest: &Digest,
    limit: u64,
    limit_name: &'static str,
    location: &str,
) -> Result<Vec<u8>, SourceError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(SourceError::Missing {
                digest: *digest,
                location: location.to_owned(),
            })
        }
        Err(e) => return Err(io_error(path, &e)),
    };
    let len = file.metadata().map_err(|e| io_error(path, &e))?.len();
    if len > limit {
        return Err(SourceError::TooLarge {
            digest: *digest,
            limit_name,
            limit,
            found: len,
        });
    }
    // `len` is a hint only: the file may grow between stat and read, so the
    // read itself is capped at limit + 1 to detect that.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    budget::charge(bytes.len() as u64, || format!("{digest} from {location}"))?;
    if bytes.len() as u64 > limit {
        return Err(SourceError::TooLarge {
            digest: *digest,
            limit_name,
            limit,
            found: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

impl LayoutSource {
    /// Opens a layout: checks `oci-layout` and reads `index.json` (capped at
    /// [`Limits::max_manifest_bytes`]).
    pub fn open(root: impl Into<PathBuf>, limits: Limits) -> Result<Self, SourceError> {
        let root = root.into();
        let invalid = |reason: String| SourceError::InvalidLayout {
            path: root.clone(),
            reason,
        };
        if !root.is_dir() {
            return Err(invalid("not a directory".into()));
        }
        // image-layout.md: "The oci-layout file MUST be a JSON object with an
        // imageLayoutVersion field."
        let marker = std::fs::read(root.join("oci-layout"))
            .map_err(|e| invalid(format!("reading oci-layout: {e}")))?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Marker {
            image_layout_version: String,
        }
        let marker: Marker = serde_json::from_slice(&marker)
            .map_err(|e| invalid(format!("oci-layout is not valid: {e}")))?;
        if marker.image_layout_version != "1.0.0" {
            return Err(invalid(format!(
                "imageLayoutVersion is {:?}, expected \"1.0.0\"",
                marker.image_layout_version
            )));
        }
        let index_path = root.join("index.json");
        let meta = std::fs::metadata(&index_path)
            .map_err(|e| invalid(format!("reading index.json: {e}")))?;
        if meta.len() > limits.max_manifest_bytes {
            return Err(invalid(format!(
                "index.json is {} bytes, over the max_manifest_bytes limit of {}",
                meta.len(),
                limits.max_manifest_bytes
            )));
        }
        let bytes = std::fs::read(&index_path).map_err(|e| io_error(&index_path, &e))?;
        budget::charge(bytes.len() as u64, || index_path.display().to_string())?;
        let index: ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("index.json is not an image index: {e}")))?;
        Ok(LayoutSource {
            root,
            index,
            limits,
            scan: OnceLock::new(),
        })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        // The hex is validated by `Digest`, so this cannot escape the layout.
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    fn entries_tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a Descriptor> + 'a {
        let cosign_kind = self.cosign_kind_for_tag(tag);
        self.index.manifests.iter().filter(move |d| {
            d.annotation(annotation::REF_NAME) == Some(tag)
                || cosign_kind.is_some_and(|k| d.annotation(annotation::COSIGN_KIND) == Some(k))
        })
    }

    /// The `cosign save` entries: those with cosign's `kind` annotation for an image.
    fn cosign_images(&self) -> impl Iterator<Item = &Descriptor> {
        self.index.manifests.iter().filter(|d| {
            matches!(
                d.annotation(annotation::COSIGN_KIND),
                Some(COSIGN_KIND_IMAGE | COSIGN_KIND_IMAGE_INDEX)
            )
        })
    }

    /// For cosign's tag `sha256-<hex>.sig` / `.att` of the one image of a
    /// `cosign save` layout, the `kind` whose entry stands for that tag.
    /// With more than one image (or none) the tags are not mapped: which
    /// image a `/sigs` entry belongs to would be a guess.
    fn cosign_kind_for_tag(&self, tag: &str) -> Option<&'static str> {
        let (subject, kind) = if let Some(s) = tag.strip_suffix(".sig") {
            (s, COSIGN_KIND_SIGS)
        } else if let Some(s) = tag.strip_suffix(".att") {
            (s, COSIGN_KIND_ATTS)
        } else {
            return None;
        };
        let mut images = self.cosign_images();
        let image = images.next()?;
        if images.next().is_some() || image.digest.fallback_tag() != subject {
            return None;
        }
        Some(kind)
    }

    /// Reads every blob small enough to be a manifest, checks it against its
    /// name, and indexes the manifests that have a `subject`.
    fn scan(&self) -> &Scan {
        self.scan.get_or_init(|| {
            let mut scan = Scan::default();
            let dir = self.root.join("blobs").join("sha256");
            let Ok(entries) = std::fs::read_dir(&dir) else {
                return scan;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(digest) = name.to_str().and_then(|n| Digest::from_hex(n).ok()) else {
                    continue;
                };
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() || meta.len() > self.limits.max_manifest_bytes {
                    continue;
                }
                let Ok(bytes) = std::fs::read(entry.path()) else {
                    continue;
                };
                let charged = budget::charge(bytes.len() as u64, || {
                    format!("{digest} while scanning {} for referrers", self.location())
                });
                if let Err(e) = charged {
                    scan.stopped = Some(e);
                    break;
                }
                if let Err(e) = check_content(&digest, None, &bytes) {
                    scan.corrupt.push(e);
                    continue;
                }
                if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
                    continue;
                }
                let Ok(manifest) = Manifest::parse(&bytes) else {
                    continue;
                };
                let Some(subject) = manifest.subject() else {
                    continue;
                };
                let descriptor = match &manifest {
                    Manifest::Image(m) => Descriptor {
                        media_type: m
                            .media_type
                            .clone()
                            .unwrap_or_else(|| media_type::OCI_MANIFEST.to_owned()),
                        digest,
                        size: bytes.len() as u64,
                        artifact_type: Some(m.effective_artifact_type().to_owned()),
                        annotations: m.annotations.clone(),
                        platform: None,
                        data: None,
                    },
                    Manifest::Index(i) => Descriptor {
                        media_type: media_type::OCI_INDEX.to_owned(),
                        digest,
                        size: bytes.len() as u64,
                        artifact_type: i.artifact_type.clone(),
                        annotations: i.annotations.clone(),
                        platform: None,
                        data: None,
                    },
                };
                scan.by_subject
                    .entry(subject.digest)
                    .or_default()
                    .push(descriptor);
            }
            for list in scan.by_subject.values_mut() {
                list.sort_by_key(|d| d.digest);
            }
            scan
        })
    }

    fn read(
        &self,
        digest: &Digest,
        declared: Option<u64>,
        kind: ContentKind,
    ) -> Result<Vec<u8>, SourceError> {
        let (limit, limit_name) = kind.limit(&self.limits);
        let bytes = read_capped(
            &self.blob_path(digest),
            digest,
            limit,
            limit_name,
            &self.location(),
        )?;
        check_content(digest, declared, &bytes)?;
        Ok(bytes)
    }
}

impl Source for LayoutSource {
    fn location(&self) -> String {
        format!("OCI layout {}", self.root.display())
    }

    async fn resolve(
        &self,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<Descriptor, SourceError> {
        if let Some(digest) = digest {
            if let Some(d) = self.index.manifests.iter().find(|d| d.digest == *digest) {
                return Ok(d.clone());
            }
            let bytes = self.read(digest, None, ContentKind::Manifest)?;
            let manifest = Manifest::parse(&bytes).map_err(|e| SourceError::Malformed {
                digest: *digest,
                expected: "OCI manifest or index",
                reason: e.to_string(),
            })?;
            let media_type = match manifest {
                Manifest::Index(i) => i.media_type.unwrap_or_else(|| media_type::OCI_INDEX.into()),
                Manifest::Image(m) => m
                    .media_type
                    .unwrap_or_else(|| media_type::OCI_MANIFEST.into()),
            };
            return Ok(Descriptor {
                media_type,
                digest: *digest,
                size: bytes.len() as u64,
                artifact_type: None,
                annotations: BTreeMap::new(),
                platform: None,
                data: None,
            });
        }
        if let Some(tag) = tag {
            let mut tagged = self.entries_tagged(tag);
            let first = tagged.next().ok_or_else(|| SourceError::TagNotFound {
                tag: tag.to_owned(),
                location: self.location(),
            })?;
            // Two entries with one tag but different content: refuse to guess.
            let count = 1 + tagged.filter(|d| d.digest != first.digest).count();
            if count > 1 {
                return Err(SourceError::AmbiguousReference {
                    location: format!("{} (tag {tag:?})", self.location()),
                    count,
                });
            }
            return Ok(first.clone());
        }
        let images: Vec<&Descriptor> = self
            .index
            .manifests
            .iter()
            .filter(|d| {
                !d.annotation(annotation::REF_NAME)
                    .is_some_and(|t| t.starts_with("sha256-"))
                    && !matches!(
                        d.annotation(annotation::COSIGN_KIND),
                        Some(COSIGN_KIND_SIGS | COSIGN_KIND_ATTS)
                    )
            })
            .collect();
        match images.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(SourceError::AmbiguousReference {
                location: self.location(),
                count: images.len(),
            }),
        }
    }

    async fn fetch(
        &self,
        digest: &Digest,
        declared_size: Option<u64>,
        kind: ContentKind,
    ) -> Result<Vec<u8>, SourceError> {
        self.read(digest, declared_size, kind)
    }

    async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>, SourceError> {
        if let Some(e) = &self.scan().stopped {
            return Err(e.clone());
        }
        let mut found: BTreeMap<Digest, Descriptor> = BTreeMap::new();
        // distribution-spec "Referrers tag schema": the tag `sha256-<hex>`
        // names an image index whose manifests are the referrers.
        let fallback_tag = subject.fallback_tag();
        let fallback: Vec<Descriptor> = self.entries_tagged(&fallback_tag).cloned().collect();
        for entry in fallback {
            let bytes = self.read(&entry.digest, Some(entry.size), ContentKind::Manifest)?;
            let index: ImageIndex =
                serde_json::from_slice(&bytes).map_err(|e| SourceError::Malformed {
                    digest: entry.digest,
                    expected: "referrers index (tag schema)",
                    reason: e.to_string(),
                })?;
            for d in index.manifests {
                found.entry(d.digest).or_insert(d);
            }
        }
        if let Some(scanned) = self.scan().by_subject.get(subject) {
            for d in scanned {
                found.entry(d.digest).or_insert_with(|| d.clone());
            }
        }
        if found.len() > self.limits.max_referrers {
            return Err(SourceError::TooManyReferrers {
                subject: *subject,
                limit: self.limits.max_referrers,
                found: found.len(),
            });
        }
        Ok(found.into_values().collect())
    }

    fn integrity_problems(&self) -> Vec<SourceError> {
        self.scan().corrupt.clone()
    }
}
