//! The verifier: trust, policy and options, validated once, then applied to
//! any number of references. The builder's states make an unverifiable
//! verifier impossible to build: no trust root, no verifier.

use std::time::{Duration, SystemTime};

use crate::digest::Digest;
use crate::discover::{discover, Evidence, PlatformSelection};
use crate::error::{ConfigError, Error, SourceError, SourceStep};
use crate::limits::Limits;
use crate::platform::Platform;
use crate::policy::evaluate::{evaluate, Judged};
use crate::policy::{PlatformRule, Policy};
use crate::predicate::PredicateReader;
use crate::reference::{Reference, RegistryReference, DOCKER_HUB};
use crate::source::budget::Budget;
use crate::source::layout::LayoutSource;
use crate::source::registry::{DockerConfig, RegistryClient, RegistryOptions, RegistrySource};
use crate::source::Source;
use crate::trust::TrustRoot;
use crate::verdict::Verdict;
use crate::verify::{verify, Context, VerifiedEvidence};

/// Verifies images. Build one with [`Verifier::builder`].
#[derive(Debug, Clone)]
pub struct Verifier {
    trust: TrustRoot,
    policy: Policy,
    platforms: PlatformSelection,
    limits: Limits,
    referrers: Option<Reference>,
    at: Option<SystemTime>,
    deadline: Duration,
    /// One connection pool, credential and token cache for every registry.
    registry: RegistryClient,
}

/// The default [`VerifierBuilder::deadline`]: 300 s.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// Builder state: a trust root is needed next.
#[derive(Debug)]
pub struct WantsTrust(());
/// Builder state: a policy is needed next.
#[derive(Debug)]
pub struct WantsPolicy {
    trust: TrustRoot,
}
/// Builder state: ready to build; optional settings may follow.
#[derive(Debug)]
pub struct Ready {
    trust: TrustRoot,
    policy: Policy,
    platforms: PlatformSelection,
    limits: Limits,
    referrers: Option<Reference>,
    at: Option<SystemTime>,
    deadline: Duration,
    registry: RegistryOptions,
}

/// Builds a [`Verifier`]. Decisions, in order: [`trust`](VerifierBuilder::trust),
/// [`policy`](VerifierBuilder::policy), then optional settings and
/// [`build`](VerifierBuilder::<Ready>::build). Skipping trust does not compile:
///
/// ```compile_fail
/// let v = dhi_verify::Verifier::builder().build();
/// ```
#[derive(Debug)]
pub struct VerifierBuilder<S> {
    state: S,
}

impl Verifier {
    /// Starts building a verifier.
    pub fn builder() -> VerifierBuilder<WantsTrust> {
        VerifierBuilder {
            state: WantsTrust(()),
        }
    }

    /// Verifies the image `reference` names (see [`Reference::parse`]).
    ///
    /// `Ok` carries the verdict, pass or fail; `Err` means verification could
    /// not finish (or the reference is malformed) and is never a pass.
    pub async fn verify(&self, reference: &str) -> Result<Verdict, Error> {
        let parsed = Reference::parse(reference)?;
        self.verify_reference(&parsed).await
    }

    /// Verifies `reference` under `policy`, for `platforms`, instead of the
    /// policy and platforms the verifier was built with: one verifier (one
    /// trust root, connection pool and cache) serves many policies — a
    /// Dockerfile's stages, a deployment's images, an admission webhook's
    /// namespaces. The trust root stays the verifier's; the policy supplies
    /// requirements, rules and the transparency-log mode.
    ///
    /// A policy that requires nothing, or an empty platform list, is
    /// refused ([`Error::Config`]), as [`VerifierBuilder::build`] refuses them.
    pub async fn verify_with(
        &self,
        reference: &str,
        policy: &Policy,
        platforms: &PlatformSelection,
    ) -> Result<Verdict, Error> {
        let parsed = Reference::parse(reference)?;
        self.verify_reference_with(&parsed, policy, platforms).await
    }

