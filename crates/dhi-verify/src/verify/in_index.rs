//! BuildKit's in-index attestations (`vnd.docker.reference.type:
//! attestation-manifest`, platform `unknown/unknown`): unsigned in-toto
//! statements (provenance, SBOM) kept in the image index beside the platform
//! manifests they describe.
//!
//! Nothing signs them directly. They count only when a verified signature on
//! the index covers them: that signature names the index digest, the index
//! names the attestation manifest by digest, the manifest names each
//! statement layer by digest, and the statement's subject must name the
//! platform manifest. Without such a signature they are reported as unsigned
//! — neither verified nor broken — and count for no requirement.

use std::sync::Arc;

use super::statement::{check_statement, declared_predicate_type};
use crate::digest::Digest;
use crate::discover::InIndexAttestationEvidence;
use crate::error::{ContentStep, VerifyError};
use crate::oci::{annotation, Descriptor};
use crate::verdict::{AttestationReport, EvidenceSource, Signer, VerifiedAttestation};

use super::Context;

/// Reports each statement of one in-index attestation manifest about
/// `platform`: verified under `index_signer` (a trusted signer of the index
/// `index`), else unsigned.
pub(super) fn verify_in_index(
    a: &InIndexAttestationEvidence,
    platform: &Descriptor,
    index: &Digest,
    index_signer: Option<&Signer>,
    ctx: &Context<'_>,
) -> Vec<AttestationReport> {
    let report = |predicate_type: Option<String>,
                  statement_digest: Option<Digest>,
                  result: Result<VerifiedAttestation, VerifyError>| {
        let unsigned = index_signer.is_none();
        let (verified, reason, error, verified_attestation) = match result {
            Ok(v) => (true, None, None, Some(v)),
            Err(e) => (false, Some(e.to_string()), Some(e), None),
        };
        AttestationReport {
            predicate_type,
            source: EvidenceSource::ImageIndex,
            manifest_digest: a.descriptor.digest,
            statement_digest,
            subject: platform.digest,
            unsigned,
            // Under a verified signature on the index, the statement is
            // vouched for; one that fails its checks is inconsistent.
            signed_but_inconsistent: !unsigned && !verified,
            verified,
            reason,
            signatures: Vec::new(),
            signatures_not_tried: 0,
            error,
            verified_attestation,
        }
    };
    let manifest = match &a.manifest {
        Ok(m) => m,
        Err(e) => {
            return vec![report(
                None,
                None,
                Err(VerifyError::Content {
                    step: ContentStep::InIndexAttestationManifest,
                    source: e.clone(),
                }),
            )]
        }
    };
    let mut reports = Vec::new();
    if a.statements.is_empty() {
        reports.push(report(
            None,
            None,
            Err(VerifyError::AttestationLayers {
                expected: crate::oci::media_type::IN_TOTO,
                found: manifest
                    .layers
                    .iter()
                    .map(|l| l.media_type.clone())
                    .collect(),
            }),
        ));
    }
    for (layer, bytes) in &a.statements {
        let hint = layer
            .annotation(annotation::PREDICATE_TYPE)
            .map(str::to_owned);
        let checked = (|| {
            let statement = bytes.as_ref().map_err(|e| VerifyError::Content {
                step: ContentStep::InIndexAttestationStatement,
                source: e.clone(),
            })?;
            let pt = declared_predicate_type(statement)?;
            if let Some(declared) = &hint {
                if *declared != pt {
                    return Err(VerifyError::StatementPredicateType {
                        expected: declared.clone(),
                        found: pt,
                    });
                }
            }
            check_statement(
                statement,
                &pt,
                &platform.digest,
                ctx.limits.max_statement_subjects,
            )?;
            let signer = index_signer.ok_or(VerifyError::UnsignedInIndex { index: *index })?;
            Ok(VerifiedAttestation::new(
                pt,
                a.descriptor.digest,
                layer.digest,
                platform.digest,
                signer.clone(),
                Arc::clone(statement),
            ))
        })();
        let pt = checked
            .as_ref()
            .ok()
            .map(|v| v.predicate_type().to_owned())
            .or_else(|| hint.clone());
        reports.push(report(pt, Some(layer.digest), checked));
    }
    if a.statements_not_fetched > 0 {
        reports.push(report(
            None,
            None,
            Err(VerifyError::LayersNotFetched {
                count: a.statements_not_fetched,
                limit: ctx.limits.max_referrers,
            }),
        ));
    }
    reports
}
