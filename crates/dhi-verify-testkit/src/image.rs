//! DHI-shaped images: an index of platform manifests, each with attestation
//! manifests (raw in-toto statements) signed by cosign simple signing, stored
//! as OCI referrers (DHI-FORMAT.md §2–§5). [`Tamper`] breaks one link.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::keys::TestKey;
use crate::layout::{Blob, LayoutWriter};
use crate::rekor::{BundleForgery, EntryForgery, EntryKind};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const COSIGN_SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The [`AttestationInfo::platform`] of attestations about the index ([`DhiImage::attest_index`]).
pub const INDEX_TARGET: &str = "index";

/// Where attestations about the index go ([`DhiImage::attest_index`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexAttestation {
    /// cosign `attest --key` on the index digest (cosign v2, as
    /// slsa-github-generator publishes): tag `sha256-<index hex>.att`, a
    /// manifest of cosign's shape with one DSSE layer per predicate (see
    /// [`crate::cosign::keyed_att_layer`]); logged in Rekor when
    /// [`DhiImage::rekor`] is set, with entry kind [`DhiImage::att_entry`].
    /// Its [`AttestationInfo`]s name the `.att` manifest as
    /// `manifest_digest` and the DSSE layer as `statement_digest`.
    AttTag,
    /// DHI-shaped attestation manifests (raw statements, simple-signing
    /// signature referrers) whose `subject` is the index descriptor, as the
    /// per-platform ones are.
    Referrer,
}

/// The attestations DHI images carry (DHI-FORMAT.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredicateKind {
    ProvenanceV1,
    ProvenanceV02,
    CycloneDx16,
    Spdx23,
    OpenVex,
    DhiSource,
    /// in-toto `vulns/v0.1` with the image's [`DhiImage::vulnerabilities`].
    Vulns,
}

impl PredicateKind {
    pub fn predicate_type(self) -> &'static str {
        match self {
            PredicateKind::ProvenanceV1 => "https://slsa.dev/provenance/v1",
            PredicateKind::ProvenanceV02 => "https://slsa.dev/provenance/v0.2",
            PredicateKind::CycloneDx16 => "https://cyclonedx.org/bom/v1.6",
            PredicateKind::Spdx23 => "https://spdx.dev/Document",
            PredicateKind::OpenVex => "https://openvex.dev/ns/v0.2.0",
            PredicateKind::DhiSource => "https://docker.com/dhi/source/v0.1",
            PredicateKind::Vulns => "https://in-toto.io/attestation/vulns/v0.1",
        }
    }

    /// A small, realistic predicate body.
    pub fn predicate(self, name: &str, platform: &str) -> Value {
        match self {
            PredicateKind::ProvenanceV1 => json!({
                "buildDefinition": {
                    "buildType": "https://mobyproject.org/buildkit@v1",
                    "externalParameters": {"configSource": {"uri": "https://github.com/docker-hardened-images/definitions.git", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "path": format!("image/{name}/debian-13/3.13")}, "request": {"frontend": "gateway.v0"}},
                    "resolvedDependencies": [{"uri": "pkg:docker/dhi/debian-base@13?platform=".to_owned() + &platform.replace('/', "%2F"), "digest": {"sha256": "6a1d6b0a0c0e3b8f2f0d3c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"}}]
                },
                "runDetails": {"builder": {"id": "https://github.com/docker-hardened-images/builder"}, "metadata": {"invocationID": "ups6p9t2ddd9i2m6gywsjjhjp", "startedOn": "2026-09-23T07:51:02Z", "finishedOn": "2026-09-23T08:01:21Z"}}
            }),
            PredicateKind::ProvenanceV02 => json!({
                "builder": {"id": "https://github.com/docker-hardened-images/builder"},
                "buildType": "https://mobyproject.org/buildkit@v1",
                "invocation": {"configSource": {"uri": "https://github.com/docker-hardened-images/definitions.git", "entryPoint": "Dockerfile"}},
                "materials": [],
                "metadata": {"buildStartedOn": "2026-09-23T07:51:02Z", "buildFinishedOn": "2026-09-23T08:01:21Z"}
            }),
            PredicateKind::CycloneDx16 => json!({
                "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                "metadata": {"component": {"type": "container", "name": format!("dhi/{name}")}},
                "components": [
                    {"type": "library", "name": "python", "version": "3.13.15", "purl": "pkg:generic/python@3.13.15", "licenses": [{"license": {"id": "PSF-2.0"}}]},
                    {"type": "library", "name": "openssl", "version": "3.5.1-1", "purl": "pkg:deb/debian/openssl@3.5.1-1?distro=debian-13", "licenses": [{"expression": "Apache-2.0"}]},
                    {"type": "library", "name": "libc6", "version": "2.41-12", "purl": "pkg:deb/debian/libc6@2.41-12?distro=debian-13", "licenses": [{"license": {"id": "LGPL-2.1-or-later"}}]}
                ]
            }),
            PredicateKind::Spdx23 => json!({
                "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
                "name": format!("dhi/{name}"), "documentNamespace": format!("https://docker.com/dhi/{name}/{platform}"),
                "creationInfo": {"created": "2026-09-23T08:01:21Z", "creators": ["Tool: dhi-verify-testkit"]},
                "packages": [
                    {"SPDXID": "SPDXRef-python", "name": "python", "versionInfo": "3.13.15", "licenseConcluded": "PSF-2.0", "downloadLocation": "NOASSERTION",
                     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:generic/python@3.13.15"}]},
                    {"SPDXID": "SPDXRef-openssl", "name": "openssl", "versionInfo": "3.5.1-1", "licenseConcluded": "Apache-2.0", "downloadLocation": "NOASSERTION",
                     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:deb/debian/openssl@3.5.1-1?distro=debian-13"}]}
                ]
            }),
            PredicateKind::OpenVex => json!({
                "@context": "https://openvex.dev/ns/v0.2.0", "@id": format!("https://docker.com/dhi/vex/{name}"),
                "author": "Docker Hardened Images <dhi@docker.com>", "timestamp": "2026-09-23T08:01:21Z", "version": 1,
                "statements": [{"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:generic/python@3.13.15"}],
                                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]
            }),
            PredicateKind::DhiSource => {
                json!({"source": {"name": format!("dhi/{name}"), "digest": {"sha256": "9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"}}})
            }
            // The findings are filled in from `DhiImage::vulnerabilities`.
            PredicateKind::Vulns => {
                json!({"scanner": {"uri": "pkg:github/docker/scout", "version": "1", "result": []}})
            }
        }
    }
}

