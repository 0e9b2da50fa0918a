//! `dhi-verify image`: turns flags into a verifier, verifies each reference,
//! prints one verdict each, and returns the worst exit code.

use std::io::IsTerminal as _;
use std::time::Duration;

use futures_util::StreamExt as _;

use dhi_verify::sigstore::{CertificateClaim, Matcher};
use dhi_verify::source::registry::{FetchEvent, Observer, RegistryOptions};
use dhi_verify::{
    KeylessIdentity, Limits, Outcome, Platform, Policy, Reference, TlogMode, TrustRoot, TrustedKey,
    Verifier,
};

use crate::args::{CertificateClaimFlags, Format, ImageArgs, Tlog, VerifyOptions};
use crate::exit::ExitCode as _;
use crate::render;
use crate::EXIT_USAGE;

/// The keyless identity the flags name: both an identity and an issuer, or
/// neither; the certificate claim flags add to it and need both.
fn keyless_identity(args: &VerifyOptions) -> Result<Option<KeylessIdentity>, String> {
    let matcher = |exact: &Option<String>,
                   regexp: &Option<String>,
                   flag: &str|
     -> Result<Option<Matcher>, String> {
        match (exact, regexp) {
            (Some(e), _) => Ok(Some(Matcher::exact(e.clone()))),
            (None, Some(r)) => Matcher::regex(r)
                .map(Some)
                .map_err(|e| format!("--{flag}-regexp: {e}")),
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
            Some((flag, _, _)) => Err(format!(
                "--{flag} narrows a keyless identity: give --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp] too"
            )),
        },
        _ => Err("keyless verification needs both --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]".into()),
    }
}

/// The certificate claims the flags require, as (flag, claim, matcher), in
/// flag order; `Err` names the flag whose regex does not compile.
pub(crate) fn certificate_claims(
    flags: &CertificateClaimFlags,
) -> Result<Vec<(&'static str, CertificateClaim, Matcher)>, String> {
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
                Matcher::regex(r).map_err(|e| format!("--{flag}-regexp: {e}"))?,
            )),
            (None, None) => {}
        }
    }
    Ok(claims)
}

/// Builds the verifier from flags; `Err` is a usage message.
pub(crate) fn build(args: &VerifyOptions) -> Result<Verifier, String> {
    build_verifier(args, None)
}

/// Builds the verifier from flags, with `requirements` in place of `--require`
/// when given (the inspection commands require what they print).
pub(crate) fn build_verifier(
    args: &VerifyOptions,
    requirements: Option<&[&str]>,
) -> Result<Verifier, String> {
    let loaded = match &args.policy {
        Some(path) => Some(dhi_verify::policy::load_policy(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let identity = keyless_identity(args)?;
    // Trust: the flags when given, else the policy file's, else the DHI keys.
    let flags_name_trust = !args.keys.is_empty() || identity.is_some();
    let trust = if flags_name_trust {
        let mut keys = Vec::new();
        for path in &args.keys {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| format!("reading key {}: {e}", path.display()))?;
            keys.push(
                TrustedKey::from_pem(path.display().to_string(), &pem)
                    .map_err(|e| e.to_string())?,
            );
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
            let json = std::fs::read(path)
                .map_err(|e| format!("reading trusted root {}: {e}", path.display()))?;
            let logs = dhi_verify::sigstore::SigstoreTrust::from_trusted_root_json(&json)
                .map_err(|e| format!("trusted root {}: {e}", path.display()))?;
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
        (Some(r), Some(l)) => l.policy.with_requirements(r).map_err(|e| e.to_string())?,
        (Some(r), None) => Policy::requiring(r).map_err(|e| e.to_string())?,
        (None, Some(l)) => l.policy,
        (None, None) => Policy::dhi_default(),
    };
    let policy = if requirements.is_none() && !args.requires.is_empty() {
        policy
            .with_requirements(&args.requires)
            .map_err(|e| e.to_string())?
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
            .map(|p| p.parse::<Platform>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.platforms(platforms);
    }
    if let Some(r) = &args.referrers {
        builder = builder.referrers(Reference::parse(r).map_err(|e| format!("--referrers: {e}"))?);
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
        return Err("--timeout and --connect-timeout must be at least 1 second".into());
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
            None if args.offline => {
                return Err(
                    "--offline needs a cache: set --cache-dir, XDG_CACHE_HOME or HOME".into(),
                )
            }
            None => {}
        }
    }
    registry = registry.with_offline(args.offline);
    if let Some(observer) = observer(args.verbose, std::io::stderr().is_terminal()) {
        registry = registry.with_observer(observer);
    }
    builder
        .limits(limits)
        .registry_options(registry)
        .build()
        .map_err(|e| e.to_string())
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

/// The references to verify: the positional ones, then `--from-file`'s (one
/// per line; `#` comments and blank lines skipped).
fn references(args: &ImageArgs) -> Result<Vec<String>, String> {
    let mut out = args.references.clone();
    if let Some(path) = &args.from_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--from-file {}: {e}", path.display()))?;
        out.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
        if out.is_empty() {
            return Err(format!("--from-file {}: no references", path.display()));
        }
    }
    Ok(out)
}

/// Rejects malformed references before verifying anything (exit 2), then
/// starts the async runtime (exit 3 if it cannot start). Messages on stderr.
pub(crate) fn prepare(references: &[String]) -> Result<tokio::runtime::Runtime, u8> {
    for r in references {
        if let Err(e) = Reference::parse(r) {
            eprintln!("dhi-verify: {e}");
            return Err(EXIT_USAGE);
        }
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("dhi-verify: starting the async runtime: {e}");
            Outcome::Error.exit_code()
        })
}

/// How many references `image` verifies at once. Requests stay bounded by
/// `--jobs` over all of them; this only lets one image's round trips overlap
/// another's.
const REFERENCES_AT_ONCE: usize = 4;

pub fn run(args: ImageArgs) -> u8 {
    if matches!(args.format, Format::Cyclonedx | Format::Spdx) {
        eprintln!("dhi-verify: --format cyclonedx and spdx are for `dhi-verify sbom`");
        return EXIT_USAGE;
    }
    let verifier = match build(&args.verify) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("dhi-verify: {message}");
            return EXIT_USAGE;
        }
    };
    let progress = !args.verify.verbose && std::io::stderr().is_terminal();
    let references = match references(&args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("dhi-verify: {message}");
            return EXIT_USAGE;
        }
    };
    let runtime = match prepare(&references) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let mut worst = 0u8;
    let mut json_verdicts = Vec::new();
    // Several references are verified at once (sharing the verifier's request
    // bound, connections and caches); verdicts are printed in the order given.
    let mut verdicts = futures_util::stream::iter(references.iter().map(|reference| {
        let verifier = &verifier;
        async move { (reference, verifier.verify(reference).await) }
    }))
    .buffered(REFERENCES_AT_ONCE);
    while let Some((reference, result)) = runtime.block_on(verdicts.next()) {
        if progress {
            eprint!("\r\x1b[K");
        }
        let code = match &result {
            Ok(v) => v.outcome.exit_code(),
            Err(e) => e.exit_code(),
        };
        worst = worst_of(worst, code);
        match args.format {
            // cyclonedx and spdx were refused above.
            Format::Text | Format::Cyclonedx | Format::Spdx => render::text(reference, &result),
            Format::Json => match render::json_value(reference, &result) {
                Ok(v) => json_verdicts.push(v),
                Err(e) => {
                    eprintln!("dhi-verify: serializing the verdict for {reference}: {e}");
                    return Outcome::Error.exit_code();
                }
            },
        }
    }
    drop(verdicts);
    if args.format == Format::Json {
        let out = if json_verdicts.len() == 1 {
            json_verdicts.remove(0)
        } else {
            serde_json::Value::Array(json_verdicts)
        };
        match serde_json::to_string_pretty(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("dhi-verify: writing JSON: {e}");
                return Outcome::Error.exit_code();
            }
        }
    }
    // Keep the runtime's background work from outliving output.
    runtime.shutdown_timeout(Duration::from_millis(100));
    worst
}