    /// The digest `reference` names now, without verifying anything: the
    /// digest itself when the reference has one, else what its tag resolves
    /// to (one manifest request, whose bytes the verifier's disk cache, when
    /// it has one, keeps: verifying that digest next does not fetch them again).
    ///
    /// For callers that key results by digest (an admission webhook's
    /// verdict cache): resolve, then verify `repository@digest`, so the
    /// digest that was verified is the one resolved. Bounded by the
    /// verifier's [deadline](VerifierBuilder::deadline) and byte budget.
    pub async fn resolve(&self, reference: &str) -> Result<Digest, Error> {
        let parsed = Reference::parse(reference)?;
        let budget = Budget::new(self.limits.max_total_bytes, self.deadline);
        let work = budget.scope(async {
            let step = SourceStep::ResolveReference;
            let subject = parsed.to_string();
            let found = match &parsed {
                Reference::Layout(r) => {
                    let image = self.open_layout(&r.path)?;
                    image.resolve(r.tag.as_deref(), r.digest.as_ref()).await
                }
                Reference::Registry(r) => {
                    if let Some(d) = r.digest {
                        return Ok(d);
                    }
                    self.registry_source(&r.registry, &r.repository)
                        .resolve(r.tag.as_deref(), None)
                        .await
                }
            };
            found.map(|d| d.digest).map_err(|source| Error::Source {
                step,
                subject,
                source,
            })
        });
        if matches!(parsed, Reference::Layout(_)) {
            // Local reads check the deadline before each read (as in
            // `verify_reference_with`); no timer needed.
            return work.await;
        }
        let at = tokio::time::Instant::from_std(budget.deadline_at());
        tokio::select! {
            biased;
            r = work => r,
            () = tokio::time::sleep_until(at) => Err(Error::DeadlineExceeded {
                reference: parsed.to_string(),
                deadline_ms: millis(budget.deadline()),
                during: budget.in_flight(),
            }),
        }
    }

    /// The policy [`Self::verify`] applies.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The platforms [`Self::verify`] selects.
    pub fn platforms(&self) -> &PlatformSelection {
        &self.platforms
    }

    /// A verifier with this one's trust, policy, platforms, limits and
    /// registry options, looking registry credentials up in `docker_config`
    /// instead, with a registry client of its own (connections and tokens are
    /// not shared: they belong to other credentials). For a server that
    /// verifies some images with a caller's credentials (a pod's pull
    /// secrets) and must judge them under exactly the same trust.
    pub fn with_docker_config(&self, docker_config: DockerConfig) -> Result<Verifier, ConfigError> {
        let mut options = self.registry.options().clone();
        options.docker_config = docker_config;
        Ok(Verifier {
            registry: RegistryClient::new(options)?,
            ..self.clone()
        })
    }

    /// Verifies a parsed reference, within [`crate::Limits::max_total_bytes`]
    /// and the [deadline](VerifierBuilder::deadline): going over either is
    /// an `Err` (could not check), never a verdict.
    ///
    /// Signature listings of attestation manifests may come from the disk
    /// cache (they name immutable manifests, and every signature is verified
    /// anyway); when the verdict is not a pass with such kept listings, the
    /// image is verified again with fresh ones (within the same budget and
    /// deadline), so a kept listing can never be the reason for a failure
    /// (nor, being verified, for a pass).
    pub async fn verify_reference(&self, reference: &Reference) -> Result<Verdict, Error> {
        self.verify_reference_with(reference, &self.policy, &self.platforms)
            .await
    }

