//! `dhi-verify sbom | provenance | vex | attestations`: verify, then print what
//! the verified attestations say. Nothing unverified is ever printed as fact:
//! when the attestation a command prints does not verify, stdout stays empty,
//! the reason goes to stderr and the exit code is 1.

use dhi_verify::describe_predicate_type;
use dhi_verify::predicate::{Predicate, Provenance, Sbom, Vex};
use dhi_verify::{CheckStatus, Error, Outcome, Requirement, Verdict, VerifiedAttestation};
use serde_json::{json, Value};

use crate::args::{Format, ImageArgs};
use crate::config::build_verifier;
use crate::exit::ExitCode as _;
use crate::image::worst_of;
use crate::EXIT_USAGE;

/// Which command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    /// `sbom`.
    Sbom,
    /// `provenance`.
    Provenance,
    /// `vex`.
    Vex,
    /// `attestations`.
    Attestations,
}

impl What {
    /// The attestation type the command needs verified.
    fn requirement(self, format: Format) -> &'static str {
        match (self, format) {
            (What::Sbom, Format::Cyclonedx) => "cyclonedx",
            (What::Sbom, Format::Spdx) => "spdx",
            (What::Sbom, _) => "sbom",
            (What::Provenance, _) => "provenance",
            (What::Vex, _) => "vex",
            // Listing requires nothing in particular; the exit code comes
            // from whether every listed attestation verified.
            (What::Attestations, _) => "provenance",
        }
    }
}

pub fn run(what: What, args: ImageArgs) -> u8 {
    if args.from_file.is_some() {
        eprintln!("dhi-verify: --from-file is for `dhi-verify image`");
        return EXIT_USAGE;
    }
    if !args.verify.requires.is_empty() {
        eprintln!("dhi-verify: --require is for `dhi-verify image`");
        return EXIT_USAGE;
    }
    if what != What::Sbom && matches!(args.format, Format::Cyclonedx | Format::Spdx) {
        eprintln!("dhi-verify: --format cyclonedx and spdx are for `dhi-verify sbom`");
        return EXIT_USAGE;
    }
    let requirement = what.requirement(args.format);
    let verifier = match build_verifier(&args.verify, Some(&[requirement])) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("dhi-verify: {message}");
            return EXIT_USAGE;
        }
    };
    let runtime = match crate::image::prepare(&args.references) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let accepts = match Requirement::parse(requirement) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dhi-verify: {e}");
            return EXIT_USAGE;
        }
    };
    let mut worst = 0;
    let mut json_out = Vec::new();
    for reference in &args.references {
        let result: Result<Verdict, Error> = runtime.block_on(verifier.verify(reference));
        let code = match result {
            Err(e) => {
                eprintln!("dhi-verify: {reference}: could not verify: {e}");
                e.exit_code()
            }
            Ok(v) if what == What::Attestations => {
                list_attestations(&v, args.format, &mut json_out)
            }
            Ok(v) => print_verified(what, &v, &accepts, args.format, &mut json_out),
        };
        worst = worst_of(worst, code);
    }
    if args.format == Format::Json && !json_out.is_empty() {
        let out = if json_out.len() == 1 {
            json_out.remove(0)
        } else {
            Value::Array(json_out)
        };
        match serde_json::to_string_pretty(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("dhi-verify: writing JSON: {e}");
                return Outcome::Error.exit_code();
            }
        }
    }
    worst
}

/// Reports why a verdict failed, on stderr.
fn report_failure(v: &Verdict) {
    eprintln!("FAIL {} ({})", v.reference, v.digest);
    for c in v.all_checks().filter(|c| c.status == CheckStatus::Fail) {
        eprintln!("  ✗ {}: {}", c.id, c.message);
    }
}

