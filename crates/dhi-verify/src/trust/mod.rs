//! Trust material: the public keys whose signatures count, each with a state
//! and a validity window. The embedded DHI keyring is the default.
//!
//! A key's *state* is a trust decision made here, not by the signer: an
//! inactive key (DHI's `dhi-1`) is kept only so that a signature it made can
//! be reported by name; it never makes anything verified.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p256::ecdsa::VerifyingKey;
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use serde::Serialize;

use crate::digest::Digest;
use crate::error::ConfigError;
pub use crate::error::KeyUnusable;

mod identity;
mod sigstore_root;

pub use crate::claim::CertificateClaim;
pub use identity::{Matcher, SubjectMatcher};
pub use sigstore_root::{SigstoreTrust, MAX_TRUSTED_ROOT_SIZE, PUBLIC_GOOD_TRUSTED_ROOT};

/// Docker's DHI signing key `dhi-2`, active (docker-hardened-images/keyring `publickey/dhi-2.pub`).
pub const DHI_2_PEM: &str = include_str!("../../trust/dhi-2.pub");
/// Docker's DHI signing key `dhi-1`, inactive (docker-hardened-images/keyring `publickey/dhi-1.pub`).
pub const DHI_1_PEM: &str = include_str!("../../trust/dhi-1.pub");
/// `dhi-2` is trusted from 2025-04-02T12:00:00Z, as in Docker's own verifier
/// (moby/policy-helpers `roots/dhi`).
pub const DHI_2_VALID_FROM_UNIX: u64 = 1_743_595_200;

/// Whether a key's signatures count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signatures by this key count, within its validity window.
    Active,
    /// Kept to name signatures it made; they never count.
    Inactive,
}

/// A public key trusted to sign attestations.
#[derive(Clone)]
pub struct TrustedKey {
    name: String,
    key: VerifyingKey,
    fingerprint: Digest,
    spki_der: Vec<u8>,
    state: KeyState,
    not_before: Option<SystemTime>,
    not_after: Option<SystemTime>,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKey")
            .field("name", &self.name)
            .field("fingerprint", &self.fingerprint)
            .field("state", &self.state)
            .finish()
    }
}

