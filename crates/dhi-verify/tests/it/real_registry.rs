//! What the real tools publish, served by a real registry (Debian's
//! `docker-registry`, distribution 2.8.2: no referrers API, so every
//! attestation is found through cosign's `sha256-<hex>.att` / `.sig` tags
//! and the `sha256-<hex>` fallback indexes the pusher maintains). The same
//! content verified from its layout and from the registry must give the same
//! verdict digest and the same attestations about the same subjects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dhi_verify::sigstore::{Matcher, SigstoreTrust};
use dhi_verify::source::registry::{DockerConfig, RegistryOptions};
use dhi_verify::KeylessIdentity;
use dhi_verify::{
    CheckStatus, EvidenceSource, Limits, Outcome, Policy, TlogMode, TrustRoot, TrustedKey, Verdict,
    Verifier,
};
use dhi_verify_testkit::real::{
    slsa_generator_digest, slsa_generator_identity, slsa_generator_layout, GITHUB_ACTIONS_ISSUER,
    SLSA_GENERATOR_VERSIONS,
};
use dhi_verify_testkit::registry::{DistributionRegistry, RegistryAuth};

use crate::util::check;

/// Plain HTTP on loopback, fast retries, no Docker configuration.
fn options() -> RegistryOptions {
    RegistryOptions::default()
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(10))
        .with_retries(3, Duration::from_millis(10))
        .with_docker_config(DockerConfig::None)
}

fn verifier(trust: TrustRoot, requirements: &[&str], tlog: TlogMode) -> Verifier {
    Verifier::builder()
        .trust(trust)
        // No DHI image rules: these images are not DHI runtime images.
        .policy(
            Policy::requiring(requirements.iter().copied())
                .unwrap()
                .with_tlog(tlog),
        )
        .all_platforms()
        .limits(Limits::default())
        .registry_options(options())
        .at(std::time::SystemTime::now())
        .build()
        .unwrap()
}

fn verify(v: &Verifier, reference: &str) -> Verdict {
    // Registry I/O needs the runtime's I/O and timers.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(v.verify(reference))
        .unwrap_or_else(|e| panic!("{reference}: {e}"))
}

/// Keyless trust in `identity` from GitHub Actions, public-good Sigstore.
fn keyless(identity: &str) -> TrustRoot {
    TrustRoot::from_keys([])
        .with_sigstore_trust(SigstoreTrust::public_good().unwrap())
        .with_identity(KeylessIdentity::new(
            Matcher::exact(GITHUB_ACTIONS_ISSUER),
            Matcher::exact(identity),
        ))
}

/// What a verdict says about its attestations and signatures, independent of
/// where they were read: per platform, each attestation's source, type,
/// subject and result, and each image signature's subject and result.
fn summary(v: &Verdict) -> Vec<String> {
    let mut out = vec![format!("{} {:?}", v.digest, v.outcome)];
    for p in &v.platforms {
        for a in &p.attestations {
            out.push(format!(
                "{} {} {:?} {:?} subject={} verified={} unsigned={} inconsistent={}",
                p.platform,
                a.manifest_digest,
                a.source,
                a.predicate_type,
                a.subject,
                a.verified,
                a.unsigned,
                a.signed_but_inconsistent
            ));
        }
        for s in &p.image_signatures {
            out.push(format!(
                "{} signature {:?} subject={} verified={}",
                p.platform, s.source, s.subject, s.signature.verified
            ));
        }
        for c in &p.checks {
            out.push(format!("{} check {} {:?}", p.platform, c.id, c.status));
        }
    }
    out.sort();
    out
}

fn cosign_att(v: &Verdict) -> &dhi_verify::AttestationReport {
    let atts: Vec<_> = v.platforms[0]
        .attestations
        .iter()
        .filter(|a| a.source == EvidenceSource::CosignTag)
        .collect();
    assert_eq!(atts.len(), 1, "{v:#?}");
    atts[0]
}

