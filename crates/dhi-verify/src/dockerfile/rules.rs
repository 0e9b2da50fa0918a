//! The stage rules of a Dockerfile gate, judged on verified verdicts: the
//! final stage (or `--target`) runs on a DHI runtime variant and as a
//! non-root user, and optionally every base image is a Docker Hardened
//! Image. The rules are a policy file's `[dockerfile]` section (and its
//! `[image] non-root`), read into [`DockerfileRules`] beside the
//! [`Policy`](crate::Policy) ([`LoadedPolicy::dockerfile`](crate::policy::LoadedPolicy));
//! [`stage_checks`] turns them into the verdict's [`Check`]s. No I/O.

use crate::reference::Reference;
use crate::verdict::{Check, Verdict};

use super::Stage;

/// The id of the check that the final stage runs on a runtime variant.
pub const RUNTIME_VARIANT_CHECK: &str = "stage.runtime-variant";
/// The id of the check that the final stage runs as a non-root user.
pub const NON_ROOT_CHECK: &str = "stage.non-root";
/// The id of the check that a base image is a Docker Hardened Image.
pub const DHI_IMAGE_CHECK: &str = "stage.dhi-image";

/// The stage rules of a Dockerfile gate (`dhi-verify dockerfile`). Base
/// images are verified with the policy minus `image.non-root` (build stages
/// on `-dev` images run as root by design); these rules judge the final stage
/// and, optionally, every base image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DockerfileRules {
    /// The final stage (or `--target`) must run on a runtime variant
    /// (`[dockerfile] final-stage-runtime-variant`, default true).
    pub final_stage_runtime_variant: bool,
    /// The final stage must run as a non-root user in every verified
    /// platform's configuration (the policy's `[image] non-root`, default true).
    pub final_stage_non_root: bool,
    /// Every base image must be a DHI image (`org.opencontainers.image.title`
    /// starting `dhi/` and a `com.docker.dhi.name` annotation on the verified
    /// index) (`[dockerfile] require-dhi-images`, default false).
    pub require_dhi_images: bool,
}

impl Default for DockerfileRules {
    fn default() -> Self {
        DockerfileRules {
            final_stage_runtime_variant: true,
            final_stage_non_root: true,
            require_dhi_images: false,
        }
    }
}

impl DockerfileRules {
    /// Sets whether the final stage must run on a runtime variant.
    pub fn with_final_stage_runtime_variant(mut self, required: bool) -> Self {
        self.final_stage_runtime_variant = required;
        self
    }

    /// Sets whether the final stage must run as a non-root user.
    pub fn with_final_stage_non_root(mut self, required: bool) -> Self {
        self.final_stage_non_root = required;
        self
    }

    /// Sets whether every base image must be a Docker Hardened Image.
    pub fn with_require_dhi_images(mut self, required: bool) -> Self {
        self.require_dhi_images = required;
        self
    }
}

/// The stage checks for one external image `reference` the build uses, given
/// its verdict (`None` when it could not be verified): when `final_stage` is
/// the stage whose root base it is, the final stage's variant and user (as
/// the rules ask), then, when the rules require DHI images, whether it is one.
/// Each check's evidence names the stage (for the final-stage checks) and the
/// reference.
pub fn stage_checks(
    rules: &DockerfileRules,
    reference: &str,
    final_stage: Option<&Stage>,
    verdict: Option<&Verdict>,
) -> Vec<Check> {
    let mut checks = match final_stage {
        Some(stage) => final_stage_checks(rules, stage, reference, verdict),
        None => Vec::new(),
    };
    if rules.require_dhi_images {
        checks.push(dhi_image_check(reference, verdict));
    }
    checks
}

/// A verified index annotation of `verdict`.
fn annotation<'a>(verdict: Option<&'a Verdict>, key: &str) -> Option<&'a str> {
    verdict
        .and_then(|v| v.annotations.get(key))
        .map(String::as_str)
}

/// The optional rule that every base image is a DHI image: its verified index
/// is titled `dhi/…` and names itself (`com.docker.dhi.name`).
fn dhi_image_check(reference: &str, verdict: Option<&Verdict>) -> Check {
    let is_dhi = annotation(verdict, "org.opencontainers.image.title")
        .is_some_and(|t| t.starts_with("dhi/"))
        && annotation(verdict, "com.docker.dhi.name").is_some();
    let check = if is_dhi {
        Check::pass(
            DHI_IMAGE_CHECK,
            format!("{reference} is a Docker Hardened Image"),
        )
    } else {
        Check::fail(
            DHI_IMAGE_CHECK,
            format!("{reference}: expected a Docker Hardened Image (verified index titled dhi/… with com.docker.dhi.name), found none"),
        )
    };
    check.with_evidence([reference.to_owned()])
}