    /// [`Self::verify_reference`] under `policy`, for `platforms` (see [`Self::verify_with`]).
    pub async fn verify_reference_with(
        &self,
        reference: &Reference,
        policy: &Policy,
        platforms: &PlatformSelection,
    ) -> Result<Verdict, Error> {
        check_request(policy, platforms)?;
        let request = Request { policy, platforms };
        let budget = Budget::new(self.limits.max_total_bytes, self.deadline);
        let work = budget.scope(self.verify_unbounded(reference, request));
        let networked = matches!(reference, Reference::Registry(_))
            || matches!(self.referrers, Some(Reference::Registry(_)));
        let result = if networked {
            // Registry requests need tokio's timer anyway (reqwest's
            // timeouts); a layout is read synchronously, so it gets the
            // deadline checked before every read instead.
            let at = tokio::time::Instant::from_std(budget.deadline_at());
            tokio::pin!(work);
            tokio::select! {
                biased;
                r = &mut work => r,
                () = tokio::time::sleep_until(at) => Err(Error::DeadlineExceeded {
                    reference: reference.to_string(),
                    deadline_ms: millis(budget.deadline()),
                    during: budget.in_flight(),
                }),
            }
        } else {
            work.await
        };
        settle(reference, &budget, result)
    }

    async fn verify_unbounded(
        &self,
        reference: &Reference,
        request: Request<'_>,
    ) -> Result<Verdict, Error> {
        let at = self.at.unwrap_or_else(SystemTime::now);
        let ctx = Context {
            trust: &self.trust,
            tlog: request.policy.tlog(),
            limits: &self.limits,
            at,
        };
        // discover → verify → read and evaluate → verdict.
        let evidence = self.evidence(reference, None, request).await?;
        let verdict_now = judge(reference, verify(&evidence, &ctx), request.policy, &ctx);
        if verdict_now.passed || !evidence.used_kept_listings() {
            return Ok(verdict_now);
        }
        // Again with fresh listings, for the same digest (the tag may have moved).
        let fresh = self
            .evidence(reference, Some(evidence.top.digest), request)
            .await?;
        Ok(judge(reference, verify(&fresh, &ctx), request.policy, &ctx))
    }

    /// Discovers the evidence for `reference`. Without `pinned`, signature
    /// listings may come from the disk cache; with it, every listing is
    /// fetched afresh and the reference's tag is replaced by that digest.
    async fn evidence(
        &self,
        reference: &Reference,
        pinned: Option<Digest>,
        request: Request<'_>,
    ) -> Result<Evidence, Error> {
        let kept_listings = pinned.is_none();
        let evidence = match reference {
            Reference::Layout(image_ref) => {
                let image = self.open_layout(&image_ref.path)?;
                let (tag, digest) = match &pinned {
                    Some(d) => (None, Some(d)),
                    None => (image_ref.tag.as_deref(), image_ref.digest.as_ref()),
                };
                self.discover_with_referrers(&image, tag, digest, None, kept_listings, request)
                    .await?
            }
            Reference::Registry(image_ref) => {
                let image = RegistrySource::new(
                    self.registry.clone(),
                    &image_ref.registry,
                    &image_ref.repository,
                    self.limits.clone(),
                )
                .with_kept_signature_listings(kept_listings);
                let (tag, digest) = match (&pinned, &image_ref.digest) {
                    (Some(d), _) | (None, Some(d)) => (None, Some(d)),
                    (None, None) => (image_ref.tag.as_deref(), None),
                };
                self.discover_with_referrers(
                    &image,
                    tag,
                    digest,
                    default_referrers(image_ref),
                    kept_listings,
                    request,
                )
                .await?
            }
        };
        Ok(evidence)
    }
}

impl Verifier {
    fn open_layout(&self, path: &std::path::Path) -> Result<LayoutSource, Error> {
        LayoutSource::open(path, self.limits.clone()).map_err(|e| Error::Source {
            step: SourceStep::OpenLayout,
            subject: path.display().to_string(),
            source: e,
        })
    }

    fn registry_source(&self, registry: &str, repository: &str) -> RegistrySource {
        RegistrySource::new(
            self.registry.clone(),
            registry,
            repository,
            self.limits.clone(),
        )
    }

