//! The verdict: outcome, the exact digest approved, one entry per check, and
//! what was found for each platform. Its JSON form (`schemaVersion` 1) is a
//! documented wire format: see `docs/verdict.md`.

use serde::Serialize;

use crate::digest::Digest;
use crate::error::{Outcome, VerifyError};
use crate::platform::Platform;
use crate::trust::TrustedKey;

/// Who made a signature that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[non_exhaustive]
pub enum Signer {
    /// A trusted public key.
    Key {
        /// The key's name.
        name: String,
        /// SHA-256 of its DER SubjectPublicKeyInfo.
        fingerprint: Digest,
    },
    /// A keyless (Fulcio certificate) signer.
    Keyless {
        /// The certificate identity (SAN).
        identity: String,
        /// The OIDC issuer.
        issuer: String,
    },
}

impl Signer {
    pub(crate) fn key(k: &TrustedKey) -> Self {
        Signer::Key {
            name: k.name().to_owned(),
            fingerprint: *k.fingerprint(),
        }
    }

    /// The key name or the certificate identity.
    pub fn name(&self) -> &str {
        match self {
            Signer::Key { name, .. } => name,
            Signer::Keyless { identity, .. } => identity,
        }
    }

    /// The key fingerprint, for key signers.
    pub fn fingerprint(&self) -> Option<&Digest> {
        match self {
            Signer::Key { fingerprint, .. } => Some(fingerprint),
            Signer::Keyless { .. } => None,
        }
    }

    /// The OIDC issuer, for keyless signers.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Signer::Key { .. } => None,
            Signer::Keyless { issuer, .. } => Some(issuer),
        }
    }
}

/// The JSON schema version of [`Verdict`]; changes only with breaking changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The answer to "may this image run?".
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Verdict {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The reference as given.
    pub reference: String,
    /// The digest that was verified: the index, or the single manifest.
    /// Deploy this, never the tag.
    pub digest: Digest,
    /// `outcome == pass`.
    pub passed: bool,
    /// Pass or fail (errors are `Err`, not verdicts).
    pub outcome: Outcome,
    /// The annotations of the verified index (DHI's `com.docker.dhi.*`:
    /// variant, shell, package manager, end of life…). Empty for a single manifest.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// Image-level checks (index, platform selection, source integrity).
    pub checks: Vec<Check>,
    /// One entry per verified platform.
    pub platforms: Vec<PlatformVerdict>,
}

impl Verdict {
    /// The verdict of checks already made: the image-level `checks` and each
    /// platform's (verification's and the policy's). Image-level checks
    /// always count; of the platforms, every one must pass when
    /// `every_platform` (the policy's `platforms = "all"`), else one. No
    /// platform at all is a failure.
    pub(crate) fn assemble(
        reference: String,
        digest: Digest,
        annotations: std::collections::BTreeMap<String, String>,
        checks: Vec<Check>,
        platforms: Vec<PlatformVerdict>,
        every_platform: bool,
    ) -> Verdict {
        let platform_failed =
            |p: &PlatformVerdict| p.checks.iter().any(|c| c.status == CheckStatus::Fail);
        let failed = checks.iter().any(|c| c.status == CheckStatus::Fail)
            || if every_platform {
                platforms.iter().any(platform_failed)
            } else {
                platforms.iter().all(platform_failed)
            };
        let outcome = if failed || platforms.is_empty() {
            Outcome::Fail
        } else {
            Outcome::Pass
        };
        Verdict {
            schema_version: SCHEMA_VERSION,
            reference,
            digest,
            annotations,
            passed: outcome == Outcome::Pass,
            outcome,
            checks,
            platforms,
        }
    }

    /// Whether every required check passed.
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// The digest to deploy: what was verified.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Every check, image-level first, then per platform.
    pub fn all_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .chain(self.platforms.iter().flat_map(|p| p.checks.iter()))
    }

    /// The verified attestations of every platform.
    pub fn verified_attestations(&self) -> impl Iterator<Item = &VerifiedAttestation> {
        self.platforms.iter().flat_map(|p| {
            p.attestations
                .iter()
                .filter_map(|a| a.verified_attestation.as_ref())
        })
    }
}

/// What was found and checked for one platform.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PlatformVerdict {
    /// The platform, `os/arch[/variant]`.
    #[serde(serialize_with = "serialize_display")]
    pub platform: Platform,
    /// The platform manifest digest.
    pub digest: Digest,
    /// What the image configuration says (bound to `digest` by the manifest),
    /// when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<ImageConfig>,
    /// Every attestation found, verified or not.
    pub attestations: Vec<AttestationReport>,
    /// Signatures on the image itself (its index or this platform's
    /// manifest), verified or not. Looked for among the referrers always, in
    /// cosign's `.sig` tags when the policy requires an image signature.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_signatures: Vec<ImageSignatureReport>,
    /// Checks for this platform (manifest, referrers, requirements).
    pub checks: Vec<Check>,
}

