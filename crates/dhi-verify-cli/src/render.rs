//! Renders verdicts: a readable summary (failing checks first) or JSON.

use dhi_verify::describe_predicate_type;
use dhi_verify::{CheckStatus, Error, Verdict};
use serde_json::json;

use crate::exit::ExitCode as _;

/// The JSON form: the verdict itself, or for an error an object with the same
/// `schemaVersion`, `reference`, `passed: false`, `outcome` and an `error`.
/// `Err` when the verdict cannot be serialized: the caller must not exit 0.
pub fn json_value(
    reference: &str,
    result: &Result<Verdict, Error>,
) -> Result<serde_json::Value, serde_json::Error> {
    Ok(match result {
        Ok(v) => serde_json::to_value(v)?,
        Err(e) => json!({
            "schemaVersion": dhi_verify::VERDICT_SCHEMA_VERSION,
            "reference": reference,
            "passed": false,
            "outcome": if e.exit_code() == crate::EXIT_USAGE { "usage" } else { "error" },
            "error": {"message": e.to_string()},
        }),
    })
}

/// Who signed, or why the signature does not count.
pub fn signature_detail(s: &dhi_verify::ImageSignatureReport) -> String {
    if s.signature.verified {
        format!(
            "signed by {}",
            s.signature.key.as_deref().unwrap_or("a trusted signer")
        )
    } else {
        s.signature.reason.clone().unwrap_or_default()
    }
}

/// Where evidence came from, when not the usual referrers.
pub fn source_note(source: dhi_verify::EvidenceSource) -> &'static str {
    match source {
        dhi_verify::EvidenceSource::CosignTag => " (cosign tag)",
        dhi_verify::EvidenceSource::ImageIndex => " (in the image index)",
        _ => "",
    }
}

/// ✓ verified, ○ unsigned (BuildKit's in-index statements: not broken), ✗ not verified.
pub fn attestation_mark(a: &dhi_verify::AttestationReport) -> &'static str {
    if a.unsigned {
        "○"
    } else {
        mark(a.verified)
    }
}

/// " (about the index)" for an attestation about the index rather than the platform.
pub fn subject_note(
    v: &Verdict,
    p: &dhi_verify::PlatformVerdict,
    a: &dhi_verify::AttestationReport,
) -> &'static str {
    if a.subject == v.digest && a.subject != p.digest {
        " (about the index)"
    } else {
        ""
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "✓"
    } else {
        "✗"
    }
}

/// The text form, on stdout.
pub fn text(reference: &str, result: &Result<Verdict, Error>) {
    let v = match result {
        Ok(v) => v,
        Err(e) => {
            println!("ERROR {reference}");
            println!("  could not verify: {e}");
            return;
        }
    };
    println!("{} {}", if v.passed { "PASS" } else { "FAIL" }, v.reference);
    println!("  digest {}", v.digest);
    let failing: Vec<_> = v
        .all_checks()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    if !failing.is_empty() {
        println!("  failed checks:");
        for c in failing {
            println!("    ✗ {}: {}", c.id, c.message);
        }
    }
    for c in v.checks.iter().filter(|c| c.status != CheckStatus::Fail) {
        println!("  {} {}: {}", mark(true), c.id, c.message);
    }
    for p in &v.platforms {
        println!("  {} {}", p.platform, p.digest);
        for a in &p.attestations {
            let what = a
                .predicate_type
                .as_deref()
                .map_or_else(|| "(no predicate type)".to_owned(), describe_predicate_type);
            let detail = if a.verified {
                let signer = a
                    .verified_attestation
                    .as_ref()
                    .map(|va| va.signer().to_owned())
                    .unwrap_or_default();
                format!("signed by {signer}")
            } else {
                a.reason.clone().unwrap_or_default()
            };
            println!(
                "    {} {:<26} {}  {}{}{}",
                attestation_mark(a),
                what,
                a.manifest_digest.short(),
                detail,
                source_note(a.source),
                subject_note(v, p, a)
            );
        }
        for s in &p.image_signatures {
            let what = if s.subject == v.digest && s.subject != p.digest {
                "signature on the index"
            } else {
                "signature on the image"
            };
            let detail = signature_detail(s);
            println!(
                "    {} {:<26} {}  {}{}",
                mark(s.signature.verified),
                what,
                s.signature.digest.short(),
                detail,
                source_note(s.source)
            );
        }
        for c in p.checks.iter().filter(|c| c.status != CheckStatus::Fail) {
            println!(
                "    {} {}: {}",
                mark(c.status == CheckStatus::Pass),
                c.id,
                c.message
            );
        }
    }
}