    /// Discovers from `image`, with referrers from (in order) the verifier's
    /// `referrers` setting, the image's default referrers repository
    /// (`automatic`), or the image's own source.
    async fn discover_with_referrers<S: Source>(
        &self,
        image: &S,
        tag: Option<&str>,
        digest: Option<&Digest>,
        automatic: Option<(String, String)>,
        kept_listings: bool,
        request: Request<'_>,
    ) -> Result<Evidence, Error> {
        let (p, l) = (request.platforms, &self.limits);
        let n = crate::discover::Needs {
            image_signatures: request
                .policy
                .requirements()
                .iter()
                .any(|r| r.is_image_signature()),
        };
        match (&self.referrers, automatic) {
            (Some(Reference::Layout(r)), _) => {
                let referrers = self.open_layout(&r.path)?;
                discover(image, &referrers, tag, digest, p, l, n).await
            }
            (Some(Reference::Registry(r)), _) => {
                let referrers = self
                    .registry_source(&r.registry, &r.repository)
                    .with_kept_signature_listings(kept_listings);
                discover(image, &referrers, tag, digest, p, l, n).await
            }
            (None, Some((registry, repository))) => {
                let referrers = self
                    .registry_source(&registry, &repository)
                    .with_kept_signature_listings(kept_listings);
                discover(image, &referrers, tag, digest, p, l, n).await
            }
            (None, None) => discover(image, image, tag, digest, p, l, n).await,
        }
    }
}

/// The read and evaluate stages over verified evidence, then the verdict:
/// each platform's checks gain the policy's (requirements, then rules over
/// what the verified attestations say, each statement read once per
/// verification with the verifier's limits).
fn judge(
    reference: &Reference,
    verified: VerifiedEvidence,
    policy: &Policy,
    ctx: &Context<'_>,
) -> Verdict {
    let predicates = PredicateReader::new(ctx.limits.predicate_limits());
    let VerifiedEvidence {
        top,
        checks,
        annotations,
        mut platforms,
    } = verified;
    for p in &mut platforms {
        let policy_checks = evaluate(
            policy,
            &Judged {
                platform: &p.digest,
                index: &top,
                attestations: &p.attestations,
                image_signatures: &p.image_signatures,
                config: p.config.as_ref(),
                annotations: &annotations,
                predicates: &predicates,
                at: ctx.at,
            },
        );
        p.checks.extend(policy_checks);
    }
    Verdict::assemble(
        reference.to_string(),
        top,
        annotations,
        checks,
        platforms,
        policy.platform_rule() == PlatformRule::All,
    )
}

/// What one verification asks for: the policy to judge by and the platforms.
#[derive(Clone, Copy)]
struct Request<'a> {
    policy: &'a Policy,
    platforms: &'a PlatformSelection,
}

