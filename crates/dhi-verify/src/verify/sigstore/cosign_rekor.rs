//! Verifying cosign's legacy Rekor bundle annotation (`dev.sigstore.cosign/bundle`) on a simple-signing signature.
//!
//! The annotation is `{"SignedEntryTimestamp": b64, "Payload": {"body": b64,
//! "integratedTime": n, "logIndex": n, "logID": hex}}`. Its SET is the Rekor
//! log's signature over the canonical JSON of `Payload` (keys sorted, no
//! spaces); `body` is the log entry, a `hashedrekord` naming the signature
//! and the SHA-256 of the signed payload.

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::rekor_entry::verify_set;
use crate::error::BundleError;
use crate::trust::SigstoreTrust;

pub use super::rekor_entry::MAX_COSIGN_REKOR_BUNDLE_SIZE;

/// A log entry whose Signed Entry Timestamp verified and whose body names the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogEntry {
    log_id: String,
    log_index: u64,
    integrated_time: i64,
    body_public_key: Option<Vec<u8>>,
}

impl VerifiedLogEntry {
    /// An entry whose SET verified and whose body was bound to what was signed.
    pub(super) fn new(
        log_id: String,
        log_index: u64,
        integrated_time: i64,
        body_public_key: Option<Vec<u8>>,
    ) -> Self {
        Self {
            log_id,
            log_index,
            integrated_time,
            body_public_key,
        }
    }

    /// The log id (lowercase hex SHA-256 of the log's public key).
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The entry's index in the log.
    pub fn log_index(&self) -> u64 {
        self.log_index
    }

    /// The verified integrated time (Unix seconds): when the log accepted the entry.
    pub fn integrated_time(&self) -> i64 {
        self.integrated_time
    }

