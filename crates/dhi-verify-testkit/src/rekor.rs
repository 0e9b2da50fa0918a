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
    pub fn bundle(&self, body: &str, signed_time: i64, written_time: i64) -> String {
        let log_id = self.log_id();
        let canonical = format!("{{\"body\":\"{body}\",\"integratedTime\":{signed_time},\"logID\":\"{log_id}\",\"logIndex\":7}}");
        json!({"SignedEntryTimestamp": B64.encode(self.key.sign_der(canonical.as_bytes())),
               "Payload": {"body": body, "integratedTime": written_time, "logIndex": 7, "logID": log_id}})
        .to_string()
    }
}
