use std::time::{Duration, Instant};

use base64::Engine as _;
use dhi_verify::source::registry::{Credentials, DockerConfig, RegistryOptions};
use dhi_verify::{
    Error, ErrorClass, Limits, Outcome, Platform, Policy, Reference, SourceError, Verdict, Verifier,
};
use dhi_verify_testkit::registry::{
    Content, DistributionRegistry, Fault, FaultKind, RegistryAuth, TestRegistry,
};
use dhi_verify_testkit::{DhiImage, PredicateKind, Tamper};
use tempfile::TempDir;

use crate::util::trust;

const REPO: &str = "dhi/python";

/// Fast retries, short timeouts, no Docker configuration from the machine.
fn options() -> RegistryOptions {
    RegistryOptions::default()
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(10))
        .with_retries(3, Duration::from_millis(10))
        .with_docker_config(DockerConfig::None)
}

fn verifier(image: &DhiImage, options: RegistryOptions, limits: Limits) -> Verifier {
    Verifier::builder()
        .trust(trust(image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .limits(limits)
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

fn written(image: &DhiImage) -> (TempDir, dhi_verify_testkit::Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    (dir, fixture)
}

fn assert_pass(r: Result<Verdict, Error>) -> Verdict {
    let v = r.unwrap_or_else(|e| panic!("expected a verdict, got error: {e}"));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    v
}

fn assert_fail(r: Result<Verdict, Error>) -> Verdict {
    let v = r.unwrap_or_else(|e| panic!("expected a failed verdict, got error: {e}"));
    assert_eq!(v.outcome, Outcome::Fail, "{v:#?}");
    v
}

fn assert_error(r: Result<Verdict, Error>) -> Error {
    match r {
        Ok(v) => panic!(
            "expected an error (exit 3), got verdict {:?}: {v:#?}",
            v.outcome
        ),
        Err(e) => {
            assert_eq!(e.class(), ErrorClass::Error, "{e}");
            assert_eq!(e.class(), dhi_verify::ErrorClass::Error);
            e
        }
    }
}

fn source_error(e: &Error) -> &SourceError {
    match e {
        Error::Source { source, .. } => source,
        other => panic!("expected a source error, got {other:?}"),
    }
}

/// Every source error in a verdict's attestations (where content failures land).
fn verdict_text(v: &Verdict) -> String {
    format!("{v:?}")
}

// --- Debian's docker-registry (distribution 2.8.2): the tag-schema fallback ---

fn pushed(auth: RegistryAuth, image: &DhiImage) -> (DistributionRegistry, TempDir) {
    let registry = DistributionRegistry::start(auth);
    let (dir, fixture) = written(image);
    registry.push_layout(REPO, &fixture.dir);
    (registry, dir)
}

#[test]
fn an_image_pushed_to_docker_registry_verifies_through_the_fallback_tags() {
    let image = DhiImage::python();
    let (registry, _dir) = pushed(RegistryAuth::None, &image);
    let v = assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &format!("{}/{REPO}:3.13", registry.addr),
    ));
    assert_eq!(v.platforms[0].attestations.len(), 5, "{v:#?}");
    // The verdict names the digest, and verifying by that digest passes too.
    let by_digest = format!("{}/{REPO}@{}", registry.addr, v.digest());
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &by_digest,
    ));
}

