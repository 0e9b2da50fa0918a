//! Matching a Fulcio certificate against what the caller trusts: its SAN
//! identity, its OIDC issuer and, when asked, the CI claims Fulcio writes into
//! its extensions (repository, ref, commit, signer workflow, runner, trigger).
//! [`BundlePolicy::accepts_certificate`] is the one place that decision is made.

use std::fmt;

use sigstore_verify::crypto::{CertificateInfo, FulcioCiClaims};

use super::bundle::BundlePolicy;
use super::error::BundleError;

/// Upper bound on a compiled identity regex, so a hostile pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a certificate identity or issuer is matched.
///
/// A regular expression always matches the whole value: the pattern is
/// compiled as `^(?:PATTERN)$`, so `https://github.com/org/app/.*` cannot match
/// `https://evil.com/?https://github.com/org/app/x`.
#[derive(Debug, Clone)]
pub struct Matcher(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Exact(String),
    Regex {
        pattern: String,
        regex: regex::Regex,
    },
}

impl Matcher {
    /// Matches exactly this value (byte-for-byte).
    pub fn exact(value: impl Into<String>) -> Self {
        Self(Inner::Exact(value.into()))
    }

    /// Matches any value the whole of which matches `pattern`.
    ///
    /// Fails with [`BundleError::InvalidPattern`] when the pattern does not compile.
    pub fn regex(pattern: &str) -> Result<Self, BundleError> {
        let anchored = format!("^(?:{pattern})$");
        let regex = regex::RegexBuilder::new(&anchored)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| BundleError::InvalidPattern {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self(Inner::Regex {
            pattern: pattern.to_owned(),
            regex,
        }))
    }

    /// Whether `value` satisfies this matcher.
    pub fn matches(&self, value: &str) -> bool {
        match &self.0 {
            Inner::Exact(expected) => expected == value,
            Inner::Regex { regex, .. } => regex.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Exact(value) => write!(f, "{value:?}"),
            Inner::Regex { pattern, .. } => write!(
                f,
                "a match of regex {pattern:?} over the whole value (anchored as ^(?:…)$; end it with .* to match a prefix)"
            ),
        }
    }
}

/// The Fulcio certificate extensions a keyless identity can require, under
/// the arc `1.3.6.1.4.1.57264.1` (Fulcio `docs/oid-info.md`).
///
/// The provider-neutral claims are read from their own extension only: a
/// certificate without it fails a policy that requires it. The `GithubWorkflow*`
/// claims are what cosign's `--certificate-github-workflow-*` flags name: they
/// read the deprecated GitHub extension (`.1.2`–`.1.6`, the only ones in
/// certificates issued before 2023) *and* its provider-neutral successor; at
/// least one must be present and every one present must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CertificateClaim {
    /// Build Signer URI, `.1.9`: the workflow that requested the certificate, with its ref.
    BuildSignerUri,
    /// Build Signer Digest, `.1.10`: the commit of that workflow.
    BuildSignerDigest,
    /// Runner Environment, `.1.11`: `github-hosted` or `self-hosted`.
    RunnerEnvironment,
    /// Source Repository URI, `.1.12`: `https://github.com/<owner>/<repo>`.
    SourceRepositoryUri,
    /// Source Repository Digest, `.1.13`: the commit built.
    SourceRepositoryDigest,
    /// Source Repository Ref, `.1.14`: `refs/heads/main`, `refs/tags/v1`.
    SourceRepositoryRef,
    /// Source Repository Owner URI, `.1.16`: `https://github.com/<owner>`.
    SourceRepositoryOwnerUri,
    /// Build Trigger, `.1.20`: `push`, `workflow_dispatch`, `release`, ….
    BuildTrigger,
    /// cosign's `--certificate-github-workflow-repository`: `<owner>/<repo>`,
    /// matched against `.1.5` and against `.1.12` with its
    /// `https://github.com/` prefix removed (a `.1.12` on another host is
    /// matched whole, so an `owner/repo` pattern does not match it).
    GithubWorkflowRepository,
    /// cosign's `--certificate-github-workflow-ref`: `.1.6` and `.1.14`.
    GithubWorkflowRef,
    /// cosign's `--certificate-github-workflow-sha`: `.1.3` and `.1.13`.
    GithubWorkflowSha,
    /// cosign's `--certificate-github-workflow-trigger`: `.1.2` and `.1.20`.
    GithubWorkflowTrigger,
}

