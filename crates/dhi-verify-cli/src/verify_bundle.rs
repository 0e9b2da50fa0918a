//! `dhi-verify verify-bundle`: verifies one Sigstore bundle for a file or digest, speaking the Sigstore conformance protocol.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dhi_verify::sigstore::{
    verify_bundle, Artifact, BundleError, BundlePolicy, ErrorClass, Matcher, PublicKey, Signer,
    SigstoreTrust, SubjectMatcher, VerifiedBundle,
};

/// Exit code: verified.
const EXIT_PASS: u8 = 0;
/// Exit code: verification failed.
const EXIT_FAIL: u8 = 1;
/// Exit code: bad arguments or unreadable inputs.
const EXIT_USAGE: u8 = 2;

/// Arguments of `verify-bundle`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Sigstore bundle (JSON) to verify.
    #[arg(long, value_name = "FILE")]
    bundle: PathBuf,
    /// The exact certificate SAN identity required (keyless).
    #[arg(long, value_name = "ID", conflicts_with_all = ["certificate_identity_regexp", "key"])]
    certificate_identity: Option<String>,
    /// A regular expression the whole certificate SAN identity must match (anchored).
    #[arg(long, value_name = "REGEX", conflicts_with = "key")]
    certificate_identity_regexp: Option<String>,
    /// The exact OIDC issuer required (keyless).
    #[arg(long, value_name = "URL", conflicts_with_all = ["certificate_oidc_issuer_regexp", "key"])]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the whole OIDC issuer must match (anchored).
    #[arg(long, value_name = "REGEX", conflicts_with = "key")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// Fulcio certificate claims the keyless signer's certificate must carry.
    #[command(flatten)]
    certificate_claims: crate::args::CertificateClaimFlags,
    /// A trusted public key (PEM or DER) for a managed-key bundle.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// A Sigstore trusted root (trusted_root.json); default: the embedded public-good root.
    #[arg(long, value_name = "FILE")]
    trusted_root: Option<PathBuf>,
    /// The artifact: a file path, or `sha256:<64 hex>` when it is not an existing path.
    #[arg(value_name = "FILE_OR_DIGEST")]
    artifact: String,
}

/// A problem with the invocation rather than with the bundle.
struct Usage(String);

/// Runs `verify-bundle` and returns its exit code.
pub fn run(args: Args) -> ExitCode {
    match prepare(&args) {
        Err(Usage(message)) => {
            eprintln!("dhi-verify verify-bundle: {message}");
            ExitCode::from(EXIT_USAGE)
        }
        Ok(prepared) => {
            let artifact = match &prepared.artifact {
                Input::Bytes(bytes) => Artifact::Bytes(bytes),
                Input::Digest(d) => Artifact::Digest(*d),
            };
            match verify_bundle(
                &prepared.bundle,
                artifact,
                &prepared.policy,
                &prepared.trust,
            ) {
                Ok(verified) => {
                    println!("verified: {}", describe(&verified));
                    ExitCode::from(EXIT_PASS)
                }
                Err(err) => report(&err),
            }
        }
    }
}

fn report(err: &BundleError) -> ExitCode {
    match err.class() {
        ErrorClass::Usage => {
            eprintln!("dhi-verify verify-bundle: {err}");
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            eprintln!("verification failed: {err}");
            ExitCode::from(EXIT_FAIL)
        }
    }
}

enum Input {
    Bytes(Vec<u8>),
    Digest([u8; 32]),
}

struct Prepared {
    bundle: Vec<u8>,
    artifact: Input,
    policy: BundlePolicy,
    trust: SigstoreTrust,
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, Usage> {
    std::fs::read(path).map_err(|e| Usage(format!("cannot read {what} {}: {e}", path.display())))
}

fn usage(err: BundleError) -> Usage {
    Usage(err.to_string())
}

fn prepare(args: &Args) -> Result<Prepared, Usage> {
    let claims = crate::config::certificate_claims(&args.certificate_claims)
        .map_err(|e| Usage(e.to_string()))?;
    let policy = match &args.key {
        Some(path) => {
            if let Some((flag, _, _)) = claims.first() {
                return Err(Usage(format!(
                    "--{flag} narrows a keyless identity; it cannot be given with --key"
                )));
            }
            BundlePolicy::Key(PublicKey::from_pem_or_der(&read("key", path)?).map_err(usage)?)
        }
        None => {
            let subject =
                match (
                    &args.certificate_identity,
                    &args.certificate_identity_regexp,
                ) {
                    (Some(id), None) => Matcher::exact(id.clone()),
                    (None, Some(re)) => Matcher::regex(re).map_err(usage)?,
                    _ => return Err(Usage(
                        "give --key, or --certificate-identity or --certificate-identity-regexp"
                            .into(),
                    )),
                };
            let issuer = match (
                &args.certificate_oidc_issuer,
                &args.certificate_oidc_issuer_regexp,
            ) {
                (Some(iss), None) => Matcher::exact(iss.clone()),
                (None, Some(re)) => Matcher::regex(re).map_err(usage)?,
                _ => {
                    return Err(Usage(
                        "give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp".into(),
                    ))
                }
            };
            BundlePolicy::Identity {
                issuer,
                subject: claims
                    .into_iter()
                    .fold(SubjectMatcher::new(subject), |s, (_, claim, m)| {
                        s.require(claim, m)
                    }),
            }
        }
    };
    let trust = match &args.trusted_root {
        Some(path) => {
            SigstoreTrust::from_trusted_root_json(&read("trusted root", path)?).map_err(usage)?
        }
        None => SigstoreTrust::public_good().map_err(usage)?,
    };
    let artifact = artifact_input(&args.artifact)?;
    let bundle = read("bundle", &args.bundle)?;
    Ok(Prepared {
        bundle,
        artifact,
        policy,
        trust,
    })
}

fn artifact_input(arg: &str) -> Result<Input, Usage> {
    let path = Path::new(arg);
    if path.exists() {
        return Ok(Input::Bytes(read("artifact", path)?));
    }
    let digest = arg
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|d| <[u8; 32]>::try_from(d).ok());
    match digest {
        Some(d) => Ok(Input::Digest(d)),
        None => Err(Usage(format!(
            "{arg:?} is neither an existing file nor sha256:<64 hex digits>"
        ))),
    }
}

fn describe(v: &VerifiedBundle) -> String {
    let who = match v.signer() {
        Signer::Certificate { identity, issuer } => {
            format!("certificate identity {identity} (issuer {issuer})")
        }
        Signer::Key { fingerprint } => format!("key sha256:{}", hex::encode(fingerprint)),
        _ => "unknown signer".to_owned(),
    };
    let when = match v.signed_at() {
        Some(t) => match jiff::Timestamp::from_second(t) {
            Ok(ts) => format!(", signed at {ts} (verified log/timestamp time)"),
            Err(_) => format!(", signed at unix time {t}"),
        },
        None => String::new(),
    };
    let kind = if v.statement().is_some() {
        "DSSE statement"
    } else {
        "message signature"
    };
    let claims: Vec<String> = v
        .certificate_claims()
        .iter()
        .map(|(claim, value)| format!("{claim} {value}"))
        .collect();
    let claims = if claims.is_empty() {
        String::new()
    } else {
        format!("; certificate claims: {}", claims.join(", "))
    };
    format!("{kind} by {who}{when}{claims}")
}
