//! Deterministic ECDSA P-256 test keys, derived from a name.

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use sha2::{Digest as _, Sha256};

/// A signing key derived from its name: `TestKey::new("demo")` is always the same key.
#[derive(Clone)]
pub struct TestKey {
    pub name: String,
    key: SigningKey,
}

impl TestKey {
    pub fn new(name: &str) -> Self {
        let mut counter = 0u32;
        loop {
            let seed = Sha256::digest(format!("dhi-verify test key {name} {counter}"));
            if let Ok(key) = SigningKey::from_bytes(&seed) {
                return TestKey {
                    name: name.to_owned(),
                    key,
                };
            }
            counter += 1;
        }
    }

    /// A key read from a PEM private key (PKCS#8 or SEC1 `EC PRIVATE KEY`).
    pub fn from_pem(name: &str, pem: &str) -> Self {
        use p256::pkcs8::DecodePrivateKey;
        let key = SigningKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem).map(SigningKey::from))
            .unwrap();
        TestKey {
            name: name.to_owned(),
            key,
        }
    }

    /// The public key as cosign writes `cosign.pub`.
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn public_der(&self) -> Vec<u8> {
        self.key
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    /// The ASN.1 DER ECDSA signature over SHA-256(`msg`).
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.key.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }

    /// Whether `sig_der` (ASN.1 DER) is this key's ECDSA signature over SHA-256(`msg`).
    pub fn verify_der(&self, msg: &[u8], sig_der: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        Signature::from_der(sig_der)
            .is_ok_and(|sig| self.key.verifying_key().verify(msg, &sig).is_ok())
    }

    /// Base64 of the ASN.1 DER ECDSA signature over SHA-256(`payload`), as in
    /// the `dev.cosignproject.cosign/signature` annotation.
    pub fn sign_b64(&self, payload: &[u8]) -> String {
        let sig: Signature = self.key.sign(payload);
        base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
    }
}