/// One way to break exactly one link of the chain for the target attestation
/// (the first platform's attestation of [`DhiImage::tamper_target`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Signed by a key the verifier does not trust.
    WrongKey,
    /// Statement blob bytes changed after its digest was recorded.
    StatementBytes,
    /// Statement blob deleted from the layout.
    StatementMissing,
    /// Signature payload blob bytes changed after its digest was recorded.
    PayloadBytes,
    /// Attestation manifest blob bytes changed after its digest was recorded.
    AttestationManifestBytes,
    /// The payload signs another attestation manifest (the same platform's next one).
    PayloadNamesOtherManifest,
    /// The statement's subject is the other platform's manifest.
    SubjectOtherPlatform,
    /// The attestation manifest's `subject` is the other platform's manifest.
    AttestationSubjectOtherPlatform,
    /// The manifest annotation says one predicate type, the statement another.
    PredicateTypeConfusion,
    /// The layer annotation disagrees with the manifest annotation.
    LayerAnnotationDisagrees,
    /// The payload's `optional.predicateType` names another predicate type.
    PayloadPredicateType,
    /// No signature at all.
    Unsigned,
    /// `critical.type` is not "cosign container image signature".
    WrongCriticalType,
    /// The signature annotation is not base64.
    SignatureNotBase64,
    /// The signature annotation is base64 of something that is not DER.
    SignatureNotDer,
    /// The signature manifest's `subject` names another manifest (but is listed under the target).
    SignatureSubjectOther,
    /// The statement's `_type` is not an in-toto Statement type.
    StatementType,
    /// The attestation manifest has a second layer.
    ExtraLayer,
    /// The index blob's bytes changed after its digest was recorded.
    IndexBytes,
    /// The first platform manifest's bytes changed after its digest was recorded.
    PlatformManifestBytes,
    /// The attestation manifest's `subject` has the right digest but the wrong size.
    AttestationSubjectSize,
    /// The signature manifest's `subject` has the right digest but a non-manifest media type.
    SignatureSubjectMediaType,
    /// The Rekor bundle's SET does not cover what it says (integratedTime moved by one second).
    TlogForgedTime,
    /// The Rekor bundle's body logs another payload.
    TlogOtherPayload,
    /// The target's signature has no Rekor bundle (the others do).
    TlogMissing,
    /// With bundle signatures: the bundle's SET signs other bytes.
    BundleSet,
    /// With bundle signatures: the bundle's signature is over other bytes than the manifest.
    BundleSignatureOverOtherBytes,
}

/// A DHI-shaped image to write.
#[derive(Clone)]
pub struct DhiImage {
    pub name: String,
    pub tag: String,
    pub platforms: Vec<String>,
    pub kinds: Vec<PredicateKind>,
    pub key: TestKey,
    pub tamper: Option<Tamper>,
    pub tamper_target: PredicateKind,
    /// Write `sha256-<hex>` fallback tags (as `regctl image copy --referrers` does).
    pub fallback_tags: bool,
    /// Extra bytes of padding in the CycloneDX statements (for size tests).
    pub sbom_padding: usize,
    /// Attach a legacy cosign Rekor bundle from this log to every signature.
    pub rekor: Option<crate::rekor::TestRekor>,
    /// Sign with Sigstore bundle referrers (cosign v3) instead of simple signing.
    pub bundle_signatures: bool,
    /// `com.docker.dhi.variant` (`runtime` or `dev`).
    pub variant: String,
    /// `com.docker.dhi.date.end-of-life`.
    pub end_of_life: String,
    /// The image configuration's `User`.
    pub user: String,
    /// Write DHI's index annotations (`com.docker.dhi.*`, title `dhi/<name>`).
    pub dhi_annotations: bool,
    /// Findings of the [`PredicateKind::Vulns`] attestation: (id, severity label, purl).
    pub vulnerabilities: Vec<(String, String, String)>,
    /// Sign keyless with this certificate instead of `key`: Sigstore bundles
    /// with `bundle_signatures`, else cosign keyless simple signing.
    pub keyless: Option<KeylessSigner>,
    /// The certificate chain (PEM) attached to keyless cosign signatures.
    pub keyless_chain: Option<String>,
    /// Attest the index instead of each platform manifest: the statements'
    /// subject is the index digest, the platform manifests have no
    /// attestations of their own. See [`DhiImage::attest_index`].
    pub index_attestation: Option<IndexAttestation>,
    /// Add BuildKit's in-index attestation manifests. See
    /// [`DhiImage::with_buildkit_attestations`].
    pub buildkit_attestations: bool,
    /// The Rekor entry kind of logged cosign `.att` layers, and what to break
    /// in the target's entry (with [`IndexAttestation::AttTag`] and a log).
    pub att_entry: (EntryKind, EntryForgery),
    /// Tag the one platform manifest itself, with no index. See
    /// [`DhiImage::single_manifest`].
    pub single_manifest: bool,
}

/// A keyless signer: a certificate's private key, the certificate, the log
/// that records the signature and the (in-validity) time it logs.
#[derive(Clone)]
pub struct KeylessSigner {
    pub rekor: crate::rekor::TestRekor,
    pub key: TestKey,
    pub cert_pem: String,
    pub time: i64,
}

