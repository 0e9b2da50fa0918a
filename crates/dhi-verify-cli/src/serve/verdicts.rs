//! One image, answered within an admission's deadline: its tag resolved to
//! a digest (kept briefly), then the verdict for that digest under this
//! server's policy and trust (kept for the verdict TTL), each computed once
//! however many admissions ask at the same time ([`super::cache`]).
//!
//! What is verified is always `registry/repository@digest`, the digest the
//! tag resolved to, so the digest a mutation pins is the one that verified.
//! Fail closed: anything but a passing verdict in time is a reason to deny.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use dhi_verify::{
    CheckStatus, Digest, Error, ErrorClass, PlatformSelection, Policy, Reference, Verdict, Verifier,
};

use super::cache::{Answered, Flights};
use super::metrics::Metrics;

/// What a finished verification of one digest said.
#[derive(Debug)]
pub(crate) enum Finding {
    /// Every check the policy requires passed.
    Pass,
    /// A check failed: `(check id, message)` of each failing check.
    Fail(Vec<(String, String)>),
    /// Verification could not finish: the library's error, which names the step.
    Error(String),
}

impl Finding {
    fn of(result: Result<Verdict, Error>) -> Finding {
        match result {
            Ok(v) if v.passed => Finding::Pass,
            Ok(v) => {
                let mut failed: Vec<(String, String)> = v
                    .checks
                    .iter()
                    .chain(v.platforms.iter().flat_map(|p| p.checks.iter()))
                    .filter(|c| c.status == CheckStatus::Fail)
                    .map(|c| (c.id.clone(), c.message.clone()))
                    .collect();
                failed.dedup();
                if failed.is_empty() {
                    // A failed verdict always names a failing check; if a
                    // later library does not, it still fails.
                    failed.push(("verdict".into(), "the verdict is not a pass".into()));
                }
                Finding::Fail(failed)
            }
            Err(e) => Finding::Error(e.to_string()),
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            Finding::Pass => "pass",
            Finding::Fail(_) => "fail",
            Finding::Error(_) => "error",
        }
    }
}

/// The answer for one image as written in an object or a provider request.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// Verified: this digest passed.
    Verified {
        /// The digest that was verified (the tag's, or the one written).
        digest: Digest,
    },
    /// The digest was verified and failed.
    Failed {
        /// The digest that failed.
        digest: Digest,
        /// What failed.
        finding: Arc<Finding>,
    },
    /// Could not verify: a registry error, an unknown tag, a deadline inside
    /// the library.
    Error(String),
    /// Not finished within the admission deadline (still running, warming
    /// the cache). `during` says which step.
    TimedOut {
        /// `"resolving the tag"` or `"verifying"`.
        during: &'static str,
        /// The admission deadline.
        deadline: Duration,
    },
    /// Not an image reference that can be verified.
    Invalid(String),
}

impl Answer {
    /// The verified digest, if the image passed.
    pub(crate) fn verified(&self) -> Option<&Digest> {
        match self {
            Answer::Verified { digest } => Some(digest),
            _ => None,
        }
    }

    /// Why `image` may not run, for a denial or a provider item's error;
    /// `None` when it verified.
    pub(crate) fn reason(&self, image: &str) -> Option<String> {
        Some(match self {
            Answer::Verified { .. } => return None,
            Answer::Failed { digest, finding } => {
                let checks = match &**finding {
                    Finding::Fail(failed) => failed
                        .iter()
                        .map(|(id, message)| format!("{id}: {message}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                    other => format!("{other:?}"),
                };
                format!("{image} ({digest}) failed verification: {checks}")
            }
            Answer::Error(message) => format!("could not verify {image}: {message}"),
            Answer::TimedOut { during, deadline } => format!(
                "could not verify {image} in time: still {during} after {} ms (the verification goes on; a retry may find it done)",
                deadline.as_millis()
            ),
            Answer::Invalid(message) => format!("{image} cannot be verified: {message}"),
        })
    }

    fn outcome(&self) -> &'static str {
        match self {
            Answer::Verified { .. } => "pass",
            Answer::Failed { .. } => "fail",
            Answer::TimedOut { .. } => "timeout",
            Answer::Error(_) | Answer::Invalid(_) => "error",
        }
    }
}

/// How long results are kept, and how many.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ttls {
    /// A verdict (pass or fail) for a digest.
    pub(crate) verdict: Duration,
    /// A tag's digest.
    pub(crate) tag: Duration,
    /// Most verdicts (and, apart, tags) kept.
    pub(crate) max_entries: usize,
}

type TagResult = Arc<Result<Digest, String>>;

/// A verdict's key: `registry/repository@digest` and [`config_key`].
type VerdictKey = (String, Arc<str>);

/// The verifier behind the cache.
pub(crate) struct Verdicts {
    /// The one verifier (trust, registry client, connections, tokens, disk
    /// cache); its policy is the base policy. The client's first-request
    /// locks are per (registry, scope), so a stalled registry holds back
    /// only its own images.
    verifier: Arc<Verifier>,
    /// The policy of each treatment with its cache key part ([`config_key`]):
    /// index 0 the policy's `[require]`, index `i + 1` the requirements of
    /// `[[deploy.rules]]` entry `i`.
    policies: Vec<(Arc<Policy>, Arc<str>)>,
    /// The platforms every image is verified for.
    platforms: PlatformSelection,
    tags: Arc<Flights<String, TagResult>>,
    verdicts: Arc<Flights<VerdictKey, Arc<Finding>>>,
    ttls: Ttls,
    metrics: Arc<Metrics>,
}

