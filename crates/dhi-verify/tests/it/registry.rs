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
fn a_token_is_cached_per_registry_and_scope_across_verifications() {
    let image = DhiImage::python();
    let (registry, _dir) = pushed(token("carol", "tok"), &image);
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let good = options().with_credentials(&registry.addr, Credentials::new("carol", "tok"));
    let v = verifier(&image, good, Limits::default());
    assert_pass(run(&v, &reference));
    // One token for the whole verification (cached per registry and scope)…
    assert_eq!(registry.token.as_ref().unwrap().issued(), 1);
    // …and the verifier's cache outlives one verification.
    assert_pass(run(&v, &reference));
    assert_eq!(registry.token.as_ref().unwrap().issued(), 1);
}

#[test]
fn a_verifier_with_another_docker_config_keeps_the_trust_and_uses_the_new_credentials() {
    let image = DhiImage::python();
    let (registry, _dir) = pushed(basic("dave", "pw"), &image);
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let auth = base64::engine::general_purpose::STANDARD.encode("dave:pw");
    let config = || {
        let json = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr);
        DockerConfig::auths_over(json, DockerConfig::None).unwrap()
    };
    // Without credentials: the registry's 401, an error.
    let anonymous = verifier(&image, options(), Limits::default());
    assert!(run(&anonymous, &reference).is_err());
    // With them: the image's key is still the trusted one, and it passes.
    let with = anonymous.with_docker_config(config()).unwrap();
    assert_pass(run(&with, &reference));
    // A verifier trusting another key keeps trusting only that key.
    let mut another = DhiImage::python();
    another.key = dhi_verify_testkit::TestKey::new("another");
    let other_key = verifier(&another, options(), Limits::default());
    let other_with = other_key.with_docker_config(config()).unwrap();
    let verdict = run(&other_with, &reference).unwrap();
    assert_eq!(verdict.outcome, Outcome::Fail);
    // The first verifier is unchanged: still no credentials.
    assert!(run(&anonymous, &reference).is_err());
}

/// What a verification in a table row must end in.
enum Expect {
    /// A passing verdict.
    Pass,
    /// A failing verdict whose text says this ("": anything).
    Fail(&'static str),
    /// An error (exit 3) whose source error matches, and whose message says
    /// each of these (`{addr}` is the registry; see [`FaultCase`] for more).
    Error(fn(&SourceError) -> bool, &'static [&'static str]),
}

/// Asserts that `result` is what `expect` says; `fill` puts the case's
/// values into the expected texts.
fn expect(
    case: &str,
    result: Result<Verdict, Error>,
    expect: &Expect,
    fill: &dyn Fn(&str) -> String,
) {
    match expect {
        Expect::Pass => {
            assert_pass(result);
        }
        Expect::Fail(says) => {
            let v = assert_fail(result);
            assert!(verdict_text(&v).contains(says), "{case}: {v:#?}");
        }
        Expect::Error(is, says) => {
            let e = assert_error(result);
            assert!(is(source_error(&e)), "{case}: {e}");
            let msg = e.to_string();
            for s in *says {
                assert!(msg.contains(&fill(s)), "{case}: {msg}");
            }
        }
    }
}

/// What a client sends to a registry that may want credentials.
enum Client {
    Anonymous,
    /// `--registry-credentials`-style credentials for the registry's host.
    Credentials(&'static str, &'static str),
    /// The same, from a Docker `config.json` (`auths.<host>.auth`).
    DockerConfig(&'static str, &'static str),
}

/// One scenario against Debian's docker-registry: the image pushed, how the
/// registry authenticates, what the client sends, the tag asked for, the
/// expected outcome and how many tokens the token server issued.
struct PushedCase {
    case: &'static str,
    image: DhiImage,
    auth: RegistryAuth,
    client: Client,
    tag: &'static str,
    expect: Expect,
    tokens: Option<usize>,
}

fn basic(user: &str, pass: &str) -> RegistryAuth {
    RegistryAuth::Basic {
        user: user.into(),
        pass: pass.into(),
    }
}