#[test]
fn cosign_sig_and_att_tags_in_docker_registry_verify() {
    use dhi_verify_testkit::cosign::{
        att_tag, dsse_envelope, sig_tag, simple_signing_layer, simple_signing_payload, statement,
        LayoutEditor, IN_TOTO,
    };
    // An image with no referrers at all, signed and attested the legacy
    // cosign way: `.sig` on the index, `.att` on the platform manifest.
    let image = DhiImage::python().kinds(&[]);
    let (dir, fixture) = written(&image);
    let platform = fixture
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap()
        .1
        .clone();
    let mut ed = LayoutEditor::open(&fixture.dir);
    let payload = simple_signing_payload(&fixture.index_digest, "cosign container image signature");
    let layer = simple_signing_layer(&mut ed, &payload, &image.key.sign_b64(&payload));
    sig_tag(&mut ed, &fixture.index_digest, vec![layer]);
    let provenance = statement(
        &platform,
        "https://slsa.dev/provenance/v1",
        serde_json::json!({"buildDefinition": {"buildType": "https://example.com/b"},
                           "runDetails": {"builder": {"id": "https://example.com/builder"}}}),
    );
    let envelope = dsse_envelope(IN_TOTO, &provenance, &image.key, None);
    att_tag(
        &mut ed,
        &platform,
        &[(envelope, "https://slsa.dev/provenance/v1")],
    );
    ed.finish();
    let registry = DistributionRegistry::start(RegistryAuth::None);
    registry.push_layout(REPO, &fixture.dir);
    let v = Verifier::builder()
        .trust(trust(&image))
        .policy(
            Policy::dhi_default()
                .with_requirements(["signature", "provenance"])
                .unwrap(),
        )
        .platforms([Platform::linux_amd64()])
        .registry_options(options())
        .build()
        .unwrap();
    let verdict = assert_pass(run(&v, &format!("{}/{REPO}:3.13", registry.addr)));
    assert!(verdict.platforms[0].image_signatures[0].signature.verified);
    drop(dir);
}

#[test]
fn docker_registry_with_htpasswd_basic_auth() {
    let image = DhiImage::python();
    let auth = RegistryAuth::Basic {
        user: "alice".into(),
        pass: "s3cret".into(),
    };
    let (registry, _dir) = pushed(auth, &image);
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let good = options().with_credentials(&registry.addr, Credentials::new("alice", "s3cret"));
    assert_pass(run(&verifier(&image, good, Limits::default()), &reference));

    let wrong = options().with_credentials(&registry.addr, Credentials::new("alice", "wrong"));
    let e = assert_error(run(&verifier(&image, wrong, Limits::default()), &reference));
    let msg = e.to_string();
    assert!(
        matches!(
            source_error(&e),
            SourceError::Unauthorized {
                status: 401,
                credentials: true,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(&registry.addr) && msg.contains("repository:dhi/python:pull"),
        "{msg}"
    );

    let anonymous = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &reference,
    ));
    assert!(
        matches!(
            source_error(&anonymous),
            SourceError::Unauthorized {
                credentials: false,
                ..
            }
        ),
        "{anonymous}"
    );
}

#[test]
fn docker_registry_credentials_come_from_a_docker_config_file() {
    let image = DhiImage::python();
    let auth = RegistryAuth::Basic {
        user: "bob".into(),
        pass: "pw".into(),
    };
    let (registry, dir) = pushed(auth, &image);
    let config = dir.path().join("config.json");
    let encoded = base64::engine::general_purpose::STANDARD.encode("bob:pw");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{encoded}"}}}}}}"#,
            registry.addr
        ),
    )
    .unwrap();
    let opts = options().with_docker_config(DockerConfig::File(config));
    assert_pass(run(
        &verifier(&image, opts, Limits::default()),
        &format!("{}/{REPO}:3.13", registry.addr),
    ));
}

#[test]
fn docker_registry_with_token_auth() {
    let image = DhiImage::python();
    let auth = RegistryAuth::Token {
        user: "carol".into(),
        pass: "tok".into(),
    };
    let (registry, _dir) = pushed(auth, &image);
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let good = options().with_credentials(&registry.addr, Credentials::new("carol", "tok"));
    let v = verifier(&image, good, Limits::default());
    assert_pass(run(&v, &reference));
    // One token for the whole verification (cached per registry and scope)…
    assert_eq!(registry.token.as_ref().unwrap().issued(), 1);
    // …and the verifier's cache outlives one verification.
    assert_pass(run(&v, &reference));
    assert_eq!(registry.token.as_ref().unwrap().issued(), 1);

    let wrong = options().with_credentials(&registry.addr, Credentials::new("carol", "nope"));
    let e = assert_error(run(&verifier(&image, wrong, Limits::default()), &reference));
    let msg = e.to_string();
    assert!(
        msg.contains("token server") && msg.contains("repository:dhi/python:pull"),
        "{msg}"
    );
}

#[test]
fn a_tampered_image_in_docker_registry_fails() {
    let image = DhiImage::python().tamper(Tamper::WrongKey);
    let (registry, _dir) = pushed(RegistryAuth::None, &image);
    assert_fail(run(
        &verifier(&image, options(), Limits::default()),
        &format!("{}/{REPO}:3.13", registry.addr),
    ));
}

