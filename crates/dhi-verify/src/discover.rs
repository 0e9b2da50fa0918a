//! Walks index → platform manifests → attestation manifests → signature
//! referrers, and gathers digest-checked bytes into an evidence graph.
//!
//! No trust decisions here: evidence is what the sources returned, with each
//! integrity failure recorded where it happened. A failure that means "could
//! not check" (I/O, network) stops the walk with an [`Error`]; a failure that
//! means "the content is wrong" is kept as evidence, for the verify layer to
//! turn into a failed check.

use std::sync::Arc;

use crate::chain::attestation_layer;
use crate::digest::Digest;
use crate::error::{Error, Outcome, SourceError};
use crate::limits::Limits;
use crate::oci::{
    annotation, is_manifest_media_type, media_type, Descriptor, ImageManifest, Manifest,
};
use crate::platform::Platform;
use crate::source::{ContentKind, Source};

/// Which platforms to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformSelection {
    /// These platforms; each must be in the index.
    Only(Vec<Platform>),
    /// Every platform the index lists.
    All,
}

/// Everything found for one image.
#[derive(Debug)]
pub(crate) struct Evidence {
    /// What the reference resolved to.
    pub top: Descriptor,
    /// The index (or single manifest) the reference names.
    pub top_manifest: Result<Manifest, SourceError>,
    pub platforms: Vec<PlatformEvidence>,
    /// Requested platforms the index does not offer.
    pub missing_platforms: Vec<Platform>,
    /// What the index offers.
    pub available_platforms: Vec<Platform>,
    /// Corrupt content the sources noticed on their own.
    pub integrity_problems: Vec<SourceError>,
}

#[derive(Debug)]
pub(crate) struct PlatformEvidence {
    pub platform: Platform,
    /// The entry in the index (or the resolved descriptor for a single manifest).
    pub descriptor: Descriptor,
    pub manifest: Result<ImageManifest, SourceError>,
    /// The image configuration the manifest names (`None` when the manifest
    /// could not be read).
    pub config: Option<Result<Vec<u8>, SourceError>>,
    /// The referrers listing, when it could be read.
    pub referrers: Result<Vec<Descriptor>, SourceError>,
    pub attestations: Vec<AttestationEvidence>,
}

#[derive(Debug)]
pub(crate) struct AttestationEvidence {
    pub descriptor: Descriptor,
    pub manifest: Result<ImageManifest, SourceError>,
    /// `None` when the manifest did not name a statement to fetch. Shared, not
    /// copied, with the [`crate::VerifiedAttestation`] built from it.
    pub statement: Option<Result<Arc<Vec<u8>>, SourceError>>,
    pub signatures: Result<Vec<SignatureEvidence>, SourceError>,
    /// Signature referrers beyond [`Limits::max_signatures_per_attestation`], not tried.
    pub signatures_not_tried: usize,
}

#[derive(Debug)]
pub(crate) struct SignatureEvidence {
    pub descriptor: Descriptor,
    pub manifest: Result<ImageManifest, SourceError>,
    pub payload: Option<Result<Vec<u8>, SourceError>>,
}

/// Keeps a "content is wrong" failure as evidence; turns a "could not check"
/// failure into an [`Error`] naming the step and the digest.
fn keep<T>(
    r: Result<T, SourceError>,
    step: &'static str,
    subject: &Digest,
) -> Result<Result<T, SourceError>, Error> {
    match r {
        Err(e) if e.outcome() == Outcome::Error => Err(Error::Source {
            step,
            subject: subject.to_string(),
            source: e,
        }),
        other => Ok(other),
    }
}

fn parse_image_manifest(digest: &Digest, bytes: &[u8]) -> Result<ImageManifest, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Malformed {
        digest: *digest,
        expected: "OCI image manifest",
        reason: e.to_string(),
    })
}

