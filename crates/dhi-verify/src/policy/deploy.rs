//! Rules for a deployment's images (`dhi-verify deploy`, admission): which
//! images need which attestations, per image pattern and namespace, and which
//! images are exempt until a date. Choosing only: the chosen requirements are
//! applied by the verifier like any policy's.
//!
//! Patterns are the policy's anchored globs ([`Glob`]), matched against the
//! image's Docker-normalised name (`docker.io/library/nginx`), the name with
//! its tag (`docker.io/library/nginx:1.27`) and the whole reference (with
//! `@sha256:…` when written). A pattern never matches part of a name:
//! `dhi.io/*` does not match `evil.example/dhi.io/x`.

use super::glob::Glob;
use crate::reference::Reference;
use crate::requirement::Requirement;

/// The deployment rules of a policy file (`[[deploy.rules]]`, `[[deploy.exempt]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeployRules {
    /// Per-image requirements, first match wins.
    pub rules: Vec<ImageRule>,
    /// Images that are not verified until a date.
    pub exemptions: Vec<Exemption>,
}

/// Images (in namespaces) that need these attestations instead of the
/// policy's `[require]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageRule {
    /// The images it covers (any pattern matching is enough).
    pub images: Vec<Glob>,
    /// The namespaces it covers; empty is every namespace (and none).
    pub namespaces: Vec<Glob>,
    /// What each such image must carry, verified (never empty).
    pub require: Vec<Requirement>,
}

/// Images (in namespaces) that run unverified until `expires_unix`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exemption {
    /// The images it covers.
    pub images: Vec<Glob>,
    /// The namespaces it covers; empty is every namespace (and none).
    pub namespaces: Vec<Glob>,
    /// When the exemption ends (Unix seconds); required, so no exemption is forever.
    pub expires_unix: u64,
    /// Why, for the people reading the report.
    pub reason: Option<String>,
}

/// What to do with one image used in one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision<'a> {
    /// Verify it: with the requirements of rule `rule` when one matched,
    /// else with the policy's. `expired` is an exemption that matched but has
    /// ended (reported, so that people renew or remove it).
    Verify {
        /// The index of the matching `[[deploy.rules]]` entry.
        rule: Option<usize>,
        /// Its requirements.
        require: Option<&'a [Requirement]>,
        /// A matching exemption that has expired.
        expired: Option<&'a Exemption>,
    },
    /// Do not verify it: exemption `index` covers it until its date.
    Exempt {
        /// The index of the `[[deploy.exempt]]` entry.
        index: usize,
        /// The exemption.
        exemption: &'a Exemption,
    },
}

impl DeployRules {
    /// Whether there are no rules and no exemptions (every image gets the policy's requirements).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.exemptions.is_empty()
    }

    /// Decides for `image` (as written in the manifest) used in `namespace`,
    /// at `now_unix`. An image that is not a registry reference matches no
    /// pattern (and is verified, which will fail).
    pub fn decide(&self, image: &str, namespace: Option<&str>, now_unix: u64) -> Decision<'_> {
        let names = match_names(image);
        let covers = |images: &[Glob], namespaces: &[Glob]| {
            images.iter().any(|g| names.iter().any(|n| g.matches(n)))
                && (namespaces.is_empty()
                    || namespace.is_some_and(|ns| namespaces.iter().any(|g| g.matches(ns))))
        };
        let mut expired = None;
        for (index, exemption) in self.exemptions.iter().enumerate() {
            if covers(&exemption.images, &exemption.namespaces) {
                if now_unix < exemption.expires_unix {
                    return Decision::Exempt { index, exemption };
                }
                expired.get_or_insert(exemption);
            }
        }
        let rule = self
            .rules
            .iter()
            .position(|r| covers(&r.images, &r.namespaces));
        Decision::Verify {
            rule,
            require: rule
                .and_then(|i| self.rules.get(i))
                .map(|r| r.require.as_slice()),
            expired,
        }
    }
}