/// GitHub's host prefix of `.1.12`, removed to compare with `.1.5`'s `owner/repo`.
const GITHUB_PREFIX: &str = "https://github.com/";

impl CertificateClaim {
    /// Every claim, in the order the policy file documents them.
    pub const ALL: [CertificateClaim; 12] = [
        Self::SourceRepositoryUri,
        Self::SourceRepositoryRef,
        Self::SourceRepositoryDigest,
        Self::SourceRepositoryOwnerUri,
        Self::BuildSignerUri,
        Self::BuildSignerDigest,
        Self::RunnerEnvironment,
        Self::BuildTrigger,
        Self::GithubWorkflowRepository,
        Self::GithubWorkflowRef,
        Self::GithubWorkflowSha,
        Self::GithubWorkflowTrigger,
    ];

    /// The name of the claim in a policy file's `[trust]` identity
    /// (`source-repository`, …; `-glob` and `-regexp` forms add to it).
    pub fn name(self) -> &'static str {
        match self {
            Self::SourceRepositoryUri => "source-repository",
            Self::SourceRepositoryRef => "source-ref",
            Self::SourceRepositoryDigest => "source-digest",
            Self::SourceRepositoryOwnerUri => "source-repository-owner",
            Self::BuildSignerUri => "signer-uri",
            Self::BuildSignerDigest => "signer-digest",
            Self::RunnerEnvironment => "runner-environment",
            Self::BuildTrigger => "build-trigger",
            Self::GithubWorkflowRepository => "github-workflow-repository",
            Self::GithubWorkflowRef => "github-workflow-ref",
            Self::GithubWorkflowSha => "github-workflow-sha",
            Self::GithubWorkflowTrigger => "github-workflow-trigger",
        }
    }

    /// The claim named `name` in a policy file, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Whether this is one provider-neutral Fulcio extension (`.1.9` onwards),
    /// not one of cosign's GitHub forms that read two.
    pub fn is_provider_neutral(self) -> bool {
        self.oids().len() == 1
    }

    /// The extension(s) read, as OIDs (`1.3.6.1.4.1.57264.1.12`).
    pub fn oids(self) -> &'static [&'static str] {
        match self {
            Self::BuildSignerUri => &["1.3.6.1.4.1.57264.1.9"],
            Self::BuildSignerDigest => &["1.3.6.1.4.1.57264.1.10"],
            Self::RunnerEnvironment => &["1.3.6.1.4.1.57264.1.11"],
            Self::SourceRepositoryUri => &["1.3.6.1.4.1.57264.1.12"],
            Self::SourceRepositoryDigest => &["1.3.6.1.4.1.57264.1.13"],
            Self::SourceRepositoryRef => &["1.3.6.1.4.1.57264.1.14"],
            Self::SourceRepositoryOwnerUri => &["1.3.6.1.4.1.57264.1.16"],
            Self::BuildTrigger => &["1.3.6.1.4.1.57264.1.20"],
            Self::GithubWorkflowRepository => &["1.3.6.1.4.1.57264.1.5", "1.3.6.1.4.1.57264.1.12"],
            Self::GithubWorkflowRef => &["1.3.6.1.4.1.57264.1.6", "1.3.6.1.4.1.57264.1.14"],
            Self::GithubWorkflowSha => &["1.3.6.1.4.1.57264.1.3", "1.3.6.1.4.1.57264.1.13"],
            Self::GithubWorkflowTrigger => &["1.3.6.1.4.1.57264.1.2", "1.3.6.1.4.1.57264.1.20"],
        }
    }

    /// The values this claim compares, one per extension in [`Self::oids`]
    /// (`None` where the certificate lacks that extension).
    fn values(self, c: &FulcioCiClaims) -> Vec<Option<String>> {
        let d = &c.deprecated_github;
        match self {
            Self::BuildSignerUri => vec![c.build_signer_uri.clone()],
            Self::BuildSignerDigest => vec![c.build_signer_digest.clone()],
            Self::RunnerEnvironment => vec![c.runner_environment.clone()],
            Self::SourceRepositoryUri => vec![c.source_repository_uri.clone()],
            Self::SourceRepositoryDigest => vec![c.source_repository_digest.clone()],
            Self::SourceRepositoryRef => vec![c.source_repository_ref.clone()],
            Self::SourceRepositoryOwnerUri => vec![c.source_repository_owner_uri.clone()],
            Self::BuildTrigger => vec![c.build_trigger.clone()],
            Self::GithubWorkflowRepository => vec![
                d.workflow_repository.clone(),
                c.source_repository_uri.as_deref().map(|uri| {
                    uri.strip_prefix(GITHUB_PREFIX)
                        .filter(|rest| !rest.is_empty())
                        .unwrap_or(uri)
                        .to_owned()
                }),
            ],
            Self::GithubWorkflowRef => {
                vec![d.workflow_ref.clone(), c.source_repository_ref.clone()]
            }
            Self::GithubWorkflowSha => {
                vec![d.workflow_sha.clone(), c.source_repository_digest.clone()]
            }
            Self::GithubWorkflowTrigger => {
                vec![d.workflow_trigger.clone(), c.build_trigger.clone()]
            }
        }
    }

    /// Whether the certificate's claims satisfy `matcher`: at least one of
    /// this claim's extensions present, and every one present matching.
    fn check(self, matcher: &Matcher, claims: &FulcioCiClaims) -> Result<(), BundleError> {
        let values = self.values(claims);
        let present: Vec<(&str, &str)> = self
            .oids()
            .iter()
            .zip(&values)
            .filter_map(|(oid, v)| v.as_deref().map(|v| (*oid, v)))
            .collect();
        if !present.is_empty() && present.iter().all(|(_, v)| matcher.matches(v)) {
            return Ok(());
        }
        Err(BundleError::ClaimMismatch {
            claim: self,
            expected: matcher.to_string(),
            found: (!present.is_empty()).then(|| {
                present
                    .iter()
                    .map(|(oid, v)| format!("{v:?} ({oid})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
        })
    }
}

impl fmt::Display for CertificateClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::BuildSignerUri => "build signer URI",
            Self::BuildSignerDigest => "build signer digest",
            Self::RunnerEnvironment => "runner environment",
            Self::SourceRepositoryUri => "source repository URI",
            Self::SourceRepositoryDigest => "source repository digest",
            Self::SourceRepositoryRef => "source repository ref",
            Self::SourceRepositoryOwnerUri => "source repository owner URI",
            Self::BuildTrigger => "build trigger",
            Self::GithubWorkflowRepository => "GitHub workflow repository",
            Self::GithubWorkflowRef => "GitHub workflow ref",
            Self::GithubWorkflowSha => "GitHub workflow sha",
            Self::GithubWorkflowTrigger => "GitHub workflow trigger",
        };
        write!(f, "{name} ({})", self.oids().join(" and "))
    }
}