/// What was written, for assertions.
#[derive(Clone, Debug)]
pub struct Fixture {
    pub dir: PathBuf,
    pub referrers_dir: PathBuf,
    /// The top manifest the tag names: the index, or with
    /// [`DhiImage::single_manifest`] the one platform manifest.
    pub index_digest: String,
    pub platforms: Vec<(String, String)>,
    pub attestations: Vec<AttestationInfo>,
    /// BuildKit's in-index attestation manifests: (platform, manifest digest).
    pub buildkit_attestations: Vec<(String, String)>,
    pub public_pem: String,
}

#[derive(Clone, Debug)]
pub struct AttestationInfo {
    pub platform: String,
    pub kind: PredicateKind,
    pub manifest_digest: String,
    pub statement_digest: String,
    pub signature_digest: Option<String>,
    pub payload_digest: Option<String>,
}

impl Fixture {
    /// `oci:<dir>:<tag>`.
    pub fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }
    pub fn attestation(&self, platform: &str, kind: PredicateKind) -> &AttestationInfo {
        self.attestations
            .iter()
            .find(|a| a.platform == platform && a.kind == kind)
            .unwrap()
    }
}

impl DhiImage {
    /// `dhi/python:3.13` for linux/amd64 and linux/arm64 with the five
    /// attestations DHI images carry, signed by `TestKey::new("dhi-test")`.
    pub fn python() -> Self {
        DhiImage {
            name: "python".into(),
            tag: "3.13".into(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
            kinds: vec![
                PredicateKind::ProvenanceV1,
                PredicateKind::CycloneDx16,
                PredicateKind::Spdx23,
                PredicateKind::OpenVex,
                PredicateKind::DhiSource,
            ],
            key: TestKey::new("dhi-test"),
            tamper: None,
            tamper_target: PredicateKind::ProvenanceV1,
            fallback_tags: true,
            sbom_padding: 0,
            rekor: None,
            bundle_signatures: false,
            keyless: None,
            keyless_chain: None,
            variant: "runtime".into(),
            end_of_life: "2029-10-31".into(),
            user: "65532".into(),
            dhi_annotations: true,
            vulnerabilities: Vec::new(),
            index_attestation: None,
            buildkit_attestations: false,
            att_entry: (EntryKind::IntotoV001, EntryForgery::None),
            single_manifest: false,
        }
    }

    /// Attestations bound to the index, as `cosign attest <image>@<index digest>`
    /// makes them (the real `.att` of `testdata/real/slsa-github-generator/v1.7.0`
    /// and `v2.0.0` attests the index): each in-toto statement's subject is
    /// the index digest, published as `how` says; the platform manifests get
    /// no attestations. `AttTag` statements are named as cosign names them
    /// (the repository, `registry.scout.docker.com/dhi/<name>`) and signed
    /// with [`DhiImage::key`] (keyed only: `keyless` and
    /// `bundle_signatures` do not apply); `Referrer` statements are named
    /// `pkg:docker/dhi/<name>@<tag>` and signed as the per-platform ones
    /// are. Logged attestations need the fake log in the verifier's trusted
    /// root: `TestRekor::default().trusted_root_json()`.
    /// The tampers that apply: `WrongKey`, `StatementBytes` (the DSSE layer
    /// or statement blob), `SubjectOtherPlatform` (the statement names the
    /// first platform manifest), `PredicateTypeConfusion`, and with
    /// `Referrer` every per-attestation tamper as for a platform.
    pub fn attest_index(mut self, how: IndexAttestation) -> Self {
        self.index_attestation = Some(how);
        self
    }

    /// BuildKit's in-index attestations (`docker buildx build --provenance
    /// --sbom`; real: the index of `testdata/real/slsa-github-generator/v1.7.0`
    /// and `v2.0.0`, blobs `3b6bc855…` / `667af5a1…`): for each platform, an
    /// index entry `{mediaType: OCI manifest, platform: unknown/unknown,
    /// annotations: {vnd.docker.reference.digest: <platform manifest>,
    /// vnd.docker.reference.type: attestation-manifest}}` after the platform
    /// entries; the manifest has an OCI image config
    /// (`{"architecture":"unknown","os":"unknown","config":{},"rootfs":…}`) and
    /// two `application/vnd.in-toto+json` layers annotated
    /// `in-toto.io/predicate-type` (SLSA provenance v0.2, then SPDX), raw
    /// statements whose subject is the platform manifest
    /// (`pkg:docker/dhi/<name>@<tag>?platform=linux%2Famd64`). Unsigned.
    /// Tampers on the first platform when the target is `ProvenanceV02` or
    /// `Spdx23`: `StatementBytes`, `SubjectOtherPlatform`,
    /// `AttestationSubjectOtherPlatform` (the reference digest names the
    /// other platform), `LayerAnnotationDisagrees`.
    pub fn with_buildkit_attestations(mut self) -> Self {
        self.buildkit_attestations = true;
        self
    }

    /// An image that is one manifest, not an index (real: the v1.4.0
    /// slsa-github-generator image, `kind: dev.cosignproject.cosign/image`
    /// in its `cosign save` layout): keeps only the first platform and tags
    /// its manifest; [`Fixture::index_digest`] is that manifest, and
    /// "index" attestations ([`DhiImage::attest_index`]) are about it. Not
    /// with BuildKit attestations (they live in an index).
    pub fn single_manifest(mut self) -> Self {
        self.platforms.truncate(1);
        self.single_manifest = true;
        self
    }

    /// The Rekor entry kind of logged `.att` layers ([`IndexAttestation::AttTag`]
    /// with [`DhiImage::with_rekor`]), and what to break in the target
    /// attestation's entry or SET.
    pub fn att_entry(mut self, kind: EntryKind, forgery: EntryForgery) -> Self {
        self.att_entry = (kind, forgery);
        self
    }

    pub fn tamper(mut self, t: Tamper) -> Self {
        self.tamper = Some(t);
        self
    }

    pub fn target(mut self, kind: PredicateKind) -> Self {
        self.tamper_target = kind;
        self
    }

    pub fn kinds(mut self, kinds: &[PredicateKind]) -> Self {
        self.kinds = kinds.to_vec();
        self
    }

    /// Attach legacy cosign Rekor bundles from `TestRekor::default()`.
    pub fn with_rekor(mut self) -> Self {
        self.rekor = Some(crate::rekor::TestRekor::default());
        self
    }

    /// Sign every attestation with a Sigstore bundle v0.3 referrer logged in
    /// `TestRekor::default()`, as cosign v3 does.
    pub fn with_bundle_signatures(mut self) -> Self {
        self.bundle_signatures = true;
        self
    }

    /// Sign every attestation keyless with a Sigstore bundle v0.3 referrer.
    pub fn with_keyless_bundles(mut self, signer: KeylessSigner) -> Self {
        self.bundle_signatures = true;
        self.keyless = Some(signer);
        self
    }

    /// Sign every attestation with cosign keyless simple signing: the
    /// certificate and `chain` in annotations, the legacy Rekor bundle beside.
    pub fn with_keyless_cosign(mut self, signer: KeylessSigner, chain: Option<String>) -> Self {
        self.bundle_signatures = false;
        self.keyless = Some(signer);
        self.keyless_chain = chain;
        self
    }

    pub fn without_fallback_tags(mut self) -> Self {
        self.fallback_tags = false;
        self
    }

    fn is(&self, t: Tamper, platform_idx: usize, kind: PredicateKind) -> bool {
        self.tamper == Some(t) && platform_idx == 0 && kind == self.tamper_target
    }

    /// Writes the image and its referrers into one layout at `dir`.
    pub fn write_layout(&self, dir: &Path) -> Fixture {
        self.write(dir, None)
    }

    /// Writes the image at `dir` and its attestations and signatures into a
    /// second layout at `referrers_dir` (external referrers).
    pub fn write_split(&self, dir: &Path, referrers_dir: &Path) -> Fixture {
        self.write(dir, Some(referrers_dir))
    }

    fn write(&self, dir: &Path, referrers_dir: Option<&Path>) -> Fixture {
        let mut image = LayoutWriter::create(dir);
        let mut refs = referrers_dir.map(LayoutWriter::create);
        let untrusted = TestKey::new("someone-else");
        let mut corrupt_later: Vec<String> = Vec::new();
        let mut delete_later: Vec<String> = Vec::new();

        // Platform manifests.
        let mut platform_blobs: Vec<(String, Blob)> = Vec::new();
        for (i, p) in self.platforms.iter().enumerate() {
            let mut parts = p.split('/');
            let (os, arch) = (parts.next().unwrap(), parts.next().unwrap());
            let config = json!({"architecture": arch, "os": os, "config": {"User": self.user, "Env": ["PATH=/opt/python/bin:/usr/bin"], "Entrypoint": ["python3"]},
                                "rootfs": {"type": "layers", "diff_ids": []}, "created": "2026-09-23T08:01:21Z"});
            let config = image.put_json("application/vnd.oci.image.config.v1+json", &config);
            let layer = image.put(
                "application/vnd.oci.image.layer.v1.tar+gzip",
                format!("layer {} {p} {i}", self.name).as_bytes(),
            );
            let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(), "layers": [layer.descriptor()]});
            let blob = image.put_json(OCI_MANIFEST, &manifest);
            platform_blobs.push((p.clone(), blob));
        }