async fn fetch_image_manifest<S: Source>(
    source: &S,
    d: &Descriptor,
    step: &'static str,
) -> Result<Result<ImageManifest, SourceError>, Error> {
    let bytes = keep(
        source
            .fetch(&d.digest, Some(d.size), ContentKind::Manifest)
            .await,
        step,
        &d.digest,
    )?;
    Ok(bytes.and_then(|b| parse_image_manifest(&d.digest, &b)))
}

/// Whether an index entry is a runnable platform image (not a BuildKit
/// attestation manifest, not `unknown/unknown`).
fn platform_entry(d: &Descriptor) -> Option<Platform> {
    if !is_manifest_media_type(&d.media_type)
        || d.annotations
            .contains_key(annotation::DOCKER_REFERENCE_TYPE)
    {
        return None;
    }
    let p = d.platform.as_ref()?;
    if p.os == "unknown" || p.architecture == "unknown" {
        return None;
    }
    Some(Platform::from(p))
}

/// Gathers the evidence for `top` from `image` (manifests) and `referrers`
/// (attestations and signatures, possibly another source).
pub(crate) async fn discover<S: Source, R: Source>(
    image: &S,
    referrers: &R,
    tag: Option<&str>,
    digest: Option<&Digest>,
    selection: &PlatformSelection,
    limits: &Limits,
) -> Result<Evidence, Error> {
    let top = image
        .resolve(tag, digest)
        .await
        .map_err(|e| Error::Source {
            step: "resolve reference",
            subject: image.location(),
            source: e,
        })?;
    let top_bytes = keep(
        image
            .fetch(&top.digest, Some(top.size), ContentKind::Manifest)
            .await,
        "fetch index",
        &top.digest,
    )?;
    let top_manifest = top_bytes.and_then(|b| {
        Manifest::parse(&b).map_err(|e| SourceError::Malformed {
            digest: top.digest,
            expected: "OCI image index or manifest",
            reason: e.to_string(),
        })
    });
    let mut evidence = Evidence {
        top: top.clone(),
        top_manifest,
        platforms: Vec::new(),
        missing_platforms: Vec::new(),
        available_platforms: Vec::new(),
        integrity_problems: Vec::new(),
    };
    let targets: Vec<(Platform, Descriptor)> = match &evidence.top_manifest {
        Err(_) => Vec::new(),
        Ok(Manifest::Index(index)) => {
            let offered: Vec<(Platform, &Descriptor)> = index
                .manifests
                .iter()
                .filter_map(|d| platform_entry(d).map(|p| (p, d)))
                .collect();
            evidence.available_platforms = offered.iter().map(|(p, _)| p.clone()).collect();
            match selection {
                PlatformSelection::All => offered
                    .iter()
                    .map(|(p, d)| (p.clone(), (*d).clone()))
                    .collect(),
                PlatformSelection::Only(wanted) => {
                    let mut out = Vec::new();
                    for w in wanted {
                        match offered.iter().find(|(p, _)| w.matches(p)) {
                            Some((p, d)) => out.push((p.clone(), (*d).clone())),
                            None => evidence.missing_platforms.push(w.clone()),
                        }
                    }
                    out
                }
            }
        }
        Ok(Manifest::Image(m)) => {
            // A single-platform image: its platform is in its configuration.
            let config = keep(
                image
                    .fetch(&m.config.digest, Some(m.config.size), ContentKind::Config)
                    .await,
                "fetch image configuration",
                &m.config.digest,
            )?;
            #[derive(serde::Deserialize)]
            struct Config {
                os: String,
                architecture: String,
                #[serde(default)]
                variant: Option<String>,
            }
            let platform = config
                .ok()
                .and_then(|b| serde_json::from_slice::<Config>(&b).ok())
                .map(|c| Platform::new(&c.os, &c.architecture, c.variant.as_deref()))
                .unwrap_or_else(|| Platform::new("unknown", "unknown", None));
            evidence.available_platforms = vec![platform.clone()];
            let wanted = match selection {
                PlatformSelection::All => true,
                PlatformSelection::Only(ws) => ws.iter().any(|w| w.matches(&platform)),
            };
            if wanted {
                vec![(platform, top.clone())]
            } else if let PlatformSelection::Only(ws) = selection {
                evidence.missing_platforms.extend(ws.iter().cloned());
                Vec::new()
            } else {
                Vec::new()
            }
        }
    };
    for (platform, descriptor) in targets {
        evidence
            .platforms
            .push(discover_platform(image, referrers, platform, descriptor, limits).await?);
    }
    evidence
        .integrity_problems
        .extend(image.integrity_problems());
    evidence
        .integrity_problems
        .extend(referrers.integrity_problems());
    Ok(evidence)
}

