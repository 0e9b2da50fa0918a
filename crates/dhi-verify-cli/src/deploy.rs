//! `dhi-verify deploy`: reads Kubernetes manifests, Helm or kustomize output
//! and Compose files, verifies every image they run once per distinct image
//! (with the policy's per-image and per-namespace rules), prints one line per
//! image with where it is used, and with `--pin` the input rewritten to the
//! verified digests. Reading is the library's (`dhi_verify::workload`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dhi_verify::policy::deploy::{Decision, DeployRules, Exemption};
use dhi_verify::workload::{self, ContainerKind, ImageUse};
use dhi_verify::{CheckStatus, Error, Outcome, PlatformSelection, Policy, Verdict, Verifier};
use futures_util::StreamExt as _;
use serde_json::json;

use crate::args::{DeployArgs as Args, Format};
use crate::exit::ExitCode as _;
use crate::image::worst_of;
use crate::render;
use crate::EXIT_USAGE;

/// The largest input read, per file and in all (256 MiB): the rendered
/// manifests of a large platform are tens of MiB.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// How many distinct images are verified at once (requests stay bounded by
/// `--jobs` over all of them).
const IMAGES_AT_ONCE: usize = 4;

/// How an image is treated: verified under the policy (or a deploy rule's
/// requirements), or exempt. Images are verified once per (image, treatment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Treatment {
    Verify { rule: Option<usize> },
    Exempt { index: usize },
}

/// One distinct image, its uses and its result.
struct Group {
    /// The Docker-normalised reference that is verified.
    image: String,
    treatment: Treatment,
    /// An exemption that matched but has ended.
    expired: Option<Exemption>,
    /// The exemption in force, for exempt images.
    exemption: Option<Exemption>,
    uses: Vec<ImageUse>,
    /// `None` for exempt images.
    result: Option<Result<Verdict, Error>>,
}

impl Group {
    fn exit_code(&self) -> u8 {
        match &self.result {
            None => 0,
            Some(Ok(v)) => v.outcome.exit_code(),
            Some(Err(e)) => e.exit_code(),
        }
    }

    fn label(&self) -> &'static str {
        match (&self.result, self.exit_code()) {
            (None, _) => "EXEMPT",
            (_, 0) => "PASS",
            (_, 1) => "FAIL",
            _ => "ERROR",
        }
    }
}

/// One input file, read.
struct Input {
    name: String,
    text: String,
}

/// Reads `path` ("-" is standard input), at most `budget` bytes.
fn read(path: &Path, budget: u64) -> Result<Input, String> {
    let text = crate::input::read_text(
        path,
        budget,
        &format!("manifests ({MAX_INPUT_BYTES} bytes in all)"),
    )?;
    Ok(Input {
        name: crate::input::display_name(path),
        text,
    })
}

/// Every input, with the images found in them.
struct Manifests {
    inputs: Vec<Input>,
    uses: Vec<ImageUse>,
    skipped: Vec<String>,
}

