//! The verifier: trust, policy and options, validated once, then applied to
//! any number of references. The builder's states make an unverifiable
//! verifier impossible to build: no trust root, no verifier.

use std::time::SystemTime;

use crate::chain::{verdict, Context};
use crate::discover::{discover, PlatformSelection};
use crate::error::{ConfigError, Error};
use crate::limits::Limits;
use crate::platform::Platform;
use crate::policy::Policy;
use crate::reference::Reference;
use crate::source::layout::LayoutSource;
use crate::trust::TrustRoot;
use crate::verdict::Verdict;

/// Verifies images. Build one with [`Verifier::builder`].
#[derive(Debug, Clone)]
pub struct Verifier {
    trust: TrustRoot,
    policy: Policy,
    platforms: PlatformSelection,
    limits: Limits,
    referrers: Option<Reference>,
    at: Option<SystemTime>,
}

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

    /// Verifies a parsed reference.
    pub async fn verify_reference(&self, reference: &Reference) -> Result<Verdict, Error> {
        let at = self.at.unwrap_or_else(SystemTime::now);
        let ctx = Context {
            trust: &self.trust,
            policy: &self.policy,
            limits: &self.limits,
            at,
        };
        let Reference::Layout(image_ref) = reference else {
            return Err(Error::Unsupported {
                reference: reference.to_string(),
                what: "verifying from a registry",
            });
        };
        let open = |path: &std::path::Path| {
            LayoutSource::open(path, self.limits.clone()).map_err(|e| Error::Source {
                step: "open layout",
                subject: path.display().to_string(),
                source: e,
            })
        };
        let image = open(&image_ref.path)?;
        let evidence = match &self.referrers {
            None => {
                discover(
                    &image,
                    &image,
                    image_ref.tag.as_deref(),
                    image_ref.digest.as_ref(),
                    &self.platforms,
                    &self.limits,
                )
                .await?
            }
            Some(Reference::Layout(r)) => {
                let referrers = open(&r.path)?;
                discover(
                    &image,
                    &referrers,
                    image_ref.tag.as_deref(),
                    image_ref.digest.as_ref(),
                    &self.platforms,
                    &self.limits,
                )
                .await?
            }
            Some(other) => {
                return Err(Error::Unsupported {
                    reference: other.to_string(),
                    what: "a referrers repository in a registry",
                })
            }
        };
        Ok(verdict(reference.to_string(), &evidence, &ctx))
    }
}

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
    /// instead of the image's own (what `registry.scout.docker.com` is for dhi.io).
    pub fn referrers(mut self, location: Reference) -> Self {
        self.state.referrers = Some(location);
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
        if s.policy.requirements().is_empty() {
            return Err(ConfigError::NothingRequired);
        }
        if matches!(&s.platforms, PlatformSelection::Only(p) if p.is_empty()) {
            return Err(ConfigError::NoPlatform);
        }
        Ok(Verifier {
            trust: s.trust,
            policy: s.policy,
            platforms: s.platforms,
            limits: s.limits,
            referrers: s.referrers,
            at: s.at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::TrustedKey;

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
