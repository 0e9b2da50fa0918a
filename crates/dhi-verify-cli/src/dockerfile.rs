//! `dhi-verify dockerfile`: reads a Dockerfile, verifies every external image
//! the build needs with the same verifier `image` builds, applies the
//! library's stage rules (`dhi_verify::dockerfile::stage_checks`: the final
//! stage runs on a runtime variant, as non-root), prints one verdict per
//! image and a summary per stage, and with `--pin` the Dockerfile rewritten to
//! the verified digests. Parsing is the library's (`dhi_verify::dockerfile`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use dhi_verify::dockerfile::{
    stage_checks, Base, Dockerfile, ExternalImage, ImageUse, SourceFrom, Stage,
};
use dhi_verify::{
    Check, CheckStatus, Error, Outcome, Platform, PlatformSelection, Reference, Verdict,
};
use serde_json::json;

use crate::args::{DockerfileArgs as Args, Format};
use crate::exit::ExitCode as _;
use crate::image::worst_of;
use crate::render;
use crate::EXIT_USAGE;

/// The largest Dockerfile read (4 MiB); larger files are a usage error.
pub const MAX_DOCKERFILE_BYTES: u64 = 4 << 20;

/// Reads the Dockerfile, at most [`MAX_DOCKERFILE_BYTES`].
fn read(path: &Path) -> Result<String, String> {
    crate::input::read_text(path, MAX_DOCKERFILE_BYTES, "a Dockerfile")
}

fn build_args(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for a in args {
        let (name, value) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (a.as_str(), std::env::var(a).ok()),
        };
        if name.is_empty() {
            return Err(format!("--build-arg {a:?}: expected NAME=VALUE"));
        }
        // `--build-arg NAME` with NAME unset in the environment sets nothing, as for docker.
        if let Some(value) = value {
            out.insert(name.to_owned(), value);
        }
    }
    Ok(out)
}

/// The canonical form of a reference, for matching `--image-map` keys.
fn canonical(reference: &str) -> String {
    Reference::parse(reference).map_or_else(|_| reference.to_owned(), |r| r.to_string())
}

/// `--image-map REF=LOCATION`, keyed by the canonical REF without digest.
fn image_map(entries: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for e in entries {
        let Some((from, to)) = e.split_once('=') else {
            return Err(format!("--image-map {e:?}: expected REF=oci:<dir>[:<tag>]"));
        };
        Reference::parse(from).map_err(|err| format!("--image-map {e:?}: {err}"))?;
        Reference::parse(to).map_err(|err| format!("--image-map {e:?}: {err}"))?;
        out.insert(canonical(from), to.to_owned());
    }
    Ok(out)
}

/// Where to verify `reference` from: itself, or its `--image-map` location.
/// A reference written with a digest maps to the location at that digest.
fn locate(reference: &str, map: &BTreeMap<String, String>) -> String {
    if let Some(to) = map.get(&canonical(reference)) {
        return to.clone();
    }
    let Ok(parsed) = Reference::parse(reference) else {
        return reference.to_owned();
    };
    let Some(digest) = parsed.digest() else {
        return reference.to_owned();
    };
    let without_digest = match reference.trim().rsplit_once('@') {
        Some((name, _)) => name,
        None => return reference.to_owned(),
    };
    match map.get(&canonical(without_digest)) {
        Some(to) => match Reference::parse(to) {
            Ok(Reference::Layout(l)) => format!("oci:{}@{digest}", l.path.display()),
            Ok(Reference::Registry(r)) => format!("{}/{}@{digest}", r.registry, r.repository),
            _ => to.clone(),
        },
        None => reference.to_owned(),
    }
}

