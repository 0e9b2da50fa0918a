//! cosign's other ways of signing an image, added to a layout already
//! written: `sha256-<hex>.sig` / `.att` tags, signature referrers (cosign's
//! OCI 1.1 mode) and Sigstore bundle referrers (cosign v3, GitHub artifact
//! attestations).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::layout::{sha256_str, Blob, BlobSink};
use crate::rekor::{EntryForgery, EntryKind, TestRekor, INTEGRATED_TIME};
use crate::TestKey;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
pub const COSIGN_SIGNATURE_ARTIFACT: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";
pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Adds blobs and tags to an existing OCI layout.
pub struct LayoutEditor {
    root: PathBuf,
    index: Value,
}

impl BlobSink for LayoutEditor {
    fn put_blob(&mut self, media_type: &str, bytes: &[u8]) -> Blob {
        self.put(media_type, bytes)
    }
}

impl LayoutEditor {
    pub fn open(root: &Path) -> Self {
        let index =
            serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
        LayoutEditor {
            root: root.to_owned(),
            index,
        }
    }

    pub fn put(&mut self, media_type: &str, bytes: &[u8]) -> Blob {
        let digest = sha256_str(bytes);
        std::fs::write(self.path(&digest), bytes).unwrap();
        Blob {
            media_type: media_type.to_owned(),
            digest,
            size: bytes.len(),
        }
    }

    pub fn read(&self, digest: &str) -> Vec<u8> {
        std::fs::read(self.path(digest)).unwrap()
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(&digest["sha256:".len()..])
    }

    /// The descriptor of manifest `digest` as a referrer's `subject`.
    pub fn subject(&self, digest: &str) -> Value {
        let bytes = self.read(digest);
        let media_type = serde_json::from_slice::<Value>(&bytes).unwrap()["mediaType"]
            .as_str()
            .unwrap_or(OCI_MANIFEST)
            .to_owned();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// Tags `blob` in `index.json`.
    pub fn tag(&mut self, blob: &Blob, tag: &str) {
        let mut d = blob.descriptor();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.index["manifests"].as_array_mut().unwrap().push(d);
    }

    /// A manifest of `layers` (an empty config), optionally a referrer of `subject`.
    pub fn put_manifest(
        &mut self,
        artifact_type: Option<&str>,
        config_media_type: &str,
        layers: Vec<Value>,
        subject: Option<Value>,
        annotations: Option<Value>,
    ) -> Blob {
        let config = self.put(config_media_type, b"{}");
        let mut m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": config.descriptor(), "layers": layers});
        if let Some(t) = artifact_type {
            m["artifactType"] = json!(t);
        }
        if let Some(s) = subject {
            m["subject"] = s;
        }
        if let Some(a) = annotations {
            m["annotations"] = a;
        }
        self.put(OCI_MANIFEST, &serde_json::to_vec(&m).unwrap())
    }

    pub fn finish(self) {
        std::fs::write(
            self.root.join("index.json"),
            serde_json::to_vec_pretty(&self.index).unwrap(),
        )
        .unwrap();
    }
}

/// `sha256-<hex>` for `digest`.
pub fn tag_for(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// A cosign simple-signing payload signing manifest `signed`.
pub fn simple_signing_payload(signed: &str, critical_type: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"critical": {"identity": {"docker-reference": "registry.test/app"},
        "image": {"docker-manifest-digest": signed}, "type": critical_type}, "optional": null}),
    )
    .unwrap()
}

/// A simple-signing layer descriptor carrying `signature_b64`.
pub fn simple_signing_layer(ed: &mut LayoutEditor, payload: &[u8], signature_b64: &str) -> Value {
    let blob = ed.put(SIMPLE_SIGNING, payload);
    let mut d = blob.descriptor();
    d["annotations"] = json!({"dev.cosignproject.cosign/signature": signature_b64});
    d
}

/// cosign `sign` (legacy): tag `sha256-<hex>.sig` of `signed`, one layer per payload.
pub fn sig_tag(ed: &mut LayoutEditor, signed: &str, layers: Vec<Value>) -> Blob {
    let m = ed.put_manifest(
        None,
        "application/vnd.oci.image.config.v1+json",
        layers,
        None,
        None,
    );
    ed.tag(&m, &format!("{}.sig", tag_for(signed)));
    m
}