fn token(user: &str, pass: &str) -> RegistryAuth {
    RegistryAuth::Token {
        user: user.into(),
        pass: pass.into(),
    }
}

fn pushed_cases() -> Vec<PushedCase> {
    use Client::{Anonymous, Credentials as Sends, DockerConfig as ConfigFile};
    use Expect::{Error, Fail, Pass};
    let case = |case, auth, client, expect| PushedCase {
        case,
        image: DhiImage::python(),
        auth,
        client,
        tag: "3.13",
        expect,
        tokens: None,
    };
    vec![
        case(
            "htpasswd Basic auth with the right credentials passes",
            basic("alice", "s3cret"),
            Sends("alice", "s3cret"),
            Pass,
        ),
        case(
            "htpasswd Basic auth with a wrong password is an error naming registry and scope",
            basic("alice", "s3cret"),
            Sends("alice", "wrong"),
            Error(
                |e| {
                    matches!(
                        e,
                        SourceError::Unauthorized {
                            status: 401,
                            credentials: true,
                            ..
                        }
                    )
                },
                &["{addr}", "repository:dhi/python:pull"],
            ),
        ),
        case(
            "htpasswd Basic auth without credentials is an error",
            basic("alice", "s3cret"),
            Anonymous,
            Error(
                |e| {
                    matches!(
                        e,
                        SourceError::Unauthorized {
                            credentials: false,
                            ..
                        }
                    )
                },
                &[],
            ),
        ),
        case(
            "credentials come from a Docker config file",
            basic("bob", "pw"),
            ConfigFile("bob", "pw"),
            Pass,
        ),
        PushedCase {
            // Concurrent requests meeting the challenge share one token.
            tokens: Some(1),
            ..case(
                "token auth with the right credentials passes with one token",
                token("dan", "pw"),
                Sends("dan", "pw"),
                Pass,
            )
        },
        case(
            "token auth with a wrong password is an error naming the token server and scope",
            token("carol", "tok"),
            Sends("carol", "nope"),
            Error(|_| true, &["token server", "repository:dhi/python:pull"]),
        ),
        PushedCase {
            image: DhiImage::python().tamper(Tamper::WrongKey),
            ..case(
                "a tampered image fails",
                RegistryAuth::None,
                Anonymous,
                Fail(""),
            )
        },
        PushedCase {
            tag: "9.99",
            ..case(
                "an unknown tag is an error, not a failure",
                RegistryAuth::None,
                Anonymous,
                Error(|e| matches!(e, SourceError::TagNotFound { .. }), &[]),
            )
        },
    ]
}

