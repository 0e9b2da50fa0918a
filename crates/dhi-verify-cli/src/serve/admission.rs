//! `POST /validate` and `POST /mutate`: Kubernetes `AdmissionReview`
//! (admission.k8s.io/v1, kube-core's types) for any object with containers.
//!
//! The images are found by the library's workload reader
//! ([`dhi_verify::workload::images_in_object`]), the same walk `deploy`
//! uses. `/validate` allows only when every image verified; `/mutate`
//! additionally pins each verified image to the digest that verified
//! (`name:tag@sha256:…`, a JSONPatch `replace` at the image's JSON Pointer).
//! Fail closed: a failure, an error, a timeout or an object that cannot be
//! read is a denial naming the image and why; DELETE and CONNECT are allowed
//! (nothing new runs); an object without containers is allowed with a
//! warning; an UPDATE is judged by the images it adds (those of the old
//! object were admitted with it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use json_patch::jsonptr::PointerBuf;
use json_patch::{Patch, PatchOperation, ReplaceOperation};
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube_core::DynamicObject;
use tokio::time::Instant;

use dhi_verify::workload::{images_in_object, ImageUse};

use super::verdicts::Answer;
use super::{State, Treatment};

/// Which webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Allow or deny.
    Validate,
    /// Allow with pinning patches, or deny.
    Mutate,
}

impl Mode {
    pub(crate) fn endpoint(self) -> &'static str {
        match self {
            Mode::Validate => "validate",
            Mode::Mutate => "mutate",
        }
    }
}

/// A body that is not an `AdmissionReview` with a request: HTTP 400.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadReview {
    /// Not JSON of the AdmissionReview shape.
    #[error("expected an AdmissionReview (admission.k8s.io/v1) as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An AdmissionReview without `request`.
    #[error("expected an AdmissionReview with a request, found none")]
    NoRequest,
    /// Another API version or kind.
    #[error("expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, found {api_version} {kind}")]
    Version {
        /// What came.
        api_version: String,
        /// What came.
        kind: String,
    },
}

/// The answer to one review: the response review as JSON and whether it
/// allowed.
///
/// `response.patch` is written as the API server documents it, a base64
/// string (Go's `[]byte`); kube-core serializes its `Vec<u8>` as an array of
/// numbers, which Go's decoder happens to accept too, but the documented
/// form is the one to send.
pub(crate) async fn review(
    state: &Arc<State>,
    body: &[u8],
    mode: Mode,
    budget: Duration,
) -> Result<(serde_json::Value, bool), BadReview> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body)?;
    if review.types.api_version != "admission.k8s.io/v1" || review.types.kind != "AdmissionReview" {
        return Err(BadReview::Version {
            api_version: review.types.api_version,
            kind: review.types.kind,
        });
    }
    let request: AdmissionRequest<DynamicObject> =
        review.try_into().map_err(|_| BadReview::NoRequest)?;
    let mut response = decide(state, &request, mode, budget).await;
    let allowed = response.allowed;
    if !allowed {
        // The API server turns a denial below 400 into 400; say what it is.
        response.result.code = 403;
        response.result.reason = "Forbidden".into();
        response.result.status = Some(kube_core::response::StatusSummary::Failure);
    }
    let patch = response.patch.clone();
    let mut value = serde_json::to_value(response.into_review())?;
    if let (Some(bytes), Some(slot)) = (patch, value.pointer_mut("/response/patch")) {
        use base64::Engine as _;
        *slot = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    Ok((value, allowed))
}