    /// The verification key (or certificate) recorded in the entry body, as
    /// recorded (usually PEM). The caller decides whether it is a trusted key;
    /// this function does not.
    pub fn body_public_key(&self) -> Option<&[u8]> {
        self.body_public_key.as_deref()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekord {
    kind: String,
    api_version: String,
    spec: HashedRekordSpec,
}

#[derive(Deserialize)]
struct HashedRekordSpec {
    data: HashedRekordData,
    signature: HashedRekordSignature,
}

#[derive(Deserialize)]
struct HashedRekordData {
    hash: HashedRekordHash,
}

#[derive(Deserialize)]
struct HashedRekordHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekordSignature {
    content: String,
    public_key: Option<HashedRekordKey>,
}

#[derive(Deserialize)]
struct HashedRekordKey {
    content: String,
}

fn malformed(reason: impl Into<String>) -> BundleError {
    BundleError::MalformedBundle {
        reason: reason.into(),
    }
}

/// Verifies a cosign legacy Rekor bundle for `signature` (raw DER bytes, i.e.
/// the base64-decoded `dev.cosignproject.cosign/signature` annotation) over `payload`.
///
/// Steps: (1) find the log named by `logID` in `trust`; (2) check the log key
/// was valid at `integratedTime`; (3) verify the SET over the canonical JSON
/// `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}`; (4) check the body
/// is a `hashedrekord` v0.0.1 whose SHA-256 is that of `payload` and whose
/// signature is `signature`. The signature itself is verified by the caller
/// with its trusted key; the entry proves when it was logged.
pub fn verify_cosign_rekor_bundle(
    bundle_json: &[u8],
    signature: &[u8],
    payload: &[u8],
    trust: &SigstoreTrust,
) -> Result<VerifiedLogEntry, BundleError> {
    // (1)-(3): the log, its key's validity, the SET (shared with `.att` layers).
    let entry = verify_set(bundle_json, trust)?;

    // (4) The body must describe this signature over this payload.
    let entry_body: HashedRekord = serde_json::from_slice(&entry.body)
        .map_err(|e| malformed(format!("log entry body: {e}")))?;
    if entry_body.kind != "hashedrekord" || entry_body.api_version != "0.0.1" {
        return Err(BundleError::EntryMismatch {
            field: "kind",
            expected: "hashedrekord 0.0.1".into(),
            found: format!("{} {}", entry_body.kind, entry_body.api_version),
        });
    }
    let hash = &entry_body.spec.data.hash;
    let want = hex::encode(Sha256::digest(payload));
    if hash.algorithm != "sha256" || !hash.value.eq_ignore_ascii_case(&want) {
        return Err(BundleError::EntryMismatch {
            field: "spec.data.hash",
            expected: format!("sha256:{want}"),
            found: format!("{}:{}", hash.algorithm, hash.value),
        });
    }
    let logged_sig = base64::engine::general_purpose::STANDARD
        .decode(entry_body.spec.signature.content.as_bytes())
        .map_err(|e| malformed(format!("body signature is not base64: {e}")))?;
    if logged_sig != signature {
        return Err(BundleError::EntryMismatch {
            field: "spec.signature.content",
            expected: base64::engine::general_purpose::STANDARD.encode(signature),
            found: entry_body.spec.signature.content,
        });
    }
    let body_public_key = match entry_body.spec.signature.public_key {
        Some(k) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(k.content.as_bytes())
                .map_err(|e| malformed(format!("body public key is not base64: {e}")))?,
        ),
        None => None,
    };
    Ok(VerifiedLogEntry {
        log_id: entry.log_id,
        log_index: entry.log_index,
        integrated_time: entry.integrated_time,
        body_public_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::EncodePublicKey as _;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    struct Fixture {
        rekor: SigningKey,
        signer: SigningKey,
        trust: SigstoreTrust,
        log_id: String,
        payload: Vec<u8>,
        signature: Vec<u8>,
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn fixture() -> Fixture {
        let rekor = key(7);
        let der = rekor.verifying_key().to_public_key_der().unwrap();
        let log_id_raw = Sha256::digest(der.as_bytes());
        let root = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(der.as_bytes()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": "2021-01-01T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
                },
                "logId": {"keyId": B64.encode(log_id_raw)}
            }],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": []
        });
        let trust = SigstoreTrust::from_trusted_root_json(root.to_string().as_bytes()).unwrap();
        let signer = key(9);
        let payload = br#"{"critical":{"type":"cosign container image signature"}}"#.to_vec();
        let sig: Signature = signer.sign(&payload);
        Fixture {
            rekor,
            signer,
            trust,
            log_id: hex::encode(log_id_raw),
            payload,
            signature: sig.to_der().as_bytes().to_vec(),
        }
    }

