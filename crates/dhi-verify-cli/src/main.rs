//! The `dhi-verify` command: may this container image run?
//!
//! `main` only composes: parse flags, build the library's verifier, render the
//! verdict, and map the outcome to an exit code in one place
//! (0 pass, 1 fail, 2 usage, 3 error).
#![forbid(unsafe_code)]

mod args;
mod config;
mod deploy;
mod dockerfile;
mod exit;
mod image;
mod input;
mod inspect;
mod keys;
mod policy_cmd;
mod render;
mod serve;
mod verify_bundle;

use std::process::ExitCode;

use clap::Parser as _;

pub use exit::EXIT_USAGE;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's own exit code for usage errors is 2; help and version are 0.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let code = match cli.command {
        args::Command::Image(a) => image::run(a),
        args::Command::Dockerfile(a) => dockerfile::run(a),
        args::Command::Deploy(a) => deploy::run(a),
        args::Command::Serve(a) => serve::run(a),
        args::Command::Keys => keys::run(),
        args::Command::Policy(c) => policy_cmd::run(c),
        args::Command::Sbom(a) => inspect::run(inspect::What::Sbom, a),
        args::Command::Provenance(a) => inspect::run(inspect::What::Provenance, a),
        args::Command::Vex(a) => inspect::run(inspect::What::Vex, a),
        args::Command::Attestations(a) => inspect::run(inspect::What::Attestations, a),
        args::Command::VerifyBundle(a) => return verify_bundle::run(a),
    };
    ExitCode::from(code)
}
