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

use crate::digest::Digest;
use crate::error::{Error, Outcome, SourceError, SourceStep};
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
    /// Signatures and Sigstore bundles that refer to the index (`None` when
    /// the reference names a single manifest: see the platform's), or why
    /// the listing could not be read.
    pub top_signed: Option<Result<Vec<SignatureEvidence>, SourceError>>,
    /// Attestation manifests among the index's referrers: attestations about
    /// the index, which count for every platform it lists.
    pub top_attestations: Vec<AttestationEvidence>,
    /// cosign's `sha256-<hex>.sig` / `.att` tags for the index digest (empty
    /// when the reference names a single manifest: see the platform's).
    pub cosign_tags: Vec<CosignTagEvidence>,
}

impl Evidence {
    /// Whether any signature listing was one a source kept rather than a
    /// fresh one.
    pub fn used_kept_listings(&self) -> bool {
        self.platforms
            .iter()
            .flat_map(|p| &p.attestations)
            .chain(&self.top_attestations)
            .any(|a| a.signatures_kept)
    }
}

/// What the policy needs discovery to look for beyond the referrers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// Look up cosign's `.sig` tags for the index and each platform: the
    /// policy requires a signature on the image itself.
    pub image_signatures: bool,
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
    /// Attestations found as referrers.
    pub attestations: Vec<AttestationEvidence>,
    /// BuildKit's attestation manifests about this platform, kept in the
    /// index (`vnd.docker.reference.type: attestation-manifest`): unsigned
    /// statements, which count only under a verified signature on the index.
    pub in_index: Vec<InIndexAttestationEvidence>,
    /// Signatures and Sigstore bundles among the referrers (cosign
    /// signature artifacts, cosign v3 bundles: image signatures, or DSSE
    /// attestations about this platform).
    pub signed_referrers: Vec<SignatureEvidence>,
    /// How many referrers were attestations (manifests or bundles): when
    /// none, cosign's `.att` tags were looked up.
    pub attestations_from_referrers: usize,
    /// cosign's `sha256-<hex>.sig` tag for this platform's digest (when the
    /// policy requires an image signature), and its `.att` tag when the
    /// referrers hold no attestation.
    pub cosign_tags: Vec<CosignTagEvidence>,
}

/// A statement's bytes, or why they could not be read.
pub(crate) type FetchedStatement = Result<Arc<Vec<u8>>, SourceError>;

/// One of BuildKit's attestation manifests kept in the image index: an
/// image manifest (config `application/vnd.oci.image.config.v1+json`) whose
/// layers are raw in-toto statements, each annotated with its predicate type.
#[derive(Debug)]
pub(crate) struct InIndexAttestationEvidence {
    /// The index entry (digest-checked through the index).
    pub descriptor: Descriptor,
    pub manifest: Result<ImageManifest, SourceError>,
    /// Each in-toto layer and its bytes (checked against the layer digest).
    pub statements: Vec<(Descriptor, FetchedStatement)>,
    /// In-toto layers beyond [`Limits::max_referrers`], not fetched.
    pub statements_not_fetched: usize,
}

/// Which of cosign's legacy tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CosignTagKind {
    /// `sha256-<hex>.sig`: each layer a simple-signing payload (media type
    /// [`media_type::SIMPLE_SIGNING`]) signing the *image manifest* `<hex>`,
    /// its signature in the layer annotation `dev.cosignproject.cosign/signature`
    /// (and a Rekor bundle, when logged, in `dev.sigstore.cosign/bundle`).
    Signatures,
    /// `sha256-<hex>.att`: each layer a DSSE envelope
    /// (`application/vnd.dsse.envelope.v1+json`) whose payload is an in-toto
    /// statement about `<hex>`, signed with the same keys.
    Attestations,
}