impl TrustedKey {
    /// Reads an ECDSA P-256 public key in PEM (`-----BEGIN PUBLIC KEY-----`,
    /// SubjectPublicKeyInfo), as cosign writes `cosign.pub`. Active, with no
    /// validity window.
    pub fn from_pem(name: impl Into<String>, pem: &str) -> Result<Self, ConfigError> {
        let name = name.into();
        let key =
            VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| ConfigError::InvalidKey {
                name: name.clone(),
                reason: format!(
                    "expected an ECDSA P-256 public key in PEM (SubjectPublicKeyInfo): {e}"
                ),
            })?;
        let der = key
            .to_public_key_der()
            .map_err(|e| ConfigError::InvalidKey {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        Ok(TrustedKey {
            name,
            key,
            fingerprint: Digest::of(der.as_bytes()),
            spki_der: der.as_bytes().to_vec(),
            state: KeyState::Active,
            not_before: None,
            not_after: None,
        })
    }

    /// Marks the key inactive: its signatures are named but never count.
    pub fn inactive(mut self) -> Self {
        self.state = KeyState::Inactive;
        self
    }

    /// Restricts the key to signatures checked at or after `t`.
    pub fn valid_from(mut self, t: SystemTime) -> Self {
        self.not_before = Some(t);
        self
    }

    /// Restricts the key to signatures checked at or before `t`.
    pub fn valid_until(mut self, t: SystemTime) -> Self {
        self.not_after = Some(t);
        self
    }

    /// The key's name (`dhi-2`, or the file it was read from).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: the key id (Sigstore's `publicKey.hint`).
    pub fn fingerprint(&self) -> &Digest {
        &self.fingerprint
    }

    /// The key's state.
    pub fn state(&self) -> KeyState {
        self.state
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether a signature by this key counts at time `at`: active, and `at`
    /// within the validity window (inclusive).
    pub fn usable_at(&self, at: SystemTime) -> Result<(), KeyUnusable> {
        if self.state == KeyState::Inactive {
            return Err(KeyUnusable::Inactive);
        }
        if let Some(nb) = self.not_before {
            if at < nb {
                return Err(KeyUnusable::NotYetValid {
                    not_before: unix(nb),
                });
            }
        }
        if let Some(na) = self.not_after {
            if at > na {
                return Err(KeyUnusable::Expired {
                    not_after: unix(na),
                });
            }
        }
        Ok(())
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The set of keys whose signatures count, and the transparency logs whose
/// entries count. Required to build a [`crate::Verifier`]: there is no "trust
/// nothing" or "trust anything" default.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    keys: Vec<TrustedKey>,
    logs: Option<Arc<SigstoreTrust>>,
    identities: Vec<KeylessIdentity>,
}

/// A keyless signer: a Fulcio certificate whose OIDC issuer and identity
/// (SAN) match, both always anchored (see [`Matcher`]), and which carries every
/// CI claim required (see [`SubjectMatcher`]).
#[derive(Debug, Clone)]
pub struct KeylessIdentity {
    issuer: Matcher,
    subject: SubjectMatcher,
}

impl KeylessIdentity {
    /// Certificates issued for `subject` by the OIDC provider `issuer`.
    pub fn new(issuer: Matcher, subject: impl Into<SubjectMatcher>) -> Self {
        KeylessIdentity {
            issuer,
            subject: subject.into(),
        }
    }

    /// Also requires the certificate's `claim` (a Fulcio extension) to be
    /// present and matched by `matcher`.
    #[must_use]
    pub fn require(mut self, claim: CertificateClaim, matcher: Matcher) -> Self {
        self.subject = self.subject.require(claim, matcher);
        self
    }

    /// The OIDC issuer matcher.
    pub fn issuer(&self) -> &Matcher {
        &self.issuer
    }

    /// The certificate identity matcher and the CI claims required.
    pub fn subject(&self) -> &SubjectMatcher {
        &self.subject
    }
}

/// The Sigstore public-good trusted root (for its Rekor log keys).
fn public_good_logs() -> Option<Arc<SigstoreTrust>> {
    // The embedded root is this crate's own file; a test proves it parses.
    SigstoreTrust::public_good().ok().map(Arc::new)
}

impl TrustRoot {
    /// Docker's DHI keyring: `dhi-2` active from 2025-04-02, `dhi-1` inactive.
    pub fn dhi_embedded() -> Self {
        let mut keys = Vec::new();
        // The embedded PEMs are this crate's own files; a test proves they parse.
        if let Ok(k) = TrustedKey::from_pem("dhi-2", DHI_2_PEM) {
            keys.push(k.valid_from(UNIX_EPOCH + Duration::from_secs(DHI_2_VALID_FROM_UNIX)));
        }
        if let Ok(k) = TrustedKey::from_pem("dhi-1", DHI_1_PEM) {
            keys.push(k.inactive());
        }
        TrustRoot {
            keys,
            logs: public_good_logs(),
            identities: Vec::new(),
        }
    }

    /// A trust root holding exactly `keys`, with the Sigstore public-good
    /// Rekor log for transparency-log entries (as cosign does by default).
    pub fn from_keys(keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        TrustRoot {
            keys: keys.into_iter().collect(),
            logs: public_good_logs(),
            identities: Vec::new(),
        }
    }

    /// Trusts the Sigstore material of `trust` — transparency logs, Fulcio
    /// certificate authorities, CT logs, timestamp authorities — from a private
    /// instance's `trusted_root.json`, instead of the public-good ones.
    pub fn with_sigstore_trust(mut self, trust: SigstoreTrust) -> Self {
        self.logs = Some(Arc::new(trust));
        self
    }

    /// The trusted Sigstore material (logs, certificate authorities).
    pub fn sigstore_trust(&self) -> Option<&SigstoreTrust> {
        self.logs.as_deref()
    }

    /// Also accepts keyless signatures (Sigstore bundles with a Fulcio
    /// certificate) by `identity`.
    pub fn with_identity(mut self, identity: KeylessIdentity) -> Self {
        self.identities.push(identity);
        self
    }

    /// The keys.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The keyless identities.
    pub fn identities(&self) -> &[KeylessIdentity] {
        &self.identities
    }

    /// Whether anything could ever verify: an active key or a keyless identity.
    pub(crate) fn can_verify(&self) -> bool {
        self.keys.iter().any(|k| k.state == KeyState::Active) || !self.identities.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_dhi_keys_parse_and_dhi_2_has_the_published_fingerprint() {
        let root = TrustRoot::dhi_embedded();
        assert_eq!(root.keys().len(), 2);
        let dhi2 = &root.keys()[0];
        assert_eq!(dhi2.name(), "dhi-2");
        assert_eq!(
            dhi2.fingerprint().hex(),
            "118ba556dd52f4aec67018efd316c285c783cd3e54cc0f4527605715c643887c"
        );
        assert_eq!(root.keys()[1].state(), KeyState::Inactive);
        assert!(
            root.sigstore_trust().is_some(),
            "the public-good Rekor keys are embedded"
        );
    }

    #[test]
    fn dhi_2_is_not_usable_before_its_activation_date() {
        let root = TrustRoot::dhi_embedded();
        let before = UNIX_EPOCH + Duration::from_secs(DHI_2_VALID_FROM_UNIX - 1);
        let after = UNIX_EPOCH + Duration::from_secs(DHI_2_VALID_FROM_UNIX);
        assert!(matches!(
            root.keys()[0].usable_at(before),
            Err(KeyUnusable::NotYetValid { .. })
        ));
        assert_eq!(root.keys()[0].usable_at(after), Ok(()));
        assert_eq!(root.keys()[1].usable_at(after), Err(KeyUnusable::Inactive));
    }

    #[test]
    fn non_p256_or_garbage_keys_are_rejected() {
        for bad in [
            "",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "not a key",
        ] {
            assert!(matches!(
                TrustedKey::from_pem("k", bad),
                Err(ConfigError::InvalidKey { .. })
            ));
        }
    }
}
