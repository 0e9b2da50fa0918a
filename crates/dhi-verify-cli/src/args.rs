//! Command-line flags, parsed into plain values (converted into library
//! objects by each command).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Verify the signatures, SBOMs and build provenance attached to container
/// images before they run. Docker Hardened Images' keys are built in.
#[derive(Parser, Debug)]
#[command(name = "dhi-verify", version, about, long_about = None,
    after_help = "Examples:\n  dhi-verify image oci:testdata/demo:3.13 --key testdata/demo/cosign.pub\n  dhi-verify image dhi.io/python:3.13 --format json\n\nExit codes: 0 pass, 1 fail, 2 usage error, 3 could not verify.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify images: signatures, attestation chain and required attestations.
    Image(ImageArgs),
    /// Verify every base image a Dockerfile builds on, stage by stage; --pin rewrites FROM lines to digests.
    Dockerfile(crate::dockerfile::Args),
    /// Verify a Sigstore bundle for a file or a sha256 digest (Sigstore conformance protocol).
    VerifyBundle(crate::verify_bundle::Args),
    /// Show the embedded trust material (DHI keys).
    Keys,
}

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable summary.
    Text,
    /// The verdict as JSON (schemaVersion 1), and nothing else on stdout.
    Json,
}

/// Transparency-log policy.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tlog {
    /// Ignore log entries (a downgrade, reported as a skipped check).
    Never,
    /// Verify log entries when present (default).
    IfPresent,
    /// Require a verified log entry on every signature that counts.
    Always,
}

/// `dhi-verify image`.
#[derive(Args, Debug)]
#[command(
    after_help = "REF is oci:<dir>[:<tag>|@sha256:<hex>] (an OCI image layout) or a registry reference such as dhi.io/python:3.13.\n\nExamples:\n  dhi-verify image oci:testdata/demo:3.13 --key testdata/demo/cosign.pub\n  dhi-verify image oci:layout:3.13 --key cosign.pub --platform linux/arm64 --format json\n  dhi-verify image oci:image:3.13 --referrers oci:attestations --key cosign.pub\n  dhi-verify image oci:layout:3.13 --require provenance --require vex"
)]
pub struct ImageArgs {
    /// Image references to verify.
    #[arg(required = true, value_name = "REF")]
    pub references: Vec<String>,
    /// Platform to verify, os/arch[/variant] (repeatable; default: this machine's).
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<String>,
    /// Verify every platform in the index.
    #[arg(long, conflicts_with = "platforms")]
    pub all_platforms: bool,
    /// Trust this PEM public key instead of the embedded DHI keys (repeatable).
    #[arg(long = "key", value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// Look for attestations in this location instead of the image's own (e.g. oci:<dir>).
    #[arg(long, value_name = "REF")]
    pub referrers: Option<String>,
    /// Require a verified attestation of this type on every platform (repeatable;
    /// a predicate type URI or provenance, sbom, cyclonedx, spdx, vex, vulns, vsa,
    /// dhi-source, fips, stig, tests, secrets, virus). Replaces the default
    /// (provenance and sbom).
    #[arg(long = "require", value_name = "TYPE")]
    pub requires: Vec<String>,
    /// Transparency-log entries on signatures (cosign's dev.sigstore.cosign/bundle).
    #[arg(long, value_enum, default_value_t = Tlog::IfPresent)]
    pub tlog: Tlog,
    /// Trust the transparency logs of this Sigstore trusted_root.json instead of the public-good ones.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Largest in-toto statement to read, in bytes (default 64 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_statement_size: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
