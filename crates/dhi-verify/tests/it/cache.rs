//! The disk cache: content by digest served from it and re-hashed, corrupt
//! entries refetched, tags and referrers always asked afresh online, and
//! `--offline` working from it alone (a miss is an error, never a pass).

use std::path::Path;
use std::time::Duration;

use dhi_verify::source::registry::{DockerConfig, RegistryOptions};
use dhi_verify::{Error, ErrorClass, Outcome, Platform, Policy, SourceError, Verdict, Verifier};
use dhi_verify_testkit::registry::{Content, TestRegistry};
use dhi_verify_testkit::{DhiImage, PredicateKind};

use crate::util::trust;

const REPO: &str = "dhi/python";

fn options(cache: &Path) -> RegistryOptions {
    RegistryOptions::default()
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(10))
        .with_retries(1, Duration::from_millis(10))
        .with_docker_config(DockerConfig::None)
        .with_cache_dir(cache)
}

fn verifier(image: &DhiImage, options: RegistryOptions) -> Verifier {
    Verifier::builder()
        .trust(trust(image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .registry_options(options)
        .build()
        .unwrap()
}

fn run(v: &Verifier, reference: &str) -> Result<Verdict, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(v.verify(reference))
}

fn pass(r: Result<Verdict, Error>) -> Verdict {
    let v = r.unwrap_or_else(|e| panic!("expected a verdict, got error: {e}"));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    v
}

fn error(r: Result<Verdict, Error>) -> Error {
    match r {
        Ok(v) => panic!("expected an error, got {:?}: {v:#?}", v.outcome),
        Err(e) => {
            assert_eq!(e.class(), ErrorClass::Error, "{e}");
            assert_eq!(e.class(), dhi_verify::ErrorClass::Error);
            e
        }
    }
}

struct Served {
    registry: TestRegistry,
    fixture: dhi_verify_testkit::Fixture,
    image: DhiImage,
    _dir: tempfile::TempDir,
}

fn served() -> Served {
    let image = DhiImage::python().without_fallback_tags();
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let registry = TestRegistry::start(REPO, Content::from_layout(&fixture.dir));
    Served {
        registry,
        fixture,
        image,
        _dir: dir,
    }
}

fn by_digest(s: &Served) -> String {
    format!("{}/{REPO}@{}", s.registry.addr, s.fixture.index_digest)
}

fn by_tag(s: &Served) -> String {
    format!("{}/{REPO}:3.13", s.registry.addr)
}

/// Requests other than referrers listings.
fn content_requests(r: &TestRegistry) -> Vec<String> {
    r.requests()
        .into_iter()
        .filter(|l| !l.contains("/referrers/"))
        .collect()
}

#[test]
fn a_second_verification_by_digest_fetches_only_referrers_listings() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    let v = verifier(&s.image, options(cache.path()));
    pass(run(&v, &by_digest(&s)));
    let cold = s.registry.requests().len();
    pass(run(&v, &by_digest(&s)));
    let warm: Vec<String> = s.registry.requests()[cold..].to_vec();
    // The index's and the platform's listings change, so they are asked
    // afresh; the signature listings of the (immutable) attestation
    // manifests are the kept ones. cosign's tags are not looked up: the
    // referrers hold attestations, and the policy does not require an image
    // signature.
    let listings = warm.iter().filter(|l| l.contains("/referrers/")).count();
    let cosign = warm
        .iter()
        .filter(|l| l.ends_with(".sig") || l.ends_with(".att"))
        .count();
    assert_eq!((listings, cosign, warm.len()), (2, 0, 2), "{warm:#?}");
}

#[test]
fn kept_signature_listings_that_do_not_verify_are_asked_afresh() {
    // Every kept listing emptied (as a stale or poisoned cache could be):
    // the attestations look unsigned, so the image is verified again with
    // fresh listings, and passes. A kept listing is never why an image fails.
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    let v = verifier(&s.image, options(cache.path()));
    pass(run(&v, &by_digest(&s)));
    let cold = s.registry.requests().len();
    let empty = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let mut emptied = 0;
    for entry in std::fs::read_dir(cache.path().join("referrers")).unwrap() {
        std::fs::write(entry.unwrap().path(), empty).unwrap();
        emptied += 1;
    }
    assert_eq!(emptied, 7);
    pass(run(&v, &by_digest(&s)));
    let warm: Vec<String> = s.registry.requests()[cold..].to_vec();
    let listings = warm.iter().filter(|l| l.contains("/referrers/")).count();
    // 2 with the kept listings, then all 7 afresh.
    assert_eq!((listings, warm.len()), (9, 9), "{warm:#?}");
}

