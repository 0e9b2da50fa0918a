//! Whole-process cost of `dhi-verify image` on OCI layouts: wall time and
//! peak RSS (from `/usr/bin/time`), for the demo and for a layout whose SBOM
//! statement is about 20 MB. Prints a Markdown table for docs/performance.md.
//!
//! `cargo bench -p dhi-verify-cli --bench image` (needs `/usr/bin/time`: Debian's `time`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark over our own fixtures

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use dhi_verify_testkit::DhiImage;

const RUNS: usize = 21;

/// Median wall seconds (measured around the child, including `/usr/bin/time`'s
/// own fork/exec) and the largest peak RSS (KiB) over `RUNS` runs.
fn measure(args: &[&str]) -> (f64, u64) {
    let mut walls = Vec::new();
    let mut peak = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%e %M", env!("CARGO_BIN_EXE_dhi-verify")])
            .args(args)
            .output()
            .expect("/usr/bin/time runs (apt-get install time)");
        let wall = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        let last = stderr.lines().last().unwrap();
        let mut parts = last.split_whitespace();
        let _coarse_wall = parts.next();
        walls.push(wall);
        peak = peak.max(parts.next().unwrap().parse::<u64>().unwrap());
    }
    walls.sort_by(f64::total_cmp);
    (walls[RUNS / 2], peak)
}

fn largest_blob(layout: &Path) -> u64 {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python();
    let demo = image.write_layout(&dir.path().join("demo"));
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let mut big = DhiImage::python();
    big.sbom_padding = 20 * 1024 * 1024;
    let big_fixture = big.write_layout(&dir.path().join("big"));

    let key = key.to_str().unwrap();
    println!(
        "| layout | largest blob | median wall ({RUNS} runs) | peak RSS | RSS / largest blob |"
    );
    println!("|---|---|---|---|---|");
    for (name, fixture) in [
        ("demo (2 platforms × 5 attestations), one platform", &demo),
        ("20 MiB CycloneDX statement, one platform", &big_fixture),
    ] {
        let reference = fixture.reference("3.13");
        let (wall, rss_kib) = measure(&[
            "image",
            &reference,
            "--key",
            key,
            "--platform",
            "linux/amd64",
        ]);
        let blob = largest_blob(&fixture.dir);
        let ratio = if blob >= 1 << 20 {
            format!("{:.2}×", (rss_kib * 1024) as f64 / blob as f64)
        } else {
            "n/a".into()
        };
        println!(
            "| {name} | {:.2} MiB | {:.1} ms | {:.1} MiB | {ratio} |",
            blob as f64 / 1048576.0,
            wall * 1000.0,
            rss_kib as f64 / 1024.0
        );
    }
    let (wall, rss_kib) = measure(&[
        "image",
        &demo.reference("3.13"),
        "--key",
        key,
        "--all-platforms",
    ]);
    println!(
        "| demo, --all-platforms | {:.2} MiB | {:.1} ms | {:.1} MiB | |",
        largest_blob(&demo.dir) as f64 / 1048576.0,
        wall * 1000.0,
        rss_kib as f64 / 1024.0
    );
}