    fn body(f: &Fixture, payload: &[u8], signature: &[u8]) -> String {
        let pem = f
            .signer
            .verifying_key()
            .to_public_key_pem(Default::default())
            .unwrap();
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}},
                "signature": {"content": B64.encode(signature), "publicKey": {"content": B64.encode(pem)}}
            }
        });
        B64.encode(body.to_string())
    }

    fn bundle_with(f: &Fixture, body: &str, time: i64, index: i64) -> serde_json::Value {
        let canonical = format!(
            "{{\"body\":\"{body}\",\"integratedTime\":{time},\"logID\":\"{}\",\"logIndex\":{index}}}",
            f.log_id
        );
        let set: Signature = f.rekor.sign(canonical.as_bytes());
        serde_json::json!({
            "SignedEntryTimestamp": B64.encode(set.to_der().as_bytes()),
            "Payload": {"body": body, "integratedTime": time, "logIndex": index, "logID": f.log_id}
        })
    }

    fn good(f: &Fixture) -> serde_json::Value {
        bundle_with(f, &body(f, &f.payload, &f.signature), 1_750_000_000, 42)
    }

    fn verify(f: &Fixture, b: &serde_json::Value) -> Result<VerifiedLogEntry, BundleError> {
        verify_cosign_rekor_bundle(b.to_string().as_bytes(), &f.signature, &f.payload, &f.trust)
    }

    #[test]
    fn valid_legacy_rekor_bundle_verifies_and_returns_integrated_time() {
        let f = fixture();
        let entry = verify(&f, &good(&f)).unwrap();
        assert_eq!(entry.integrated_time(), 1_750_000_000);
        assert_eq!(entry.log_index(), 42);
        assert_eq!(entry.log_id(), f.log_id);
        assert!(entry
            .body_public_key()
            .unwrap()
            .starts_with(b"-----BEGIN PUBLIC KEY"));
    }

    #[test]
    fn tampered_set_is_rejected() {
        let f = fixture();
        let mut b = good(&f);
        let mut set = B64
            .decode(b["SignedEntryTimestamp"].as_str().unwrap())
            .unwrap();
        let last = set.len() - 3;
        set[last] ^= 1;
        b["SignedEntryTimestamp"] = B64.encode(set).into();
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::SetInvalid { .. }) | Err(BundleError::MalformedBundle { .. })
        ));
    }

    #[test]
    fn set_signed_by_another_key_is_rejected() {
        let mut f = fixture();
        f.rekor = key(8);
        let b = good(&f);
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::SetInvalid { .. })
        ));
    }

    #[test]
    fn changed_integrated_time_breaks_the_set() {
        let f = fixture();
        let mut b = good(&f);
        b["Payload"]["integratedTime"] = 1_750_000_060.into();
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::SetInvalid { .. })
        ));
    }

    #[test]
    fn changed_body_breaks_the_set() {
        let f = fixture();
        let mut b = good(&f);
        b["Payload"]["body"] = body(&f, b"other payload", &f.signature).into();
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::SetInvalid { .. })
        ));
    }

    #[test]
    fn logged_body_for_another_payload_is_rejected() {
        let f = fixture();
        let b = bundle_with(
            &f,
            &body(&f, b"other payload", &f.signature),
            1_750_000_000,
            1,
        );
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::EntryMismatch {
                field: "spec.data.hash",
                ..
            })
        ));
    }

    #[test]
    fn logged_body_for_another_signature_is_rejected() {
        let f = fixture();
        let other: Signature = f.signer.sign(b"x");
        let b = bundle_with(
            &f,
            &body(&f, &f.payload, other.to_der().as_bytes()),
            1_750_000_000,
            1,
        );
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::EntryMismatch {
                field: "spec.signature.content",
                ..
            })
        ));
    }

    #[test]
    fn unknown_log_id_is_rejected() {
        let f = fixture();
        let mut b = good(&f);
        b["Payload"]["logID"] = "00".repeat(32).into();
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::UnknownLog { .. })
        ));
    }

    #[test]
    fn entry_outside_log_key_validity_is_rejected() {
        let f = fixture();
        let b = bundle_with(&f, &body(&f, &f.payload, &f.signature), 1_900_000_000, 1);
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::LogKeyNotValid { .. })
        ));
    }

    #[test]
    fn negative_log_index_and_garbage_are_malformed_not_panics() {
        let f = fixture();
        let b = bundle_with(&f, &body(&f, &f.payload, &f.signature), 1_750_000_000, -1);
        assert!(matches!(
            verify(&f, &b),
            Err(BundleError::MalformedBundle { .. })
        ));
        for junk in [&b""[..], b"{}", b"null", b"{\"Payload\":1}", &[0xff; 10]] {
            let r = verify_cosign_rekor_bundle(junk, &f.signature, &f.payload, &f.trust);
            assert!(matches!(r, Err(BundleError::MalformedBundle { .. })));
        }
    }

    #[test]
    fn production_rekor_key_is_found_in_the_embedded_root() {
        let trust = SigstoreTrust::public_good().unwrap();
        let id = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";
        let f = fixture();
        let b = serde_json::json!({
            "SignedEntryTimestamp": B64.encode([0u8; 8]),
            "Payload": {"body": "e30=", "integratedTime": 1_750_000_000, "logIndex": 1, "logID": id}
        });
        let r =
            verify_cosign_rekor_bundle(b.to_string().as_bytes(), &f.signature, &f.payload, &trust);
        assert!(matches!(r, Err(BundleError::SetInvalid { .. })));
    }
}