#[test]
fn an_unknown_tag_is_an_error_not_a_failure() {
    let image = DhiImage::python();
    let (registry, _dir) = pushed(RegistryAuth::None, &image);
    let e = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &format!("{}/{REPO}:9.99", registry.addr),
    ));
    assert!(
        matches!(source_error(&e), SourceError::TagNotFound { .. }),
        "{e}"
    );
}

// --- The in-process registry: the referrers API and faults ---

fn serve(image: &DhiImage) -> (TestRegistry, dhi_verify_testkit::Fixture, TempDir) {
    let (dir, fixture) = written(image);
    let registry = TestRegistry::start(REPO, Content::from_layout(&fixture.dir));
    (registry, fixture, dir)
}

fn reference(r: &TestRegistry) -> String {
    format!("{}/{REPO}:3.13", r.addr)
}

fn referrer_requests(r: &TestRegistry) -> Vec<String> {
    r.requests()
        .into_iter()
        .filter(|l| l.contains("/referrers/"))
        .collect()
}

#[test]
fn the_referrers_api_is_used_when_the_registry_has_it() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    let log = registry.requests();
    assert!(!referrer_requests(&registry).is_empty(), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.contains("manifests/sha256-")
            && !l.ends_with(".sig")
            && !l.ends_with(".att")),
        "no fallback: {log:#?}"
    );
}

#[test]
fn the_referrers_api_whether_or_not_the_registry_applies_the_filter() {
    // The test registry itself: filter applied (with OCI-Filters-Applied) or ignored.
    let image = DhiImage::python().without_fallback_tags();
    let (dir, fixture) = written(&image);
    let platform = fixture.platforms[0].1.clone();
    let content = Content::from_layout(&fixture.dir);
    let path =
        format!("/v2/{REPO}/referrers/{platform}?artifactType=application/vnd.example%2Bjson");
    let applied = TestRegistry::start(REPO, content.clone());
    let a = dhi_verify_testkit::registry::http::request(&applied.addr, "GET", &path, &[], b"");
    assert_eq!(a.header("oci-filters-applied"), Some("artifactType"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&a.body).unwrap()["manifests"],
        serde_json::json!([])
    );
    let ignored = TestRegistry::start(REPO, content).ignoring_filter();
    let a = dhi_verify_testkit::registry::http::request(&ignored.addr, "GET", &path, &[], b"");
    assert_eq!(a.header("oci-filters-applied"), None);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&a.body).unwrap()["manifests"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // The verifier filters on the client either way.
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &format!("{}/{REPO}:3.13", applied.addr),
    ));
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &format!("{}/{REPO}:3.13", ignored.addr),
    ));
    drop(dir);
}

#[test]
fn paginated_referrers_are_followed_to_the_last_page() {
    let image = DhiImage::python().without_fallback_tags();
    let (dir, fixture) = written(&image);
    let registry = TestRegistry::start(REPO, Content::from_layout(&fixture.dir)).paginated(2);
    let v = assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert_eq!(v.platforms[0].attestations.len(), 5);
    assert!(
        referrer_requests(&registry)
            .iter()
            .any(|l| l.contains("page=2")),
        "{:#?}",
        registry.requests()
    );
    // More referrers than the limit is refused, not truncated.
    let few = Limits::default().with_max_referrers(3);
    let v = assert_fail(run(
        &verifier(&image, options(), few),
        &reference(&registry),
    ));
    assert!(verdict_text(&v).contains("refusing to truncate"), "{v:#?}");
    drop(dir);
}

