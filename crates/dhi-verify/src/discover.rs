//! Walks index → platform manifests → attestation manifests → signature
//! referrers, and gathers digest-checked bytes into an evidence graph.
//!
//! No trust decisions here: evidence is what the sources returned, with each
//! integrity failure recorded where it happened. A failure that means "could
//! not check" (I/O, network) stops the walk with an [`Error`]; a failure that
//! means "the content is wrong" is kept as evidence, for the verify layer to
//! turn into a failed check.
//!
//! Independent fetches run concurrently on the caller's task (the futures are
//! not `Send`, and need not be): platforms; per platform its manifest and its
//! referrers listing; per attestation its manifest and its signature
//! referrers; signatures. How many requests are in flight at once is bounded
//! by the registry client ([`crate::source::registry::RegistryOptions::max_concurrent_fetches`]).
//! Results keep the order of their inputs, and the first "could not check"
//! error anywhere ends the walk: concurrency never turns an error into an
//! absence.

use std::sync::Arc;

use futures_util::future::{try_join, try_join_all};

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
    // Platforms in parallel; results in the order of the selection.
    evidence.platforms = try_join_all(targets.into_iter().map(|(platform, descriptor)| {
        discover_platform(image, referrers, platform, descriptor, limits)
    }))
    .await?;
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
    // The manifest (then its configuration) and the referrers listing (then
    // every attestation) need only the digest from the index: both at once.
    let manifest_and_config = async {
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
        Ok::<_, Error>((manifest, config))
    };
    let listing_and_attestations = async {
        let listed = keep(
            referrers.referrers(&descriptor.digest).await,
            "list referrers",
            &descriptor.digest,
        )?;
        let attestations = match &listed {
            Ok(listed) => {
                // Registries may ignore the artifactType filter: always filter here.
                let candidates = listed.iter().filter(|d| {
                    is_manifest_media_type(&d.media_type)
                        && d.artifact_type
                            .as_deref()
                            .is_none_or(|t| t == media_type::IN_TOTO)
                });
                try_join_all(candidates.map(|d| discover_attestation(referrers, d.clone(), limits)))
                    .await?
            }
            Err(_) => Vec::new(),
        };
        Ok::<_, Error>((listed, attestations))
    };
    let ((manifest, config), (listed, attestations)) =
        try_join(manifest_and_config, listing_and_attestations).await?;
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
    // The attestation manifest (then its statement) and its signature
    // referrers (then each signature) both need only the digest: both at once.
    let manifest_and_statement = async {
        let manifest =
            fetch_image_manifest(source, &descriptor, "fetch attestation manifest").await?;
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
        Ok::<_, Error>((manifest, statement))
    };
    let signatures = async {
        let listed = keep(
            source.referrers(&descriptor.digest).await,
            "list signature referrers",
            &descriptor.digest,
        )?;
        let listed = match listed {
            Err(e) => return Ok::<_, Error>((Err(e), 0)),
            Ok(listed) => listed,
        };
        let candidates: Vec<Descriptor> = listed
            .into_iter()
            .filter(|d| {
                is_manifest_media_type(&d.media_type)
                    && d.artifact_type.as_deref().is_none_or(|t| {
                        t == media_type::COSIGN_SIGNATURE || t == media_type::SIGSTORE_BUNDLE_V03
                    })
            })
            .collect();
        let not_tried = candidates
            .len()
            .saturating_sub(limits.max_signatures_per_attestation);
        let found = try_join_all(
            candidates
                .into_iter()
                .take(limits.max_signatures_per_attestation)
                .map(|d| discover_signature(source, d)),
        )
        .await?;
        Ok((Ok(found), not_tried))
    };
    let ((manifest, statement), (signatures, signatures_not_tried)) =
        try_join(manifest_and_statement, signatures).await?;
    Ok(AttestationEvidence {
        descriptor,
        manifest,
        statement,
        signatures,
        signatures_not_tried,
    })
}

async fn discover_signature<R: Source>(
    source: &R,
    descriptor: Descriptor,
) -> Result<SignatureEvidence, Error> {
    let manifest = fetch_image_manifest(source, &descriptor, "fetch signature manifest").await?;
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
    Ok(SignatureEvidence {
        descriptor,
        manifest,
        payload,
    })
}