/// Refuses a request that could pass nothing or would verify nothing.
fn check_request(policy: &Policy, platforms: &PlatformSelection) -> Result<(), ConfigError> {
    if policy.requirements().is_empty() {
        return Err(ConfigError::NothingRequired);
    }
    if matches!(platforms, PlatformSelection::Only(p) if p.is_empty()) {
        return Err(ConfigError::NoPlatform);
    }
    Ok(())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A verification's result in the light of its budget: a deadline that
/// passed before a read becomes [`Error::DeadlineExceeded`], and a refusal
/// some step did not pass on (a layout's scan) still ends it as an error.
fn settle(
    reference: &Reference,
    budget: &Budget,
    result: Result<Verdict, Error>,
) -> Result<Verdict, Error> {
    let deadline = |during: String, deadline_ms: u64| Error::DeadlineExceeded {
        reference: reference.to_string(),
        deadline_ms,
        during: vec![during],
    };
    match result {
        Err(Error::Source {
            step,
            subject,
            source: SourceError::DeadlineExceeded { deadline_ms, what },
        }) => return Err(deadline(format!("{step} ({subject}): {what}"), deadline_ms)),
        Err(
            e @ (Error::DeadlineExceeded { .. }
            | Error::Source {
                source: SourceError::BudgetExceeded { .. },
                ..
            }),
        ) => return Err(e),
        _ => {}
    }
    match budget.refused() {
        None => result,
        Some(SourceError::DeadlineExceeded { deadline_ms, what }) => {
            Err(deadline(what, deadline_ms))
        }
        Some(refusal) => Err(Error::Source {
            step: SourceStep::ReadWithinBudget,
            subject: reference.to_string(),
            source: refusal,
        }),
    }
}

/// Where a registry image's attestations live when no referrers location is
/// given (DHI-FORMAT.md §3): DHI images mirrored into a Docker Hub org
/// (`docker.io/<org>/dhi-<name>`) keep them in
/// `registry.scout.docker.com/<org>/dhi-<name>`; everything else (dhi.io
/// included) in the image's own repository.
pub(crate) fn default_referrers(image: &RegistryReference) -> Option<(String, String)> {
    if image.registry != DOCKER_HUB {
        return None;
    }
    let (org, name) = image.repository.split_once('/')?;
    if org == "library" || !name.starts_with("dhi-") || name.contains('/') {
        return None;
    }
    Some((SCOUT_REGISTRY.to_owned(), image.repository.clone()))
}

/// The registry that serves attestations of DHI images mirrored to Docker Hub.
pub(crate) const SCOUT_REGISTRY: &str = "registry.scout.docker.com";

impl VerifierBuilder<WantsTrust> {
    /// The keys whose signatures count.
    pub fn trust(self, trust: TrustRoot) -> VerifierBuilder<WantsPolicy> {
        VerifierBuilder {
            state: WantsPolicy { trust },
        }
    }
}

impl VerifierBuilder<WantsPolicy> {
    /// The rules a verified image must meet.
    pub fn policy(self, policy: Policy) -> VerifierBuilder<Ready> {
        VerifierBuilder {
            state: Ready {
                trust: self.state.trust,
                policy,
                platforms: PlatformSelection::Only(vec![Platform::host()]),
                limits: Limits::default(),
                referrers: None,
                at: None,
                deadline: DEFAULT_DEADLINE,
                registry: RegistryOptions::default(),
            },
        }
    }
}

impl VerifierBuilder<Ready> {
    /// Verify these platforms (default: the host's). Each must be in the index.
    pub fn platforms(mut self, platforms: impl IntoIterator<Item = Platform>) -> Self {
        self.state.platforms = PlatformSelection::Only(platforms.into_iter().collect());
        self
    }

    /// Verify every platform the index lists.
    pub fn all_platforms(mut self) -> Self {
        self.state.platforms = PlatformSelection::All;
        self
    }

    /// Resource limits (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.state.limits = limits;
        self
    }

    /// Look for attestations and signatures in this repository or layout
    /// instead of the image's own: an `oci:` layout, or a registry repository
    /// (`ghcr.io/org/app-attestations`; its tag is ignored), possibly on
    /// another host with its own credentials. Without it, DHI images mirrored
    /// to Docker Hub look in `registry.scout.docker.com` (DHI-FORMAT.md §3).
    pub fn referrers(mut self, location: Reference) -> Self {
        self.state.referrers = Some(location);
        self
    }

    /// How registries are reached: timeouts, retries, plain-HTTP hosts,
    /// credentials (default: [`RegistryOptions::default`]).
    pub fn registry_options(mut self, options: RegistryOptions) -> Self {
        self.state.registry = options;
        self
    }

    /// The longest one verification may take, from resolving the reference
    /// to the verdict (default [`DEFAULT_DEADLINE`], 300 s). Past it,
    /// [`Verifier::verify`] returns [`Error::DeadlineExceeded`] naming the
    /// reference and what was being fetched: exit 3, never a verdict. Each
    /// registry request also has its own timeout
    /// ([`RegistryOptions::request_timeout`]); the deadline bounds their sum,
    /// retries and backoff included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.state.deadline = deadline;
        self
    }

    /// Check key validity windows at this time instead of now.
    pub fn at(mut self, time: SystemTime) -> Self {
        self.state.at = Some(time);
        self
    }

    /// Builds the verifier; fails only on contradictions.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        let s = self.state;
        if !s.trust.can_verify() {
            return Err(ConfigError::NoActiveKey);
        }
        check_request(&s.policy, &s.platforms)?;
        let registry = RegistryClient::new(s.registry)?;
        Ok(Verifier {
            registry,
            trust: s.trust,
            policy: s.policy,
            platforms: s.platforms,
            limits: s.limits,
            referrers: s.referrers,
            at: s.at,
            deadline: s.deadline,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::TrustedKey;

    /// A server verifies on many tasks of a multi-threaded runtime: the
    /// verifier is shared between them and its futures move across threads.
    #[test]
    fn the_verifier_is_send_and_sync_and_its_futures_are_send() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        let v = Verifier::builder()
            .trust(TrustRoot::dhi_embedded())
            .policy(Policy::dhi_default())
            .build()
            .unwrap();
        send_sync(&v);
        let (policy, platforms) = (v.policy().clone(), v.platforms().clone());
        send(v.verify("dhi.io/python:3.13"));
        send(v.verify_with("dhi.io/python:3.13", &policy, &platforms));
        send(v.resolve("dhi.io/python:3.13"));
    }

    #[tokio::test]
    async fn resolving_a_reference_with_a_digest_needs_no_request() {
        let v = Verifier::builder()
            .trust(TrustRoot::dhi_embedded())
            .policy(Policy::dhi_default())
            .build()
            .unwrap();
        let d = format!("sha256:{}", "ab".repeat(32));
        // 127.0.0.1:9 (discard) is never asked: the digest is the answer.
        let got = v.resolve(&format!("127.0.0.1:9/x/y:1@{d}")).await.unwrap();
        assert_eq!(got.to_string(), d);
        assert!(v.resolve("Not A Reference!").await.is_err());
    }

    #[test]
    fn a_trust_root_with_only_inactive_keys_is_rejected_at_build() {
        let k = TrustedKey::from_pem("old", crate::trust::DHI_1_PEM)
            .unwrap()
            .inactive();
        let r = Verifier::builder()
            .trust(TrustRoot::from_keys([k]))
            .policy(Policy::dhi_default())
            .build();
        assert_eq!(r.err(), Some(ConfigError::NoActiveKey));
    }

    fn registry(s: &str) -> RegistryReference {
        match Reference::parse(s).unwrap() {
            Reference::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dhi_images_mirrored_to_docker_hub_take_attestations_from_scout() {
        assert_eq!(
            default_referrers(&registry("docker.io/myorg/dhi-python:3.13")),
            Some((SCOUT_REGISTRY.to_owned(), "myorg/dhi-python".to_owned()))
        );
        assert_eq!(
            default_referrers(&registry("myorg/dhi-python:3.13")),
            Some((SCOUT_REGISTRY.to_owned(), "myorg/dhi-python".to_owned()))
        );
        for own in [
            "dhi.io/python:3.13",
            "python:3",
            "docker.io/myorg/python",
            "ghcr.io/myorg/dhi-python",
            "docker.io/myorg/dhi-python/extra",
        ] {
            assert_eq!(default_referrers(&registry(own)), None, "{own}");
        }
    }

    #[test]
    fn a_policy_requiring_nothing_is_rejected_at_build() {
        let r = Verifier::builder()
            .trust(TrustRoot::dhi_embedded())
            .policy(Policy::requiring(Vec::<String>::new()).unwrap())
            .build();
        assert_eq!(r.err(), Some(ConfigError::NothingRequired));
    }

    #[test]
    fn an_empty_platform_list_is_rejected_at_build() {
        let r = Verifier::builder()
            .trust(TrustRoot::dhi_embedded())
            .policy(Policy::dhi_default())
            .platforms([])
            .build();
        assert_eq!(r.err(), Some(ConfigError::NoPlatform));
    }
}