impl CosignTagKind {
    /// The tag for `subject`.
    pub(crate) fn tag(self, subject: &Digest) -> String {
        match self {
            CosignTagKind::Signatures => format!("{}.sig", subject.fallback_tag()),
            CosignTagKind::Attestations => format!("{}.att", subject.fallback_tag()),
        }
    }
}

/// What one of cosign's legacy tags held. Everything is digest-checked and
/// nothing is verified: the bytes are evidence for `chain`.
#[derive(Debug)]
pub(crate) struct CosignTagEvidence {
    /// The digest the tag is named after (what is signed or attested).
    pub subject: Digest,
    /// `.sig` or `.att`.
    pub kind: CosignTagKind,
    /// What the tag resolved to.
    pub descriptor: Descriptor,
    /// The manifest the tag names.
    pub manifest: Result<ImageManifest, SourceError>,
    /// Its layers in order, each with its bytes (payloads for `.sig`, DSSE
    /// envelopes for `.att`).
    pub layers: Vec<(Descriptor, Result<Vec<u8>, SourceError>)>,
    /// Layers beyond the limit, not fetched
    /// ([`Limits::max_signatures_per_attestation`] for `.sig`,
    /// [`Limits::max_referrers`] for `.att`).
    pub layers_not_fetched: usize,
}