/// The worse of two exit codes: error (3) over usage (2) over fail (1) over pass (0).
pub(crate) fn worst_of(a: u8, b: u8) -> u8 {
    let rank = |c: u8| match c {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::args::{Cli, Command};

    fn image_args(argv: &[&str]) -> ImageArgs {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Image(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn from_file_adds_one_reference_per_line_skipping_comments_and_blanks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refs");
        std::fs::write(
            &file,
            "# images\ndhi.io/python:3.13\n\n  dhi.io/node:22  \n#x\n",
        )
        .unwrap();
        let args = image_args(&[
            "dhi-verify",
            "image",
            "dhi.io/nginx:1.27",
            "--from-file",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            references(&args).unwrap(),
            ["dhi.io/nginx:1.27", "dhi.io/python:3.13", "dhi.io/node:22"]
        );
    }

    #[test]
    fn an_empty_or_missing_reference_file_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refs");
        std::fs::write(&file, "# nothing\n").unwrap();
        let args = image_args(&["dhi-verify", "image", "--from-file", file.to_str().unwrap()]);
        assert!(references(&args).is_err());
        let missing = dir.path().join("absent");
        let args = image_args(&[
            "dhi-verify",
            "image",
            "--from-file",
            missing.to_str().unwrap(),
        ]);
        assert!(references(&args).is_err());
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
        let identity = keyless_identity(&args.verify)?.unwrap();
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
        assert!(err.contains("--certificate-source-ref"), "{err}");
    }

    #[test]
    fn exact_and_regexp_forms_of_one_claim_conflict() {
        assert!(Cli::try_parse_from([
            "dhi-verify",
            "image",
            "x",
            "--certificate-signer-uri",
            "a",
            "--certificate-signer-uri-regexp",
            "b"
        ])
        .is_err());
    }

    #[test]
    fn offline_and_no_cache_together_are_refused() {
        assert!(
            Cli::try_parse_from(["dhi-verify", "image", "x", "--offline", "--no-cache"]).is_err()
        );
    }

    #[test]
    fn from_file_is_refused_by_the_inspection_commands() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("refs");
        std::fs::write(&file, "dhi.io/python:3.13\n").unwrap();
        let args = image_args(&["dhi-verify", "image", "--from-file", file.to_str().unwrap()]);
        assert_eq!(
            crate::inspect::run(crate::inspect::What::Sbom, args),
            crate::EXIT_USAGE
        );
    }
}
