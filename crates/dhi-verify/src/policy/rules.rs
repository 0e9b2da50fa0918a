//! Evaluates a policy's rules over one platform's verified evidence. Only
//! verified content is consulted; a rule with nothing verified to judge fails.

use std::time::{SystemTime, UNIX_EPOCH};

use super::time::parse_date_or_time;
use super::{Glob, Policy, Severity, UnderInvestigation};
use crate::predicate::{Package, Predicate, Provenance, Sbom, Vex, VexStatus, VulnerabilityReport};
use crate::verdict::{Check, ImageConfig, VerifiedAttestation};

/// What the rules look at for one platform.
pub(crate) struct Facts<'a> {
    pub attestations: Vec<&'a VerifiedAttestation>,
    pub config: Option<&'a ImageConfig>,
    pub annotations: &'a std::collections::BTreeMap<String, String>,
    pub at: SystemTime,
}

fn now_unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Parses the verified predicates of one kind; an unreadable one fails the rule.
fn predicates<'a, T>(
    facts: &Facts<'a>,
    pick: impl Fn(Predicate) -> Option<T>,
) -> Result<Vec<(T, &'a VerifiedAttestation)>, String> {
    let mut out = Vec::new();
    for a in &facts.attestations {
        match a.predicate() {
            Ok(p) => {
                if let Some(t) = pick(p) {
                    out.push((t, *a));
                }
            }
            Err(e) => {
                return Err(format!(
                    "verified attestation {} cannot be read: {e}",
                    a.manifest_digest().short()
                ))
            }
        }
    }
    Ok(out)
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
    let provs = match predicates(facts, |p| match p {
        Predicate::Provenance(p) => Some(p),
        _ => None,
    }) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            checks.push(Check::fail(
                "provenance",
                "no verified SLSA provenance to check the provenance rules against",
            ));
            return;
        }
        Err(e) => {
            checks.push(Check::fail("provenance", e));
            return;
        }
    };
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
    let sboms: Vec<(Sbom, &VerifiedAttestation)> = match predicates(facts, |p| match p {
        Predicate::Sbom(s) => Some(s),
        _ => None,
    }) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => {
            checks.push(Check::fail(
                "sbom",
                "no verified SBOM to check the SBOM rules against",
            ));
            return;
        }
        Err(e) => {
            checks.push(Check::fail("sbom", e));
            return;
        }
    };
    let packages = || sboms.iter().flat_map(|(s, _)| s.packages.iter());
    let describe = |p: &Package| p.purl().unwrap_or(p.name()).to_owned();
    if !r.deny_packages.is_empty() {
        let mut found: Vec<String> = packages()
            .filter(|p| r.deny_packages.iter().any(|g| package_matches(g, p)))
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
                    .filter(|id| r.deny_licenses.iter().any(|g| g.matches(id)))
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
    let reports: Vec<(VulnerabilityReport, &VerifiedAttestation)> =
        match predicates(facts, |p| match p {
            Predicate::Vulnerabilities(v) => Some(v),
            _ => None,
        }) {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => {
                checks.push(Check::fail(
                    "vulnerabilities",
                    "no verified vulnerability report to check severities against",
                ));
                return;
            }
            Err(e) => {
                checks.push(Check::fail("vulnerabilities", e));
                return;
            }
        };
    let vexes: Vec<Vex> = match predicates(facts, |p| match p {
        Predicate::Vex(v) => Some(v),
        _ => None,
    }) {
        Ok(v) => v.into_iter().map(|(v, _)| v).collect(),
        Err(e) => {
            checks.push(Check::fail("vulnerabilities", e));
            return;
        }
    };
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
            let suppressed_by_vex = vexes.iter().any(|v| {
                v.status_for(&f.id, purl).is_some_and(|s| match s.status {
                    VexStatus::NotAffected | VexStatus::Fixed => true,
                    VexStatus::UnderInvestigation => {
                        r.under_investigation == UnderInvestigation::NotAffected
                    }
                    _ => false,
                })
            });
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
    use super::license_ids;

    #[test]
    fn license_ids_skip_operators_and_exceptions() {
        assert_eq!(
            license_ids("(MIT OR Apache-2.0) AND GPL-2.0-or-later WITH Classpath-exception-2.0"),
            ["MIT", "Apache-2.0", "GPL-2.0-or-later"]
        );
        assert_eq!(license_ids("LGPL-2.1+"), ["LGPL-2.1"]);
    }
}