async fn decide(
    state: &Arc<State>,
    request: &AdmissionRequest<DynamicObject>,
    mode: Mode,
    budget: Duration,
) -> AdmissionResponse {
    let base = AdmissionResponse::from(request);
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return base;
    }
    let what = describe(request);
    let Some(object) = &request.object else {
        return base.deny(format!(
            "dhi-verify: {what}: the request has no object to read images from"
        ));
    };
    let value = match serde_json::to_value(object) {
        Ok(v) => v,
        Err(e) => return base.deny(format!("dhi-verify: {what}: reading the object: {e}")),
    };
    let workload = match images_in_object(&value) {
        Ok(w) => w,
        Err(e) => return base.deny(format!("dhi-verify: {what}: {e}")),
    };
    if workload.uses.is_empty() {
        let mut response = base;
        let skipped = if workload.skipped.is_empty() {
            String::new()
        } else {
            format!(" (skipped: {})", workload.skipped.join(", "))
        };
        response.warnings = Some(vec![format!(
            "dhi-verify: no container image found in {what}{skipped}; nothing verified"
        )]);
        return response;
    }
    // An UPDATE makes run only the images it adds: those already in the old
    // object were admitted when it was created (a scale, a label change or a
    // new ephemeral container must not fail on them). If the old object
    // cannot be read, every image is checked.
    let admitted = admitted_before(request);
    let judged: Vec<&ImageUse> = workload
        .uses
        .iter()
        .filter(|u| !admitted.contains(u.image.as_str()))
        .collect();
    // The policy's deployment rules: which requirements, or an exemption.
    let mut warnings = Vec::new();
    let mut uses: Vec<(&ImageUse, Option<usize>)> = Vec::new();
    for u in judged {
        let namespace = u.namespace.as_deref().or(request.namespace.as_deref());
        match state.treatment(&u.image, namespace) {
            Treatment::Exempt(why) => warnings.push(format!("dhi-verify: {why}")),
            Treatment::Verify { rule, expired } => {
                if let Some(note) = expired {
                    warnings.push(format!("dhi-verify: {note}"));
                }
                uses.push((u, rule));
            }
        }
    }
    let deadline = Instant::now() + budget;
    // The pod's imagePullSecrets, read through the API server when it can
    // be asked: their credentials over the server's own, for these images.
    let mut verifier = None;
    if let (Some(pull), Some(namespace), false) = (
        &state.pull_secrets,
        request.namespace.as_deref(),
        uses.is_empty(),
    ) {
        // Reading the API may take at most half the admission's budget.
        let read_by = Instant::now() + super::pull_secrets::SECRET_TIMEOUT.min(budget / 2);
        let mut names = super::pull_secrets::names_in(&value);
        if let Some(account) = super::pull_secrets::service_account_of_template(&value) {
            // The secrets its Pods will get from their ServiceAccount (half
            // the reading time, the rest for the secrets).
            let half = read_by.saturating_duration_since(Instant::now()) / 2;
            let (of_account, note) = pull.service_account_names(namespace, &account, half).await;
            names = of_account;
            warnings.extend(note);
        }
        let timeout = read_by.saturating_duration_since(Instant::now());
        if !names.is_empty() {
            let (found, notes) = pull.verifier_for(namespace, &names, timeout).await;
            verifier = found;
            warnings.extend(notes);
        }
    }
    warnings.sort();
    warnings.dedup();
    let with_warnings = |mut r: AdmissionResponse| {
        if !warnings.is_empty() {
            r.warnings = Some(warnings.clone());
        }
        r
    };
    if uses.is_empty() {
        return with_warnings(base);
    }
    let answers = state
        .answers(
            uses.iter().map(|(u, rule)| (u.image.as_str(), *rule)),
            deadline,
            budget,
            verifier.as_ref(),
        )
        .await;
    let mut reasons: Vec<String> = uses
        .iter()
        .filter_map(|(u, rule)| {
            let reason = match answers.get(&(u.image.as_str(), *rule)) {
                Some(answer) => answer.reason(&u.image)?,
                // One answer per distinct image is the contract; a missing
                // one would be a bug here, and is a denial too.
                None => format!("{} was not checked", u.image),
            };
            let by_rule = rule
                .map(|i| format!(" under [[deploy.rules]] entry {}", i + 1))
                .unwrap_or_default();
            Some(format!(
                "{} {:?} ({}){by_rule}: {reason}",
                u.container_kind.as_str(),
                u.container,
                u.pointer
            ))
        })
        .collect();
    if !reasons.is_empty() {
        reasons.dedup();
        return with_warnings(
            base.deny(format!("dhi-verify denied {what}: {}", reasons.join("; "))),
        );
    }
    let response = match mode {
        Mode::Validate => base,
        Mode::Mutate => match pin_patch(&uses, &answers) {
            Ok(ops) if ops.is_empty() => base,
            Ok(ops) => match base.clone().with_patch(Patch(ops)) {
                Ok(patched) => patched,
                Err(e) => base.deny(format!("dhi-verify: {what}: writing the patch: {e}")),
            },
            Err(e) => base.deny(format!("dhi-verify: {what}: {e}")),
        },
    };
    with_warnings(response)
}

/// The images of an UPDATE's old object (empty for a CREATE, or when the
/// old object cannot be read: then everything is checked).
fn admitted_before(request: &AdmissionRequest<DynamicObject>) -> BTreeSet<String> {
    if request.operation != Operation::Update {
        return BTreeSet::new();
    }
    let Some(old) = &request.old_object else {
        return BTreeSet::new();
    };
    serde_json::to_value(old)
        .ok()
        .and_then(|v| images_in_object(&v).ok())
        .map(|w| w.uses.into_iter().map(|u| u.image).collect())
        .unwrap_or_default()
}

/// `Kind namespace/name` for messages.
fn describe(request: &AdmissionRequest<DynamicObject>) -> String {
    let kind = &request.kind.kind;
    let name = if request.name.is_empty() {
        "(generated name)"
    } else {
        request.name.as_str()
    };
    let sub = request
        .sub_resource
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    match request.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}{sub}"),
        _ => format!("{kind} {name}{sub}"),
    }
}

/// A `replace` of each image not written with a digest by
/// `<image as written>@<verified digest>`; images written with a digest
/// need no operation, exempt images (not in `uses`) none either. Every image must have verified (the caller denies
/// otherwise); one that did not is an error here too.
pub(crate) fn pin_patch(
    uses: &[(&ImageUse, Option<usize>)],
    answers: &BTreeMap<(&str, Option<usize>), Answer>,
) -> Result<Vec<PatchOperation>, String> {
    let mut ops = Vec::new();
    for (u, rule) in uses {
        let digest = answers
            .get(&(u.image.as_str(), *rule))
            .and_then(Answer::verified)
            .ok_or_else(|| format!("{} was not verified: not pinning it", u.image))?;
        if u.image.contains('@') {
            continue;
        }
        let path = PointerBuf::parse(u.pointer.as_str())
            .map_err(|e| format!("{}: not a JSON Pointer: {e}", u.pointer))?;
        ops.push(PatchOperation::Replace(ReplaceOperation {
            path,
            value: serde_json::Value::String(format!("{}@{digest}", u.image)),
        }));
    }
    Ok(ops)
}