/// An in-toto v1 statement about `subject`.
pub fn statement(subject: &str, predicate_type: &str, predicate: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.test/app", "digest": {"sha256": &subject["sha256:".len()..]}}],
        "predicateType": predicate_type, "predicate": predicate}))
    .unwrap()
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope of `statement` signed by `signer` (over `signed_bytes`
/// when given, to forge a signature over something else).
pub fn dsse_envelope(
    payload_type: &str,
    statement: &[u8],
    signer: &TestKey,
    signed_bytes: Option<&[u8]>,
) -> Vec<u8> {
    let pae = pae(payload_type, statement);
    let sig = signer.sign_b64(signed_bytes.unwrap_or(&pae));
    serde_json::to_vec(
        &json!({"payloadType": payload_type, "payload": B64.encode(statement),
        "signatures": [{"keyid": "", "sig": sig}]}),
    )
    .unwrap()
}

/// cosign `attest` (legacy): tag `sha256-<hex>.att` of `subject`, one DSSE layer per envelope.
pub fn att_tag(ed: &mut LayoutEditor, subject: &str, envelopes: &[(Vec<u8>, &str)]) -> Blob {
    let layers = envelopes
        .iter()
        .map(|(bytes, predicate_type)| {
            let mut d = ed.put(DSSE_ENVELOPE, bytes).descriptor();
            d["annotations"] = json!({"predicateType": predicate_type});
            d
        })
        .collect();
    let m = ed.put_manifest(
        None,
        "application/vnd.oci.image.config.v1+json",
        layers,
        None,
        None,
    );
    ed.tag(&m, &format!("{}.att", tag_for(subject)));
    m
}

/// cosign's OCI 1.1 signature artifact: a referrer of `subject` with one simple-signing layer.
pub fn signature_referrer(ed: &mut LayoutEditor, subject: &str, layer: Value) -> Blob {
    let s = ed.subject(subject);
    ed.put_manifest(
        Some(COSIGN_SIGNATURE_ARTIFACT),
        OCI_EMPTY,
        vec![layer],
        Some(s),
        None,
    )
}

/// A Sigstore bundle referrer of `subject` (cosign v3's layout).
pub fn bundle_referrer(
    ed: &mut LayoutEditor,
    subject: &str,
    bundle: &[u8],
    predicate_type: Option<&str>,
) -> Blob {
    let s = ed.subject(subject);
    let layer = ed.put(SIGSTORE_BUNDLE, bundle).descriptor();
    let annotations = predicate_type.map(|pt| {
        json!({"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": pt})
    });
    ed.put_manifest(
        Some(SIGSTORE_BUNDLE),
        OCI_EMPTY,
        vec![layer],
        Some(s),
        annotations,
    )
}

/// A v0.3 bundle of a DSSE envelope signed by `signer`, with no log entry
/// (verifiable only under tlog `never`).
pub fn unlogged_dsse_bundle(statement: &[u8], signer: &TestKey) -> Vec<u8> {
    let envelope: Value =
        serde_json::from_slice(&dsse_envelope(IN_TOTO, statement, signer, None)).unwrap();
    serde_json::to_vec(&json!({"mediaType": SIGSTORE_BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": B64.encode(Sha256::digest(signer.public_der()))},
                                 "tlogEntries": []},
        "dsseEnvelope": envelope}))
    .unwrap()
}

// ---------------------------------------------------------------------------
// cosign v2's own shapes, mirrored from the real artifacts in `testdata/real/`.

/// The log index the keyed cosign fixtures record.
pub const LOG_INDEX: u64 = 7;

/// The config blob cosign v2 writes for its `.sig` / `.att` manifests: an
/// empty image config whose `rootfs.diff_ids` are the layer digests, byte for
/// byte in cosign's field order (real: the `.att` config of
/// `testdata/real/slsa-github-generator/v2.0.0`).
pub fn cosign_config(layer_digests: &[&str]) -> Vec<u8> {
    format!(
        "{{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{{\"created\":\"0001-01-01T00:00:00Z\"}}],\"os\":\"\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":{}}},\"config\":{{}}}}",
        serde_json::to_string(layer_digests).unwrap()
    )
    .into_bytes()
}

