//! `dhi-verify image`: turns flags into a verifier, verifies each reference,
//! prints one verdict each, and returns the worst exit code.

use std::io::IsTerminal as _;
use std::time::Duration;

use futures_util::StreamExt as _;

use dhi_verify::{Outcome, Reference};

use crate::args::{Format, ImageArgs};
use crate::config::build;
use crate::exit::ExitCode as _;
use crate::render;
use crate::EXIT_USAGE;

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
