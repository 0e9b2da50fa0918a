//! Which images a deployment runs: every container image of Kubernetes
//! workloads (Pods, controllers, `List`s, CRDs that embed a pod template) and
//! of Compose services, with where each is written.
//!
//! The same walk serves a parsed JSON object (an admission request's object,
//! [`images_in_object`]) and YAML source text with byte spans (the `deploy`
//! command: [`read_manifests`], then [`pin`] to rewrite the images in place),
//! so the two can never disagree on what a workload runs. Kinds
//! without a pod template are skipped and reported, never an error; a
//! container whose image cannot be read is an error (fail closed: an image
//! we cannot see is an image we cannot verify).

mod json;
mod pin;
mod walk;
mod yaml;

pub use pin::{pin, PinError};
pub use yaml::{
    read_manifests, read_manifests_with, ManifestError, ManifestErrorKind, ManifestLimits,
};

use std::ops::Range;

use crate::reference::{Reference, ReferenceError};

/// Where a container image is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ContainerKind {
    /// `spec.containers[]`.
    Container,
    /// `spec.initContainers[]` (including native sidecars).
    Init,
    /// `spec.ephemeralContainers[]` (`kubectl debug`).
    Ephemeral,
    /// A Compose service's `image`.
    ComposeService,
}

impl ContainerKind {
    /// The name used in output: `container`, `initContainer`, `ephemeralContainer`, `service`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::Init => "initContainer",
            ContainerKind::Ephemeral => "ephemeralContainer",
            ContainerKind::ComposeService => "service",
        }
    }
}

/// One place an image is used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageUse {
    /// The image as written.
    pub image: String,
    /// RFC 6901 JSON Pointer of the image string within its document (or
    /// object), e.g. `/spec/template/spec/containers/0/image`: the path of a
    /// JSONPatch that pins it.
    pub pointer: String,
    /// The container's name (the service's, for Compose).
    pub container: String,
    /// Which list the container is in.
    pub container_kind: ContainerKind,
    /// The object's `kind` (`Deployment`, …; `compose` for a Compose file).
    pub kind: String,
    /// The object's `metadata.name` (the project `name` for Compose), when present.
    pub name: Option<String>,
    /// The object's `metadata.namespace`, when present.
    pub namespace: Option<String>,
    /// 0-based index of the document in its source (0 for a single object).
    pub document: usize,
    /// 1-based line of the image scalar in the source text (YAML sources only).
    pub line: Option<usize>,
    /// Byte range of the image scalar in the source text, quotes included (YAML sources only).
    pub span: Option<Range<usize>>,
    /// The source file's name (YAML sources only; `-` for standard input).
    pub file: Option<String>,
}

/// Every image use found in one object or source, and what was skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workload {
    /// The image uses, in source order.
    pub uses: Vec<ImageUse>,
    /// What was skipped, one entry per document or service: the kind of an
    /// object without a pod template (`ConfigMap`, `Service`, …), or
    /// `compose build: <service>` for a Compose service built from source.
    pub skipped: Vec<String>,
}

/// An object whose images cannot be read. Fail closed: the deployment is not
/// verified (exit 2 in the CLI, a denial in admission).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadError {
    /// A field that must be a list, mapping or string is something else.
    #[error("{pointer}: expected {expected}, found {found}")]
    Shape {
        /// Where.
        pointer: String,
        /// What the field must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
        /// 1-based line, for YAML sources.
        line: Option<usize>,
    },
    /// A container without an image: nothing to verify, so nothing may run.
    #[error("{pointer}: container {container:?} has no image")]
    MissingImage {
        /// The container's pointer.
        pointer: String,
        /// The container's name.
        container: String,
        /// 1-based line, for YAML sources.
        line: Option<usize>,
    },
    /// An image that is not a valid registry reference.
    #[error("{pointer}: image {image:?} is not a valid reference: {source}")]
    InvalidImage {
        /// The image's pointer.
        pointer: String,
        /// The image as written.
        image: String,
        /// Why.
        source: ReferenceError,
        /// 1-based line, for YAML sources.
        line: Option<usize>,
    },
    /// A Compose image with `${…}` interpolation: its value is only known
    /// once Compose renders it (`docker compose config`).
    #[error("{pointer}: image {image:?} uses variable interpolation: render it first (`docker compose config | dhi-verify deploy -`)")]
    Interpolated {
        /// The image's pointer.
        pointer: String,
        /// The image as written.
        image: String,
        /// 1-based line, for YAML sources.
        line: Option<usize>,
    },
}

impl WorkloadError {
    /// The 1-based source line, for YAML sources.
    pub fn line(&self) -> Option<usize> {
        match self {
            WorkloadError::Shape { line, .. }
            | WorkloadError::MissingImage { line, .. }
            | WorkloadError::InvalidImage { line, .. }
            | WorkloadError::Interpolated { line, .. } => *line,
        }
    }
}

/// Finds every container image of one Kubernetes object: Pod, Deployment,
/// ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController,
/// PodTemplate, the items of a `List`, and any other kind with a pod
/// template at `spec.template` (Argo Rollouts, OpenKruise, …). A Compose
/// document (top-level `services`, no `kind`) is read too.
///
/// ```
/// let pod = serde_json::json!({
///     "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
///     "spec": {"containers": [{"name": "app", "image": "dhi.io/python:3.13"}]}
/// });
/// let found = dhi_verify::workload::images_in_object(&pod)?;
/// assert_eq!(found.uses[0].pointer, "/spec/containers/0/image");
/// # Ok::<(), dhi_verify::workload::WorkloadError>(())
/// ```
pub fn images_in_object(object: &serde_json::Value) -> Result<Workload, WorkloadError> {
    let mut found = Workload::default();
    walk::document(object, 0, &mut found)?;
    Ok(found)
}

/// The Docker-normalised form of an image written in a manifest
/// (`nginx` → `docker.io/library/nginx:latest`), the key that de-duplicates
/// images. Only registry references: `oci:` layouts are not images a
/// cluster or Compose can pull.
pub fn canonical(image: &str) -> Result<String, ReferenceError> {
    match Reference::parse(image)? {
        Reference::Registry(r) => Ok(Reference::Registry(r).to_string()),
        _ => Err(ReferenceError::NotARegistryReference {
            reference: image.to_owned(),
        }),
    }
}

/// An RFC 6901 reference token: `~` → `~0`, `/` → `~1`.
fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_yaml;
