//! Evaluates a policy's rules over one platform's verified evidence. Only
//! verified content is consulted; a rule with nothing verified to judge fails.

use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::time::parse_date_or_time;
use super::{Glob, Policy, Severity, UnderInvestigation};
use crate::predicate::{
    Package, Predicate, PredicateKind, PredicateReader, Provenance, Sbom, Vex, VexStatement,
    VexStatus, VulnerabilityReport,
};
use crate::verdict::{Check, ImageConfig, VerifiedAttestation};

/// What the rules look at for one platform.
pub(crate) struct Facts<'a> {
    pub attestations: Vec<&'a VerifiedAttestation>,
    /// Reads (once per verification) what the attestations say.
    pub predicates: &'a PredicateReader,
    pub config: Option<&'a ImageConfig>,
    pub annotations: &'a std::collections::BTreeMap<String, String>,
    pub at: SystemTime,
}

fn now_unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The verified predicates of the kinds `wanted` accepts, each taken out by
/// `pick`; one that cannot be read fails the rule (the reader's error).
fn predicates<'a, T>(
    facts: &Facts<'a>,
    wanted: impl Fn(PredicateKind) -> bool,
    pick: impl Fn(&Predicate) -> Option<&T>,
) -> Result<Vec<(Rc<Predicate>, &'a VerifiedAttestation)>, String> {
    Ok(facts
        .predicates
        .read(&facts.attestations, wanted)?
        .into_iter()
        .filter(|(p, _)| pick(p).is_some())
        .collect())
}

/// [`predicates`] for a rule family that needs at least one: `None` after
/// pushing a failed check `id` when there is none ("no verified `<what>`") or
/// one cannot be read — a rule with nothing verified to judge fails.
fn judged_predicates<'a, T>(
    facts: &Facts<'a>,
    checks: &mut Vec<Check>,
    (id, what): (&'static str, &str),
    wanted: impl Fn(PredicateKind) -> bool,
    pick: impl Fn(&Predicate) -> Option<&T>,
) -> Option<Vec<(Rc<Predicate>, &'a VerifiedAttestation)>> {
    match predicates(facts, wanted, pick) {
        Ok(read) if !read.is_empty() => Some(read),
        Ok(_) => {
            checks.push(Check::fail(id, format!("no verified {what}")));
            None
        }
        Err(e) => {
            checks.push(Check::fail(id, e));
            None
        }
    }
}

/// The `T`s that [`predicates`] found, borrowed from them.
fn picked<'p, 'a, T>(
    read: &'p [(Rc<Predicate>, &'a VerifiedAttestation)],
    pick: impl Fn(&Predicate) -> Option<&T>,
) -> Vec<(&'p T, &'a VerifiedAttestation)> {
    read.iter()
        .filter_map(|(p, a)| pick(p).map(|t| (t, *a)))
        .collect()
}

fn provenance_of(p: &Predicate) -> Option<&Provenance> {
    match p {
        Predicate::Provenance(p) => Some(p),
        _ => None,
    }
}

fn sbom_of(p: &Predicate) -> Option<&Sbom> {
    match p {
        Predicate::Sbom(s) => Some(s),
        _ => None,
    }
}

fn vulnerabilities_of(p: &Predicate) -> Option<&VulnerabilityReport> {
    match p {
        Predicate::Vulnerabilities(v) => Some(v),
        _ => None,
    }
}

fn vex_of(p: &Predicate) -> Option<&Vex> {
    match p {
        Predicate::Vex(v) => Some(v),
        _ => None,
    }
}

fn any_match(globs: &[Glob], value: Option<&str>) -> bool {
    value.is_some_and(|v| globs.iter().any(|g| g.matches(v)))
}

