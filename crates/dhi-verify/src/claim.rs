//! The Fulcio certificate claims a keyless identity can require: their
//! names in a policy file, the extensions (OIDs) they read, and how they are
//! shown. A value type of the base: `error` (`BundleError::ClaimMismatch`)
//! and `trust` (`SubjectMatcher`) name it; reading a claim out of a verified
//! certificate is verification's (`verify/sigstore/identity.rs`).

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_round_trip_and_are_unique() {
        for c in CertificateClaim::ALL {
            assert_eq!(CertificateClaim::from_name(c.name()), Some(c));
        }
        assert_eq!(CertificateClaim::from_name("subject"), None);
    }
}
