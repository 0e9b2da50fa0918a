//! Predicate parsing throughput and memory against the floor of reading the JSON at all.
//!
//! Generates a 50 000-component CycloneDX 1.6 and a 50 000-package SPDX 2.3
//! document (shaped like syft/Trivy output: purl, licenses, hashes, supplier,
//! properties, a dependency/relationship per package, listed in package order
//! and, in a second pair of rows, scattered), wraps each in an in-toto
//! Statement, and reports the time of `parse_statement_predicate` as a ratio to
//! `serde_json::from_slice::<serde::de::IgnoredAny>` on the same bytes. Peak
//! memory is measured in a child process from Linux `/proc/self/status`
//! (`VmHWM` after resetting it through `/proc/self/clear_refs`).
//!
//! Run: `cargo bench -p dhi-verify --bench predicates` (results in docs/performance.md);
//! `-- --profile cyclonedx` (or `spdx`, `cyclonedx-scattered`, `spdx-scattered`)
//! runs only our parser, for a profiler.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark, not library code
#![allow(missing_docs)]

use std::fmt::Write as _;
use std::time::Instant;

use dhi_verify::predicate::{parse_statement_predicate, Predicate, PredicateLimits};

const N: usize = 50_000;
const RUNS: usize = 25;
const CDX: &str = "https://cyclonedx.org/bom/v1.6";
const SPDX: &str = "https://spdx.dev/Document";

/// The order in which the dependencies / relationships name the packages:
/// as listed (what the bench reports first), or scattered (each reference
/// far from the previous one, as when a tool sorts them differently).
#[derive(Clone, Copy)]
enum Order {
    Listed,
    Scattered,
}

impl Order {
    fn of(self, n: usize) -> impl Iterator<Item = usize> {
        // 7919 is prime and does not divide N, so this visits every package once
        (0..n).map(move |i| match self {
            Order::Listed => i,
            Order::Scattered => (i * 7919) % n,
        })
    }
}

fn wrap(predicate_type: &str, predicate: &str) -> Vec<u8> {
    format!(
        r#"{{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"{predicate_type}","subject":[{{"name":"pkg:docker/dhi/python@3.13?platform=linux%2Famd64","digest":{{"sha256":"58a392f5dec3be5cb20a2495baca84ac785f237a2d2904c5b9cad7ba11f3e475"}}}}],"predicate":{predicate}}}"#
    )
    .into_bytes()
}

fn cyclonedx(n: usize, order: Order) -> Vec<u8> {
    let mut s = String::with_capacity(n * 700);
    s.push_str(r#"{"$schema":"http://cyclonedx.org/schema/bom-1.6.schema.json","bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"metadata":{"timestamp":"2025-09-01T00:00:00Z","tools":{"components":[{"type":"application","author":"anchore","name":"syft","version":"1.31.0"}]},"component":{"bom-ref":"root","type":"container","name":"dhi/python","version":"3.13.15-debian13","purl":"pkg:docker/dhi/python@3.13.15-debian13?platform=linux%2Famd64"}},"components":["#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        let lic = if i % 3 == 0 {
            r#"{"expression":"GPL-2.0-only OR MIT"}"#.to_owned()
        } else {
            r#"{"license":{"id":"MIT"}},{"license":{"name":"Custom License"}}"#.to_owned()
        };
        write!(
            s,
            r#"{{"bom-ref":"pkg:deb/debian/lib{i}@1.{i}.0-1?arch=amd64&distro=debian-13","type":"library","supplier":{{"name":"Debian Maintainers <maint{i}@debian.org>"}},"name":"lib{i}","version":"1.{i}.0-1","description":"library number {i}","licenses":[{lic}],"hashes":[{{"alg":"SHA-256","content":"{i:064x}"}}],"cpe":"cpe:2.3:a:lib{i}:lib{i}:1.{i}.0-1:*:*:*:*:*:*:*","purl":"pkg:deb/debian/lib{i}@1.{i}.0-1?arch=amd64&distro=debian-13","properties":[{{"name":"syft:package:foundBy","value":"dpkg-db-cataloger"}},{{"name":"syft:package:type","value":"deb"}},{{"name":"syft:location:0:path","value":"/var/lib/dpkg/status.d/lib{i}"}}]}}"#
        )
        .unwrap();
    }
    s.push_str(r#"],"dependencies":[{"ref":"root","dependsOn":["#);
    for (k, i) in order.of(n).enumerate() {
        if k > 0 {
            s.push(',');
        }
        write!(
            s,
            r#""pkg:deb/debian/lib{i}@1.{i}.0-1?arch=amd64&distro=debian-13""#
        )
        .unwrap();
    }
    s.push_str("]}]}");
    wrap(CDX, &s)
}

