//! The command line's flags turned into library values, in one place: the
//! trust root (keys, keyless identities and their certificate claims, a
//! trusted root), the policy (file, `--require`, `--tlog`), platforms,
//! limits, registry options, and the [`Verifier`] built from them. A flag
//! that cannot be turned into a value is a [`FlagError`] (exit 2).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use dhi_verify::dockerfile::DockerfileRules;
use dhi_verify::policy::PolicyError;
use dhi_verify::sigstore::{BundleError, CertificateClaim, Matcher};
use dhi_verify::source::registry::{FetchEvent, Observer, RegistryOptions};
use dhi_verify::{
    KeylessIdentity, Limits, Platform, Policy, Reference, TlogMode, TrustRoot, TrustedKey, Verifier,
};

use crate::args::{CertificateClaimFlags, Tlog, VerifyOptions};

/// A flag (or a file a flag names) that does not make a verifier: a usage
/// error, exit 2. Each says which flag or file, and what was wrong.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FlagError {
    /// A `--…-regexp` that does not compile.
    #[error("--{flag}-regexp: {source}")]
    Regex {
        /// The flag, without `-regexp`.
        flag: &'static str,
        /// Why.
        source: BundleError,
    },
    /// A certificate claim flag without a keyless identity to narrow.
    #[error("--{flag} narrows a keyless identity: give --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp] too")]
    ClaimWithoutIdentity {
        /// The claim flag.
        flag: &'static str,
    },
    /// An identity without an issuer, or the reverse.
    #[error("keyless verification needs both --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]")]
    HalfIdentity,
    /// A file a flag names cannot be read.
    #[error("reading {what} {}: {source}", path.display())]
    Read {
        /// What the file is ("key", "trusted root").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `--trusted-root` that is not a usable Sigstore trusted root.
    #[error("trusted root {}: {source}", path.display())]
    TrustedRoot {
        /// The file.
        path: PathBuf,
        /// Why.
        source: BundleError,
    },
    /// A `--policy` file that does not load.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A key, requirement or combination the library refuses.
    #[error(transparent)]
    Config(#[from] dhi_verify::ConfigError),
    /// A `--platform` that is not `os/arch[/variant]`.
    #[error(transparent)]
    Platform(#[from] dhi_verify::PlatformParseError),
    /// A `--referrers` that is not a reference.
    #[error("--referrers: {0}")]
    Referrers(dhi_verify::ReferenceError),
    /// `--timeout 0` or `--connect-timeout 0`.
    #[error("--timeout and --connect-timeout must be at least 1 second")]
    ZeroTimeout,
    /// `--offline` with no cache directory to read.
    #[error("--offline needs a cache: set --cache-dir, XDG_CACHE_HOME or HOME")]
    OfflineWithoutCache,
}

/// The keyless identity the flags name: both an identity and an issuer, or
/// neither; the certificate claim flags add to it and need both.
pub(crate) fn keyless_identity(args: &VerifyOptions) -> Result<Option<KeylessIdentity>, FlagError> {
    let matcher = |exact: &Option<String>,
                   regexp: &Option<String>,
                   flag: &'static str|
     -> Result<Option<Matcher>, FlagError> {
        match (exact, regexp) {
            (Some(e), _) => Ok(Some(Matcher::exact(e.clone()))),
            (None, Some(r)) => Matcher::regex(r)
                .map(Some)
                .map_err(|source| FlagError::Regex { flag, source }),
            (None, None) => Ok(None),
        }
    };
    let subject = matcher(
        &args.certificate_identity,
        &args.certificate_identity_regexp,
        "certificate-identity",
    )?;
    let issuer = matcher(
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
        "certificate-oidc-issuer",
    )?;
    let claims = certificate_claims(&args.certificate_claims)?;
    match (issuer, subject) {
        (Some(issuer), Some(subject)) => Ok(Some(claims.into_iter().fold(
            KeylessIdentity::new(issuer, subject),
            |identity, (_, claim, m)| identity.require(claim, m),
        ))),
        (None, None) => match claims.first() {
            None => Ok(None),
            Some((flag, _, _)) => Err(FlagError::ClaimWithoutIdentity { flag }),
        },
        _ => Err(FlagError::HalfIdentity),
    }
}

/// The certificate claims the flags require, as (flag, claim, matcher), in
/// flag order; `Err` names the flag whose regex does not compile.
pub(crate) fn certificate_claims(
    flags: &CertificateClaimFlags,
) -> Result<Vec<(&'static str, CertificateClaim, Matcher)>, FlagError> {
    let none = None;
    // (flag, claim, exact, regexp): cosign's GitHub flags and the provider-neutral ones.
    let table: [(&str, CertificateClaim, &Option<String>, &Option<String>); 11] = [
        (
            "certificate-github-workflow-repository",
            CertificateClaim::GithubWorkflowRepository,
            &flags.certificate_github_workflow_repository,
            &none,
        ),
        (
            "certificate-github-workflow-ref",
            CertificateClaim::GithubWorkflowRef,
            &flags.certificate_github_workflow_ref,
            &none,
        ),
        (
            "certificate-github-workflow-sha",
            CertificateClaim::GithubWorkflowSha,
            &flags.certificate_github_workflow_sha,
            &none,
        ),
        (
            "certificate-github-workflow-trigger",
            CertificateClaim::GithubWorkflowTrigger,
            &flags.certificate_github_workflow_trigger,
            &none,
        ),
        (
            "certificate-source-repository",
            CertificateClaim::SourceRepositoryUri,
            &flags.certificate_source_repository,
            &flags.certificate_source_repository_regexp,
        ),
        (
            "certificate-source-ref",
            CertificateClaim::SourceRepositoryRef,
            &flags.certificate_source_ref,
            &flags.certificate_source_ref_regexp,
        ),
        (
            "certificate-source-digest",
            CertificateClaim::SourceRepositoryDigest,
            &flags.certificate_source_digest,
            &none,
        ),
        (
            "certificate-signer-uri",
            CertificateClaim::BuildSignerUri,
            &flags.certificate_signer_uri,
            &flags.certificate_signer_uri_regexp,
        ),
        (
            "certificate-runner-environment",
            CertificateClaim::RunnerEnvironment,
            &flags.certificate_runner_environment,
            &none,
        ),
        (
            "certificate-source-repository-owner",
            CertificateClaim::SourceRepositoryOwnerUri,
            &flags.certificate_source_repository_owner,
            &none,
        ),
        (
            "certificate-signer-digest",
            CertificateClaim::BuildSignerDigest,
            &flags.certificate_signer_digest,
            &none,
        ),
    ];
    let mut claims = Vec::new();
    for (flag, claim, exact, regexp) in table {
        match (exact, regexp) {
            (Some(e), _) => claims.push((flag, claim, Matcher::exact(e.clone()))),
            (None, Some(r)) => claims.push((
                flag,
                claim,
                Matcher::regex(r).map_err(|source| FlagError::Regex { flag, source })?,
            )),
            (None, None) => {}
        }
    }
    Ok(claims)
}

/// Builds the verifier from flags; `Err` is a usage message.
pub(crate) fn build(args: &VerifyOptions) -> Result<Verifier, FlagError> {
    build_verifier(args, None)
}

/// Builds the verifier from flags, with `requirements` in place of `--require`
/// when given (the inspection commands require what they print).
pub(crate) fn build_verifier(
    args: &VerifyOptions,
    requirements: Option<&[&str]>,
) -> Result<Verifier, FlagError> {
    build_verifier_and_stage_rules(args, requirements).map(|(verifier, _)| verifier)
}

/// [`build_verifier`], and the Dockerfile stage rules of the policy file
/// (`--policy`; the defaults without one), which are not part of the policy.
pub(crate) fn build_verifier_and_stage_rules(
    args: &VerifyOptions,
    requirements: Option<&[&str]>,
) -> Result<(Verifier, DockerfileRules), FlagError> {
    let loaded = match &args.policy {
        Some(path) => Some(dhi_verify::policy::load_policy(path)?),
        None => None,
    };
    let stage_rules = loaded
        .as_ref()
        .map_or_else(DockerfileRules::default, |l| l.dockerfile.clone());
    let identity = keyless_identity(args)?;
    // Trust: the flags when given, else the policy file's, else the DHI keys.
    let flags_name_trust = !args.keys.is_empty() || identity.is_some();
    let trust = if flags_name_trust {
        let mut keys = Vec::new();
        for path in &args.keys {
            let pem = std::fs::read_to_string(path).map_err(|source| FlagError::Read {
                what: "key",
                path: path.clone(),
                source,
            })?;
            keys.push(TrustedKey::from_pem(path.display().to_string(), &pem)?);
        }
        TrustRoot::from_keys(keys)
    } else {
        match &loaded {
            Some(l) => l.trust.clone(),
            None => TrustRoot::dhi_embedded(),
        }
    };
    let trust = match &args.trusted_root {
        None => trust,
        Some(path) => {
            let json = std::fs::read(path).map_err(|source| FlagError::Read {
                what: "trusted root",
                path: path.clone(),
                source,
            })?;
            let logs = dhi_verify::sigstore::SigstoreTrust::from_trusted_root_json(&json).map_err(
                |source| FlagError::TrustedRoot {
                    path: path.clone(),
                    source,
                },
            )?;
            trust.with_sigstore_trust(logs)
        }
    };
    let trust = match identity {
        Some(identity) => trust.with_identity(identity),
        None => trust,
    };
    // Policy: the file's (or the DHI default); the inspection commands
    // require exactly what they print; --require replaces the requirements.
    let policy = match (requirements, loaded) {
        (Some(r), Some(l)) => l.policy.with_requirements(r)?,
        (Some(r), None) => Policy::requiring(r)?,
        (None, Some(l)) => l.policy,
        (None, None) => Policy::dhi_default(),
    };
    let policy = if requirements.is_none() && !args.requires.is_empty() {
        policy.with_requirements(&args.requires)?
    } else {
        policy
    };
    let policy = match args.tlog {
        None => policy,
        Some(Tlog::Never) => policy.with_tlog(TlogMode::Never),
        Some(Tlog::IfPresent) => policy.with_tlog(TlogMode::IfPresent),
        Some(Tlog::Always) => policy.with_tlog(TlogMode::Always),
    };
    let mut builder = Verifier::builder().trust(trust).policy(policy);
    if args.all_platforms {
        builder = builder.all_platforms();
    } else if !args.platforms.is_empty() {
        let platforms = args
            .platforms
            .iter()
            .map(|p| p.parse::<Platform>())
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.platforms(platforms);
    }
    if let Some(r) = &args.referrers {
        builder = builder.referrers(Reference::parse(r).map_err(FlagError::Referrers)?);
    }
    let mut limits = Limits::default();
    if let Some(max) = args.max_statement_size {
        limits = limits.with_max_statement_bytes(max);
    }
    if let Some(max) = args.max_manifest_size {
        limits = limits.with_max_manifest_bytes(max);
    }
    if let Some(max) = args.max_referrers {
        limits = limits.with_max_referrers(max);
    }
    if let Some(max) = args.max_signatures {
        limits = limits.with_max_signatures_per_attestation(max);
    }
    if let Some(max) = args.max_json_depth {
        limits = limits.with_max_json_depth(max);
    }
    if let Some(max) = args.max_total_bytes {
        limits = limits.with_max_total_bytes(max);
    }
    if let Some(secs) = args.deadline {
        builder = builder.deadline(Duration::from_secs(secs));
    }
    let mut registry = RegistryOptions::default();
    for host in &args.insecure_registries {
        registry = registry.with_insecure_registry(host.clone());
    }
    let connect = args
        .connect_timeout
        .map_or(registry.connect_timeout, Duration::from_secs);
    let request = args
        .timeout
        .map_or(registry.request_timeout, Duration::from_secs);
    if connect.is_zero() || request.is_zero() {
        return Err(FlagError::ZeroTimeout);
    }
    registry = registry.with_timeouts(connect, request);
    if let Some(max) = args.max_redirects {
        registry = registry.with_max_redirects(max);
    }
    if let Some(jobs) = args.jobs {
        registry = registry.with_max_concurrent_fetches(usize::from(jobs));
    }
    if !args.no_cache {
        match args
            .cache_dir
            .clone()
            .or_else(dhi_verify::source::default_cache_dir)
        {
            Some(dir) => registry = registry.with_cache_dir(dir),
            None if args.offline => return Err(FlagError::OfflineWithoutCache),
            None => {}
        }
    }
    registry = registry.with_offline(args.offline);
    if let Some(observer) = observer(args.verbose, std::io::stderr().is_terminal()) {
        registry = registry.with_observer(observer);
    }
    let verifier = builder
        .limits(limits)
        .registry_options(registry)
        .build()
        .map_err(FlagError::from)?;
    Ok((verifier, stage_rules))
}

/// The policy file's `[[deploy.rules]]` and `[[deploy.exempt]]` (none without `--policy`).
pub(crate) fn deploy_rules(
    args: &VerifyOptions,
) -> Result<dhi_verify::policy::deploy::DeployRules, FlagError> {
    Ok(match &args.policy {
        Some(path) => dhi_verify::policy::load_policy(path)?.deploy,
        None => dhi_verify::policy::deploy::DeployRules::default(),
    })
}

/// `-v`: one line per request, answer and cache event. Else, on a terminal:
/// one progress line saying what is being fetched, rewritten in place.
/// Else nothing.
fn observer(verbose: bool, terminal: bool) -> Option<Observer> {
    if verbose {
        return Some(Observer::new(|e| match e {
            FetchEvent::Request { url, .. } => eprintln!("dhi-verify: GET {url}"),
            FetchEvent::Response {
                location,
                what,
                status,
                elapsed,
                ..
            } => eprintln!(
                "dhi-verify: {status} {location} {what} ({} ms)",
                elapsed.as_millis()
            ),
            FetchEvent::CacheHit { what } => eprintln!("dhi-verify: cached {what}"),
            FetchEvent::CacheCorrupt { digest, path } => eprintln!(
                "dhi-verify: cache entry {} does not match {digest}: deleted, fetching again",
                path.display()
            ),
            _ => {}
        }));
    }
    if terminal {
        return Some(Observer::new(|e| {
            if let FetchEvent::Request { location, what, .. } = e {
                let line: String = format!("fetching {what} from {location}")
                    .chars()
                    .take(100)
                    .collect();
                eprint!("\r\x1b[K{line}");
            }
        }));
    }
    None
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command, ImageArgs};

    fn image_args(argv: &[&str]) -> ImageArgs {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Image(a) => a,
            other => panic!("{other:?}"),
        }
    }

    const ID: [&str; 4] = [
        "--certificate-identity",
        "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1",
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
    ];

    /// The claims `flags` (with an identity and an issuer) ask for, as
    /// (claim, rendered matcher).
    fn claims_of(flags: &[&str]) -> Result<Vec<(CertificateClaim, String)>, String> {
        let argv = [&["dhi-verify", "image", "x"][..], &ID[..], flags].concat();
        let args = image_args(&argv);
        let identity = keyless_identity(&args.verify)
            .map_err(|e| e.to_string())?
            .unwrap();
        Ok(identity
            .subject()
            .claims()
            .iter()
            .map(|(c, m)| (*c, m.to_string()))
            .collect())
    }

    #[test]
    fn each_certificate_claim_flag_requires_its_claim() {
        use CertificateClaim as C;
        let exact = |v: &str| format!("{v:?}");
        for (flag, value, claim) in [
            (
                "--certificate-github-workflow-repository",
                "o/r",
                C::GithubWorkflowRepository,
            ),
            (
                "--certificate-github-workflow-ref",
                "refs/tags/v1",
                C::GithubWorkflowRef,
            ),
            (
                "--certificate-github-workflow-sha",
                "0123abcd",
                C::GithubWorkflowSha,
            ),
            (
                "--certificate-github-workflow-trigger",
                "push",
                C::GithubWorkflowTrigger,
            ),
            (
                "--certificate-source-repository",
                "https://github.com/o/r",
                C::SourceRepositoryUri,
            ),
            (
                "--certificate-source-ref",
                "refs/heads/main",
                C::SourceRepositoryRef,
            ),
            (
                "--certificate-source-digest",
                "0123abcd",
                C::SourceRepositoryDigest,
            ),
            (
                "--certificate-signer-uri",
                "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main",
                C::BuildSignerUri,
            ),
            (
                "--certificate-runner-environment",
                "github-hosted",
                C::RunnerEnvironment,
            ),
            (
                "--certificate-source-repository-owner",
                "https://github.com/o",
                C::SourceRepositoryOwnerUri,
            ),
            (
                "--certificate-signer-digest",
                "0123abcd",
                C::BuildSignerDigest,
            ),
        ] {
            assert_eq!(
                claims_of(&[flag, value]).unwrap(),
                [(claim, exact(value))],
                "{flag}"
            );
        }
        for (flag, claim) in [
            (
                "--certificate-source-repository-regexp",
                C::SourceRepositoryUri,
            ),
            ("--certificate-source-ref-regexp", C::SourceRepositoryRef),
            ("--certificate-signer-uri-regexp", C::BuildSignerUri),
        ] {
            let got = claims_of(&[flag, "refs/tags/v.*"]).unwrap();
            assert_eq!(got.len(), 1, "{flag}");
            assert_eq!(got[0].0, claim, "{flag}");
            assert!(got[0].1.contains("regex"), "{flag}: {}", got[0].1);
        }
        // several at once: all required
        let all = claims_of(&[
            "--certificate-source-ref",
            "refs/tags/v1",
            "--certificate-runner-environment",
            "github-hosted",
        ])
        .unwrap();
        assert_eq!(all.len(), 2);
        // none: the identity alone
        assert_eq!(claims_of(&[]).unwrap(), []);
    }

    #[test]
    fn a_bad_claim_regex_is_a_usage_error_naming_the_flag() {
        let err = claims_of(&["--certificate-source-ref-regexp", "refs/(tags"]).unwrap_err();
        assert!(err.contains("--certificate-source-ref-regexp"), "{err}");
    }

    #[test]
    fn claim_flags_without_an_identity_are_a_usage_error() {
        let args = image_args(&[
            "dhi-verify",
            "image",
            "x",
            "--certificate-source-ref",
            "refs/tags/v1",
        ]);
        let err = keyless_identity(&args.verify).unwrap_err();
        assert!(
            matches!(
                err,
                FlagError::ClaimWithoutIdentity {
                    flag: "certificate-source-ref"
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("--certificate-source-ref"),
            "{err}"
        );
    }
}