#[test]
fn external_referrers_on_another_registry_with_their_own_credentials() {
    let image = DhiImage::python().without_fallback_tags();
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_split(&dir.path().join("image"), &dir.path().join("refs"));
    let images =
        TestRegistry::start(REPO, Content::from_layout(&fixture.dir)).with_credentials("img", "1");
    let refs = TestRegistry::start(
        "attestations/python",
        Content::from_layout(&fixture.dir).merge(Content::from_layout(&fixture.referrers_dir)),
    )
    .with_credentials("att", "2");
    let opts = options()
        .with_credentials(&images.addr, Credentials::new("img", "1"))
        .with_credentials(&refs.addr, Credentials::new("att", "2"));
    let v = Verifier::builder()
        .trust(trust(&image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .registry_options(opts)
        .referrers(Reference::parse(&format!("{}/attestations/python", refs.addr)).unwrap())
        .build()
        .unwrap();
    assert_pass(run(&v, &reference(&images)));
    assert!(
        referrer_requests(&images).is_empty(),
        "{:#?}",
        images.requests()
    );
    // Each registry challenged once; Basic credentials were sent unasked after that.
    assert_eq!((images.unauthorized(), refs.unauthorized()), (1, 1));
    assert!(!referrer_requests(&refs).is_empty());
    // Without --referrers the image's own repository has no attestations: a failure.
    assert_fail(run(
        &verifier(
            &image,
            options().with_credentials(&images.addr, Credentials::new("img", "1")),
            Limits::default(),
        ),
        &reference(&images),
    ));
}

#[test]
fn the_fallback_tag_is_used_only_when_the_api_answers_404() {
    let image = DhiImage::python();
    let (dir, fixture) = written(&image);
    let registry =
        TestRegistry::start(REPO, Content::from_layout(&fixture.dir)).without_referrers_api();
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(registry
        .requests()
        .iter()
        .any(|l| l.contains("manifests/sha256-")));
    drop(dir);
}

#[test]
fn server_errors_are_retried_then_pass() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry
        .fault(Fault::new(
            "/manifests/3.13",
            FaultKind::Status(500, None),
            2,
        ))
        .fault(Fault::new("/blobs/", FaultKind::Status(503, None), 1));
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    let tag_requests = registry
        .requests()
        .iter()
        .filter(|l| l.contains("/manifests/3.13"))
        .count();
    assert_eq!(tag_requests, 3);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/manifests/3.13",
        FaultKind::Status(429, Some(1)),
        1,
    ));
    let start = Instant::now();
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        start.elapsed()
    );
}

#[test]
fn errors_that_persist_after_retries_name_registry_repository_and_status() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/manifests/3.13",
        FaultKind::Status(503, None),
        usize::MAX,
    ));
    let e = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    let msg = e.to_string();
    assert!(
        msg.contains(&registry.addr)
            && msg.contains(REPO)
            && msg.contains("503")
            && msg.contains("4 attempts"),
        "{msg}"
    );
}

#[test]
fn a_referrers_endpoint_error_is_an_error_never_no_attestations() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/referrers/",
        FaultKind::Status(500, None),
        usize::MAX,
    ));
    let e = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(
        matches!(source_error(&e), SourceError::Http { status: 500, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("referrers of sha256:"), "{e}");
}

#[test]
fn a_body_that_does_not_match_its_digest_fails() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, fixture, _d) = serve(&image);
    let statement = fixture
        .attestation("linux/amd64", PredicateKind::ProvenanceV1)
        .statement_digest
        .clone();
    let registry = registry.fault(Fault::new(
        &format!("/blobs/{statement}"),
        FaultKind::WrongBody,
        usize::MAX,
    ));
    let v = assert_fail(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(
        verdict_text(&v).contains("does not match its digest"),
        "{v:#?}"
    );
}

#[test]
fn a_tag_whose_manifest_does_not_match_docker_content_digest_fails() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry.fault(Fault::new("/manifests/", FaultKind::WrongBody, usize::MAX));
    let v = assert_fail(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(
        verdict_text(&v).contains("does not match its digest"),
        "{v:#?}"
    );
}

#[test]
fn a_truncated_body_is_retried_and_then_an_error() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, fixture, _d) = serve(&image);
    let statement = fixture
        .attestation("linux/amd64", PredicateKind::ProvenanceV1)
        .statement_digest
        .clone();
    let once = TestRegistry::start(REPO, Content::from_layout(&fixture.dir)).fault(Fault::new(
        &format!("/blobs/{statement}"),
        FaultKind::Truncated,
        1,
    ));
    assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&once),
    ));
    let registry = registry.fault(Fault::new(
        &format!("/blobs/{statement}"),
        FaultKind::Truncated,
        usize::MAX,
    ));
    let e = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(
        matches!(source_error(&e), SourceError::Transport { attempts: 4, .. }),
        "{e}"
    );
}