/// Where a piece of evidence was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EvidenceSource {
    /// An OCI referrer (the referrers API or its tag-schema fallback): an
    /// attestation manifest, a signature manifest or a Sigstore bundle.
    Referrer,
    /// BuildKit's attestation manifests kept in the image index.
    ImageIndex,
    /// cosign's legacy `sha256-<hex>.sig` / `.att` tags.
    CosignTag,
}

/// One signature on the image itself, and what became of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageSignatureReport {
    /// What it signs: the index digest or this platform's manifest digest.
    pub subject: Digest,
    /// Where it was found.
    pub source: EvidenceSource,
    /// The signature (for a cosign `.sig` tag, `digest` is the layer's).
    #[serde(flatten)]
    pub signature: SignatureReport,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn serialize_display<S: serde::Serializer, T: std::fmt::Display>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// The parts of an OCI image configuration a gate looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ImageConfig {
    /// `config.User`: who the container runs as (empty or absent: root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `created`, as written (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl ImageConfig {
    /// Reads the fields from configuration JSON; `None` when it is not an image configuration.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(default)]
            config: Option<Inner>,
            #[serde(default)]
            created: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            #[serde(rename = "User", default)]
            user: Option<String>,
        }
        let raw: Raw = serde_json::from_slice(bytes).ok()?;
        Some(ImageConfig {
            user: raw.config.and_then(|c| c.user),
            created: raw.created,
        })
    }

    /// Whether the image runs as root: no user, `root`, uid 0 however written
    /// (`0`, `00`, `+0`, `-0`: runtimes read a numeric user as an integer),
    /// or any of these before `:group`.
    pub fn runs_as_root(&self) -> bool {
        match self.user.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(u) => {
                let user = u.split(':').next().unwrap_or(u).trim();
                user.is_empty() || user == "root" || user.parse::<i64>().is_ok_and(|uid| uid == 0)
            }
        }
    }
}

/// One attestation manifest and what became of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AttestationReport {
    /// The predicate type its manifest declares (None if it declares none).
    /// For a Sigstore bundle or a cosign `.att` layer, the verified
    /// statement's, else the annotation's hint.
    pub predicate_type: Option<String>,
    /// Where it was found.
    pub source: EvidenceSource,
    /// The attestation manifest digest (the bundle manifest's, the `.att`
    /// tag manifest's).
    pub manifest_digest: Digest,
    /// The statement digest, when the manifest names one (for a bundle or
    /// a `.att` layer: the bundle's or the DSSE envelope's).
    pub statement_digest: Option<Digest>,
    /// What it was checked as being about: this platform's manifest, or the
    /// index that lists it (an attestation on the index counts for every
    /// platform of that index).
    pub subject: Digest,
    /// An unsigned statement that could count only under a signature that
    /// covers it (BuildKit's in-index attestations without a verified
    /// signature on the index): not verified, and not a broken attestation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unsigned: bool,
    /// A trusted signature verified, but what it signs fails a binding
    /// check (say, the statement disagrees with its manifest's annotations):
    /// a broken or compromised pipeline, which fails the image.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub signed_but_inconsistent: bool,
    /// Whether every link from a trusted signature to this platform verified.
    pub verified: bool,
    /// Why not, when not verified: the first broken link.
    pub reason: Option<String>,
    /// Each signature found, with who signed it and whether it verified.
    pub signatures: Vec<SignatureReport>,
    /// Signatures beyond [`crate::Limits::max_signatures_per_attestation`], not tried.
    #[serde(skip_serializing_if = "is_zero")]
    pub signatures_not_tried: usize,
    /// The typed failure behind `reason`.
    #[serde(skip)]
    pub error: Option<VerifyError>,
    /// The proof of verification, when verified.
    #[serde(skip)]
    pub verified_attestation: Option<VerifiedAttestation>,
}

/// One signature on an attestation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SignatureReport {
    /// The signature manifest digest.
    pub digest: Digest,
    /// Its artifact type as listed.
    pub artifact_type: Option<String>,
    /// Name of the key that verified it (also set when that key is not trusted now).
    pub key: Option<String>,
    /// Fingerprint (SHA-256 of the DER public key) of that key.
    pub key_id: Option<Digest>,
    /// The OIDC issuer, for a keyless signature (then `key` is the certificate identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Whether it verified with a trusted, usable key and its claims hold.
    pub verified: bool,
    /// Why not.
    pub reason: Option<String>,
    /// The transparency-log entry (`dev.sigstore.cosign/bundle`, or a Sigstore
    /// bundle's): `absent`, `verified`, `ignored` (a key signature's entry
    /// under policy `never`; keyless and bundle entries are verified in every
    /// mode) or `invalid`.
    pub tlog: TlogStatus,
    /// The verified signing time (the log's integrated time, Unix seconds), when known.
    pub signed_at: Option<i64>,
    /// The typed failure behind `reason`.
    #[serde(skip)]
    pub error: Option<VerifyError>,
    /// Who signed, when it verified.
    #[serde(skip)]
    pub signer: Option<Signer>,
}

/// What became of a signature's transparency-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TlogStatus {
    /// No entry attached.
    Absent,
    /// Attached and verified.
    Verified,
    /// Attached to a key signature and not looked at (policy `never`).
    Ignored,
    /// Attached and did not verify (or was not reached).
    Invalid,
}

