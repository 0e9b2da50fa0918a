//! SLSA provenance v0.1, v0.2 and v1 read into one [`Provenance`] summary: who built it, how, from which source, with which inputs, when. Does not judge whether the builder is trusted (that is policy).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::PredicateError;
use super::kind::SlsaVersion;
use super::limits::PredicateLimits;
use super::statement::{nullable_vec, require_predicate};
use super::time::{parse_opt, Timestamp};

/// A build provenance summary, the same for SLSA v0.1, v0.2 and v1.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Provenance {
    /// Which SLSA provenance version the predicate was.
    pub slsa_version: SlsaVersion,
    /// `builder.id` (v0.1, v0.2) / `runDetails.builder.id` (v1). BuildKit leaves it empty
    /// outside CI; empty is reported as `None`.
    pub builder_id: Option<String>,
    /// `recipe.type` (v0.1) / `buildType` (v0.2) / `buildDefinition.buildType` (v1).
    pub build_type: Option<String>,
    /// Where the build definition came from, when the provenance says: in
    /// v0.1 the material `recipe.definedInMaterial` points at, in v0.2
    /// `invocation.configSource`, in v1 `externalParameters` (see
    /// `docs/predicates.md`).
    pub source: Option<SourceRef>,
    /// The entry point (`recipe.entryPoint` in v0.1, `invocation.configSource.entryPoint`
    /// in v0.2; in v1 `externalParameters.configSource.path` (BuildKit) or
    /// `workflow.path` (GitHub)).
    pub entry_point: Option<String>,
    /// `materials` (v0.1, v0.2) / `buildDefinition.resolvedDependencies` (v1).
    pub dependencies: Vec<ResolvedDependency>,
    /// `metadata.buildStartedOn` (v0.1, v0.2) / `runDetails.metadata.startedOn` (v1).
    pub started_on: Option<Timestamp>,
    /// `metadata.buildFinishedOn` (v0.1, v0.2) / `runDetails.metadata.finishedOn` (v1).
    pub finished_on: Option<Timestamp>,
}

/// The source a build was defined by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SourceRef {
    /// Repository URI without the `#ref` / `@ref` suffix
    /// (`https://github.com/docker-hardened-images/catalog.git`).
    pub repository: String,
    /// The ref (`refs/heads/main`) when the URI or parameters name one.
    pub reference: Option<String>,
    /// The commit (`sha1`/`gitCommit` digest or BuildKit's `vcs.revision`).
    pub commit: Option<String>,
}