/// Whom a keyless certificate must have been issued to: its SAN identity and,
/// optionally, Fulcio CI claims, each an anchored [`Matcher`]. Every claim
/// required must be present in the certificate and match; an absent one fails.
///
/// ```
/// use dhi_verify::sigstore::{CertificateClaim, Matcher, SubjectMatcher};
/// # fn main() -> Result<(), dhi_verify::sigstore::BundleError> {
/// let subject = SubjectMatcher::new(Matcher::regex(r"https://github\.com/org/app/\.github/workflows/.*")?)
///     .require(CertificateClaim::SourceRepositoryRef, Matcher::regex("refs/tags/v.*")?)
///     .require(CertificateClaim::RunnerEnvironment, Matcher::exact("github-hosted"));
/// assert_eq!(subject.claims().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SubjectMatcher {
    identity: Matcher,
    claims: Vec<(CertificateClaim, Matcher)>,
}

impl SubjectMatcher {
    /// Certificates whose SAN identity (URI or email) `identity` matches, with no claim required.
    pub fn new(identity: Matcher) -> Self {
        Self {
            identity,
            claims: Vec::new(),
        }
    }

    /// Also requires `claim` to be present and matched by `matcher` (the same
    /// claim required twice must satisfy both).
    #[must_use]
    pub fn require(mut self, claim: CertificateClaim, matcher: Matcher) -> Self {
        self.claims.push((claim, matcher));
        self
    }

    /// The SAN identity matcher.
    pub fn identity(&self) -> &Matcher {
        &self.identity
    }

    /// The claims required, in the order given.
    pub fn claims(&self) -> &[(CertificateClaim, Matcher)] {
        &self.claims
    }
}

impl From<Matcher> for SubjectMatcher {
    fn from(identity: Matcher) -> Self {
        Self::new(identity)
    }
}

impl fmt::Display for SubjectMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.identity)?;
        for (claim, m) in &self.claims {
            write!(f, ", {claim} {m}")?;
        }
        Ok(())
    }
}

