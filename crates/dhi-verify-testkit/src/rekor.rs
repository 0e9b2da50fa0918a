//! A stand-in Rekor log: its key, a `trusted_root.json` that trusts it, and
//! the legacy cosign bundle (`dev.sigstore.cosign/bundle`) it would return
//! for a simple-signing signature.

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::keys::TestKey;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The integrated time fixtures use: 2025-06-15T15:06:40Z.
pub const INTEGRATED_TIME: i64 = 1_750_000_000;

/// A test transparency log.
#[derive(Clone)]
pub struct TestRekor {
    pub key: TestKey,
}

impl Default for TestRekor {
    fn default() -> Self {
        TestRekor {
            key: TestKey::new("test-rekor"),
        }
    }
}

impl TestRekor {
    /// Hex SHA-256 of the log key's DER: the log id.
    pub fn log_id(&self) -> String {
        hex::encode(Sha256::digest(self.key.public_der()))
    }

    /// A Sigstore `trusted_root.json` trusting only this log.
    pub fn trusted_root_json(&self) -> String {
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(self.key.public_der()), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": "2021-01-01T00:00:00Z"}},
                "logId": {"keyId": B64.encode(Sha256::digest(self.key.public_der()))}
            }],
            "certificateAuthorities": [], "ctlogs": [], "timestampAuthorities": []
        })
        .to_string()
    }

    /// The hashedrekord body (base64) recording `key_pem` (a public key or,
    /// keyless, the signing certificate) for `signature_der` over `payload`.
    pub fn body_with(&self, payload: &[u8], signature_der: &[u8], key_pem: &str) -> String {
        B64.encode(
            json!({"apiVersion": "0.0.1", "kind": "hashedrekord",
                   "spec": {"data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
                            "signature": {"content": B64.encode(signature_der), "publicKey": {"content": B64.encode(key_pem)}}}})
            .to_string(),
        )
    }

    /// The hashedrekord body (base64) for `signature_der` over `payload` by `signer`.
    pub fn body(&self, payload: &[u8], signature_der: &[u8], signer: &TestKey) -> String {
        B64.encode(
            json!({"apiVersion": "0.0.1", "kind": "hashedrekord",
                   "spec": {"data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
                            "signature": {"content": B64.encode(signature_der), "publicKey": {"content": B64.encode(signer.public_pem())}}}})
            .to_string(),
        )
    }

    /// The legacy cosign bundle for `body`: a SET over the canonical JSON of
    /// `{body, integratedTime, logID, logIndex}`. `signed_time` is the time the
    /// SET covers; `written_time` the time written (differing = a forged time).
    pub fn legacy_bundle(&self, body: &str, signed_time: i64, written_time: i64) -> String {
        let log_id = self.log_id();
        let canonical = set_payload(body, signed_time, &log_id, 7);
        json!({"SignedEntryTimestamp": B64.encode(self.key.sign_der(canonical.as_bytes())),
               "Payload": {"body": body, "integratedTime": written_time, "logIndex": 7, "logID": log_id}})
        .to_string()
    }
}

impl TestRekor {
    /// A Sigstore bundle v0.3 by `signer` over `artifact` (a message
    /// signature, hashedrekord), logged as the only leaf of this log: SET,
    /// inclusion proof and signed checkpoint, as cosign v3 attaches to a
    /// manifest. `forge` breaks exactly one part of it.
    pub fn keyed_bundle(&self, artifact: &[u8], signer: &TestKey, forge: BundleForgery) -> String {
        self.sigstore_bundle(artifact, BundleSigner::Key(signer), INTEGRATED_TIME, forge)
    }

