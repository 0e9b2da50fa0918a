//! `--deadline`, `--max-total-bytes` and `--max-redirects` through the real
//! binary: each limit hit is exit 3 naming what it hit, never a pass.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::process::Output;
use std::time::Duration;

use dhi_verify_testkit::registry::server::{Fault, FaultKind, TestRegistry};
use dhi_verify_testkit::registry::Content;
use dhi_verify_testkit::DhiImage;

const REPO: &str = "dhi/python";

fn run(reference: &str, key: &std::path::Path, extra: &[&str]) -> Output {
    let empty = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["image", reference, "--platform", "linux/amd64", "--key"])
        .arg(key)
        .args(extra)
        .env("DOCKER_CONFIG", empty.path())
        .env("XDG_CACHE_HOME", empty.path())
        .output()
        .unwrap()
}

struct Served {
    registry: TestRegistry,
    key: std::path::PathBuf,
    fixture: dhi_verify_testkit::Fixture,
    _dir: tempfile::TempDir,
}

fn served() -> Served {
    let image = DhiImage::python().without_fallback_tags();
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let registry = TestRegistry::start(REPO, Content::from_layout(&fixture.dir));
    Served {
        registry,
        key,
        fixture,
        _dir: dir,
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout)
}

#[test]
fn a_byte_budget_smaller_than_the_image_is_exit_3_and_the_default_passes() {
    let s = served();
    let reference = s.fixture.reference("3.13");
    let o = run(&reference, &s.key, &["--max-total-bytes", "4096"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("max_total_bytes budget of 4096 bytes"),
        "{}",
        stderr(&o)
    );
    let o = run(&reference, &s.key, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_registry_stalling_past_the_deadline_is_exit_3_naming_the_reference() {
    let s = served();
    let statement = s.fixture.attestations[0].statement_digest.clone();
    let registry = s.registry.fault(Fault::new(
        &format!("/blobs/{statement}"),
        FaultKind::Stall(Duration::from_secs(20)),
        usize::MAX,
    ));
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let o = run(&reference, &s.key, &["--deadline", "1", "--timeout", "30"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(
        text.contains(&format!(
            "verifying {reference}: the deadline of 1 s passed"
        )) && text.contains(&statement),
        "{text}"
    );
}

#[test]
fn a_redirect_chain_over_max_redirects_is_exit_3() {
    let s = served();
    let registry = s.registry.fault(Fault::new(
        "/blobs/",
        FaultKind::RedirectChain(3),
        usize::MAX,
    ));
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let o = run(&reference, &s.key, &["--max-redirects", "2"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("more than 2 redirects"),
        "{}",
        stderr(&o)
    );
    let o = run(&reference, &s.key, &["--max-redirects", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_deadline_of_zero_is_a_usage_error() {
    let s = served();
    let o = run(&s.fixture.reference("3.13"), &s.key, &["--deadline", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn the_new_limits_are_documented_in_help() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(["image", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--deadline <SECONDS>",
        "--max-total-bytes <BYTES>",
        "--max-redirects <N>",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// The per-object limits through the binary, on the committed demo: each
/// lowered below what the demo needs fails (exit 1) naming the limit; at
/// the default the demo passes.
#[test]
fn per_object_limits_lowered_below_the_demo_fail_naming_the_limit() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let key = repo.join("testdata/demo/cosign.pub");
    let demo = format!("oci:{}:3.13", repo.join("testdata/demo").display());
    let ok = run(&demo, &key, &[]);
    assert_eq!(ok.status.code(), Some(0));
    for (flag, value, says) in [
        ("--max-json-depth", "2", "max_json_depth limit of 2"),
        ("--max-referrers", "4", "more than 4 referrers"),
    ] {
        let o = run(&demo, &key, &[flag, value]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{flag}: {stdout}");
        assert!(stdout.contains(says), "{flag}: {stdout}");
    }
    // Enough depth for every document of the demo: passes.
    let o = run(&demo, &key, &["--max-json-depth", "64"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn a_manifest_over_a_lowered_size_limit_fails_from_a_registry() {
    let s = served();
    let reference = format!("{}/{REPO}:3.13", s.registry.addr);
    let o = run(&reference, &s.key, &["--max-manifest-size", "1000"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("limit of 1000"), "{stdout}");
    let _ = &s.fixture;
}