/// The part of a verdict's cache key that names what it was judged by: a
/// SHA-256 of the policy and platforms (`policy`) and of the trust material
/// (`trust`: the bytes of every key, policy and trusted-root file and the
/// identity flags), both fixed for the life of the process.
pub(crate) fn config_key(policy: &str, trust: &[u8]) -> Arc<str> {
    let p = Sha256::digest(policy.as_bytes());
    let t = Sha256::digest(trust);
    Arc::from(format!(
        "policy={},trust={}",
        hex::encode(p),
        hex::encode(t)
    ))
}

impl Verdicts {
    /// `rules`: the requirements of each `[[deploy.rules]]` entry, in order;
    /// `trust`: the trust material's bytes for the cache key.
    pub(crate) fn new(
        verifier: Arc<Verifier>,
        rules: &[Vec<dhi_verify::Requirement>],
        platforms: PlatformSelection,
        trust: &[u8],
        ttls: Ttls,
        metrics: Arc<Metrics>,
    ) -> Verdicts {
        let base = verifier.policy().clone();
        let policies = std::iter::once(base.clone())
            .chain(
                rules
                    .iter()
                    .map(|r| base.clone().with_requirement_list(r.clone())),
            )
            .map(|p| {
                let key = config_key(&format!("{p:?}{platforms:?}"), trust);
                (Arc::new(p), key)
            })
            .collect();
        Verdicts {
            verifier,
            policies,
            platforms,
            tags: Flights::new(ttls.max_entries),
            verdicts: Flights::new(ttls.max_entries),
            ttls,
            metrics,
        }
    }

    /// Verdicts kept now.
    pub(crate) fn kept(&self) -> usize {
        self.verdicts.kept()
    }

    /// The answer for `image` by `deadline`, under the policy's `[require]`
    /// (`rule` `None`) or the requirements of `[[deploy.rules]]` entry `rule`,
    /// with `verifier` (one with a pod's pull secrets) or the server's own.
    ///
    /// The verdict's key does not name the credentials: a verdict is about
    /// the digest's content (content-addressed manifests, signatures and
    /// attestations) under the policy and trust; credentials only give
    /// access, and a read they do not allow is an error, which is never kept.
    pub(crate) async fn check(
        &self,
        image: &str,
        rule: Option<usize>,
        deadline: Instant,
        budget: Duration,
        verifier: Option<&Arc<Verifier>>,
    ) -> Answer {
        let answer = self
            .check_inner(image, rule, deadline, budget, verifier)
            .await;
        if matches!(answer, Answer::TimedOut { .. }) {
            self.metrics.verification(answer.outcome());
        }
        answer
    }

    async fn check_inner(
        &self,
        image: &str,
        rule: Option<usize>,
        deadline: Instant,
        budget: Duration,
        verifier: Option<&Arc<Verifier>>,
    ) -> Answer {
        let Some((policy, config)) = self.policies.get(rule.map_or(0, |i| i + 1)) else {
            // Cannot happen (the index came from the same rules); never a pass.
            return Answer::Error(format!("no [[deploy.rules]] entry {rule:?}"));
        };
        let r = match Reference::parse(image) {
            Ok(Reference::Registry(r)) => r,
            Ok(_) => return Answer::Invalid("not a registry image reference".into()),
            Err(e) => return Answer::Invalid(e.to_string()),
        };
        let registry_verifier = verifier.unwrap_or(&self.verifier).clone();
        let digest = match r.digest {
            Some(d) => d,
            None => {
                let tagged = format!(
                    "{}/{}:{}",
                    r.registry,
                    r.repository,
                    r.tag.as_deref().unwrap_or("latest")
                );
                let (verifier, what, metrics) = (
                    registry_verifier.clone(),
                    tagged.clone(),
                    self.metrics.clone(),
                );
                let ttl = self.ttls.tag;
                let (_, pending) = self.tags.get(
                    tagged,
                    move || async move {
                        let resolved = verifier.resolve(&what).await;
                        if let Err(e) = &resolved {
                            if e.class() == ErrorClass::Error {
                                metrics.registry_error();
                            }
                        }
                        Arc::new(resolved.map_err(|e| e.to_string()))
                    },
                    move |r: &TagResult| r.is_ok().then_some(ttl),
                );
                match pending.until(deadline).await {
                    None => {
                        return Answer::TimedOut {
                            during: "resolving the tag",
                            deadline: budget,
                        }
                    }
                    Some(found) => match &*found {
                        Ok(d) => *d,
                        Err(message) => return Answer::Error(message.clone()),
                    },
                }
            }
        };
        let pinned = format!("{}/{}@{digest}", r.registry, r.repository);
        let (verifier, metrics) = (registry_verifier, self.metrics.clone());
        let ttl = self.ttls.verdict;
        let what = pinned.clone();
        let (policy, platforms) = (policy.clone(), self.platforms.clone());
        let (how, pending) = self.verdicts.get(
            (pinned, config.clone()),
            move || async move {
                let result = verifier.verify_with(&what, &policy, &platforms).await;
                if let Err(e) = &result {
                    if e.class() == ErrorClass::Error {
                        metrics.registry_error();
                    }
                }
                let finding = Finding::of(result);
                metrics.verification(finding.outcome());
                Arc::new(finding)
            },
            // Errors are not kept: the next admission tries again.
            move |f: &Arc<Finding>| (!matches!(**f, Finding::Error(_))).then_some(ttl),
        );
        match how {
            Answered::Hit => self.metrics.cache_hit(),
            Answered::Joined => self.metrics.cache_join(),
            Answered::Started => {}
        }
        match pending.until(deadline).await {
            None => Answer::TimedOut {
                during: "verifying",
                deadline: budget,
            },
            Some(finding) => match &*finding {
                Finding::Pass => Answer::Verified { digest },
                Finding::Fail(_) => Answer::Failed { digest, finding },
                Finding::Error(message) => Answer::Error(message.clone()),
            },
        }
    }
}