fn spdx(n: usize, order: Order) -> Vec<u8> {
    let mut s = String::with_capacity(n * 900);
    s.push_str(r#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"dhi/python","documentNamespace":"https://anchore.com/syft/image/dhi-python","creationInfo":{"created":"2025-09-01T00:00:00Z","creators":["Organization: Anchore, Inc","Tool: syft-1.31.0"]},"packages":[{"name":"dhi/python","SPDXID":"SPDXRef-DocumentRoot-Image","versionInfo":"3.13.15-debian13","downloadLocation":"NOASSERTION","primaryPackagePurpose":"CONTAINER"}"#);
    for i in 0..n {
        write!(
            s,
            r#",{{"name":"lib{i}","SPDXID":"SPDXRef-Package-deb-lib{i}-{i:016x}","versionInfo":"1.{i}.0-1","supplier":"Organization: Debian Maintainers <maint{i}@debian.org>","originator":"NOASSERTION","downloadLocation":"NOASSERTION","filesAnalyzed":false,"checksums":[{{"algorithm":"SHA256","checksumValue":"{i:064x}"}}],"sourceInfo":"acquired package info from DPKG DB: /var/lib/dpkg/status.d/lib{i}","licenseConcluded":"NOASSERTION","licenseDeclared":"GPL-2.0-only OR MIT","copyrightText":"NOASSERTION","externalRefs":[{{"referenceCategory":"SECURITY","referenceType":"cpe23Type","referenceLocator":"cpe:2.3:a:lib{i}:lib{i}:1.{i}.0-1:*:*:*:*:*:*:*"}},{{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:deb/debian/lib{i}@1.{i}.0-1?arch=amd64&distro=debian-13"}}]}}"#
        )
        .unwrap();
    }
    s.push_str(r#"],"relationships":[{"spdxElementId":"SPDXRef-DOCUMENT","relatedSpdxElement":"SPDXRef-DocumentRoot-Image","relationshipType":"DESCRIBES"}"#);
    for i in order.of(n) {
        write!(
            s,
            r#",{{"spdxElementId":"SPDXRef-DocumentRoot-Image","relatedSpdxElement":"SPDXRef-Package-deb-lib{i}-{i:016x}","relationshipType":"CONTAINS"}}"#
        )
        .unwrap();
    }
    s.push_str("]}");
    wrap(SPDX, &s)
}

/// Times one call of `f`; the value it returns is dropped after the clock stops.
fn time<T>(f: impl FnOnce() -> T) -> f64 {
    let t = Instant::now();
    let value = f();
    let elapsed = t.elapsed();
    drop(value);
    elapsed.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn parse(predicate_type: &str, bytes: &[u8]) -> usize {
    match parse_statement_predicate(predicate_type, bytes, &PredicateLimits::default()) {
        Ok(Predicate::Sbom(s)) => s.packages.len(),
        other => panic!("unexpected: {other:?}"),
    }
}

/// A reference point between the floor and our parser: the same fields read
/// into a borrowed serde model (`&str`, no copies, no normalisation, no
/// relationship graph), i.e. the cost of typed reading with UTF-8 validation.
#[allow(dead_code)] // fields exist to be deserialised, not read
mod reference {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Statement<'a> {
        #[serde(borrow)]
        pub predicate: Doc<'a>,
    }

    #[derive(Deserialize)]
    pub struct Doc<'a> {
        #[serde(borrow, default)]
        pub components: Vec<Component<'a>>,
        #[serde(borrow, default)]
        pub dependencies: Vec<Dependency<'a>>,
        #[serde(borrow, default)]
        pub packages: Vec<Package<'a>>,
        #[serde(borrow, default)]
        pub relationships: Vec<Relationship<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Component<'a> {
        #[serde(rename = "bom-ref")]
        pub bom_ref: Option<&'a str>,
        #[serde(rename = "type")]
        pub kind: Option<&'a str>,
        pub name: Option<&'a str>,
        pub version: Option<&'a str>,
        pub purl: Option<&'a str>,
        #[serde(borrow)]
        pub supplier: Option<Named<'a>>,
        #[serde(borrow, default)]
        pub licenses: Vec<LicenseChoice<'a>>,
        #[serde(borrow, default)]
        pub hashes: Vec<CdxHash<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Named<'a> {
        pub name: Option<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct LicenseChoice<'a> {
        #[serde(borrow)]
        pub license: Option<License<'a>>,
        pub expression: Option<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct License<'a> {
        pub id: Option<&'a str>,
        pub name: Option<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct CdxHash<'a> {
        pub alg: Option<&'a str>,
        pub content: Option<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct Dependency<'a> {
        #[serde(rename = "ref")]
        pub reference: Option<&'a str>,
        #[serde(rename = "dependsOn", borrow, default)]
        pub depends_on: Vec<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct Package<'a> {
        #[serde(rename = "SPDXID")]
        pub id: Option<&'a str>,
        pub name: Option<&'a str>,
        #[serde(rename = "versionInfo")]
        pub version: Option<&'a str>,
        pub supplier: Option<&'a str>,
        pub originator: Option<&'a str>,
        #[serde(rename = "licenseDeclared")]
        pub declared: Option<&'a str>,
        #[serde(rename = "licenseConcluded")]
        pub concluded: Option<&'a str>,
        #[serde(borrow, default)]
        pub checksums: Vec<Checksum<'a>>,
        #[serde(rename = "externalRefs", borrow, default)]
        pub refs: Vec<ExternalRef<'a>>,
    }

    #[derive(Deserialize)]
    pub struct Checksum<'a> {
        pub algorithm: Option<&'a str>,
        #[serde(rename = "checksumValue")]
        pub value: Option<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct ExternalRef<'a> {
        #[serde(rename = "referenceType")]
        pub kind: Option<&'a str>,
        #[serde(rename = "referenceLocator")]
        pub locator: Option<&'a str>,
    }

    #[derive(Deserialize)]
    pub struct Relationship<'a> {
        #[serde(rename = "spdxElementId")]
        pub a: Option<&'a str>,
        #[serde(rename = "relationshipType")]
        pub kind: Option<&'a str>,
        #[serde(rename = "relatedSpdxElement")]
        pub b: Option<&'a str>,
    }
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Child process: read the statement, reset the peak, parse, print "baseline peak" in KiB.
fn measure_memory(path: &str, predicate_type: &str) {
    let bytes = std::fs::read(path).unwrap();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let baseline = status_kib("VmRSS:").unwrap_or(0);
    let n = parse(predicate_type, &bytes);
    std::hint::black_box(n);
    let peak = status_kib("VmHWM:").unwrap_or(0);
    println!("{baseline} {peak} {reset}");
}