#[test]
fn bodies_over_the_limit_are_refused_whatever_content_length_says() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, fixture, _d) = serve(&image);
    let statement = fixture
        .attestation("linux/amd64", PredicateKind::ProvenanceV1)
        .statement_digest
        .clone();
    let limits = Limits::default().with_max_statement_bytes(64 * 1024);
    // No Content-Length, an endless-looking body: cut at the limit.
    let r = registry.fault(Fault::new(
        &format!("/blobs/{statement}"),
        FaultKind::Unbounded(1024 * 1024),
        usize::MAX,
    ));
    let v = assert_fail(run(
        &verifier(&image, options(), limits.clone()),
        &reference(&r),
    ));
    assert!(verdict_text(&v).contains("TooLarge"), "{v:#?}");
    // A declared length over the limit: refused before reading.
    let (registry, _f2, _d2) = serve(&image);
    let r = registry.fault(Fault::new(
        &format!("/blobs/{statement}"),
        FaultKind::DeclaredLength(1 << 40),
        usize::MAX,
    ));
    let v = assert_fail(run(&verifier(&image, options(), limits), &reference(&r)));
    assert!(verdict_text(&v).contains("1099511627776"), "{v:#?}");
}

#[test]
fn a_registry_that_stalls_past_the_timeout_is_an_error() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/manifests/3.13",
        FaultKind::Stall(Duration::from_secs(5)),
        usize::MAX,
    ));
    let opts = options().with_timeouts(Duration::from_secs(1), Duration::from_secs(1));
    let start = Instant::now();
    let e = assert_error(run(
        &verifier(&image, opts, Limits::default()),
        &reference(&registry),
    ));
    assert!(
        matches!(
            source_error(&e),
            SourceError::Timeout {
                which: "request",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn wrong_basic_credentials_on_the_test_registry_are_an_error() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _f, _d) = serve(&image);
    let registry = registry.with_credentials("u", "p");
    let opts = options().with_credentials(&registry.addr, Credentials::new("u", "x"));
    let e = assert_error(run(
        &verifier(&image, opts, Limits::default()),
        &reference(&registry),
    ));
    assert!(
        matches!(source_error(&e), SourceError::Unauthorized { .. }),
        "{e}"
    );
}

#[test]
fn a_registry_that_is_not_there_is_an_error_after_retries() {
    let image = DhiImage::python();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &format!("127.0.0.1:{port}/{REPO}:3.13"),
    ));
    assert!(
        matches!(source_error(&e), SourceError::Transport { attempts: 4, .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{port}/{REPO}")),
        "{e}"
    );
}

// --- Concurrency ---

/// A registry whose statement blobs each take a moment, so that fetches that
/// may overlap do.
fn slow_statements(image: &DhiImage) -> (TestRegistry, TempDir) {
    let (dir, fixture) = written(image);
    let mut registry = TestRegistry::start(REPO, Content::from_layout(&fixture.dir));
    for info in &fixture.attestations {
        registry = registry.fault(Fault::new(
            &format!("/blobs/{}", info.statement_digest),
            FaultKind::Stall(Duration::from_millis(150)),
            usize::MAX,
        ));
    }
    (registry, dir)
}

#[test]
fn independent_fetches_overlap_up_to_the_bound() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _d) = slow_statements(&image);
    let v = assert_pass(run(
        &verifier(
            &image,
            options().with_max_concurrent_fetches(3),
            Limits::default(),
        ),
        &reference(&registry),
    ));
    assert_eq!(v.platforms[0].attestations.len(), 5);
    let peak = registry.peak_concurrency();
    assert!((2..=3).contains(&peak), "peak {peak}");
}

#[test]
fn one_fetch_at_a_time_gives_the_same_verdict() {
    let image = DhiImage::python().without_fallback_tags();
    let (registry, _d) = slow_statements(&image);
    let sequential = assert_pass(run(
        &verifier(
            &image,
            options().with_max_concurrent_fetches(1),
            Limits::default(),
        ),
        &reference(&registry),
    ));
    assert_eq!(registry.peak_concurrency(), 1);
    let parallel = assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    let names = |v: &Verdict| {
        v.platforms[0]
            .attestations
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&sequential), names(&parallel));
}