async fn discover_platform<S: Source, R: Source>(
    image: &S,
    referrers: &R,
    platform: Platform,
    descriptor: Descriptor,
    limits: &Limits,
) -> Result<PlatformEvidence, Error> {
    let manifest = fetch_image_manifest(image, &descriptor, "fetch platform manifest").await?;
    let config = match &manifest {
        Ok(m) => Some(keep(
            image
                .fetch(&m.config.digest, Some(m.config.size), ContentKind::Config)
                .await,
            "fetch image configuration",
            &m.config.digest,
        )?),
        Err(_) => None,
    };
    let listed = keep(
        referrers.referrers(&descriptor.digest).await,
        "list referrers",
        &descriptor.digest,
    )?;
    let mut attestations = Vec::new();
    if let Ok(listed) = &listed {
        for d in listed {
            // Registries may ignore the artifactType filter: always filter here.
            let is_attestation = is_manifest_media_type(&d.media_type)
                && d.artifact_type
                    .as_deref()
                    .is_none_or(|t| t == media_type::IN_TOTO);
            if is_attestation {
                attestations.push(discover_attestation(referrers, d.clone(), limits).await?);
            }
        }
    }
    Ok(PlatformEvidence {
        platform,
        descriptor,
        manifest,
        config,
        referrers: listed,
        attestations,
    })
}

async fn discover_attestation<R: Source>(
    source: &R,
    descriptor: Descriptor,
    limits: &Limits,
) -> Result<AttestationEvidence, Error> {
    let manifest = fetch_image_manifest(source, &descriptor, "fetch attestation manifest").await?;
    let statement = match &manifest {
        Ok(m) => match attestation_layer(m) {
            Ok(layer) => Some(
                keep(
                    source
                        .fetch(&layer.digest, Some(layer.size), ContentKind::Statement)
                        .await,
                    "fetch statement",
                    &layer.digest,
                )?
                .map(Arc::new),
            ),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let listed = keep(
        source.referrers(&descriptor.digest).await,
        "list signature referrers",
        &descriptor.digest,
    )?;
    let mut signatures_not_tried = 0;
    let signatures = match listed {
        Err(e) => Err(e),
        Ok(listed) => {
            let candidates: Vec<Descriptor> = listed
                .into_iter()
                .filter(|d| {
                    is_manifest_media_type(&d.media_type)
                        && d.artifact_type.as_deref().is_none_or(|t| {
                            t == media_type::COSIGN_SIGNATURE
                                || t == media_type::SIGSTORE_BUNDLE_V03
                        })
                })
                .collect();
            signatures_not_tried = candidates
                .len()
                .saturating_sub(limits.max_signatures_per_attestation);
            let mut out = Vec::new();
            for d in candidates
                .into_iter()
                .take(limits.max_signatures_per_attestation)
            {
                let manifest = fetch_image_manifest(source, &d, "fetch signature manifest").await?;
                let payload = match &manifest {
                    Ok(m) => match m.layers.first() {
                        Some(layer) => Some(keep(
                            source
                                .fetch(&layer.digest, Some(layer.size), ContentKind::Payload)
                                .await,
                            "fetch signature payload",
                            &layer.digest,
                        )?),
                        None => None,
                    },
                    Err(_) => None,
                };
                out.push(SignatureEvidence {
                    descriptor: d,
                    manifest,
                    payload,
                });
            }
            Ok(out)
        }
    };
    Ok(AttestationEvidence {
        descriptor,
        manifest,
        statement,
        signatures,
        signatures_not_tried,
    })
}