        // Index.
        let manifests: Vec<Value> = platform_blobs
            .iter()
            .map(|(p, b)| {
                let mut parts = p.split('/');
                let (os, arch) = (parts.next().unwrap(), parts.next().unwrap());
                let mut d = b.descriptor();
                d["platform"] = json!({"os": os, "architecture": arch});
                d["annotations"] = json!({"com.docker.dhi.build.id": format!("builder-test/{}/{}", p.replace('/', "-"), self.tag)});
                d
            })
            .collect();
        let mut manifests = manifests;
        let mut buildkit = Vec::new();
        if self.buildkit_attestations {
            for (pi, (platform, pblob)) in platform_blobs.iter().enumerate() {
                let other = &platform_blobs[(pi + 1) % platform_blobs.len()].1;
                let entry = self.buildkit_attestation(
                    &mut image,
                    pi,
                    platform,
                    pblob,
                    other,
                    &mut corrupt_later,
                );
                buildkit.push((
                    platform.clone(),
                    entry["digest"].as_str().unwrap().to_owned(),
                ));
                manifests.push(entry);
            }
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests,
            "annotations": {"com.docker.dhi.name": self.name, "com.docker.dhi.version": self.tag, "com.docker.dhi.variant": self.variant,
                            "com.docker.dhi.shell": "", "com.docker.dhi.package-manager": "", "com.docker.dhi.date.end-of-life": self.end_of_life,
                            "com.docker.dhi.distro": "debian-13", "org.opencontainers.image.title": format!("dhi/{}", self.name)}});
        let mut index = index;
        if !self.dhi_annotations {
            index["annotations"] = json!({"org.opencontainers.image.title": self.name});
        }
        let index_blob = if self.single_manifest {
            assert!(
                platform_blobs.len() == 1 && !self.buildkit_attestations,
                "single_manifest needs one platform and no BuildKit attestations"
            );
            platform_blobs[0].1.clone()
        } else {
            image.put_json(OCI_INDEX, &index)
        };
        image.tag(&index_blob, &self.tag, BTreeMap::new());

        let empty = {
            let w = refs.as_mut().unwrap_or(&mut image);
            w.put(EMPTY, b"{}")
        };
        let mut attestations = Vec::new();
        // What the DHI-shaped referrers attest: each platform manifest, the
        // index alone, or nothing (cosign `.att` on the index instead).
        let targets: Vec<(String, Blob)> = match self.index_attestation {
            None => platform_blobs.clone(),
            Some(IndexAttestation::Referrer) => vec![(INDEX_TARGET.to_owned(), index_blob.clone())],
            Some(IndexAttestation::AttTag) => Vec::new(),
        };
        for (pi, (platform, pblob)) in targets.iter().enumerate() {
            let other_platform = if self.index_attestation.is_some() {
                &platform_blobs[0].1
            } else {
                &platform_blobs[(pi + 1) % platform_blobs.len()].1
            };
            let subject_name = if self.index_attestation.is_some() {
                format!("pkg:docker/dhi/{}@{}", self.name, self.tag)
            } else {
                format!(
                    "pkg:docker/dhi/{}@{}?platform={}",
                    self.name,
                    self.tag,
                    platform.replace('/', "%2F")
                )
            };
            // Build every attestation manifest of this platform first, so a
            // payload can name a sibling.
            let mut built: Vec<(PredicateKind, Blob, Blob)> = Vec::new();
            for &kind in &self.kinds {
                let w = refs.as_mut().unwrap_or(&mut image);
                let pt = kind.predicate_type();
                let subject_hex = if self.is(Tamper::SubjectOtherPlatform, pi, kind) {
                    other_platform.hex()
                } else {
                    pblob.hex()
                };
                let statement_pt = if self.is(Tamper::PredicateTypeConfusion, pi, kind) {
                    if kind == PredicateKind::CycloneDx16 {
                        PredicateKind::ProvenanceV1.predicate_type()
                    } else {
                        PredicateKind::CycloneDx16.predicate_type()
                    }
                } else {
                    pt
                };
                let statement_type = if self.is(Tamper::StatementType, pi, kind) {
                    "https://in-toto.io/Statement/v9"
                } else {
                    STATEMENT_V01
                };
                let mut predicate = kind.predicate(&self.name, platform);
                if kind == PredicateKind::Vulns {
                    predicate["scanner"]["result"] = json!(self
                        .vulnerabilities
                        .iter()
                        .map(|(id, severity, purl)| json!({"id": id, "severity": [{"method": "nvd", "score": severity}],
                                                           "annotations": [{"purl": purl}]}))
                        .collect::<Vec<_>>());
                }
                if self.sbom_padding > 0
                    && matches!(kind, PredicateKind::CycloneDx16 | PredicateKind::Spdx23)
                {
                    predicate["padding"] = json!("x".repeat(self.sbom_padding));
                }
                let statement = json!({"_type": statement_type, "predicateType": statement_pt,
                    "subject": [{"name": subject_name, "digest": {"sha256": subject_hex}}],
                    "predicate": predicate});
                let statement = w.put_json(IN_TOTO, &statement);
                let layer_pt = if self.is(Tamper::LayerAnnotationDisagrees, pi, kind) {
                    "https://spdx.dev/Document"
                } else {
                    pt
                };
                let mut layer = statement.descriptor();
                layer["annotations"] = json!({"in-toto.io/predicate-type": layer_pt});
                let mut layers = vec![layer];
                if self.is(Tamper::ExtraLayer, pi, kind) {
                    layers.push(statement.descriptor());
                }
                let subject = if self.is(Tamper::AttestationSubjectOtherPlatform, pi, kind) {
                    other_platform
                } else {
                    pblob
                };
                let mut subject = subject.descriptor();
                if self.is(Tamper::AttestationSubjectSize, pi, kind) {
                    subject["size"] = json!(pblob.size + 1);
                }
                let mut config = empty.descriptor();
                config["data"] = json!("e30=");
                let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": IN_TOTO, "config": config,
                    "layers": layers, "subject": subject, "annotations": {"in-toto.io/predicate-type": pt}});
                let manifest_blob = w.put_json(OCI_MANIFEST, &manifest);
                if self.is(Tamper::StatementBytes, pi, kind) {
                    corrupt_later.push(statement.digest.clone());
                }
                if self.is(Tamper::StatementMissing, pi, kind) {
                    delete_later.push(statement.digest.clone());
                }
                if self.is(Tamper::AttestationManifestBytes, pi, kind) {
                    corrupt_later.push(manifest_blob.digest.clone());
                }
                built.push((kind, manifest_blob, statement));
            }
            let mut att_descriptors = Vec::new();
            for (ki, (kind, manifest_blob, statement)) in built.iter().enumerate() {
                let kind = *kind;
                let w = refs.as_mut().unwrap_or(&mut image);
                let mut d = manifest_blob.descriptor();
                d["artifactType"] = json!(IN_TOTO);
                d["annotations"] = json!({"in-toto.io/predicate-type": kind.predicate_type()});
                att_descriptors.push(d);
                let mut info = AttestationInfo {
                    platform: platform.clone(),
                    kind,
                    manifest_digest: manifest_blob.digest.clone(),
                    statement_digest: statement.digest.clone(),
                    signature_digest: None,
                    payload_digest: None,
                };
                if !self.is(Tamper::Unsigned, pi, kind) {
                    let signed = if self.is(Tamper::PayloadNamesOtherManifest, pi, kind) {
                        &built[(ki + 1) % built.len()].1.digest
                    } else {
                        &manifest_blob.digest
                    };
                    let critical_type = if self.is(Tamper::WrongCriticalType, pi, kind) {
                        "cosign container image sig"
                    } else {
                        "cosign container image signature"
                    };
                    let payload_pt = if self.is(Tamper::PayloadPredicateType, pi, kind) {
                        "https://spdx.dev/Document"
                    } else {
                        kind.predicate_type()
                    };
                    let payload = json!({"critical": {"identity": {"docker-reference": format!("registry.scout.docker.com/dhi/{}", self.name)},
                                                      "image": {"docker-manifest-digest": signed}, "type": critical_type},
                                         "optional": {"type": STATEMENT_V01, "predicateType": payload_pt,
                                                      "subject": format!("dhi/{}@{}", self.name, pblob.digest)}});
                    let payload = w.put_json(SIMPLE_SIGNING, &payload);
                    let payload_bytes = std::fs::read(w.blob_path(&payload.digest)).unwrap();
                    let key = if self.is(Tamper::WrongKey, pi, kind) {
                        &untrusted
                    } else {
                        &self.key
                    };
                    // Keyless cosign: the certificate's key signs.
                    let keyless_cosign = self.keyless.as_ref().filter(|_| !self.bundle_signatures);
                    let key = keyless_cosign.map_or(key, |k| &k.key);
                    let signature = if self.is(Tamper::SignatureNotBase64, pi, kind) {
                        "not base64 at all!".to_owned()
                    } else if self.is(Tamper::SignatureNotDer, pi, kind) {
                        "AAECAwQFBgcICQ==".to_owned()
                    } else {
                        key.sign_b64(&payload_bytes)
                    };
                    let mut layer = payload.descriptor();
                    layer["annotations"] = json!({"dev.cosignproject.cosign/signature": signature});
                    if let Some(rekor) = &self.rekor {
                        if !self.is(Tamper::TlogMissing, pi, kind) {
                            use base64::Engine as _;
                            let der = base64::engine::general_purpose::STANDARD
                                .decode(&signature)
                                .unwrap_or_default();
                            let logged_payload: &[u8] =
                                if self.is(Tamper::TlogOtherPayload, pi, kind) {
                                    b"another payload"
                                } else {
                                    &payload_bytes
                                };
                            let body = rekor.body(logged_payload, &der, key);
                            let t = crate::rekor::INTEGRATED_TIME;
                            let written = if self.is(Tamper::TlogForgedTime, pi, kind) {
                                t + 1
                            } else {
                                t
                            };
                            layer["annotations"]["dev.sigstore.cosign/bundle"] =
                                json!(rekor.legacy_bundle(&body, t, written));
                        }
                    }
                    if let Some(k) = keyless_cosign {
                        use base64::Engine as _;
                        let der = base64::engine::general_purpose::STANDARD
                            .decode(&signature)
                            .unwrap_or_default();
                        let body = k.rekor.body_with(&payload_bytes, &der, &k.cert_pem);
                        let written = if self.is(Tamper::TlogForgedTime, pi, kind) {
                            k.time + 1
                        } else {
                            k.time
                        };
                        layer["annotations"]["dev.sigstore.cosign/certificate"] = json!(k.cert_pem);
                        if let Some(chain) = &self.keyless_chain {
                            layer["annotations"]["dev.sigstore.cosign/chain"] = json!(chain);
                        }
                        if !self.is(Tamper::TlogMissing, pi, kind) {
                            layer["annotations"]["dev.sigstore.cosign/bundle"] =
                                json!(k.rekor.legacy_bundle(&body, k.time, written));
                        }
                    }
                    let mut sig_subject = if self.is(Tamper::SignatureSubjectOther, pi, kind) {
                        built[(ki + 1) % built.len()].1.descriptor()
                    } else {
                        manifest_blob.descriptor()
                    };
                    if self.is(Tamper::SignatureSubjectMediaType, pi, kind) {
                        sig_subject["mediaType"] = json!("application/octet-stream");
                    }
                    // cosign v3 attaches a Sigstore bundle over the manifest digest instead.
                    let (artifact_type, layer) = if self.bundle_signatures {
                        let rekor = self.rekor.clone().unwrap_or_default();
                        let manifest_bytes =
                            std::fs::read(w.blob_path(&manifest_blob.digest)).unwrap();
                        let forge = if self.is(Tamper::BundleSet, pi, kind) {
                            BundleForgery::Set
                        } else if self.is(Tamper::BundleSignatureOverOtherBytes, pi, kind) {
                            BundleForgery::SignatureOverOtherBytes
                        } else {
                            BundleForgery::None
                        };
                        let bundle = match &self.keyless {
                            Some(k) => k.rekor.sigstore_bundle(
                                &manifest_bytes,
                                crate::rekor::BundleSigner::Certificate {
                                    key: &k.key,
                                    cert_pem: &k.cert_pem,
                                },
                                k.time,
                                forge,
                            ),
                            None => rekor.keyed_bundle(&manifest_bytes, key, forge),
                        };
                        (
                            SIGSTORE_BUNDLE,
                            w.put(SIGSTORE_BUNDLE, bundle.as_bytes()).descriptor(),
                        )
                    } else {
                        (COSIGN_SIG, layer)
                    };
                    let mut config = empty.descriptor();
                    config["data"] = json!("e30=");
                    let sig_manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type, "config": config,
                                              "layers": [layer], "subject": sig_subject});
                    let sig_blob = w.put_json(OCI_MANIFEST, &sig_manifest);
                    if self.is(Tamper::PayloadBytes, pi, kind) {
                        corrupt_later.push(payload.digest.clone());
                    }
                    if self.fallback_tags {
                        let mut sd = sig_blob.descriptor();
                        sd["artifactType"] = json!(artifact_type);
                        let sig_index =
                            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [sd]});
                        let sig_index = w.put_json(OCI_INDEX, &sig_index);
                        w.tag(
                            &sig_index,
                            &format!("sha256-{}", manifest_blob.hex()),
                            BTreeMap::new(),
                        );
                    }
                    info.signature_digest = Some(sig_blob.digest.clone());
                    info.payload_digest = Some(payload.digest.clone());
                }
                attestations.push(info);
            }
            if self.fallback_tags {
                let w = refs.as_mut().unwrap_or(&mut image);
                let att_index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": att_descriptors});
                let att_index = w.put_json(OCI_INDEX, &att_index);
                w.tag(
                    &att_index,
                    &format!("sha256-{}", pblob.hex()),
                    BTreeMap::new(),
                );
            }
        }
        if self.index_attestation == Some(IndexAttestation::AttTag) {
            let w = refs.as_mut().unwrap_or(&mut image);
            attestations.extend(self.index_att_tag(
                w,
                &index_blob,
                &platform_blobs[0].1,
                &untrusted,
                &mut corrupt_later,
            ));
        }
        if self.tamper == Some(Tamper::IndexBytes) {
            corrupt_later.push(index_blob.digest.clone());
        }
        if self.tamper == Some(Tamper::PlatformManifestBytes) {
            corrupt_later.push(platform_blobs[0].1.digest.clone());
        }

        let referrers_root = refs
            .as_ref()
            .map(|r| r.root().to_owned())
            .unwrap_or_else(|| dir.to_owned());
        for digest in corrupt_later {
            let path = [dir, referrers_root.as_path()]
                .iter()
                .map(|r| r.join("blobs/sha256").join(&digest[7..]))
                .find(|p| p.exists())
                .unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            // Flip one byte inside a JSON string so the document still parses.
            let at = bytes
                .iter()
                .rposition(|b| b.is_ascii_alphanumeric())
                .unwrap();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            std::fs::write(&path, bytes).unwrap();
        }
        for digest in delete_later {
            let path = referrers_root.join("blobs/sha256").join(&digest[7..]);
            std::fs::remove_file(path).unwrap();
        }
        image.finish();
        if let Some(r) = refs {
            r.finish();
        }
        Fixture {
            dir: dir.to_owned(),
            referrers_dir: referrers_root,
            index_digest: index_blob.digest,
            platforms: platform_blobs
                .iter()
                .map(|(p, b)| (p.clone(), b.digest.clone()))
                .collect(),
            attestations,
            buildkit_attestations: buildkit,
            public_pem: self.key.public_pem(),
        }
    }
}