impl BundlePolicy {
    /// Whether this policy accepts a Fulcio certificate (already chain-, SCT-
    /// and signature-verified by the caller): the SAN identity, then the OIDC
    /// issuer, then each required CI claim, in that order; the first failure
    /// is returned. A key policy accepts no certificate.
    pub(crate) fn accepts_certificate(&self, info: &CertificateInfo) -> Result<(), BundleError> {
        let (issuer, subject) = match self {
            BundlePolicy::Key(_) => {
                return Err(BundleError::SignerKindMismatch {
                    expected: "public key",
                    found: "certificate",
                })
            }
            BundlePolicy::Identity { issuer, subject } => (issuer, subject),
        };
        let identity = info.identity.as_ref().map(|i| i.as_str());
        if !identity.is_some_and(|i| subject.identity.matches(i)) {
            return Err(BundleError::IdentityMismatch {
                expected: subject.identity.to_string(),
                found: identity.map(str::to_owned),
            });
        }
        if !info.issuer.as_deref().is_some_and(|i| issuer.matches(i)) {
            return Err(BundleError::IssuerMismatch {
                expected: issuer.to_string(),
                found: info.issuer.clone(),
            });
        }
        for (claim, matcher) in &subject.claims {
            claim.check(matcher, &info.ci_claims)?;
        }
        Ok(())
    }
}