#[derive(Debug)]
pub(crate) struct AttestationEvidence {
    /// A referrer, or BuildKit's in-index attestation manifest.
    pub source: crate::verdict::EvidenceSource,
    pub descriptor: Descriptor,
    pub manifest: Result<ImageManifest, SourceError>,
    /// `None` when the manifest did not name a statement to fetch. Shared, not
    /// copied, with the [`crate::VerifiedAttestation`] built from it.
    pub statement: Option<Result<Arc<Vec<u8>>, SourceError>>,
    pub signatures: Result<Vec<SignatureEvidence>, SourceError>,
    /// Whether the signature listing was one the source kept (a fresh one
    /// may hold more signatures).
    pub signatures_kept: bool,
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
    step: SourceStep,
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

/// BuildKit's index annotation naming the manifest an attestation manifest is about.
const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// BuildKit's `vnd.docker.reference.type` value for attestation manifests.
const ATTESTATION_MANIFEST: &str = "attestation-manifest";

/// BuildKit attestation manifests in `index` that are about `platform`.
fn inline_attestations(index: &crate::oci::ImageIndex, platform: &Digest) -> Vec<Descriptor> {
    index
        .manifests
        .iter()
        .filter(|d| {
            is_manifest_media_type(&d.media_type)
                && d.annotations
                    .get(annotation::DOCKER_REFERENCE_TYPE)
                    .is_some_and(|t| t == ATTESTATION_MANIFEST)
                && d.annotations
                    .get(DOCKER_REFERENCE_DIGEST)
                    .and_then(|v| v.parse::<Digest>().ok())
                    .is_some_and(|d| d == *platform)
        })
        .cloned()
        .collect()
}

/// Whether a referrer is an attestation manifest (an in-toto layer; an
/// artifact type, when listed, must say so).
fn is_attestation_referrer(d: &Descriptor) -> bool {
    is_manifest_media_type(&d.media_type)
        && d.artifact_type
            .as_deref()
            .is_none_or(|t| t == media_type::IN_TOTO)
}

/// Whether a referrer is a signature or a Sigstore bundle of the subject
/// itself (cosign's signature artifact, or a cosign v3 bundle).
fn is_signed_referrer(d: &Descriptor) -> bool {
    is_manifest_media_type(&d.media_type)
        && d.artifact_type.as_deref().is_some_and(|t| {
            t == media_type::COSIGN_SIGNATURE || t == media_type::SIGSTORE_BUNDLE_V03
        })
}

/// Whether a listing holds a Sigstore bundle (which may be an attestation).
fn has_bundle(listed: &[Descriptor]) -> bool {
    listed
        .iter()
        .any(|d| d.artifact_type.as_deref() == Some(media_type::SIGSTORE_BUNDLE_V03))
}

/// cosign's `.sig` tag for `subject` when `signatures`, and its `.att` tag
/// when `attestations`, in that order, where they exist.
async fn discover_cosign_tags<R: Source>(
    source: &R,
    subject: &Digest,
    signatures: bool,
    attestations: bool,
    limits: &Limits,
) -> Result<Vec<CosignTagEvidence>, Error> {
    let lookup = |wanted: bool, kind: CosignTagKind| async move {
        if wanted {
            discover_cosign_tag(source, subject, kind, limits).await
        } else {
            Ok(None)
        }
    };
    let (sig, att) = try_join(
        lookup(signatures, CosignTagKind::Signatures),
        lookup(attestations, CosignTagKind::Attestations),
    )
    .await?;
    Ok(sig.into_iter().chain(att).collect())
}

/// The attestation manifests among a subject's referrers, each with its
/// statement and signatures. Registries may ignore the artifactType filter:
/// always filtered here.
async fn discover_referrer_attestations<R: Source>(
    referrers: &R,
    listed: &[Descriptor],
    limits: &Limits,
) -> Result<Vec<AttestationEvidence>, Error> {
    try_join_all(
        listed
            .iter()
            .filter(|d| is_attestation_referrer(d))
            .map(|d| {
                discover_attestation(
                    referrers,
                    referrers,
                    d.clone(),
                    crate::verdict::EvidenceSource::Referrer,
                    limits,
                )
            }),
    )
    .await
}

/// The signatures and bundles among `subject`'s referrers, fetched.
async fn discover_signed_referrers<R: Source>(
    source: &R,
    listed: &[Descriptor],
    limits: &Limits,
) -> Result<Vec<SignatureEvidence>, Error> {
    try_join_all(
        listed
            .iter()
            .filter(|d| is_signed_referrer(d))
            .map(|d| discover_signature(source, d.clone(), limits)),
    )
    .await
}

async fn discover_cosign_tag<R: Source>(
    source: &R,
    subject: &Digest,
    kind: CosignTagKind,
    limits: &Limits,
) -> Result<Option<CosignTagEvidence>, Error> {
    let step = match kind {
        CosignTagKind::Signatures => SourceStep::ResolveCosignSignatureTag,
        CosignTagKind::Attestations => SourceStep::ResolveCosignAttestationTag,
    };
    let descriptor = match keep(source.tagged(&kind.tag(subject)).await, step, subject)? {
        Ok(Some(d)) => d,
        Ok(None) => return Ok(None),
        // Content that is wrong (say, over the manifest limit) is kept as a
        // manifest that could not be read.
        Err(e) => {
            let descriptor = Descriptor {
                media_type: media_type::OCI_MANIFEST.to_owned(),
                digest: *subject,
                size: 0,
                artifact_type: None,
                annotations: Default::default(),
                platform: None,
                data: None,
            };
            return Ok(Some(CosignTagEvidence {
                subject: *subject,
                kind,
                descriptor,
                manifest: Err(e),
                layers: Vec::new(),
                layers_not_fetched: 0,
            }));
        }
    };
    let manifest = fetch_image_manifest(
        source,
        &descriptor,
        SourceStep::FetchCosignTagManifest,
        limits,
    )
    .await?;
    let (content_kind, max) = match kind {
        CosignTagKind::Signatures => (ContentKind::Payload, limits.max_signatures_per_attestation),
        CosignTagKind::Attestations => (ContentKind::Statement, limits.max_referrers),
    };
    let (layers, layers_not_fetched) = match &manifest {
        Ok(m) => {
            let fetched = try_join_all(m.layers.iter().take(max).map(|l| async move {
                let bytes = keep(
                    fetch(source, &l.digest, Some(l.size), content_kind, limits).await,
                    SourceStep::FetchCosignTagLayer,
                    &l.digest,
                )?;
                Ok::<_, Error>((l.clone(), bytes))
            }))
            .await?;
            (fetched, m.layers.len().saturating_sub(max))
        }
        Err(_) => (Vec::new(), 0),
    };
    Ok(Some(CosignTagEvidence {
        subject: *subject,
        kind,
        descriptor,
        manifest,
        layers,
        layers_not_fetched,
    }))
}

/// Fetches `digest` from `source`, then refuses JSON nested deeper than
/// [`Limits::max_json_depth`] before anything parses it.
async fn fetch<S: Source>(
    source: &S,
    digest: &Digest,
    declared_size: Option<u64>,
    kind: ContentKind,
    limits: &Limits,
) -> Result<Vec<u8>, SourceError> {
    let bytes = source.fetch(digest, declared_size, kind).await?;
    if limits.max_json_depth < crate::limits::PARSER_JSON_DEPTH
        && !crate::limits::json_depth_within(&bytes, limits.max_json_depth)
    {
        return Err(SourceError::TooDeep {
            digest: *digest,
            limit: limits.max_json_depth,
        });
    }
    Ok(bytes)
}

fn parse_image_manifest(digest: &Digest, bytes: &[u8]) -> Result<ImageManifest, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| SourceError::Malformed {
        digest: *digest,
        expected: "OCI image manifest",
        reason: e.to_string(),
    })
}

