//! A pre-deploy gate: verify an image, then print the digest to deploy.
//!
//! `cargo run --example gate [REF] [KEY.pub]` — by default the offline demo
//! layout and its test key. Exit 0 with the digest on stdout when the image
//! passes; 1 with the failing checks when it does not; 3 when it could not be
//! verified.

use std::process::ExitCode;

use dhi_verify::{CheckStatus, ErrorClass, Policy, TrustRoot, TrustedKey, Verifier};

fn main() -> ExitCode {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/demo");
    let mut args = std::env::args().skip(1);
    let reference = args.next().unwrap_or_else(|| format!("oci:{demo}:3.13"));
    let key = args.next().unwrap_or_else(|| format!("{demo}/cosign.pub"));

    let pem = match std::fs::read_to_string(&key) {
        Ok(pem) => pem,
        Err(e) => {
            eprintln!("reading {key}: {e}");
            return ExitCode::from(2);
        }
    };
    let trust = match TrustedKey::from_pem("release key", &pem) {
        Ok(k) => TrustRoot::from_keys([k]),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let verifier = match Verifier::builder()
        .trust(trust)
        .policy(Policy::dhi_default())
        .build()
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(verifier.verify(&reference)) {
        Ok(verdict) if verdict.passed() => {
            // Deploy the digest that was verified, never the tag.
            println!("{}", verdict.digest());
            ExitCode::SUCCESS
        }
        Ok(verdict) => {
            for check in verdict
                .all_checks()
                .filter(|c| c.status == CheckStatus::Fail)
            {
                eprintln!("✗ {}: {}", check.id, check.message);
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("could not verify {reference}: {e}");
            // 2: the caller's input is wrong; 3: could not check. Never 0.
            ExitCode::from(if e.class() == ErrorClass::Usage { 2 } else { 3 })
        }
    }
}