#[test]
fn a_verification_that_fails_with_fresh_listings_is_not_repeated() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    let strict = Verifier::builder()
        .trust(trust(&s.image))
        .policy(Policy::dhi_default().with_requirements(["stig"]).unwrap())
        .platforms([Platform::linux_amd64()])
        .registry_options(options(cache.path()))
        .build()
        .unwrap();
    let v = run(&strict, &by_digest(&s)).unwrap();
    assert_eq!(v.outcome, Outcome::Fail);
    // Cold: nothing was kept, so nothing is asked twice.
    let listings = s
        .registry
        .requests()
        .iter()
        .filter(|l| l.contains("/referrers/"))
        .count();
    assert_eq!(listings, 7);
}

#[test]
fn a_tag_is_resolved_afresh_even_when_its_content_is_cached() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    let v = verifier(&s.image, options(cache.path()));
    pass(run(&v, &by_tag(&s)));
    pass(run(&v, &by_tag(&s)));
    let tag_requests = content_requests(&s.registry)
        .iter()
        .filter(|l| l.ends_with("/manifests/3.13"))
        .count();
    assert_eq!(tag_requests, 2);
}

#[test]
fn a_corrupt_cache_entry_is_deleted_and_refetched_never_trusted() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    let v = verifier(&s.image, options(cache.path()));
    pass(run(&v, &by_digest(&s)));
    let statement = s
        .fixture
        .attestation("linux/amd64", PredicateKind::ProvenanceV1)
        .statement_digest
        .clone();
    let path = cache
        .path()
        .join("sha256")
        .join(statement.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let before = s.registry.requests().len();
    pass(run(&v, &by_digest(&s)));
    let again: Vec<String> = s.registry.requests()[before..].to_vec();
    assert!(
        again
            .iter()
            .any(|l| l.ends_with(&format!("/blobs/{statement}"))),
        "{again:#?}"
    );
    // The entry was replaced by the right bytes.
    assert_eq!(
        dhi_verify::Digest::of(&std::fs::read(&path).unwrap()).to_string(),
        statement
    );
}

#[test]
fn offline_verification_works_from_the_cache_alone() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    pass(run(&verifier(&s.image, options(cache.path())), &by_tag(&s)));
    let before = s.registry.requests().len();
    let offline = verifier(&s.image, options(cache.path()).with_offline(true));
    let v = pass(run(&offline, &by_tag(&s)));
    assert_eq!(v.platforms[0].attestations.len(), 5);
    pass(run(&offline, &by_digest(&s)));
    assert_eq!(s.registry.requests().len(), before, "no request offline");
}

#[test]
fn an_offline_cache_miss_is_an_error_naming_the_digest() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    let offline = verifier(&s.image, options(cache.path()).with_offline(true));
    let e = error(run(&offline, &by_digest(&s)));
    assert!(e.to_string().contains(&s.fixture.index_digest), "{e}");
    let e = error(run(&offline, &by_tag(&s)));
    assert!(e.to_string().contains("\"3.13\""), "{e}");
    assert!(s.registry.requests().is_empty());
}

#[test]
fn an_offline_verification_with_a_corrupt_entry_is_an_error_not_a_pass() {
    let s = served();
    let cache = tempfile::tempdir().unwrap();
    pass(run(
        &verifier(&s.image, options(cache.path())),
        &by_digest(&s),
    ));
    let statement = s
        .fixture
        .attestation("linux/amd64", PredicateKind::CycloneDx16)
        .statement_digest
        .clone();
    let path = cache
        .path()
        .join("sha256")
        .join(statement.trim_start_matches("sha256:"));
    std::fs::write(&path, b"{}").unwrap();
    let offline = verifier(&s.image, options(cache.path()).with_offline(true));
    let e = error(run(&offline, &by_digest(&s)));
    assert!(
        matches!(
            &e,
            Error::Source {
                source: SourceError::Io { .. },
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains(&statement), "{e}");
    assert!(!path.exists(), "the corrupt entry is deleted");
}

#[test]
fn offline_without_a_cache_directory_is_refused_at_build() {
    let image = DhiImage::python();
    let r = Verifier::builder()
        .trust(trust(&image))
        .policy(Policy::dhi_default())
        .registry_options(RegistryOptions::default().with_offline(true))
        .build();
    assert!(r.is_err());
}