    /// A Sigstore bundle v0.3 by `signer` over `artifact`, logged at `time`.
    pub fn sigstore_bundle(
        &self,
        artifact: &[u8],
        signer: BundleSigner<'_>,
        time: i64,
        forge: BundleForgery,
    ) -> String {
        let signed: &[u8] = if forge == BundleForgery::SignatureOverOtherBytes {
            b"other bytes"
        } else {
            artifact
        };
        let key = match signer {
            BundleSigner::Key(k) | BundleSigner::Certificate { key: k, .. } => k,
        };
        let signature = key.sign_der(signed);
        let (logged_key, material) = match signer {
            BundleSigner::Key(k) => (
                k.public_pem(),
                json!({"publicKey": {"hint": B64.encode(Sha256::digest(k.public_der()))}}),
            ),
            BundleSigner::Certificate { cert_pem, .. } => (
                cert_pem.to_owned(),
                json!({"certificate": {"rawBytes": B64.encode(pem_body(cert_pem))}}),
            ),
        };
        let body = json!({"apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {"data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(artifact))}},
                     "signature": {"content": B64.encode(&signature), "publicKey": {"content": B64.encode(logged_key)}}}})
        .to_string();
        let body_b64 = B64.encode(&body);
        let log_id = self.log_id();
        let canonical = format!("{{\"body\":\"{body_b64}\",\"integratedTime\":{time},\"logID\":\"{log_id}\",\"logIndex\":0}}");
        let mut set = self.key.sign_der(canonical.as_bytes());
        if forge == BundleForgery::Set {
            set = self.key.sign_der(b"something else");
        }
        // RFC 6962: a one-leaf tree's root is the leaf hash SHA-256(0x00 || leaf).
        let mut leaf = vec![0u8];
        leaf.extend_from_slice(body.as_bytes());
        let root = Sha256::digest(&leaf);
        let note = format!("rekor.test - 1\n1\n{}\n", B64.encode(root));
        let mut key_and_sig = Sha256::digest(self.key.public_der())[..4].to_vec();
        key_and_sig.extend(self.key.sign_der(note.as_bytes()));
        let checkpoint = format!("{note}\n— rekor.test {}\n", B64.encode(key_and_sig));
        let mut bundle = json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "tlogEntries": [{
                    "logIndex": "0",
                    "logId": {"keyId": B64.encode(Sha256::digest(self.key.public_der()))},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": time.to_string(),
                    "inclusionPromise": {"signedEntryTimestamp": B64.encode(set)},
                    "inclusionProof": {"logIndex": "0", "rootHash": B64.encode(root), "treeSize": "1", "hashes": [],
                                       "checkpoint": {"envelope": checkpoint}},
                    "canonicalizedBody": body_b64
                }]
            },
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": B64.encode(Sha256::digest(artifact))},
                                 "signature": B64.encode(signature)}
        });
        for (k, v) in material.as_object().unwrap() {
            bundle["verificationMaterial"][k] = v.clone();
        }
        bundle.to_string()
    }
}

/// Who signs a bundle: a managed key, or a certificate's key (keyless).
#[derive(Clone, Copy)]
pub enum BundleSigner<'a> {
    Key(&'a TestKey),
    Certificate { key: &'a TestKey, cert_pem: &'a str },
}

/// The DER inside a single-block PEM.
fn pem_body(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    B64.decode(b64).unwrap()
}

/// One way to break a keyed bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleForgery {
    /// Nothing broken.
    None,
    /// The SET signs other bytes.
    Set,
    /// The signature is over other bytes than the artifact.
    SignatureOverOtherBytes,
}

/// What a legacy SET signs: the canonical JSON (sorted keys, no spaces) of
/// `{body, integratedTime, logID, logIndex}`, as Rekor and cosign build it.
pub fn set_payload(body_b64: &str, integrated_time: i64, log_id: &str, log_index: u64) -> String {
    format!("{{\"body\":\"{body_b64}\",\"integratedTime\":{integrated_time},\"logID\":\"{log_id}\",\"logIndex\":{log_index}}}")
}

/// The Rekor entry kinds cosign v2 writes for an attestation (a DSSE
/// envelope); which one depends on the cosign version and
/// `--rekor-entry-type` (the real slsa-github-generator samples have
/// `intoto` 0.0.1 in v1.4.0 and v1.7.0, `dsse` 0.0.1 in v2.0.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// `intoto` 0.0.1: `spec.content.{hash, payloadHash}` and `spec.publicKey`
    /// (base64 of the PEM); `hash` is SHA-256 of the envelope bytes.
    IntotoV001,
    /// `intoto` 0.0.2 (Rekor's `intoto_v0_0_2_schema.json`):
    /// `spec.content.envelope.{payloadType, signatures[{publicKey, sig}]}`
    /// (`sig` = base64 of the envelope's base64 signature string,
    /// `publicKey` = base64 of the PEM), `spec.content.{hash, payloadHash}`.
    IntotoV002,
    /// `dsse` 0.0.1: `spec.{envelopeHash, payloadHash, signatures[{signature, verifier}]}`
    /// (`signature` = the envelope's `sig` as is, `verifier` = base64 of the PEM).
    DsseV001,
}

impl EntryKind {
    /// Every kind, for tests that run once per kind.
    pub const ALL: [EntryKind; 3] = [
        EntryKind::IntotoV001,
        EntryKind::IntotoV002,
        EntryKind::DsseV001,
    ];

    /// `(kind, apiVersion)` as the body writes them.
    pub fn kind_and_version(self) -> (&'static str, &'static str) {
        match self {
            EntryKind::IntotoV001 => ("intoto", "0.0.1"),
            EntryKind::IntotoV002 => ("intoto", "0.0.2"),
            EntryKind::DsseV001 => ("dsse", "0.0.1"),
        }
    }
}