/// The platforms to verify `image` for: `None` for the command-line choice
/// when no stage using it names a platform; otherwise the stages' platforms
/// plus, for uses without one, the command-line platforms (or this machine's).
fn platforms_for(image: &ExternalImage, args: &Args) -> Option<Vec<String>> {
    if args.verify.all_platforms || image.uses.iter().all(|u| u.platform.is_none()) {
        return None;
    }
    let mut out: Vec<String> = image
        .uses
        .iter()
        .filter_map(|u| u.platform.clone())
        .collect();
    if image.uses.iter().any(|u| u.platform.is_none()) {
        if args.verify.platforms.is_empty() {
            out.push(Platform::host().to_string());
        } else {
            out.extend(args.verify.platforms.iter().cloned());
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// One external image and what became of it.
struct Checked {
    image: ExternalImage,
    location: String,
    result: Result<Verdict, Error>,
    /// The stage rules' checks ([`dhi_verify::dockerfile::stage_checks`]).
    checks: Vec<Check>,
}

impl Checked {
    fn exit_code(&self) -> u8 {
        let verdict = match &self.result {
            Ok(v) => v.outcome.exit_code(),
            Err(e) => e.exit_code(),
        };
        let rule = if self.checks.iter().any(|c| c.status == CheckStatus::Fail) {
            Outcome::Fail.exit_code()
        } else {
            0
        };
        worst_of(verdict, rule)
    }

    fn label(&self) -> &'static str {
        match self.exit_code() {
            0 => "PASS",
            1 => "FAIL",
            _ => "ERROR",
        }
    }
}

pub fn run(args: Args) -> u8 {
    let usage = |message: String| {
        eprintln!("dhi-verify: {message}");
        EXIT_USAGE
    };
    let text = match read(&args.file) {
        Ok(t) => t,
        Err(m) => return usage(m),
    };
    let build_args = match build_args(&args.build_args) {
        Ok(b) => b,
        Err(m) => return usage(m),
    };
    let map = match image_map(&args.image_map) {
        Ok(m) => m,
        Err(m) => return usage(m),
    };
    let file_name = args.file.display().to_string();
    let parsed = Dockerfile::parse(&text, &build_args).and_then(|d| {
        let images = d.external_images(args.target.as_deref())?;
        let final_index = d.final_stage(args.target.as_deref())?.index;
        Ok((d, images, final_index))
    });
    let (dockerfile, images, final_index) = match parsed {
        Ok(p) => p,
        Err(e) => return usage(format!("{file_name}:{}: {e}", e.line())),
    };
    // One verifier (trust, limits, registry client and cache) for every
    // image, built first so that bad trust options are a usage error even
    // when no image needs verifying. Each image is verified with the policy
    // minus its non-root rule (build stages on -dev images run as root by
    // design; the final stage is judged for it below) and for the platforms
    // its stages name.
    let (verifier, rules) = match crate::config::build_verifier_and_stage_rules(&args.verify, None)
    {
        Ok(v) => v,
        Err(m) => return usage(m.to_string()),
    };
    let policy = verifier.policy();
    let mut image_rules = policy.image_rules().clone();
    image_rules.non_root = false;
    let stage_policy = policy.clone().with_image_rules(image_rules);
    let mut selections = Vec::with_capacity(images.len());
    for image in &images {
        let selection = match platforms_for(image, &args) {
            None => verifier.platforms().clone(),
            Some(names) => match names
                .iter()
                .map(|p| p.parse::<Platform>())
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(p) => PlatformSelection::Only(p),
                Err(e) => return usage(format!("{}: {e}", image.reference)),
            },
        };
        selections.push(selection);
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
    let final_stage = dockerfile.stages().get(final_index);
    let runtime_image = match (final_stage, dockerfile.root_base(final_index)) {
        (Some(stage), Some(Base::Image { reference, .. })) => Some((stage, reference.clone())),
        _ => None,
    };
    let mut checked = Vec::new();
    for (image, selection) in images.into_iter().zip(&selections) {
        let location = locate(&image.reference, &map);
        let result = runtime.block_on(verifier.verify_with(&location, &stage_policy, selection));
        let final_stage = match &runtime_image {
            Some((stage, reference)) if *reference == image.reference => Some(*stage),
            _ => None,
        };
        let checks = stage_checks(&rules, &image.reference, final_stage, result.as_ref().ok());
        checked.push(Checked {
            image,
            location,
            result,
            checks,
        });
    }
    runtime.shutdown_timeout(Duration::from_millis(100));
    let worst = checked.iter().fold(0, |w, c| worst_of(w, c.exit_code()));

    if args.pin {
        report_brief(&checked);
        summary(
            &dockerfile,
            &checked,
            final_index,
            args.target.as_deref(),
            true,
        );
        if worst != 0 {
            eprintln!("dhi-verify: not pinning: not every image passed");
            return worst;
        }
        let resolved = checked
            .iter()
            .filter_map(|c| {
                c.result
                    .as_ref()
                    .ok()
                    .map(|v| (c.image.reference.clone(), v.digest))
            })
            .collect();
        print!("{}", dockerfile.pin(&text, &resolved));
        return worst;
    }
    match args.format {
        // cyclonedx and spdx are `sbom` formats; text is the fallback.
        Format::Text | Format::Cyclonedx | Format::Spdx => {
            if let Some(syntax) = dockerfile.syntax() {
                println!("note: # syntax={syntax}: BuildKit runs this frontend image to read the file; it is not verified here");
            }
            for c in &checked {
                println!("== {} ({})", c.image.reference, uses(&c.image.uses));
                render::text(&c.location, &c.result);
                for check in &c.checks {
                    println!("  {} {}: {}", mark(check.status), check.id, check.message);
                }
                println!();
            }
            summary(
                &dockerfile,
                &checked,
                final_index,
                args.target.as_deref(),
                false,
            );
        }
        Format::Json => {
            let list = match checked
                .iter()
                .map(json_value)
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(list) => list,
                Err(e) => {
                    eprintln!("dhi-verify: serializing a verdict: {e}");
                    return Outcome::Error.exit_code();
                }
            };
            match serde_json::to_string_pretty(&list) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("dhi-verify: writing JSON: {e}");
                    return Outcome::Error.exit_code();
                }
            }
        }
    }
    worst
}