/// Prints the predicate of the verified attestation each platform carries.
fn print_verified(
    what: What,
    v: &Verdict,
    accepts: &Requirement,
    format: Format,
    json_out: &mut Vec<Value>,
) -> u8 {
    if !v.passed {
        report_failure(v);
        return Outcome::Fail.exit_code();
    }
    if matches!(format, Format::Cyclonedx | Format::Spdx) && v.platforms.len() != 1 {
        eprintln!("dhi-verify: --format {format:?} prints one document: select one platform with --platform");
        return EXIT_USAGE;
    }
    for p in &v.platforms {
        let mut candidates: Vec<&VerifiedAttestation> = p
            .attestations
            .iter()
            .filter_map(|a| a.verified_attestation.as_ref())
            .filter(|a| accepts.accepts(a.predicate_type()))
            .collect();
        // For SBOMs, CycloneDX first (DHI's richer document), then SPDX.
        candidates.sort_by_key(|a| !a.predicate_type().starts_with("https://cyclonedx.org/"));
        let Some(att) = candidates.first() else {
            // The verdict passed, so the requirement found one: defensive.
            eprintln!(
                "dhi-verify: no verified attestation to print for {}",
                p.platform
            );
            return Outcome::Fail.exit_code();
        };
        eprintln!(
            "{} {} {}: {} {} signed by {}",
            v.reference,
            p.platform,
            p.digest,
            describe_predicate_type(att.predicate_type()),
            att.manifest_digest().short(),
            att.signer()
        );
        if matches!(format, Format::Cyclonedx | Format::Spdx) {
            match att.raw_predicate() {
                Ok(raw) => println!("{raw}"),
                Err(e) => {
                    eprintln!(
                        "dhi-verify: reading the verified statement {}: {e}",
                        att.statement_digest()
                    );
                    return Outcome::Fail.exit_code();
                }
            }
            continue;
        }
        let predicate = match att.predicate() {
            Ok(p) => p,
            Err(e) => {
                eprintln!(
                    "dhi-verify: the verified {} {} cannot be read: {e}",
                    describe_predicate_type(att.predicate_type()),
                    att.statement_digest()
                );
                return Outcome::Fail.exit_code();
            }
        };
        if format == Format::Json {
            json_out.push(json!({
                "reference": v.reference, "digest": v.digest, "platform": p.platform.to_string(),
                "attestation": att.manifest_digest(), "predicateType": att.predicate_type(),
                "signer": att.signed_by(), "predicate": predicate,
            }));
            continue;
        }
        match (what, &predicate) {
            (What::Sbom, Predicate::Sbom(s)) => print_sbom(s),
            (What::Provenance, Predicate::Provenance(pr)) => print_provenance(pr),
            (What::Vex, Predicate::Vex(x)) => print_vex(x),
            (_, other) => {
                eprintln!(
                    "dhi-verify: unexpected predicate {:?} for this command",
                    other.kind()
                );
                return Outcome::Fail.exit_code();
            }
        }
    }
    Outcome::Pass.exit_code()
}

/// Prints rows as aligned columns.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

fn print_sbom(s: &Sbom) {
    let rows: Vec<Vec<String>> = s
        .packages
        .iter()
        .map(|p| {
            vec![
                p.name().to_owned(),
                or_dash(p.version()),
                or_dash(p.package_type().or(p.purpose())),
                if p.licenses().len() == 0 {
                    "-".into()
                } else {
                    p.licenses().collect::<Vec<_>>().join(" AND ")
                },
                or_dash(p.purl()),
            ]
        })
        .collect();
    print_table(&["NAME", "VERSION", "TYPE", "LICENSES", "PURL"], &rows);
}

