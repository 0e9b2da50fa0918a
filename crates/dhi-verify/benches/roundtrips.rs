//! Registry round trips: requests made, sequential round-trip depth, and wall
//! time against depth × RTT, through a counting TCP proxy that delays every
//! chunk by 25 ms in each direction (RTT 50 ms).
//!
//! Registries: Debian's `docker-registry` (distribution 2.8.2: no referrers
//! API, so the `sha256-<hex>` tag schema) and the testkit's in-process
//! registry with the referrers API. The image is DHI-shaped: one platform,
//! five attestations, each with one simple-signing signature.
//!
//! Depth is measured, not assumed: the longest chain of requests in which each
//! was sent after the answer to the previous one had reached the verifier.
//! Latency is injected on data only: connecting to the proxy is local, so
//! TCP and TLS handshakes (1–2 more round trips per new connection on a real
//! network) are not in these numbers.
//!
//! Run: `cargo bench -p dhi-verify --bench roundtrips` (results in docs/performance.md).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark, not library code
#![allow(missing_docs)]

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dhi_verify::source::registry::{DockerConfig, RegistryOptions};
use dhi_verify::{Outcome, Platform, Policy, TrustRoot, TrustedKey, Verifier};
use dhi_verify_testkit::registry::{Content, DistributionRegistry, RegistryAuth, TestRegistry};
use dhi_verify_testkit::DhiImage;

const ONE_WAY: Duration = Duration::from_millis(25);
const RTT: Duration = Duration::from_millis(50);
const RUNS: usize = 5;
const BATCH: usize = 20;

#[derive(Clone, Debug)]
struct Request {
    start: Instant,
    end: Option<Instant>,
    line: String,
}

type Log = Arc<Mutex<Vec<Request>>>;

/// A TCP proxy to `upstream` that delays each chunk by `ONE_WAY` each way
/// (without serialising chunks behind each other's delay) and logs HTTP
/// requests: when the request arrived, and when the first byte of its answer
/// was delivered back.
struct Proxy {
    addr: String,
    log: Log,
}

impl Proxy {
    fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log: Log = Arc::default();
        let (upstream, l) = (upstream.to_owned(), log.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let pending: Arc<Mutex<Option<usize>>> = Arc::default();
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    Some((l.clone(), pending.clone())),
                    None,
                );
                pump(server, client, None, Some((l.clone(), pending)));
            }
        });
        Proxy { addr, log }
    }

    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

type Marks = Option<(Log, Arc<Mutex<Option<usize>>>)>;