fn list(globs: &[Glob]) -> String {
    globs
        .iter()
        .map(Glob::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A package matches a pattern on its purl when the pattern starts `pkg:`, else on its name.
fn package_matches(g: &Glob, p: &Package) -> bool {
    if g.as_str().starts_with("pkg:") {
        p.purl().is_some_and(|purl| g.matches(purl))
    } else {
        g.matches(p.name())
    }
}

/// [`package_matches`] for a deny list, which must also catch a purl without
/// a version: `pkg:deb/debian/bash@*` denies `pkg:deb/debian/bash` and
/// `pkg:deb/debian/bash?arch=amd64` too (tried as `…/bash@` and `…/bash@?arch=amd64`).
fn package_denied(g: &Glob, p: &Package) -> bool {
    package_matches(g, p)
        || (g.as_str().starts_with("pkg:")
            && p.purl().is_some_and(|purl| {
                let end = purl.find(['?', '#']).unwrap_or(purl.len());
                let (path, rest) = purl.split_at(end);
                let name = path.rsplit('/').next().unwrap_or(path);
                !name.contains('@') && g.matches(&format!("{path}@{rest}"))
            }))
}

/// The license ids in an SPDX expression (operators, parentheses and the
/// exception after `WITH` are not licenses).
fn license_ids(expression: &str) -> Vec<&str> {
    let mut ids = Vec::new();
    let mut after_with = false;
    for token in expression
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
    {
        match token.to_ascii_uppercase().as_str() {
            "AND" | "OR" => after_with = false,
            "WITH" => after_with = true,
            _ if after_with => after_with = false,
            _ => ids.push(token.trim_end_matches('+')),
        }
    }
    ids
}

pub(crate) fn evaluate(policy: &Policy, facts: &Facts<'_>) -> Vec<Check> {
    let mut checks = Vec::new();
    provenance_checks(policy, facts, &mut checks);
    sbom_checks(policy, facts, &mut checks);
    vulnerability_checks(policy, facts, &mut checks);
    image_checks(policy, facts, &mut checks);
    checks
}

/// A provenance rule: check id, accepted patterns, the field it reads.
type ProvenanceRule<'a> = (&'static str, &'a [Glob], fn(&Provenance) -> Option<&str>);

fn provenance_checks(policy: &Policy, facts: &Facts<'_>, checks: &mut Vec<Check>) {
    let r = &policy.provenance;
    let rules: [ProvenanceRule<'_>; 4] = [
        ("provenance.builder", &r.builder_ids, |p| {
            p.builder_id.as_deref()
        }),
        ("provenance.build-type", &r.build_types, |p| {
            p.build_type.as_deref()
        }),
        ("provenance.source", &r.source_repositories, |p| {
            p.source.as_ref().map(|s| s.repository.as_str())
        }),
        ("provenance.source-ref", &r.source_refs, |p| {
            p.source.as_ref().and_then(|s| s.reference.as_deref())
        }),
    ];
    if rules.iter().all(|(_, g, _)| g.is_empty()) && r.max_age_days.is_none() {
        return;
    }
    let Some(read) = judged_predicates(
        facts,
        checks,
        (
            "provenance",
            "SLSA provenance to check the provenance rules against",
        ),
        |k| matches!(k, PredicateKind::Provenance(_)),
        provenance_of,
    ) else {
        return;
    };
    let provs = picked(&read, provenance_of);
    // Every verified provenance must satisfy each rule.
    for (id, globs, field) in rules {
        if globs.is_empty() {
            continue;
        }
        let bad: Vec<String> = provs
            .iter()
            .filter(|(p, _)| !any_match(globs, field(p)))
            .map(|(p, a)| {
                format!(
                    "{} says {:?}",
                    a.manifest_digest().short(),
                    field(p).unwrap_or("(nothing)")
                )
            })
            .collect();
        checks.push(if bad.is_empty() {
            Check::pass(id, format!("matches {}", list(globs)))
        } else {
            Check::fail(
                id,
                format!("expected one of {}; {}", list(globs), bad.join("; ")),
            )
        });
    }
    if let Some(days) = r.max_age_days {
        let limit = now_unix(facts.at).saturating_sub(u64::from(days) * 86_400);
        let mut bad = Vec::new();
        for (p, a) in &provs {
            let when = p
                .finished_on
                .as_ref()
                .or(p.started_on.as_ref())
                .map(|t| t.as_str().to_owned());
            match when.as_deref().map(parse_date_or_time) {
                Some(Ok(t)) if t >= limit => {}
                Some(Ok(_)) => bad.push(format!(
                    "{} built {}",
                    a.manifest_digest().short(),
                    when.unwrap_or_default()
                )),
                _ => bad.push(format!(
                    "{} has no readable build time",
                    a.manifest_digest().short()
                )),
            }
        }
        checks.push(if bad.is_empty() {
            Check::pass("provenance.age", format!("built within {days} days"))
        } else {
            Check::fail(
                "provenance.age",
                format!("expected a build within {days} days; {}", bad.join("; ")),
            )
        });
    }
}

fn sbom_checks(policy: &Policy, facts: &Facts<'_>, checks: &mut Vec<Check>) {
    let r = &policy.sbom;
    if r.deny_packages.is_empty() && r.deny_licenses.is_empty() && r.require_packages.is_empty() {
        return;
    }
    let Some(read) = judged_predicates(
        facts,
        checks,
        ("sbom", "SBOM to check the SBOM rules against"),
        |k| matches!(k, PredicateKind::Sbom(_)),
        sbom_of,
    ) else {
        return;
    };
    let sboms = picked(&read, sbom_of);
    let packages = || sboms.iter().flat_map(|(s, _)| s.packages.iter());
    let describe = |p: &Package| p.purl().unwrap_or(p.name()).to_owned();
    if !r.deny_packages.is_empty() {
        let mut found: Vec<String> = packages()
            .filter(|p| r.deny_packages.iter().any(|g| package_denied(g, p)))
            .map(describe)
            .collect();
        found.sort();
        found.dedup();
        checks.push(if found.is_empty() {
            Check::pass(
                "sbom.denied-packages",
                format!("no package matches {}", list(&r.deny_packages)),
            )
        } else {
            Check::fail(
                "sbom.denied-packages",
                format!("denied packages present: {}", found.join(", ")),
            )
            .with_evidence(found)
        });
    }
    if !r.deny_licenses.is_empty() {
        let mut found: Vec<String> = packages()
            .filter_map(|p| {
                let denied: Vec<&str> = p
                    .licenses()
                    .flat_map(license_ids)
                    .filter(|id| {
                        r.deny_licenses
                            .iter()
                            .any(|g| g.matches_ignore_ascii_case(id))
                    })
                    .collect();
                (!denied.is_empty()).then(|| format!("{} ({})", describe(p), denied.join(", ")))
            })
            .collect();
        found.sort();
        found.dedup();
        checks.push(if found.is_empty() {
            Check::pass(
                "sbom.denied-licenses",
                format!("no license matches {}", list(&r.deny_licenses)),
            )
        } else {
            Check::fail(
                "sbom.denied-licenses",
                format!("denied licenses present: {}", found.join("; ")),
            )
            .with_evidence(found)
        });
    }
    if !r.require_packages.is_empty() {
        let missing: Vec<&str> = r
            .require_packages
            .iter()
            .filter(|g| !packages().any(|p| package_matches(g, p)))
            .map(Glob::as_str)
            .collect();
        checks.push(if missing.is_empty() {
            Check::pass(
                "sbom.required-packages",
                format!("present: {}", list(&r.require_packages)),
            )
        } else {
            Check::fail(
                "sbom.required-packages",
                format!("required packages missing: {}", missing.join(", ")),
            )
        });
    }
}

fn vulnerability_checks(policy: &Policy, facts: &Facts<'_>, checks: &mut Vec<Check>) {
    let r = &policy.vulnerabilities;
    let Some(max) = r.max_severity else { return };
    let Some(read_reports) = judged_predicates(
        facts,
        checks,
        (
            "vulnerabilities",
            "vulnerability report to check severities against",
        ),
        |k| matches!(k, PredicateKind::Vulnerabilities(_)),
        vulnerabilities_of,
    ) else {
        return;
    };
    let reports = picked(&read_reports, vulnerabilities_of);
    // A report read only in part cannot say there is nothing above `max`.
    let unread: Vec<String> = reports
        .iter()
        .filter(|(r, _)| !r.unread.is_empty())
        .map(|(r, a)| format!("{}: {}", a.manifest_digest().short(), r.unread.join("; ")))
        .collect();
    if !unread.is_empty() {
        checks.push(Check::fail(
            "vulnerabilities",
            format!(
                "could not read every finding of the vulnerability report(s), so their severities \
                 cannot be checked: {}",
                unread.join(" | ")
            ),
        ));
        return;
    }
    let read_vex = match predicates(facts, |k| matches!(k, PredicateKind::Vex), vex_of) {
        Ok(v) => v,
        Err(e) => {
            checks.push(Check::fail("vulnerabilities", e));
            return;
        }
    };
    let vexes: Vec<&Vex> = picked(&read_vex, vex_of)
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    let now = now_unix(facts.at);
    let mut over = Vec::new();
    for (report, _) in &reports {
        for f in &report.findings {
            // Severity from the label, else the highest CVSS score; unknown counts as critical.
            let severity = f
                .severity
                .as_deref()
                .and_then(Severity::parse)
                .or_else(|| {
                    f.scores
                        .iter()
                        .filter_map(|s| s.score.parse::<f64>().ok())
                        .fold(None, |acc: Option<f64>, s| {
                            Some(acc.map_or(s, |a| a.max(s)))
                        })
                        .and_then(Severity::from_cvss)
                })
                .unwrap_or(Severity::Critical);
            if severity <= max {
                continue;
            }
            let purl = f.package_purl.as_deref().unwrap_or("");
            let suppresses = |s: &VexStatement| match s.status {
                VexStatus::NotAffected | VexStatus::Fixed => true,
                VexStatus::UnderInvestigation => {
                    r.under_investigation == UnderInvestigation::NotAffected
                }
                _ => false,
            };
            // The latest statement of all the verified VEX documents decides
            // (OpenVEX: a later statement supersedes); at equal times, the one
            // that does not suppress.
            let suppressed_by_vex = vexes
                .iter()
                .filter_map(|v| v.status_for(&f.id, purl))
                .max_by_key(|s| (s.made_at(), !suppresses(s)))
                .is_some_and(suppresses);
            let allowed = r
                .allow
                .iter()
                .any(|a| a.id == f.id && a.expires_unix.is_none_or(|e| e > now));
            if !suppressed_by_vex && !allowed {
                over.push(format!(
                    "{} ({severity:?}, {})",
                    f.id,
                    if purl.is_empty() { "-" } else { purl }
                ));
            }
        }
    }
    over.sort();
    over.dedup();
    checks.push(if over.is_empty() {
        Check::pass(
            "vulnerabilities.severity",
            format!("no finding above {max:?} after VEX and the allow-list"),
        )
    } else {
        let shown: Vec<&String> = over.iter().take(10).collect();
        Check::fail(
            "vulnerabilities.severity",
            format!(
                "{} finding(s) above {max:?}: {}{}",
                over.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if over.len() > 10 { ", …" } else { "" }
            ),
        )
        .with_evidence(over)
    });
}

fn image_checks(policy: &Policy, facts: &Facts<'_>, checks: &mut Vec<Check>) {
    let r = &policy.image;
    if r.non_root {
        checks.push(match facts.config {
            None => Check::fail(
                "image.non-root",
                "the image configuration could not be read to check its user",
            ),
            Some(c) if c.runs_as_root() => Check::fail(
                "image.non-root",
                format!(
                    "expected a non-root user, found {:?}",
                    c.user.as_deref().unwrap_or("")
                ),
            ),
            Some(c) => Check::pass(
                "image.non-root",
                format!("runs as {:?}", c.user.as_deref().unwrap_or("")),
            ),
        });
    }
    let a = |k: &str| facts.annotations.get(k).map(String::as_str);
    if r.runtime_variant {
        let variant = a("com.docker.dhi.variant");
        let shell = a("com.docker.dhi.shell").filter(|s| !s.is_empty());
        let pm = a("com.docker.dhi.package-manager").filter(|s| !s.is_empty());
        checks.push(match (variant, shell, pm) {
            (Some("runtime"), None, None) => Check::pass("image.runtime-variant", "a runtime variant: no shell, no package manager"),
            (None, _, _) => Check::fail("image.runtime-variant", "the index has no com.docker.dhi.variant annotation"),
            (v, s, p) => Check::fail(
                "image.runtime-variant",
                format!(
                    "expected variant runtime with no shell and no package manager, found variant {:?}, shell {:?}, package manager {:?}",
                    v.unwrap_or(""),
                    s.unwrap_or(""),
                    p.unwrap_or("")
                ),
            ),
        });
    }
    if r.not_end_of_life {
        checks.push(
            match a("com.docker.dhi.date.end-of-life").map(|d| (d, parse_date_or_time(d))) {
                None => Check::fail(
                    "image.end-of-life",
                    "the index has no com.docker.dhi.date.end-of-life annotation",
                ),
                Some((d, Err(_))) => Check::fail(
                    "image.end-of-life",
                    format!("unreadable end-of-life date {d:?}"),
                ),
                Some((d, Ok(t))) if t <= now_unix(facts.at) => {
                    Check::fail("image.end-of-life", format!("past its end of life ({d})"))
                }
                Some((d, Ok(_))) => {
                    Check::pass("image.end-of-life", format!("supported until {d}"))
                }
            },
        );
    }
    if let Some(days) = r.max_age_days {
        let limit = now_unix(facts.at).saturating_sub(u64::from(days) * 86_400);
        let created = facts
            .config
            .and_then(|c| c.created.clone())
            .or_else(|| a("com.docker.dhi.created").map(str::to_owned));
        checks.push(
            match created.as_deref().map(|c| (c, parse_date_or_time(c))) {
                Some((c, Ok(t))) if t >= limit => {
                    Check::pass("image.age", format!("created {c}, within {days} days"))
                }
                Some((c, Ok(_))) => Check::fail(
                    "image.age",
                    format!("expected an image created within {days} days, created {c}"),
                ),
                _ => Check::fail("image.age", "the image has no readable creation time"),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::digest::Digest;
    use crate::verdict::{CheckStatus, Signer};

    const CDX: &str = "https://cyclonedx.org/bom";
    const VEX: &str = "https://openvex.dev/ns/v0.2.0";
    const VULNS: &str = "https://in-toto.io/attestation/vulns/v0.1";

    /// A verified attestation whose statement carries `predicate`.
    fn attestation(predicate_type: &str, predicate: &str) -> VerifiedAttestation {
        let statement = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{}"}}}}],"predicateType":"{predicate_type}","predicate":{predicate}}}"#,
            "a".repeat(64)
        );
        let digest = Digest::of(statement.as_bytes());
        VerifiedAttestation::new(
            predicate_type.into(),
            digest,
            digest,
            Digest::of(b"signature"),
            Signer::Keyless {
                identity: "i".into(),
                issuer: "j".into(),
            },
            Arc::new(statement.into_bytes()),
        )
    }

    /// The status of check `id` under `policy` (TOML) with these attestations.
    fn status(policy: &str, attestations: &[VerifiedAttestation], id: &str) -> CheckStatus {
        let policy = crate::policy::parse_policy(
            &format!("version = 1\n{policy}"),
            std::path::Path::new("."),
            None,
        )
        .unwrap()
        .policy;
        let annotations = BTreeMap::new();
        let config = ImageConfig {
            user: Some("65532".into()),
            created: None,
        };
        let reader = PredicateReader::new(crate::predicate::PredicateLimits::default());
        let facts = Facts {
            attestations: attestations.iter().collect(),
            predicates: &reader,
            config: Some(&config),
            annotations: &annotations,
            at: SystemTime::now(),
        };
        let checks = evaluate(&policy, &facts);
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no check {id} in {checks:?}"))
            .status
    }

    const SLSA02: &str = "https://slsa.dev/provenance/v0.2";

    /// A verified attestation carrying a real slsa-github-generator v0.2
    /// statement (`testdata/predicates/provenance/slsa-github-generator/`).
    fn generator_provenance(version: &str) -> VerifiedAttestation {
        let path = format!(
            "{}/../../testdata/predicates/provenance/slsa-github-generator/{version}.statement.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let statement = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let digest = Digest::of(&statement);
        VerifiedAttestation::new(
            SLSA02.into(),
            digest,
            digest,
            Digest::of(b"signature"),
            Signer::Keyless {
                identity: "i".into(),
                issuer: "j".into(),
            },
            Arc::new(statement),
        )
    }

    #[test]
    fn each_statement_is_parsed_once_however_many_rules_read_it() {
        let policy = crate::policy::parse_policy(
            "version = 1\n[sbom]\ndeny-packages = [\"pkg:npm/evil@*\"]\n\
             deny-licenses = [\"GPL-3.0-only\"]\nrequire-packages = [\"bash\"]\n\
             [provenance]\nbuilder-ids = [\"https://github.com/*\"]\n",
            std::path::Path::new("."),
            None,
        )
        .unwrap()
        .policy;
        let sbom = sbom("pkg:deb/debian/bash@5.2", "GPL-3.0-or-later");
        let provenance = generator_provenance("v2.0.0");
        let annotations = BTreeMap::new();
        let reader = PredicateReader::new(crate::predicate::PredicateLimits::default());
        // The same attestations judged for two platforms (as one about the
        // index is), by three SBOM rules and one provenance rule each.
        for _ in 0..2 {
            let facts = Facts {
                attestations: vec![&sbom, &provenance],
                predicates: &reader,
                config: None,
                annotations: &annotations,
                at: SystemTime::now(),
            };
            let checks = evaluate(&policy, &facts);
            assert!(
                checks
                    .iter()
                    .any(|c| c.id == "sbom.required-packages" && c.status == CheckStatus::Pass),
                "{checks:?}"
            );
        }
        assert_eq!(reader.parses(), 2);
    }

    #[test]
    fn every_provenance_rule_passes_and_fails_on_real_slsa_v0_2() {
        // (rule, passing value, failing value, check id)
        let rules = [
            (
                "builder-ids",
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v*",
                "https://github.com/docker-hardened-images/*",
                "provenance.builder",
            ),
            (
                "build-types",
                "https://github.com/slsa-framework/slsa-github-generator/container@v1",
                "https://mobyproject.org/buildkit@v1",
                "provenance.build-type",
            ),
            (
                "source-repositories",
                "https://github.com/slsa-framework/example-package",
                "https://github.com/slsa-framework/example-package.git",
                "provenance.source",
            ),
            (
                "source-refs",
                "refs/*",
                "refs/heads/release-*",
                "provenance.source-ref",
            ),
        ];
        for version in ["v1.4.0", "v1.7.0", "v2.0.0"] {
            let a = [generator_provenance(version)];
            for (field, good, bad, id) in rules {
                let pass = format!("[provenance]\n{field} = [\"{good}\"]");
                assert_eq!(status(&pass, &a, id), CheckStatus::Pass, "{version} {pass}");
                let fail = format!("[provenance]\n{field} = [\"{bad}\"]");
                assert_eq!(status(&fail, &a, id), CheckStatus::Fail, "{version} {fail}");
            }
        }
        // The ref is the configSource's: a branch in v1.7.0, a tag in v2.0.0.
        let tags = "[provenance]\nsource-refs = [\"refs/tags/*\"]";
        let id = "provenance.source-ref";
        assert_eq!(
            status(tags, &[generator_provenance("v2.0.0")], id),
            CheckStatus::Pass
        );
        assert_eq!(
            status(tags, &[generator_provenance("v1.7.0")], id),
            CheckStatus::Fail
        );
    }

    #[test]
    fn the_age_rule_on_slsa_v0_2_reads_build_finished_on_and_fails_without_times() {
        let age = "[provenance]\nmax-age-days = 36500";
        // the generator writes no metadata.buildStartedOn/buildFinishedOn
        let a = [generator_provenance("v2.0.0")];
        assert_eq!(status(age, &a, "provenance.age"), CheckStatus::Fail);
        let timed = |finished: &str| {
            attestation(
                SLSA02,
                &format!(
                    r#"{{"builder":{{"id":"b"}},"metadata":{{"buildStartedOn":"2001-01-01T00:00:00Z","buildFinishedOn":"{finished}"}}}}"#
                ),
            )
        };
        assert_eq!(
            status(age, &[timed("2024-11-05T09:31:47Z")], "provenance.age"),
            CheckStatus::Pass
        );
        let recent = "[provenance]\nmax-age-days = 30";
        assert_eq!(
            status(recent, &[timed("2024-11-05T09:31:47Z")], "provenance.age"),
            CheckStatus::Fail
        );
    }

    #[test]
    fn slsa_v0_2_without_a_builder_id_or_with_wrong_types_fails_the_rules() {
        let builder = "[provenance]\nbuilder-ids = [\"*\"]";
        // no builder, an empty builder id: nothing for `*` to match
        for doc in [
            r#"{"buildType":"t"}"#,
            r#"{"builder":{}}"#,
            r#"{"builder":{"id":""}}"#,
            r#"{"builder":null}"#,
        ] {
            let a = [attestation(SLSA02, doc)];
            assert_eq!(
                status(builder, &a, "provenance.builder"),
                CheckStatus::Fail,
                "{doc}"
            );
        }
        // wrong types: the predicate cannot be read, so the provenance check fails
        for doc in [
            r#"{"builder":{"id":1}}"#,
            r#"{"builder":"https://github.com/x"}"#,
            r#"{"builder":{"id":"b"},"buildType":{}}"#,
            r#"{"builder":{"id":"b"},"invocation":{"configSource":{"uri":["git+https://github.com/o/r@refs/tags/x"]}}}"#,
            r#"{"builder":{"id":"b"},"materials":{"uri":"x"}}"#,
            r#""not an object""#,
        ] {
            let a = [attestation(SLSA02, doc)];
            assert_eq!(
                status(builder, &a, "provenance"),
                CheckStatus::Fail,
                "{doc}"
            );
        }
        // one good and one unreadable provenance: still a failure
        let a = [
            generator_provenance("v2.0.0"),
            attestation(SLSA02, r#"{"builder":{"id":1}}"#),
        ];
        assert_eq!(status(builder, &a, "provenance"), CheckStatus::Fail);
    }

    const HIGH: &str = "[vulnerabilities]\nmax-severity = \"high\"";

    #[test]
    fn a_vulnerability_report_not_read_in_full_fails_the_severity_rule() {
        for report in [
            "{}",
            r#"{"scanner":{"result":{"CVE-1":{"severity":"critical"}}}}"#,
            r#"[{"purl":"pkg:deb/debian/x@1","vulnerabilities":{"CVE-1":{}}}]"#,
            r#"{"scanner":{"result":[{"vulnerability_id":"CVE-1"}]}}"#,
            r#"{"scanner":{"result":["CVE-1"]}}"#,
        ] {
            let a = [attestation(VULNS, report)];
            assert_eq!(
                status(HIGH, &a, "vulnerabilities"),
                CheckStatus::Fail,
                "{report}"
            );
        }
        // read in full, and clean
        let clean = [attestation(VULNS, r#"{"scanner":{"uri":"u","result":[]}}"#)];
        assert_eq!(
            status(HIGH, &clean, "vulnerabilities.severity"),
            CheckStatus::Pass
        );
    }

    fn critical(id: &str, purl: Option<&str>) -> VerifiedAttestation {
        let annotations = purl.map_or(String::new(), |p| {
            format!(r#","annotations":[{{"purl":"{p}"}}]"#)
        });
        attestation(
            VULNS,
            &format!(
                r#"{{"scanner":{{"result":[{{"id":"{id}","severity":[{{"method":"nvd","score":"9.8"}}]{annotations}}}]}}}}"#
            ),
        )
    }

    fn vex(time: &str, id: &str, product: &str, status: &str) -> VerifiedAttestation {
        let extra = if status == "affected" {
            r#","action_statement":"upgrade""#
        } else if status == "not_affected" {
            r#","justification":"vulnerable_code_not_in_execute_path""#
        } else {
            ""
        };
        attestation(
            VEX,
            &format!(
                r#"{{"@context":"https://openvex.dev/ns/v0.2.0","timestamp":"{time}","statements":[{{"vulnerability":{{"name":"{id}"}},"products":[{product}],"status":"{status}"{extra}}}]}}"#
            ),
        )
    }

    #[test]
    fn the_latest_vex_statement_of_all_documents_decides() {
        let finding = critical("CVE-1", Some("pkg:deb/debian/openssl@3"));
        let product = r#"{"@id":"pkg:deb/debian/openssl"}"#;
        let old_not_affected = vex("2024-01-01T00:00:00Z", "CVE-1", product, "not_affected");
        let new_affected = vex("2025-01-01T00:00:00Z", "CVE-1", product, "affected");
        let new_fixed = vex("2025-01-01T00:00:00Z", "CVE-1", product, "fixed");
        let id = "vulnerabilities.severity";
        // in either order of the documents
        let a = [
            finding.clone(),
            new_affected.clone(),
            old_not_affected.clone(),
        ];
        assert_eq!(status(HIGH, &a, id), CheckStatus::Fail);
        let a = [
            finding.clone(),
            old_not_affected.clone(),
            new_affected.clone(),
        ];
        assert_eq!(status(HIGH, &a, id), CheckStatus::Fail);
        // a later not_affected does suppress
        let newer = vex("2026-01-01T00:00:00Z", "CVE-1", product, "not_affected");
        let a = [finding.clone(), new_affected.clone(), newer];
        assert_eq!(status(HIGH, &a, id), CheckStatus::Pass);
        // at the same instant, the statement that does not suppress wins
        let a = [finding.clone(), new_fixed, new_affected];
        assert_eq!(status(HIGH, &a, id), CheckStatus::Fail);
        let a = [finding, old_not_affected];
        assert_eq!(status(HIGH, &a, id), CheckStatus::Pass);
    }

    #[test]
    fn an_empty_vex_purl_suppresses_no_finding() {
        let finding = critical("CVE-2", None);
        let empty = vex(
            "2025-01-01T00:00:00Z",
            "CVE-2",
            r#"{"@id":"pkg:oci/whatever","identifiers":{"purl":""}}"#,
            "not_affected",
        );
        let a = [finding, empty];
        assert_eq!(
            status(HIGH, &a, "vulnerabilities.severity"),
            CheckStatus::Fail
        );
    }

    fn sbom(purl: &str, license: &str) -> VerifiedAttestation {
        attestation(
            CDX,
            &format!(
                r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{{"name":"bash","purl":"{purl}","licenses":[{{"license":{{"id":"{license}"}}}}]}}]}}"#
            ),
        )
    }

    #[test]
    fn denied_license_ids_match_whatever_their_case() {
        let policy = "[sbom]\ndeny-licenses = [\"AGPL-*\"]";
        for license in ["AGPL-3.0-only", "agpl-3.0-only", "Agpl-3.0-or-later"] {
            let a = [sbom("pkg:deb/debian/bash@5", license)];
            assert_eq!(
                status(policy, &a, "sbom.denied-licenses"),
                CheckStatus::Fail,
                "{license}"
            );
        }
        let a = [sbom("pkg:deb/debian/bash@5", "MIT")];
        assert_eq!(
            status(policy, &a, "sbom.denied-licenses"),
            CheckStatus::Pass
        );
    }

    #[test]
    fn a_denied_purl_pattern_with_a_version_also_denies_purls_without_one() {
        let policy = "[sbom]\ndeny-packages = [\"pkg:deb/debian/bash@*\"]";
        for purl in [
            "pkg:deb/debian/bash@5.2",
            "pkg:deb/debian/bash",
            "pkg:deb/debian/bash?arch=amd64",
            "pkg:deb/debian/bash#sub",
        ] {
            let a = [sbom(purl, "MIT")];
            assert_eq!(
                status(policy, &a, "sbom.denied-packages"),
                CheckStatus::Fail,
                "{purl}"
            );
        }
        for purl in [
            "pkg:deb/debian/bash-completion",
            "pkg:deb/debian/dash?arch=amd64",
        ] {
            let a = [sbom(purl, "MIT")];
            assert_eq!(
                status(policy, &a, "sbom.denied-packages"),
                CheckStatus::Pass,
                "{purl}"
            );
        }
    }

    #[test]
    fn license_ids_skip_operators_and_exceptions() {
        assert_eq!(
            license_ids("(MIT OR Apache-2.0) AND GPL-2.0-or-later WITH Classpath-exception-2.0"),
            ["MIT", "Apache-2.0", "GPL-2.0-or-later"]
        );
        assert_eq!(license_ids("LGPL-2.1+"), ["LGPL-2.1"]);
    }
}
