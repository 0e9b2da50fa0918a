//! Matching a Fulcio certificate against what the caller trusts: its SAN
//! identity, its OIDC issuer and, when asked, the CI claims Fulcio writes into
//! its extensions (repository, ref, commit, signer workflow, runner, trigger).
//! [`BundlePolicy::accepts_certificate`] is the one place that decision is made.

use sigstore_verify::crypto::{CertificateInfo, FulcioCiClaims};

use super::bundle::BundlePolicy;
use crate::claim::CertificateClaim;
use crate::error::BundleError;
use crate::trust::Matcher;

/// GitHub's host prefix of `.1.12`, removed to compare with `.1.5`'s `owner/repo`.
const GITHUB_PREFIX: &str = "https://github.com/";

// `CertificateClaim` is a value type of the base (`claim.rs`); reading it out
// of a certificate's extensions belongs to verification, here.
impl CertificateClaim {
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
        if !identity.is_some_and(|i| subject.identity().matches(i)) {
            return Err(BundleError::IdentityMismatch {
                expected: subject.identity().to_string(),
                found: identity.map(str::to_owned),
            });
        }
        if !info.issuer.as_deref().is_some_and(|i| issuer.matches(i)) {
            return Err(BundleError::IssuerMismatch {
                expected: issuer.to_string(),
                found: info.issuer.clone(),
            });
        }
        for (claim, matcher) in subject.claims() {
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
    use crate::trust::SubjectMatcher;

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
}