/// Copies `from` to `to` with the one-way delay. `requests`: log request
/// starts read here; `answers`: mark answers delivered here.
fn pump(mut from: TcpStream, mut to: TcpStream, requests: Marks, answers: Marks) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            if let Some((log, pending)) = &requests {
                let chunk = &buf[..n];
                if [&b"GET "[..], b"HEAD ", b"PUT ", b"POST ", b"PATCH "]
                    .iter()
                    .any(|m| chunk.starts_with(m))
                {
                    let line = String::from_utf8_lossy(chunk)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    let mut log = log.lock().unwrap();
                    log.push(Request {
                        start: now,
                        end: None,
                        line,
                    });
                    *pending.lock().unwrap() = Some(log.len() - 1);
                }
            }
            if tx.send((now + ONE_WAY, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((due, bytes)) = rx.recv() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
            if let Some((log, pending)) = &answers {
                if let Some(i) = pending.lock().unwrap().take() {
                    // The log may have been taken (and restarted) since.
                    let mut log = log.lock().unwrap();
                    if let Some(r) = log.get_mut(i).filter(|r| r.end.is_none()) {
                        r.end = Some(Instant::now());
                    }
                }
            }
        }
        // One side is gone: close the connection both ways (every clone),
        // so neither end waits on a half-dead connection.
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// The longest chain of requests each sent after the previous one's answer arrived.
fn depth(requests: &[Request]) -> usize {
    let mut r: Vec<&Request> = requests.iter().collect();
    r.sort_by_key(|q| q.start);
    let mut best = vec![1usize; r.len()];
    for i in 0..r.len() {
        for j in 0..i {
            let end_j = r[j].end.unwrap_or(r[j].start);
            if end_j <= r[i].start {
                best[i] = best[i].max(best[j] + 1);
            }
        }
    }
    best.into_iter().max().unwrap_or(0)
}

fn options(cache: &Path, jobs: usize) -> RegistryOptions {
    RegistryOptions::default()
        .with_docker_config(DockerConfig::None)
        .with_cache_dir(cache)
        .with_max_concurrent_fetches(jobs)
}

fn verifier(image: &DhiImage, options: RegistryOptions) -> Verifier {
    let key = TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap();
    Verifier::builder()
        .trust(TrustRoot::from_keys([key]))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .registry_options(options)
        .build()
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Verifies `references`, `at_once` at a time (in order, as the CLI does),
/// each must pass; returns the wall time.
fn verify(v: &Verifier, references: &[String], at_once: usize) -> Duration {
    use futures_util::StreamExt as _;
    let rt = runtime();
    let start = Instant::now();
    let verdicts: Vec<_> = rt.block_on(
        futures_util::stream::iter(references.iter().map(|r| v.verify(r)))
            .buffered(at_once.max(1))
            .collect(),
    );
    let wall = start.elapsed();
    for (r, v) in references.iter().zip(verdicts) {
        let v = v.unwrap_or_else(|e| panic!("{r}: {e}"));
        assert_eq!(v.outcome, Outcome::Pass, "{r}: {v:#?}");
        assert_eq!(v.platforms[0].attestations.len(), 5, "{r}");
    }
    wall
}

struct Row {
    scenario: String,
    requests: usize,
    depth: usize,
    wall: Duration,
}

impl Row {
    fn print(&self) {
        let ideal = RTT * self.depth as u32;
        println!(
            "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.2} |",
            self.scenario,
            self.requests,
            self.depth,
            self.wall.as_secs_f64() * 1e3,
            ideal.as_secs_f64() * 1e3,
            self.wall.as_secs_f64() / ideal.as_secs_f64().max(1e-9),
        );
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Cold (empty cache, by tag), cold with one request at a time, and warm
/// (digest-pinned, cached) verifications of `image` at `repo` through `proxy`.
fn single(name: &str, proxy: &Proxy, repo: &str, image: &DhiImage, log_first: bool) -> Vec<Row> {
    let by_tag = vec![format!("{}/{repo}:3.13", proxy.addr)];
    let mut rows = Vec::new();
    for (label, jobs) in [("cold", 16), ("cold, --jobs 8", 8), ("cold, --jobs 1", 1)] {
        let mut walls = Vec::new();
        let mut last = Vec::new();
        for _ in 0..RUNS {
            let cache = tempfile::tempdir().unwrap();
            proxy.take();
            walls.push(verify(
                &verifier(image, options(cache.path(), jobs)),
                &by_tag,
                1,
            ));
            last = proxy.take();
        }
        if log_first && jobs == 16 {
            eprintln!("{name}, cold: request log (ms from the first request: sent → answered)");
            let t0 = last.iter().map(|r| r.start).min().unwrap();
            let mut sorted = last.clone();
            sorted.sort_by_key(|r| r.start);
            for r in &sorted {
                eprintln!(
                    "  {:>5.0} → {:>5.0}  {}",
                    (r.start - t0).as_secs_f64() * 1e3,
                    (r.end.unwrap_or(r.start) - t0).as_secs_f64() * 1e3,
                    r.line
                );
            }
        }
        rows.push(Row {
            scenario: format!("{name}: {label}"),
            requests: last.len(),
            depth: depth(&last),
            wall: median(walls),
        });
    }
    // Warm: digest-pinned, from a cache filled by one cold run, a new
    // verifier each time (a new process, as the CLI would be).
    let cache = tempfile::tempdir().unwrap();
    let v = verifier(image, options(cache.path(), 16));
    let rt = runtime();
    let digest = rt
        .block_on(v.verify(&by_tag[0]))
        .unwrap()
        .digest()
        .to_string();
    let pinned = vec![format!("{}/{repo}@{digest}", proxy.addr)];
    let mut walls = Vec::new();
    let mut last = Vec::new();
    for _ in 0..RUNS {
        proxy.take();
        walls.push(verify(
            &verifier(image, options(cache.path(), 16)),
            &pinned,
            1,
        ));
        last = proxy.take();
    }
    if log_first {
        eprintln!(
            "{name}, warm: {:#?}",
            last.iter().map(|r| &r.line).collect::<Vec<_>>()
        );
    }
    rows.push(Row {
        scenario: format!("{name}: warm (digest-pinned, cached)"),
        requests: last.len(),
        depth: depth(&last),
        wall: median(walls),
    });
    rows
}

fn one_platform(name: &str) -> DhiImage {
    let mut image = DhiImage::python();
    image.name = name.to_owned();
    image.platforms = vec!["linux/amd64".into()];
    image
}

fn main() {
    let work = tempfile::tempdir().unwrap();
    println!("| scenario | requests | depth | wall (median of {RUNS}) | depth × RTT | wall ÷ (depth × RTT) |");
    println!("|---|---|---|---|---|---|");

    // Debian's docker-registry: the tag schema.
    let image = one_platform("python");
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let fixture = image.write_layout(&work.path().join("python"));
    registry.push_layout("dhi/python", &fixture.dir);
    let proxy = Proxy::start(&registry.addr);
    for row in single("docker-registry 2.8.2", &proxy, "dhi/python", &image, true) {
        row.print();
    }

    // The in-process registry with the referrers API.
    let mut api_image = one_platform("python");
    api_image.fallback_tags = false;
    let api_fixture = api_image.write_layout(&work.path().join("api"));
    let api = TestRegistry::start("dhi/python", Content::from_layout(&api_fixture.dir));
    let api_proxy = Proxy::start(&api.addr);
    for row in single("referrers API", &api_proxy, "dhi/python", &api_image, true) {
        row.print();
    }

    // A batch of 20 distinct images in docker-registry, one verifier, cold cache.
    let mut references = Vec::new();
    for i in 0..BATCH {
        let mut img = one_platform(&format!("app{i}"));
        img.key = image.key.clone();
        let f = img.write_layout(&work.path().join(format!("app{i}")));
        registry.push_layout(&format!("dhi/app{i}"), &f.dir);
        references.push(format!("{}/dhi/app{i}:3.13", proxy.addr));
    }
    eprintln!("batch: {BATCH} images pushed");
    for (label, at_once) in [
        ("one after another", 1),
        ("four at once (as the CLI)", 4),
        ("all at once", BATCH),
    ] {
        let cache = tempfile::tempdir().unwrap();
        proxy.take();
        let wall = verify(
            &verifier(&image, options(cache.path(), 16)),
            &references,
            at_once,
        );
        let log = proxy.take();
        Row {
            scenario: format!("docker-registry 2.8.2: batch of {BATCH}, {label}"),
            requests: log.len(),
            depth: depth(&log),
            wall,
        }
        .print();
    }
}