impl DhiImage {
    /// One BuildKit attestation manifest about `pblob`; returns its index entry.
    fn buildkit_attestation(
        &self,
        w: &mut LayoutWriter,
        pi: usize,
        platform: &str,
        pblob: &Blob,
        other: &Blob,
        corrupt_later: &mut Vec<String>,
    ) -> Value {
        let mut layers = Vec::new();
        for kind in [PredicateKind::ProvenanceV02, PredicateKind::Spdx23] {
            let pt = kind.predicate_type();
            let subject = if self.is(Tamper::SubjectOtherPlatform, pi, kind) {
                other
            } else {
                pblob
            };
            // BuildKit's field order: _type, predicateType, subject, predicate.
            let statement = format!(
                "{{\"_type\":\"{STATEMENT_V01}\",\"predicateType\":\"{pt}\",\"subject\":[{{\"name\":\"pkg:docker/dhi/{}@{}?platform={}\",\"digest\":{{\"sha256\":\"{}\"}}}}],\"predicate\":{}}}",
                self.name,
                self.tag,
                platform.replace('/', "%2F"),
                subject.hex(),
                kind.predicate(&self.name, platform)
            );
            let blob = w.put(IN_TOTO, statement.as_bytes());
            if self.is(Tamper::StatementBytes, pi, kind) {
                corrupt_later.push(blob.digest.clone());
            }
            let layer_pt = if self.is(Tamper::LayerAnnotationDisagrees, pi, kind) {
                PredicateKind::CycloneDx16.predicate_type()
            } else {
                pt
            };
            let mut d = blob.descriptor();
            d["annotations"] = json!({"in-toto.io/predicate-type": layer_pt});
            layers.push(d);
        }
        let diff_ids: Vec<&str> = layers
            .iter()
            .map(|l| l["digest"].as_str().unwrap())
            .collect();
        let config = format!(
            "{{\"architecture\":\"unknown\",\"os\":\"unknown\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":{}}}}}",
            serde_json::to_string(&diff_ids).unwrap()
        );
        let config = w.put(
            "application/vnd.oci.image.config.v1+json",
            config.as_bytes(),
        );
        let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": config.descriptor(), "layers": layers});
        let manifest = w.put_json(OCI_MANIFEST, &manifest);
        let named = if self.is(
            Tamper::AttestationSubjectOtherPlatform,
            pi,
            self.tamper_target,
        ) && matches!(
            self.tamper_target,
            PredicateKind::ProvenanceV02 | PredicateKind::Spdx23
        ) {
            other
        } else {
            pblob
        };
        let mut d = manifest.descriptor();
        d["platform"] = json!({"architecture": "unknown", "os": "unknown"});
        d["annotations"] = json!({"vnd.docker.reference.digest": named.digest,
                                  "vnd.docker.reference.type": "attestation-manifest"});
        d
    }

    /// cosign `attest --key` on the index: the `sha256-<index hex>.att` tag.
    fn index_att_tag(
        &self,
        w: &mut LayoutWriter,
        index_blob: &Blob,
        first_platform: &Blob,
        untrusted: &TestKey,
        corrupt_later: &mut Vec<String>,
    ) -> Vec<AttestationInfo> {
        let rekor = self.rekor.clone();
        let mut layers = Vec::new();
        let mut infos = Vec::new();
        for &kind in &self.kinds {
            let pt = kind.predicate_type();
            let subject = if self.is(Tamper::SubjectOtherPlatform, 0, kind) {
                first_platform
            } else {
                index_blob
            };
            let statement_pt = if self.is(Tamper::PredicateTypeConfusion, 0, kind) {
                if kind == PredicateKind::CycloneDx16 {
                    PredicateKind::ProvenanceV1.predicate_type()
                } else {
                    PredicateKind::CycloneDx16.predicate_type()
                }
            } else {
                pt
            };
            let statement = json!({"_type": STATEMENT_V01, "predicateType": statement_pt,
                "subject": [{"name": format!("registry.scout.docker.com/dhi/{}", self.name), "digest": {"sha256": subject.hex()}}],
                "predicate": kind.predicate(&self.name, INDEX_TARGET)});
            let statement = serde_json::to_vec(&statement).unwrap();
            let key = if self.is(Tamper::WrongKey, 0, kind) {
                untrusted
            } else {
                &self.key
            };
            let envelope = crate::cosign::cosign_dsse_envelope(&statement, key);
            let forgery = if kind == self.tamper_target {
                self.att_entry.1
            } else {
                EntryForgery::None
            };
            let log = rekor.as_ref().map(|r| crate::cosign::LogEntry {
                rekor: r,
                kind: self.att_entry.0,
                forgery,
            });
            let layer = crate::cosign::keyed_att_layer(w, &envelope, pt, key, log);
            let layer_digest = layer["digest"].as_str().unwrap().to_owned();
            if self.is(Tamper::StatementBytes, 0, kind) {
                corrupt_later.push(layer_digest.clone());
            }
            layers.push(layer);
            infos.push(AttestationInfo {
                platform: INDEX_TARGET.to_owned(),
                kind,
                manifest_digest: String::new(),
                statement_digest: layer_digest,
                signature_digest: None,
                payload_digest: None,
            });
        }
        let manifest = crate::cosign::cosign_manifest(w, layers);
        w.tag(
            &manifest,
            &format!("{}.att", crate::cosign::tag_for(&index_blob.digest)),
            BTreeMap::new(),
        );
        for i in &mut infos {
            i.manifest_digest = manifest.digest.clone();
        }
        infos
    }
}