/// The names a pattern is tried against: name, name:tag, the whole reference.
fn match_names(image: &str) -> Vec<String> {
    let Ok(Reference::Registry(r)) = Reference::parse(image) else {
        return Vec::new();
    };
    let name = format!("{}/{}", r.registry, r.repository);
    let mut names = vec![name.clone()];
    if let Some(tag) = &r.tag {
        names.push(format!("{name}:{tag}"));
    }
    let whole = Reference::Registry(r).to_string();
    if !names.contains(&whole) {
        names.push(whole);
    }
    names
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;

    fn globs(patterns: &[&str]) -> Vec<Glob> {
        patterns.iter().map(|p| Glob::new(p).unwrap()).collect()
    }

    fn rules() -> DeployRules {
        DeployRules {
            rules: vec![
                ImageRule {
                    images: globs(&["dhi.io/*"]),
                    namespaces: globs(&["prod", "prod-*"]),
                    require: vec![Requirement::parse("vex").unwrap()],
                },
                ImageRule {
                    images: globs(&["docker.io/library/nginx"]),
                    namespaces: vec![],
                    require: vec![Requirement::parse("signature").unwrap()],
                },
            ],
            exemptions: vec![
                Exemption {
                    images: globs(&["docker.io/library/busybox:*"]),
                    namespaces: vec![],
                    expires_unix: 2_000,
                    reason: Some("debug".into()),
                },
                Exemption {
                    images: globs(&["docker.io/library/nginx:1.25"]),
                    namespaces: vec![],
                    expires_unix: 500,
                    reason: None,
                },
            ],
        }
    }

    fn rule_of(d: Decision<'_>) -> Option<usize> {
        match d {
            Decision::Verify { rule, .. } => rule,
            Decision::Exempt { .. } => panic!("exempt"),
        }
    }

    #[test]
    fn first_matching_rule_in_its_namespaces() {
        let r = rules();
        assert_eq!(
            rule_of(r.decide("dhi.io/python:3.13", Some("prod"), 0)),
            Some(0)
        );
        assert_eq!(
            rule_of(r.decide("dhi.io/python:3.13", Some("prod-eu"), 0)),
            Some(0)
        );
        assert_eq!(
            rule_of(r.decide("dhi.io/python:3.13", Some("staging"), 0)),
            None
        );
        assert_eq!(rule_of(r.decide("dhi.io/python:3.13", None, 0)), None);
        // Docker normalisation: `nginx` is docker.io/library/nginx; any tag.
        assert_eq!(rule_of(r.decide("nginx", None, 0)), Some(1));
        assert_eq!(rule_of(r.decide("nginx:1.27", Some("x"), 0)), Some(1));
        // Anchored: no match inside another name.
        assert_eq!(
            rule_of(r.decide("evil.example/dhi.io/python", Some("prod"), 0)),
            None
        );
        assert_eq!(
            rule_of(r.decide("docker.io/library/nginx-evil", None, 0)),
            None
        );
        assert_eq!(rule_of(r.decide("not a reference", None, 0)), None);
    }

    #[test]
    fn exemptions_hold_until_their_date() {
        let r = rules();
        assert!(matches!(
            r.decide("busybox:1.36", None, 1_999),
            Decision::Exempt { index: 0, .. }
        ));
        match r.decide("busybox:1.36", None, 2_000) {
            Decision::Verify {
                expired: Some(e), ..
            } => assert_eq!(e.expires_unix, 2_000),
            other => panic!("{other:?}"),
        }
        // A bare `busybox` is busybox:latest, which the `:*` pattern covers.
        assert!(matches!(
            r.decide("busybox", None, 0),
            Decision::Exempt { .. }
        ));
        // The expired nginx exemption falls through to nginx's rule.
        assert!(matches!(
            r.decide("nginx:1.25", None, 1_000),
            Decision::Verify {
                rule: Some(1),
                expired: Some(_),
                ..
            }
        ));
    }
}
