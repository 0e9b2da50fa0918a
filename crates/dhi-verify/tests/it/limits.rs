//! Limits on one verification as a whole: redirects followed per request,
//! total bytes read, and the deadline. Each ends as an error (exit 3) that
//! names what it hit, never a pass.

use std::time::Duration;

use dhi_verify::source::registry::{Credentials, DockerConfig, RegistryOptions};
use dhi_verify::{
    Error, ErrorClass, Limits, Outcome, Platform, Policy, SourceError, Verdict, Verifier,
    DEFAULT_DEADLINE,
};
use dhi_verify_testkit::registry::{Content, Fault, FaultKind, TestRegistry};
use dhi_verify_testkit::DhiImage;
use tempfile::TempDir;

use crate::util::{trust, write};

const REPO: &str = "dhi/python";

/// Short timeouts and fast retries; no Docker configuration from the machine.
fn options() -> RegistryOptions {
    RegistryOptions::default()
        .with_timeouts(Duration::from_secs(2), Duration::from_secs(30))
        .with_retries(3, Duration::from_millis(10))
        .with_docker_config(DockerConfig::None)
}

fn verifier(
    image: &DhiImage,
    options: RegistryOptions,
    limits: Limits,
    deadline: Duration,
) -> Verifier {
    Verifier::builder()
        .trust(trust(image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .registry_options(options)
        .limits(limits)
        .deadline(deadline)
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

fn image() -> DhiImage {
    DhiImage::python().without_fallback_tags()
}

/// The image served by the in-process registry (referrers API).
fn serve(image: &DhiImage) -> (TestRegistry, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let registry = TestRegistry::start(REPO, Content::from_layout(&fixture.dir));
    (registry, dir)
}

fn reference(r: &TestRegistry) -> String {
    format!("{}/{REPO}:3.13", r.addr)
}

fn assert_pass(r: Result<Verdict, Error>) {
    let v = r.unwrap_or_else(|e| panic!("expected a verdict, got error: {e}"));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

fn assert_error(r: Result<Verdict, Error>) -> Error {
    match r {
        Ok(v) => panic!("expected an error (exit 3), got {:?}: {v:#?}", v.outcome),
        Err(e) => {
            assert_eq!(e.class(), ErrorClass::Error, "{e}");
            assert_eq!(e.class(), dhi_verify::ErrorClass::Error, "{e}");
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

// --- Redirects ---

#[test]
fn blobs_redirected_as_often_as_the_limit_allows_are_followed_and_pass() {
    let image = image();
    let (registry, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectChain(5),
        usize::MAX,
    ));
    let v = verifier(
        &image,
        options().with_max_redirects(5),
        Limits::default(),
        DEFAULT_DEADLINE,
    );
    assert_pass(run(&v, &reference(&registry)));
    assert!(
        registry
            .requests()
            .iter()
            .any(|l| l.starts_with("GET /hop/1/")),
        "{:?}",
        registry.requests()
    );
}

#[test]
fn a_redirect_chain_longer_than_the_limit_is_an_error_naming_registry_blob_and_limit() {
    let image = image();
    let (registry, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectChain(6),
        usize::MAX,
    ));
    let v = verifier(
        &image,
        options().with_max_redirects(5),
        Limits::default(),
        DEFAULT_DEADLINE,
    );
    let e = assert_error(run(&v, &reference(&registry)));
    let SourceError::Redirect {
        location,
        what,
        limit,
        reason,
    } = source_error(&e)
    else {
        panic!("expected a redirect error, got {e}");
    };
    assert_eq!(*limit, 5);
    assert_eq!(location, &format!("{}/{REPO}", registry.addr));
    assert!(what.starts_with("blob sha256:"), "{what}");
    assert!(reason.starts_with("more than 5 redirects"), "{reason}");
    let text = e.to_string();
    assert!(
        text.contains(&registry.addr) && text.contains("at most 5 redirects"),
        "{text}"
    );
    // Not retried: each blob's chain was started once.
    let starts: Vec<String> = registry
        .requests()
        .into_iter()
        .filter(|l| l.starts_with("GET /hop/6/"))
        .collect();
    let mut distinct = starts.clone();
    distinct.sort();
    distinct.dedup();
    assert!(!starts.is_empty());
    assert_eq!(starts.len(), distinct.len(), "{starts:?}");
}

#[test]
fn a_redirect_loop_is_an_error_not_retried() {
    let image = image();
    let (registry, _d) = serve(&image);
    let registry = registry.fault(Fault::new("/blobs/", FaultKind::RedirectLoop, usize::MAX));
    let v = verifier(&image, options(), Limits::default(), DEFAULT_DEADLINE);
    let e = assert_error(run(&v, &reference(&registry)));
    assert!(
        matches!(
            source_error(&e),
            SourceError::Redirect { limit: 5, reason, .. } if reason.starts_with("redirect loop: ")
        ),
        "{e}"
    );
    let loops: Vec<String> = registry
        .requests()
        .into_iter()
        .filter(|l| l.starts_with("GET /hop/loop/"))
        .collect();
    let mut distinct = loops.clone();
    distinct.sort();
    distinct.dedup();
    assert!(!loops.is_empty());
    assert_eq!(loops.len(), distinct.len(), "{loops:?}");
}

#[test]
fn no_redirect_is_followed_with_a_limit_of_zero() {
    let image = image();
    let (registry, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectChain(1),
        usize::MAX,
    ));
    let v = verifier(
        &image,
        options().with_max_redirects(0),
        Limits::default(),
        DEFAULT_DEADLINE,
    );
    let e = assert_error(run(&v, &reference(&registry)));
    assert!(
        matches!(source_error(&e), SourceError::Redirect { limit: 0, .. }),
        "{e}"
    );
}

#[test]
fn a_redirect_to_plain_http_elsewhere_is_refused_before_connecting() {
    let image = image();
    let (registry, _d) = serve(&image);
    let registry = registry.fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectTo("http://blobs.example.invalid".into()),
        usize::MAX,
    ));
    let v = verifier(&image, options(), Limits::default(), DEFAULT_DEADLINE);
    let e = assert_error(run(&v, &reference(&registry)));
    assert!(
        matches!(
            source_error(&e),
            SourceError::Redirect { reason, .. }
                if reason.starts_with("refusing a redirect to http://blobs.example.invalid/")
        ),
        "{e}"
    );
}

#[test]
fn credentials_go_along_a_redirect_on_the_same_host_but_never_to_another_host() {
    let image = image();
    let (cdn, _d1) = serve(&image);
    let (registry, _d2) = serve(&image);
    let registry = registry.with_credentials("u", "p").fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectTo(format!("http://{}", cdn.addr)),
        usize::MAX,
    ));
    let opts = options().with_credentials(&registry.addr, Credentials::new("u", "p"));
    let v = verifier(&image, opts, Limits::default(), DEFAULT_DEADLINE);
    assert_pass(run(&v, &reference(&registry)));
    let blobs_at_cdn = cdn
        .requests()
        .iter()
        .filter(|l| l.contains("/blobs/"))
        .count();
    assert!(blobs_at_cdn > 0, "{:?}", cdn.requests());
    assert_eq!(cdn.requests_with_authorization(), 0, "{:?}", cdn.requests());
    assert!(registry.requests_with_authorization() > 0);

    // The same registry redirecting to itself: the credentials stay (the
    // hop answers 401 without them, so a pass proves they were sent).
    let (same, _d3) = serve(&image);
    let same = same.with_credentials("u", "p").fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectChain(2),
        usize::MAX,
    ));
    let opts = options().with_credentials(&same.addr, Credentials::new("u", "p"));
    let v = verifier(&image, opts, Limits::default(), DEFAULT_DEADLINE);
    assert_pass(run(&v, &reference(&same)));
    assert!(same.requests().iter().any(|l| l.starts_with("GET /hop/1/")));
}