#[test]
fn a_failing_referrers_listing_among_parallel_fetches_is_still_an_error() {
    // Signature listings run beside statement fetches: the one that fails
    // must end verification with an error, whatever else succeeded.
    let image = DhiImage::python().without_fallback_tags();
    let (registry, fixture, _d) = serve(&image);
    let attestation = fixture
        .attestation("linux/amd64", PredicateKind::CycloneDx16)
        .manifest_digest
        .clone();
    let registry = registry.fault(Fault::new(
        &format!("/referrers/{attestation}"),
        FaultKind::Status(503, None),
        usize::MAX,
    ));
    let e = assert_error(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    assert!(
        matches!(source_error(&e), SourceError::Http { status: 503, .. }),
        "{e}"
    );
    assert!(e.to_string().contains(&attestation), "{e}");
}

#[test]
fn concurrent_requests_meeting_a_challenge_share_one_token() {
    let image = DhiImage::python();
    let auth = RegistryAuth::Token {
        user: "dan".into(),
        pass: "pw".into(),
    };
    let (registry, _dir) = pushed(auth, &image);
    let opts = options().with_credentials(&registry.addr, Credentials::new("dan", "pw"));
    assert_pass(run(
        &verifier(&image, opts, Limits::default()),
        &format!("{}/{REPO}:3.13", registry.addr),
    ));
    assert_eq!(registry.token.as_ref().unwrap().issued(), 1);
}

// --- Other signing schemes ---

#[test]
fn a_buildkit_in_index_attestation_is_reported_unverified_and_the_image_still_passes() {
    let image = DhiImage::python().without_fallback_tags();
    let (dir, fixture) = written(&image);
    let platform = fixture
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap()
        .1
        .clone();
    let mut content = Content::from_layout(&fixture.dir);
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "x", "digest": {"sha256": platform.trim_start_matches("sha256:")}}],
        "predicate": {},
    }))
    .unwrap();
    let buildkit = content.add_buildkit_attestation("3.13", &platform, &statement);
    let registry = TestRegistry::start(REPO, content);
    let v = assert_pass(run(
        &verifier(&image, options(), Limits::default()),
        &reference(&registry),
    ));
    let attestations = &v.platforms[0].attestations;
    assert_eq!(attestations.len(), 6, "{v:#?}");
    let report = attestations
        .iter()
        .find(|a| a.manifest_digest.to_string() == buildkit)
        .unwrap_or_else(|| panic!("BuildKit attestation missing: {v:#?}"));
    assert!(!report.verified, "{report:#?}");
    assert!(report.signatures.is_empty(), "{report:#?}");
    drop(dir);
}

#[test]
fn resolving_a_tag_fetches_its_manifest_once_and_verifying_the_digest_reuses_the_cached_bytes() {
    let image = DhiImage::python();
    let (registry, fixture, _d) = serve(&image);
    let cache = tempfile::tempdir().unwrap();
    let v = verifier(
        &image,
        options().with_cache_dir(cache.path().to_owned()),
        Limits::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let digest = rt.block_on(v.resolve(&reference(&registry))).unwrap();
    assert_eq!(digest.to_string(), fixture.index_digest);
    let by_tag = |log: &[String]| log.iter().filter(|l| l.contains("/manifests/3.13")).count();
    assert_eq!(by_tag(&registry.requests()), 1);
    let pinned = format!("{}/{REPO}@{digest}", registry.addr);
    let verdict = assert_pass(rt.block_on(v.verify(&pinned)));
    assert_eq!(verdict.digest, digest);
    let log = registry.requests();
    assert_eq!(by_tag(&log), 1, "{log:#?}");
    assert!(
        !log.iter()
            .any(|l| l.contains(&format!("/manifests/{digest}"))),
        "the index was fetched again: {log:#?}"
    );
    // An unknown tag is an error naming the step.
    let missing = rt
        .block_on(v.resolve(&format!("{}/{REPO}:nope", registry.addr)))
        .unwrap_err();
    assert_eq!(missing.class(), ErrorClass::Error, "{missing}");
    assert!(missing.to_string().contains("resolve"), "{missing}");
}
