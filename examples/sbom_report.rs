//! Packages and licenses from the verified SBOM of an image.
//!
//! `cargo run --example sbom_report [REF] [KEY.pub]` — by default the offline
//! demo layout and its test key. Only a verified SBOM is read.

use std::collections::BTreeMap;
use std::process::ExitCode;

use dhi_verify::predicate::Predicate;
use dhi_verify::{Policy, TrustRoot, TrustedKey, Verifier};

fn main() -> ExitCode {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/demo");
    let mut args = std::env::args().skip(1);
    let reference = args.next().unwrap_or_else(|| format!("oci:{demo}:3.13"));
    let key = args.next().unwrap_or_else(|| format!("{demo}/cosign.pub"));

    let trust = match std::fs::read_to_string(&key)
        .map_err(|e| e.to_string())
        .and_then(|pem| TrustedKey::from_pem("release key", &pem).map_err(|e| e.to_string()))
    {
        Ok(k) => TrustRoot::from_keys([k]),
        Err(e) => {
            eprintln!("{key}: {e}");
            return ExitCode::from(2);
        }
    };
    let policy = match Policy::requiring(["sbom"]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let verifier = match Verifier::builder().trust(trust).policy(policy).build() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let verdict = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(verifier.verify(&reference))
                .map_err(|e| e.to_string())
        }) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("could not verify {reference}: {e}");
            return ExitCode::from(3);
        }
    };
    if !verdict.passed() {
        eprintln!("{reference}: no verified SBOM");
        return ExitCode::from(1);
    }
    for attestation in verdict.verified_attestations() {
        let Ok(Predicate::Sbom(sbom)) = attestation.predicate() else {
            continue;
        };
        println!(
            "{} {} — {} packages, signed by {}",
            attestation.predicate_type(),
            attestation.subject().short(),
            sbom.packages.len(),
            attestation.signer()
        );
        let mut by_license: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in &sbom.packages {
            let names = p.licenses().collect::<Vec<_>>();
            if names.is_empty() {
                by_license
                    .entry("(none declared)")
                    .or_default()
                    .push(p.name());
            }
            for l in names {
                by_license.entry(l).or_default().push(p.name());
            }
        }
        for (license, packages) in by_license {
            println!("  {license}: {}", packages.join(", "));
        }
    }
    ExitCode::SUCCESS
}