// --- Total bytes per verification ---

/// An image whose two SBOM statements per platform are each ~`padding` bytes.
fn padded(padding: usize) -> DhiImage {
    let mut image = DhiImage::python();
    image.sbom_padding = padding;
    image
}

fn layout_verifier(image: &DhiImage, limits: Limits) -> Verifier {
    verifier(image, RegistryOptions::default(), limits, DEFAULT_DEADLINE)
}

#[test]
fn attestations_that_together_exceed_the_byte_budget_are_an_error_from_a_layout() {
    // Each SBOM statement is 64 KiB, under every per-object limit; the
    // layout's blobs together are over 256 KiB.
    let image = padded(64 * 1024);
    let w = write(&image);
    let limits = Limits::default().with_max_total_bytes(256 * 1024);
    let e = assert_error(run(
        &layout_verifier(&image, limits),
        &w.fixture.reference("3.13"),
    ));
    assert!(
        matches!(
            source_error(&e),
            SourceError::BudgetExceeded { limit: 262_144, read, .. } if *read > 262_144
        ),
        "{e}"
    );
    assert!(e.to_string().contains("max_total_bytes"), "{e}");
    // With the default budget the same image passes.
    assert_pass(run(
        &layout_verifier(&image, Limits::default()),
        &w.fixture.reference("3.13"),
    ));
}