fn memory_in_child(name: &str, predicate_type: &str, bytes: &[u8]) -> Option<(f64, f64)> {
    let path = std::env::temp_dir().join(format!(
        "dhi-verify-bench-{name}-{}.json",
        std::process::id()
    ));
    std::fs::write(&path, bytes).ok()?;
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .args(["--mem", path.to_str()?, predicate_type])
        .output()
        .ok();
    let _ = std::fs::remove_file(&path);
    let out = String::from_utf8(out?.stdout).ok()?;
    let mut it = out.split_whitespace();
    let baseline: f64 = it.next()?.parse().ok()?;
    let peak: f64 = it.next()?.parse().ok()?;
    if it.next()? != "true" {
        return None;
    }
    let doc_kib = bytes.len() as f64 / 1024.0;
    Some((peak / doc_kib, (peak - baseline) / doc_kib))
}

/// `--profile cyclonedx|spdx`: only our parser, 100 times, for `perf record`
/// (build with `CARGO_PROFILE_BENCH_DEBUG=1 CARGO_PROFILE_BENCH_STRIP=false`).
fn profile(which: Option<&str>) {
    let (predicate_type, bytes) = match which {
        Some("spdx") => (SPDX, spdx(N, Order::Listed)),
        Some("spdx-scattered") => (SPDX, spdx(N, Order::Scattered)),
        Some("cyclonedx-scattered") => (CDX, cyclonedx(N, Order::Scattered)),
        _ => (CDX, cyclonedx(N, Order::Listed)),
    };
    for _ in 0..100 {
        std::hint::black_box(parse(predicate_type, &bytes));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--mem") {
        measure_memory(&args[i + 1], &args[i + 2]);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        profile(args.get(i + 1).map(String::as_str));
        return;
    }
    println!("predicate parsing, {N} packages, {RUNS} interleaved runs");
    println!("| document | size | IgnoredAny floor (best) | borrowed typed read (best) | dhi-verify parse + normalise (best) | ratio to floor, best/best | ratio to floor, median of runs | ratio to borrowed read, median | peak RSS / size | parse growth / size |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, predicate_type, bytes) in [
        ("CycloneDX 1.6", CDX, cyclonedx(N, Order::Listed)),
        ("SPDX 2.3", SPDX, spdx(N, Order::Listed)),
        (
            "CycloneDX 1.6, references scattered",
            CDX,
            cyclonedx(N, Order::Scattered),
        ),
        (
            "SPDX 2.3, references scattered",
            SPDX,
            spdx(N, Order::Scattered),
        ),
    ] {
        assert_eq!(parse(predicate_type, &bytes), N + 1);
        // Interleaved (floor, reference, ours) so load from other processes
        // hits all three alike; ratios are per run, then the median. The first
        // round warms up and is discarded. Our result is dropped outside the
        // timed region: freeing 50 000 packages is not part of reading them.
        let (mut floor, mut borrowed, mut ours) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..=RUNS {
            let f = time(|| serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).unwrap());
            let b = time(|| serde_json::from_slice::<reference::Statement<'_>>(&bytes).unwrap());
            let o = time(|| {
                parse_statement_predicate(predicate_type, &bytes, &PredicateLimits::default())
                    .unwrap()
            });
            if run > 0 {
                floor.push(f);
                borrowed.push(b);
                ours.push(o);
            }
        }
        let ratio_floor = median(ours.iter().zip(&floor).map(|(o, f)| o / f).collect());
        let ratio_borrowed = median(ours.iter().zip(&borrowed).map(|(o, b)| o / b).collect());
        let memory = memory_in_child(&name.replace(' ', "-"), predicate_type, &bytes)
            .map_or(("n/a".to_owned(), "n/a".to_owned()), |(p, g)| {
                (format!("{p:.2}×"), format!("{g:.2}×"))
            });
        println!(
            "| {name} | {:.1} MB | {:.1} ms | {:.1} ms | {:.1} ms | {:.2}× | {:.2}× | {:.2}× | {} | {} |",
            bytes.len() as f64 / 1e6,
            best(&floor) * 1e3,
            best(&borrowed) * 1e3,
            best(&ours) * 1e3,
            best(&ours) / best(&floor),
            ratio_floor,
            ratio_borrowed,
            memory.0,
            memory.1,
        );
    }
}