/// Reads every input and finds its images. `Err` is a usage message naming
/// the file, document and line.
fn read_all(paths: &[PathBuf]) -> Result<Manifests, String> {
    let mut inputs = Vec::new();
    let mut uses = Vec::new();
    let mut skipped = Vec::new();
    let mut budget = MAX_INPUT_BYTES;
    for path in paths {
        let input = read(path, budget)?;
        budget -= input.text.len() as u64;
        let found =
            workload::read_manifests(&input.name, &input.text).map_err(|e| e.to_string())?;
        uses.extend(found.uses);
        skipped.extend(found.skipped);
        inputs.push(input);
    }
    // An empty input is more likely a failed `helm template` than a
    // deployment of nothing: refuse it rather than pass it.
    if uses.is_empty() && skipped.is_empty() {
        return Err(format!(
            "{}: no Kubernetes object or Compose file found: expected manifests",
            inputs
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Manifests {
        inputs,
        uses,
        skipped,
    })
}

/// The namespace a use runs in: its object's, else `--namespace` for
/// Kubernetes objects; Compose services have none.
fn namespace_of<'a>(u: &'a ImageUse, default: &'a str) -> Option<&'a str> {
    if u.container_kind == ContainerKind::ComposeService {
        return None;
    }
    Some(u.namespace.as_deref().unwrap_or(default))
}

/// Groups the uses by (normalised image, treatment), in order of first use.
fn group(uses: Vec<ImageUse>, rules: &DeployRules, namespace: &str) -> Result<Vec<Group>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut groups: Vec<Group> = Vec::new();
    let mut index: std::collections::HashMap<(String, Treatment), usize> =
        std::collections::HashMap::new();
    for u in uses {
        let image = workload::canonical(&u.image).map_err(|e| e.to_string())?;
        let (treatment, expired, exemption) =
            match rules.decide(&u.image, namespace_of(&u, namespace), now) {
                Decision::Exempt { index, exemption } => {
                    (Treatment::Exempt { index }, None, Some(exemption.clone()))
                }
                Decision::Verify { rule, expired, .. } => {
                    (Treatment::Verify { rule }, expired.cloned(), None)
                }
                // `Decision` may grow; what is not understood is verified.
                _ => (Treatment::Verify { rule: None }, None, None),
            };
        match index
            .get(&(image.clone(), treatment))
            .and_then(|&i| groups.get_mut(i))
        {
            Some(g) => g.uses.push(u),
            None => {
                index.insert((image.clone(), treatment), groups.len());
                groups.push(Group {
                    image,
                    treatment,
                    expired,
                    exemption,
                    uses: vec![u],
                    result: None,
                });
            }
        }
    }
    Ok(groups)
}

pub fn run(args: Args) -> u8 {
    let usage = |message: String| {
        eprintln!("dhi-verify: {message}");
        EXIT_USAGE
    };
    if args.pin && args.files.len() != 1 {
        return usage(format!(
            "--pin rewrites one input: expected one FILE, found {}",
            args.files.len()
        ));
    }
    if matches!(args.format, Format::Cyclonedx | Format::Spdx) {
        return usage("--format cyclonedx and spdx are for `sbom`: expected text or json".into());
    }
    // The verifier first, so that bad trust options are a usage error even
    // when the input has no images.
    let verifier = match crate::config::build_verifier(&args.verify, None) {
        Ok(v) => v,
        Err(e) => return usage(e.to_string()),
    };
    let rules = match crate::config::deploy_rules(&args.verify) {
        Ok(r) => r,
        Err(e) => return usage(e.to_string()),
    };
    let Manifests {
        inputs,
        uses,
        skipped,
    } = match read_all(&args.files) {
        Ok(r) => r,
        Err(m) => return usage(m),
    };
    let mut groups = match group(uses, &rules, &args.namespace) {
        Ok(g) => g,
        Err(m) => return usage(m),
    };
    // A cluster's nodes vary: every platform of the index unless narrowed.
    let platforms = if args.verify.platforms.is_empty() {
        PlatformSelection::All
    } else {
        verifier.platforms().clone()
    };
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
    let results = runtime.block_on(verify_all(&verifier, &rules, &groups, &platforms));
    runtime.shutdown_timeout(Duration::from_millis(100));
    for (g, r) in groups.iter_mut().zip(results) {
        g.result = r;
    }
    let worst = groups.iter().fold(0, |w, g| worst_of(w, g.exit_code()));

    if args.pin {
        report(&groups, &skipped, true);
        return pin(&inputs, &groups, worst);
    }
    match args.format {
        Format::Json => match json_report(&groups, &skipped, worst) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("dhi-verify: writing JSON: {e}");
                return Outcome::Error.exit_code();
            }
        },
        _ => report(&groups, &skipped, false),
    }
    worst
}