/// A `.sig` / `.att` manifest as cosign v2 pushes it: an OCI image manifest
/// (no `artifactType`, no `subject`) whose config is [`cosign_config`] and
/// whose layers are `layers` (descriptors with their annotations).
pub fn cosign_manifest(sink: &mut dyn BlobSink, layers: Vec<Value>) -> Blob {
    let digests: Vec<&str> = layers
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    let config = sink.put_blob(OCI_CONFIG, &cosign_config(&digests));
    let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.descriptor(), "layers": layers});
    sink.put_blob(OCI_MANIFEST, &serde_json::to_vec(&m).unwrap())
}

/// A DSSE envelope as cosign v2 writes it (`{"payloadType","payload","signatures":[{"keyid":"","sig"}]}`,
/// in that order): `statement` signed by `signer` over DSSE's PAE.
pub fn cosign_dsse_envelope(statement: &[u8], signer: &TestKey) -> Vec<u8> {
    let sig = signer.sign_b64(&pae(IN_TOTO, statement));
    format!(
        "{{\"payloadType\":\"{IN_TOTO}\",\"payload\":\"{}\",\"signatures\":[{{\"keyid\":\"\",\"sig\":\"{sig}\"}}]}}",
        B64.encode(statement)
    )
    .into_bytes()
}

/// How a keyed attestation or signature is logged: the fake log, the entry
/// kind (for attestations) and what to break.
#[derive(Clone, Copy)]
pub struct LogEntry<'a> {
    pub rekor: &'a TestRekor,
    pub kind: EntryKind,
    pub forgery: EntryForgery,
}

