//! `dhi-verify serve` through the real binary over real HTTPS: the
//! AdmissionReview bodies of `testdata/admission/` with their images
//! rewritten to testkit images pushed to Debian's docker-registry (or the
//! in-process registry, which counts requests), a self-signed certificate
//! made with `openssl` per test, and faults: registry down, stalled, 5xx,
//! refused credentials, bad bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dhi_verify::workload::images_in_object;
use dhi_verify_testkit::registry::server::{Fault, FaultKind, TestRegistry};
use dhi_verify_testkit::registry::{Content, DistributionRegistry, RegistryAuth};
use dhi_verify_testkit::{DhiImage, Fixture, Tamper};
use serde_json::Value;
use tempfile::TempDir;

const GOOD: &str = "dhi/python";
const BAD: &str = "dhi/tampered";

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<name>-ca.crt`, what clients trust, as the API server trusts the
/// webhook configuration's caBundle) and a server certificate it issued for
/// 127.0.0.1 and localhost (`<name>.crt`, `<name>.key`). Returns the CA's path.
fn certificate(dir: &Path, name: &str) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = format!("{name}-ca");
    let mut args = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=dhi-verify test CA",
    ];
    args.extend(ec);
    let (ca_key, ca_crt) = (format!("{ca}.key"), format!("{ca}.crt"));
    args.extend(["-keyout", &ca_key, "-out", &ca_crt]);
    openssl(&args, dir);
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let mut args = vec!["req", "-new", "-subj", "/CN=dhi-verify"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr]);
    openssl(&args, dir);
    let ext = format!("{name}.ext");
    std::fs::write(
        dir.join(&ext),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ],
        dir,
    );
    dir.join(ca_crt)
}

/// The server process; killed (by its pid) when dropped.
struct Server {
    child: Child,
    url: String,
    /// The CA that issued the server's certificate.
    ca: PathBuf,
    stderr: Arc<Mutex<String>>,
    dir: TempDir,
}

impl Server {
    fn start(key: &Path, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let ca = certificate(dir.path(), "server");
        let (cert, tls_key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&tls_key)
            // One registry request may take longer than any admission
            // deadline in these tests, so a stalled registry always ends as
            // "not in time", never racing the request's own timeout.
            .args(["--platform", "linux/amd64", "--timeout", "20", "--key"])
            .arg(key)
            .args(extra)
            // Never the developer's credentials or cache.
            .env("DOCKER_CONFIG", dir.path())
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if let Some(a) = line.strip_prefix("dhi-verify: serve: listening on https://") {
                        break a.to_owned();
                    }
                }
                _ => panic!("serve did not start: {seen}"),
            }
        };
        let stderr = Arc::new(Mutex::new(seen));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Server {
            child,
            url: format!("https://{addr}"),
            ca,
            stderr,
            dir,
        }
    }

    fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(&self.ca).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let r = self
            .client()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client()
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// The `response` of an AdmissionReview posted to `path`.
    async fn review(&self, path: &str, body: &Value) -> Value {
        let (status, text) = self.post(path, body.to_string()).await;
        assert_eq!(status, 200, "{text}\n{}", self.log());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1", "{v}");
        assert_eq!(v["kind"], "AdmissionReview", "{v}");
        assert_eq!(v["response"]["uid"], body["request"]["uid"], "{v}");
        v["response"].clone()
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The value of one sample line of /metrics.
    async fn metric(&self, sample: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{sample} not in {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A testkit image written to a layout, and its trusted key.
struct Image {
    _dir: TempDir,
    fixture: Fixture,
    key: PathBuf,
}

fn image(i: &DhiImage, key_of: Option<&DhiImage>) -> Image {
    let dir = tempfile::tempdir().unwrap();
    let fixture = i.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, key_of.unwrap_or(i).key.public_pem()).unwrap();
    Image {
        _dir: dir,
        fixture,
        key,
    }
}

/// A testdata body with its placeholders replaced.
fn body(file: &str, images: &[(&str, &str)]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/admission")
        .join(file);
    let mut text = std::fs::read_to_string(path).unwrap();
    for (placeholder, image) in images {
        text = text.replace(&format!("{{{{{placeholder}}}}}"), image);
    }
    assert!(!text.contains("{{"), "unreplaced placeholder in {file}");
    serde_json::from_str(&text).unwrap()
}

fn all(image: &str) -> Vec<(&'static str, String)> {
    ["APP", "SIDECAR", "INIT", "EPHEMERAL"]
        .into_iter()
        .map(|p| (p, image.to_owned()))
        .collect()
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    v.iter().map(|(p, i)| (*p, i.as_str())).collect()
}

/// Applies the response's JSONPatch (base64 in `patch`) to the request object.
fn patched(request: &Value, response: &Value) -> Value {
    use base64::Engine as _;
    assert_eq!(response["patchType"], "JSONPatch", "{response}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut object = request["request"]["object"].clone();
    json_patch::patch(&mut object, &patch).unwrap();
    object
}

/// A good image and a tampered one in Debian's docker-registry.
struct Pushed {
    _registry: DistributionRegistry,
    good: String,
    /// The good image under another name (a debug image for `kubectl debug`).
    debug: String,
    bad: String,
    digest: String,
    image: Image,
    _bad: Image,
}

fn pushed() -> Pushed {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let good = image(&DhiImage::python(), None);
    registry.push_layout(GOOD, &good.fixture.dir);
    registry.push_layout("dhi/debug", &good.fixture.dir);
    let bad = image(
        &DhiImage::python().tamper(Tamper::WrongKey),
        Some(&DhiImage::python()),
    );
    registry.push_layout(BAD, &bad.fixture.dir);
    Pushed {
        good: format!("{}/{GOOD}:3.13", registry.addr),
        debug: format!("{}/dhi/debug:3.13", registry.addr),
        bad: format!("{}/{BAD}:3.13", registry.addr),
        digest: good.fixture.index_digest.clone(),
        _registry: registry,
        image: good,
        _bad: bad,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_whose_images_verify_are_allowed_and_mutate_pins_every_image_to_its_digest() {
    let p = pushed();
    let server = Server::start(&p.image.key, &[]);
    let pinned_already = format!("{}/{GOOD}@{}", p.good.split('/').next().unwrap(), p.digest);
    for file in [
        "pod-create.json",
        "deployment-create.json",
        "cronjob-create.json",
        "pod-ephemeralcontainers-update.json",
    ] {
        let images = vec![
            ("APP", p.good.clone()),
            ("SIDECAR", pinned_already.clone()),
            ("INIT", p.good.clone()),
            ("EPHEMERAL", p.debug.clone()),
        ];
        let request = body(file, &pairs(&images));
        let validated = server.review("/validate", &request).await;
        assert_eq!(validated["allowed"], true, "{file}: {validated}");
        assert!(validated.get("patch").is_none(), "{file}: {validated}");

        let mutated = server.review("/mutate", &request).await;
        assert_eq!(mutated["allowed"], true, "{file}: {mutated}");
        let object = patched(&request, &mutated);
        let uses = images_in_object(&object).unwrap().uses;
        assert!(uses.len() >= 3, "{file}: {uses:?}");
        for u in uses.iter().filter(|u| {
            !file.contains("update") || u.pointer.starts_with("/spec/ephemeralContainers")
        }) {
            assert!(
                u.image == format!("{}@{}", p.good, p.digest)
                    || u.image == format!("{}@{}", p.debug, p.digest)
                    || u.image == pinned_already,
                "{file}: {} at {} is not pinned to {}",
                u.image,
                u.pointer,
                p.digest
            );
        }
        // Only the tags were replaced: the image already pinned has no operation.
        let ops: Vec<Value> = {
            use base64::Engine as _;
            let b = base64::engine::general_purpose::STANDARD
                .decode(mutated["patch"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&b).unwrap()
        };
        assert!(ops.iter().all(|o| o["op"] == "replace"), "{ops:?}");
        if file.contains("update") {
            // An UPDATE is judged by what it adds: the new ephemeral container.
            assert_eq!(ops.len(), 1, "{file}: {ops:?}");
            assert_eq!(ops[0]["path"], "/spec/ephemeralContainers/0/image");
        } else {
            assert_eq!(ops.len(), uses.len() - 1, "{file}: {ops:?}");
        }
    }
    // One verification per repository served every admission (dhi/python,
    // and dhi/debug for the ephemeral container): the rest were cache hits.
    assert_eq!(
        server
            .metric("dhi_verify_verifications_total{outcome=\"pass\"}")
            .await,
        2.0,
        "{}",
        server.log()
    );
    assert!(server.metric("dhi_verify_cache_hits_total").await >= 7.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_fails_verification_is_denied_naming_it_and_the_failed_check() {
    let p = pushed();
    let server = Server::start(&p.image.key, &[]);
    let images = vec![
        ("APP", p.good.clone()),
        ("SIDECAR", p.good.clone()),
        ("INIT", p.bad.clone()),
    ];
    for file in [
        "pod-create.json",
        "deployment-create.json",
        "cronjob-create.json",
    ] {
        let request = body(file, &pairs(&images));
        for path in ["/validate", "/mutate"] {
            let r = server.review(path, &request).await;
            assert_eq!(r["allowed"], false, "{file} {path}: {r}");
            assert!(r.get("patch").is_none(), "never a patch with a denial: {r}");
            assert_eq!(r["status"]["code"], 403, "{r}");
            let message = r["status"]["message"].as_str().unwrap();
            assert!(message.contains(&p.bad), "{message}");
            assert!(message.contains("initContainer \"migrate\""), "{message}");
            assert!(message.contains("failed verification"), "{message}");
            // The failed check's id (the provenance and SBOM requirements).
            assert!(message.contains("require."), "{message}");
            // The good images are not blamed.
            assert!(!message.contains(&format!("{} ", p.good)), "{message}");
        }
    }
    // An ephemeral container added by `kubectl debug` is checked too.
    let images = vec![
        ("APP", p.good.clone()),
        ("SIDECAR", p.good.clone()),
        ("INIT", p.good.clone()),
        ("EPHEMERAL", p.bad.clone()),
    ];
    let request = body("pod-ephemeralcontainers-update.json", &pairs(&images));
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("ephemeralContainer \"debugger-x7k2p\""),
        "{message}"
    );
    assert!(message.contains("(ephemeralcontainers)"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_and_objects_without_containers_are_allowed_and_unreadable_images_denied() {
    let p = pushed();
    let server = Server::start(&p.image.key, &[]);
    let r = server
        .review("/validate", &body("pod-delete.json", &pairs(&all(&p.bad))))
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    let r = server
        .review("/validate", &body("service-create.json", &[]))
        .await;
    assert_eq!(r["allowed"], true, "{r}");
    let warning = r["warnings"][0].as_str().unwrap();
    assert!(warning.contains("no container image"), "{warning}");
    // An image that is not a reference, and a container without an image.
    let mut request = body("pod-create.json", &pairs(&all(&p.good)));
    request["request"]["object"]["spec"]["containers"][0]["image"] = "Not A Reference!".into();
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("Not A Reference!"),
        "{r}"
    );
    let mut request = body("pod-create.json", &pairs(&all(&p.good)));
    request["request"]["object"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("image");
    let r = server.review("/mutate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .contains("has no image"),
        "{r}"
    );
    // An UPDATE is judged by the images it adds: a label change on a pod
    // whose image was admitted before passes whatever that image is now; an
    // UPDATE that brings in a failing image is denied.
    let mut request = body(
        "pod-ephemeralcontainers-update.json",
        &pairs(&[
            ("APP", p.bad.clone()),
            ("SIDECAR", p.good.clone()),
            ("INIT", p.good.clone()),
            ("EPHEMERAL", p.good.clone()),
        ]),
    );
    let r = server.review("/validate", &request).await;
    assert_eq!(
        r["allowed"], true,
        "the bad image was in the old object: {r}"
    );
    request["request"]["oldObject"]["spec"]["containers"][0]["image"] = p.good.as_str().into();
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "the bad image is new: {r}");
    assert!(
        r["status"]["message"].as_str().unwrap().contains(&p.bad),
        "{r}"
    );
    // An old object that cannot be read: every image is checked.
    request["request"]["oldObject"]["spec"]["containers"] = "nonsense".into();
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    // CREATE without an object.
    let mut request = body("pod-create.json", &pairs(&all(&p.good)));
    request["request"]["object"] = Value::Null;
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_400_oversized_ones_413_and_the_server_keeps_serving() {
    let p = pushed();
    let server = Server::start(&p.image.key, &["--max-body-bytes", "20000"]);
    let cases: [(&str, String); 6] = [
        ("/validate", "not json".into()),
        ("/validate", "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}".into()),
        ("/mutate", "{\"apiVersion\":\"admission.k8s.io/v1beta2\",\"kind\":\"AdmissionReview\",\"request\":null}".into()),
        ("/mutate", "[1,2,3".into()),
        ("/external-data", "{\"apiVersion\":\"v9\",\"kind\":\"ProviderRequest\",\"request\":{\"keys\":[]}}".into()),
        ("/external-data", "{\"request\":".into()),
    ];
    for (path, b) in cases {
        let (status, text) = server.post(path, b.clone()).await;
        assert_eq!(status, 400, "{path} {b}: {text}");
        assert!(text.contains("expected"), "{text}");
    }
    let (status, text) = server.post("/validate", vec![b' '; 20_001]).await;
    assert_eq!(status, 413, "{text}");
    // Without a Content-Length (chunked) the cap holds too.
    let stream =
        futures_util::stream::iter((0..30).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let (status, text) = server
        .post("/validate", reqwest::Body::wrap_stream(stream))
        .await;
    assert_eq!(status, 413, "{text}");
    assert_eq!(server.get("/nope").await.0, 404);
    assert_eq!(server.get("/validate").await.0, 405);
    assert_eq!(server.get("/healthz").await, (200, "ok\n".into()));
    assert_eq!(server.get("/readyz").await, (200, "ready\n".into()));
    assert!(server.metric("dhi_verify_bad_requests_total").await >= 9.0);
    let r = server
        .review("/validate", &body("pod-create.json", &pairs(&all(&p.good))))
        .await;
    assert_eq!(r["allowed"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_stalled_failing_or_refusing_credentials_is_a_denial_within_the_deadline() {
    let good = image(&DhiImage::python(), None);
    // Down: a port nothing listens on.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down_addr = down.local_addr().unwrap();
    drop(down);
    // Stalled: accepts connections and never answers.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled_addr = stalled.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    std::thread::spawn(move || {
        for s in stalled.incoming().map_while(Result::ok) {
            h.lock().unwrap().push(s);
        }
    });
    let content = Content::from_layout(&good.fixture.dir);
    let failing = TestRegistry::start(GOOD, content.clone()).fault(Fault::new(
        "/v2/",
        FaultKind::Status(503, None),
        10_000,
    ));
    let locked = TestRegistry::start(GOOD, content).with_credentials("alice", "s3cret");
    let images = [
        ("APP", format!("{down_addr}/{GOOD}:3.13")),
        ("SIDECAR", format!("{}/{GOOD}:3.13", failing.addr)),
        ("INIT", format!("{}/{GOOD}:3.13", locked.addr)),
        ("EPHEMERAL", format!("{stalled_addr}/{GOOD}:3.13")),
    ];
    // One server for all four: each registry host has its own client, so
    // the stalled one does not hold back the others' first requests.
    let server = Server::start(&good.key, &[]);
    let request = body("pod-create.json", &pairs(&images[..3]));
    let mut stalled_too = body("pod-create.json", &pairs(&images[..3]));
    stalled_too["request"]["object"]["spec"]["containers"][0]["image"] =
        images[3].1.as_str().into();
    let started = std::time::Instant::now();
    // The default deadline (8 s), shortened by the API server's own
    // `?timeout=6s` to 5 s: room for the client's retries of the 503s and
    // the refused connections (about 2 s of backoff) to end as errors.
    let r = server.review("/validate?timeout=6s", &stalled_too).await;
    // The contract: an answer before the API server gives up on the
    // webhook (timeoutSeconds, 10 by default).
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    let reason = |i: usize| {
        let image = &images[i].1;
        let at = message
            .find(&format!("verify {image}"))
            .unwrap_or_else(|| panic!("{image} not named: {message}"));
        message[at..].split("; ").next().unwrap().to_owned()
    };
    assert!(reason(1).contains("HTTP 503"), "{}", reason(1));
    assert!(reason(2).contains("HTTP 401"), "{}", reason(2));
    assert!(
        reason(3).contains("in time") && reason(3).contains("after 5000 ms"),
        "{}",
        reason(3)
    );
    // The refused connection, on a request without the stalled image (the
    // pod's first container was replaced above).
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("verify {}", images[0].1)),
        "{message}"
    );
    assert!(message.contains("Connection refused"), "{message}");
    let mutated = server.review("/mutate", &request).await;
    assert_eq!(mutated["allowed"], false, "{mutated}");
    // Errors are not cached: the 503s are asked again.
    let before = failing.requests().len();
    let again = server.review("/validate", &request).await;
    assert_eq!(again["allowed"], false, "{again}");
    assert!(
        failing.requests().len() > before,
        "an error was answered from the cache"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_admissions_of_one_new_image_make_one_verification() {
    let good = image(&DhiImage::python(), None);
    let content = Content::from_layout(&good.fixture.dir);
    let once = TestRegistry::start(GOOD, content.clone());
    let crowd = TestRegistry::start(GOOD, content);
    // No disk cache: each registry is asked for everything it serves.
    let server = Server::start(&good.key, &["--no-cache"]);
    let request = |addr: &str| {
        body(
            "deployment-create.json",
            &pairs(&all(&format!("{addr}/{GOOD}:3.13"))),
        )
    };
    let r = server.review("/validate", &request(&once.addr)).await;
    assert_eq!(r["allowed"], true, "{r}");
    let one_verification = once.requests().len();
    assert!(one_verification > 3, "{:?}", once.requests());

    let server = Arc::new(server);
    let crowd_request = Arc::new(request(&crowd.addr));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (s, b) = (server.clone(), crowd_request.clone());
        tasks.push(tokio::spawn(async move { s.review("/validate", &b).await }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r["allowed"], true, "{r}");
    }
    assert_eq!(
        crowd.requests().len(),
        one_verification,
        "100 admissions: {:#?}\none: {:#?}",
        crowd.requests(),
        once.requests()
    );
    assert_eq!(
        server
            .metric("dhi_verify_verifications_total{outcome=\"pass\"}")
            .await,
        2.0
    );
    let shared = server.metric("dhi_verify_cache_hits_total").await
        + server.metric("dhi_verify_cache_joins_total").await;
    assert_eq!(shared, 99.0, "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_external_data_provider_answers_each_key_with_a_pinned_reference_or_an_error() {
    let p = pushed();
    let server = Server::start(&p.image.key, &["--external-data-deadline", "5"]);
    let pinned = format!("{}@{}", p.good, p.digest);
    let request = body(
        "provider-request.json",
        &[("APP", &p.good), ("SIDECAR", &p.bad), ("INIT", &pinned)],
    );
    let (status, text) = server.post("/external-data", request.to_string()).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    assert_eq!(v["kind"], "ProviderResponse");
    assert_eq!(v["response"]["idempotent"], true);
    assert!(v["response"].get("systemError").is_none(), "{v}");
    let items = v["response"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{v}");
    assert_eq!(items[0]["key"], p.good.as_str());
    assert_eq!(items[0]["value"], pinned.as_str());
    assert!(items[0].get("error").is_none(), "{v}");
    assert_eq!(items[1]["key"], p.bad.as_str());
    assert!(items[1].get("value").is_none(), "{v}");
    assert!(
        items[1]["error"]
            .as_str()
            .unwrap()
            .contains("failed verification"),
        "{v}"
    );
    assert_eq!(items[2]["value"], pinned.as_str(), "{v}");
    // Too many keys: a system error, no items.
    let keys: Vec<String> = (0..1001).map(|i| format!("x/y:{i}")).collect();
    let big = serde_json::json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}});
    let (status, text) = server.post("/external-data", big.to_string()).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["response"]["systemError"]
            .as_str()
            .unwrap()
            .contains("1001"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart_and_sigterm_stops_cleanly() {
    let good = image(&DhiImage::python(), None);
    let mut server = Server::start(
        &good.key,
        &["--tls-reload-interval", "0.2", "--shutdown-delay", "2"],
    );
    assert_eq!(server.get("/healthz").await.0, 200);
    // Renew: write a new pair over the files the server reads.
    let d = server.dir.path();
    let new_ca = certificate(d, "renewed");
    std::fs::copy(d.join("renewed.key"), d.join("server.key")).unwrap();
    std::fs::copy(d.join("renewed.crt"), d.join("server.crt")).unwrap();
    let pem = std::fs::read(&new_ca).unwrap();
    let trusting_new = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let mut last = None;
    for _ in 0..100 {
        match trusting_new
            .get(format!("{}/healthz", server.url))
            .send()
            .await
        {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(e) = last {
        panic!(
            "the renewed certificate was never served: {e:?}\n{}",
            server.log()
        );
    }
    assert!(
        server.log().contains("TLS certificate reloaded"),
        "{}",
        server.log()
    );
    // SIGTERM (as Kubernetes stops a pod): the process ends by itself, exit 0.
    let pid = server.child.id().to_string();
    // (The server serves the renewed certificate now.)
    let client = trusting_new.clone();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // For --shutdown-delay it still answers, not ready.
    let mut not_ready = false;
    for _ in 0..20 {
        let r = client
            .get(format!("{}/readyz", server.url))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 503 {
            not_ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(not_ready, "{}", server.log());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = server.child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.unwrap_or_else(|| panic!("still running after SIGTERM: {}", server.log()));
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policys_deployment_rules_choose_requirements_per_namespace_and_exemptions_allow_with_a_warning(
) {
    let p = pushed();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n\n[require]\nattestations = [\"provenance\", \"sbom\"]\n\n\
         [[deploy.rules]]\nimages = [\"*/dhi/python\"]\nnamespaces = [\"strict\"]\nrequire = [\"fips\"]\n\n\
         [[deploy.exempt]]\nimages = [\"*/dhi/tampered:*\"]\nnamespaces = [\"shop\"]\nexpires = \"2099-01-01\"\nreason = \"OPS-1\"\n\n\
         [[deploy.exempt]]\nimages = [\"*/dhi/tampered:*\"]\nnamespaces = [\"legacy\"]\nexpires = \"2020-01-01\"\n",
    )
    .unwrap();
    let server = Server::start(&p.image.key, &["--policy", policy.to_str().unwrap()]);
    let images = [
        ("APP", p.good.clone()),
        ("SIDECAR", p.good.clone()),
        ("INIT", p.bad.clone()),
    ];
    let in_namespace = |ns: &str| {
        let mut b = body("pod-create.json", &pairs(&images));
        b["request"]["namespace"] = ns.into();
        b["request"]["object"]["metadata"]["namespace"] = ns.into();
        b
    };
    // shop: the tampered image is exempt (allowed, said in a warning, not
    // pinned); the good one is verified and pinned.
    let r = server.review("/mutate", &in_namespace("shop")).await;
    assert_eq!(r["allowed"], true, "{r}");
    let warning = r["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("exempt") && warning.contains("2099-01-01") && warning.contains("OPS-1"),
        "{warning}"
    );
    let object = patched(&in_namespace("shop"), &r);
    let uses = images_in_object(&object).unwrap().uses;
    let at = |pointer: &str| {
        uses.iter()
            .find(|u| u.pointer == pointer)
            .unwrap()
            .image
            .clone()
    };
    assert_eq!(
        at("/spec/containers/0/image"),
        format!("{}@{}", p.good, p.digest)
    );
    assert_eq!(
        at("/spec/initContainers/0/image"),
        p.bad,
        "an exempt image is left as written"
    );
    // legacy: the exemption has expired: verified, denied, and said so.
    let r = server.review("/validate", &in_namespace("legacy")).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap()
            .contains("expired on 2020-01-01"),
        "{r}"
    );
    // strict: the rule requires FIPS, which the good image does not have.
    let r = server.review("/validate", &in_namespace("strict")).await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("under [[deploy.rules]] entry 1"),
        "{message}"
    );
    assert!(message.contains(&p.good), "{message}");
    // Elsewhere the good image passes [require] and the tampered one fails.
    let r = server.review("/validate", &in_namespace("default")).await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&p.bad) && !message.contains("deploy.rules"),
        "{message}"
    );
    // The provider has no namespace: namespace-scoped exemptions do not apply.
    let (status, text) = server
        .post(
            "/external-data",
            serde_json::json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": [p.bad]}}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("failed verification"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verification_that_outlives_its_admission_is_a_denial_and_then_warms_the_cache() {
    let good = image(&DhiImage::python(), None);
    // The first request for the platform manifest stalls 3 s: the admission
    // (1 s) gives up, the verification does not.
    let platform_manifest = good
        .fixture
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .map(|(_, d)| d.clone())
        .unwrap();
    let registry =
        TestRegistry::start(GOOD, Content::from_layout(&good.fixture.dir)).fault(Fault::new(
            &format!("/manifests/{platform_manifest}"),
            FaultKind::Stall(Duration::from_secs(3)),
            1,
        ));
    let server = Server::start(&good.key, &["--admission-deadline", "1"]);
    let request = body(
        "pod-create.json",
        &pairs(&all(&format!("{}/{GOOD}:3.13", registry.addr))),
    );
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(message.contains("in time: still verifying"), "{message}");
    // The verification finishes in the background and its verdict is kept.
    let mut passed = 0.0;
    for _ in 0..100 {
        passed = server
            .metric("dhi_verify_verifications_total{outcome=\"pass\"}")
            .await;
        if passed == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(passed, 1.0, "{}", server.log());
    let requests = registry.requests().len();
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(
        registry.requests().len(),
        requests,
        "answered from the cache (the tag too, within --tag-ttl)"
    );
    assert!(server.metric("dhi_verify_cache_hits_total").await >= 1.0);
}

/// What the fake Kubernetes API server saw: (path, Authorization header).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A fake Kubernetes API server over HTTPS (its CA at `<dir>/kube-ca.crt`)
/// answering `GET /api/v1/namespaces/team-a/{resource}/{name}` with
/// `objects` (`{resource}/{name}` → (HTTP status, body)), 404 otherwise.
/// Returns its URL.
async fn fake_kube_api(
    dir: &Path,
    objects: std::collections::BTreeMap<String, (u16, String)>,
    seen: Seen,
) -> String {
    use hyper_util::rt::TokioIo;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    certificate(dir, "kube");
    let chain = CertificateDer::pem_file_iter(dir.join("kube.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("kube.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let objects = Arc::new(objects);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, objects, seen) = (acceptor.clone(), objects.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                    let path = req.uri().path().to_owned();
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    seen.lock().unwrap().push((path.clone(), auth));
                    let name = path
                        .strip_prefix("/api/v1/namespaces/team-a/")
                        .unwrap_or_default();
                    let (status, body) = objects
                        .get(name)
                        .cloned()
                        .unwrap_or((404, r#"{"kind":"Status","code":404}"#.to_owned()));
                    let mut response = hyper::Response::new(http_body_util::Full::new(
                        hyper::body::Bytes::from(body),
                    ));
                    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    format!("https://{addr}")
}

/// A Pod in namespace `team-a` running `image`, naming `pull_secrets`.
fn pod_in_team_a(image: &str, pull_secrets: &[&str]) -> Value {
    let mut spec = serde_json::json!({"containers": [{"name": "app", "image": image}]});
    if !pull_secrets.is_empty() {
        spec["imagePullSecrets"] = pull_secrets
            .iter()
            .map(|n| serde_json::json!({ "name": n }))
            .collect();
    }
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("pull-{}", pull_secrets.join("-")),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "app",
            "namespace": "team-a",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app", "namespace": "team-a"},
                "spec": spec
            }
        }
    })
}

fn dockerconfigjson_secret(data: &str) -> String {
    use base64::Engine as _;
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(data)}
    })
    .to_string()
}

/// A registry that wants Basic auth holding the good image (`private`, by
/// tag), a fake Kubernetes API answering `objects` (given the Docker config
/// JSON with the registry's credentials), and a server that reads pull
/// secrets through it.
struct PrivateRegistry {
    _registry: DistributionRegistry,
    _kube: TempDir,
    private: String,
    seen: Seen,
    server: Server,
}

async fn private_registry(
    objects: impl FnOnce(&str) -> Vec<(&'static str, (u16, String))>,
) -> PrivateRegistry {
    use base64::Engine as _;
    let (user, pass) = ("puller", "s3cret-pull");
    let registry = DistributionRegistry::start(RegistryAuth::Basic {
        user: user.into(),
        pass: pass.into(),
    });
    let good = image(&DhiImage::python(), None);
    registry.push_layout(GOOD, &good.fixture.dir);
    let private = format!("{}/{GOOD}:3.13", registry.addr);
    let kube = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let config = serde_json::json!({"auths": {registry.addr.clone(): {"auth": auth}}}).to_string();
    let objects = objects(&config)
        .into_iter()
        .map(|(n, a)| (n.to_owned(), a))
        .collect();
    let seen: Seen = Arc::default();
    let api = fake_kube_api(kube.path(), objects, seen.clone()).await;
    let token = kube.path().join("token");
    std::fs::write(&token, "the-service-account-token\n").unwrap();
    let (token_arg, ca_arg) = (
        token.display().to_string(),
        kube.path().join("kube-ca.crt").display().to_string(),
    );
    let server = Server::start(
        &good.key,
        &[
            "--kube-api",
            &api,
            "--kube-token-file",
            &token_arg,
            "--kube-ca-file",
            &ca_arg,
        ],
    );
    // The trusted key's file goes once the server runs: the verifiers built
    // for pull secrets must use the trust loaded at start (the trust the
    // verdict cache key names), never the file again.
    let key = good.key.clone();
    drop(good);
    assert!(!key.exists());
    PrivateRegistry {
        _registry: registry,
        _kube: kube,
        private,
        seen,
        server,
    }
}

/// Asserts a denial naming `image` for the registry's 401.
fn denied_for_auth(response: &Value, image: &str) {
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.contains(image), "{message}");
    assert!(message.contains("401"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pods_image_pull_secrets_read_through_the_kubernetes_api_give_registry_credentials() {
    let fixture = private_registry(|config| {
        vec![
            ("secrets/regcred", (200, dockerconfigjson_secret(config))),
            (
                "secrets/forbidden",
                (
                    403,
                    r#"{"kind":"Status","code":403,"reason":"Forbidden"}"#.to_owned(),
                ),
            ),
            (
                "secrets/broken",
                (200, dockerconfigjson_secret("{\"auths\": [1,")),
            ),
            (
                "secrets/wrongtype",
                (
                    200,
                    r#"{"kind":"Secret","type":"Opaque","data":{}}"#.to_owned(),
                ),
            ),
        ]
    })
    .await;
    // The registry and the API server live as long as `fixture`.
    let (private, seen, server) = (&fixture.private, &fixture.seen, &fixture.server);
    assert!(
        server
            .log()
            .contains("imagePullSecrets are read through the Kubernetes API"),
        "{}",
        server.log()
    );
    let warning_naming = |response: &Value, name: &str, why: &str| {
        let warnings = response["warnings"].to_string();
        assert!(
            warnings.contains(&format!("imagePullSecret team-a/{name} not used")),
            "{warnings}"
        );
        assert!(warnings.contains(why), "{warnings}");
    };

    // (2) No pull secret: the mounted config has no credentials: 401.
    let response = server
        .review("/validate", &pod_in_team_a(private, &[]))
        .await;
    denied_for_auth(&response, private);
    assert!(response["warnings"].is_null(), "{response}");
    assert!(
        seen.lock().unwrap().is_empty(),
        "no secret named, none read"
    );

    // (3) RBAC refuses the read: a warning naming the secret, then the usual denial.
    let response = server
        .review("/validate", &pod_in_team_a(private, &["forbidden"]))
        .await;
    denied_for_auth(&response, private);
    warning_naming(&response, "forbidden", "found 403");

    // (4) Malformed or other-typed secrets and a missing one: warnings, denials, no crash.
    for (name, why) in [
        ("broken", "is not JSON"),
        ("wrongtype", "Opaque"),
        ("missing", "found 404"),
    ] {
        let response = server
            .review("/validate", &pod_in_team_a(private, &[name]))
            .await;
        denied_for_auth(&response, private);
        warning_naming(&response, name, why);
    }
    assert_eq!(server.get("/healthz").await.0, 200);

    // (1) The pod names the secret (after a refused one): allowed, verified
    // with the secret's credentials; the refused one is still a warning.
    let response = server
        .review(
            "/validate",
            &pod_in_team_a(private, &["forbidden", "regcred"]),
        )
        .await;
    assert_eq!(response["allowed"], true, "{response}\n{}", server.log());
    warning_naming(&response, "forbidden", "found 403");
    let response = server
        .review("/validate", &pod_in_team_a(private, &["regcred"]))
        .await;
    assert_eq!(response["allowed"], true, "{response}");
    assert!(response["warnings"].is_null(), "{response}");
    // The verdict is the digest's, not the credentials' (docs/admission.md,
    // "Verdicts are shared across credentials"): the same image without the
    // secret is now admitted from the cache (the tag too, within --tag-ttl).
    let response = server
        .review("/validate", &pod_in_team_a(private, &[]))
        .await;
    assert_eq!(response["allowed"], true, "{response}");

    // The API server was asked with the ServiceAccount's bearer token, for
    // the secrets named, in the request's namespace.
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for (path, auth) in &seen {
        assert!(
            path.starts_with("/api/v1/namespaces/team-a/secrets/"),
            "{path}"
        );
        assert_eq!(auth, "Bearer the-service-account-token", "{path}");
    }
    // Read once for both admissions naming it (kept READ_TTL, 30 s); the
    // refused and malformed ones are read again each time (errors are not
    // kept).
    let reads_of = |name: &str| seen.iter().filter(|(p, _)| p.ends_with(name)).count();
    assert_eq!(reads_of("/regcred"), 1, "{seen:?}");
    assert_eq!(reads_of("/forbidden"), 2, "{seen:?}");
}

/// A tag's digest is kept for `--tag-ttl`, then resolved again: a tag moved
/// to another image is verified anew (and here denied), while within the TTL
/// the admission pins the digest that was verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_tag_is_resolved_again_after_the_tag_ttl_and_its_new_image_verified() {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let good = image(&DhiImage::python(), None);
    registry.push_layout(GOOD, &good.fixture.dir);
    // Another image: another configuration, so other manifests (the first
    // image's attestations are not about them), signed by another key.
    let mut moved_to = DhiImage::python().tamper(Tamper::WrongKey);
    moved_to.user = "1000".into();
    let other = image(&moved_to, Some(&DhiImage::python()));
    assert_ne!(other.fixture.index_digest, good.fixture.index_digest);
    let ttl = Duration::from_secs(3);
    let server = Server::start(&good.key, &["--tag-ttl", "3"]);
    let tagged = format!("{}/{GOOD}:3.13", registry.addr);
    let request = body("pod-create.json", &pairs(&all(&tagged)));
    let resolved = std::time::Instant::now();
    let r = server.review("/mutate", &request).await;
    assert_eq!(r["allowed"], true, "{r}");
    let pinned = format!("{tagged}@{}", good.fixture.index_digest);
    let images = |object: &Value| -> Vec<String> {
        images_in_object(object)
            .unwrap()
            .uses
            .into_iter()
            .map(|u| u.image)
            .collect()
    };
    assert!(images(&patched(&request, &r)).iter().all(|i| *i == pinned));

    // The tag moves.
    registry.push_layout(GOOD, &other.fixture.dir);
    // Within the TTL (when the push was quick enough to tell): the digest
    // that was verified, pinned, so the pod runs what was verified.
    let r = server.review("/mutate", &request).await;
    if resolved.elapsed() < ttl - Duration::from_millis(500) {
        assert_eq!(r["allowed"], true, "{r}");
        assert!(images(&patched(&request, &r)).iter().all(|i| *i == pinned));
    }
    // After it: the new image, resolved, verified and denied.
    tokio::time::sleep(ttl.saturating_sub(resolved.elapsed()) + Duration::from_millis(200)).await;
    let r = server.review("/validate", &request).await;
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{tagged} ({}) failed verification",
            other.fixture.index_digest
        )),
        "{message}"
    );
}

/// A Deployment in namespace `team-a` running `image` as ServiceAccount
/// `account` (none: the default), naming no pull secrets.
fn deployment_in_team_a(image: &str, account: Option<&str>) -> Value {
    let mut spec = serde_json::json!({"containers": [{"name": "app", "image": image}]});
    if let Some(a) = account {
        spec["serviceAccountName"] = a.into();
    }
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("deployment-{}", account.unwrap_or("default")),
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": "app",
            "namespace": "team-a",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "app", "namespace": "team-a"},
                "spec": {
                    "selector": {"matchLabels": {"app": "app"}},
                    "template": {"metadata": {"labels": {"app": "app"}}, "spec": spec}
                }
            }
        }
    })
}

/// A pod template naming no pull secrets gets its ServiceAccount's, as its
/// Pods will from the ServiceAccount admission plugin; a Pod's ServiceAccount
/// is not read (the plugin has already run); an unreadable ServiceAccount is
/// a warning and the mounted config, never an allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_templates_service_account_pull_secrets_give_registry_credentials() {
    let fixture = private_registry(|config| {
        vec![
            ("secrets/regcred", (200, dockerconfigjson_secret(config))),
            (
                "serviceaccounts/builder",
                (
                    200,
                    r#"{"kind":"ServiceAccount","metadata":{"name":"builder"},"imagePullSecrets":[{"name":"regcred"}]}"#.to_owned(),
                ),
            ),
            (
                "serviceaccounts/default",
                (200, r#"{"kind":"ServiceAccount","metadata":{"name":"default"}}"#.to_owned()),
            ),
            (
                "serviceaccounts/locked",
                (403, r#"{"kind":"Status","code":403,"reason":"Forbidden"}"#.to_owned()),
            ),
        ]
    })
    .await;
    // The registry and the API server live as long as `fixture`.
    let (private, seen, server) = (&fixture.private, &fixture.seen, &fixture.server);
    let read = |seen: &Seen| -> Vec<String> {
        seen.lock()
            .unwrap()
            .drain(..)
            .map(|(path, _)| path)
            .collect()
    };

    // A Pod naming no secrets: its ServiceAccount is not read.
    let mut pod = pod_in_team_a(private, &[]);
    pod["request"]["object"]["spec"]["serviceAccountName"] = "builder".into();
    denied_for_auth(&server.review("/validate", &pod).await, private);
    assert!(read(seen).is_empty());

    // The default ServiceAccount, without pull secrets: the mounted config.
    let response = server
        .review("/validate", &deployment_in_team_a(private, None))
        .await;
    denied_for_auth(&response, private);
    assert!(response["warnings"].is_null(), "{response}");
    assert_eq!(
        read(seen),
        ["/api/v1/namespaces/team-a/serviceaccounts/default"]
    );

    // A ServiceAccount that may not be read: a warning naming it, a denial.
    let response = server
        .review("/validate", &deployment_in_team_a(private, Some("locked")))
        .await;
    denied_for_auth(&response, private);
    let warnings = response["warnings"].to_string();
    assert!(
        warnings.contains("imagePullSecrets of ServiceAccount team-a/locked not used")
            && warnings.contains("found 403"),
        "{warnings}"
    );
    read(seen);

    // The builder ServiceAccount names the pull secret: allowed.
    let response = server
        .review("/validate", &deployment_in_team_a(private, Some("builder")))
        .await;
    assert_eq!(response["allowed"], true, "{response}\n{}", server.log());
    assert!(response["warnings"].is_null(), "{response}");
    assert_eq!(
        read(seen),
        [
            "/api/v1/namespaces/team-a/serviceaccounts/builder",
            "/api/v1/namespaces/team-a/secrets/regcred"
        ]
    );
    // Operators see the unusable reads too (the warnings go to the user).
    let reads = |result: &str| format!("dhi_verify_pull_secret_reads_total{{result=\"{result}\"}}");
    assert_eq!(server.metric(&reads("used")).await, 3.0);
    assert_eq!(server.metric(&reads("not_used")).await, 1.0);
}