fn mark(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "✓",
        CheckStatus::Fail => "✗",
        CheckStatus::Skip => "-",
    }
}

/// `FROM in stage build (line 4), COPY --from in stage 1 (line 9)`.
fn uses(uses: &[ImageUse]) -> String {
    uses.iter()
        .map(|u| {
            let stage = u.stage_name.clone().unwrap_or_else(|| u.stage.to_string());
            format!("{} in stage {stage}, line {}", u.kind.as_str(), u.line)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One object per image: `{image, location?, stages: [{name, index, line, use}], passed, checks, verdict}`.
fn json_value(c: &Checked) -> Result<serde_json::Value, serde_json::Error> {
    let stages: Vec<serde_json::Value> = c
        .image
        .uses
        .iter()
        .map(|u| json!({"name": u.stage_name, "index": u.stage, "line": u.line, "use": u.kind.as_str(), "platform": u.platform}))
        .collect();
    let checks: Vec<serde_json::Value> = c
        .checks
        .iter()
        .map(|k| {
            json!({"id": k.id, "status": k.status, "message": k.message, "evidence": k.evidence})
        })
        .collect();
    let mut v = json!({
        "image": c.image.reference,
        "stages": stages,
        "passed": c.exit_code() == 0,
        "checks": checks,
        "verdict": render::json_value(&c.location, &c.result)?,
    });
    if c.location != c.image.reference {
        v["location"] = json!(c.location);
    }
    Ok(v)
}

/// With `--pin`, on stderr: one line per image and its failures.
fn report_brief(checked: &[Checked]) {
    for c in checked {
        match &c.result {
            Ok(v) => {
                eprintln!(
                    "{} {} {} ({})",
                    c.label(),
                    c.image.reference,
                    v.digest,
                    uses(&c.image.uses)
                );
                for f in v.all_checks().filter(|k| k.status == CheckStatus::Fail) {
                    eprintln!("  ✗ {}: {}", f.id, f.message);
                }
            }
            Err(e) => {
                eprintln!("ERROR {} ({})", c.image.reference, uses(&c.image.uses));
                eprintln!("  could not verify: {e}");
            }
        }
        for k in c.checks.iter().filter(|k| k.status != CheckStatus::Pass) {
            eprintln!("  {} {}: {}", mark(k.status), k.id, k.message);
        }
    }
}

/// The per-stage summary: what each stage the build needs starts from and
/// whether the images it uses passed.
fn summary(
    dockerfile: &Dockerfile,
    checked: &[Checked],
    final_index: usize,
    target: Option<&str>,
    to_stderr: bool,
) {
    let mut lines = Vec::new();
    let needed = dockerfile.needed_stages(target).unwrap_or_default();
    lines.push(match target {
        Some(t) => format!("stages (target {t}):"),
        None => "stages:".to_owned(),
    });
    let status_of = |reference: &str| {
        checked
            .iter()
            .find(|c| c.image.reference == reference)
            .map_or("-", Checked::label)
    };
    for stage in needed {
        let from = match &stage.base {
            Base::Image {
                reference,
                platform,
                ..
            } => match platform {
                Some(p) => format!("FROM --platform={p} {reference} {}", status_of(reference)),
                None => format!("FROM {reference} {}", status_of(reference)),
            },
            Base::Stage(j) => {
                let name = dockerfile
                    .stages()
                    .get(*j)
                    .map_or_else(|| j.to_string(), Stage::display_name);
                format!("FROM stage {name}")
            }
            Base::Scratch => "FROM scratch".to_owned(),
            _ => "FROM ?".to_owned(),
        };
        let mut parts = vec![from];
        for s in &stage.sources {
            if let SourceFrom::Image(reference) = &s.from {
                parts.push(format!(
                    "{} {reference} {} (line {})",
                    s.kind.as_str(),
                    status_of(reference),
                    s.line
                ));
            }
        }
        let final_mark = if stage.index == final_index {
            "  (final)"
        } else {
            ""
        };
        lines.push(format!(
            "  {:<12} line {:<4} {}{final_mark}",
            stage.display_name(),
            stage.line,
            parts.join("; ")
        ));
    }
    let worst = checked.iter().fold(0, |w, c| worst_of(w, c.exit_code()));
    lines.push(format!(
        "result: {} ({} image{} checked)",
        match worst {
            0 => "PASS",
            1 => "FAIL",
            _ => "ERROR",
        },
        checked.len(),
        if checked.len() == 1 { "" } else { "s" }
    ));
    for l in lines {
        if to_stderr {
            eprintln!("{l}");
        } else {
            println!("{l}");
        }
    }
}