/// Verifies each group that is not exempt, a few at once; results in group order.
async fn verify_all(
    verifier: &Verifier,
    rules: &DeployRules,
    groups: &[Group],
    platforms: &PlatformSelection,
) -> Vec<Option<Result<Verdict, Error>>> {
    let base = verifier.policy();
    let policy_of = |t: Treatment| -> Option<Policy> {
        match t {
            Treatment::Exempt { .. } => None,
            Treatment::Verify { rule: None } => Some(base.clone()),
            Treatment::Verify { rule: Some(i) } => Some(match rules.rules.get(i) {
                Some(r) => base.clone().with_requirement_list(r.require.clone()),
                // Cannot happen (the index came from these rules); an empty
                // requirement list is refused when verifying: never a pass.
                None => base.clone().with_requirement_list(Vec::new()),
            }),
        }
    };
    // One verification per (image, policy): rules that require the same
    // attestations share it.
    let mut distinct: Vec<(&str, Policy)> = Vec::new();
    let slots: Vec<Option<usize>> = groups
        .iter()
        .map(|g| {
            let policy = policy_of(g.treatment)?;
            Some(
                match distinct
                    .iter()
                    .position(|(image, p)| *image == g.image && *p == policy)
                {
                    Some(i) => i,
                    None => {
                        distinct.push((&g.image, policy));
                        distinct.len() - 1
                    }
                },
            )
        })
        .collect();
    let results: Vec<Result<Verdict, Error>> = futures_util::stream::iter(
        distinct
            .iter()
            .map(|(image, policy)| verifier.verify_with(image, policy, platforms)),
    )
    .buffered(IMAGES_AT_ONCE)
    .collect()
    .await;
    groups
        .iter()
        .zip(slots)
        .map(|(g, slot)| {
            // `None` is exempt; a verified group always gets a result (a
            // missing one, a bug, is an error: never read as exempt).
            slot.map(|i| {
                results.get(i).cloned().unwrap_or_else(|| {
                    Err(Error::Unsupported {
                        reference: g.image.clone(),
                        what: "a verification without a result (a bug)",
                    })
                })
            })
        })
        .collect()
}

/// `--pin`: the input rewritten, only when every image passed.
fn pin(inputs: &[Input], groups: &[Group], worst: u8) -> u8 {
    if worst != 0 {
        eprintln!("dhi-verify: not pinning: not every image passed");
        return worst;
    }
    let Some(input) = inputs.first() else {
        return worst;
    };
    let pins: Vec<(&ImageUse, &dhi_verify::Digest)> = groups
        .iter()
        .filter_map(|g| match &g.result {
            Some(Ok(v)) if v.passed => Some(g.uses.iter().map(move |u| (u, &v.digest))),
            _ => None,
        })
        .flatten()
        .collect();
    let exempt = groups.iter().filter(|g| g.result.is_none()).count();
    if exempt > 0 {
        eprintln!("note: {exempt} exempt image(s) left as written (not verified, so not pinned)");
    }
    match workload::pin(&input.text, &pins) {
        Ok(text) => {
            print!("{text}");
            worst
        }
        Err(e) => {
            eprintln!("dhi-verify: not pinning {}: {e}", input.name);
            match e {
                // The input is written in a way that cannot be pinned in place:
                // the fix is in the input (exit 2).
                workload::PinError::SharedAnchor { .. }
                | workload::PinError::BlockScalar { .. }
                | workload::PinError::NotARegistryReference { .. } => EXIT_USAGE,
                _ => Outcome::Error.exit_code(),
            }
        }
    }
}

/// Where a use is: `k8s/app.yaml:20` (or the document number without a line).
fn place(u: &ImageUse) -> String {
    let file = u.file.as_deref().unwrap_or("-");
    match u.line {
        Some(line) => format!("{file}:{line}"),
        None => format!("{file}, document {}", u.document + 1),
    }
}

/// `Deployment prod/web` or `compose shop`.
fn owner(u: &ImageUse) -> String {
    let name = u.name.as_deref().unwrap_or("(unnamed)");
    match &u.namespace {
        Some(ns) => format!("{} {ns}/{name}", u.kind),
        None => format!("{} {name}", u.kind),
    }
}

/// One line per use: `Deployment prod/web initContainer migrate (k8s/app.yaml:20)`.
fn use_line(u: &ImageUse) -> String {
    format!(
        "{} {} {} ({})",
        owner(u),
        u.container_kind.as_str(),
        u.container,
        place(u)
    )
}

