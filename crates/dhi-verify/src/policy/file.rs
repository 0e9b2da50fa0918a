//! The policy file: TOML (or JSON) into a [`Policy`] and a [`TrustRoot`].
//! Every table refuses unknown fields; every error names the field and, where
//! the text allows, the line and column. Reading only: no evaluation here.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use serde::Deserialize;

use super::deploy::{DeployRules, Exemption, ImageRule};
use super::glob::Glob;
use super::time::parse_date_or_time;
use super::{
    AllowedVulnerability, ImageRules, PlatformRule, Policy, ProvenanceRules, SbomRules, Severity,
    TlogMode, UnderInvestigation, VulnerabilityRules,
};
use crate::requirement::Requirement;
use crate::trust::{
    CertificateClaim, KeylessIdentity, Matcher, SigstoreTrust, TrustRoot, TrustedKey,
};

/// Largest policy file read: 1 MiB.
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// The built-in DHI policy as a commented file (`dhi-verify policy init`).
pub const DEFAULT_POLICY_TOML: &str = include_str!("default.toml");

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file could not be read.
    #[error("reading policy {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The file is larger than [`MAX_POLICY_BYTES`].
    #[error("policy is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not valid TOML/JSON, a wrong type, or an unknown field.
    #[error("{}:{line}:{column}: {message}", source_name(path))]
    Syntax {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A value that parses but means nothing valid (bad regex, date, alias, key).
    #[error("{}:{line}:{column}: {field}: {message}", source_name(path))]
    Invalid {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// The field, e.g. `trust.identities[0].subject-regexp`.
        field: String,
        /// 1-based line of the value (0 when it could not be located).
        line: usize,
        /// 1-based column of the value.
        column: usize,
        /// What is wrong, with what was expected.
        message: String,
    },
}

fn source_name(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(|| "policy".to_owned(), |p| p.display().to_string())
}