#[test]
fn the_real_layouts_pushed_with_cosigns_tag_schema_verify_from_the_registry() {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    for (i, version) in SLSA_GENERATOR_VERSIONS.into_iter().enumerate() {
        let repo = format!("slsa/example{i}");
        registry.push_cosign_save(&repo, &slsa_generator_layout(version), "latest");
        let tagged = format!("{}/{repo}:latest", registry.addr);
        let ok = verifier(
            keyless(&slsa_generator_identity(version)),
            &["provenance"],
            TlogMode::IfPresent,
        );
        let v = verify(&ok, &tagged);
        assert_eq!(v.outcome, Outcome::Pass, "{version}: {v:#?}");
        assert_eq!(v.digest.to_string(), slsa_generator_digest(version));
        let a = cosign_att(&v);
        assert!(a.verified, "{a:#?}");
        assert_eq!(a.subject.to_string(), slsa_generator_digest(version));
        // The same as from the layout.
        let from_layout = verify(
            &ok,
            &format!("oci:{}", slsa_generator_layout(version).display()),
        );
        assert_eq!(summary(&from_layout), summary(&v), "{version}");
        // By digest: the same image, the same verdict.
        let by_digest = format!("{}/{repo}@{}", registry.addr, v.digest);
        let d = verify(&ok, &by_digest);
        assert_eq!(d.digest, v.digest);
        assert_eq!(d.outcome, Outcome::Pass, "{d:#?}");
        assert_eq!(summary(&d), summary(&v));
        // Another signer: the registry serves the same bytes, which do not
        // carry that identity.
        let other = if version == "v2.0.0" {
            "v1.7.0"
        } else {
            "v2.0.0"
        };
        let v = verify(
            &verifier(
                keyless(&slsa_generator_identity(other)),
                &["provenance"],
                TlogMode::IfPresent,
            ),
            &tagged,
        );
        assert_eq!(v.outcome, Outcome::Fail, "{version}");
        assert_eq!(check(&v, "require.provenance").status, CheckStatus::Fail);
        assert!(!cosign_att(&v).verified);
    }
}

fn cosign_testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cosign")
}

/// `cosign.pub` with the fake Rekor log of `trusted_root.json`.
fn cosign_trust() -> TrustRoot {
    let dir = cosign_testdata();
    let pem = std::fs::read_to_string(dir.join("cosign.pub")).unwrap();
    TrustRoot::from_keys([TrustedKey::from_pem("cosign", &pem).unwrap()]).with_sigstore_trust(
        SigstoreTrust::from_trusted_root_json(
            &std::fs::read(dir.join("trusted_root.json")).unwrap(),
        )
        .unwrap(),
    )
}

/// Every `testdata/cosign/` case: its name, whether it is a `cosign save`
/// layout, and whether it has a `.sig` (a signature on the image).
const CASES: [(&str, bool, bool); 7] = [
    ("save-index", true, true),
    ("save-image", true, true),
    ("att-intoto-0.0.1", false, false),
    ("att-intoto-0.0.2", false, false),
    ("att-dsse-0.0.1", false, false),
    ("att-referrer", false, false),
    ("buildkit", false, false),
];

