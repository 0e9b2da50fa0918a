//! `dhi-verify serve` under load, on loopback: warm admission latency
//! (p50/p99) and sustained admissions per second, cold admission latency
//! against depth × RTT with an injected round-trip time, and the memory a
//! cached verdict costs. Prints Markdown for docs/performance.md.
//!
//! `cargo bench -p dhi-verify-cli --bench serve` (needs `openssl` and
//! Debian's `docker-registry`, as `scripts/test` installs). Bounded: a few
//! thousand requests, under a minute. Client and server share the machine's
//! cores, so the latencies include the client's own work.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark over our own fixtures
#![allow(missing_docs)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dhi_verify_testkit::registry::{Content, DistributionRegistry, RegistryAuth, TestRegistry};
use dhi_verify_testkit::DhiImage;
use serde_json::{json, Value};

/// Injected one-way delay for the cold runs (RTT 50 ms).
const ONE_WAY: Duration = Duration::from_millis(25);
const REPO: &str = "dhi/python";

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate it issued for 127.0.0.1; returns the CA.
fn certificate(dir: &Path) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=bench CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ];
    a.extend(ec);
    openssl(&a, dir);
    let mut a = vec![
        "req",
        "-new",
        "-subj",
        "/CN=dhi-verify",
        "-keyout",
        "tls.key",
        "-out",
        "tls.csr",
    ];
    a.extend(ec);
    openssl(&a, dir);
    std::fs::write(
        dir.join("ext"),
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext",
            "-out",
            "tls.crt",
        ],
        dir,
    );
    dir.join("ca.crt")
}

struct Server {
    child: Child,
    url: String,
    client: reqwest::Client,
}

impl Server {
    fn start(dir: &Path, key: &Path, extra: &[&str]) -> Server {
        let ca = certificate(dir);
        let mut child = Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(dir.join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.join("tls.key"))
            .args(["--platform", "linux/amd64", "--key"])
            .arg(key)
            .args(extra)
            .env("DOCKER_CONFIG", dir)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().unwrap().unwrap();
            if let Some(a) = line.strip_prefix("dhi-verify: serve: listening on https://") {
                break a.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let pem = std::fs::read(ca).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .build()
            .unwrap();
        Server {
            child,
            url: format!("https://{addr}"),
            client,
        }
    }

    async fn admit(&self, body: &str) -> Duration {
        let started = Instant::now();
        let r = self
            .client
            .post(format!("{}/validate", self.url))
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        let took = started.elapsed();
        assert_eq!(v["response"]["allowed"], true, "{v}");
        took
    }

    /// Resident set size of the server, KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pod(images: &[String]) -> String {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p", "namespace": "bench", "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "bench"},
                       "spec": {"containers": containers}}
        }
    })
    .to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A TCP proxy that delays every chunk by `ONE_WAY` each way (without
/// queueing chunks behind each other's delay).
fn delaying_proxy(upstream: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            pump(client.try_clone().unwrap(), server.try_clone().unwrap());
            pump(server, client);
        }
    });
    addr
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0
                || tx
                    .send((Instant::now() + ONE_WAY, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((due, bytes)) = rx.recv() {
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python().without_fallback_tags();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let content = Content::from_layout(&fixture.dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    // --- Warm: one server, images verified once, then answered from the cache.
    let registry = TestRegistry::start(REPO, content.clone());
    let warm_dir = tempfile::tempdir().unwrap();
    let server = Server::start(warm_dir.path(), &key, &[]);
    let one = pod(&[format!("{}/{REPO}:3.13", registry.addr)]);
    let three = pod(&[
        format!("{}/{REPO}:3.13", registry.addr),
        format!("{}/{REPO}@{}", registry.addr, fixture.index_digest),
        format!("{}/{REPO}:3.13", registry.addr),
    ]);
    println!("Warm admissions (every image already verified; tags resolved within --tag-ttl):\n");
    println!("| admission | requests | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    for (name, body) in [
        ("Pod, 1 image by tag", &one),
        ("Pod, 3 images (tag, digest, tag again)", &three),
    ] {
        rt.block_on(server.admit(body));
        let n = 2000;
        let mut lat: Vec<Duration> = (0..n).map(|_| rt.block_on(server.admit(body))).collect();
        lat.sort();
        println!(
            "| {name} | {n} sequential | {} | {} | {} |",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(*lat.last().unwrap())
        );
    }
    // Sustained: 8 clients at once for 5 seconds.
    let clients = 8;
    let window = Duration::from_secs(5);
    let (count, mut lat) = rt.block_on(async {
        let server = &server;
        let one = &one;
        let until = Instant::now() + window;
        let tasks = (0..clients).map(|_| async move {
            let mut l = Vec::new();
            while Instant::now() < until {
                l.push(server.admit(one).await);
            }
            l
        });
        let all: Vec<Duration> = futures_util::future::join_all(tasks)
            .await
            .into_iter()
            .flatten()
            .collect();
        (all.len(), all)
    });
    lat.sort();
    println!(
        "| Pod, 1 image, {clients} clients at once for {} s | {count} ({:.0}/s) | {} | {} | {} |",
        window.as_secs(),
        count as f64 / window.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap())
    );

    // --- Memory per cached verdict: N repositories of one registry, each a
    // distinct (repository@digest) key.
    let n = 200;
    let dist = DistributionRegistry::start(RegistryAuth::None);
    for i in 0..n {
        dist.push(&format!("bench/r{i}"), &content);
    }
    let mem_dir = tempfile::tempdir().unwrap();
    let mem = Server::start(mem_dir.path(), &key, &[]);
    let warmup = pod(&[format!("{}/{REPO}:3.13", registry.addr)]);
    rt.block_on(mem.admit(&warmup));
    let before = mem.rss_kib();
    for i in 0..n {
        rt.block_on(mem.admit(&pod(&[format!("{}/bench/r{i}:3.13", dist.addr)])));
    }
    let after = mem.rss_kib();
    println!(
        "\nMemory: {n} more cached verdicts (each with its tag entry) grew the server's RSS by {} KiB: {:.1} KiB per verdict (allocator slack included).",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / f64::from(n)
    );
    drop(mem);

    // --- Cold: each admission names an image this server has not seen,
    // behind a proxy adding RTT 50 ms; the disk cache is empty.
    println!("\nCold admissions (an image never seen; in-process registry with the referrers API behind a proxy adding {} ms RTT):\n", (ONE_WAY * 2).as_millis());
    println!("| admission | runs | median | median ÷ RTT |");
    println!("|---|---|---|---|");
    let runs = 5;
    let mut cold = Vec::new();
    for _ in 0..runs {
        let registry = TestRegistry::start(REPO, content.clone());
        let proxy = delaying_proxy(registry.addr.clone());
        let d = tempfile::tempdir().unwrap();
        let s = Server::start(d.path(), &key, &[]);
        let took = rt.block_on(s.admit(&pod(&[format!("{proxy}/{REPO}:3.13")])));
        cold.push((took, registry.requests().len()));
    }
    cold.sort();
    let (median, requests) = cold[runs / 2];
    println!(
        "| Pod, 1 new image by tag ({requests} registry requests) | {runs} | {} | {:.1} |",
        ms(median),
        median.as_secs_f64() / (ONE_WAY * 2).as_secs_f64()
    );
}