/// A policy file read into the verifier's two inputs.
#[derive(Debug, Clone)]
pub struct LoadedPolicy {
    /// The rules.
    pub policy: Policy,
    /// Whose signatures count.
    pub trust: TrustRoot,
    /// Per-image and per-namespace rules for deployments (`[[deploy.rules]]`, `[[deploy.exempt]]`).
    pub deploy: DeployRules,
    /// The stage rules of `dhi-verify dockerfile` (`[dockerfile]`, and
    /// `[image] non-root` for the final stage).
    pub dockerfile: crate::dockerfile::DockerfileRules,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    version: u32,
    #[serde(default)]
    trust: TrustSection,
    #[serde(default)]
    require: RequireSection,
    #[serde(default)]
    provenance: ProvenanceSection,
    #[serde(default)]
    sbom: SbomSection,
    #[serde(default)]
    vulnerabilities: VulnerabilitySection,
    #[serde(default)]
    image: ImageSection,
    #[serde(default)]
    dockerfile: DockerfileSection,
    #[serde(default)]
    deploy: DeploySection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DeploySection {
    #[serde(default)]
    rules: Vec<DeployRuleSpec>,
    #[serde(default)]
    exempt: Vec<ExemptSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DeployRuleSpec {
    images: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    require: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ExemptSpec {
    images: Vec<String>,
    #[serde(default)]
    namespaces: Vec<String>,
    expires: String,
    reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct DockerfileSection {
    final_stage_runtime_variant: Option<bool>,
    require_dhi_images: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TrustSection {
    keyring: Option<Vec<String>>,
    #[serde(default)]
    keys: Vec<KeySpec>,
    #[serde(default)]
    identities: Vec<IdentitySpec>,
    trusted_root: Option<PathBuf>,
    tlog: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KeySpec {
    name: Option<String>,
    path: Option<PathBuf>,
    pem: Option<String>,
    not_before: Option<String>,
    not_after: Option<String>,
}

// Not `deny_unknown_fields` (serde cannot combine it with `flatten`): every
// other key lands in `claims` and must be a certificate claim's name, else it
// is refused by `parse_policy` as an unknown field.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct IdentitySpec {
    issuer: Option<String>,
    issuer_glob: Option<String>,
    issuer_regexp: Option<String>,
    subject: Option<String>,
    subject_glob: Option<String>,
    subject_regexp: Option<String>,
    /// `<claim>`, `<claim>-glob` or `<claim>-regexp` for a [`CertificateClaim`] name.
    #[serde(flatten)]
    claims: std::collections::BTreeMap<String, String>,
}

/// A glob (`*`, `?`) as a regular expression: every other character literal.
fn glob_to_regex(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c if "\\.+()|[]{}^$#&-~".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RequireSection {
    attestations: Option<Vec<String>>,
    platforms: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProvenanceSection {
    #[serde(default)]
    builder_ids: Vec<String>,
    #[serde(default)]
    build_types: Vec<String>,
    #[serde(default)]
    source_repositories: Vec<String>,
    #[serde(default)]
    source_refs: Vec<String>,
    max_age_days: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SbomSection {
    #[serde(default)]
    deny_packages: Vec<String>,
    #[serde(default)]
    deny_licenses: Vec<String>,
    #[serde(default)]
    require_packages: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct VulnerabilitySection {
    max_severity: Option<String>,
    under_investigation: Option<String>,
    #[serde(default)]
    allow: Vec<AllowSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AllowSpec {
    id: String,
    expires: Option<String>,
    #[allow(dead_code)] // documentation for people reading the policy
    reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ImageSection {
    non_root: Option<bool>,
    runtime_variant: Option<bool>,
    not_end_of_life: Option<bool>,
    max_age_days: Option<u32>,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Where `value` first appears as a string literal in `text` (for messages).
fn locate(text: &str, value: &str) -> (usize, usize) {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    text.find(&quoted)
        .or_else(|| text.find(value))
        .map_or((0, 0), |at| line_col(text, at))
}

/// Parses policy text. `base` resolves relative key and trusted-root paths;
/// `path` names the file in messages. JSON is recognised by a leading `{`.
pub fn parse_policy(
    text: &str,
    base: &Path,
    path: Option<&Path>,
) -> Result<LoadedPolicy, PolicyError> {
    let path_buf = path.map(Path::to_path_buf);
    let file: File = if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| PolicyError::Syntax {
            path: path_buf.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?
    } else {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            PolicyError::Syntax {
                path: path_buf.clone(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?
    };
    let invalid = |field: String, value: &str, message: String| {
        let (line, column) = locate(text, value);
        PolicyError::Invalid {
            path: path_buf.clone(),
            field,
            line,
            column,
            message,
        }
    };
    if file.version != 1 {
        return Err(invalid(
            "version".into(),
            "version",
            format!("expected 1, found {}", file.version),
        ));
    }

    // [trust]
    let mut keys = Vec::new();
    let keyring = file.trust.keyring.clone().unwrap_or_else(|| {
        if file.trust.keys.is_empty() && file.trust.identities.is_empty() {
            vec!["dhi".to_owned()]
        } else {
            Vec::new()
        }
    });
    for (i, name) in keyring.iter().enumerate() {
        match name.as_str() {
            "dhi" => keys.extend(TrustRoot::dhi_embedded().keys().iter().cloned()),
            other => {
                return Err(invalid(
                    format!("trust.keyring[{i}]"),
                    other,
                    format!("unknown keyring {other:?}: expected \"dhi\""),
                ))
            }
        }
    }
    for (i, k) in file.trust.keys.iter().enumerate() {
        let field = format!("trust.keys[{i}]");
        let (pem, name) = match (&k.pem, &k.path) {
            (Some(pem), None) => (
                pem.clone(),
                k.name.clone().unwrap_or_else(|| format!("key {i}")),
            ),
            (None, Some(p)) => {
                let full = base.join(p);
                let pem = std::fs::read_to_string(&full).map_err(|e| {
                    invalid(
                        format!("{field}.path"),
                        &p.display().to_string(),
                        format!("reading {}: {e}", full.display()),
                    )
                })?;
                (
                    pem,
                    k.name.clone().unwrap_or_else(|| p.display().to_string()),
                )
            }
            _ => {
                return Err(invalid(
                    field,
                    "keys",
                    "expected exactly one of `path` or `pem`".into(),
                ));
            }
        };
        let mut key = TrustedKey::from_pem(name, &pem).map_err(|e| {
            invalid(
                format!("{field}.pem"),
                k.pem.as_deref().unwrap_or("keys"),
                e.to_string(),
            )
        })?;
        if let Some(t) = &k.not_before {
            let secs = parse_date_or_time(t)
                .map_err(|m| invalid(format!("{field}.not-before"), t, m.to_string()))?;
            key = key.valid_from(UNIX_EPOCH + Duration::from_secs(secs));
        }
        if let Some(t) = &k.not_after {
            let secs = parse_date_or_time(t)
                .map_err(|m| invalid(format!("{field}.not-after"), t, m.to_string()))?;
            key = key.valid_until(UNIX_EPOCH + Duration::from_secs(secs));
        }
        keys.push(key);
    }
    let mut trust = TrustRoot::from_keys(keys);
    if let Some(p) = &file.trust.trusted_root {
        let full = base.join(p);
        let json = std::fs::read(&full).map_err(|e| {
            invalid(
                "trust.trusted-root".into(),
                &p.display().to_string(),
                format!("reading {}: {e}", full.display()),
            )
        })?;
        let root = SigstoreTrust::from_trusted_root_json(&json).map_err(|e| {
            invalid(
                "trust.trusted-root".into(),
                &p.display().to_string(),
                e.to_string(),
            )
        })?;
        trust = trust.with_sigstore_trust(root);
    }
    for (i, id) in file.trust.identities.iter().enumerate() {
        let field = format!("trust.identities[{i}]");
        // Exactly one of exact, glob or regex; globs and regexes are anchored by `Matcher`.
        let matcher = |exact: &Option<String>,
                       glob: &Option<String>,
                       regexp: &Option<String>,
                       name: &str|
         -> Result<Matcher, PolicyError> {
            match (exact, glob, regexp) {
                (Some(e), None, None) => Ok(Matcher::exact(e.clone())),
                (None, Some(g), None) => Matcher::regex(&glob_to_regex(g))
                    .map_err(|e| invalid(format!("{field}.{name}-glob"), g, e.to_string())),
                (None, None, Some(r)) => Matcher::regex(r)
                    .map_err(|e| invalid(format!("{field}.{name}-regexp"), r, e.to_string())),
                _ => Err(invalid(
                    field.clone(),
                    "identities",
                    format!("expected exactly one of `{name}`, `{name}-glob` or `{name}-regexp`"),
                )),
            }
        };
        // Certificate claims (checked first, so a misspelt field is named as
        // such): each key names a claim, with an optional form suffix.
        let mut forms: Vec<(CertificateClaim, [Option<String>; 3])> = Vec::new();
        for (key, value) in &id.claims {
            let (name, form) = match (key.strip_suffix("-glob"), key.strip_suffix("-regexp")) {
                (Some(n), _) => (n, 1),
                (_, Some(n)) => (n, 2),
                _ => (key.as_str(), 0),
            };
            let Some(claim) = CertificateClaim::from_name(name) else {
                return Err(invalid(
                    format!("{field}.{key}"),
                    key,
                    format!(
                        "unknown field {key:?}: expected issuer[-glob|-regexp], subject[-glob|-regexp] or a certificate claim ({})[-glob|-regexp]",
                        CertificateClaim::ALL.map(CertificateClaim::name).join(", ")
                    ),
                ));
            };
            match forms.iter_mut().find(|(c, _)| *c == claim) {
                Some((_, f)) => f[form] = Some(value.clone()),
                None => {
                    let mut f = [None, None, None];
                    f[form] = Some(value.clone());
                    forms.push((claim, f));
                }
            }
        }
        let issuer = matcher(&id.issuer, &id.issuer_glob, &id.issuer_regexp, "issuer")?;
        let subject = matcher(&id.subject, &id.subject_glob, &id.subject_regexp, "subject")?;
        let mut identity = KeylessIdentity::new(issuer, subject);
        for (claim, [exact, glob, regexp]) in &forms {
            identity = identity.require(*claim, matcher(exact, glob, regexp, claim.name())?);
        }
        trust = trust.with_identity(identity);
    }
    let tlog = match file.trust.tlog.as_deref() {
        None | Some("if-present") => TlogMode::IfPresent,
        Some("never") => TlogMode::Never,
        Some("always") => TlogMode::Always,
        Some(other) => {
            return Err(invalid(
                "trust.tlog".into(),
                other,
                format!("expected never, if-present or always, found {other:?}"),
            ))
        }
    };

    // [require]
    let requirements = match &file.require.attestations {
        None => vec!["provenance".to_owned(), "sbom".to_owned()],
        Some(list) => list.clone(),
    };
    let requirements = requirements
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Requirement::parse(r)
                .map_err(|e| invalid(format!("require.attestations[{i}]"), r, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let platforms = match file.require.platforms.as_deref() {
        None | Some("all") => PlatformRule::All,
        Some("any") => PlatformRule::Any,
        Some(other) => {
            return Err(invalid(
                "require.platforms".into(),
                other,
                format!("expected all or any, found {other:?}"),
            ))
        }
    };

    let globs = |list: &[String], field: &str| -> Result<Vec<Glob>, PolicyError> {
        list.iter()
            .enumerate()
            .map(|(i, g)| {
                Glob::new(g).map_err(|m| invalid(format!("{field}[{i}]"), g, m.to_string()))
            })
            .collect()
    };
    let provenance = ProvenanceRules {
        builder_ids: globs(&file.provenance.builder_ids, "provenance.builder-ids")?,
        build_types: globs(&file.provenance.build_types, "provenance.build-types")?,
        source_repositories: globs(
            &file.provenance.source_repositories,
            "provenance.source-repositories",
        )?,
        source_refs: globs(&file.provenance.source_refs, "provenance.source-refs")?,
        max_age_days: file.provenance.max_age_days,
    };
    let sbom = SbomRules {
        deny_packages: globs(&file.sbom.deny_packages, "sbom.deny-packages")?,
        deny_licenses: globs(&file.sbom.deny_licenses, "sbom.deny-licenses")?,
        require_packages: globs(&file.sbom.require_packages, "sbom.require-packages")?,
    };
    let max_severity = match &file.vulnerabilities.max_severity {
        None => None,
        Some(s) => Some(Severity::parse(s).ok_or_else(|| {
            invalid(
                "vulnerabilities.max-severity".into(),
                s,
                format!("expected low, medium, high or critical, found {s:?}"),
            )
        })?),
    };
    let under_investigation = match file.vulnerabilities.under_investigation.as_deref() {
        None | Some("affected") => UnderInvestigation::Affected,
        Some("not-affected") => UnderInvestigation::NotAffected,
        Some(other) => {
            return Err(invalid(
                "vulnerabilities.under-investigation".into(),
                other,
                format!("expected affected or not-affected, found {other:?}"),
            ))
        }
    };
    let allow = file
        .vulnerabilities
        .allow
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let expires = match &a.expires {
                None => None,
                Some(t) => Some(parse_date_or_time(t).map_err(|m| {
                    invalid(
                        format!("vulnerabilities.allow[{i}].expires"),
                        t,
                        m.to_string(),
                    )
                })?),
            };
            Ok(AllowedVulnerability {
                id: a.id.clone(),
                expires_unix: expires,
            })
        })
        .collect::<Result<Vec<_>, PolicyError>>()?;
    let image = ImageRules {
        non_root: file.image.non_root.unwrap_or(true),
        runtime_variant: file.image.runtime_variant.unwrap_or(false),
        not_end_of_life: file.image.not_end_of_life.unwrap_or(false),
        max_age_days: file.image.max_age_days,
    };
    let defaults = crate::dockerfile::DockerfileRules::default();
    let dockerfile = crate::dockerfile::DockerfileRules {
        final_stage_runtime_variant: file
            .dockerfile
            .final_stage_runtime_variant
            .unwrap_or(defaults.final_stage_runtime_variant),
        // The image rule, lifted from the base images, judges the final stage.
        final_stage_non_root: image.non_root,
        require_dhi_images: file
            .dockerfile
            .require_dhi_images
            .unwrap_or(defaults.require_dhi_images),
    };
    let deploy = deploy_rules(&file.deploy, &invalid)?;
    Ok(LoadedPolicy {
        deploy,
        dockerfile,
        policy: Policy {
            requirements,
            tlog,
            platforms,
            provenance,
            sbom,
            vulnerabilities: VulnerabilityRules {
                max_severity,
                under_investigation,
                allow,
            },
            image,
        },
        trust,
    })
}

/// `[[deploy.rules]]` and `[[deploy.exempt]]`: patterns compiled, every
/// rule requiring something, every exemption ending.
fn deploy_rules(
    section: &DeploySection,
    invalid: &dyn Fn(String, &str, String) -> PolicyError,
) -> Result<DeployRules, PolicyError> {
    let globs = |field: String, patterns: &[String], what: &str| {
        if patterns.is_empty() {
            return Err(invalid(
                field,
                "deploy",
                format!("expected at least one {what} pattern, found none"),
            ));
        }
        patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Glob::new(p).map_err(|e| invalid(format!("{field}[{i}]"), p, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let namespaces = |field: String, patterns: &[String]| {
        if patterns.is_empty() {
            Ok(Vec::new())
        } else {
            globs(field, patterns, "namespace")
        }
    };
    let mut rules = Vec::new();
    for (i, r) in section.rules.iter().enumerate() {
        let field = format!("deploy.rules[{i}]");
        if r.require.is_empty() {
            return Err(invalid(
                format!("{field}.require"),
                "require",
                "expected at least one requirement: a rule requiring nothing would pass any image"
                    .into(),
            ));
        }
        let require = r
            .require
            .iter()
            .enumerate()
            .map(|(j, q)| {
                Requirement::parse(q)
                    .map_err(|e| invalid(format!("{field}.require[{j}]"), q, e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        rules.push(ImageRule {
            images: globs(format!("{field}.images"), &r.images, "image")?,
            namespaces: namespaces(format!("{field}.namespaces"), &r.namespaces)?,
            require,
        });
    }
    let mut exemptions = Vec::new();
    for (i, e) in section.exempt.iter().enumerate() {
        let field = format!("deploy.exempt[{i}]");
        let expires_unix = parse_date_or_time(&e.expires)
            .map_err(|m| invalid(format!("{field}.expires"), &e.expires, m.to_string()))?;
        exemptions.push(Exemption {
            images: globs(format!("{field}.images"), &e.images, "image")?,
            namespaces: namespaces(format!("{field}.namespaces"), &e.namespaces)?,
            expires_unix,
            reason: e.reason.clone(),
        });
    }
    Ok(DeployRules { rules, exemptions })
}

/// Reads and parses a policy file (capped at [`MAX_POLICY_BYTES`]).
pub fn load_policy(path: &Path) -> Result<LoadedPolicy, PolicyError> {
    let io = |e: std::io::Error| PolicyError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            size,
            limit: MAX_POLICY_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    parse_policy(&text, base, Some(path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::{glob_to_regex, parse_policy, PolicyError};
    use crate::trust::{CertificateClaim, Matcher};

    fn policy(text: &str) -> Result<super::LoadedPolicy, PolicyError> {
        parse_policy(text, std::path::Path::new("."), None)
    }

    /// The claims of the first identity, as (claim, rendered matcher).
    fn claims(identity: &str) -> Vec<(CertificateClaim, String)> {
        let text = format!("version = 1\n[trust]\nidentities = [{{ issuer = \"https://token.actions.githubusercontent.com\", subject-glob = \"https://github.com/o/r/*\", {identity} }}]\n");
        policy(&text).unwrap().trust.identities()[0]
            .subject()
            .claims()
            .iter()
            .map(|(c, m)| (*c, m.to_string()))
            .collect()
    }

    #[test]
    fn every_certificate_claim_can_be_required_in_each_form() {
        for claim in CertificateClaim::ALL {
            let name = claim.name();
            let exact = claims(&format!("{name} = \"v\""));
            assert_eq!(exact, [(claim, Matcher::exact("v").to_string())], "{name}");
            let glob = claims(&format!("{name}-glob = \"refs/tags/v*\""));
            assert_eq!(glob.len(), 1, "{name}");
            assert!(
                glob[0].1.contains(r"refs/tags/v.*"),
                "{name}: {}",
                glob[0].1
            );
            let regexp = claims(&format!("{name}-regexp = \"refs/tags/v[0-9]+\""));
            assert_eq!(regexp.len(), 1, "{name}");
            assert!(
                regexp[0].1.contains("refs/tags/v[0-9]+"),
                "{name}: {}",
                regexp[0].1
            );
        }
        let several = claims(
            "source-repository = \"https://github.com/o/r\", source-ref-regexp = \"refs/tags/v.*\", runner-environment = \"github-hosted\"",
        );
        assert_eq!(several.len(), 3);
    }

    #[test]
    fn json_policies_take_claims_too() {
        let p = policy(r#"{"version": 1, "trust": {"identities": [{"issuer": "i", "subject": "s", "github-workflow-repository": "o/r"}]}}"#).unwrap();
        assert_eq!(
            p.trust.identities()[0].subject().claims()[0].0,
            CertificateClaim::GithubWorkflowRepository
        );
    }

    #[test]
    fn a_bad_claim_regex_names_the_field_and_its_position() {
        let err = policy("version = 1\n[trust]\nidentities = [{ issuer = \"i\", subject = \"s\",\n  signer-uri-regexp = \"https://(x\" }]\n").unwrap_err();
        assert!(
            matches!(&err, PolicyError::Invalid { field, line: 4, column: 23, .. } if field == "trust.identities[0].signer-uri-regexp"),
            "{err:?}"
        );
    }

    #[test]
    fn an_unknown_identity_field_is_refused_with_its_position() {
        let err =
            policy("version = 1\n[trust]\nidentities = [{ issuer = \"i\", subjet = \"s\" }]\n")
                .unwrap_err();
        assert!(
            matches!(&err, PolicyError::Invalid { field, line: 3, .. } if field == "trust.identities[0].subjet"),
            "{err:?}"
        );
    }

    #[test]
    fn two_forms_of_one_claim_are_refused() {
        let err = policy("version = 1\n[trust]\nidentities = [{ issuer = \"i\", subject = \"s\", source-ref = \"a\", source-ref-regexp = \"b\" }]\n").unwrap_err();
        assert!(
            matches!(&err, PolicyError::Invalid { field, message, .. } if field == "trust.identities[0]" && message.contains("source-ref-regexp")),
            "{err:?}"
        );
    }

    #[test]
    fn a_claim_that_is_not_a_string_is_a_syntax_error() {
        let err = policy("version = 1\n[trust]\nidentities = [{ issuer = \"i\", subject = \"s\", build-trigger = 1 }]\n").unwrap_err();
        assert!(matches!(err, PolicyError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn identity_globs_are_anchored_and_literal_elsewhere() {
        let m = Matcher::regex(&glob_to_regex(
            "https://github.com/org/app/.github/workflows/*@refs/tags/v*",
        ))
        .unwrap();
        assert!(
            m.matches("https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.2")
        );
        assert!(
            !m.matches("https://github.com/org/appX.github/workflows/release.yml@refs/tags/v1.2")
        );
        assert!(!m.matches(
            "https://evil.example/?https://github.com/org/app/.github/workflows/r@refs/tags/v1"
        ));
    }

    #[test]
    fn deploy_rules_and_exemptions_are_read() {
        let loaded = policy(
            "version = 1\n\
             [[deploy.rules]]\nimages = [\"dhi.io/*\"]\nnamespaces = [\"prod-*\"]\nrequire = [\"provenance\", \"vex\"]\n\
             [[deploy.exempt]]\nimages = [\"docker.io/library/busybox:*\"]\nexpires = \"2027-01-31\"\nreason = \"debug\"\n",
        )
        .unwrap();
        let d = &loaded.deploy;
        assert_eq!(d.rules.len(), 1);
        assert_eq!(d.rules[0].images[0].as_str(), "dhi.io/*");
        assert_eq!(d.rules[0].namespaces[0].as_str(), "prod-*");
        assert_eq!(d.rules[0].require.len(), 2);
        assert_eq!(d.exemptions[0].expires_unix, 1_801_353_600);
        assert_eq!(d.exemptions[0].reason.as_deref(), Some("debug"));
        assert!(policy("version = 1\n").unwrap().deploy.is_empty());
    }

    #[test]
    fn deploy_rules_that_would_pass_anything_are_refused() {
        let cases = [
            (
                "[[deploy.rules]]\nimages = [\"*\"]\nrequire = []\n",
                "deploy.rules[0].require",
            ),
            (
                "[[deploy.rules]]\nimages = []\nrequire = [\"sbom\"]\n",
                "deploy.rules[0].images",
            ),
            (
                "[[deploy.rules]]\nimages = [\"\"]\nrequire = [\"sbom\"]\n",
                "deploy.rules[0].images[0]",
            ),
            (
                "[[deploy.rules]]\nimages = [\"*\"]\nrequire = [\"nonsense\"]\n",
                "deploy.rules[0].require[0]",
            ),
            (
                "[[deploy.exempt]]\nimages = [\"*\"]\nexpires = \"someday\"\n",
                "deploy.exempt[0].expires",
            ),
        ];
        for (text, expected) in cases {
            let err = policy(&format!("version = 1\n{text}")).unwrap_err();
            assert!(
                matches!(&err, PolicyError::Invalid { field, .. } if field == expected),
                "{text}: {err:?}"
            );
        }
        // An exemption must end; an unknown field is refused.
        for text in [
            "[[deploy.exempt]]\nimages = [\"*\"]\n",
            "[[deploy.rules]]\nimages = [\"*\"]\nrequire = [\"sbom\"]\nimage = \"x\"\n",
        ] {
            let err = policy(&format!("version = 1\n{text}")).unwrap_err();
            assert!(matches!(err, PolicyError::Syntax { .. }), "{text}: {err:?}");
        }
    }
}