#[test]
fn every_cosign_case_verifies_the_same_from_its_layout_and_from_the_registry() {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let mut seen = Vec::new();
    for (case, save, sig) in CASES {
        let dir = cosign_testdata().join(case);
        let repo = format!("cosign/{case}");
        let (layout_ref, tag) = if save {
            registry.push_cosign_save(&repo, &dir, "3.13");
            (format!("oci:{}", dir.display()), "3.13")
        } else {
            registry.push_layout(&repo, &dir);
            (format!("oci:{}:3.13", dir.display()), "3.13")
        };
        let registry_ref = format!("{}/{repo}:{tag}", registry.addr);
        let mut requirements = vec!["provenance"];
        if sig {
            requirements.push("signature");
        }
        // att-referrer holds DHI-shaped simple-signing referrers, which carry
        // no log entry: `always` refuses them (checked below), `if-present`
        // verifies them. Every other case is logged.
        let tlog = if case == "att-referrer" {
            TlogMode::IfPresent
        } else {
            TlogMode::Always
        };
        let v = verifier(cosign_trust(), &requirements, tlog);
        let from_layout = verify(&v, &layout_ref);
        let from_registry = verify(&v, &registry_ref);
        for (what, verdict) in [("layout", &from_layout), ("registry", &from_registry)] {
            assert_eq!(
                verdict.outcome,
                Outcome::Pass,
                "{case} {what}: {verdict:#?}"
            );
            for p in &verdict.platforms {
                assert_eq!(
                    check(verdict, "require.provenance").status,
                    CheckStatus::Pass
                );
                if sig {
                    assert!(
                        p.checks
                            .iter()
                            .any(|c| c.id == "require.signature" && c.status == CheckStatus::Pass),
                        "{case} {what}: {p:#?}"
                    );
                }
            }
        }
        assert_eq!(from_layout.digest, from_registry.digest, "{case}");
        assert_eq!(summary(&from_layout), summary(&from_registry), "{case}");
        // Attested on the index: the attestation counts for every platform
        // and is about the index (save-image: about its single manifest).
        for p in &from_registry.platforms {
            let prov: Vec<_> = p
                .attestations
                .iter()
                .filter(|a| {
                    a.verified
                        && a.predicate_type
                            .as_deref()
                            .is_some_and(|t| t.starts_with("https://slsa.dev/provenance/"))
                        && a.source != EvidenceSource::ImageIndex
                })
                .collect();
            assert!(!prov.is_empty(), "{case}: {p:#?}");
            assert!(
                prov.iter().all(|a| a.subject == from_registry.digest),
                "{case}: {prov:#?}"
            );
        }
        seen.push((case, from_registry));
    }
    // BuildKit's in-index attestations: unsigned without an index signature
    // (buildkit), verified under one (save-index, which has a `.sig` on the
    // index — looked up because the index holds attestation manifests).
    for (case, v) in &seen {
        let in_index: Vec<_> = v
            .platforms
            .iter()
            .flat_map(|p| p.attestations.iter())
            .filter(|a| a.source == EvidenceSource::ImageIndex)
            .collect();
        match *case {
            "buildkit" => {
                assert!(!in_index.is_empty(), "{v:#?}");
                assert!(
                    in_index.iter().all(|a| a.unsigned && !a.verified),
                    "{in_index:#?}"
                );
            }
            "save-index" => {
                assert!(!in_index.is_empty(), "{v:#?}");
                assert!(
                    in_index.iter().all(|a| a.verified && !a.unsigned),
                    "{in_index:#?}"
                );
            }
            _ => {}
        }
    }
    let v = verify(
        &verifier(cosign_trust(), &["provenance"], TlogMode::Always),
        &format!("{}/cosign/att-referrer:3.13", registry.addr),
    );
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(
        check(&v, "require.provenance")
            .message
            .contains("requires a transparency-log entry"),
        "{v:#?}"
    );
    // Not signed by someone else: the same registry content with another key
    // trusted fails.
    let stranger = dhi_verify_testkit::TestKey::new("stranger");
    let trust = TrustRoot::from_keys([TrustedKey::from_pem("x", &stranger.public_pem()).unwrap()])
        .with_sigstore_trust(
            SigstoreTrust::from_trusted_root_json(
                &std::fs::read(cosign_testdata().join("trusted_root.json")).unwrap(),
            )
            .unwrap(),
        );
    let v = verify(
        &verifier(trust, &["provenance"], TlogMode::Always),
        &format!("{}/cosign/att-dsse-0.0.1:3.13", registry.addr),
    );
    assert_eq!(v.outcome, Outcome::Fail);
}

#[test]
fn a_real_layout_with_an_edited_set_fails_from_the_registry_too() {
    use dhi_verify_testkit::real::{
        copy_slsa_generator_layout, cosign_kind_entry, read_json, replace_blob,
    };
    let registry = DistributionRegistry::start(RegistryAuth::None);
    for (i, version) in SLSA_GENERATOR_VERSIONS.into_iter().enumerate() {
        let (_d, layout) = copy_slsa_generator_layout(version);
        let att = cosign_kind_entry(&layout, "dev.cosignproject.cosign/atts");
        let mut m = read_json(&layout, &att);
        let annotations = m["layers"][0]["annotations"].as_object_mut().unwrap();
        let mut bundle: serde_json::Value =
            serde_json::from_str(annotations["dev.sigstore.cosign/bundle"].as_str().unwrap())
                .unwrap();
        let t = bundle["Payload"]["integratedTime"].as_i64().unwrap();
        bundle["Payload"]["integratedTime"] = (t - 3600).into();
        annotations.insert(
            "dev.sigstore.cosign/bundle".into(),
            serde_json::to_string(&bundle).unwrap().into(),
        );
        replace_blob(&layout, &att, &serde_json::to_vec(&m).unwrap());
        let repo = format!("slsa/edited{i}");
        registry.push_cosign_save(&repo, &layout, "latest");
        let ok = verifier(
            keyless(&slsa_generator_identity(version)),
            &["provenance"],
            TlogMode::IfPresent,
        );
        let v = verify(&ok, &format!("{}/{repo}:latest", registry.addr));
        assert_eq!(v.outcome, Outcome::Fail, "{version}: {v:#?}");
        // The image is untouched: same digest; only the log link is broken.
        assert_eq!(v.digest.to_string(), slsa_generator_digest(version));
        let a = cosign_att(&v);
        assert!(!a.verified);
        assert!(
            a.reason
                .as_deref()
                .unwrap_or_default()
                .contains("signed entry timestamp"),
            "{a:#?}"
        );
        let from_layout = verify(&ok, &format!("oci:{}", layout.display()));
        assert_eq!(summary(&from_layout), summary(&v), "{version}");
    }
}