/// Status of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The check passed.
    Pass,
    /// The check failed; the verdict fails.
    Fail,
    /// The check was not applicable or deliberately not made.
    Skip,
}

/// One check: a stable id, a status, and a message saying what was expected
/// and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Check {
    /// Stable id, e.g. `require.provenance`, `platform.manifest`.
    pub id: String,
    /// Pass, fail or skip.
    pub status: CheckStatus,
    /// For people.
    pub message: String,
    /// Digests or other values the check rests on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl Check {
    pub(crate) fn pass(id: impl Into<String>, message: impl Into<String>) -> Self {
        Check {
            id: id.into(),
            status: CheckStatus::Pass,
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub(crate) fn fail(id: impl Into<String>, message: impl Into<String>) -> Self {
        Check {
            id: id.into(),
            status: CheckStatus::Fail,
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub(crate) fn skip(id: impl Into<String>, message: impl Into<String>) -> Self {
        Check {
            id: id.into(),
            status: CheckStatus::Skip,
            message: message.into(),
            evidence: Vec::new(),
        }
    }

    pub(crate) fn with_evidence(mut self, evidence: impl IntoIterator<Item = String>) -> Self {
        self.evidence.extend(evidence);
        self
    }
}

/// Proof that an attestation verified: built only by the chain verifier, so
/// anything holding one holds verified content.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    predicate_type: String,
    manifest_digest: Digest,
    statement_digest: Digest,
    subject: Digest,
    signer: Signer,
    statement: std::sync::Arc<Vec<u8>>,
}

impl VerifiedAttestation {
    pub(crate) fn new(
        predicate_type: String,
        manifest_digest: Digest,
        statement_digest: Digest,
        subject: Digest,
        signer: Signer,
        statement: std::sync::Arc<Vec<u8>>,
    ) -> Self {
        VerifiedAttestation {
            predicate_type,
            manifest_digest,
            statement_digest,
            subject,
            signer,
            statement,
        }
    }

    /// The predicate type.
    pub fn predicate_type(&self) -> &str {
        &self.predicate_type
    }
    /// The attestation manifest digest.
    pub fn manifest_digest(&self) -> &Digest {
        &self.manifest_digest
    }
    /// The statement digest.
    pub fn statement_digest(&self) -> &Digest {
        &self.statement_digest
    }
    /// The platform manifest the statement is about.
    pub fn subject(&self) -> &Digest {
        &self.subject
    }
    /// The key name or certificate identity that signed it.
    pub fn signer(&self) -> &str {
        self.signer.name()
    }
    /// Who signed it, in full.
    pub fn signed_by(&self) -> &Signer {
        &self.signer
    }
    /// The verified in-toto statement bytes, exactly as fetched.
    pub fn statement(&self) -> &[u8] {
        &self.statement
    }

    /// The predicate read into its typed model (SBOM, provenance, VEX, …),
    /// with the default [`crate::Limits`]. Parsed on each call; unknown
    /// predicate types come back as raw JSON.
    pub fn predicate(
        &self,
    ) -> Result<crate::predicate::Predicate, crate::predicate::PredicateError> {
        self.predicate_with_limits(&crate::Limits::default())
    }

    /// [`Self::predicate`] with the given limits (those the verifier used,
    /// say): [`crate::Limits::predicate_limits`] bounds the parse.
    pub fn predicate_with_limits(
        &self,
        limits: &crate::Limits,
    ) -> Result<crate::predicate::Predicate, crate::predicate::PredicateError> {
        crate::predicate::parse_statement_predicate(
            &self.predicate_type,
            &self.statement,
            &limits.predicate_limits(),
        )
    }

    /// The predicate's JSON text exactly as it appears in the verified
    /// statement (for an SBOM: the original CycloneDX or SPDX document).
    pub fn raw_predicate(&self) -> Result<&str, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct Borrowed<'a> {
            #[serde(borrow)]
            predicate: &'a serde_json::value::RawValue,
        }
        serde_json::from_slice::<Borrowed<'_>>(&self.statement).map(|b| b.predicate.get())
    }
}

#[cfg(test)]
mod tests {
    use super::ImageConfig;

    fn user(u: Option<&str>) -> ImageConfig {
        ImageConfig {
            user: u.map(str::to_owned),
            created: None,
        }
    }

    #[test]
    fn root_is_no_user_root_or_uid_zero_with_or_without_a_group() {
        for u in [
            None,
            Some(""),
            Some("root"),
            Some("0"),
            Some("0:0"),
            Some("root:wheel"),
            Some(" 0 "),
            // uid 0 however written: runtimes parse a numeric user as an integer
            Some("00"),
            Some("000:1000"),
            Some("+0"),
            Some("-0"),
            Some(":1000"),
        ] {
            assert!(user(u).runs_as_root(), "{u:?}");
        }
        for u in ["65532", "nonroot", "1000:1000", "10", "0x0", "Root", "01"] {
            assert!(!user(Some(u)).runs_as_root(), "{u}");
        }
    }
}
