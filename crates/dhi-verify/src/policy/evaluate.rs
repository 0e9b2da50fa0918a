//! The evaluate stage: a policy judged over one platform's verified
//! evidence — its requirements (each required predicate type has a verified
//! attestation; `signature`: a verified signature on the image), then its
//! rules over what the verified attestations say (read once, by the read
//! stage). Pure: no I/O, no trust decision, no clock but the time given.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::rules::{self, Facts};
use super::Policy;
use crate::digest::Digest;
use crate::predicate::PredicateReader;
use crate::requirement::describe_predicate_type;
use crate::verdict::{AttestationReport, Check, ImageConfig, ImageSignatureReport};

/// What the policy judges for one platform.
pub(crate) struct Judged<'a> {
    /// The platform manifest.
    pub platform: &'a Digest,
    /// The index that lists it (the platform manifest itself for a single manifest).
    pub index: &'a Digest,
    /// Every attestation found for it, verified or not (the verify stage's reports).
    pub attestations: &'a [AttestationReport],
    /// Signatures on the image itself.
    pub image_signatures: &'a [ImageSignatureReport],
    /// The verified image configuration.
    pub config: Option<&'a ImageConfig>,
    /// The verified index's annotations.
    pub annotations: &'a BTreeMap<String, String>,
    /// The read stage, shared by every platform of the verification.
    pub predicates: &'a PredicateReader,
    /// The time the rules are judged at.
    pub at: SystemTime,
}

/// The policy's checks for one platform: requirements, then rules.
pub(crate) fn evaluate(policy: &Policy, judged: &Judged<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    let platform = judged.platform;
    for req in policy.requirements() {
        let id = format!("require.{}", req.name());
        if req.is_image_signature() {
            checks.push(image_signature_check(
                id,
                judged.platform,
                judged.index,
                judged.image_signatures,
            ));
            continue;
        }
        let candidates: Vec<&AttestationReport> = judged
            .attestations
            .iter()
            .filter(|a| {
                a.predicate_type
                    .as_deref()
                    .is_some_and(|pt| req.accepts(pt))
            })
            .collect();
        let check = match candidates
            .iter()
            .find_map(|a| a.verified_attestation.as_ref())
        {
            Some(v) => Check::pass(
                id,
                format!(
                    "{} verified: {} signed by {}",
                    describe_predicate_type(v.predicate_type()),
                    v.manifest_digest().short(),
                    v.signer()
                ),
            )
            .with_evidence([v.manifest_digest().to_string()]),
            None if candidates.is_empty() => Check::fail(
                id,
                format!("no {} attestation found for {platform}", req.description()),
            ),
            None => Check::fail(
                id,
                format!(
                    "no verified {} for {platform}: {}",
                    req.description(),
                    candidates
                        .iter()
                        .map(|a| format!(
                            "{}: {}",
                            a.manifest_digest.short(),
                            a.reason.as_deref().unwrap_or("not verified")
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )
            .with_evidence(candidates.iter().map(|a| a.manifest_digest.to_string())),
        };
        checks.push(check);
    }
    checks.extend(rules::evaluate(
        policy,
        &Facts {
            attestations: judged
                .attestations
                .iter()
                .filter_map(|a| a.verified_attestation.as_ref())
                .collect(),
            predicates: judged.predicates,
            config: judged.config,
            annotations: judged.annotations,
            at: judged.at,
        },
    ));
    checks
}

/// The `signature` requirement: one verified signature on the platform
/// manifest or on the index that lists it.
fn image_signature_check(
    id: String,
    platform: &Digest,
    index: &Digest,
    signatures: &[ImageSignatureReport],
) -> Check {
    if let Some(s) = signatures.iter().find(|s| s.signature.verified) {
        let who = s.signature.key.as_deref().unwrap_or("a trusted signer");
        return Check::pass(id, format!("{} signed by {who}", s.subject))
            .with_evidence([s.signature.digest.to_string()]);
    }
    let subjects = if platform == index {
        platform.to_string()
    } else {
        format!("{platform} or its index {index}")
    };
    if signatures.is_empty() {
        return Check::fail(
            id,
            format!("no signature found on {subjects} (referrers and cosign .sig tags)"),
        );
    }
    Check::fail(
        id,
        format!(
            "no verified signature on {subjects}: {}",
            signatures
                .iter()
                .map(|s| format!(
                    "{}: {}",
                    s.signature.digest.short(),
                    s.signature.reason.as_deref().unwrap_or("not verified")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .with_evidence(signatures.iter().map(|s| s.signature.digest.to_string()))
}