/// The final stage's rules, judged on its verified base image: the variant
/// from the verified index annotations (`com.docker.dhi.variant`, shell,
/// package manager), and — when the rules ask for it — a non-root user in
/// every verified platform's configuration. Without the annotation (not a DHI
/// image, or not verified) only a `-dev` tag can be judged.
fn final_stage_checks(
    rules: &DockerfileRules,
    stage: &Stage,
    reference: &str,
    verdict: Option<&Verdict>,
) -> Vec<Check> {
    let stage_name = stage.display_name();
    let line = stage.line;
    let evidence = [
        format!("stage {stage_name} (line {line})"),
        reference.to_owned(),
    ];
    let with_evidence = |check: Check| check.with_evidence(evidence.clone());
    let annotation = |k: &str| annotation(verdict, k);
    let mut checks = Vec::new();
    if rules.final_stage_runtime_variant {
        let tag = match Reference::parse(reference) {
            Ok(Reference::Registry(r)) => r.tag,
            Ok(Reference::Layout(l)) => l.tag,
            _ => None,
        };
        let shell = annotation("com.docker.dhi.shell").unwrap_or("");
        let package_manager = annotation("com.docker.dhi.package-manager").unwrap_or("");
        checks.push(with_evidence(match annotation("com.docker.dhi.variant") {
            Some("runtime") if shell.is_empty() && package_manager.is_empty() => Check::pass(
                RUNTIME_VARIANT_CHECK,
                format!("final stage {stage_name} (line {line}) runs on a runtime variant (verified index annotation)"),
            ),
            Some(variant) => Check::fail(
                RUNTIME_VARIANT_CHECK,
                format!(
                    "final stage {stage_name} (line {line}) runs on {reference}, variant {variant:?} with shell {shell:?} and package manager {package_manager:?}: expected a runtime variant"
                ),
            ),
            None => match tag {
                Some(tag) if tag == "dev" || tag.ends_with("-dev") => Check::fail(
                    RUNTIME_VARIANT_CHECK,
                    format!("final stage {stage_name} (line {line}) runs on {reference}, a -dev variant (shell, package manager): expected a runtime variant"),
                ),
                _ => Check::skip(
                    RUNTIME_VARIANT_CHECK,
                    format!("final stage {stage_name} (line {line}) runs on {reference}: no verified com.docker.dhi.variant annotation to tell its variant"),
                ),
            },
        }));
    }
    if rules.final_stage_non_root {
        let configs: Option<Vec<_>> =
            verdict.map(|v| v.platforms.iter().map(|p| p.config.as_ref()).collect());
        checks.push(with_evidence(match configs {
            Some(c) if !c.is_empty() && c.iter().all(|c| c.is_some_and(|c| !c.runs_as_root())) => {
                Check::pass(
                    NON_ROOT_CHECK,
                    format!("final stage {stage_name} (line {line}) runs as a non-root user"),
                )
            }
            Some(c) if !c.is_empty() && c.iter().all(Option::is_some) => Check::fail(
                NON_ROOT_CHECK,
                format!("final stage {stage_name} (line {line}) runs on {reference}, whose configuration runs as root: expected a non-root user"),
            ),
            _ => Check::fail(
                NON_ROOT_CHECK,
                format!("final stage {stage_name} (line {line}): the verified configuration of {reference} could not be read to check its user"),
            ),
        }));
    }
    checks
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::dockerfile::Dockerfile;
    use crate::verdict::CheckStatus;

    fn final_stage(text: &str) -> Stage {
        let file = Dockerfile::parse(text, &BTreeMap::new()).unwrap();
        file.final_stage(None).unwrap().clone()
    }

    fn ids_and_statuses(checks: &[Check]) -> Vec<(&str, CheckStatus)> {
        checks.iter().map(|c| (c.id.as_str(), c.status)).collect()
    }

    #[test]
    fn an_unverified_dev_final_stage_fails_both_final_stage_rules() {
        let stage = final_stage("FROM dhi.io/python:3.13-dev AS app\n");
        let checks = stage_checks(
            &DockerfileRules::default(),
            "dhi.io/python:3.13-dev",
            Some(&stage),
            None,
        );
        assert_eq!(
            ids_and_statuses(&checks),
            [
                (RUNTIME_VARIANT_CHECK, CheckStatus::Fail),
                (NON_ROOT_CHECK, CheckStatus::Fail)
            ]
        );
        assert!(checks[0].message.contains("a -dev variant"), "{checks:#?}");
        assert_eq!(
            checks[1].evidence,
            ["stage app (line 1)", "dhi.io/python:3.13-dev"]
        );
    }

    #[test]
    fn without_a_variant_annotation_a_runtime_tag_cannot_be_judged() {
        let stage = final_stage("FROM dhi.io/python:3.13\n");
        let rules = DockerfileRules::default().with_final_stage_non_root(false);
        let checks = stage_checks(&rules, "dhi.io/python:3.13", Some(&stage), None);
        assert_eq!(
            ids_and_statuses(&checks),
            [(RUNTIME_VARIANT_CHECK, CheckStatus::Skip)]
        );
    }

    #[test]
    fn a_base_image_that_is_not_the_final_stage_is_judged_only_for_being_dhi() {
        let none = stage_checks(&DockerfileRules::default(), "alpine:3", None, None);
        assert!(none.is_empty(), "{none:#?}");
        let rules = DockerfileRules::default().with_require_dhi_images(true);
        let checks = stage_checks(&rules, "alpine:3", None, None);
        assert_eq!(
            ids_and_statuses(&checks),
            [(DHI_IMAGE_CHECK, CheckStatus::Fail)]
        );
        assert_eq!(checks[0].evidence, ["alpine:3"]);
    }
}