/// A `cosign save` layout ([`DhiImage::write_cosign_save`]).
#[derive(Clone, Debug)]
pub struct CosignSave {
    pub fixture: Fixture,
    /// The `.sig` manifest (`kind: dev.cosignproject.cosign/sigs`); `None`
    /// with [`Tamper::Unsigned`].
    pub sig_manifest: Option<String>,
    /// The `.att` manifest (`kind: dev.cosignproject.cosign/atts`).
    pub att_manifest: String,
}

/// `index.json`'s `kind` annotation values `cosign save` writes.
pub const COSIGN_KIND_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
pub const COSIGN_KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
pub const COSIGN_KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
pub const COSIGN_KIND_ATTS: &str = "dev.cosignproject.cosign/atts";

impl DhiImage {
    /// Writes the image as `cosign save` does after `cosign sign --key` and
    /// `cosign attest --key` on the index (real:
    /// `testdata/real/slsa-github-generator/*/container_workflow_dispatch`,
    /// which has `atts` only): every blob, and an `index.json` with NO
    /// `org.opencontainers.image.ref.name` tags, whose entries are annotated
    /// `kind`: the index (`dev.cosignproject.cosign/imageIndex`, or `/image`
    /// when the top manifest is not an index), the `.sig` manifest (`/sigs`:
    /// one simple-signing layer by [`DhiImage::key`] over the index digest)
    /// and the `.att` manifest (`/atts`: [`IndexAttestation::AttTag`]).
    /// Both are logged in [`DhiImage::rekor`] when set (hashedrekord for the
    /// signature, [`DhiImage::att_entry`] for the attestations). Forces
    /// `attest_index(AttTag)` and no fallback tags; BuildKit attestations
    /// are kept when asked for. Push it with cosign's tag schema with
    /// [`crate::registry::Content::from_cosign_save`].
    ///
    /// Tampers of the `.sig` (they touch nothing else here):
    /// `PayloadNamesOtherManifest` (the payload signs the first platform
    /// manifest, or another digest for a single manifest), `Unsigned` (no
    /// `.sig`), with a log `TlogOtherPayload` (the hashedrekord body logs
    /// other bytes), `TlogForgedTime` (the SET covers another time),
    /// `TlogMissing` (no bundle). The `.att` tampers are those of
    /// [`DhiImage::attest_index`] and [`DhiImage::att_entry`].
    pub fn write_cosign_save(&self, dir: &Path) -> CosignSave {
        let mut img = self.clone();
        img.index_attestation = Some(IndexAttestation::AttTag);
        img.fallback_tags = false;
        let fixture = img.write(dir, None);
        let mut ed = crate::cosign::LayoutEditor::open(dir);
        let first_platform = &fixture.platforms[0].1;
        let signed = if self.tamper != Some(Tamper::PayloadNamesOtherManifest) {
            fixture.index_digest.clone()
        } else if *first_platform != fixture.index_digest {
            first_platform.clone()
        } else {
            crate::layout::sha256_str(b"another manifest")
        };
        let payload = json!({"critical": {"identity": {"docker-reference": format!("registry.scout.docker.com/dhi/{}", self.name)},
                                          "image": {"docker-manifest-digest": signed},
                                          "type": "cosign container image signature"},
                             "optional": null});
        let payload = serde_json::to_vec(&payload).unwrap();
        let forgery = match self.tamper {
            Some(Tamper::TlogOtherPayload) => EntryForgery::OtherPayloadHash,
            Some(Tamper::TlogForgedTime) => EntryForgery::SetTime,
            _ => EntryForgery::None,
        };
        let log = self
            .rekor
            .as_ref()
            .filter(|_| self.tamper != Some(Tamper::TlogMissing))
            .map(|r| crate::cosign::LogEntry {
                rekor: r,
                kind: EntryKind::IntotoV001,
                forgery,
            });
        let sig = (self.tamper != Some(Tamper::Unsigned)).then(|| {
            let layer = crate::cosign::keyed_sig_layer(&mut ed, &payload, &self.key, log);
            crate::cosign::cosign_manifest(&mut ed, vec![layer])
        });
        ed.finish();

        let index: Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
        let att_tag = format!("{}.att", crate::cosign::tag_for(&fixture.index_digest));
        let mut image = None;
        let mut att = None;
        for d in index["manifests"].as_array().unwrap() {
            let name = d["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap_or_default();
            let mut e =
                json!({"mediaType": d["mediaType"], "size": d["size"], "digest": d["digest"]});
            if name == self.tag {
                let kind = if d["mediaType"] == OCI_INDEX {
                    COSIGN_KIND_INDEX
                } else {
                    COSIGN_KIND_IMAGE
                };
                e["annotations"] = json!({"kind": kind});
                image = Some(e);
            } else if name == att_tag {
                e["annotations"] = json!({"kind": COSIGN_KIND_ATTS});
                att = Some(e);
            }
        }
        let mut entries = vec![image.unwrap()];
        if let Some(sig) = &sig {
            let mut sig_entry = sig.descriptor();
            sig_entry["annotations"] = json!({"kind": COSIGN_KIND_SIGS});
            entries.push(sig_entry);
        }
        let att = att.unwrap();
        let att_manifest = att["digest"].as_str().unwrap().to_owned();
        entries.push(att);
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        std::fs::write(
            dir.join("index.json"),
            serde_json::to_vec_pretty(&index).unwrap(),
        )
        .unwrap();
        CosignSave {
            fixture,
            sig_manifest: sig.map(|s| s.digest),
            att_manifest,
        }
    }
}