/// One input of the build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ResolvedDependency {
    /// `uri` (`pkg:docker/debian@13?platform=linux%2Famd64`, `git+https://…`).
    pub uri: Option<String>,
    /// `name` (v1 only).
    pub name: Option<String>,
    /// Digests by algorithm (`sha256` → hex).
    pub digests: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawDigestSet(#[serde(deserialize_with = "digest_map")] BTreeMap<String, String>);

fn digest_map<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(de)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct RawMaterial {
    uri: Option<String>,
    name: Option<String>,
    digest: Option<RawDigestSet>,
}

impl From<RawMaterial> for ResolvedDependency {
    fn from(m: RawMaterial) -> Self {
        Self {
            uri: m.uri.filter(|u| !u.is_empty()),
            name: m.name.filter(|n| !n.is_empty()),
            digests: m.digest.map(|d| d.0).unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct RawBuilder {
    id: Option<String>,
}

// ---- v0.1 ----

#[derive(Deserialize)]
struct RawV01 {
    builder: Option<RawBuilder>,
    recipe: Option<RawRecipe>,
    #[serde(default, deserialize_with = "nullable_vec")]
    materials: Vec<RawMaterial>,
    /// Same field names as v0.2's (`buildStartedOn`, `buildFinishedOn`).
    metadata: Option<RawV02Metadata>,
}

#[derive(Deserialize)]
struct RawRecipe {
    #[serde(rename = "type")]
    recipe_type: Option<String>,
    /// Index into `materials` of the material holding the recipe (the source).
    #[serde(rename = "definedInMaterial")]
    defined_in_material: Option<u64>,
    #[serde(rename = "entryPoint")]
    entry_point: Option<String>,
}

// ---- v0.2 ----

#[derive(Deserialize)]
struct RawV02 {
    builder: Option<RawBuilder>,
    #[serde(rename = "buildType")]
    build_type: Option<String>,
    invocation: Option<RawInvocation>,
    #[serde(default, deserialize_with = "nullable_vec")]
    materials: Vec<RawMaterial>,
    metadata: Option<RawV02Metadata>,
}

#[derive(Deserialize)]
struct RawInvocation {
    #[serde(rename = "configSource")]
    config_source: Option<RawConfigSource>,
}

#[derive(Deserialize)]
struct RawConfigSource {
    uri: Option<String>,
    digest: Option<RawDigestSet>,
    #[serde(rename = "entryPoint")]
    entry_point: Option<String>,
    /// BuildKit v1 `externalParameters.configSource.path`.
    path: Option<String>,
}

#[derive(Deserialize)]
struct RawV02Metadata {
    #[serde(rename = "buildStartedOn")]
    build_started_on: Option<String>,
    #[serde(rename = "buildFinishedOn")]
    build_finished_on: Option<String>,
    #[serde(rename = "https://mobyproject.org/buildkit@v1#metadata")]
    buildkit: Option<RawBuildkitMetadata>,
}

#[derive(Deserialize)]
struct RawBuildkitMetadata {
    vcs: Option<RawVcs>,
}

#[derive(Deserialize)]
struct RawVcs {
    source: Option<String>,
    revision: Option<String>,
}

// ---- v1 ----

#[derive(Deserialize)]
struct RawV1 {
    #[serde(rename = "buildDefinition")]
    build_definition: Option<RawBuildDefinition>,
    #[serde(rename = "runDetails")]
    run_details: Option<RawRunDetails>,
}

#[derive(Deserialize)]
struct RawBuildDefinition {
    #[serde(rename = "buildType")]
    build_type: Option<String>,
    #[serde(rename = "externalParameters")]
    external_parameters: Option<RawExternalParameters>,
    #[serde(
        rename = "resolvedDependencies",
        default,
        deserialize_with = "nullable_vec"
    )]
    resolved_dependencies: Vec<RawMaterial>,
}

#[derive(Deserialize)]
struct RawExternalParameters {
    /// BuildKit.
    #[serde(rename = "configSource")]
    config_source: Option<RawConfigSource>,
    /// GitHub Actions generic generator: `{repository, ref, path}`.
    workflow: Option<RawWorkflow>,
}

#[derive(Deserialize)]
struct RawWorkflow {
    repository: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    path: Option<String>,
}

#[derive(Deserialize)]
struct RawRunDetails {
    builder: Option<RawBuilder>,
    metadata: Option<RawV1Metadata>,
}

#[derive(Deserialize)]
struct RawV1Metadata {
    #[serde(rename = "startedOn")]
    started_on: Option<String>,
    #[serde(rename = "finishedOn")]
    finished_on: Option<String>,
    /// BuildKit writes `buildkit_metadata` in v1 (and the v0.2 key in some versions).
    #[serde(
        rename = "buildkit_metadata",
        alias = "https://mobyproject.org/buildkit@v1#metadata"
    )]
    buildkit: Option<RawBuildkitMetadata>,
}

/// Splits `https://github.com/o/r.git#refs/heads/main` (BuildKit) or
/// `git+https://github.com/o/r@refs/heads/main` (SLSA GitHub generator) into
/// repository and ref.
fn split_source_uri(uri: &str) -> (String, Option<String>) {
    if let Some((repo, r)) = uri.split_once('#') {
        return (
            repo.to_owned(),
            Some(r.to_owned()).filter(|r| !r.is_empty()),
        );
    }
    if let Some(rest) = uri.strip_prefix("git+") {
        // the ref follows the last '@' after the host part
        let host_start = rest.find("://").map_or(0, |i| i + 3);
        if let Some(at) = rest[host_start..].rfind('@') {
            let at = host_start + at;
            if rest[host_start..at].contains('/') {
                return (
                    rest[..at].to_owned(),
                    Some(rest[at + 1..].to_owned()).filter(|r| !r.is_empty()),
                );
            }
        }
        return (rest.to_owned(), None);
    }
    (uri.to_owned(), None)
}