/// The provider-neutral claims present in `claims`, for reports.
pub(crate) fn present_claims(claims: &FulcioCiClaims) -> Vec<(CertificateClaim, String)> {
    CertificateClaim::ALL
        .into_iter()
        .filter(|c| c.is_provider_neutral())
        .filter_map(|c| {
            c.values(claims)
                .into_iter()
                .next()
                .flatten()
                .map(|v| (c, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use sigstore_verify::crypto::parse_certificate_info;
    use sigstore_verify::types::DerCertificate;

    const GH_ISSUER: &str = "https://token.actions.githubusercontent.com";

    fn generator_signer(version: &str) -> String {
        format!("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/{version}")
    }

    /// The Fulcio leaf certificate of the `.att` layer of a real
    /// slsa-github-generator `cosign save` layout: `index.json`, the manifest
    /// annotated `kind: dev.cosignproject.cosign/atts`, its layer's
    /// `dev.sigstore.cosign/certificate` annotation.
    fn real_certificate(version: &str) -> CertificateInfo {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/real/slsa-github-generator")
            .join(version)
            .join("container_workflow_dispatch");
        let json = |path: std::path::PathBuf| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
        };
        let index = json(dir.join("index.json"));
        let atts = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
            .unwrap();
        let hex = atts["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap();
        let manifest = json(dir.join("blobs/sha256").join(hex));
        let pem = manifest["layers"][0]["annotations"]["dev.sigstore.cosign/certificate"]
            .as_str()
            .unwrap();
        parse_certificate_info(&DerCertificate::from_pem(pem).unwrap()).unwrap()
    }

    fn policy(version: &str, claims: &[(CertificateClaim, Matcher)]) -> BundlePolicy {
        let mut subject = SubjectMatcher::new(Matcher::exact(generator_signer(version)));
        for (c, m) in claims {
            subject = subject.require(*c, m.clone());
        }
        BundlePolicy::Identity {
            issuer: Matcher::exact(GH_ISSUER),
            subject,
        }
    }

    /// The real values of v1.7.0's and v2.0.0's certificates, claim by claim:
    /// (claim, v1.7.0, v2.0.0).
    fn real_claims() -> Vec<(CertificateClaim, String, String)> {
        use CertificateClaim as C;
        let both = |c, v: &str| (c, v.to_owned(), v.to_owned());
        vec![
            both(
                C::SourceRepositoryUri,
                "https://github.com/slsa-framework/example-package",
            ),
            (
                C::SourceRepositoryRef,
                "refs/heads/main".into(),
                "refs/tags/v13.0.30".into(),
            ),
            (
                C::SourceRepositoryDigest,
                "62cb1f1e485829bafe8bbec8b9900c0cb7624fe7".into(),
                "693130cb6cb840a7bc9cb18c6510d536a95dc7e6".into(),
            ),
            both(
                C::SourceRepositoryOwnerUri,
                "https://github.com/slsa-framework",
            ),
            (
                C::BuildSignerUri,
                generator_signer("v1.7.0"),
                generator_signer("v2.0.0"),
            ),
            (
                C::BuildSignerDigest,
                "e55b76ce421082dfa4b34a6ac3c5e59de0f3bb58".into(),
                "5a775b367a56d5bd118a224a811bba288150a563".into(),
            ),
            both(C::RunnerEnvironment, "github-hosted"),
            (C::BuildTrigger, "workflow_dispatch".into(), "push".into()),
            both(
                C::GithubWorkflowRepository,
                "slsa-framework/example-package",
            ),
            (
                C::GithubWorkflowRef,
                "refs/heads/main".into(),
                "refs/tags/v13.0.30".into(),
            ),
            (
                C::GithubWorkflowSha,
                "62cb1f1e485829bafe8bbec8b9900c0cb7624fe7".into(),
                "693130cb6cb840a7bc9cb18c6510d536a95dc7e6".into(),
            ),
            (
                C::GithubWorkflowTrigger,
                "workflow_dispatch".into(),
                "push".into(),
            ),
        ]
    }

    #[test]
    fn every_claim_matches_its_real_value_and_fails_on_another() {
        assert_eq!(real_claims().len(), CertificateClaim::ALL.len());
        for (i, version) in ["v1.7.0", "v2.0.0"].into_iter().enumerate() {
            let info = real_certificate(version);
            for (claim, v17, v20) in real_claims() {
                let value = if i == 0 { v17 } else { v20 };
                let exact = policy(version, &[(claim, Matcher::exact(value.clone()))]);
                assert_eq!(
                    exact.accepts_certificate(&info),
                    Ok(()),
                    "{version} {claim}"
                );
                let regex =
                    Matcher::regex(&format!("{}.*", regex::escape(&value[..value.len() - 1])))
                        .unwrap();
                assert_eq!(
                    policy(version, &[(claim, regex)]).accepts_certificate(&info),
                    Ok(()),
                    "{version} {claim}"
                );
                let other = format!("{value}x");
                let err = policy(version, &[(claim, Matcher::exact(other))])
                    .accepts_certificate(&info)
                    .unwrap_err();
                assert!(
                    matches!(&err, BundleError::ClaimMismatch { claim: c, found: Some(f), .. } if *c == claim && f.contains(&value)),
                    "{version} {claim}: {err:?}"
                );
                // anchored: a prefix of the value is not a match
                let prefix = Matcher::regex(&regex::escape(&value[..value.len() - 1])).unwrap();
                assert!(
                    policy(version, &[(claim, prefix)])
                        .accepts_certificate(&info)
                        .is_err(),
                    "{version} {claim}"
                );
            }
        }
    }

    #[test]
    fn all_claims_together_match_and_one_wrong_claim_fails_them() {
        let info = real_certificate("v2.0.0");
        let mut all: Vec<(CertificateClaim, Matcher)> = real_claims()
            .into_iter()
            .map(|(c, _, v)| (c, Matcher::exact(v)))
            .collect();
        assert_eq!(policy("v2.0.0", &all).accepts_certificate(&info), Ok(()));
        all.push((
            CertificateClaim::RunnerEnvironment,
            Matcher::exact("self-hosted"),
        ));
        assert!(matches!(
            policy("v2.0.0", &all).accepts_certificate(&info),
            Err(BundleError::ClaimMismatch {
                claim: CertificateClaim::RunnerEnvironment,
                ..
            })
        ));
    }

    #[test]
    fn a_required_claim_absent_from_the_certificate_fails() {
        // v1.4.0's certificate predates the provider-neutral extensions
        // (.1.8 onwards): it has only the deprecated GitHub ones (.1.2–.1.6).
        let info = real_certificate("v1.4.0");
        assert_eq!(policy("v1.4.0", &[]).accepts_certificate(&info), Ok(()));
        for claim in CertificateClaim::ALL
            .into_iter()
            .filter(|c| c.is_provider_neutral())
        {
            let err = policy("v1.4.0", &[(claim, Matcher::regex(".*").unwrap())])
                .accepts_certificate(&info)
                .unwrap_err();
            assert_eq!(
                err,
                BundleError::ClaimMismatch {
                    claim,
                    expected: Matcher::regex(".*").unwrap().to_string(),
                    found: None
                },
                "{claim}"
            );
        }
        // the cosign-named claims read the deprecated extensions there
        use CertificateClaim as C;
        for (claim, value) in [
            (
                C::GithubWorkflowRepository,
                "slsa-framework/example-package",
            ),
            (C::GithubWorkflowRef, "refs/heads/main"),
            (
                C::GithubWorkflowSha,
                "904e2c3e02725e314cf6cf141c4700081298dcbd",
            ),
            (C::GithubWorkflowTrigger, "workflow_dispatch"),
        ] {
            let p = policy("v1.4.0", &[(claim, Matcher::exact(value))]);
            assert_eq!(p.accepts_certificate(&info), Ok(()), "{claim}");
            let p = policy("v1.4.0", &[(claim, Matcher::exact("other"))]);
            assert!(p.accepts_certificate(&info).is_err(), "{claim}");
        }
    }

    #[test]
    fn the_github_repository_claim_does_not_match_the_full_uri_form() {
        let info = real_certificate("v2.0.0");
        let p = policy(
            "v2.0.0",
            &[(
                CertificateClaim::GithubWorkflowRepository,
                Matcher::exact("https://github.com/slsa-framework/example-package"),
            )],
        );
        assert!(p.accepts_certificate(&info).is_err());
        // and an owner/repo pattern never matches the provider-neutral claim
        let p = policy(
            "v2.0.0",
            &[(
                CertificateClaim::SourceRepositoryUri,
                Matcher::exact("slsa-framework/example-package"),
            )],
        );
        assert!(p.accepts_certificate(&info).is_err());
    }

    #[test]
    fn identity_and_issuer_are_checked_before_claims() {
        let info = real_certificate("v2.0.0");
        let wrong_claim = (CertificateClaim::BuildTrigger, Matcher::exact("release"));
        let p = BundlePolicy::Identity {
            issuer: Matcher::exact(GH_ISSUER),
            subject: SubjectMatcher::new(Matcher::exact(generator_signer("v1.7.0")))
                .require(wrong_claim.0, wrong_claim.1.clone()),
        };
        assert!(matches!(
            p.accepts_certificate(&info),
            Err(BundleError::IdentityMismatch { found: Some(f), .. }) if f == generator_signer("v2.0.0")
        ));
        let p = BundlePolicy::Identity {
            issuer: Matcher::exact("https://accounts.google.com"),
            subject: SubjectMatcher::new(Matcher::exact(generator_signer("v2.0.0")))
                .require(wrong_claim.0, wrong_claim.1),
        };
        assert!(matches!(
            p.accepts_certificate(&info),
            Err(BundleError::IssuerMismatch { found: Some(f), .. }) if f == GH_ISSUER
        ));
    }

    #[test]
    fn a_key_policy_accepts_no_certificate() {
        let key = crate::sigstore::PublicKey::from_pem_or_der(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../testdata/dhi-advisories/dhi-2.pub"),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(matches!(
            BundlePolicy::Key(key).accepts_certificate(&real_certificate("v2.0.0")),
            Err(BundleError::SignerKindMismatch { .. })
        ));
    }

    #[test]
    fn claim_names_round_trip_and_are_unique() {
        for c in CertificateClaim::ALL {
            assert_eq!(CertificateClaim::from_name(c.name()), Some(c));
        }
        assert_eq!(CertificateClaim::from_name("subject"), None);
    }

    #[test]
    fn regex_is_anchored_at_both_ends() {
        let m = Matcher::regex("https://github.com/org/app/.*").unwrap();
        assert!(m.matches("https://github.com/org/app/.github/workflows/r.yml@refs/tags/v1"));
        assert!(!m.matches("https://evil.com/?https://github.com/org/app/"));
        assert!(!m.matches("https://github.com/org/app/x\nhttps://evil.com"));
        let prefix = Matcher::regex("https://github.com/org/app/").unwrap();
        assert!(!prefix.matches("https://evil.com/?https://github.com/org/app/"));
        assert!(!prefix.matches("https://github.com/org/app/extra"));
        assert!(prefix.matches("https://github.com/org/app/"));
    }

    #[test]
    fn regex_alternation_cannot_escape_the_anchors() {
        let m = Matcher::regex("a|https://evil").unwrap();
        assert!(!m.matches("https://evil.com"));
        assert!(m.matches("a"));
    }

    #[test]
    fn exact_matcher_does_not_match_prefixes_or_case_variants() {
        let m = Matcher::exact("https://token.actions.githubusercontent.com");
        assert!(m.matches("https://token.actions.githubusercontent.com"));
        assert!(!m.matches("https://token.actions.githubusercontent.com/"));
        assert!(!m.matches("HTTPS://token.actions.githubusercontent.com"));
    }

    #[test]
    fn invalid_regex_is_a_usage_error() {
        let err = Matcher::regex("(unclosed").unwrap_err();
        assert!(matches!(err, BundleError::InvalidPattern { .. }));
        assert_eq!(err.class(), crate::sigstore::ErrorClass::Usage);
    }
}
