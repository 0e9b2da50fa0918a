//! The `dhi-verify` command: may this container image run?
//!
//! Exit codes: 0 verified, 1 verification failed, 2 usage, 3 error.

mod verify_bundle;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Decide whether a container image (or any Sigstore-signed artifact) may run.
#[derive(Debug, Parser)]
#[command(name = "dhi-verify", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a Sigstore bundle for a file or a sha256 digest (Sigstore conformance protocol).
    VerifyBundle(verify_bundle::Args),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::VerifyBundle(args) => verify_bundle::run(args),
    }
}