/// A keyed cosign v2 attestation layer (`cosign attest --key`): the DSSE
/// `envelope` as an `application/vnd.dsse.envelope.v1+json` layer with
/// cosign's annotations `dev.cosignproject.cosign/signature` (empty: the
/// signature is inside the envelope), `predicateType`, and, when logged,
/// `dev.sigstore.cosign/bundle` (a Rekor SET over an entry of `log.kind`
/// recording `signer`'s public key). Mirrors the `.att` layers of
/// `testdata/real/slsa-github-generator/*` minus the keyless
/// `dev.sigstore.cosign/{certificate,chain}`.
pub fn keyed_att_layer(
    sink: &mut dyn BlobSink,
    envelope: &[u8],
    predicate_type: &str,
    signer: &TestKey,
    log: Option<LogEntry<'_>>,
) -> Value {
    let mut d = sink.put_blob(DSSE_ENVELOPE, envelope).descriptor();
    d["annotations"] =
        json!({"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type});
    if let Some(log) = log {
        let body = log
            .rekor
            .dsse_entry_body(log.kind, envelope, &signer.public_pem(), log.forgery);
        d["annotations"]["dev.sigstore.cosign/bundle"] =
            json!(log
                .rekor
                .cosign_bundle(&body, INTEGRATED_TIME, LOG_INDEX, log.forgery));
    }
    d
}

/// A keyed cosign v2 simple-signing layer (`cosign sign --key`): `payload`
/// as an `application/vnd.dev.cosign.simplesigning.v1+json` layer with
/// `dev.cosignproject.cosign/signature` and, when logged, a
/// `dev.sigstore.cosign/bundle` over a `hashedrekord` 0.0.1 entry (the
/// `kind` of `log` is ignored). Forgeries: `OtherPayloadHash` and
/// `OtherEnvelope` log the hash of other bytes, `OtherKey` logs another
/// key, `SetEdited` / `SetTime` break the SET. Mirrors one entry of
/// `testdata/real/cosign-keyed`.
pub fn keyed_sig_layer(
    sink: &mut dyn BlobSink,
    payload: &[u8],
    signer: &TestKey,
    log: Option<LogEntry<'_>>,
) -> Value {
    let signature = signer.sign_b64(payload);
    let mut d = sink.put_blob(SIMPLE_SIGNING, payload).descriptor();
    d["annotations"] = json!({"dev.cosignproject.cosign/signature": signature});
    if let Some(log) = log {
        let der = B64.decode(&signature).unwrap();
        let logged: &[u8] = match log.forgery {
            EntryForgery::OtherPayloadHash | EntryForgery::OtherEnvelope => b"another payload",
            _ => payload,
        };
        let body = if log.forgery == EntryForgery::OtherKey {
            let other = TestKey::new("someone-else").public_pem();
            log.rekor.body_with(logged, &der, &other)
        } else {
            log.rekor.body(logged, &der, signer)
        };
        d["annotations"]["dev.sigstore.cosign/bundle"] =
            json!(log
                .rekor
                .cosign_bundle(&body, INTEGRATED_TIME, LOG_INDEX, log.forgery));
    }
    d
}

/// One signature of `cosign download signature` output (the format of
/// `testdata/real/cosign-keyed/**/<digest>.json`).
#[derive(Clone, Debug)]
pub struct DownloadedSignature {
    /// `Base64Signature`: the `dev.cosignproject.cosign/signature` annotation.
    pub base64_signature: String,
    /// `Payload`, base64-decoded: the simple-signing layer blob.
    pub payload: Vec<u8>,
    /// `Bundle` as cosign's compact `dev.sigstore.cosign/bundle` annotation, if any.
    pub bundle: Option<String>,
}

/// Parses `cosign download signature` output (a JSON array).
pub fn parse_cosign_download(json: &[u8]) -> Vec<DownloadedSignature> {
    let v: Vec<Value> = serde_json::from_slice(json).unwrap();
    v.iter()
        .map(|s| DownloadedSignature {
            base64_signature: s["Base64Signature"].as_str().unwrap().to_owned(),
            payload: B64.decode(s["Payload"].as_str().unwrap()).unwrap(),
            bundle: s
                .get("Bundle")
                .filter(|b| !b.is_null())
                .map(|b| {
                    let p = &b["Payload"];
                    format!(
                        "{{\"SignedEntryTimestamp\":{},\"Payload\":{{\"body\":{},\"integratedTime\":{},\"logIndex\":{},\"logID\":{}}}}}",
                        b["SignedEntryTimestamp"], p["body"], p["integratedTime"], p["logIndex"], p["logID"]
                    )
                }),
        })
        .collect()
}

/// The `docker-manifest-digest` a simple-signing payload signs.
pub fn signed_digest(payload: &[u8]) -> String {
    let v: Value = serde_json::from_slice(payload).unwrap();
    v["critical"]["image"]["docker-manifest-digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The REAL keyed signatures of a `cosign download signature` file as the
/// `.sig` manifest cosign pushed for them, rebuilt: one
/// `application/vnd.dev.cosign.simplesigning.v1+json` layer per signature
/// whose blob is the real payload, with the real `Base64Signature` as
/// `dev.cosignproject.cosign/signature` and the real `Bundle` (compact, in
/// cosign's field order) as `dev.sigstore.cosign/bundle`, in a manifest of
/// [`cosign_manifest`]'s shape, tagged `sha256-<subject hex>.sig` in the
/// layout at `dir` (created if missing).
///
/// The testkit rebuilds the `.sig` MANIFEST around the real layers (only the
/// layers are real: the manifest and config bytes are cosign's shape, not
/// the originals, which are not published). The signed image manifests are
/// not published either, so the layout holds only the signature for
/// `subject`, not an image with that digest: it cannot verify as an image
/// (no manifest hashes to `subject`); use it to test reading a `.sig` tag
/// and verifying its layers (signature, payload digest, Rekor SET against
/// the public-good log) for a given digest. Returns the `.sig` manifest.
pub fn write_real_sig_layout(dir: &Path, subject: &str, download_json: &[u8]) -> Blob {
    if !dir.join("index.json").exists() {
        crate::layout::LayoutWriter::create(dir).finish();
    }
    let mut ed = LayoutEditor::open(dir);
    let layers = parse_cosign_download(download_json)
        .into_iter()
        .map(|s| {
            let mut d = ed.put(SIMPLE_SIGNING, &s.payload).descriptor();
            d["annotations"] = json!({"dev.cosignproject.cosign/signature": s.base64_signature});
            if let Some(b) = s.bundle {
                d["annotations"]["dev.sigstore.cosign/bundle"] = json!(b);
            }
            d
        })
        .collect();
    let m = cosign_manifest(&mut ed, layers);
    ed.tag(&m, &format!("{}.sig", tag_for(subject)));
    ed.finish();
    m
}