/// An image configuration (the one `config` names), digest-checked.
async fn fetch_config<S: Source>(
    source: &S,
    config: &Descriptor,
    limits: &Limits,
) -> Result<Result<Vec<u8>, SourceError>, Error> {
    keep(
        fetch(
            source,
            &config.digest,
            Some(config.size),
            ContentKind::Config,
            limits,
        )
        .await,
        SourceStep::FetchImageConfig,
        &config.digest,
    )
}

async fn fetch_image_manifest<S: Source>(
    source: &S,
    d: &Descriptor,
    step: SourceStep,
    limits: &Limits,
) -> Result<Result<ImageManifest, SourceError>, Error> {
    let bytes = keep(
        fetch(
            source,
            &d.digest,
            Some(d.size),
            ContentKind::Manifest,
            limits,
        )
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
    needs: Needs,
) -> Result<Evidence, Error> {
    let top = image
        .resolve(tag, digest)
        .await
        .map_err(|e| Error::Source {
            step: SourceStep::ResolveReference,
            subject: image.location(),
            source: e,
        })?;
    let top_bytes = keep(
        fetch(
            image,
            &top.digest,
            Some(top.size),
            ContentKind::Manifest,
            limits,
        )
        .await,
        SourceStep::FetchIndex,
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
        top_signed: None,
        top_attestations: Vec::new(),
        cosign_tags: Vec::new(),
    };
    let top_is_index = matches!(&evidence.top_manifest, Ok(Manifest::Index(_)));
    // BuildKit's in-index attestations count only under a signature on the
    // index: when there are any, the index's `.sig` tag is looked up too.
    let in_index_attestations = match &evidence.top_manifest {
        Ok(Manifest::Index(index)) => index.manifests.iter().any(|d| {
            d.annotations
                .get(annotation::DOCKER_REFERENCE_TYPE)
                .is_some_and(|t| t == ATTESTATION_MANIFEST)
        }),
        _ => false,
    };
    let targets: Vec<(Platform, Descriptor, Vec<Descriptor>)> = match &evidence.top_manifest {
        Err(_) => Vec::new(),
        Ok(Manifest::Index(index)) => {
            let offered: Vec<(Platform, &Descriptor)> = index
                .manifests
                .iter()
                .filter_map(|d| platform_entry(d).map(|p| (p, d)))
                .collect();
            evidence.available_platforms = offered.iter().map(|(p, _)| p.clone()).collect();
            let target = |p: &Platform, d: &Descriptor| {
                (p.clone(), d.clone(), inline_attestations(index, &d.digest))
            };
            match selection {
                PlatformSelection::All => offered.iter().map(|(p, d)| target(p, d)).collect(),
                PlatformSelection::Only(wanted) => {
                    let mut out = Vec::new();
                    for w in wanted {
                        match offered.iter().find(|(p, _)| w.matches(p)) {
                            Some((p, d)) => out.push(target(p, d)),
                            None => evidence.missing_platforms.push(w.clone()),
                        }
                    }
                    out
                }
            }
        }
        Ok(Manifest::Image(m)) => {
            // A single-platform image: its platform is in its configuration.
            let config = fetch_config(image, &m.config, limits).await?;
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
                vec![(platform, top.clone(), Vec::new())]
            } else if let PlatformSelection::Only(ws) = selection {
                evidence.missing_platforms.extend(ws.iter().cloned());
                Vec::new()
            } else {
                Vec::new()
            }
        }
    };
    // Platforms in parallel (results in the order of the selection), and
    // the index's own referrers (and `.sig` tag, when needed) beside them.
    let platforms = try_join_all(targets.into_iter().map(|(platform, descriptor, inline)| {
        discover_platform(
            image, referrers, platform, descriptor, inline, limits, needs,
        )
    }));
    let top_signed = async {
        if !top_is_index {
            return Ok((None, Vec::new(), Vec::new()));
        }
        let listing = async {
            let listed = keep(
                referrers.referrers(&top.digest).await,
                SourceStep::ListIndexReferrers,
                &top.digest,
            )?;
            match listed {
                Ok(listed) => {
                    let attestations = discover_referrer_attestations(referrers, &listed, limits);
                    let (signed, attestations) = try_join(
                        discover_signed_referrers(referrers, &listed, limits),
                        attestations,
                    )
                    .await?;
                    // Attestations among the index's referrers: no `.att` needed.
                    let attested = has_bundle(&listed) || !attestations.is_empty();
                    Ok::<_, Error>((Some(Ok(signed)), attested, attestations))
                }
                Err(e) => Ok((Some(Err(e)), false, Vec::new())),
            }
        };
        let sig = discover_cosign_tags(
            referrers,
            &top.digest,
            needs.image_signatures || in_index_attestations,
            false,
            limits,
        );
        let ((signed, attested, attestations), sig) = try_join(listing, sig).await?;
        Ok::<_, Error>((signed.map(|s| s.map(|v| (v, attested))), sig, attestations))
    };
    let (platforms, (top_signed, top_sig, top_attestations)) =
        try_join(platforms, top_signed).await?;
    // cosign's `.att` tag of the index, only when no platform found an
    // attestation among the referrers (cosign v3 falls back to tags likewise).
    let top_bundles = matches!(&top_signed, Some(Ok((_, true))));
    let att_needed = top_is_index
        && !top_bundles
        && platforms
            .iter()
            .any(|p: &PlatformEvidence| p.attestations_from_referrers == 0);
    let top_att = if att_needed {
        discover_cosign_tags(referrers, &top.digest, false, true, limits).await?
    } else {
        Vec::new()
    };
    evidence.platforms = platforms;
    evidence.top_attestations = top_attestations;
    evidence.top_signed = top_signed.map(|s| s.map(|(v, _)| v));
    evidence.cosign_tags = top_sig.into_iter().chain(top_att).collect();
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
    inline: Vec<Descriptor>,
    limits: &Limits,
    needs: Needs,
) -> Result<PlatformEvidence, Error> {
    // The manifest (then its configuration) and the referrers listing (then
    // every attestation) need only the digest from the index: both at once.
    let manifest_and_config = async {
        let manifest = fetch_image_manifest(
            image,
            &descriptor,
            SourceStep::FetchPlatformManifest,
            limits,
        )
        .await?;
        let config = match &manifest {
            Ok(m) => Some(fetch_config(image, &m.config, limits).await?),
            Err(_) => None,
        };
        Ok::<_, Error>((manifest, config))
    };
    let listing_and_attestations = async {
        let listed = keep(
            referrers.referrers(&descriptor.digest).await,
            SourceStep::ListReferrers,
            &descriptor.digest,
        )?;
        let (attestations, signed) = match &listed {
            Ok(listed) => {
                let attestations = discover_referrer_attestations(referrers, listed, limits);
                try_join(
                    attestations,
                    discover_signed_referrers(referrers, listed, limits),
                )
                .await?
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        // No attestation among the referrers: cosign's `.att` tag instead.
        let att = match &listed {
            Ok(l) if attestations.is_empty() && !has_bundle(l) => {
                discover_cosign_tags(referrers, &descriptor.digest, false, true, limits).await?
            }
            _ => Vec::new(),
        };
        Ok::<_, Error>((listed, attestations, signed, att))
    };
    // BuildKit's attestation manifests live in the image's index.
    let in_index = try_join_all(
        inline
            .into_iter()
            .map(|d| discover_in_index_attestation(image, d, limits)),
    );
    let sig = discover_cosign_tags(
        referrers,
        &descriptor.digest,
        needs.image_signatures,
        false,
        limits,
    );
    let (((manifest, config), (listed, attestations, signed_referrers, att)), (in_index, sig)) =
        try_join(
            try_join(manifest_and_config, listing_and_attestations),
            try_join(in_index, sig),
        )
        .await?;
    let attestations_from_referrers = attestations.len()
        + signed_referrers
            .iter()
            .filter(|s| {
                s.descriptor.artifact_type.as_deref() == Some(media_type::SIGSTORE_BUNDLE_V03)
            })
            .count();
    Ok(PlatformEvidence {
        platform,
        descriptor,
        manifest,
        config,
        referrers: listed,
        attestations,
        in_index,
        attestations_from_referrers,
        signed_referrers,
        cosign_tags: sig.into_iter().chain(att).collect(),
    })
}

/// One attestation: its manifest and statement from `source`, its signature
/// referrers (and their content) from `signatures_source`.
async fn discover_attestation<S: Source, R: Source>(
    source: &S,
    signatures_source: &R,
    descriptor: Descriptor,
    from: crate::verdict::EvidenceSource,
    limits: &Limits,
) -> Result<AttestationEvidence, Error> {
    // The attestation manifest (then its statement) and its signature
    // referrers (then each signature) both need only the digest: both at once.
    let manifest_and_statement = async {
        let manifest = fetch_image_manifest(
            source,
            &descriptor,
            SourceStep::FetchAttestationManifest,
            limits,
        )
        .await?;
        let statement = match &manifest {
            Ok(m) => match m.attestation_layer() {
                Ok(layer) => Some(
                    keep(
                        fetch(
                            source,
                            &layer.digest,
                            Some(layer.size),
                            ContentKind::Statement,
                            limits,
                        )
                        .await,
                        SourceStep::FetchStatement,
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
            signatures_source
                .signature_referrers(&descriptor.digest)
                .await,
            SourceStep::ListSignatureReferrers,
            &descriptor.digest,
        )?;
        let (listed, kept) = match listed {
            Err(e) => return Ok::<_, Error>((Err(e), 0, false)),
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
                .map(|d| discover_signature(signatures_source, d, limits)),
        )
        .await?;
        Ok((Ok(found), not_tried, kept))
    };
    let ((manifest, statement), (signatures, signatures_not_tried, signatures_kept)) =
        try_join(manifest_and_statement, signatures).await?;
    Ok(AttestationEvidence {
        source: from,
        descriptor,
        manifest,
        statement,
        signatures,
        signatures_kept,
        signatures_not_tried,
    })
}

/// One of BuildKit's in-index attestation manifests and its in-toto layers.
async fn discover_in_index_attestation<S: Source>(
    source: &S,
    descriptor: Descriptor,
    limits: &Limits,
) -> Result<InIndexAttestationEvidence, Error> {
    let manifest = fetch_image_manifest(
        source,
        &descriptor,
        SourceStep::FetchInIndexAttestationManifest,
        limits,
    )
    .await?;
    let layers: Vec<Descriptor> = match &manifest {
        Ok(m) => m
            .layers
            .iter()
            .filter(|l| l.media_type == media_type::IN_TOTO)
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    let statements_not_fetched = layers.len().saturating_sub(limits.max_referrers);
    let statements = try_join_all(layers.into_iter().take(limits.max_referrers).map(
        |layer| async move {
            let bytes = keep(
                fetch(
                    source,
                    &layer.digest,
                    Some(layer.size),
                    ContentKind::Statement,
                    limits,
                )
                .await,
                SourceStep::FetchInIndexAttestationStatement,
                &layer.digest,
            )?;
            Ok::<_, Error>((layer, bytes.map(Arc::new)))
        },
    ))
    .await?;
    Ok(InIndexAttestationEvidence {
        descriptor,
        manifest,
        statements,
        statements_not_fetched,
    })
}

async fn discover_signature<R: Source>(
    source: &R,
    descriptor: Descriptor,
    limits: &Limits,
) -> Result<SignatureEvidence, Error> {
    let manifest = fetch_image_manifest(
        source,
        &descriptor,
        SourceStep::FetchSignatureManifest,
        limits,
    )
    .await?;
    let payload = match &manifest {
        Ok(m) => match m.layers.first() {
            Some(layer) => Some(keep(
                fetch(
                    source,
                    &layer.digest,
                    Some(layer.size),
                    ContentKind::Payload,
                    limits,
                )
                .await,
                SourceStep::FetchSignaturePayload,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dhi_verify_testkit::registry::{Content, Fault, FaultKind, TestRegistry};
    use dhi_verify_testkit::DhiImage;
    use serde_json::json;

    use super::*;
    use crate::source::registry::{DockerConfig, RegistryClient, RegistryOptions, RegistrySource};

    const REPO: &str = "dhi/python";

    fn discover_from(registry: &TestRegistry) -> Result<Evidence, Error> {
        let client = RegistryClient::new(
            RegistryOptions::default()
                .with_retries(0, Duration::from_millis(1))
                .with_docker_config(DockerConfig::None),
        )
        .unwrap();
        let source = RegistrySource::new(client, &registry.addr, REPO, Limits::default());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(discover(
                &source,
                &source,
                Some("3.13"),
                None,
                &PlatformSelection::Only(vec![Platform::linux_amd64()]),
                &Limits::default(),
                Needs {
                    image_signatures: true,
                },
            ))
    }

    fn content() -> (Content, dhi_verify_testkit::Fixture, tempfile::TempDir) {
        content_of(DhiImage::python())
    }

    fn content_of(image: DhiImage) -> (Content, dhi_verify_testkit::Fixture, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let fixture = image
            .without_fallback_tags()
            .write_layout(&dir.path().join("layout"));
        (Content::from_layout(&fixture.dir), fixture, dir)
    }

    fn amd64(fixture: &dhi_verify_testkit::Fixture) -> String {
        fixture
            .platforms
            .iter()
            .find(|(p, _)| p == "linux/amd64")
            .unwrap()
            .1
            .clone()
    }

    #[test]
    fn cosign_sig_and_att_tags_are_discovered_as_evidence() {
        // No attestation among the referrers: the `.att` tags are looked up.
        let (mut content, fixture, _dir) = content_of(DhiImage::python().kinds(&[]));
        let platform = amd64(&fixture);
        let mut payload = content.put_blob(
            media_type::SIMPLE_SIGNING,
            br#"{"critical":{"type":"cosign container image signature"}}"#.to_vec(),
        );
        payload["annotations"] = json!({"dev.cosignproject.cosign/signature": "MEUC"});
        let sig = content.add_cosign_tag(&platform, "sig", vec![payload]);
        let envelope = content.put_blob(
            "application/vnd.dsse.envelope.v1+json",
            br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}"#
                .to_vec(),
        );
        let att = content.add_cosign_tag(&fixture.index_digest, "att", vec![envelope]);
        let registry = TestRegistry::start(REPO, content);
        let evidence = discover_from(&registry).unwrap();

        let on_platform = &evidence.platforms[0].cosign_tags;
        assert_eq!(on_platform.len(), 1, "{on_platform:#?}");
        assert_eq!(on_platform[0].kind, CosignTagKind::Signatures);
        assert_eq!(on_platform[0].descriptor.digest.to_string(), sig);
        assert_eq!(on_platform[0].subject.to_string(), platform);
        let (layer, bytes) = &on_platform[0].layers[0];
        assert_eq!(layer.annotation(annotation::COSIGN_SIGNATURE), Some("MEUC"));
        assert!(bytes.as_ref().unwrap().starts_with(b"{\"critical\""));

        let on_index = &evidence.cosign_tags;
        assert_eq!(on_index.len(), 1, "{on_index:#?}");
        assert_eq!(on_index[0].kind, CosignTagKind::Attestations);
        assert_eq!(on_index[0].descriptor.digest.to_string(), att);
        assert!(on_index[0].layers[0].1.is_ok());
    }

    #[test]
    fn att_tags_are_not_looked_up_when_referrers_hold_attestations() {
        let (mut content, fixture, _dir) = content();
        let envelope = content.put_blob("application/vnd.dsse.envelope.v1+json", b"{}".to_vec());
        content.add_cosign_tag(&fixture.index_digest, "att", vec![envelope.clone()]);
        content.add_cosign_tag(&amd64(&fixture), "att", vec![envelope]);
        let registry = TestRegistry::start(REPO, content);
        let evidence = discover_from(&registry).unwrap();
        assert!(
            evidence.cosign_tags.is_empty(),
            "{:#?}",
            evidence.cosign_tags
        );
        assert!(evidence.platforms[0].cosign_tags.is_empty());
        assert!(
            !registry.requests().iter().any(|r| r.contains(".att")),
            "{:#?}",
            registry.requests()
        );
    }

    #[test]
    fn no_cosign_tags_means_no_cosign_evidence() {
        let (content, _fixture, _dir) = content();
        let registry = TestRegistry::start(REPO, content);
        let evidence = discover_from(&registry).unwrap();
        assert!(evidence.cosign_tags.is_empty());
        assert!(evidence.platforms[0].cosign_tags.is_empty());
        assert_eq!(evidence.platforms[0].attestations.len(), 5);
    }

    #[test]
    fn a_cosign_tag_lookup_that_fails_is_an_error_not_an_absence() {
        let (content, _fixture, _dir) = content();
        let registry = TestRegistry::start(REPO, content).fault(Fault::new(
            ".sig",
            FaultKind::Status(503, None),
            usize::MAX,
        ));
        let e = discover_from(&registry).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Source {
                    source: SourceError::Http { status: 503, .. },
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn a_cosign_layer_that_does_not_match_its_digest_is_kept_as_failed_evidence() {
        let (mut content, fixture, _dir) = content();
        let platform = amd64(&fixture);
        let payload = content.put_blob(media_type::SIMPLE_SIGNING, b"{\"a\":1}".to_vec());
        let digest = payload["digest"].as_str().unwrap().to_owned();
        content.add_cosign_tag(&platform, "sig", vec![payload]);
        let registry = TestRegistry::start(REPO, content).fault(Fault::new(
            &format!("/blobs/{digest}"),
            FaultKind::WrongBody,
            usize::MAX,
        ));
        let evidence = discover_from(&registry).unwrap();
        let layers = &evidence.platforms[0].cosign_tags[0].layers;
        assert!(
            matches!(layers[0].1, Err(SourceError::DigestMismatch { .. })),
            "{layers:#?}"
        );
    }
}