#[test]
fn docker_registry_scenarios_give_the_expected_outcome() {
    for c in pushed_cases() {
        let case = c.case;
        let (registry, dir) = pushed(c.auth, &c.image);
        let opts = match c.client {
            Client::Anonymous => options(),
            Client::Credentials(user, pass) => {
                options().with_credentials(&registry.addr, Credentials::new(user, pass))
            }
            Client::DockerConfig(user, pass) => {
                let config = dir.path().join("config.json");
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                std::fs::write(
                    &config,
                    format!(
                        r#"{{"auths":{{"{}":{{"auth":"{encoded}"}}}}}}"#,
                        registry.addr
                    ),
                )
                .unwrap();
                options().with_docker_config(DockerConfig::File(config))
            }
        };
        let result = run(
            &verifier(&c.image, opts, Limits::default()),
            &format!("{}/{REPO}:{}", registry.addr, c.tag),
        );
        expect(case, result, &c.expect, &|s| {
            s.replace("{addr}", &registry.addr)
        });
        if let Some(n) = c.tokens {
            assert_eq!(registry.token.as_ref().unwrap().issued(), n, "{case}");
        }
    }
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

// --- Faults on the in-process registry, one row a case ---

/// A user name and password.
type UserPass = (&'static str, &'static str);

/// One fault scenario: the faults injected (a path part, where `{statement}`
/// is the provenance statement's digest and `{attestation}` the CycloneDX
/// attestation manifest's; the kind; how many times), the client and
/// registry set-up, and the expected outcome.
struct FaultCase {
    case: &'static str,
    faults: Vec<(&'static str, FaultKind, usize)>,
    /// Connect and request timeout, if not the fast defaults.
    timeout: Option<Duration>,
    /// The registry wants Basic (user, password); the client sends (user, password).
    basic: Option<(UserPass, UserPass)>,
    max_statement_bytes: Option<u64>,
    expect: Expect,
    /// How many requests to paths containing this there must have been.
    requests: Option<(&'static str, usize)>,
    /// The verification took at least / less than this long.
    at_least: Option<Duration>,
    under: Option<Duration>,
}

impl FaultCase {
    fn new(
        case: &'static str,
        faults: Vec<(&'static str, FaultKind, usize)>,
        expect: Expect,
    ) -> Self {
        FaultCase {
            case,
            faults,
            timeout: None,
            basic: None,
            max_statement_bytes: None,
            expect,
            requests: None,
            at_least: None,
            under: None,
        }
    }
}

fn fault_cases() -> Vec<FaultCase> {
    use Expect::{Error, Fail, Pass};
    use FaultKind::{DeclaredLength, Stall, Status, Truncated, Unbounded, WrongBody};
    const ALWAYS: usize = usize::MAX;
    vec![
        FaultCase {
            requests: Some(("/manifests/3.13", 3)),
            ..FaultCase::new(
                "server errors are retried, then pass",
                vec![
                    ("/manifests/3.13", Status(500, None), 2),
                    ("/blobs/", Status(503, None), 1),
                ],
                Pass,
            )
        },
        FaultCase {
            at_least: Some(Duration::from_secs(1)),
            ..FaultCase::new(
                "too many requests honours Retry-After",
                vec![("/manifests/3.13", Status(429, Some(1)), 1)],
                Pass,
            )
        },
        FaultCase::new(
            "errors that persist after retries name registry, repository and status",
            vec![("/manifests/3.13", Status(503, None), ALWAYS)],
            Error(|_| true, &["{addr}", REPO, "503", "4 attempts"]),
        ),
        FaultCase::new(
            "a referrers endpoint error is an error, never no attestations",
            vec![("/referrers/", Status(500, None), ALWAYS)],
            Error(
                |e| matches!(e, SourceError::Http { status: 500, .. }),
                &["referrers of sha256:"],
            ),
        ),
        FaultCase::new(
            // Signature listings run beside statement fetches: the one that
            // fails must end verification with an error, whatever else succeeded.
            "a failing referrers listing among parallel fetches is still an error",
            vec![("/referrers/{attestation}", Status(503, None), ALWAYS)],
            Error(
                |e| matches!(e, SourceError::Http { status: 503, .. }),
                &["{attestation}"],
            ),
        ),
        FaultCase::new(
            "a body that does not match its digest fails",
            vec![("/blobs/{statement}", WrongBody, ALWAYS)],
            Fail("does not match its digest"),
        ),
        FaultCase::new(
            "a tag whose manifest does not match Docker-Content-Digest fails",
            vec![("/manifests/", WrongBody, ALWAYS)],
            Fail("does not match its digest"),
        ),
        FaultCase::new(
            "a body truncated once is retried",
            vec![("/blobs/{statement}", Truncated, 1)],
            Pass,
        ),
        FaultCase::new(
            "a body truncated every time is an error after the retries",
            vec![("/blobs/{statement}", Truncated, ALWAYS)],
            Error(
                |e| matches!(e, SourceError::Transport { attempts: 4, .. }),
                &[],
            ),
        ),
        FaultCase {
            max_statement_bytes: Some(64 * 1024),
            // No Content-Length, an endless-looking body: cut at the limit.
            ..FaultCase::new(
                "a body over the limit without Content-Length is cut at the limit",
                vec![("/blobs/{statement}", Unbounded(1024 * 1024), ALWAYS)],
                Fail("TooLarge"),
            )
        },
        FaultCase {
            max_statement_bytes: Some(64 * 1024),
            ..FaultCase::new(
                "a declared length over the limit is refused before reading",
                vec![("/blobs/{statement}", DeclaredLength(1 << 40), ALWAYS)],
                Fail("1099511627776"),
            )
        },
        FaultCase {
            timeout: Some(Duration::from_secs(1)),
            under: Some(Duration::from_secs(4)),
            ..FaultCase::new(
                "a registry that stalls past the timeout is an error",
                vec![("/manifests/3.13", Stall(Duration::from_secs(5)), ALWAYS)],
                Error(
                    |e| {
                        matches!(
                            e,
                            SourceError::Timeout {
                                which: "request",
                                ..
                            }
                        )
                    },
                    &[],
                ),
            )
        },
        FaultCase {
            basic: Some((("u", "p"), ("u", "x"))),
            ..FaultCase::new(
                "wrong Basic credentials on the test registry are an error",
                vec![],
                Error(|e| matches!(e, SourceError::Unauthorized { .. }), &[]),
            )
        },
    ]
}

#[test]
fn registry_faults_give_the_expected_outcome() {
    let image = DhiImage::python().without_fallback_tags();
    for c in fault_cases() {
        let (registry, fixture, _d) = serve(&image);
        let statement = fixture
            .attestation("linux/amd64", PredicateKind::ProvenanceV1)
            .statement_digest
            .clone();
        let attestation = fixture
            .attestation("linux/amd64", PredicateKind::CycloneDx16)
            .manifest_digest
            .clone();
        let fill = |s: &str, addr: &str| {
            s.replace("{statement}", &statement)
                .replace("{attestation}", &attestation)
                .replace("{addr}", addr)
        };
        let mut registry = registry;
        for (path, kind, times) in &c.faults {
            registry = registry.fault(Fault::new(&fill(path, ""), kind.clone(), *times));
        }
        let mut opts = options();
        if let Some(t) = c.timeout {
            opts = opts.with_timeouts(t, t);
        }
        if let Some(((user, pass), (sent_user, sent_pass))) = c.basic {
            registry = registry.with_credentials(user, pass);
            opts = opts.with_credentials(&registry.addr, Credentials::new(sent_user, sent_pass));
        }
        let mut limits = Limits::default();
        if let Some(max) = c.max_statement_bytes {
            limits = limits.with_max_statement_bytes(max);
        }
        let case = c.case;
        let start = Instant::now();
        let result = run(&verifier(&image, opts, limits), &reference(&registry));
        let took = start.elapsed();
        expect(case, result, &c.expect, &|s| fill(s, &registry.addr));
        if let Some((path, n)) = c.requests {
            let seen = registry
                .requests()
                .iter()
                .filter(|l| l.contains(path))
                .count();
            assert_eq!(seen, n, "{case}");
        }
        if let Some(min) = c.at_least {
            assert!(took >= min, "{case}: waited {took:?}");
        }
        if let Some(max) = c.under {
            assert!(took < max, "{case}: {took:?}");
        }
    }
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

#[test]
fn a_stalled_registry_does_not_hold_back_first_requests_to_another() {
    // A registry that accepts connections and never answers.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_ref = format!("{}/{REPO}:3.13", stalled.local_addr().unwrap());
    let image = DhiImage::python();
    let (registry, _f, _d) = serve(&image);
    let v = verifier(
        &image,
        options().with_timeouts(Duration::from_secs(2), Duration::from_secs(4)),
        Limits::default(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Both verifications start together on one verifier; the stalled one's
    // first request is in flight when the good one's first request is made.
    let first_done = rt.block_on(async {
        let stalled = v.verify(&stalled_ref);
        let good = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            v.verify(&reference(&registry)).await
        };
        tokio::pin!(stalled, good);
        tokio::select! {
            biased;
            r = &mut good => ("good", r.map(|v| v.passed)),
            r = &mut stalled => ("stalled", r.map(|v| v.passed)),
        }
    });
    assert!(
        matches!(first_done, ("good", Ok(true))),
        "the good registry waited for the stalled one: {first_done:?}"
    );
    drop(stalled);
}