/// `3 ConfigMap, 1 Service`.
fn skipped_summary(skipped: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in skipped {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn date(unix: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(unix).unwrap_or(i64::MAX))
        .map_or_else(|_| unix.to_string(), |t| t.strftime("%Y-%m-%d").to_string())
}

/// The text report (on stderr with `--pin`): a line per image, its failures,
/// its uses; then what was skipped and the result.
fn report(groups: &[Group], skipped: &[String], to_stderr: bool) {
    let mut lines = Vec::new();
    for g in groups {
        let head = match &g.result {
            None => {
                let e = g.exemption.as_ref();
                format!(
                    "EXEMPT {} until {}{}",
                    g.image,
                    e.map_or_else(String::new, |e| date(e.expires_unix)),
                    e.and_then(|e| e.reason.as_deref())
                        .map_or_else(String::new, |r| format!(" ({r})"))
                )
            }
            Some(Ok(v)) => format!("{} {} {}", g.label(), g.image, v.digest),
            Some(Err(_)) => format!("ERROR {}", g.image),
        };
        lines.push(head);
        match &g.result {
            Some(Ok(v)) => {
                for c in v.all_checks().filter(|c| c.status == CheckStatus::Fail) {
                    lines.push(format!("  ✗ {}: {}", c.id, c.message));
                }
            }
            Some(Err(e)) => lines.push(format!("  could not verify: {e}")),
            None => {}
        }
        if let Treatment::Verify { rule: Some(i) } = g.treatment {
            lines.push(format!("  requirements of deploy.rules[{i}]"));
        }
        if let Some(e) = &g.expired {
            lines.push(format!(
                "  note: an exemption for this image expired on {}",
                date(e.expires_unix)
            ));
        }
        for u in &g.uses {
            lines.push(format!("  used by {}", use_line(u)));
        }
    }
    if !skipped.is_empty() {
        lines.push(format!(
            "skipped (no containers): {}",
            skipped_summary(skipped)
        ));
    }
    let worst = groups.iter().fold(0, |w, g| worst_of(w, g.exit_code()));
    let uses: usize = groups.iter().map(|g| g.uses.len()).sum();
    lines.push(format!(
        "result: {} ({} image{}, {uses} use{})",
        match worst {
            0 => "PASS",
            1 => "FAIL",
            _ => "ERROR",
        },
        groups.len(),
        if groups.len() == 1 { "" } else { "s" },
        if uses == 1 { "" } else { "s" },
    ));
    for l in lines {
        if to_stderr {
            eprintln!("{l}");
        } else {
            println!("{l}");
        }
    }
}

/// The JSON report (docs/deploy.md, docs/deploy.schema.json).
fn json_report(
    groups: &[Group],
    skipped: &[String],
    worst: u8,
) -> Result<String, serde_json::Error> {
    let mut images = Vec::new();
    for g in groups {
        let uses: Vec<serde_json::Value> = g
            .uses
            .iter()
            .map(|u| {
                json!({
                    "file": u.file, "document": u.document, "line": u.line,
                    "kind": u.kind, "name": u.name, "namespace": u.namespace,
                    "container": u.container, "containerKind": u.container_kind.as_str(),
                    "written": u.image, "pointer": u.pointer,
                })
            })
            .collect();
        let mut v = json!({
            "image": g.image,
            "passed": g.exit_code() == 0,
            "outcome": match g.label() { "EXEMPT" => "exempt", "PASS" => "pass", "FAIL" => "fail", _ => "error" },
            "uses": uses,
        });
        match (&g.result, &g.exemption) {
            (Some(result), _) => {
                v["verdict"] = render::json_value(&g.image, result)?;
                if let Ok(verdict) = result {
                    v["digest"] = json!(verdict.digest.to_string());
                }
            }
            (None, Some(e)) => {
                v["exemption"] = json!({"expires": date(e.expires_unix), "reason": e.reason});
            }
            (None, None) => {}
        }
        if let Treatment::Verify { rule: Some(i) } = g.treatment {
            v["rule"] = json!(i);
        }
        if let Some(e) = &g.expired {
            v["expiredExemption"] = json!({"expires": date(e.expires_unix), "reason": e.reason});
        }
        images.push(v);
    }
    let mut skipped_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in skipped {
        *skipped_counts.entry(s.as_str()).or_default() += 1;
    }
    serde_json::to_string_pretty(&json!({
        "schemaVersion": 1,
        "passed": worst == 0,
        "outcome": match worst { 0 => "pass", 1 => "fail", _ => "error" },
        "images": images,
        "skipped": skipped_counts,
    }))
}