fn commit_of(digests: &BTreeMap<String, String>) -> Option<String> {
    digests
        .get("sha1")
        .or_else(|| digests.get("gitCommit"))
        .or_else(|| digests.get("sha256"))
        .filter(|c| !c.is_empty())
        .cloned()
}

fn source_from(config: Option<&RawConfigSource>, vcs: Option<RawVcs>) -> Option<SourceRef> {
    let from_config = config.and_then(|c| {
        let uri = c.uri.as_deref().filter(|u| !u.is_empty())?;
        let (repository, reference) = split_source_uri(uri);
        let commit = c.digest.as_ref().and_then(|d| commit_of(&d.0));
        Some(SourceRef {
            repository,
            reference,
            commit,
        })
    });
    let vcs = vcs.and_then(|v| {
        let repository = v.source.filter(|s| !s.is_empty())?;
        Some(SourceRef {
            repository,
            reference: None,
            commit: v.revision.filter(|r| !r.is_empty()),
        })
    });
    match (from_config, vcs) {
        (Some(mut c), Some(v)) => {
            if c.commit.is_none() {
                c.commit = v.commit;
            }
            Some(c)
        }
        (c, v) => c.or(v),
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// Parses SLSA provenance of `version` from statement bytes.
pub(crate) fn parse(
    version: SlsaVersion,
    predicate_type: &str,
    statement_bytes: &[u8],
    limits: &PredicateLimits,
) -> Result<Provenance, PredicateError> {
    match version {
        SlsaVersion::V0_1 => {
            let raw: RawV01 = require_predicate(predicate_type, statement_bytes, limits)?;
            let (started, finished) = match raw.metadata {
                Some(m) => (m.build_started_on, m.build_finished_on),
                None => (None, None),
            };
            let (build_type, defined_in, entry_point) = match raw.recipe {
                Some(r) => (r.recipe_type, r.defined_in_material, r.entry_point),
                None => (None, None, None),
            };
            // SLSA v0.1: "recipe.definedInMaterial: Index in materials containing
            // the recipe steps", i.e. the source, with uri and digest like v0.2's
            // configSource. An index past the end names no source.
            let config = defined_in
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| raw.materials.get(i))
                .map(|m| RawConfigSource {
                    uri: m.uri.clone(),
                    digest: m.digest.as_ref().map(|d| RawDigestSet(d.0.clone())),
                    entry_point: None,
                    path: None,
                });
            Ok(Provenance {
                slsa_version: SlsaVersion::V0_1,
                builder_id: non_empty(raw.builder.and_then(|b| b.id)),
                build_type: non_empty(build_type),
                source: source_from(config.as_ref(), None),
                entry_point: non_empty(entry_point),
                dependencies: raw.materials.into_iter().map(Into::into).collect(),
                started_on: parse_opt(started.as_deref(), "predicate.metadata.buildStartedOn")?,
                finished_on: parse_opt(finished.as_deref(), "predicate.metadata.buildFinishedOn")?,
            })
        }
        SlsaVersion::V0_2 => {
            let raw: RawV02 = require_predicate(predicate_type, statement_bytes, limits)?;
            let config = raw.invocation.and_then(|i| i.config_source);
            let (started, finished, buildkit) = match raw.metadata {
                Some(m) => (m.build_started_on, m.build_finished_on, m.buildkit),
                None => (None, None, None),
            };
            Ok(Provenance {
                slsa_version: SlsaVersion::V0_2,
                builder_id: non_empty(raw.builder.and_then(|b| b.id)),
                build_type: non_empty(raw.build_type),
                source: source_from(config.as_ref(), buildkit.and_then(|b| b.vcs)),
                entry_point: non_empty(config.and_then(|c| c.entry_point)),
                dependencies: raw.materials.into_iter().map(Into::into).collect(),
                started_on: parse_opt(started.as_deref(), "predicate.metadata.buildStartedOn")?,
                finished_on: parse_opt(finished.as_deref(), "predicate.metadata.buildFinishedOn")?,
            })
        }
        SlsaVersion::V1 => {
            let raw: RawV1 = require_predicate(predicate_type, statement_bytes, limits)?;
            let definition = raw
                .build_definition
                .ok_or_else(|| PredicateError::InvalidValue {
                    path: "predicate.buildDefinition".to_owned(),
                    expected: "an object (required by SLSA v1)",
                    found: "(missing)".to_owned(),
                })?;
            let (builder, metadata) = match raw.run_details {
                Some(r) => (r.builder, r.metadata),
                None => (None, None),
            };
            let (started, finished, buildkit) = match metadata {
                Some(m) => (m.started_on, m.finished_on, m.buildkit),
                None => (None, None, None),
            };
            let params = definition.external_parameters;
            let (config, workflow) = match params {
                Some(p) => (p.config_source, p.workflow),
                None => (None, None),
            };
            let mut source = source_from(config.as_ref(), buildkit.and_then(|b| b.vcs));
            let mut entry_point =
                config.and_then(|c| non_empty(c.path).or(non_empty(c.entry_point)));
            if let Some(w) = workflow {
                if source.is_none() {
                    if let Some(repository) = non_empty(w.repository) {
                        // The generator lists the source commit as a resolved
                        // dependency `git+<repository>@<ref>` with a gitCommit digest.
                        let commit = definition
                            .resolved_dependencies
                            .iter()
                            .filter(|d| {
                                d.uri.as_deref().is_some_and(|u| {
                                    u.contains(repository.trim_end_matches(".git"))
                                })
                            })
                            .find_map(|d| d.digest.as_ref().and_then(|d| commit_of(&d.0)));
                        source = Some(SourceRef {
                            repository,
                            reference: non_empty(w.reference),
                            commit,
                        });
                    }
                }
                if entry_point.is_none() {
                    entry_point = non_empty(w.path);
                }
            }
            Ok(Provenance {
                slsa_version: SlsaVersion::V1,
                builder_id: non_empty(builder.and_then(|b| b.id)),
                build_type: non_empty(definition.build_type),
                source,
                entry_point,
                dependencies: definition
                    .resolved_dependencies
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                started_on: parse_opt(
                    started.as_deref(),
                    "predicate.runDetails.metadata.startedOn",
                )?,
                finished_on: parse_opt(
                    finished.as_deref(),
                    "predicate.runDetails.metadata.finishedOn",
                )?,
            })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;
    use crate::predicate::test_support::random_strings;

    #[test]
    fn source_uris_of_buildkit_and_the_github_generator_are_split() {
        assert_eq!(
            split_source_uri("https://github.com/o/r.git#refs/heads/main"),
            (
                "https://github.com/o/r.git".to_owned(),
                Some("refs/heads/main".to_owned())
            )
        );
        assert_eq!(
            split_source_uri("git+https://github.com/o/r@refs/tags/v1"),
            (
                "https://github.com/o/r".to_owned(),
                Some("refs/tags/v1".to_owned())
            )
        );
        assert_eq!(
            split_source_uri("git+https://user@github.com"),
            ("https://user@github.com".to_owned(), None)
        );
        assert_eq!(
            split_source_uri("https://x/y"),
            ("https://x/y".to_owned(), None)
        );
    }

    #[test]
    fn random_strings_never_panic_the_source_uri_splitter() {
        for s in random_strings() {
            let (repository, _) = split_source_uri(&s);
            assert!(s.contains(repository.as_str()), "{s:?}");
        }
    }
}