#[test]
fn attestations_that_together_exceed_the_byte_budget_are_an_error_from_a_registry() {
    let mut image = padded(64 * 1024);
    image.fallback_tags = false;
    let (registry, _d) = serve(&image);
    let limits = Limits::default().with_max_total_bytes(128 * 1024);
    let e = assert_error(run(
        &verifier(&image, options(), limits, DEFAULT_DEADLINE),
        &reference(&registry),
    ));
    assert!(
        matches!(
            source_error(&e),
            SourceError::BudgetExceeded { limit: 131_072, what, .. }
                if what.contains(&registry.addr)
        ),
        "{e}"
    );
    assert_pass(run(
        &verifier(&image, options(), Limits::default(), DEFAULT_DEADLINE),
        &reference(&registry),
    ));
}

#[test]
fn the_byte_budget_is_inclusive_and_one_byte_less_is_an_error() {
    // Find the smallest budget that passes by bisection: it must pass at
    // exactly that many bytes and be an error at one fewer (a layout is read
    // deterministically, so the count is the same every run).
    let image = DhiImage::python();
    let w = write(&image);
    let reference = w.fixture.reference("3.13");
    let outcome = |budget: u64| {
        run(
            &layout_verifier(&image, Limits::default().with_max_total_bytes(budget)),
            &reference,
        )
    };
    let (mut lo, mut hi) = (0u64, 64 * 1024 * 1024);
    assert!(outcome(hi).is_ok());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match outcome(mid) {
            Ok(v) => {
                assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
                hi = mid;
            }
            Err(e) => {
                assert!(
                    matches!(source_error(&e), SourceError::BudgetExceeded { .. }),
                    "{e}"
                );
                lo = mid;
            }
        }
    }
    assert_pass(outcome(hi));
    let e = assert_error(outcome(hi - 1));
    assert!(
        matches!(source_error(&e), SourceError::BudgetExceeded { limit, read, .. }
            if *limit == hi - 1 && *read > *limit),
        "{e}"
    );
}

// --- Deadline ---

#[test]
fn a_registry_stalling_past_the_deadline_is_an_error_naming_the_reference_and_the_blob() {
    let image = image();
    let (dir, registry) = {
        let dir = tempfile::tempdir().unwrap();
        let fixture = image.write_layout(&dir.path().join("layout"));
        let statement = fixture.attestations[0].statement_digest.clone();
        let registry =
            TestRegistry::start(REPO, Content::from_layout(&fixture.dir)).fault(Fault::new(
                &format!("/blobs/{statement}"),
                FaultKind::Stall(Duration::from_secs(20)),
                usize::MAX,
            ));
        (dir, (registry, statement))
    };
    let (registry, statement) = registry;
    // The request timeout (30 s) is longer than the deadline: the deadline ends it.
    let v = verifier(&image, options(), Limits::default(), Duration::from_secs(1));
    let e = assert_error(run(&v, &reference(&registry)));
    let Error::DeadlineExceeded {
        reference: r,
        deadline_ms,
        during,
    } = &e
    else {
        panic!("expected a deadline error, got {e:?}");
    };
    assert_eq!(r, &reference(&registry));
    assert_eq!(*deadline_ms, 1000);
    assert!(during.iter().any(|d| d.contains(&statement)), "{during:?}");
    let text = e.to_string();
    assert!(
        text.contains(&reference(&registry)) && text.contains("deadline of 1 s"),
        "{text}"
    );
    drop(dir);
}

#[test]
fn a_passed_deadline_stops_a_layout_verification_before_its_next_read() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verifier(
        &image,
        RegistryOptions::default(),
        Limits::default(),
        Duration::ZERO,
    );
    let e = assert_error(run(&v, &w.fixture.reference("3.13")));
    assert!(
        matches!(&e, Error::DeadlineExceeded { deadline_ms: 0, reference, .. }
            if reference == &w.fixture.reference("3.13")),
        "{e:?}"
    );
}