/// One way to break a logged attestation: the body records something else
/// than the layer holds, or the SET does not cover the entry as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryForgery {
    /// Nothing broken.
    None,
    /// The body's envelope hash (`hash` / `envelopeHash`) is of other envelope bytes.
    OtherEnvelope,
    /// The body's `payloadHash` is of another payload.
    OtherPayloadHash,
    /// The body records another key (`TestKey::new("someone-else")`) as the signer.
    OtherKey,
    /// The SET is the log's signature over the entry with another `logIndex`
    /// (a well-formed signature that does not cover what is written).
    SetEdited,
    /// The written `integratedTime` is one second later than the SET covers.
    SetTime,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl TestRekor {
    /// The canonicalized body (base64) Rekor records for the DSSE
    /// `envelope` (the exact layer bytes) signed by the key whose PEM
    /// (public key or certificate) is `signer_pem`, as entry `kind`. Keys
    /// are sorted, as Rekor's canonical JSON writes them.
    pub fn dsse_entry_body(
        &self,
        kind: EntryKind,
        envelope: &[u8],
        signer_pem: &str,
        forge: EntryForgery,
    ) -> String {
        let env: serde_json::Value = serde_json::from_slice(envelope).unwrap();
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let envelope_hash = if forge == EntryForgery::OtherEnvelope {
            let mut other = envelope.to_vec();
            other.push(b'\n');
            sha256_hex(&other)
        } else {
            sha256_hex(envelope)
        };
        let payload_hash = if forge == EntryForgery::OtherPayloadHash {
            sha256_hex(b"another payload")
        } else {
            sha256_hex(&payload)
        };
        let key_pem = if forge == EntryForgery::OtherKey {
            TestKey::new("someone-else").public_pem()
        } else {
            signer_pem.to_owned()
        };
        let key_b64 = B64.encode(&key_pem);
        let sig = env["signatures"][0]["sig"].as_str().unwrap_or_default();
        let hash = |v: String| json!({"algorithm": "sha256", "value": v});
        let (k, version) = kind.kind_and_version();
        let spec = match kind {
            EntryKind::IntotoV001 => json!({
                "content": {"hash": hash(envelope_hash), "payloadHash": hash(payload_hash)},
                "publicKey": key_b64,
            }),
            EntryKind::IntotoV002 => json!({
                "content": {
                    "envelope": {"payloadType": env["payloadType"],
                                 "signatures": [{"publicKey": key_b64, "sig": B64.encode(sig)}]},
                    "hash": hash(envelope_hash),
                    "payloadHash": hash(payload_hash),
                },
            }),
            EntryKind::DsseV001 => json!({
                "envelopeHash": hash(envelope_hash),
                "payloadHash": hash(payload_hash),
                "signatures": [{"signature": sig, "verifier": key_b64}],
            }),
        };
        B64.encode(
            serde_json::to_vec(&json!({"apiVersion": version, "kind": k, "spec": spec})).unwrap(),
        )
    }

    /// The `dev.sigstore.cosign/bundle` annotation for `body_b64` logged at
    /// `integrated_time` / `log_index`, in cosign's field order
    /// (`{"SignedEntryTimestamp":…,"Payload":{"body","integratedTime","logIndex","logID"}}`,
    /// compact). `forge` may edit the SET ([`EntryForgery::SetEdited`],
    /// [`EntryForgery::SetTime`]); the body forgeries are made by
    /// [`TestRekor::dsse_entry_body`].
    pub fn cosign_bundle(
        &self,
        body_b64: &str,
        integrated_time: i64,
        log_index: u64,
        forge: EntryForgery,
    ) -> String {
        let log_id = self.log_id();
        let signed_index = if forge == EntryForgery::SetEdited {
            log_index + 1
        } else {
            log_index
        };
        let set = self
            .key
            .sign_der(set_payload(body_b64, integrated_time, &log_id, signed_index).as_bytes());
        let written_time = if forge == EntryForgery::SetTime {
            integrated_time + 1
        } else {
            integrated_time
        };
        format!(
            "{{\"SignedEntryTimestamp\":\"{}\",\"Payload\":{{\"body\":\"{body_b64}\",\"integratedTime\":{written_time},\"logIndex\":{log_index},\"logID\":\"{log_id}\"}}}}",
            B64.encode(set)
        )
    }

    /// Whether the SET of a cosign bundle (`dev.sigstore.cosign/bundle`
    /// JSON) is this log's signature over its payload as written.
    pub fn verify_set(&self, bundle_json: &str) -> bool {
        let b: serde_json::Value = serde_json::from_str(bundle_json).unwrap();
        let p = &b["Payload"];
        let (Some(body), Some(time), Some(id), Some(index)) = (
            p["body"].as_str(),
            p["integratedTime"].as_i64(),
            p["logID"].as_str(),
            p["logIndex"].as_u64(),
        ) else {
            return false;
        };
        let Some(set) = b["SignedEntryTimestamp"]
            .as_str()
            .and_then(|s| B64.decode(s).ok())
        else {
            return false;
        };
        self.key
            .verify_der(set_payload(body, time, id, index).as_bytes(), &set)
    }
}