fn print_provenance(p: &Provenance) {
    println!("slsa         {}", p.slsa_version);
    println!("builder      {}", or_dash(p.builder_id.as_deref()));
    println!("build type   {}", or_dash(p.build_type.as_deref()));
    match &p.source {
        Some(src) => println!(
            "source       {}{}{}",
            src.repository,
            src.reference
                .as_deref()
                .map(|r| format!(" @ {r}"))
                .unwrap_or_default(),
            src.commit
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        ),
        None => println!("source       -"),
    }
    println!("entry point  {}", or_dash(p.entry_point.as_deref()));
    println!(
        "started      {}",
        or_dash(p.started_on.as_ref().map(|t| t.as_str()))
    );
    println!(
        "finished     {}",
        or_dash(p.finished_on.as_ref().map(|t| t.as_str()))
    );
    println!("dependencies {}", p.dependencies.len());
    for d in &p.dependencies {
        let digests: Vec<String> = d.digests.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        println!(
            "  {}  {}",
            or_dash(d.uri.as_deref().or(d.name.as_deref())),
            if digests.is_empty() {
                "-".into()
            } else {
                digests.join(" ")
            }
        );
    }
}

fn print_vex(x: &Vex) {
    let rows: Vec<Vec<String>> = x
        .statements
        .iter()
        .map(|s| {
            vec![
                s.vulnerability.name.clone(),
                serde_json::to_value(s.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                s.justification
                    .as_ref()
                    .and_then(|j| serde_json::to_value(j).ok())
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "-".into()),
                s.products
                    .iter()
                    .filter_map(|p| p.id.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    print_table(
        &["VULNERABILITY", "STATUS", "JUSTIFICATION", "PRODUCTS"],
        &rows,
    );
}

/// `attestations`: every attestation with its verification; exit 1 if any
/// listed attestation (or the image itself) fails.
fn list_attestations(v: &Verdict, format: Format, json_out: &mut Vec<Value>) -> u8 {
    let image_ok = v
        .all_checks()
        .filter(|c| !c.id.starts_with("require."))
        .all(|c| c.status != CheckStatus::Fail);
    let all_verified = v
        .platforms
        .iter()
        // BuildKit's unsigned in-index statements are not broken: they are
        // reported (○) and count for nothing.
        .all(|p| p.attestations.iter().all(|a| a.verified || a.unsigned));
    if format == Format::Json {
        json_out.push(json!({
            "reference": v.reference, "digest": v.digest,
            "checks": v.checks,
            "platforms": v.platforms.iter().map(|p| json!({
                "platform": p.platform.to_string(), "digest": p.digest, "attestations": p.attestations,
                "imageSignatures": p.image_signatures,
            })).collect::<Vec<_>>(),
        }));
    } else {
        println!("{} {}", v.reference, v.digest);
        for c in v
            .all_checks()
            .filter(|c| c.status == CheckStatus::Fail && !c.id.starts_with("require."))
        {
            println!("  ✗ {}: {}", c.id, c.message);
        }
        for p in &v.platforms {
            println!("  {} {}", p.platform, p.digest);
            for a in &p.attestations {
                let what = a
                    .predicate_type
                    .as_deref()
                    .map_or_else(|| "(no predicate type)".to_owned(), describe_predicate_type);
                let detail = match &a.verified_attestation {
                    Some(va) => format!("signed by {}", va.signer()),
                    None => a.reason.clone().unwrap_or_default(),
                };
                println!(
                    "    {} {:<26} {}  {}{}{}",
                    crate::render::attestation_mark(a),
                    what,
                    a.manifest_digest.short(),
                    detail,
                    crate::render::source_note(a.source),
                    crate::render::subject_note(v, p, a)
                );
            }
            for s in &p.image_signatures {
                let detail = crate::render::signature_detail(s);
                println!(
                    "    {} {:<26} {}  {} (signs {}){}",
                    if s.signature.verified { "✓" } else { "✗" },
                    "image signature",
                    s.signature.digest.short(),
                    detail,
                    s.subject.short(),
                    crate::render::source_note(s.source)
                );
            }
        }
    }
    if image_ok && all_verified {
        Outcome::Pass.exit_code()
    } else {
        Outcome::Fail.exit_code()
    }
}
