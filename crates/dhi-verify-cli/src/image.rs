//! `dhi-verify image`: turns flags into a verifier, verifies each reference,
//! prints one verdict each, and returns the worst exit code.

use std::time::Duration;

use dhi_verify::{
    Error, Limits, Outcome, Platform, Policy, Reference, TlogMode, TrustRoot, TrustedKey, Verifier,
};

use crate::args::{Format, ImageArgs, Tlog};
use crate::render;
use crate::EXIT_USAGE;

/// Builds the verifier from flags; `Err` is a usage message.
pub(crate) fn build(args: &ImageArgs) -> Result<Verifier, String> {
    let trust = if args.keys.is_empty() {
        TrustRoot::dhi_embedded()
    } else {
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
    };
    let trust = match &args.trusted_root {
        None => trust,
        Some(path) => {
            let json = std::fs::read(path)
                .map_err(|e| format!("reading trusted root {}: {e}", path.display()))?;
            let logs = dhi_verify::sigstore::SigstoreTrust::from_trusted_root_json(&json)
                .map_err(|e| format!("trusted root {}: {e}", path.display()))?;
            trust.with_transparency_logs(logs)
        }
    };
    let policy = if args.requires.is_empty() {
        Policy::dhi_default()
    } else {
        Policy::requiring(&args.requires).map_err(|e| e.to_string())?
    };
    let policy = policy.with_tlog(match args.tlog {
        Tlog::Never => TlogMode::Never,
        Tlog::IfPresent => TlogMode::IfPresent,
        Tlog::Always => TlogMode::Always,
    });
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
    builder.limits(limits).build().map_err(|e| e.to_string())
}

pub fn run(args: ImageArgs) -> u8 {
    let verifier = match build(&args) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("dhi-verify: {message}");
            return EXIT_USAGE;
        }
    };
    // Reject malformed references before verifying anything.
    for r in &args.references {
        if let Err(e) = Reference::parse(r) {
            eprintln!("dhi-verify: {e}");
            return EXIT_USAGE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dhi-verify: starting the async runtime: {e}");
            return Outcome::Error.exit_code();
        }
    };
    let mut worst = 0u8;
    let mut json_verdicts = Vec::new();
    for reference in &args.references {
        let result: Result<dhi_verify::Verdict, Error> =
            runtime.block_on(verifier.verify(reference));
        let code = match &result {
            Ok(v) => v.outcome.exit_code(),
            Err(e) => e.exit_code(),
        };
        worst = worst_of(worst, code);
        match args.format {
            Format::Text => render::text(reference, &result),
            Format::Json => json_verdicts.push(render::json_value(reference, &result)),
        }
    }
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
fn worst_of(a: u8, b: u8) -> u8 {
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
